# Dialtone build and test targets. `make test` is the one command that runs
# every check CI runs (see .ci/run and README.md).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO          ?= go
PKGS        := ./...
# staticcheck, pinned: 2026.2.2 is the newest release and builds with Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
# testreport reads `go test -json`: package lines with coverage, failed
# tests' output, progress, and a summary of what ran and what skipped.
REPORT      := bin/testreport
# The programs the interop tests drive; when all are installed, the interop
# suite may skip nothing.
PEER_PROGRAMS := sipp kamailio kamcmd baresip tshark sox
# go test's own limit on one test binary (its default is 10m). The interop
# suite takes about 10 minutes on 2 busy cores; the limit leaves room for a
# slow machine while .ci/run's 30 minutes still hold.
UNIT_TIMEOUT    ?= 15m
INTEROP_TIMEOUT ?= 20m
# The interop tests marked parallel wait on real peers and timers far more
# than they compute: four at a time on two cores (go test's default is
# GOMAXPROCS, two) keeps the suite well inside its timeout.
INTEROP_PARALLEL ?= 4

# The Opus tests (build tag opus, cgo over libopus): the packages they are
# in. OPUS_TAG is ",opus" when libopus (Debian libopus-dev) is installed;
# under CI=true a missing libopus fails the run instead of leaving Opus out.
OPUS_PKGS := ./rtp/opus ./rtp ./ua ./examples/internal/cli
OPUS_TAG  := $(shell pkg-config --exists opus 2>/dev/null && echo ,opus)
NEED_OPUS  = @if [ -z "$(OPUS_TAG)" ]; then \
	if [ "$$CI" = true ]; then echo "opus: libopus (libopus-dev) is not installed; make peers" >&2; exit 1; fi; \
	echo "opus: libopus not installed (make peers): the Opus tests do not run"; fi

.PHONY: test vet lint unit interop fuzz-short fuzz-long bench tools peers peers-if-root $(REPORT)

test: peers-if-root vet lint unit interop

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags interop ./internal/interop/...
	$(GO) vet -tags interop,natidle ./internal/interop/...
	$(NEED_OPUS)
	$(if $(OPUS_TAG),$(GO) vet -tags opus $(PKGS))
	$(if $(OPUS_TAG),$(GO) vet -tags interop$(OPUS_TAG) ./internal/interop/...)

lint: tools
	$(STATICCHECK) $(PKGS)
	$(STATICCHECK) -tags interop ./internal/interop/...
	$(STATICCHECK) -tags interop,natidle ./internal/interop/...
	$(if $(OPUS_TAG),$(STATICCHECK) -tags opus $(PKGS))
	$(if $(OPUS_TAG),$(STATICCHECK) -tags interop$(OPUS_TAG) ./internal/interop/...)

# Every package, race detector on, test order shuffled; prints each
# package's coverage and, at the end, how many RFC 4475/5118 torture cases
# ran and every skipped test with its reason.
unit: $(REPORT)
	$(GO) test -race -shuffle=on -count=1 -timeout $(UNIT_TIMEOUT) -cover -json $(PKGS) | $(REPORT) -title unit -count TestTorture
	$(NEED_OPUS)
	$(if $(OPUS_TAG),$(GO) test -race -shuffle=on -count=1 -timeout $(UNIT_TIMEOUT) -tags opus -json $(OPUS_PKGS) | $(REPORT) -title unit-opus)

# Tests against real peers (SIPp, Kamailio, baresip) on loopback; under
# CI=true a missing peer fails the run instead of skipping. Prints each test
# as it ends, then a summary; fails when anything skipped while every peer
# is installed.
interop: $(REPORT)
	@flags="-progress -title interop"; missing=""; \
	for p in $(PEER_PROGRAMS); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then flags="$$flags -fail-on-skip"; \
	else echo "interop: not installed:$$missing (make peers); their tests skip, or fail under CI=true"; fi; \
	if [ -z "$(OPUS_TAG)" ] && [ "$$CI" = true ]; then echo "interop: libopus (libopus-dev) is not installed" >&2; exit 1; fi; \
	echo "$(GO) test -race -count=1 -timeout $(INTEROP_TIMEOUT) -parallel $(INTEROP_PARALLEL) -tags interop$(OPUS_TAG) -json ./internal/interop | $(REPORT) $$flags"; \
	$(GO) test -race -count=1 -timeout $(INTEROP_TIMEOUT) -parallel $(INTEROP_PARALLEL) -tags interop$(OPUS_TAG) -json ./internal/interop | $(REPORT) $$flags

$(REPORT):
	$(GO) build -o $(REPORT) ./internal/testreport

# Installs the peers the interop tests need (Debian packages; needs root).
peers:
	./scripts/install-peers.sh

# `make test` installs the peers itself when it runs as root.
peers-if-root:
	@if [ "$$(id -u)" = 0 ]; then ./scripts/install-peers.sh; \
	else echo "not root: peers not installed by make test (run make peers as root)"; fi

# Each fuzz target for a short while; run them for minutes when the parser changes.
FUZZTIME ?= 30s
fuzz-short:
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzServeSIP$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzParseUser$$' -fuzztime $(FUZZTIME)

# Every fuzz target in the tree (found by scripts/fuzz-long.sh), 30 minutes
# each unless FUZZTIME is given (make fuzz-long FUZZTIME=30s). A crasher
# lands in the package's testdata/fuzz/: commit it as a regression test.
fuzz-long:
	FUZZTIME=$(if $(filter command line environment,$(origin FUZZTIME)),$(FUZZTIME),30m) GO=$(GO) ./scripts/fuzz-long.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Installs staticcheck at the pinned version unless that version is there.
tools:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || \
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
