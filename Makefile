# The single entry point: CI (.ci/run) and people call these targets and nothing else.

# The pinned Temporal server needs Go >= 1.26.10; the go command fetches this toolchain through
# the module proxy on first use.
export GOTOOLCHAIN := go1.27.3

GO       ?= go
BIN      := bin/athena
FUZZTIME ?= 15s
# Extra flags for `go test`, e.g. make test TESTFLAGS='-run TestFetch -v'.
TESTFLAGS ?=
# Fuzz targets as package:Func; `go test -fuzz` runs one target at a time.
FUZZ_TARGETS := \
	gateway:FuzzParseExpression \
	gateway:FuzzParseSelection \
	gateway:FuzzParseConditions \
	gateway:FuzzDecodeFetch \
	postgres:FuzzBuildWhere \
	api:FuzzGatewayRoutes

.DEFAULT_GOAL := build
.PHONY: build run services test bench fuzz lint tidy clean

build:
	$(GO) build -o $(BIN) ./cmd/athena

# Flags for `athena dev`, e.g. make run ARGS='-pg-port 55433 -port 4053'.
ARGS ?=

# Gateway, worker, embedded Temporal and a project-local PostgreSQL in .athena/ (see devstack/).
run: build
	./$(BIN) dev $(ARGS)

# Start (or install, when root) PostgreSQL and Redis on loopback for the tests.
services:
	@bash scripts/ensure-services.sh

test: services
	$(GO) test -race -count=1 $(TESTFLAGS) ./...

# athena-bench runs the in-process scenarios, then the cross-process ones: it builds
# cmd/athena and its floor server with go build and runs each as a process of its own,
# reporting CPU time per request (-in-process=false runs that part alone).
bench: services
	$(GO) run ./cmd/athena-bench
	$(GO) test -run=NONE -bench=. -benchtime=2s ./postgres/ ./api/

fuzz: services
	@set -e; for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		echo "fuzz $$fn in ./$$pkg for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) ./$$pkg; \
	done

lint:
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports unformatted files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...

tidy:
	$(GO) mod tidy

# Leaves the dev PostgreSQL cluster and its data alone (.athena/pg, or as root
# /var/lib/athena-dev/<hash> when the postgres user cannot reach .athena/).
clean:
	rm -rf bin/ coverage*
	$(GO) clean -testcache
