package memnet

import (
	"math"
	"net/netip"
	"time"
)

// Defaults used where a [Config] or [Conditions] field is zero.
const (
	// DefaultMTU is the largest datagram payload delivered when MTU is zero.
	DefaultMTU = 65535
	// DefaultQueueLen is the receive queue of a datagram socket, in
	// datagrams, when QueueLen is zero.
	DefaultQueueLen = 1024
	// DefaultReorderHold is how long a reordered datagram waits for a later
	// datagram to overtake it when ReorderHold is zero.
	DefaultReorderHold = 20 * time.Millisecond
	// DefaultStreamBuffer is the number of bytes one direction of a stream
	// holds (in flight plus unread) before Write blocks, when StreamBuffer is
	// zero. It plays the part of a TCP receive window.
	DefaultStreamBuffer = 64 << 10
	// DefaultBacklog is the number of accepted-but-not-Accepted stream
	// connections a Listener queues before it refuses dials, when Backlog is
	// zero.
	DefaultBacklog = 128
)

// Config configures a [Network]. The zero value is a perfect network: no
// loss, no delay, default limits. Fields that describe the path a datagram
// takes (Loss through MTU) are the network-wide default [Conditions]; they
// can be changed later with [Network.SetConditions] and overridden per link
// with [Network.SetLink].
type Config struct {
	// Seed seeds the pseudo-random source (math/rand/v2 PCG) that decides
	// loss, duplication, reordering and jitter. The same seed and the same
	// sequence of writes give the same outcome.
	Seed int64

	// Loss is the probability that a datagram is dropped.
	Loss float64
	// Refuse is the probability that the sending host refuses a datagram:
	// the write fails with EPERM, as when a firewall rule drops it on its
	// way out (netfilter OUTPUT with iptables -m statistic). Sent does not
	// count it.
	Refuse float64
	// Duplicate is the probability that a datagram is delivered twice.
	Duplicate float64
	// Reorder is the probability that a datagram is held back until the
	// next datagram on the same path (same source and destination) has been
	// delivered, or until ReorderHold has passed.
	Reorder float64
	// Latency is the one-way delay of datagrams and of stream bytes.
	Latency time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter] to each
	// datagram; datagrams may overtake each other because of it. Streams do
	// not get jitter.
	Jitter time.Duration
	// ReorderHold bounds how long a reordered datagram waits for a
	// successor (0: DefaultReorderHold).
	ReorderHold time.Duration
	// MTU is the largest datagram payload, in bytes, that is delivered;
	// larger ones are silently dropped (0: DefaultMTU).
	MTU int

	// QueueLen is the receive queue of each datagram socket, in datagrams;
	// a datagram arriving at a full queue is dropped (0: DefaultQueueLen).
	QueueLen int
	// StreamBuffer is how many bytes one direction of a stream connection
	// holds, in flight and unread, before Write blocks (0:
	// DefaultStreamBuffer).
	StreamBuffer int
	// Backlog is how many dialed connections a Listener holds before
	// Accept; further dials are refused (0: DefaultBacklog).
	Backlog int
}

// Conditions describe what happens to datagrams on a path. Streams only use
// Latency. See the fields of the same name in [Config].
type Conditions struct {
	Loss        float64
	Refuse      float64
	Duplicate   float64
	Reorder     float64
	Latency     time.Duration
	Jitter      time.Duration
	ReorderHold time.Duration
	MTU         int
}

// conditions returns the network-wide default conditions of c.
func (c Config) conditions() Conditions {
	return Conditions{
		Loss:        c.Loss,
		Refuse:      c.Refuse,
		Duplicate:   c.Duplicate,
		Reorder:     c.Reorder,
		Latency:     c.Latency,
		Jitter:      c.Jitter,
		ReorderHold: c.ReorderHold,
		MTU:         c.MTU,
	}
}

// normalized clamps probabilities to [0, 1], negative durations to zero, and
// fills defaults.
func (c Conditions) normalized() Conditions {
	c.Loss = clampProb(c.Loss)
	c.Refuse = clampProb(c.Refuse)
	c.Duplicate = clampProb(c.Duplicate)
	c.Reorder = clampProb(c.Reorder)
	c.Latency = max(c.Latency, 0)
	c.Jitter = max(c.Jitter, 0)
	if c.ReorderHold <= 0 {
		c.ReorderHold = DefaultReorderHold
	}
	if c.MTU <= 0 {
		c.MTU = DefaultMTU
	}
	return c
}

func clampProb(p float64) float64 {
	if math.IsNaN(p) || p < 0 {
		return 0
	}
	return min(p, 1)
}

func (c Config) withDefaults() Config {
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = DefaultStreamBuffer
	}
	if c.Backlog <= 0 {
		c.Backlog = DefaultBacklog
	}
	return c
}

// link is a directional per-path override set by Network.SetLink.
type link struct {
	from, to netip.Prefix
	cond     Conditions
}

// Stats counts what the network did. Datagram counters count datagrams, not
// bytes; a duplicated datagram counts once in Sent and up to twice in
// Delivered.
type Stats struct {
	// Sent counts datagrams accepted by WriteTo or Write.
	Sent uint64
	// Delivered counts datagrams placed in a socket's receive queue.
	Delivered uint64
	// Duplicated counts extra copies made by the Duplicate condition.
	Duplicated uint64
	// Reordered counts datagrams held back by the Reorder condition.
	Reordered uint64
	// Lost counts datagrams dropped by the Loss condition.
	Lost uint64
	// RefusedWrites counts writes failed with EPERM by the Refuse condition
	// (not in Sent, nor in Dropped: the sender was told).
	RefusedWrites uint64
	// TooBig counts datagrams dropped because they exceeded the MTU.
	TooBig uint64
	// QueueFull counts datagrams dropped at a full receive queue.
	QueueFull uint64
	// Unreachable counts datagrams for which no socket was bound at the
	// destination, or whose socket was connected to another peer.
	Unreachable uint64
	// Filtered counts datagrams dropped by a NAT: no mapping for the public
	// port, an expired mapping, or a source the filter does not admit.
	Filtered uint64

	// Dials counts stream connections established.
	Dials uint64
	// Refused counts stream dials refused.
	Refused uint64
}

// Dropped returns the number of datagrams dropped for any reason.
func (s Stats) Dropped() uint64 {
	return s.Lost + s.TooBig + s.QueueFull + s.Unreachable + s.Filtered
}
