package ua

import (
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// The names of the layers beneath that a host needs to configure a UA,
// re-exported so that ua and sip suffice for a host program.

// Network names a SIP transport, as in ListenConfig.Network and
// LineConfig.Transport.
type Network = transport.Network

// The transports.
const (
	UDP = transport.UDP
	TCP = transport.TCP
	TLS = transport.TLS
	WS  = transport.WS
	WSS = transport.WSS
)

// TransportConfig configures the transport layer (Config.Transport).
type TransportConfig = transport.Config

// TransactionConfig configures the transaction layer
// (Config.Transaction).
type TransactionConfig = transaction.Config

// Timers are RFC 3261's T1, T2 and T4, as in Config.Transaction.Timers;
// zero fields take the RFC's defaults (500 ms, 4 s, 5 s).
type Timers = transaction.Timers

// StaticResolver is a Resolver from a fixed table of names to targets,
// for tests and closed networks (see Config.Resolver).
type StaticResolver = transport.StaticResolver

// Tracer sees every SIP message the UA sends and receives
// (Config.Transport.Tracer).
type Tracer = transport.Tracer

// TraceEvent is one message as a Tracer sees it.
type TraceEvent = transport.TraceEvent

// Resolver turns a URI into the targets to try (RFC 3263), as in
// Config.Resolver.
type Resolver = transport.Resolver
