# Thin wrapper: the real build is CMake. Every target installs what is missing first.
BUILD_DIR      ?= build
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
CONFIG         ?= examples/sockhost.json
JOBS           ?= $(shell nproc)

.PHONY: deps configure build run test test-release test-asan test-tsan clean

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

# The whole suite: a release build, then ASan+UBSan, then TSan.
test: test-release test-asan test-tsan

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

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR)
