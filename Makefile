# Makefile — the two commands of the README, and the builds behind them.
#   make run     installs what is missing, builds, runs vactord on
#                127.0.0.1:3500 with its state in ./vactor-data (Ctrl-C stops)
#   make test    installs what is missing, builds release + sanitizer builds,
#                runs every test in each
#   make install installs libvactor (headers, .a, .so, vactor.pc, the CMake
#                package), vactord and its man page under PREFIX
#                (/usr/local), below DESTDIR if set (staged installs)
# Other targets: build, test-release, test-asan, test-tsan, test-busy (make
# test with every core kept busy by stress-ng), format (clang-format every C
# file), format-check (what CI runs: fails on an unformatted file), bench, fuzz
# (a minute per fuzz target), fuzz-long (FUZZ_SECONDS per target, 10 M+
# executions in all; prints the counts), soak (bench/soak: mixed load and
# kill -9 rounds; SOAK_ARGS=--quick for a minute), clean.
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
# The build's own progress lines ([ 42%] Building ...), without the
# "Entering directory" lines of CMake's recursive makes.
QUIET_MAKE = -- --no-print-directory

.PHONY: all deps build run example install test test-release test-asan test-tsan test-busy \
  format format-check bench fuzz fuzz-long soak clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) $(QUIET_MAKE)

# run and example build only what they run (not the tests or benchmarks).
run: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target vactord $(QUIET_MAKE)
	./build/release/vactord --listen 127.0.0.1:3500 --data vactor-data

example: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target vactor-example $(QUIET_MAKE)
	./build/release/vactor-example

# What is installed is in cmake/install.cmake; cmake --install takes
# DESTDIR from the environment. ldconfig (a real install, as root) makes
# the loader find the new libvactor.so.MAJOR.
install: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target vactor_shared vactor_static vactord \
	  $(QUIET_MAKE)
	DESTDIR="$(DESTDIR)" cmake --install build/release --prefix "$(PREFIX)"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

test-release: build
	ctest --preset release

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS) $(QUIET_MAKE)
	ctest --preset asan

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) $(QUIET_MAKE)
	ctest --preset tsan

test: test-release test-asan test-tsan

test-busy:
	scripts/test-busy.sh

format: deps
	@scripts/format.sh

format-check: deps
	@scripts/format.sh --check

bench: build
	bench/run-inproc

# libFuzzer targets (clang 14): a minute on the time-format parser, a
# minute on request handling (HTTP server and routes, over loopback), a
# minute on the assistant's and the Task API's own parsers, a minute on
# the JWT checks and the key set reader, a minute on the TZif parser (the
# zone files named time zones are read from).
fuzz: deps
	@CC=clang cmake -S . -B build/fuzz -DVA_FUZZ=ON -DVA_WERROR=OFF >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_timefmt fuzz_http fuzz_assistant fuzz_jwt \
	  fuzz_jwks fuzz_tzif
	mkdir -p build/fuzz/corpus build/fuzz/http-corpus build/fuzz/assistant-corpus build/fuzz/jwt-corpus \
	  build/fuzz/jwks-corpus build/fuzz/tzif-corpus
	build/fuzz/tests/fuzz_timefmt -max_total_time=60 -max_len=64 \
	  build/fuzz/corpus tests/fuzz/timefmt-corpus
	build/fuzz/tests/fuzz_http -max_total_time=60 -max_len=2048 -detect_leaks=0 \
	  build/fuzz/http-corpus tests/fuzz/http-corpus
	build/fuzz/tests/fuzz_assistant -max_total_time=60 -max_len=1200 \
	  build/fuzz/assistant-corpus tests/fuzz/assistant-corpus
	build/fuzz/tests/fuzz_jwt -max_total_time=60 -max_len=2048 \
	  build/fuzz/jwt-corpus tests/fuzz/jwt-corpus
	build/fuzz/tests/fuzz_jwks -max_total_time=60 -max_len=4096 \
	  build/fuzz/jwks-corpus tests/fuzz/jwks-corpus
	build/fuzz/tests/fuzz_tzif -max_total_time=60 -max_len=4096 \
	  build/fuzz/tzif-corpus tests/fuzz/tzif-corpus

# Every fuzz target for FUZZ_SECONDS over its corpus in the repository
# (tests/fuzz/<name>-corpus, read only: what libFuzzer finds goes to
# $(FUZZ_DIR)/long-corpus/<name>; crashers to $(FUZZ_DIR)/artifacts/, to be
# copied into the repository's corpus once fixed). Measured on the 2-core
# VM: fuzz_timefmt ~350 k exec/s, fuzz_assistant ~38 k, fuzz_http ~7 k, so
# 120 s each is ~45 M executions in all (10 M at a quarter of that speed).
# A target whose source is not in the tree is skipped, and said so.
FUZZ_SECONDS ?= 120
FUZZ_DIR ?= build/fuzz
FUZZ_TARGETS ?= timefmt http assistant stored frame jwt jwks tzif
fuzz-long: deps
	@CC=clang cmake -S . -B $(FUZZ_DIR) -DVA_FUZZ=ON -DVA_WERROR=OFF >/dev/null
	@total=0; failed=0; mkdir -p $(FUZZ_DIR)/artifacts; \
	for name in $(FUZZ_TARGETS); do \
	  t=fuzz_$$name; \
	  if [ ! -f tests/fuzz/$$t.c ]; then echo "fuzz-long: $$t skipped: tests/fuzz/$$t.c is not in the tree"; continue; fi; \
	  if ! cmake --build $(FUZZ_DIR) --target help 2>/dev/null | grep -w $$t >/dev/null; then echo "fuzz-long: $$t skipped: no CMake target (tests/CMakeLists.txt)"; continue; fi; \
	  cmake --build $(FUZZ_DIR) -j $(JOBS) --target $$t >/dev/null || { echo "fuzz-long: $$t does not build"; failed=1; continue; }; \
	  case $$name in \
	    timefmt) opts="-max_len=64";; \
	    http) opts="-max_len=2048 -detect_leaks=0";; \
	    assistant) opts="-max_len=1200";; \
	    frame) opts="-max_len=4096";; \
	    tzif) opts="-max_len=4096";; \
	    *) opts="";; \
	  esac; \
	  seeds=tests/fuzz/$$name-corpus; [ -d $$seeds ] || seeds=; \
	  mkdir -p $(FUZZ_DIR)/long-corpus/$$name; \
	  $(FUZZ_DIR)/tests/$$t -max_total_time=$(FUZZ_SECONDS) $$opts -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	    $(FUZZ_DIR)/long-corpus/$$name $$seeds >$(FUZZ_DIR)/$$t.log 2>&1; \
	  rc=$$?; \
	  n=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t.log); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_DIR)/$$t.log); \
	  echo "fuzz-long: $$t $${n:-0} executions in $(FUZZ_SECONDS) s ($${rate:-0}/s), exit $$rc"; \
	  total=$$((total + $${n:-0})); \
	  if [ $$rc != 0 ]; then failed=1; echo "fuzz-long: $$t FAILED, see $(FUZZ_DIR)/$$t.log and $(FUZZ_DIR)/artifacts/"; fi; \
	done; \
	echo "fuzz-long: $$total executions in all"; \
	[ $$failed = 0 ]

soak: build
	bench/soak $(SOAK_ARGS)

clean:
	rm -rf build
