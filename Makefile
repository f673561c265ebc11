# redkit: `make test` runs the tests against real redis-server processes,
# `make demo` runs the example service. Both install Redis when missing.
GO        ?= go
TESTFLAGS ?= -race -count=1 -timeout 12m
FUZZTIME  ?= 30s

.PHONY: all test test-e2e demo bench redis chromium vet fuzz cover

all: vet test

redis:
	@bash scripts/ensure-redis.sh

test: redis
	$(GO) test $(TESTFLAGS) ./...

chromium:
	@bash scripts/ensure-chromium.sh

# The browser test: headless Chromium places an order on the demo's page
# and watches it reach "ready"; the screenshot lands in docs/screenshot.png.
test-e2e: redis chromium
	E2E_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(GO) test -tags e2e -count=1 -timeout 5m -run TestE2E ./examples/pizzeria

vet:
	$(GO) vet ./...

demo: redis
	$(GO) run ./examples/pizzeria $(ARGS)

bench: redis
	cd bench && $(GO) run . -out RESULTS.md

fuzz:
	$(GO) test ./codec -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./codec -run '^$$' -fuzz FuzzRoundTrip -fuzztime $(FUZZTIME)
