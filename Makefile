# The project's commands. `make test` is the one test command, locally and
# in CI (.ci/run): tests that need Redis get a throwaway one from
# .ci/with-redis unless BRIDGE_TEST_REDIS_ADDR names one already.

GO ?= go
WITH_REDIS := .ci/with-redis
BIN ?= bin/bridge

.PHONY: test bench build demo lint

# vet first: it fails in seconds, before the slower race-enabled tests.
test:
	$(WITH_REDIS) sh -c '$(GO) vet ./... && $(GO) test -race -count=1 ./...'

bench:
	$(WITH_REDIS) $(GO) run ./cmd/bench $(BENCH_FLAGS)

# The same static build as the Dockerfile's.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN) ./cmd/bridge

demo:
	$(GO) run ./cmd/bridge demo

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
