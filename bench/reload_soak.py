#!/usr/bin/env python3
"""Reload soak: 250 reloads of a running sockhost while all four transports are under load.

    python3 bench/reload_soak.py            (`make bench-reload`)

One sockhost serves echo on tcp, udp, unix and unix-dgram. A load generator per transport
runs closed-loop 64-byte round trips for the whole soak: first a steady phase, then the
reload phase, in which the supervisor is reloaded RELOADS times, each reload waiting for
its outcome before the next. The report compares, per transport, requests served, errors
and p50/p99 latency during the reloads with the steady phase.
Goals: 0 errors; p99 during reloads ≤ 2× the steady p99.

How a reload is made and its end observed, best first:
  1. `sockhost reload -c CONFIG` when the host accepts the `control_socket` key: the
     command waits for the outcome (exit status 0: the new generation is serving);
  2. SIGHUP to the supervisor, then wait for a log line matching RELOAD_READY_PATTERN;
  3. a host that never logs such a line (one without the supervisor just logs SIGHUP):
     SIGHUP every RELOAD_INTERVAL seconds; the report says generations were not observed.

Environment: RELOADS (250), RELOAD_STEADY_SECONDS (10), RELOAD_CONNECTIONS (per
transport, 10), RELOAD_WORKERS (1; >1 adds the `workers` key), RELOAD_STREAM_MODE
(threading), RELOAD_DGRAM_MODE (sync), RELOAD_READY_PATTERN / RELOAD_FAILED_PATTERN (the
supervisor's "reload: generation N is serving" / "reload failed" lines), RELOAD_READY_TIMEOUT (15),
RELOAD_INTERVAL (0.05), RELOAD_METHOD (auto; `signal` skips the command), BENCH_BUILD_DIR (build), BENCH_SOCKHOST_BUILD_DIR (where sockhost
and its plugins come from; default BENCH_BUILD_DIR). --no-docs: print only.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
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
from processes import ProcessRegistry  # noqa: E402

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


def start_host(tmp: Path, addresses: dict[str, str]) -> tuple[subprocess.Popen, Path, LogWatch, bool]:
    """Starts sockhost, with a control socket when this host knows the key."""
    for control_socket in (True, False):
        config = write_config(tmp, addresses, control_socket)
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
        outcomes = {"ok": 0, "failed": 0}
        consecutive_failures = 0
        failures: list[str] = []
        notes: list[str] = []
        try:
            time.sleep(STEADY_SECONDS)
            for load in loads.values():
                load.send_signal(signal.SIGUSR1)  # from here on the latency counts as "during reloads"
            started = time.monotonic()
            for number in range(1, RELOADS + 1):
                ok, detail = reload_once(method, process, config, log)
                if not ok and number == 1 and method == "command":
                    notes.append(f"`sockhost reload` failed ({detail[:200]}); reloading by SIGHUP instead")
                    method = "signal+log"
                    ok, detail = reload_once(method, process, config, log)
                if not ok and number == 1 and method == "signal+log":
                    notes.append("no generation was observed after SIGHUP (this host has no supervisor: "
                                 f"{last_sighup_line(log)}); SIGHUP every {INTERVAL:g} s instead")
                    method = "signal"
                    ok = True
                outcomes["ok" if ok else "failed"] += 1
                if not ok and len(failures) < 5:
                    failures.append(f"reload {number}: {detail[:200]}")
                consecutive_failures = 0 if ok else consecutive_failures + 1
                if consecutive_failures == 5:  # keeps the soak bounded in time
                    failures.append(f"stopped after reload {number}: 5 reloads in a row failed")
                    break
                if process.poll() is not None:
                    failures.append(f"sockhost exited with status {process.returncode} after reload {number}")
                    break
            reload_seconds = time.monotonic() - started
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
        return {"method": method, "reloads": outcomes, "reload_seconds": reload_seconds, "failures": failures,
                "notes": notes, "host_errors": host_errors[:10], "host_error_count": len(host_errors),
                "results": results}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "docs/benchmarks.md"))
    args = parser.parse_args()
    print(f"reload soak: {RELOADS} reloads, {CONNECTIONS} connections per transport, "
          f"steady {STEADY_SECONDS:g} s", flush=True)
    with registry:
        outcome = soak()
    text = report(outcome)
    print(text)
    if not args.no_docs:
        replace_block(Path(args.output), "RELOAD SOAK", text)
        print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
