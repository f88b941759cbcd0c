# Convenience entry points; the build itself is CMake (build/<type>).
#   make demo    install missing packages, build, run the demo on built-in data
#   make check   install missing packages, build, run the test suite
#                (Release, then AddressSanitizer + UBSan, then the server's
#                concurrency test under ThreadSanitizer, then the examples
#                against an installed tree and the Python binding's tests)
#   make bench   build the benchmarks (bench/README.md says how to run them)
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps release debug asan tsan demo check test test-asan test-tsan test-examples test-python bench fuzz fuzz-smoke install clean

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

# The C API as a user gets it: `cmake --install` into build/stage, then the
# examples built with nothing but the installed headers, libraries and
# semid.pc (linked to libsemid.so, and to libsemid.a with --static), and run.
# The installed include tree must hold the public headers alone.
STAGE := $(CURDIR)/build/stage
EXAMPLES := train_and_search embed_quantize_export
STAGE_PC = PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --define-variable=prefix=$(STAGE)

test-examples: release
	rm -rf $(STAGE) build/examples
	cmake --install build/release --prefix $(STAGE) >/dev/null
	cd $(STAGE)/include && find . -type f | sort > $(CURDIR)/build/installed-headers.txt
	cd include && find . -type f -name '*.h' | sort | diff - $(CURDIR)/build/installed-headers.txt
	mkdir -p build/examples
	set -e; for ex in $(EXAMPLES); do \
	  cc -std=c11 -Wall -Wextra -Werror -o build/examples/$$ex examples/$$ex.c $$($(STAGE_PC) --cflags --libs semid); \
	  cc -std=c11 -Wall -Wextra -Werror -o build/examples/$$ex-static examples/$$ex.c \
	    $$($(STAGE_PC) --cflags --libs --static semid | sed 's/-lsemid\b/-l:libsemid.a/'); \
	  if readelf -d build/examples/$$ex-static | grep -q 'libsemid\.so'; then \
	    echo "build/examples/$$ex-static needs libsemid.so: not linked to the archive"; exit 1; fi; \
	done
	cd build/examples && env -u LD_LIBRARY_PATH OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive ./train_and_search work
	cd build/examples && env -u LD_LIBRARY_PATH OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive ./embed_quantize_export-static .
	cd build/examples && env -u LD_LIBRARY_PATH OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive ./embed_quantize_export .
	cd build/examples && env -u LD_LIBRARY_PATH OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive ./train_and_search-static work-static "space adventure"

# The Python binding (python/semid, ctypes over build/release/libsemid.so)
# with Debian's interpreter, numpy and pytest.
test-python: release
	cd python && SEMID_LIBRARY=$(CURDIR)/build/release/libsemid.so OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests

check: test test-asan test-tsan test-examples test-python

bench: deps
	scripts/install-deps.sh --bench
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j $(JOBS) --target bench semid_cli

fuzz: deps
	scripts/install-deps.sh --bench
	CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEMID_FUZZ=ON -DSEMID_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
	cmake --build build/fuzz -j $(JOBS)

# Every harness for FUZZ_SECONDS (default 20) on a copy of its seeds
# (fuzz/corpus/<name>; fuzz_import starts from nothing); fails on a crash,
# a leak, a sanitizer report, an allocation over 2 GB or a failed check,
# printing the log's end and keeping the input (fuzz/README.md).
FUZZ_SECONDS ?= 20
fuzz-smoke: fuzz
	@for f in build/fuzz/fuzz_*; do \
	  [ -f "$$f" ] && [ -x "$$f" ] || continue; \
	  name=$${f#build/fuzz/fuzz_}; dir=$$(mktemp -d /tmp/semid-fuzz-smoke-$$name-XXXXXX); \
	  if [ -d fuzz/corpus/$$name ]; then cp fuzz/corpus/$$name/* $$dir/; fi; \
	  echo "fuzz-smoke: $$name, $(FUZZ_SECONDS) s"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=2048 -artifact_prefix=$$dir/ \
	      $$dir > $$dir.log 2>&1; then \
	    tail -n 40 $$dir.log; echo "fuzz-smoke: $$name FAILED (log $$dir.log, input in $$dir/)"; exit 1; \
	  fi; \
	  grep -h '^Done ' $$dir.log | tail -n 1; \
	  rm -rf $$dir $$dir.log; \
	done

install: release
	cmake --install build/release

clean:
	rm -rf build
