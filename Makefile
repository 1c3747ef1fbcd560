# The Himetrica server toolkit.
#   make demo    builds, starts the dev server on a free loopback port, sends events to it
#   make test    runs every test (Swift, C, header check)
#   make lib     builds the self-contained libhimetrica.so into build/lib
#   make node    builds the Node addon (bindings/node); make test-node runs its tests
#   make install PREFIX=/usr/local
SWIFT   ?= swift
PREFIX  ?= /usr/local
CC      ?= cc
BUILD   := build
TRIPLE  := $(shell uname -m)-unknown-linux-gnu
LIB     := $(BUILD)/lib/libhimetrica.so
RELEASE := .build/release
SWIFT_HEADER := .build/$(TRIPLE)/release/HimetricaC.build/include/HimetricaC-Swift.h
CWARN   := -Wall -Wextra -Werror -pedantic
# The package traits every build here enables (Package.swift): the middleware, the CLI and the
# dev server. A package that depends on this one gets none of them unless it asks.
SWIFT_TRAITS := --traits Vapor,Hummingbird,CLI,DevServer
SWIFT_BUILD  := $(SWIFT) build $(SWIFT_TRAITS)
# The dev server binary every test suite, benchmark and script talks to, and the CLI.
DEVSERVER := .build/debug/himetrica-devserver
CLI_BIN   := .build/debug/himetrica

.PHONY: all deps build devserver cli test-consumer lib header check-header test test-swift test-c test-node node bench-node test-python python-wheel bench-python demo bench bench-full bench-smoke install clean \
  soak test-soak-short fuzz fuzz-short test-sanitizers test-sanitizers-swift test-sanitizers-c lib-asan scan-secrets

all: lib

deps:
	./.ci/install-deps

build: deps
	$(SWIFT_BUILD)

# The C library, self-contained: the Swift runtime linked in statically, only hm_* exported.
lib: deps
	$(SWIFT_BUILD) -c release --product HimetricaC -Xswiftc -static-stdlib \
	  -Xlinker --version-script=$(CURDIR)/scripts/exports.map -Xlinker -soname=libhimetrica.so
	mkdir -p $(BUILD)/lib $(BUILD)/include $(BUILD)/lib/pkgconfig
	cp $(RELEASE)/libHimetricaC.so $(LIB)
	strip --strip-unneeded $(LIB)
	cp include/himetrica.h $(BUILD)/include/
	sed -e 's|@PREFIX@|$(CURDIR)/$(BUILD)|' scripts/himetrica.pc.in > $(BUILD)/lib/pkgconfig/himetrica.pc

header: lib
	python3 scripts/make-header.py $(SWIFT_HEADER) Sources/HimetricaCTypes/include/himetrica_types.h include/himetrica.h

# Fails when include/himetrica.h is not what the Swift sources generate.
check-header: lib
	python3 scripts/make-header.py $(SWIFT_HEADER) Sources/HimetricaCTypes/include/himetrica_types.h $(BUILD)/himetrica.h.fresh
	@diff -u include/himetrica.h $(BUILD)/himetrica.h.fresh || \
	  (echo "include/himetrica.h is stale: run 'make header' and commit it" >&2; exit 1)
	for std in "gcc -x c -std=c99" "g++ -x c++ -std=c++11" "clang -x c -std=c99" "clang++ -x c++ -std=c++11"; do \
	  echo '#include "himetrica.h"' | $$std $(CWARN) -Iinclude -fsyntax-only - || exit 1; \
	done
	@echo "header: up to date; compiles as C99 and C++ with $(CWARN)"

