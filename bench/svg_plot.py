"""The benchmark plot as SVG: one panel per row, a horizontal bar per server (req/s, each
panel on its own scale because the rows differ by orders of magnitude).

Hand-written rather than matplotlib: it keeps `make bench` to the standard library (matplotlib
brings a large dependency tree to every machine that runs the suite), and the output is
small, deterministic text that diffs well in git.
"""
from __future__ import annotations

from html import escape

WIDTH = 900
LABEL_WIDTH = 260
VALUE_WIDTH = 150
BAR_HEIGHT = 18
BAR_GAP = 6
PANEL_TITLE = 28
PANEL_GAP = 16
SOCKHOST_COLOUR = "#2b6cb0"
PEER_COLOUR = "#a0aec0"


def _bars(row, row_results: dict, metric: str = "rps", unit: str = "req/s") -> list[tuple[str, object, bool, str]]:
    """(label, value or n/a text, is sockhost, unit) per bar."""
    if row.driver == "dispatch":
        medians = row_results.get("dispatch", {}).get("medians_ns", {})
        return [(name, value, name != "DirectCall", "ns") for name, value in medians.items()]
    bars = []
    for server in row.servers:
        result = row_results.get(server.key, {})
        value = "n/a" if result.get("na") else result.get(metric)
        bars.append((server.label, value, server.kind == "sockhost", unit))
    return bars


def _panels(rows, results: dict) -> list[tuple[str, list]]:
    panels = []
    for row in rows:
        if row.driver == "idle":
            continue
        row_results = results.get(row.id, {})
        title = row.title.replace("`", "")
        panels.append((title + (" (ns per request)" if row.driver == "dispatch" else ""), _bars(row, row_results)))
        if row.driver == "wrk":  # with wrk saturating a core, CPU per request tells the servers apart
            panels.append((title + ": server CPU µs per request (lower is better)",
                           _bars(row, row_results, "cpu_us_per_request", "µs")))
    return [(title, bars) for title, bars in panels if bars]


def render(rows, results: dict, title: str) -> str:
    panels = _panels(rows, results)
    height = 40 + sum(PANEL_TITLE + len(bars) * (BAR_HEIGHT + BAR_GAP) + PANEL_GAP for _, bars in panels)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="10" y="24" font-size="16" font-weight="bold">{escape(title)}</text>']
    y = 40
    for panel_title, bars in panels:
        out.append(f'<text x="10" y="{y + 18}" font-size="13" font-weight="bold">{escape(panel_title)}</text>')
        y += PANEL_TITLE
        numbers = [value for _, value, _, _ in bars if isinstance(value, (int, float))]
        scale_max = max(numbers) if numbers else 1
        bar_space = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
        for label, value, ours, unit in bars:
            out.append(f'<text x="{LABEL_WIDTH}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
            if isinstance(value, (int, float)) and scale_max > 0:
                length = max(1.0, bar_space * value / scale_max)
                colour = SOCKHOST_COLOUR if ours else PEER_COLOUR
                out.append(f'<rect x="{LABEL_WIDTH + 8}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
                           f'fill="{colour}"/>')
                digits = 0 if value >= 100 else 1
                out.append(f'<text x="{LABEL_WIDTH + 14 + length:.1f}" y="{y + 13}">{value:,.{digits}f} {unit}</text>')
            else:
                out.append(f'<text x="{LABEL_WIDTH + 8}" y="{y + 13}" fill="#888">{escape(str(value))}</text>')
            y += BAR_HEIGHT + BAR_GAP
        y += PANEL_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"
