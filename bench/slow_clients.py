#!/usr/bin/env python3
"""Slow clients (slowloris): how long a normal client waits while many connections trickle.

    python3 bench/slow_clients.py

Starts the built sockhost with one threading http listener at its defaults (max_threads
256, the http plugin's header_timeout 10 s), opens TRICKLERS connections (300) that each
send a request head one byte a second and never finish it, waits SETTLE seconds (3) for
them to take every thread, then times one normal request (curl when installed, else a
socket), giving up after CAP seconds (90). Prints the wait.

Environment: TRICKLERS, SETTLE, CAP, BENCH_BUILD_DIR (build).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

BUILD = Path(os.environ.get("BENCH_BUILD_DIR", "build"))
TRICKLERS = int(os.environ.get("TRICKLERS", "300"))
SETTLE = float(os.environ.get("SETTLE", "3"))
CAP = float(os.environ.get("CAP", "90"))
PREFIX = b"GET / HTTP/1.1\r\nX-Slow: "


def start_host(directory: Path, port: int) -> subprocess.Popen:
    plugins = directory / "plugins"
    plugins.mkdir()
    (plugins / "http.so").symlink_to((BUILD / "plugins" / "http.so").resolve())
    config = {"plugin_dir": str(plugins),
              "listeners": [{"listen": f"tcp://127.0.0.1:{port}", "plugin": "http", "mode": "threading"}]}
    (directory / "config.json").write_text(json.dumps(config))
    host = subprocess.Popen([str(BUILD / "bin" / "sockhost"), "--config", str(directory / "config.json")],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return host
        except OSError:
            time.sleep(0.1)
    raise SystemExit("sockhost did not start")


def trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    sent = 0
    while not stop.wait(1.0):
        byte = PREFIX[sent:sent + 1] or b"a"
        sent += 1
        for client in sockets:
            try:
                client.send(byte, socket.MSG_DONTWAIT)
            except OSError:
                pass


def normal_request(port: int) -> tuple[float, str]:
    began = time.monotonic()
    if shutil.which("curl"):
        result = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", str(CAP),
                                 f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
        return time.monotonic() - began, result.stdout or "no answer"
    with socket.create_connection(("127.0.0.1", port), timeout=CAP) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            answer = client.recv(64).decode(errors="replace").split("\r\n")[0]
        except OSError:
            answer = ""
    return time.monotonic() - began, answer or "no answer"


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        host = start_host(Path(directory), port)
        sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(TRICKLERS)]
        stop = threading.Event()
        thread = threading.Thread(target=trickle, args=(sockets, stop))
        thread.start()
        try:
            time.sleep(SETTLE)
            waited, answer = normal_request(port)
            print(f"{TRICKLERS} trickling connections: the normal client waited {waited:.1f} s ({answer})")
        finally:
            stop.set()
            thread.join()
            for client in sockets:
                client.close()
            host.terminate()
            host.wait(timeout=30)


if __name__ == "__main__":
    main()
