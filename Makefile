# The Himetrica server toolkit. `make demo` runs the demo, `make test` runs every test.
SWIFT ?= swift

.PHONY: all build test deps
all: build

deps:
	./.ci/install-deps

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test
