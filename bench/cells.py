"""One cell of the table: start a server, wait until it answers, load it for a fixed time,
measure, stop it. Every process goes through the registry, so it is stopped however the
run ends."""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import resource
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from processes import ProcessRegistry, tree_cpu_seconds, tree_rss_kib
from rows import Row, Server
from settings import BIN, CONNECTIONS, IDLE_CONNECTIONS, REPEAT, SECONDS, SOURCE_ADDRESSES

registry = ProcessRegistry()


# ---------------------------------------------------------------------------------------
# One cell: start a server, wait until it answers, load it, stop it.
# ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Certificate:
    cert: Path
    key: Path


@dataclasses.dataclass
class Cell:
    row: Row
    server: Server
    target: str
    certificate: Optional[Certificate] = None  # the run's, for a TLS row


_certificate_directories: list[tempfile.TemporaryDirectory] = []


@functools.cache
def run_certificate() -> Certificate:
    """The TLS rows' certificate and key: ECDSA P-256, self-signed for 127.0.0.1, made once
    per run, so that every server of the run serves the same one. They live in a temporary
    directory removed when the run ends, never in the tree."""
    directory = tempfile.TemporaryDirectory(prefix="sockhost-bench-tls-")
    _certificate_directories.append(directory)  # kept until the interpreter exits
    certificate = Certificate(Path(directory.name) / "server.pem", Path(directory.name) / "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(certificate.key), "-out", str(certificate.cert), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return certificate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def target_for(row: Row, tmp: Path) -> str:
    if row.transport == "unix":
        return f"unix:{tmp}/echo.sock"
    return f"{row.transport}://127.0.0.1:{free_port()}"


def answers(target: str, plugin: str, certificate: Optional[Certificate] = None) -> bool:
    """True once the server answers a real request: an HTTP GET, or an echoed probe; over
    TLS when given the certificate, which the server's must be. (A supervisor accepts
    connections before its workers serve them.)"""
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
            if certificate is not None:
                context = ssl.create_default_context(cafile=str(certificate.cert))
                probe = context.wrap_socket(probe, server_hostname=host)
        with probe:
            probe.sendall(probe_bytes)
            reply = probe.recv(4096)
            return reply.startswith(b"HTTP/1.1 200") if plugin == "http" else reply == probe_bytes
    except OSError:
        return False


def negotiated(target: str, certificate: Certificate) -> str:
    """What `openssl s_client` negotiates with the server: version, cipher, key exchange
    group and signature, e.g. "TLSv1.3, TLS_AES_128_GCM_SHA256, X25519, ECDSA"."""
    address = target.split("://", 1)[1]
    done = subprocess.run(["openssl", "s_client", "-connect", address, "-brief", "-CAfile", str(certificate.cert),
                           "-verify_ip", address.rsplit(":", 1)[0]],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    fields = dict(re.findall(r"^([A-Za-z ]+): (.*)$", done.stdout + done.stderr, re.MULTILINE))
    if "Protocol version" not in fields:
        return "no handshake: " + (done.stdout + done.stderr).strip().replace("\n", " ")[:200]
    group = fields.get("Server Temp Key", "").split(",")[0]
    parts = [fields["Protocol version"], fields.get("Ciphersuite", "?"), group, fields.get("Signature type", "")]
    if fields.get("Verification") != "OK":
        parts.append(f"verification: {fields.get('Verification error', 'not done')}")
    return ", ".join(part for part in parts if part)


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
        scheme = "https" if cell.row.tls else "http"
        url = f"{scheme}://" + cell.target.split("://", 1)[1] + "/"
        seconds = max(1, round(SECONDS))  # wrk takes whole seconds
        headers = [argument for header in cell.row.wrk_headers for argument in ("-H", header)]
        out = registry.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *headers, url],
                           timeout=bound)
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
        if cell.row.tls:
            cell.certificate = run_certificate()
        log = tmp / "server.log"
        command = cell.server.start(cell, tmp)
        process = registry.start(command, log, preexec=raise_nofile)
        try:
            deadline = time.monotonic() + 15
            while not answers(cell.target, cell.row.plugin, cell.certificate):
                if process.poll() is not None:
                    return {"na": f"server exited with status {process.returncode}: {last_log_line(log)}"}
                if time.monotonic() > deadline:
                    return {"na": f"server not answering after 15 s: {last_log_line(log)}"}
                time.sleep(0.05)
            time.sleep(0.2)  # every worker of a supervisor may not be serving yet
            if cell.row.driver == "idle":
                return run_idle(cell, process)
            tls = negotiated(cell.target, cell.certificate) if cell.certificate else None  # before the CPU count
            cpu_before = tree_cpu_seconds(process.pid)
            result = run_load(cell)
            cpu_after = tree_cpu_seconds(process.pid)
            if tls:
                result["tls"] = tls
            if process.poll() is not None:
                result["note"] = f"server exited during the run: {last_log_line(log)}"
            if result.get("requests"):
                result["cpu_us_per_request"] = (cpu_after - cpu_before) * 1e6 / result["requests"]
            return result
        finally:
            registry.stop(process)


def run_row(row: Row) -> dict[str, dict]:
    """Every server's cell BENCH_REPEAT times, round-robin over the servers and in the
    reverse order every other round (A B C, C B A, ...), so that drift on a noisy machine
    falls on all of them alike. Per server, the run with the median req/s stands for it,
    with the median of its runs' CPU per request."""
    rounds = REPEAT if row.driver != "idle" else 1
    runs: dict[str, list[dict]] = {server.key: [] for server in row.servers}
    failed: dict[str, dict] = {}
    for round_number in range(1, rounds + 1):
        for server in row.servers if round_number % 2 == 1 else list(reversed(row.servers)):
            if server.key in failed:
                continue  # a mode the binary lacks fails the same way every time
            of_rounds = f" (run {round_number} of {rounds})" if rounds > 1 else ""
            print(f"  {row.id}: {server.label} ...{of_rounds}", flush=True)
            try:
                result = run_cell(Cell(row, server, ""))
            except (subprocess.TimeoutExpired, subprocess.CalledProcessError, json.JSONDecodeError, OSError) as error:
                result = {"na": f"run failed: {error}"}
            if result.get("na"):
                failed[server.key] = result
            else:
                runs[server.key].append(result)
    return {server.key: failed.get(server.key) or median_run(runs[server.key]) for server in row.servers}


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda result: result.get("rps") or 0)
    median = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        median["runs_rps"] = [result.get("rps") for result in ordered]
        cpu = sorted(result["cpu_us_per_request"] for result in runs if result.get("cpu_us_per_request") is not None)
        if cpu:
            median["cpu_us_per_request"] = cpu[len(cpu) // 2]
            median["runs_cpu_us_per_request"] = cpu
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
