"""The benchmark suite's settings: where the tools are, and the knobs from the environment
(documented in bench/run.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

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
# The TLS rows give sockhost and nginx the same certificate (ECDSA P-256, made per run) and
# these settings: TLS 1.2 and 1.3, one cipher for each, so both negotiate the same; no
# session tickets and no session cache, so that every new connection is a full handshake.
TLS_MIN_VERSION = "1.2"
TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256"
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256"


def python() -> str:
    # Debian's interpreter when there is one: the peers are "Python from Debian".
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

