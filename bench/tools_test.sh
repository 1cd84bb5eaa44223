#!/usr/bin/env bash
# The benchmark tools against each other over real sockets: every reference server
# answers the load generator correctly in every mode (no timing is checked), and the
# reload soak's handoff case runs in a tiny form without losing a connection. Run by CTest
# (label bench) with the tools' directory as $1.
set -euo pipefail
bin=$1
dir=$(mktemp -d /tmp/sockhost-bench-tools.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
              echo $((20000 + RANDOM % 20000)); }
start() { "$@" & pids+=($!); }
wait_for_path() { for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.05; done; echo "no socket $1" >&2; return 1; }

# check LABEL JSON FIELD EXPECTED: the load generator's totals have FIELD == EXPECTED.
check() {
  local totals=${2%%\"phases\"*} value
  value=$(sed -E "s/.*\"$3\": ([0-9]+).*/\1/" <<<"$totals")
  if [[ "$value" != "$4" ]]; then echo "FAIL $1: $3 is $value, expected $4: $2" >&2; exit 1; fi
}
# served LABEL JSON: some requests answered, none failed.
served() {
  check "$1" "$2" error_total 0
  if [[ "${2%%\"phases\"*}" =~ \"requests\":\ 0, ]]; then echo "FAIL $1: no request answered: $2" >&2; exit 1; fi
  echo "ok $1"
}

tcp_port=$(free_port)
http_port=$(free_port)
start "$bin/epoll_echo" "unix:$dir/echo.sock"
start "$bin/epoll_echo" "tcp://127.0.0.1:$tcp_port"
start "$bin/dgram_echo" "unix-dgram:$dir/echo-dgram.sock"
start "$bin/epoll_http" "tcp://127.0.0.1:$http_port"
wait_for_path "$dir/echo.sock"
wait_for_path "$dir/echo-dgram.sock"
sleep 0.2

served "unix stream echo" "$("$bin/loadgen" --target "unix:$dir/echo.sock" --duration 0.5)"
served "tcp echo" "$("$bin/loadgen" --target "tcp://127.0.0.1:$tcp_port" --duration 0.5)"
served "connect per request" "$("$bin/loadgen" --target "tcp://127.0.0.1:$tcp_port" --mode connect --sources 2 --duration 0.5)"
# More clients than a Unix datagram socket queues by default (10).
served "unix datagram echo" "$("$bin/loadgen" --target "unix-dgram:$dir/echo-dgram.sock" --connections 50 --duration 0.5)"
idle=$("$bin/loadgen" --target "tcp://127.0.0.1:$http_port" --mode idle --http --connections 300 --duration 0.2)
check "idle connections" "$(tail -n1 <<<"$idle")" held 300
check "idle connections" "$(tail -n1 <<<"$idle")" answered_after_hold 300
echo "ok idle connections"

# Nothing listens: every attempt is counted as refused, none as answered.
refused=$("$bin/loadgen" --target "unix:$dir/nothing.sock" --connections 2 --duration 0.2)
check "refused" "$refused" requests 0
if [[ ! "${refused%%\"phases\"*}" =~ \"refused\":\ [1-9] ]]; then echo "FAIL refused: $refused" >&2; exit 1; fi
echo "ok refused"

# The reload soak's handoff case in a tiny form, on the sockhost and http plugin of this
# build tree: idle and persistent active keep-alive clients across 3 reloads. Fails when a
# connection is lost, a request fails or a reload fails (needs http's handoff opt-in).
handoff=$(RELOAD_CASES=handoff RELOAD_IDLE_CONNECTIONS=50 RELOAD_ACTIVE_CLIENTS=2 HANDOFF_RELOADS=3 \
          HANDOFF_STEADY_SECONDS=0.5 BENCH_BUILD_DIR="$bin/.." \
          python3 "$(dirname "$0")/reload_soak.py" --no-docs --check 2>&1) ||
  { echo "FAIL reload handoff: $handoff" >&2; exit 1; }
echo "ok reload handoff"
