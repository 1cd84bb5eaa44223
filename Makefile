# Thin wrapper: the real build is CMake. Every target installs what is missing first.
BUILD_DIR      ?= build
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
FUZZ_BUILD_DIR ?= build-fuzz
CONFIG         ?= examples/sockhost.json
JOBS           ?= $(shell nproc)

.PHONY: deps configure build run install test test-release test-asan test-tsan test-fuzz bench bench-tools bench-reload clean

deps:
	@scripts/install-deps

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only what serving needs: the executable and the bundled plugins (and the tour's clients).
run: configure
	@scripts/install-deps --tour
	cmake --build $(BUILD_DIR) -j $(JOBS) --target sockhost echo http daytime kv
	$(BUILD_DIR)/bin/sockhost --config $(CONFIG)

# The binary, the bundled plugins, the SDK, the systemd unit, a config (kept if one is
# there) and the docs, to PREFIX (/usr/local); DESTDIR stages it, as for a package.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The whole suite: a release build, then ASan+UBSan, then TSan, then the fuzz targets.
test: test-release test-asan test-tsan test-fuzz

test-release: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOCKHOST_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j $(JOBS)

test-tsan: deps
	cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOCKHOST_SANITIZE=thread
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(TSAN_BUILD_DIR) --output-on-failure -j $(JOBS)

# The parsers of untrusted bytes under libFuzzer with ASan+UBSan (tests/fuzz): a tree of
# their own, built with clang; each target runs for FUZZ_SECONDS from its seed corpus.
FUZZ_SECONDS ?= 12
test-fuzz:
	@scripts/install-deps --fuzz
	CC=clang-19 CXX=clang++-19 cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSOCKHOST_SANITIZE=address,undefined -DSOCKHOST_BUILD_FUZZERS=ON -DSOCKHOST_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD_DIR) --output-on-failure -j $(JOBS)

# The benchmark suite (docs/benchmarks.md): sockhost against nginx, Python and reference
# servers on loopback. Installs wrk, nginx, Python and Google Benchmark first, then
# configures (so Google Benchmark is found), builds the release tree's tools and runs.
# BENCH_SECONDS (per cell, default 5) and BENCH_ROWS (e.g. http,tcp) narrow a run.
bench: bench-tools
	BENCH_BUILD_DIR=$(BUILD_DIR) python3 bench/run.py

# The reload soak: 250 reloads under load on tcp, udp, unix and unix-dgram; then its
# handoff case: 10,000 idle and 8 active keep-alive http clients across 100 reloads.
bench-reload: bench-tools
	BENCH_BUILD_DIR=$(BUILD_DIR) python3 bench/reload_soak.py

bench-tools:
	@scripts/install-deps --bench
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKHOST_BUILD_BENCH=ON
	cmake --build $(BUILD_DIR) -j $(JOBS) --target bench_tools

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
