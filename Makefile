# Dialtone build and test targets. `make test` is the one command that runs
# every check CI runs (see .ci/run and README.md).
GO         ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
PKGS       := ./...

.PHONY: test vet lint unit fuzz-short bench tools

test: vet lint unit

vet:
	$(GO) vet $(PKGS)

lint: tools
	$(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -shuffle=on -count=1 $(PKGS)

# Each fuzz target for a short while; run them for minutes when the parser changes.
FUZZTIME ?= 30s
fuzz-short:
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

tools:
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
