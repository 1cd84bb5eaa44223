#!/usr/bin/env python3
"""Reload soak: 250 reloads of a running sockhost while all four transports are under load,
then the handoff case: 100 reloads that no idle or active keep-alive client may notice.

    python3 bench/reload_soak.py            (`make bench-reload`)

The soak. One sockhost serves echo on tcp, udp, unix and unix-dgram. A load generator per
transport runs closed-loop 64-byte round trips for the whole soak: first a steady phase,
then the reload phase, in which the supervisor is reloaded RELOADS times, each reload
waiting for its outcome before the next. The report compares, per transport, requests
served, errors and p50/p99 latency during the reloads with the steady phase.
Goals: 0 errors; p99 during reloads ≤ 2× the steady p99.

The handoff case. One sockhost serves `http` on tcp, one listener per mode in HANDOFF_MODES
(each with `timeout` 3600 s, so that no connection is closed for idleness during the run,
and room for all its connections at once). RELOAD_IDLE_CONNECTIONS keep-alive connections,
spread evenly over the listeners, each send one request and read its answer, then stay
idle between requests (`loadgen --mode idle --http`). RELOAD_ACTIVE_CLIENTS clients, spread
the same way, run a tight GET loop on one connection each that ignores `Connection: close`
and never reconnects (`loadgen --http --persistent`): a close, a reset or no answer within
HANDOFF_TIMEOUT_MS is a failed request and ends that client. After a steady phase the host
is reloaded HANDOFF_RELOADS times, each reload waiting for its outcome and then for the old
generation to exit, which has handed every idle connection over by then (HANDOFF_WAIT_EXIT=0
reloads back to back instead, as the soak does). Once every old generation has exited, each
idle connection is asked once more. The report: idle connections kept (still open and
answering) and lost, requests failed, p50/p99 latency of the active clients steady and
during the reloads. Goals: every connection kept, 0 requests failed, p99 during reloads
≤ 2× the steady p99. Latency is measured by bench/loadgen (C++, one epoll thread per
listener's clients, nothing of Python on the path): CLOCK_MONOTONIC from each request's
send to its answer's last byte, into a histogram. This process raises its RLIMIT_NOFILE to
the hard limit (sockhost and loadgen inherit it; loadgen raises its own further when it
may), and the report gives the worker's limit against what is needed. The host's log of
the run is kept as BENCH_BUILD_DIR/reload-handoff-sockhost.log.

How a reload is made and its end observed, best first:
  1. `sockhost reload -c CONFIG` when the host accepts the `control_socket` key: the
     command waits for the outcome (exit status 0: the new generation is serving);
  2. SIGHUP to the supervisor, then wait for a log line matching RELOAD_READY_PATTERN;
  3. a host that never logs such a line (one without the supervisor just logs SIGHUP):
     SIGHUP every RELOAD_INTERVAL seconds; the report says generations were not observed.

Environment: RELOAD_CASES (soak,handoff: which to run, in that order). The soak: RELOADS
(250), RELOAD_STEADY_SECONDS (10), RELOAD_CONNECTIONS (per transport, 10), RELOAD_WORKERS
(1; >1 adds the `workers` key), RELOAD_STREAM_MODE (threading), RELOAD_DGRAM_MODE (sync).
The handoff case: RELOAD_IDLE_CONNECTIONS (10000, in all), RELOAD_ACTIVE_CLIENTS (8, in
all), HANDOFF_RELOADS (100), HANDOFF_STEADY_SECONDS (10), HANDOFF_MODES (event,threading;
only these two, as each idle connection holds a fiber or a thread), HANDOFF_TIMEOUT_MS
(5000), HANDOFF_WAIT_EXIT (1). Both: RELOAD_READY_PATTERN / RELOAD_FAILED_PATTERN (the
supervisor's "reload: generation N is serving" / "reload failed" lines),
RELOAD_READY_TIMEOUT (15), RELOAD_INTERVAL (0.05), RELOAD_METHOD (auto; `signal` skips the
command), BENCH_BUILD_DIR (build), BENCH_SOCKHOST_BUILD_DIR (where sockhost and its plugins
come from; default BENCH_BUILD_DIR).
--no-docs: print only (otherwise each case rewrites its block in docs/benchmarks.md).
--check: exit 1 when the handoff case lost a connection or failed a request or a reload
(bench/tools_test.sh runs a tiny handoff case so).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_block import replace_block  # noqa: E402
from processes import ProcessRegistry, descendants  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUILD = (ROOT / os.environ.get("BENCH_BUILD_DIR", "build")).resolve()
BIN = BUILD / "bin"
SOCKHOST_BUILD = (ROOT / os.environ.get("BENCH_SOCKHOST_BUILD_DIR", str(BUILD))).resolve()
SOCKHOST = SOCKHOST_BUILD / "bin/sockhost"
RELOADS = int(os.environ.get("RELOADS", "250"))
STEADY_SECONDS = float(os.environ.get("RELOAD_STEADY_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("RELOAD_CONNECTIONS", "10"))
WORKERS = int(os.environ.get("RELOAD_WORKERS", "1"))
STREAM_MODE = os.environ.get("RELOAD_STREAM_MODE", "threading")
DGRAM_MODE = os.environ.get("RELOAD_DGRAM_MODE", "sync")
# The supervisor's log lines for the outcome of a reload.
READY_PATTERN = re.compile(os.environ.get("RELOAD_READY_PATTERN", r"reload: generation \d+ is serving"))
FAILED_PATTERN = re.compile(os.environ.get("RELOAD_FAILED_PATTERN", r"reload failed"))
READY_TIMEOUT = float(os.environ.get("RELOAD_READY_TIMEOUT", "15"))
INTERVAL = float(os.environ.get("RELOAD_INTERVAL", "0.05"))
METHOD = os.environ.get("RELOAD_METHOD", "auto")  # auto, command or signal
TRANSPORTS = ("tcp", "udp", "unix", "unix-dgram")
CASES = [case.strip() for case in os.environ.get("RELOAD_CASES", "soak,handoff").split(",") if case.strip()]
# The handoff case.
IDLE_CONNECTIONS = int(os.environ.get("RELOAD_IDLE_CONNECTIONS", "10000"))
ACTIVE_CLIENTS = int(os.environ.get("RELOAD_ACTIVE_CLIENTS", "8"))
HANDOFF_RELOADS = int(os.environ.get("HANDOFF_RELOADS", "100"))
HANDOFF_STEADY_SECONDS = float(os.environ.get("HANDOFF_STEADY_SECONDS", "10"))
HANDOFF_MODES = [mode.strip() for mode in os.environ.get("HANDOFF_MODES", "event,threading").split(",") if mode.strip()]
HANDOFF_TIMEOUT_MS = int(os.environ.get("HANDOFF_TIMEOUT_MS", "5000"))
HANDOFF_IO_TIMEOUT = 3600  # the listeners' `timeout`: no idle connection is closed for idleness during the run
HANDOFF_WAIT_EXIT = os.environ.get("HANDOFF_WAIT_EXIT", "1") != "0"
HANDOFF_EXIT_PATTERN = re.compile(r"generation \d+ has exited")
HANDOFF_DRAINS_PATTERN = re.compile(r"reload: (generation \d+) is serving; (generation \d+) drains")
HANDOFF_EXIT_WAIT = 5 + 15  # drain_timeout, and time for the exit
HANDOFF_LOG = BUILD / "reload-handoff-sockhost.log"  # the host's log of the last handoff run
# HANDOFF_TRACE=DIR: each active client's requests slower than HANDOFF_TRACE_US go to
# DIR/slow-MODE.txt (loadgen --slow-log) and each reload's times to DIR/reloads.txt, all
# CLOCK_MONOTONIC, to see where in a reload the slow requests fall.
HANDOFF_TRACE = os.environ.get("HANDOFF_TRACE", "")
HANDOFF_TRACE_US = int(os.environ.get("HANDOFF_TRACE_US", "300"))

registry = ProcessRegistry()


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def targets(tmp: Path) -> dict[str, str]:
    return {"tcp": f"tcp://127.0.0.1:{free_port(socket.SOCK_STREAM)}",
            "udp": f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
            "unix": f"unix:{tmp}/echo.sock",
            "unix-dgram": f"unix-dgram:{tmp}/echo-dgram.sock"}


def write_config(tmp: Path, addresses: dict[str, str], control_socket: bool) -> Path:
    listeners = []
    for transport, address in addresses.items():
        datagram = transport in ("udp", "unix-dgram")
        listener = {"listen": address, "plugin": "echo", "mode": DGRAM_MODE if datagram else STREAM_MODE}
        listeners.append(listener)
    config: dict = {"plugin_dir": str(SOCKHOST_BUILD / "plugins"), "drain_timeout": 5, "log_level": "info",
                    "listeners": listeners}
    if WORKERS != 1:
        config["workers"] = WORKERS
    if control_socket:
        config["control_socket"] = str(tmp / "control.sock")
    path = tmp / "sockhost.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def answers(address: str) -> bool:
    scheme, _, rest = address.partition(":")
    try:
        if scheme in ("udp", "unix-dgram"):
            family = socket.AF_INET if scheme == "udp" else socket.AF_UNIX
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.settimeout(0.2)
                if scheme == "udp":
                    host, port = rest.removeprefix("//").rsplit(":", 1)
                    probe.sendto(b"ready?", (host, int(port)))
                else:
                    probe.bind("")  # autobind: the reply needs an address
                    probe.sendto(b"ready?", rest)
                return probe.recv(64) == b"ready?"
        if scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.2)
                probe.connect(rest)
                return True
        host, port = rest.removeprefix("//").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False


class LogWatch:
    """Reads the host's log as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines: list[str] = []

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        lines = complete.decode(errors="replace").splitlines()
        self.lines += lines
        return lines

    def wait_for(self, patterns: list[re.Pattern], timeout: float) -> Optional[tuple[int, str]]:
        """(index of the pattern, line) of the first new line matching one of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.new_lines():
                for index, pattern in enumerate(patterns):
                    if pattern.search(line):
                        return index, line
            time.sleep(0.01)
        return None


def start_host(tmp: Path, addresses: dict[str, str], write=None) -> tuple[subprocess.Popen, Path, LogWatch, bool]:
    """Starts sockhost, with a control socket when this host knows the key. `write`
    (tmp, addresses, control_socket) -> config path; the soak's echo config by default."""
    for control_socket in (True, False):
        config = (write or write_config)(tmp, addresses, control_socket)
        log = tmp / f"sockhost-{'control' if control_socket else 'plain'}.log"
        process = registry.start([str(SOCKHOST), "--config", str(config)], log)
        deadline = time.monotonic() + 20
        while process.poll() is None and time.monotonic() < deadline:
            if all(answers(address) for address in addresses.values()):
                return process, config, LogWatch(log), control_socket
            time.sleep(0.05)
        registry.stop(process)
        text = log.read_text(errors="replace")
        if control_socket and "control_socket" in text:
            continue  # this host has no control socket yet: reload by signal
        raise SystemExit(f"reload soak: sockhost did not start: {text.strip()[-500:]}")
    raise AssertionError("unreachable")