# Every suite runs through scripts/run-logged.sh: its output is kept in $(LOGS) (and timed in
# $(LOGS)/times.txt), and scan-secrets then fails if a test key appears in any of it.
LOGS := $(BUILD)/test-logs
LOGGED = scripts/run-logged.sh $(LOGS)
test: deps
	rm -rf $(LOGS)
	$(LOGGED) swift $(MAKE) --no-print-directory test-swift
	$(LOGGED) c $(MAKE) --no-print-directory test-c
	$(LOGGED) node $(MAKE) --no-print-directory test-node
	$(LOGGED) python $(MAKE) --no-print-directory test-python
	$(LOGGED) soak-short $(MAKE) --no-print-directory test-soak-short
	$(LOGGED) fuzz-short $(MAKE) --no-print-directory fuzz-short
	$(LOGGED) bench-smoke $(MAKE) --no-print-directory bench-smoke
	$(LOGGED) consumer $(MAKE) --no-print-directory test-consumer
	scripts/scan-secrets.sh $(LOGS)
	@cat $(LOGS)/times.txt
	@echo "all test suites passed"

test-swift: deps
	$(SWIFT_BUILD) --build-tests
	timeout 900 $(SWIFT) test $(SWIFT_TRAITS) --skip-build

# A package outside the repository that depends on it by path and uses `Himetrica` alone: it
# must resolve neither Vapor nor Hummingbird nor ArgumentParser, and deliver an event.
test-consumer: devserver
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) timeout 900 Tests/consumer/run.sh

# The dev server the C, Node and Python tests talk to ($(DEVSERVER)), and the CLI.
devserver: deps
	$(SWIFT_BUILD) --product himetrica-devserver

cli: deps
	$(SWIFT_BUILD) --product himetrica

test-c: check-header devserver
	$(MAKE) -C Tests/c run LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# The Node binding: bindings/node/build/himetrica.node (+ a copy of libhimetrica.so, RUNPATH $$ORIGIN).
node: lib
	$(MAKE) -C bindings/node LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# Its tests run against the dev server ($(DEVSERVER)).
test-node: node devserver
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) node --test bindings/node/test/

bench-node: node devserver
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) node bindings/node/bench/node_track.js

