package ua

import "github.com/dialtone/dialtone/transport"

// The names of package transport a host meets with failover (failover.go),
// re-exported as reexport.go and neterrors.go do for the others.

// Target is one place a request can go: a network, an address, and the
// TLS server name (ServerMove.From and To, Line.Server).
type Target = transport.Target

// DeadTargets is the memory of targets that failed (Config.DeadTargets).
type DeadTargets = transport.DeadTargets

// DeadTargetsConfig configures a DeadTargets: how long a failed target is
// skipped (30 s unless a 503's Retry-After says otherwise), how many are
// remembered.
type DeadTargetsConfig = transport.DeadTargetsConfig

// NewDeadTargets returns an empty memory, for a host that shares one among
// UAs (Config.DeadTargets) or with a proxy (proxy.Config.DeadTargets).
func NewDeadTargets(cfg DeadTargetsConfig) *DeadTargets { return transport.NewDeadTargets(cfg) }

// ErrAllTargetsFailed: every target of a request's next hop was tried and
// none took it; the error is a *FailoverError.
var ErrAllTargetsFailed = transport.ErrAllTargetsFailed

type (
	// FailoverError names every target a request tried, over what, and
	// what each gave ("no response from any of 3 targets for
	// example.test: 127.0.0.1:5260 UDP timeout after 4s; …").
	FailoverError = transport.FailoverError
	// TargetAttempt is one target's part of a FailoverError.
	TargetAttempt = transport.TargetAttempt
)
