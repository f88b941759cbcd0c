# Convenience entry points; the build itself is CMake (build/<type>).
#   make demo    install missing packages, build, run the demo on built-in data
#   make check   install missing packages, build, run the test suite
#                (Release, then AddressSanitizer + UBSan, then the server's
#                concurrency test under ThreadSanitizer)
#   make bench   build the benchmarks (bench/README.md says how to run them)
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps release debug asan tsan demo check test test-asan test-tsan bench fuzz install clean

all: release

deps:
	@scripts/install-deps.sh

release: deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build/release -j $(JOBS)

debug: deps
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/debug -j $(JOBS)

asan: deps
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSEMID_SANITIZE=ON >/dev/null
	cmake --build build/asan -j $(JOBS)

# ThreadSanitizer: the server's concurrency test (requests from many
# connections, coalesced decodes, reloads), one OpenMP thread per decode
# (libgomp is not instrumented: its own hand-offs would be reported).
tsan: deps
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEMID_TSAN=ON -DSEMID_NATIVE=OFF >/dev/null
	cmake --build build/tsan -j $(JOBS) --target semid_cli test_serve_http

demo: release
	./build/release/semid demo

test: release
	cd build/release && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

test-tsan: tsan
	cd build/tsan && OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./test_serve_http

check: test test-asan test-tsan

bench: deps
	scripts/install-deps.sh --bench
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS) --target bench semid_cli

fuzz: deps
	scripts/install-deps.sh --bench
	CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEMID_FUZZ=ON -DSEMID_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
	cmake --build build/fuzz -j $(JOBS)

install: release
	cmake --install build/release

clean:
	rm -rf build
