#!/usr/bin/env bash
# Runs one fuzz target for a bounded time, as a test of the fuzz tree:
#   run_fuzzer.sh TARGET CORPUS DICTIONARY SECONDS ARTIFACT_DIR
# The seed corpus is copied to a temporary directory first, so what the run adds never
# lands in the repository. A crash, a leak, a timeout or an input over the memory limit
# fails the test; libFuzzer then names the input it kept ("Test unit written to PATH"),
# under ARTIFACT_DIR, and this script repeats that path with the command that replays it.
set -euo pipefail
target=$1 corpus=$2 dictionary=$3 seconds=$4 artifacts=$5

work=$(mktemp -d "${TMPDIR:-/tmp}/sockhost-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus/." "$work/"
mkdir -p "$artifacts"

options=(-max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -max_len=16384
         -print_final_stats=1 -artifact_prefix="$artifacts/")
[[ -n "$dictionary" ]] && options+=(-dict="$dictionary")

before=$(find "$artifacts" -type f | sort)
status=0
"$target" "${options[@]}" "$work" || status=$?
if [[ $status -ne 0 ]]; then
  echo "run_fuzzer: $(basename "$target") failed (exit $status); inputs it kept:" >&2
  comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed 's/^/  /' >&2
  echo "run_fuzzer: replay one with: $target PATH" >&2
fi
exit $status
