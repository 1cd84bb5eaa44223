#!/usr/bin/env python3
"""sockhost benchmark suite: starts sockhost and its peers on loopback, drives each with the
same load, prints one table per row with ratios to the peers, checks the goals, and writes
the tables, the goals and a plot into docs/benchmarks.md (+ docs/benchmarks.svg).

    python3 bench/run.py                      # everything (`make bench`)
    BENCH_SECONDS=2 BENCH_ROWS=tcp,udp python3 bench/run.py --no-docs

Environment:
  BENCH_SECONDS           load duration of each cell (default 5)
  BENCH_ROWS              comma-separated row ids to run (default: all):
                          http, https, https-connect, tcp, unix, udp, connect, idle, dispatch
  BENCH_CONNECTIONS       connections / clients per cell (default 50)
  BENCH_REPEAT            runs per cell, round-robin over a row's servers; the run with the median
                          req/s is reported, with the median CPU per request (default 1)
  BENCH_SERVERS           comma-separated server keys to run in those rows (default: all), e.g.
                          event-1,event-1-metrics-off: a side by side, with BENCH_REPEAT
  BENCH_IDLE_CONNECTIONS  connections of the idle row (default 10000)
  BENCH_IDLE_MODES        sockhost modes of the idle row (default event)
  BENCH_BUILD_DIR         the build tree with bin/ and plugins/ (default build)
  BENCH_SOCKHOST_BUILD_DIR  where sockhost and its plugins come from (default BENCH_BUILD_DIR)

The rows, their servers and goals are a table in bench/rows.py: a new mode or peer is one
entry there. Every server runs in its own process group and is stopped (SIGTERM, then
SIGKILL) when its cell ends, when the run fails and on Ctrl-C; every load run has a time
bound.
Standard library only.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import svg_plot  # noqa: E402  (the bench/ modules)
from cells import registry, run_dispatch, run_row  # noqa: E402
from report import machine_info, print_row, write_docs  # noqa: E402
from rows import ROWS  # noqa: E402
from settings import BUILD, ROOT, SECONDS  # noqa: E402


def command_text() -> str:
    """The command of this run as the docs quote it, with the knobs that change what is measured."""
    knobs = [f"{name}={os.environ[name]}" for name in
             ("BENCH_ROWS", "BENCH_SERVERS", "BENCH_SECONDS", "BENCH_REPEAT", "BENCH_CONNECTIONS",
              "BENCH_SOCKHOST_BUILD_DIR") if os.environ.get(name)]
    return " ".join(knobs + ["make bench" if os.environ.get("MAKELEVEL") else "python3 bench/run.py"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--output", default=str(ROOT / "docs/benchmarks.md"))
    args = parser.parse_args()

    wanted = [name for name in os.environ.get("BENCH_ROWS", "").split(",") if name]
    rows = [row for row in ROWS if not wanted or row.id in wanted]
    unknown = set(wanted) - {row.id for row in ROWS}
    if unknown:
        print(f"BENCH_ROWS: unknown rows {sorted(unknown)} (known: {[row.id for row in ROWS]})", file=sys.stderr)
        return 2
    # Some servers of each row only, by key: a side-by-side of two or three, repeated.
    servers = [key for key in os.environ.get("BENCH_SERVERS", "").split(",") if key]
    if servers:
        known = {server.key for row in rows for server in row.servers}
        if set(servers) - known:
            print(f"BENCH_SERVERS: unknown servers {sorted(set(servers) - known)} (known: {sorted(known)})",
                  file=sys.stderr)
            return 2
        rows = [dataclasses.replace(row, servers=[server for server in row.servers if server.key in servers])
                for row in rows]
    if shutil.which("wrk") is None and any(row.driver == "wrk" for row in rows):
        print("wrk not found: run scripts/install-deps --bench", file=sys.stderr)
        return 2
    if shutil.which("openssl") is None and any(row.tls for row in rows):
        print("openssl not found (it makes the TLS rows' certificate): apt-get install openssl", file=sys.stderr)
        return 2

    info = machine_info()
    print(f"sockhost benchmarks: {info['cpus']} CPUs, load average {info['load_average']}, "
          f"{SECONDS:g} s per cell", flush=True)
    results: dict[str, dict] = {}
    with registry:
        for row in rows:
            row_results = results.setdefault(row.id, {})
            if row.driver == "dispatch":
                print("  dispatch benchmark ...", flush=True)
                row_results["dispatch"] = run_dispatch()
            row_results.update(run_row(row))
            print_row(row, row_results)

    if not args.no_docs:
        output = Path(args.output)
        written = write_docs(rows, results, info, command_text(), output,
                             lambda plotted: svg_plot.render(plotted, results,
                                                             title=f"sockhost benchmarks, {info['date']}"))
        (BUILD / "bench-results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
        print(f"\nwrote {' and '.join(map(str, written))} (raw results: {BUILD / 'bench-results.json'})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every server started was stopped", file=sys.stderr)
        sys.exit(130)
