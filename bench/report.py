"""What a run prints and writes: one Markdown table per row with ratios to the peers, the
goals (met / MISSED / not measured), the machine, and the block in docs/benchmarks.md."""
from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

from doc_block import replace_block
from rows import Row, Server, metric
from settings import CONNECTIONS, REPEAT, SECONDS, python

# ---------------------------------------------------------------------------------------
# Reporting: terminal, Markdown, SVG.
# ---------------------------------------------------------------------------------------

def fmt(value: Optional[float], digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def cell_text(text: str) -> str:
    """Text from a server's log, safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def ratio_peers(row: Row) -> list[str]:
    groups: list[str] = []
    for server in row.servers:
        if server.kind == "peer" and server.group not in groups:
            groups.append(server.group)
    return groups


def peer_for(row: Row, server: Server, group: str) -> Optional[Server]:
    candidates = [peer for peer in row.servers if peer.kind == "peer" and peer.group == group]
    same = [peer for peer in candidates if peer.workers == server.workers]
    return (same or candidates or [None])[0]


def group_label(row: Row, group: str) -> str:
    peer = next(peer for peer in row.servers if peer.group == group)
    return re.sub(r" ×\d+$", "", peer.label)


def row_table(row: Row, results: dict) -> list[str]:
    if row.driver == "dispatch":
        return dispatch_table(results.get("dispatch", {}))
    if row.driver == "idle":
        return idle_table(row, results)
    groups = ratio_peers(row)
    header = ["server", f"{row.unit}/s"] + [f"vs {group_label(row, group)}" for group in groups] + \
             ["p50 µs", "p99 µs", f"CPU µs/{row.unit}", "load gen CPU", "errors"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for server in row.servers:
        result = results.get(server.key, {})
        if result.get("na"):
            lines.append(f"| {server.label} | n/a ({cell_text(result['na'])}) |" + " |" * (len(header) - 2))
            continue
        ratios = []
        for group in groups:
            peer = peer_for(row, server, group)
            theirs = metric(results, peer.key, "rps") if peer else None
            ours = result.get("rps")
            ratios.append(f"{ours / theirs:.2f}×" if ours and theirs else "—")
        errors = result.get("error_total", 0)
        detail = ", ".join(f"{k} {v}" for k, v in result.get("errors", {}).items() if v)
        if result.get("retried"):
            detail += (", " if detail else "") + f"retried {result['retried']} (closed between requests)"
        lines.append("| " + " | ".join([server.label, fmt(result.get("rps"))] + ratios + [
            fmt(result.get("p50_us"), 1), fmt(result.get("p99_us"), 1), fmt(result.get("cpu_us_per_request"), 2),
            fmt(result.get("client_cpu_percent")) + " %", f"{errors}" + (f" ({detail})" if detail else "")]) + " |")
    return lines


def negotiated_line(row: Row, results: dict) -> Optional[str]:
    """What `openssl s_client` negotiated with each server of a TLS row, in one sentence when
    they all agree."""
    if not row.tls:
        return None
    by_server = {server.label: results[server.key]["tls"] for server in row.servers
                 if results.get(server.key, {}).get("tls")}
    if not by_server:
        return None
    if len(set(by_server.values())) == 1:
        return f"Negotiated (`openssl s_client`, once per server before its load): {next(iter(by_server.values()))}, " \
               "with every server."
    return "Negotiated (`openssl s_client`, once per server before its load): " + \
        "; ".join(f"{label}: {text}" for label, text in by_server.items()) + "."


def idle_table(row: Row, results: dict) -> list[str]:
    lines = ["| server | opened | held (answered once) | answered after the hold | RSS before | RSS held | "
             "KiB per connection | errors |", "|---|---|---|---|---|---|---|---|"]
    for server in row.servers:
        result = results.get(server.key, {})
        if result.get("na"):
            lines.append(f"| {server.label} | n/a ({cell_text(result['na'])}) | | | | | | |")
            continue
        lines.append(f"| {server.label} | {fmt(result.get('opened'))} | {fmt(result.get('held'))} | "
                     f"{fmt(result.get('answered_after_hold'))} | {fmt(result.get('rss_baseline_kib'))} KiB | "
                     f"{fmt(result.get('rss_loaded_kib'))} KiB | {fmt(result.get('kib_per_connection'), 2)} | "
                     f"{result.get('error_total', 0)} |")
    return lines


def dispatch_table(result: dict) -> list[str]:
    if result.get("na"):
        return [f"n/a ({result['na']})"]
    medians = result.get("medians_ns", {})
    lines = ["| call | ns per request (median of 3) | overhead vs direct |", "|---|---|---|"]
    direct = medians.get("DirectCall")
    for name, value in medians.items():
        overhead = f"{value - direct:+.1f} ns" if direct is not None and name != "DirectCall" else ""
        lines.append(f"| {name} | {value:.1f} | {overhead} |")
    return lines


def goal_lines(row: Row, results: dict) -> list[tuple[str, str]]:
    out = []
    for goal in row.goals:
        try:
            verdict = goal.check(results)
        except (TypeError, ZeroDivisionError):
            verdict = None
        out.append((goal.text, {True: "met", False: "MISSED", None: "not measured"}[verdict]))
    return out


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not found"
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "nginx": version(["nginx", "-v"]), "wrk": version(["wrk", "--version"]).split(" Copyright")[0],
            "python": version([python(), "--version"]), "seconds": SECONDS, "connections": CONNECTIONS}


def markdown(rows: list[Row], results: dict[str, dict], info: dict, command: str, plot: bool = True) -> str:
    repeat_text = f", {REPEAT} times round-robin (the run with the median req/s shown, with the median CPU per request)" if REPEAT > 1 else ""
    out = [f"Run {info['date']} with `{command}`: {info['cpus']} CPUs ({info['cpu_model']}), kernel "
           f"{info['kernel']}, load average at the start {info['load_average']}; {info['nginx']}, "
           f"{info['wrk']}, {info['python']}. Each cell ran {info['seconds']:g} s with {info['connections']} "
           f"connections{repeat_text}; the load generator runs on the same machine. Only ratios from one run "
           "count.", ""]
    if plot:
        out += ["![req/s per server, one panel per row](benchmarks.svg)", ""]
    for row in rows:
        out += [f"### {row.title}", ""]
        if row.note:
            out += [row.note, ""]
        out += row_table(row, results.get(row.id, {})) + [""]
        tls = negotiated_line(row, results.get(row.id, {}))
        if tls:
            out += [tls, ""]
        goals = goal_lines(row, results.get(row.id, {}))
        if goals:
            out += [f"- {text}: **{verdict}**" for text, verdict in goals] + [""]
    return "\n".join(out)


def write_docs(rows: list[Row], results: dict[str, dict], info: dict, command: str, output: Path,
               render_svg: Callable[[list[Row]], str]) -> list[Path]:
    """Rewrites the block of each row that ran (the TLS rows have their own, so a run of
    them alone keeps the other tables) and, with the main block, the plot of its rows.
    Returns the files written."""
    written = [output]
    for block in dict.fromkeys(row.block for row in rows):
        block_rows = [row for row in rows if row.block == block]
        plot = block == "RESULTS"
        replace_block(output, block, markdown(block_rows, results, info, command, plot=plot))
        if plot:
            output.with_suffix(".svg").write_text(render_svg(block_rows))
            written.append(output.with_suffix(".svg"))
    return written


def print_row(row: Row, results: dict) -> None:
    print(f"\n== {row.title}")
    for line in row_table(row, results):
        print(line)
    tls = negotiated_line(row, results)
    if tls:
        print(f"   {tls}")
    for text, verdict in goal_lines(row, results):
        print(f"   goal: {text}: {verdict}")
    sys.stdout.flush()
