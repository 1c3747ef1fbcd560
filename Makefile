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

.PHONY: all deps build devserver lib header check-header test test-swift test-c test-node node bench-node test-python python-wheel bench-python demo bench bench-full bench-smoke install clean

all: lib

deps:
	./.ci/install-deps

build: deps
	$(SWIFT) build

# The C library, self-contained: the Swift runtime linked in statically, only hm_* exported.
lib: deps
	$(SWIFT) build -c release --product HimetricaC -Xswiftc -static-stdlib \
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

test: deps test-swift test-c test-node test-python bench-smoke
	@echo "all test suites passed"

test-swift: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The dev server the C, Node and Python tests talk to.
devserver:
	$(SWIFT) build --product himetrica-devserver

test-c: check-header devserver
	$(MAKE) -C Tests/c run LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# The Node binding: bindings/node/build/himetrica.node (+ a copy of libhimetrica.so, RUNPATH $$ORIGIN).
node: lib
	$(MAKE) -C bindings/node LIBDIR=$(CURDIR)/$(BUILD)/lib INCDIR=$(CURDIR)/include

# Its tests run against the dev server (.build/debug/himetrica-devserver, or $$HIMETRICA_DEVSERVER).
test-node: node
	$(SWIFT) build --product himetrica-devserver
	node --test bindings/node/test/

bench-node: node
	$(SWIFT) build --product himetrica-devserver
	node bindings/node/bench/node_track.js

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
test-python: lib python-wheel
	$(SWIFT) build --product himetrica-devserver
	$(PYTHON) -m pip install -q --disable-pip-version-check pytest flask gunicorn uvicorn starlette
	cd bindings/python && HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) \
	  HIMETRICA_DEVSERVER=$(CURDIR)/.build/debug/himetrica-devserver \
	  HIMETRICA_WHEEL_DIR=$(CURDIR)/bindings/python/dist \
	  timeout 900 $(PYTHON) -m pytest -q -p no:cacheprovider tests

bench-python: lib
	$(SWIFT) build --product himetrica-devserver
	-$(PYTHON) -m pip install -q --disable-pip-version-check posthog segment-analytics-python
	HIMETRICA_LIBRARY=$(CURDIR)/$(LIB) HIMETRICA_DEVSERVER=$(CURDIR)/.build/debug/himetrica-devserver \
	  PYTHONPATH=$(CURDIR)/bindings/python/src timeout 600 $(PYTHON) bench/python_track.py

demo: lib
	$(SWIFT) build --product himetrica-devserver --product himetrica
	./scripts/demo.sh

# One bounded suite (a few minutes): every figure of issue 7 with its reference, ratio and target.
bench: lib node
	./bench/run.sh

# The same, with delivery at 100 ms latency under the real default limit (1000/min, 2 minutes).
bench-full: lib node
	BENCH_FULL=1 ./bench/run.sh

# Every benchmark with tiny counts (well under a minute): keeps them runnable; not a timing.
bench-smoke: lib node
	BENCH_SMOKE=1 ./bench/run.sh

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libhimetrica.so
	install -m 0644 include/himetrica.h $(DESTDIR)$(PREFIX)/include/himetrica.h
	sed -e 's|@PREFIX@|$(PREFIX)|' scripts/himetrica.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/himetrica.pc

clean:
	rm -rf $(BUILD) .build
