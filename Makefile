# The project's commands. `make test` is the one test command, locally and
# in CI (.ci/run): tests that need Redis get a throwaway one from
# .ci/with-redis unless BRIDGE_TEST_REDIS_ADDR names one already, and the
# cluster tests a throwaway 3+3 Redis Cluster from .ci/with-cluster unless
# BRIDGE_TEST_REDIS_CLUSTER names one, and the e-mail tests a throwaway
# Dovecot IMAP server from .ci/with-dovecot unless BRIDGE_TEST_IMAP_ADDR
# names one.

GO ?= go
WITH_REDIS := .ci/with-redis
WITH_CLUSTER := .ci/with-cluster
WITH_DOVECOT := .ci/with-dovecot
BIN ?= bin/bridge

.PHONY: test bench build demo lint fuzz chaos

# vet first: it fails in seconds, before the slower race-enabled tests.
# The end-to-end packages (cmd/bridge, cmd/bench) take 6 to 9 minutes on
# two shared cores: go test's 10-minute bound per package is too close.
test:
	$(WITH_REDIS) $(WITH_CLUSTER) $(WITH_DOVECOT) sh -c '$(GO) vet ./... && $(GO) test -race -count=1 -timeout 25m ./...'

# Each fuzz target runs for FUZZTIME; their seed corpora (testdata/fuzz)
# also run as ordinary tests in `make test`. A failing input is written to
# the package's testdata/fuzz: commit it with the fix.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./bridge/events:FuzzReceive \
	./connectors/gorgias:FuzzParseWebhook \
	./connectors/zendesk:FuzzParseWebhook \
	./widgets:FuzzHelpScoutSignature \
	./widgets:FuzzParseCommand \
	./discussions:FuzzFileToken \
	./discussions:FuzzPlainText \
	./connectors/email/mailparse:FuzzParse

fuzz:
	$(WITH_REDIS) sh -c 'set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run "^$$" -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done'

# The chaos test's long form: CHAOS_RUNS runs of CHAOS_DURATION of
# workload each, three bridges and a Redis master killed along the way
# (`make test` runs one short run). Each run prints its figures: sent,
# delivered, duplicated and lost, per kind of work.
CHAOS_RUNS ?= 10
CHAOS_DURATION ?= 3m
chaos:
	$(WITH_REDIS) sh -c 'BRIDGE_CHAOS_RUNS=$(CHAOS_RUNS) BRIDGE_CHAOS_DURATION=$(CHAOS_DURATION) \
		$(GO) test -race -count=1 -timeout 0 -run "^TestChaos$$" -v ./cmd/bridge'

# The e-mail phases read mail from the throwaway Dovecot, as the tests do.
bench:
	$(WITH_REDIS) $(WITH_CLUSTER) $(WITH_DOVECOT) $(GO) run ./cmd/bench $(BENCH_FLAGS)

# The same static build as the Dockerfile's.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN) ./cmd/bridge

demo:
	$(GO) run ./cmd/bridge demo

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
