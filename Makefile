# Makefile — the two commands of the README, and the builds behind them.
#   make run     installs what is missing, builds, runs vactord on
#                127.0.0.1:3500 with its state in ./vactor-data (Ctrl-C stops)
#   make test    installs what is missing, builds release + sanitizer builds,
#                runs every test in each
# Other targets: build, test-release, test-asan, test-tsan, bench, fuzz,
# clean.
JOBS ?= $(shell nproc)

.PHONY: all deps build run example test test-release test-asan test-tsan bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	./build/release/vactord --listen 127.0.0.1:3500 --data vactor-data

example: build
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

# libFuzzer targets (clang 14): a minute on the time-format parser, a
# minute on request handling (HTTP server and routes, over loopback), a
# minute on the assistant's and the Task API's own parsers.
fuzz: deps
	@CC=clang cmake -S . -B build/fuzz -DVA_FUZZ=ON -DVA_WERROR=OFF >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_timefmt fuzz_http fuzz_assistant
	mkdir -p build/fuzz/corpus build/fuzz/http-corpus build/fuzz/assistant-corpus
	build/fuzz/tests/fuzz_timefmt -max_total_time=60 -max_len=64 \
	  build/fuzz/corpus tests/fuzz/timefmt-corpus
	build/fuzz/tests/fuzz_http -max_total_time=60 -max_len=2048 -detect_leaks=0 \
	  build/fuzz/http-corpus tests/fuzz/http-corpus
	build/fuzz/tests/fuzz_assistant -max_total_time=60 -max_len=1200 \
	  build/fuzz/assistant-corpus tests/fuzz/assistant-corpus

clean:
	rm -rf build
