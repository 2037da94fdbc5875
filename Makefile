SHELL     := /bin/bash
# Every target works on a fresh machine with Go: the targets that need Redis
# (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) depend on `services`, which
# starts them, installing them first if need be, unless they already answer.
GO        ?= go
PKGS      := ./...
BIN       := bin/tokengate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Each fuzz target as package:Target:executions; `go test -fuzz` takes one
# target in one package. Budgets are counts, about five seconds each here,
# because a duration-based -fuzztime can fail with a spurious "context
# deadline exceeded" on a loaded machine (golang/go#75804, fixed in Go 1.27).
FUZZ      := ./extproc/sse:FuzzDecoderSplit:60000 \
             ./extproc/contentcoding:FuzzRoundTrip:20000 \
             ./extproc/contentcoding:FuzzGarbage:60000 \
             ./extproc/openai:FuzzParseRequest:30000 \
             ./extproc:FuzzRewrite:25000 \
             ./extproc/openai:FuzzScanChunk:60000 \
             ./extproc/tokens:FuzzBound:15000 \
             ./quota/memledger:FuzzCorrectEqualsTimelyDebit:200000 \
             ./quota/redisledger:FuzzKeys:50000 \
             ./quota/redisledger:FuzzParseURL:60000

.PHONY: build run dev services test unit fuzz bench lint fmt-check tidy-check

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tokengate

run: build
	./$(BIN) serve

dev: build
	./$(BIN) dev

## services: make Redis and PostgreSQL reachable on loopback; .ci/run calls the same script.
services:
	@.ci/services

## test: what CI runs: formatting, vet, staticcheck, race tests on real Redis, short fuzzing.
test: services lint unit fuzz

unit: services
	$(GO) test -race -count=1 $(PKGS)

fuzz:
	@set -e; for f in $(FUZZ); do \
		IFS=: read -r pkg target runs <<< "$$f"; \
		echo "fuzz $$target in $$pkg for $$runs executions"; \
		$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$${runs}x $$pkg; \
	done

bench: services
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

lint: fmt-check tidy-check
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy-check:
	@cp go.mod /tmp/tokengate.go.mod.bak; cp go.sum /tmp/tokengate.go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/tokengate.go.mod.bak || ! cmp -s go.sum /tmp/tokengate.go.sum.bak; then \
		echo "go mod tidy changed go.mod/go.sum; run it and commit"; \
		cp /tmp/tokengate.go.mod.bak go.mod; cp /tmp/tokengate.go.sum.bak go.sum; exit 1; fi
