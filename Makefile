# Makefile — the two commands of the README, and the builds behind them.
#   make run     installs what is missing, builds, runs the example
#   make test    installs what is missing, builds release + sanitizer builds,
#                runs every test in each
# Other targets: build, asan, tsan, bench, clean.
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-release test-asan test-tsan bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	./build/release/vactor-example

test-release: build
	ctest --preset release

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan

test: test-release test-asan test-tsan

bench: build
	bench/run-inproc

clean:
	rm -rf build
