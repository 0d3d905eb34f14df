# Dialtone build and test targets. `make test` is the one command that runs
# every check CI runs (see .ci/run and README.md).
GO         ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
PKGS       := ./...

.PHONY: test vet lint unit interop fuzz-short bench tools peers

test: vet lint unit interop

vet:
	$(GO) vet $(PKGS)

lint: tools
	$(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -shuffle=on -count=1 $(PKGS)

# Tests against real peers (SIPp, Kamailio, baresip) on loopback; under
# CI=true a missing peer fails the run instead of skipping.
interop:
	$(GO) test -race -count=1 -tags interop ./internal/interop/...

# Installs the peers the interop tests need (Debian packages; needs root).
peers:
	./scripts/install-peers.sh

# Each fuzz target for a short while; run them for minutes when the parser changes.
FUZZTIME ?= 30s
fuzz-short:
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzServeSIP$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzParseUser$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

tools:
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
