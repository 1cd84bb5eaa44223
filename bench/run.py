#!/usr/bin/env python3
"""sockhost benchmark suite: starts sockhost and its peers on loopback, drives each with the
same load, prints one table per row with ratios to the peers, checks the goals, and writes
the tables, the goals and a plot into docs/benchmarks.md (+ docs/benchmarks.svg).

    python3 bench/run.py                      # everything (`make bench`)
    BENCH_SECONDS=2 BENCH_ROWS=tcp,udp python3 bench/run.py --no-docs

Environment:
  BENCH_SECONDS           load duration of each cell (default 5)
  BENCH_ROWS              comma-separated row ids to run (default: all):
                          http, tcp, unix, udp, connect, idle, dispatch
  BENCH_CONNECTIONS       connections / clients per cell (default 50)
  BENCH_REPEAT            runs per cell; the run with the median req/s is reported (default 1)
  BENCH_IDLE_CONNECTIONS  connections of the idle row (default 10000)
  BENCH_IDLE_MODES        sockhost modes of the idle row (default event)
  BENCH_BUILD_DIR         the build tree with bin/ and plugins/ (default build)
  BENCH_SOCKHOST_BUILD_DIR  where sockhost and its plugins come from (default BENCH_BUILD_DIR)

Every server runs in its own process group and is stopped (SIGTERM, then SIGKILL) when its
cell ends, when the run fails and on Ctrl-C; every load run has a time bound.
Standard library only.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svg_plot  # noqa: E402  (bench/svg_plot.py)
from doc_block import replace_block  # noqa: E402
from processes import ProcessRegistry, tree_cpu_seconds, tree_rss_kib  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
REPEAT = max(1, int(os.environ.get("BENCH_REPEAT", "1")))
IDLE_CONNECTIONS = int(os.environ.get("BENCH_IDLE_CONNECTIONS", "10000"))
# threading holds a thread per connection: only for a check with few connections.
IDLE_MODES = [mode for mode in os.environ.get("BENCH_IDLE_MODES", "event").split(",") if mode]
BUILD = (ROOT / os.environ.get("BENCH_BUILD_DIR", "build")).resolve()
BIN = BUILD / "bin"
# sockhost and its plugins may come from another build tree (another branch, for a comparison).
SOCKHOST_BUILD = (ROOT / os.environ.get("BENCH_SOCKHOST_BUILD_DIR", str(BUILD))).resolve()
PLUGINS = SOCKHOST_BUILD / "plugins"
HTTP_BODY = "Hello from sockhost\n"  # the http plugin's default body; nginx and Python send the same
BACKLOG = 1024  # every server's listen backlog, so none is favoured by a longer queue
SOURCE_ADDRESSES = 8  # connect-per-request clients bind 127.0.0.2 .. 127.0.0.9

registry = ProcessRegistry()


def python() -> str:
    # Debian's interpreter when there is one: the peers are "Python from Debian".
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


# ---------------------------------------------------------------------------------------
# Servers: what a cell starts.
# ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Server:
    label: str      # column text: "sockhost event ×1"
    key: str        # for ratios and goals: "event-1", "nginx-1", "python", "reference"
    kind: str       # "sockhost" or "peer"
    workers: int = 1
    mode: str = ""  # sockhost's mode
    group: str = ""  # peers of one kind (nginx ×1 and ×2): a ratio uses the same worker count
    start: Callable[["Cell", Path], list[str]] = lambda cell, tmp: []


def sockhost_server(mode: str, workers: int = 1) -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        listener: dict = {"listen": cell.target, "plugin": cell.row.plugin, "mode": mode}
        if cell.row.plugin == "http":
            listener["config"] = {"body": HTTP_BODY}
        if not cell.target.startswith(("udp:", "unix-dgram:")):
            listener["request_queue_size"] = BACKLOG
        if cell.row.id == "idle" and mode == "event":  # its live-connection bound (default 10000)
            listener["max_connections"] = IDLE_CONNECTIONS + 100
        config: dict = {"plugin_dir": str(PLUGINS), "drain_timeout": 1, "log_level": "warning",
                        "listeners": [listener]}
        if workers != 1:  # absent means 1: the key is only needed for more
            config["workers"] = workers
        path = tmp / "sockhost.json"
        path.write_text(json.dumps(config, indent=2))
        return [str(SOCKHOST_BUILD / "bin/sockhost"), "--config", str(path)]

    suffix = f" ×{workers}" if workers != 1 or mode in ("event", "threading") else ""
    return Server(f"sockhost {mode}{suffix}", f"{mode}-{workers}", "sockhost", workers, mode, start=start)


def nginx_server(workers: int) -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        port = cell.target.rsplit(":", 1)[1]
        body = HTTP_BODY.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        user = "user root;\n" if os.geteuid() == 0 else ""
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / name).mkdir(exist_ok=True)
        (tmp / "nginx.conf").write_text(f"""{user}worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog={BACKLOG};
        location / {{
            default_type "text/plain; charset=utf-8";
            return 200 "{body}";
        }}
    }}
}}
""")
        return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-e", str(tmp / "error.log"),
                "-c", str(tmp / "nginx.conf")]

    return Server(f"nginx ×{workers}", f"nginx-{workers}", "peer", workers, group="nginx", start=start)


def python_http_server() -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        port = cell.target.rsplit(":", 1)[1]
        return [python(), str(BENCH / "peers/http_server.py"), "--port", port, "--body", HTTP_BODY,
                "--backlog", str(BACKLOG)]

    return Server("Python ThreadingHTTPServer", "python", "peer", group="python", start=start)


def python_echo_server(mode: str, label: str, key: str = "python") -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        return [python(), str(BENCH / "peers/echo_server.py"), "--listen", cell.target, "--mode", mode,
                "--backlog", str(BACKLOG)]

    return Server(label, key, "peer", group=key, start=start)


def http_responder() -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        return [str(BIN / "epoll_http"), cell.target, HTTP_BODY]

    return Server("epoll HTTP responder", "reference", "peer", group="reference", start=start)


def reference_server(label: str) -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        tool = "dgram_echo" if cell.target.startswith(("udp:", "unix-dgram:")) else "epoll_echo"
        return [str(BIN / tool), cell.target]

    return Server(label, "reference", "peer", group="reference", start=start)


# ---------------------------------------------------------------------------------------
# Rows: the work, the servers and the goals.
# ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Goal:
    text: str
    check: Callable[[dict], Optional[bool]]  # None: not measured (a cell is n/a)


@dataclasses.dataclass
class Row:
    id: str
    title: str
    transport: str     # tcp, unix, udp
    plugin: str
    driver: str        # wrk, stream, connect, dgram, idle, dispatch
    servers: list[Server]
    goals: list[Goal] = dataclasses.field(default_factory=list)
    note: str = ""


def metric(results: dict, key: str, name: str) -> Optional[float]:
    result = results.get(key)
    if result is None or result.get("na"):
        return None
    return result.get(name)


def compare(results: dict, key: str, peer: str, name: str, predicate: Callable[[float, float], bool]) -> Optional[bool]:
    ours, theirs = metric(results, key, name), metric(results, peer, name)
    if ours is None or theirs is None or theirs == 0:
        return None
    return predicate(ours, theirs)


def at_least(factor: float) -> Callable[[float, float], bool]:
    return lambda ours, theirs: ours >= factor * theirs


def at_most(factor: float) -> Callable[[float, float], bool]:
    return lambda ours, theirs: ours <= factor * theirs


def reference_goal(mode: str, factor: float = 0.9) -> Goal:
    return Goal(f"{mode}: req/s ≥ {factor}× the reference",
                lambda r: compare(r, f"{mode}-1", "reference", "rps", at_least(factor)))


ROWS: list[Row] = [
    Row("http", "HTTP/1.1 keep-alive, `http` plugin, wrk 1 thread / 50 connections", "tcp", "http", "wrk",
        [sockhost_server("event", 1), sockhost_server("event", 2), sockhost_server("threading", 1),
         sockhost_server("threading", 2), nginx_server(1), nginx_server(2), python_http_server(), http_responder()],
        [Goal("event ×1: req/s ≥ 1.0× nginx ×1", lambda r: compare(r, "event-1", "nginx-1", "rps", at_least(1.0))),
         Goal("event ×1: p99 ≤ nginx ×1", lambda r: compare(r, "event-1", "nginx-1", "p99_us", at_most(1.0))),
         Goal("event ×1: CPU per request ≤ nginx ×1",
              lambda r: compare(r, "event-1", "nginx-1", "cpu_us_per_request", at_most(1.0))),
         Goal("threading ×1: req/s ≥ 0.7× nginx ×1",
              lambda r: compare(r, "threading-1", "nginx-1", "rps", at_least(0.7))),
         Goal("threading ×2: req/s ≥ 0.7× nginx ×2",
              lambda r: compare(r, "threading-2", "nginx-2", "rps", at_least(0.7)))],
        note="wrk with one thread saturates a core itself, so req/s ratios near 1.0 say little; "
             "CPU per request tells the servers apart. The epoll HTTP responder (bench/epoll_http.cpp) "
             "answers every request head without parsing it: the floor, shown for scale."),
    Row("tcp", "TCP echo, 64-byte round trips, 50 connections", "tcp", "echo", "stream",
        [sockhost_server("event"), sockhost_server("threading"), reference_server("epoll reference"),
         python_echo_server("threading", "Python ThreadingTCPServer")],
        [reference_goal("event")]),
    Row("unix", "Unix stream echo, 64-byte round trips, 50 connections", "unix", "echo", "stream",
        [sockhost_server("event"), sockhost_server("threading"), reference_server("epoll reference"),
         python_echo_server("threading", "Python ThreadingUnixStreamServer")],
        [reference_goal("event")]),
    Row("udp", "UDP echo, 64-byte datagrams, 50 clients", "udp", "echo", "dgram",
        [sockhost_server("sync"), sockhost_server("event"), reference_server("recvfrom/sendto reference"),
         python_echo_server("sync", "Python UDPServer")],
        [reference_goal("sync"), reference_goal("event")]),
    Row("connect", f"New TCP connection per request, 64-byte echo, 50 clients over {SOURCE_ADDRESSES} "
        "source addresses", "tcp", "echo", "connect",
        [sockhost_server("event"), sockhost_server("threading"), sockhost_server("forking"),
         reference_server("epoll reference"), python_echo_server("threading", "Python ThreadingTCPServer"),
         python_echo_server("forking", "Python ForkingTCPServer", key="python-forking")],
        [reference_goal("event"),
         Goal("forking: req/s ≥ 3× Python ForkingTCPServer",
              lambda r: compare(r, "forking-1", "python-forking", "rps", at_least(3.0)))]),
    Row("idle", f"{IDLE_CONNECTIONS:,} idle keep-alive connections (`http` plugin)", "tcp", "http", "idle",
        [sockhost_server(mode) for mode in IDLE_MODES],
        [Goal("event: every connection held and answering after the hold",
              lambda r: None if metric(r, "event-1", "held") is None else
              (metric(r, "event-1", "held") == IDLE_CONNECTIONS and
               metric(r, "event-1", "answered_after_hold") == IDLE_CONNECTIONS)),
         Goal("event: RSS per connection ≤ 16 KiB",
              lambda r: None if metric(r, "event-1", "kib_per_connection") is None else
              metric(r, "event-1", "kib_per_connection") <= 16)]),
    Row("dispatch", "Plugin dispatch cost (Google Benchmark, echo plugin, in-memory request)", "", "echo",
        "dispatch", []),
]


# ---------------------------------------------------------------------------------------
# One cell: start a server, wait until it answers, load it, stop it.
# ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Cell:
    row: Row
    server: Server
    target: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def target_for(row: Row, tmp: Path) -> str:
    if row.transport == "unix":
        return f"unix:{tmp}/echo.sock"
    return f"{row.transport}://127.0.0.1:{free_port()}"


def answers(target: str, plugin: str) -> bool:
    """True once the server answers a real request: an HTTP GET, or an echoed probe. (A
    supervisor accepts connections before its workers serve them.)"""
    scheme, _, rest = target.partition(":")
    probe_bytes = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n" if plugin == "http" else b"ready?"
    try:
        if scheme == "udp":
            host, port = rest.removeprefix("//").rsplit(":", 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.settimeout(0.2)
                probe.sendto(probe_bytes, (host, int(port)))
                return probe.recv(64) == probe_bytes
        if scheme == "unix":
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            probe.connect(rest)
        else:
            host, port = rest.removeprefix("//").rsplit(":", 1)
            probe = socket.create_connection((host, int(port)), timeout=0.5)
        with probe:
            probe.sendall(probe_bytes)
            reply = probe.recv(4096)
            return reply.startswith(b"HTTP/1.1 200") if plugin == "http" else reply == probe_bytes
    except OSError:
        return False


def last_log_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    errors = [line for line in lines if "error" in line.lower() or "unknown" in line.lower()]
    line = (errors or lines or ["no output"])[-1]
    # sockhost's "TIME sockhost[PID] error: config FILE: " prefix says nothing about the reason.
    line = re.sub(r"^.*?\berror: (config \S+: )?", "", line)
    return line.removesuffix("; not started")[:300]


def raise_nofile() -> None:
    """In each started process: the idle row needs more than 10,000 descriptors. Root may
    raise the hard limit too; others get their hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(hard, 65536) if hard != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_load(cell: Cell) -> dict:
    """Runs the row's load generator against the cell's server. The generator is the only
    child reaped meanwhile, so the growth of RUSAGE_CHILDREN is its CPU time: near 100 % of
    one core, the generator (not the server) may be what limits req/s."""
    before = children_cpu_seconds()
    result = run_load_generator(cell)
    result["client_cpu_percent"] = (children_cpu_seconds() - before) * 100 / SECONDS
    return result


