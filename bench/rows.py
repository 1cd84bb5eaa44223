"""The suite's rows: for each kind of work, the servers to start (sockhost in its modes, and
the peers), how to start each one, and the goals."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from settings import (BACKLOG, BENCH, BIN, HTTP_BODY, IDLE_CONNECTIONS, IDLE_MODES, PLUGINS, SOCKHOST_BUILD,
                      SOURCE_ADDRESSES, TLS12_CIPHERS, TLS13_CIPHERSUITES, TLS_MIN_VERSION, python)

if TYPE_CHECKING:
    from cells import Cell

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


def sockhost_server(mode: str, workers: int = 1, metrics: bool = True, access_log: bool = False) -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        listener: dict = {"listen": cell.target, "plugin": cell.row.plugin, "mode": mode}
        if access_log:  # one JSON line per request, to a file in the cell's directory
            listener["access_log"] = str(tmp / "access.log")
        if cell.row.plugin == "http":
            listener["config"] = {"body": HTTP_BODY}
        if not cell.target.startswith(("udp:", "unix-dgram:")):
            listener["request_queue_size"] = BACKLOG
        if cell.row.id == "idle" and mode == "event":  # its live-connection bound (default 10000)
            listener["max_connections"] = IDLE_CONNECTIONS + 100
        if cell.row.tls:
            listener["tls"] = {"cert": str(cell.certificate.cert), "key": str(cell.certificate.key),
                               "min_version": TLS_MIN_VERSION, "ciphers": TLS12_CIPHERS,
                               "ciphersuites": TLS13_CIPHERSUITES, "session_tickets": False}
        config: dict = {"plugin_dir": str(PLUGINS), "drain_timeout": 1, "log_level": "warning",
                        "listeners": [listener]}
        if workers != 1:  # absent means 1: the key is only needed for more
            config["workers"] = workers
        if not metrics:  # what counting costs: the same server counting nothing
            config["metrics"] = False
        path = tmp / "sockhost.json"
        path.write_text(json.dumps(config, indent=2))
        return [str(SOCKHOST_BUILD / "bin/sockhost"), "--config", str(path)]

    suffix = f" ×{workers}" if workers != 1 or mode in ("event", "threading") else ""
    if not metrics:
        return Server(f"sockhost {mode}{suffix}, metrics off", f"{mode}-{workers}-metrics-off", "sockhost", workers,
                      mode, start=start)
    if access_log:
        return Server(f"sockhost {mode}{suffix}, access log", f"{mode}-{workers}-access-log", "sockhost", workers,
                      mode, start=start)
    return Server(f"sockhost {mode}{suffix}", f"{mode}-{workers}", "sockhost", workers, mode, start=start)


def nginx_server(workers: int) -> Server:
    def start(cell: Cell, tmp: Path) -> list[str]:
        port = cell.target.rsplit(":", 1)[1]
        body = HTTP_BODY.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        user = "user root;\n" if os.geteuid() == 0 else ""
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / name).mkdir(exist_ok=True)
        listen = f"listen 127.0.0.1:{port} backlog={BACKLOG};"
        if cell.row.tls:  # sockhost's settings (its session cache is off too, and it prefers its ciphers)
            minimum = "TLSv1.2 TLSv1.3" if TLS_MIN_VERSION == "1.2" else "TLSv1.3"
            listen = f"""listen 127.0.0.1:{port} ssl backlog={BACKLOG};
        ssl_certificate {cell.certificate.cert};
        ssl_certificate_key {cell.certificate.key};
        ssl_protocols {minimum};
        ssl_ciphers {TLS12_CIPHERS};
        ssl_conf_command Ciphersuites {TLS13_CIPHERSUITES};
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        ssl_session_cache off;"""
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
        {listen}
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
    tls: bool = False  # the servers get the run's certificate and the TLS settings; wrk goes over https
    wrk_headers: list[str] = dataclasses.field(default_factory=list)  # e.g. "Connection: close"
    unit: str = "req"  # what a request of the load is, in the column names: req/s, CPU µs/req
    block: str = "RESULTS"  # the generated block of docs/benchmarks.md that holds the row's table


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


def dispatch_overhead_at_most(results: dict, variant: str, base: str, nanoseconds: float) -> Optional[bool]:
    medians = results.get("dispatch", {}).get("medians_ns", {})
    if variant not in medians or base not in medians:
        return None
    return medians[variant] - medians[base] <= nanoseconds


def reference_goal(mode: str, factor: float = 0.9) -> Goal:
    return Goal(f"{mode}: req/s ≥ {factor}× the reference",
                lambda r: compare(r, f"{mode}-1", "reference", "rps", at_least(factor)))


def keep_alive_goals() -> list[Goal]:
    """The keep-alive HTTP rows' goals against nginx, plain and over TLS."""
    return [Goal("event ×1: req/s ≥ 1.0× nginx ×1", lambda r: compare(r, "event-1", "nginx-1", "rps", at_least(1.0))),
            Goal("event ×1: p99 ≤ nginx ×1", lambda r: compare(r, "event-1", "nginx-1", "p99_us", at_most(1.0))),
            Goal("event ×1: CPU per request ≤ nginx ×1",
                 lambda r: compare(r, "event-1", "nginx-1", "cpu_us_per_request", at_most(1.0))),
            Goal("threading ×1: req/s ≥ 0.7× nginx ×1",
                 lambda r: compare(r, "threading-1", "nginx-1", "rps", at_least(0.7))),
            Goal("threading ×2: req/s ≥ 0.7× nginx ×2",
                 lambda r: compare(r, "threading-2", "nginx-2", "rps", at_least(0.7)))]