# The Python package as a platform-tagged wheel carrying libhimetrica.so (bindings/python/dist).
PYTHON  ?= python3
python-wheel: lib
	$(PYTHON) -m pip install -q --disable-pip-version-check wheel setuptools
	rm -rf bindings/python/build bindings/python/dist
	HIMETRICA_WHEEL_LIBRARY=$(CURDIR)/$(LIB) $(PYTHON) -m pip wheel -q --no-deps --no-build-isolation \
	  -w bindings/python/dist bindings/python
	rm -rf bindings/python/build
	@ls bindings/python/dist/*.whl

# Python tests over loopback against the dev server (bounded; see bindings/python/tests).
test-python: lib python-wheel devserver
	$(PYTHON) -m pip install -q --disable-pip-version-check pytest flask gunicorn uvicorn starlette
	cd bindings/python && HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) \
	  HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) \
	  HIMETRICA_WHEEL_DIR=$(CURDIR)/bindings/python/dist \
	  timeout 900 $(PYTHON) -m pytest -q -p no:cacheprovider tests

bench-python: lib devserver
	-$(PYTHON) -m pip install -q --disable-pip-version-check posthog segment-analytics-python
	HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) \
	  PYTHONPATH=$(CURDIR)/bindings/python/src timeout 600 $(PYTHON) bench/python_track.py

demo: lib devserver cli
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) HIMETRICA_CLI=$(CURDIR)/$(CLI_BIN) ./scripts/demo.sh

# One bounded suite (a few minutes): every figure of issue 7 with its reference, ratio and target.
bench: lib node
	SWIFT_TRAITS="$(SWIFT_TRAITS)" ./bench/run.sh

# The same, with delivery at 100 ms latency under the real default limit (1000/min, 2 minutes).
bench-full: lib node
	SWIFT_TRAITS="$(SWIFT_TRAITS)" BENCH_FULL=1 ./bench/run.sh

# Every benchmark with tiny counts (well under a minute): keeps them runnable; not a timing.
bench-smoke: lib node
	SWIFT_TRAITS="$(SWIFT_TRAITS)" BENCH_SMOKE=1 ./bench/run.sh

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libhimetrica.so
	install -m 0644 include/himetrica.h $(DESTDIR)$(PREFIX)/include/himetrica.h
	sed -e 's|@PREFIX@|$(PREFIX)|' scripts/himetrica.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/himetrica.pc

clean:
	rm -rf $(BUILD) .build

# ---- Reliability and security (Tests/soak, Tests/fuzz, Tests/sanitizers, Tests/c) ----

SOAK_LOAD := $(BUILD)/soak_load
$(SOAK_LOAD): Tests/soak/soak_load.c Tests/c/procstatus.h include/himetrica.h
	$(CC) -std=c11 -O2 $(CWARN) -Wno-pedantic -Iinclude -ITests/c Tests/soak/soak_load.c -L$(BUILD)/lib -lhimetrica -lpthread \
	  -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@

# The fault soak: 100,000 events from 4 threads under 20% 503, 5% 429, 2% drops, 0-20 ms
# latency and two 5 s outages; at most ~5 minutes. The report: $(BUILD)/soak-report.txt.
soak: lib devserver
	$(MAKE) $(SOAK_LOAD)
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) timeout 400 $(PYTHON) Tests/soak/soak.py --load $(SOAK_LOAD) --report $(BUILD)/soak-report.txt

# Its short form for `make test`: 5,000 events, one 2 s outage, under a minute.
test-soak-short: lib devserver
	$(MAKE) $(SOAK_LOAD)
	HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) timeout 120 $(PYTHON) Tests/soak/soak.py --load $(SOAK_LOAD) --events 5000 --outage-at 2 --outage-seconds 2 \
	  --budget 50 --report $(BUILD)/soak-short-report.txt

# libFuzzer: the rules (Swift) and the C entry points; `fuzz` runs each 5 minutes, `fuzz-short` 15 s.
FUZZ_SECONDS ?= 300
fuzz: lib
	Tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-short: lib
	Tests/fuzz/run.sh 15

# The core's Swift tests under ThreadSanitizer and AddressSanitizer (Tests/sanitizers holds a
# manifest of the core only, so neither build compiles the dev server), and the C tests under
# ASan + UBSan against an ASan build of the library.
SAN_TEST_FILTER := HimetricaRulesTests|HimetricaCoreTests|HimetricaIntegrationTests
test-sanitizers: test-sanitizers-swift test-sanitizers-c

test-sanitizers-swift: devserver cli
	cp -f Package.resolved Tests/sanitizers/Package.resolved 2>/dev/null || true
	for san in thread address; do \
	  scratch=$(CURDIR)/.build-$$san; \
	  $(SWIFT) build --package-path Tests/sanitizers --scratch-path $$scratch --build-tests --sanitize=$$san || exit 1; \
	  HIMETRICA_DEVSERVER=$(CURDIR)/$(DEVSERVER) TSAN_OPTIONS=halt_on_error=1 \
	    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
	    timeout 1200 $(SWIFT) test --package-path Tests/sanitizers --scratch-path $$scratch --skip-build \
	    --sanitize=$$san --filter '$(SAN_TEST_FILTER)' || exit 1; \
	done

# libhimetrica built with -sanitize=address (Swift runtime linked dynamically), for the C tests.
ASAN_LIB := .build-asanlib/release
lib-asan: deps
	$(SWIFT_BUILD) -c release --product HimetricaC --scratch-path .build-asanlib -Xswiftc -sanitize=address
	ln -sf libHimetricaC.so $(ASAN_LIB)/libhimetrica.so

test-sanitizers-c: lib-asan devserver
	ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) -C Tests/c run-sanitized LIBDIR=$(CURDIR)/$(BUILD)/lib SAN_LIBDIR=$(CURDIR)/$(ASAN_LIB) \
	  INCDIR=$(CURDIR)/include SAN_EXTRA_RPATH=-Wl,-rpath,$(dir $(shell which $(SWIFT)))../lib/swift/linux

# Fails when a secret key the tests use appears in any test output collected in $(BUILD)/test-logs.
scan-secrets:
	scripts/scan-secrets.sh $(BUILD)/test-logs