def run_load_generator(cell: Cell) -> dict:
    driver = cell.row.driver
    bound = SECONDS + 30  # every load run has a time limit
    if driver == "wrk":
        url = "http://" + cell.target.split("://", 1)[1] + "/"
        seconds = max(1, round(SECONDS))  # wrk takes whole seconds
        out = registry.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url], timeout=bound)
        return parse_wrk(out)
    command = [str(BIN / "loadgen"), "--target", cell.target, "--connections", str(CONNECTIONS),
               "--size", "64", "--duration", f"{SECONDS:g}"]
    if driver == "connect":
        command += ["--mode", "connect", "--sources", str(SOURCE_ADDRESSES)]
    return json.loads(registry.run(command, timeout=bound))


def parse_wrk(text: str) -> dict:
    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    def micros(label: str) -> Optional[float]:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        if not match:
            return None
        return float(match.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[match.group(2)]

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if socket_errors:
        errors = dict(zip(errors, map(int, socket_errors.groups())))
    errors["non-2xx"] = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    return {"requests": int(number(r"(\d+) requests in")), "rps": number(r"Requests/sec:\s+([\d.]+)"),
            "p50_us": micros("50"), "p90_us": micros("90"), "p99_us": micros("99"),
            "errors": errors, "error_total": sum(errors.values())}


def run_cell(cell: Cell) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"sockhost-bench-{cell.row.id}-") as tmp_name:
        tmp = Path(tmp_name)
        cell.target = target_for(cell.row, tmp)
        log = tmp / "server.log"
        command = cell.server.start(cell, tmp)
        process = registry.start(command, log, preexec=raise_nofile)
        try:
            deadline = time.monotonic() + 15
            while not answers(cell.target, cell.row.plugin):
                if process.poll() is not None:
                    return {"na": f"server exited with status {process.returncode}: {last_log_line(log)}"}
                if time.monotonic() > deadline:
                    return {"na": f"server not answering after 15 s: {last_log_line(log)}"}
                time.sleep(0.05)
            time.sleep(0.2)  # every worker of a supervisor may not be serving yet
            if cell.row.driver == "idle":
                return run_idle(cell, process)
            cpu_before = tree_cpu_seconds(process.pid)
            result = run_load(cell)
            cpu_after = tree_cpu_seconds(process.pid)
            if process.poll() is not None:
                result["note"] = f"server exited during the run: {last_log_line(log)}"
            if result.get("requests"):
                result["cpu_us_per_request"] = (cpu_after - cpu_before) * 1e6 / result["requests"]
            return result
        finally:
            registry.stop(process)