def reload_once(method: str, process: subprocess.Popen, config: Path, log: LogWatch) -> tuple[bool, str]:
    if method == "command":
        try:
            done = subprocess.run([str(SOCKHOST), "reload", "-c", str(config)], capture_output=True,
                                  text=True, timeout=READY_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            return False, "sockhost reload did not return"
        return done.returncode == 0, (done.stdout + done.stderr).strip()
    process.send_signal(signal.SIGHUP)
    if method == "signal+log":
        found = log.wait_for([READY_PATTERN, FAILED_PATTERN], READY_TIMEOUT)
        if found is None:
            return False, f"no line matching {READY_PATTERN.pattern!r} in {READY_TIMEOUT:g} s"
        return found[0] == 0, found[1]
    time.sleep(INTERVAL)
    return True, ""


class Reloads:
    """RELOADS-style runs of reloads, each waiting for its outcome; the method falls back
    as the module docstring says."""

    def __init__(self, method: str, settle=None) -> None:
        """`settle(detail)`, when given, runs after each reload that succeeded (with the
        outcome's text) and returns the seconds it waited, or None when it gave up."""
        self.method = method
        self.settle = settle
        self.settle_times: list[float] = []
        self.outcomes = {"ok": 0, "failed": 0}
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.durations: list[float] = []  # seconds, each reload until its outcome
        self.timeline: list[tuple[int, int, int]] = []  # CLOCK_MONOTONIC ns: sent, outcome, settled
        self.seconds = 0.0

    def run(self, count: int, process: subprocess.Popen, config: Path, log: LogWatch) -> None:
        consecutive_failures = 0
        started = time.monotonic()
        for number in range(1, count + 1):
            began = time.monotonic()
            began_ns = time.monotonic_ns()
            ok, detail = reload_once(self.method, process, config, log)
            outcome_ns = time.monotonic_ns()
            if not ok and number == 1 and self.method == "command":
                self.notes.append(f"`sockhost reload` failed ({detail[:200]}); reloading by SIGHUP instead")
                self.method = "signal+log"
                ok, detail = reload_once(self.method, process, config, log)
            if not ok and number == 1 and self.method == "signal+log":
                self.notes.append("no generation was observed after SIGHUP (this host has no supervisor: "
                                  f"{last_sighup_line(log)}); SIGHUP every {INTERVAL:g} s instead")
                self.method = "signal"
                ok = True
            self.durations.append(time.monotonic() - began)
            self.outcomes["ok" if ok else "failed"] += 1
            if not ok and len(self.failures) < 5:
                self.failures.append(f"reload {number}: {detail[:200]}")
            if ok and self.settle is not None and self.method != "signal":
                waited = self.settle(detail)
                if waited is None:
                    self.failures.append(f"reload {number}: the old generation did not exit in time")
                else:
                    self.settle_times.append(waited)
            self.timeline.append((began_ns, outcome_ns, time.monotonic_ns()))
            consecutive_failures = 0 if ok else consecutive_failures + 1
            if consecutive_failures == 5:  # keeps the run bounded in time
                self.failures.append(f"stopped after reload {number}: 5 reloads in a row failed")
                break
            if process.poll() is not None:
                self.failures.append(f"sockhost exited with status {process.returncode} after reload {number}")
                break
        self.seconds = time.monotonic() - started


def soak() -> dict:
    with tempfile.TemporaryDirectory(prefix="sockhost-bench-reload-") as tmp_name:
        tmp = Path(tmp_name)
        addresses = targets(tmp)
        process, config, log, control_socket = start_host(tmp, addresses)
        method = "command" if control_socket and METHOD != "signal" else "signal+log"
        log.new_lines()  # the start-up lines are not an answer to a reload
        loads = {}
        for transport, address in addresses.items():
            loads[transport] = registry.start(
                [str(BIN / "loadgen"), "--target", address, "--connections", str(CONNECTIONS), "--size", "64",
                 "--duration", "0", "--timeout-ms", "1000"], None, stdout=subprocess.PIPE)
        reloads = Reloads(method)
        try:
            time.sleep(STEADY_SECONDS)
            for load in loads.values():
                load.send_signal(signal.SIGUSR1)  # from here on the latency counts as "during reloads"
            reloads.run(RELOADS, process, config, log)
            # Errors the host logged while loaded; stopping the load generators below resets
            # their connections mid-request, which the host rightly logs too.
            log.new_lines()
            host_errors = [line for line in log.lines if " error:" in line]
            for load in loads.values():
                load.send_signal(signal.SIGTERM)
            results = {}
            for transport, load in loads.items():
                out, _ = load.communicate(timeout=30)
                results[transport] = json.loads(out.decode().strip().splitlines()[-1])
        finally:
            for load in loads.values():
                registry.stop(load)
            registry.stop(process)
        return {"method": reloads.method, "reloads": reloads.outcomes, "reload_seconds": reloads.seconds,
                "failures": reloads.failures, "notes": reloads.notes, "host_errors": host_errors[:10],
                "host_error_count": len(host_errors), "results": results}


def last_sighup_line(log: LogWatch) -> str:
    log.new_lines()
    lines = [line for line in log.lines if "SIGHUP" in line]
    return re.sub(r"^.*?\b(info|warning|error): ", "", lines[-1]) if lines else "nothing logged"


def report(outcome: dict) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Run {when}: {RELOADS} reloads ({outcome['reloads']['ok']} ok, {outcome['reloads']['failed']} "
             f"failed) in {outcome['reload_seconds']:.1f} s by {outcome['method']}; {CONNECTIONS} connections "
             f"(clients) per transport; stream listeners `{STREAM_MODE}`, datagram listeners `{DGRAM_MODE}`, "
             f"workers {WORKERS}; steady phase {STEADY_SECONDS:g} s; {os.cpu_count()} CPUs, load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""]
    lines += [f"- {note}" for note in outcome["notes"]]
    lines += [f"- reload failure: {failure}" for failure in outcome["failures"]]
    if outcome["host_error_count"]:
        lines.append(f"- the host logged {outcome['host_error_count']} error lines, e.g. "
                     f"`{outcome['host_errors'][0][:200]}`")
    lines += ["", "| transport | phase | seconds | requests | req/s | p50 µs | p99 µs | retried | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    goals = []
    for transport in TRANSPORTS:
        result = outcome["results"][transport]
        for phase in ("steady", "reload"):
            stats = result["phases"][phase]
            detail = ", ".join(f"{k} {v}" for k, v in stats["errors"].items() if v)
            lines.append(f"| {transport} | {'during reloads' if phase == 'reload' else 'steady'} | "
                         f"{stats['seconds']:.1f} | {stats['requests']:,} | {stats['rps']:,.0f} | "
                         f"{stats['p50_us']:,.1f} | {stats['p99_us']:,.1f} | {stats['retried']:,} | "
                         f"{stats['error_total']}"
                         + (f" ({detail})" if detail else "") + " |")
        steady, during = result["phases"]["steady"], result["phases"]["reload"]
        goals.append((f"{transport}: 0 errors", result["error_total"] == 0))
        goals.append((f"{transport}: p99 during reloads ≤ 2× steady p99 "
                      f"({during['p99_us']:,.0f} vs {steady['p99_us']:,.0f} µs)",
                      during["requests"] > 0 and during["p99_us"] <= 2 * steady["p99_us"]))
    lines.append("")
    lines += [f"- {text}: **{'met' if met else 'MISSED'}**" for text, met in goals]
    lines += ["", "*retried*: requests on a stream connection the server closed between requests before "
              "answering (a draining generation closes idle keep-alive connections); the load generator "
              "retried them on a new connection, as HTTP clients do, and their latency includes the retry."]
    if outcome["method"] == "signal":
        lines += ["", "No generation was started (SIGHUP only logged): the figures show the load, not reloads."]
    return "\n".join(lines)

# ---- the handoff case ------------------------------------------------------------------

def split(total: int, parts: int) -> list[int]:
    """`total` spread as evenly as can be over `parts`."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def handoff_shares() -> dict[str, tuple[int, int]]:
    """Per listener mode: (idle connections, active clients)."""
    idle = split(IDLE_CONNECTIONS, len(HANDOFF_MODES))
    active = split(ACTIVE_CLIENTS, len(HANDOFF_MODES))
    return {mode: (idle[index], active[index]) for index, mode in enumerate(HANDOFF_MODES)}


def write_handoff_config(tmp: Path, addresses: dict[str, str], control_socket: bool) -> Path:
    listeners = []
    for mode, address in addresses.items():
        idle, active = handoff_shares()[mode]
        # Every connection of the listener is live at once (an event fiber or a thread
        # each), in both generations while one hands over to the next.
        capacity = idle + active + 64
        listener = {"listen": address, "plugin": "http", "mode": mode, "timeout": HANDOFF_IO_TIMEOUT,
                    {"event": "max_connections", "threading": "max_threads"}[mode]: capacity}
        listeners.append(listener)
    config: dict = {"plugin_dir": str(SOCKHOST_BUILD / "plugins"), "drain_timeout": 5, "log_level": "info",
                    "listeners": listeners}
    if control_socket:
        config["control_socket"] = str(tmp / "control.sock")
    path = tmp / "sockhost.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def open_files_limit(pid: int) -> Optional[int]:
    """The soft RLIMIT_NOFILE of a running process (None: unlimited or gone)."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    except OSError:
        pass
    return None


def raise_own_descriptor_limit() -> int:
    """To the hard limit: the processes started from here (sockhost, loadgen) inherit it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def last_json(process: subprocess.Popen, timeout: float) -> dict:
    out, _ = process.communicate(timeout=timeout)
    return json.loads(out.decode().strip().splitlines()[-1])


class GenerationExits:
    """Which generation each reload left draining, and which have exited, from the log."""

    def __init__(self, log: LogWatch) -> None:
        self.log = log
        self.scanned = 0
        self.drained_by: dict[str, str] = {}  # the generation serving -> the one it made drain
        self.exited: set[str] = set()

    def update(self) -> None:
        self.log.new_lines()
        for line in self.log.lines[self.scanned:]:
            if found := HANDOFF_DRAINS_PATTERN.search(line):
                self.drained_by[found[1]] = found[2]
            elif found := re.search(r"(generation \d+) has exited", line):
                self.exited.add(found[1])
        self.scanned = len(self.log.lines)

    def wait_for_old(self, detail: str, timeout: float) -> Optional[float]:
        """Seconds until the generation that the reload answered by `detail` made drain had
        exited (handed over every idle connection or closed it); None past `timeout`."""
        serving = re.search(r"generation \d+(?= is serving)", detail)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.update()
            old = self.drained_by.get(serving[0]) if serving else None
            if old is not None and old in self.exited:
                return time.monotonic() - started
            time.sleep(0.005)
        return None


def handoff() -> dict:
    unknown = [mode for mode in HANDOFF_MODES if mode not in ("event", "threading")]
    if unknown:
        raise SystemExit(f"reload soak: HANDOFF_MODES: {', '.join(unknown)}: only event and threading hold "
                         "thousands of idle connections")
    notes: list[str] = []
    own_limit = raise_own_descriptor_limit()
    with tempfile.TemporaryDirectory(prefix="sockhost-bench-handoff-") as tmp_name:
        tmp = Path(tmp_name)
        addresses = {mode: f"tcp://127.0.0.1:{free_port(socket.SOCK_STREAM)}" for mode in HANDOFF_MODES}
        process, config, log, control_socket = start_host(tmp, addresses, write_handoff_config)
        method = "command" if control_socket and METHOD != "signal" else "signal+log"
        # Every listener serves `http`, so one worker process holds every connection.
        needed = IDLE_CONNECTIONS + ACTIVE_CLIENTS + 64
        worker_limits = {pid: open_files_limit(pid) for pid in descendants(process.pid) if pid != process.pid}
        for pid, limit in worker_limits.items():
            if limit is not None and limit < needed:
                notes.append(f"worker {pid} may open {limit} descriptors (RLIMIT_NOFILE), fewer than the {needed} "
                             "this case needs: raise the hard limit (ulimit -Hn)")
        log.new_lines()
        idle_loads, active_loads = {}, {}
        idle_results, active_results = {}, {}
        held: dict[str, int] = {}
        exits = GenerationExits(log)
        reloads = Reloads(method, (lambda detail: exits.wait_for_old(detail, HANDOFF_EXIT_WAIT))
                          if HANDOFF_WAIT_EXIT else None)
        settle_seconds: Optional[float] = None
        try:
            for mode, address in addresses.items():
                idle, _ = handoff_shares()[mode]
                if idle:
                    idle_loads[mode] = registry.start(
                        [str(BIN / "loadgen"), "--target", address, "--mode", "idle", "--http", "--connections",
                         str(idle), "--duration", "0"], None, stdout=subprocess.PIPE)
            for mode, load in idle_loads.items():
                line = registry.read_line(load, 180)
                if line is None or not line.startswith("held "):
                    raise SystemExit(f"reload soak: the idle connections of the {mode} listener were not opened "
                                     f"({line!r}); host log: {log.path}")
                held[mode] = int(line.split()[1])
            for mode, address in addresses.items():
                _, active = handoff_shares()[mode]
                if active:
                    active_loads[mode] = registry.start(
                        [str(BIN / "loadgen"), "--target", address, "--http", "--persistent", "--connections",
                         str(active), "--duration", "0", "--timeout-ms", str(HANDOFF_TIMEOUT_MS),
                         *(["--slow-log", str(Path(HANDOFF_TRACE) / f"slow-{mode}.txt"), "--slow-us",
                             str(HANDOFF_TRACE_US)] if HANDOFF_TRACE else [])],
                        None, stdout=subprocess.PIPE)
            time.sleep(HANDOFF_STEADY_SECONDS)
            for load in active_loads.values():
                load.send_signal(signal.SIGUSR1)  # from here on the latency counts as "during reloads"
            reloads.run(HANDOFF_RELOADS, process, config, log)
            if HANDOFF_TRACE:
                (Path(HANDOFF_TRACE) / "reloads.txt").write_text(
                    "".join(f"{sent} {outcome} {settled}\n" for sent, outcome, settled in reloads.timeline))
            # The last old generation hands over what it still holds and exits within its
            # drain_timeout; only then is every idle connection the newest generation's.
            settle_started = time.monotonic()
            exits_expected = reloads.outcomes["ok"] if reloads.method != "signal" else 0
            deadline = settle_started + HANDOFF_EXIT_WAIT
            while time.monotonic() < deadline:
                log.new_lines()
                if sum(1 for line in log.lines if HANDOFF_EXIT_PATTERN.search(line)) >= exits_expected:
                    settle_seconds = time.monotonic() - settle_started
                    break
                time.sleep(0.02)
            if settle_seconds is None:
                notes.append(f"not every old generation had exited {deadline - settle_started:.0f} s after the "
                             "last reload")
            log.new_lines()
            host_errors = [line for line in log.lines if " error:" in line or " warning:" in line]
            for load in active_loads.values():
                load.send_signal(signal.SIGTERM)
            for mode, load in active_loads.items():
                active_results[mode] = last_json(load, 30)
            for load in idle_loads.values():
                load.send_signal(signal.SIGUSR1)  # one more request on each idle connection
            for mode, load in idle_loads.items():
                idle_results[mode] = last_json(load, 180)
        finally:
            for load in [*idle_loads.values(), *active_loads.values()]:
                registry.stop(load)
            registry.stop(process)
            try:  # the host's log outlives the temporary directory, for a look at what was lost
                shutil.copyfile(log.path, HANDOFF_LOG)
            except OSError:
                pass
        return {"method": reloads.method, "reloads": reloads.outcomes, "reload_seconds": reloads.seconds,
                "durations": reloads.durations, "handoff_times": reloads.settle_times,
                "settle_seconds": settle_seconds, "failures": reloads.failures,
                "notes": reloads.notes + notes, "host_errors": host_errors[:10], "host_error_count": len(host_errors),
                "own_limit": own_limit, "worker_limits": worker_limits, "needed": needed,
                "idle": idle_results, "active": active_results}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def handoff_figures(outcome: dict) -> dict:
    """Connections kept and lost, requests failed: what --check and the goals look at."""
    opened = sum(result["opened"] for result in outcome["idle"].values())
    kept = sum(result["answered_after_hold"] for result in outcome["idle"].values())
    active = sum(result["connections"] for result in outcome["active"].values())
    active_lost = sum(result["clients_lost"] for result in outcome["active"].values())
    failed = sum(result["error_total"] for result in outcome["active"].values())
    return {"idle_opened": opened, "idle_kept": kept, "idle_lost": opened - kept, "active": active,
            "active_kept": active - active_lost, "failed": failed,
            "close_announced": sum(result["close_announced"] for result in outcome["active"].values())}


def handoff_report(outcome: dict) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    figures = handoff_figures(outcome)
    durations = outcome["durations"]
    settle = outcome["settle_seconds"]
    handoffs = outcome["handoff_times"]
    limits = sorted({limit for limit in outcome["worker_limits"].values() if limit is not None})
    lines = [f"Run {when}: {HANDOFF_RELOADS} reloads ({outcome['reloads']['ok']} ok, {outcome['reloads']['failed']} "
             f"failed) in {outcome['reload_seconds']:.1f} s by {outcome['method']} (each until its outcome: "
             f"median {percentile(durations, 0.5) * 1e3:,.0f} ms, max {max(durations, default=0) * 1e3:,.0f} ms); "
             + (f"each next reload waited until the old generation had exited (after median "
                f"{percentile(handoffs, 0.5) * 1e3:,.0f} ms, max {max(handoffs) * 1e3:,.0f} ms); " if handoffs else
                "each next reload followed at once (HANDOFF_WAIT_EXIT=0); ")
             + (f"the last old generation had exited {settle:.1f} s after the last reload; " if settle is not None else "")
             + f"one sockhost serving `http` on tcp, listeners {', '.join(f'`{m}`' for m in HANDOFF_MODES)}, "
             f"workers 1, `timeout` {HANDOFF_IO_TIMEOUT} s; {IDLE_CONNECTIONS:,} idle keep-alive connections and "
             f"{ACTIVE_CLIENTS} active persistent clients, spread evenly over the listeners; steady phase "
             f"{HANDOFF_STEADY_SECONDS:g} s; descriptors: the bench {outcome['own_limit']:,}, the worker "
             f"{', '.join(f'{limit:,}' for limit in limits) or 'unlimited'} (needs {outcome['needed']:,}); "
             f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""]
    lines += [f"- {note}" for note in outcome["notes"]]
    lines += [f"- reload failure: {failure}" for failure in outcome["failures"]]
    if outcome["host_error_count"]:
        lines.append(f"- the host logged {outcome['host_error_count']} error or warning lines, e.g. "
                     f"`{outcome['host_errors'][0][:200]}`")
    if figures["close_announced"]:
        lines.append(f"- {figures['close_announced']:,} answers said `Connection: close` (these clients ignore it)")
    lines += ["", "| listener | idle connections | held (answered once) | open and answering after the reloads | lost |",
              "|---|---|---|---|---|"]
    for mode in HANDOFF_MODES:
        result = outcome["idle"].get(mode)
        if result is None:
            continue
        lines.append(f"| {mode} | {result['opened']:,} | {result['held']:,} | {result['answered_after_hold']:,} | "
                     f"{result['opened'] - result['answered_after_hold']:,} |")
    lines += ["", "| listener | active clients | phase | seconds | requests | req/s | p50 µs | p99 µs | max µs | "
              "failed | clients lost |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    goals = [(f"idle connections kept: {figures['idle_kept']:,} of {figures['idle_opened']:,}",
              figures["idle_opened"] == IDLE_CONNECTIONS and figures["idle_lost"] == 0),
             (f"active clients kept: {figures['active_kept']} of {figures['active']}",
              figures["active_kept"] == figures["active"]),
             (f"requests failed: {figures['failed']:,} (goal 0)", figures["failed"] == 0)]
    for mode in HANDOFF_MODES:
        result = outcome["active"].get(mode)
        if result is None:
            continue
        for phase in ("steady", "reload"):
            stats = result["phases"][phase]
            detail = ", ".join(f"{k} {v}" for k, v in stats["errors"].items() if v)
            lines.append(f"| {mode} | {result['connections']} | {'during reloads' if phase == 'reload' else 'steady'} | "
                         f"{stats['seconds']:.1f} | {stats['requests']:,} | {stats['rps']:,.0f} | "
                         f"{stats['p50_us']:,.1f} | {stats['p99_us']:,.1f} | {stats['max_us']:,.1f} | "
                         f"{stats['error_total']}" + (f" ({detail})" if detail else "") +
                         f" | {result['clients_lost'] if phase == 'reload' else ''} |")
        steady, during = result["phases"]["steady"], result["phases"]["reload"]
        goals.append((f"{mode}: p99 during reloads ≤ 2× steady p99 ({during['p99_us']:,.0f} vs "
                      f"{steady['p99_us']:,.0f} µs)", during["requests"] > 0 and during["p99_us"] <= 2 * steady["p99_us"]))
    lines.append("")
    lines += [f"- {text}: **{'met' if met else 'MISSED'}**" for text, met in goals]
    lines += ["", "Idle connections: each sent one `GET` and read its answer before the steady phase, then said "
              "nothing until the end, when each sent one more request; *lost* counts those closed by the server "
              "in between or not answering then. Active clients: a tight `GET` loop on one connection each, which "
              "ignores `Connection: close` and never reconnects: a close, a reset or no answer within "
              f"{HANDOFF_TIMEOUT_MS:,} ms is a failed request and ends that client (*clients lost*). Latency: "
              "measured per request by `bench/loadgen` (C++, one epoll thread per listener's clients; no Python "
              "on the path), CLOCK_MONOTONIC from the request's send to its answer's last byte, in a log-linear "
              "histogram (about 3 % resolution); *steady* is before the first reload, *during reloads* from it "
              "until every old generation has exited."]
    if outcome["method"] == "signal":
        lines += ["", "No generation was started (SIGHUP only logged): the figures show the load, not reloads."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "docs/benchmarks.md"))
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the handoff case lost a connection, failed a request or a reload")
    args = parser.parse_args()
    unknown = [case for case in CASES if case not in ("soak", "handoff")]
    if unknown or not CASES:
        raise SystemExit(f"reload soak: RELOAD_CASES: {','.join(unknown) or 'empty'} (soak, handoff)")
    status = 0
    with registry:
        if "soak" in CASES:
            print(f"reload soak: {RELOADS} reloads, {CONNECTIONS} connections per transport, "
                  f"steady {STEADY_SECONDS:g} s", flush=True)
            text = report(soak())
            print(text)
            if not args.no_docs:
                replace_block(Path(args.output), "RELOAD SOAK", text)
                print(f"\nwrote {args.output}")
        if "handoff" in CASES:
            print(f"\nreload handoff: {HANDOFF_RELOADS} reloads, {IDLE_CONNECTIONS} idle connections, "
                  f"{ACTIVE_CLIENTS} active clients, listeners {','.join(HANDOFF_MODES)}, "
                  f"steady {HANDOFF_STEADY_SECONDS:g} s", flush=True)
            outcome = handoff()
            text = handoff_report(outcome)
            print(text)
            if not args.no_docs:
                replace_block(Path(args.output), "RELOAD HANDOFF", text)
                print(f"\nwrote {args.output}")
            figures = handoff_figures(outcome)
            if args.check and (figures["idle_lost"] or figures["idle_opened"] != IDLE_CONNECTIONS or figures["failed"]
                               or figures["active_kept"] != figures["active"] or outcome["reloads"]["failed"]
                               or outcome["method"] == "signal"):
                print("reload handoff: FAILED (a connection lost, a request or a reload failed, or no reload made)",
                      file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
