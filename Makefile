# redkit: `make test` runs the tests against real redis-server processes,
# `make demo` runs the example service. Both install Redis when missing.
GO        ?= go
TESTFLAGS ?= -race -count=1 -timeout 12m
FUZZTIME  ?= 30s

.PHONY: all test demo bench redis vet fuzz cover

all: vet test

redis:
	@bash scripts/ensure-redis.sh

test: redis
	$(GO) test $(TESTFLAGS) ./...

vet:
	$(GO) vet ./...

demo: redis
	$(GO) run ./examples/pizzeria $(ARGS)

bench: redis
	cd bench && $(GO) run . -out RESULTS.md

fuzz:
	$(GO) test ./codec -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./codec -run '^$$' -fuzz FuzzRoundTrip -fuzztime $(FUZZTIME)