def run_repeated(row: Row, server: Server) -> dict:
    """The cell BENCH_REPEAT times; the run with the median req/s stands for it."""
    runs = []
    for _ in range(REPEAT if row.driver != "idle" else 1):
        try:
            result = run_cell(Cell(row, server, ""))
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError, json.JSONDecodeError, OSError) as error:
            result = {"na": f"run failed: {error}"}
        if result.get("na"):
            return result  # a mode the binary lacks fails the same way every time
        runs.append(result)
    runs.sort(key=lambda result: result.get("rps") or 0)
    median = runs[len(runs) // 2]
    if len(runs) > 1:
        median["runs_rps"] = [result.get("rps") for result in runs]
    return median


def run_idle(cell: Cell, process: subprocess.Popen) -> dict:
    """Opens the connections (one answer each), samples RSS, then checks each still answers."""
    baseline = tree_rss_kib(process.pid)
    command = [str(BIN / "loadgen"), "--target", cell.target, "--mode", "idle", "--http",
               "--connections", str(IDLE_CONNECTIONS), "--duration", "60"]
    holder = registry.start(command, None, preexec=raise_nofile, stdout=subprocess.PIPE)
    try:
        line = registry.read_line(holder, timeout=120)
        match = re.match(r"held (\d+)", line or "")
        if not match:
            return {"na": f"the idle holder did not report: {line!r}"}
        time.sleep(1.0)  # let the server settle (fibers parked, buffers returned)
        loaded = tree_rss_kib(process.pid)
        holder.send_signal(signal.SIGUSR1)
        out, _ = holder.communicate(timeout=120)
        result = json.loads(out.strip().splitlines()[-1])
    finally:
        registry.stop(holder)
    held = result.get("held", 0)
    result.update(rss_baseline_kib=baseline, rss_loaded_kib=loaded,
                  kib_per_connection=(loaded - baseline) / held if held else None)
    return result


# ---------------------------------------------------------------------------------------
# The dispatch benchmark (Google Benchmark).
# ---------------------------------------------------------------------------------------

def run_dispatch() -> dict:
    binary = BIN / "dispatch_benchmark"
    if not binary.exists():
        return {"na": "bench/dispatch_benchmark not built (Google Benchmark: libbenchmark-dev)"}
    out = registry.run([str(binary), "--benchmark_format=json", "--benchmark_min_time=0.5",
                        "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"], timeout=300)
    document = json.loads(out)
    medians = {}
    for benchmark in document["benchmarks"]:
        if benchmark.get("aggregate_name") == "median":
            medians[benchmark["run_name"]] = benchmark["cpu_time"]  # ns (time_unit ns)
    return {"medians_ns": medians}


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
    header = ["server", "req/s"] + [f"vs {group_label(row, group)}" for group in groups] + \
             ["p50 µs", "p99 µs", "CPU µs/req", "load gen CPU", "errors"]
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


def markdown(rows: list[Row], results: dict[str, dict], info: dict, command: str) -> str:
    repeat_text = f", {REPEAT} times (the run with the median req/s shown)" if REPEAT > 1 else ""
    out = [f"Run {info['date']} with `{command}`: {info['cpus']} CPUs ({info['cpu_model']}), kernel "
           f"{info['kernel']}, load average at the start {info['load_average']}; {info['nginx']}, "
           f"{info['wrk']}, {info['python']}. Each cell ran {info['seconds']:g} s with {info['connections']} "
           f"connections{repeat_text}; the load generator runs on the same machine. Only ratios from one run "
           "count.", "",
           "![req/s per server, one panel per row](benchmarks.svg)", ""]
    for row in rows:
        out += [f"### {row.title}", ""]
        if row.note:
            out += [row.note, ""]
        out += row_table(row, results.get(row.id, {})) + [""]
        goals = goal_lines(row, results.get(row.id, {}))
        if goals:
            out += [f"- {text}: **{verdict}**" for text, verdict in goals] + [""]
    return "\n".join(out)


def write_docs(text: str, svg: str, output: Path) -> None:
    replace_block(output, "RESULTS", text)
    output.with_suffix(".svg").write_text(svg)


def print_row(row: Row, results: dict) -> None:
    print(f"\n== {row.title}")
    for line in row_table(row, results):
        print(line)
    for text, verdict in goal_lines(row, results):
        print(f"   goal: {text}: {verdict}")
    sys.stdout.flush()


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
    if shutil.which("wrk") is None and any(row.driver == "wrk" for row in rows):
        print("wrk not found: run scripts/install-deps --bench", file=sys.stderr)
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
            for server in row.servers:
                print(f"  {row.id}: {server.label} ...", flush=True)
                row_results[server.key] = run_repeated(row, server)
            print_row(row, row_results)

    command = "make bench" if os.environ.get("MAKELEVEL") else "python3 bench/run.py"
    if not args.no_docs:
        output = Path(args.output)
        write_docs(markdown(rows, results, info, command),
                   svg_plot.render(rows, results, title=f"sockhost benchmarks, {info['date']}"), output)
        (BUILD / "bench-results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
        print(f"\nwrote {output} and {output.with_suffix('.svg')} (raw results: {BUILD / 'bench-results.json'})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every server started was stopped", file=sys.stderr)
        sys.exit(130)