def tls_servers() -> list[Server]:
    """The HTTP row's sockhost modes and worker counts against nginx with as many workers."""
    return [sockhost_server("event", 1), sockhost_server("event", 2), sockhost_server("threading", 1),
            sockhost_server("threading", 2), nginx_server(1), nginx_server(2)]


TLS_NOTE = (f"Both servers have the same certificate (ECDSA P-256, made at the start of the run) and settings: "
            f"TLS 1.2 (`{TLS12_CIPHERS}`) and 1.3 (`{TLS13_CIPHERSUITES}`), one cipher each, no session tickets, "
            f"no session cache.")


ROWS: list[Row] = [
    Row("http", "HTTP/1.1 keep-alive, `http` plugin, wrk 1 thread / 50 connections", "tcp", "http", "wrk",
        [sockhost_server("event", 1), sockhost_server("event", 1, metrics=False), sockhost_server("event", 2),
         sockhost_server("threading", 1), sockhost_server("threading", 1, metrics=False),
         sockhost_server("threading", 2), nginx_server(1), nginx_server(2), python_http_server(), http_responder()],
        [*keep_alive_goals(),
         *[Goal(f"{mode} ×1: CPU per request counting metrics ≤ 1.05× with `metrics` off",
                lambda r, mode=mode: compare(r, f"{mode}-1", f"{mode}-1-metrics-off", "cpu_us_per_request",
                                             at_most(1.05)))
           for mode in ("event", "threading")]],
        note="wrk with one thread saturates a core itself, so req/s ratios near 1.0 say little; "
             "CPU per request tells the servers apart. The epoll HTTP responder (bench/epoll_http.cpp) "
             "answers every request head without parsing it: the floor, shown for scale. "
             "\"metrics off\" is the same sockhost with `\"metrics\": false`: the cost of counting. "
             "A keep-alive connection is one request (socketserver's sense), so the access log's cost "
             "is measured in the connect row, where every request is a connection."),
    Row("https", "HTTPS keep-alive, `http` plugin, wrk 1 thread / 50 connections", "tcp", "http", "wrk",
        tls_servers(),
        keep_alive_goals(),
        note="The HTTP row's load over TLS: 50 connections, one handshake each at the start. wrk with one "
             "thread saturates a core itself, so CPU per request tells the servers apart. " + TLS_NOTE,
        tls=True, block="RESULTS TLS"),
    Row("https-connect", "New TLS connection per request (full handshake), `http` plugin, wrk 1 thread / "
        "50 connections", "tcp", "http", "wrk",
        tls_servers(),
        [Goal("event ×1: conn/s ≥ 1.0× nginx ×1", lambda r: compare(r, "event-1", "nginx-1", "rps", at_least(1.0))),
         Goal("event ×1: CPU per connection ≤ nginx ×1",
              lambda r: compare(r, "event-1", "nginx-1", "cpu_us_per_request", at_most(1.0))),
         Goal("threading ×1: conn/s ≥ 0.7× nginx ×1",
              lambda r: compare(r, "threading-1", "nginx-1", "rps", at_least(0.7))),
         Goal("threading ×2: conn/s ≥ 0.7× nginx ×2",
              lambda r: compare(r, "threading-2", "nginx-2", "rps", at_least(0.7)))],
        note="wrk sends `Connection: close`: every request is a new connection and a full handshake, none "
             "resumed (wrk offers its last session again, and neither server has tickets or a session cache), "
             "so conn/s is wrk's req/s and CPU µs/conn the server's CPU time per connection. wrk's latency "
             "starts when the handshake is done. " + TLS_NOTE,
        tls=True, wrk_headers=["Connection: close"], unit="conn", block="RESULTS TLS"),
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
        [sockhost_server("event"), sockhost_server("event", metrics=False), sockhost_server("event", access_log=True),
         sockhost_server("threading"), sockhost_server("forking"), reference_server("epoll reference"), python_echo_server("threading", "Python ThreadingTCPServer"),
         python_echo_server("forking", "Python ForkingTCPServer", key="python-forking")],
        [reference_goal("event"),
         Goal("forking: req/s ≥ 3× Python ForkingTCPServer",
              lambda r: compare(r, "forking-1", "python-forking", "rps", at_least(3.0))),
         Goal("event: CPU per request counting metrics ≤ 1.05× with `metrics` off",
              lambda r: compare(r, "event-1", "event-1-metrics-off", "cpu_us_per_request", at_most(1.05))),
         Goal("event: CPU per request with an access log ≤ 1.15× without",
              lambda r: compare(r, "event-1-access-log", "event-1", "cpu_us_per_request", at_most(1.15)))],
        note="\"access log\" writes one JSON line per request (here, per connection) to a file (`access_log`)."),
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
        "dispatch",
        [],
        [Goal("metrics add ≤ 100 ns per request (LifecyclePluginCounted − LifecyclePlugin)",
              lambda r: dispatch_overhead_at_most(r, "LifecyclePluginCounted", "LifecyclePlugin", 100.0))],
        note="A real request costs at least 5 µs of CPU (the http row), so 100 ns is 2% of the cheapest. "
             "LifecyclePluginAccessLogged queues a line per request faster than any server could, so its "
             "writer falls behind and drops lines (which costs less than queueing them): the connect row "
             "gives the access log's real cost."),
]
