package rtp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/dialtone/dialtone/internal/rtpsock"
)

// RTP port range defaults and allocation limits.
const (
	// DefaultPortMin and DefaultPortMax bound the UDP ports a PortAllocator
	// hands out when PortRange is zero. RTP takes the even port of each
	// pair and RTCP the odd one above it (RFC 3550 §11).
	DefaultPortMin = 10000
	DefaultPortMax = 20000
	// DefaultPortMaxAttempts is how many candidate ports Allocate tries to
	// bind, after skipping the ones it handed out itself, before it gives up
	// with ErrNoPorts; it applies when PortAllocatorConfig.MaxAttempts is
	// zero. Binds fail when another program holds the port.
	DefaultPortMaxAttempts = 100
)

// Port allocation errors.
var (
	// ErrNoPorts reports that no free port (pair) was found in the range.
	ErrNoPorts = errors.New("rtp: no free RTP port in range")
	// ErrPortRange reports an invalid PortAllocatorConfig.
	ErrPortRange = errors.New("rtp: invalid RTP port range")
)

// PortAllocatorConfig configures a PortAllocator. The zero value of each
// field selects its documented default.
type PortAllocatorConfig struct {
	// Min and Max bound the ports handed out, inclusive. RTP ports are the
	// even ports in [Min, Max] whose odd neighbour is in range too (the
	// RTCP port, RFC 3550 §11), also with rtcp-mux, for peers that assume
	// even RTP ports. Zero Min and Max mean DefaultPortMin and
	// DefaultPortMax; otherwise 0 < Min < Max must hold.
	Min, Max uint16
	// MaxAttempts bounds the binds tried per Allocate; 0 means
	// DefaultPortMaxAttempts.
	MaxAttempts int
}

// PortAllocator hands out UDP sockets for RTP sessions from a port range.
// It remembers the ports it handed out until they are released, and skips
// ports another program holds: when a bind fails with EADDRINUSE it goes
// on from a new random pair, since another program's ports are usually a
// block (its own allocator's run) that stepping pair by pair would take
// many attempts to leave. Candidates are taken round-robin from a random
// starting point, so that a port just released is not reused at once
// (late packets of the old call would land in the new one). It is safe for concurrent
// use; several allocators over the same range also work together, since the
// kernel arbitrates every bind. Sessions that take their ports from an
// allocator and name no Engine share one Engine, created on first use.
type PortAllocator struct {
	min, max    int // even min; max is the last usable RTP port
	maxAttempts int

	mu   sync.Mutex
	next int
	used map[int]struct{}

	engineOnce sync.Once
	engine     *Engine // the default Engine of this allocator's sessions
}

// defaultEngine returns the Engine of sessions that use this allocator and
// name no Engine, creating it on first use.
func (a *PortAllocator) defaultEngine() *Engine {
	a.engineOnce.Do(func() {
		a.engine, _ = NewEngine(EngineConfig{}) // the defaults are valid
	})
	return a.engine
}

// NewPortAllocator validates cfg and returns an allocator. Invalid settings
// give an error wrapping ErrPortRange.
func NewPortAllocator(cfg PortAllocatorConfig) (*PortAllocator, error) {
	lo, hi := int(cfg.Min), int(cfg.Max)
	if lo == 0 && hi == 0 {
		lo, hi = DefaultPortMin, DefaultPortMax
	}
	if lo == 0 || hi <= lo {
		return nil, fmt.Errorf("%w: [%d, %d]", ErrPortRange, cfg.Min, cfg.Max)
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("%w: MaxAttempts %d", ErrPortRange, cfg.MaxAttempts)
	}
	if lo%2 == 1 {
		lo++
	}
	if hi%2 == 0 {
		hi-- // the RTCP port of the last pair must be in range
	}
	hi-- // last even port whose odd neighbour is in range
	if hi < lo {
		return nil, fmt.Errorf("%w: [%d, %d] holds no even/odd pair", ErrPortRange, cfg.Min, cfg.Max)
	}
	a := &PortAllocator{min: lo, max: hi, maxAttempts: cfg.MaxAttempts, used: make(map[int]struct{})}
	if a.maxAttempts == 0 {
		a.maxAttempts = DefaultPortMaxAttempts
	}
	a.jumpLocked()
	return a, nil
}

// jumpLocked moves the next candidate to a random pair of the range. a.mu
// is held (or a is not shared yet).
func (a *PortAllocator) jumpLocked() {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	a.next = a.min + 2*int(binary.LittleEndian.Uint64(b[:])%uint64(a.pairs()))
}

// pairs returns the number of RTP ports in the range.
func (a *PortAllocator) pairs() int { return (a.max-a.min)/2 + 1 }

// Range returns the first and last RTP port the allocator may hand out.
func (a *PortAllocator) Range() (lo, hi uint16) { return uint16(a.min), uint16(a.max) }

// InUse returns how many ports (pairs) are handed out and not yet released.
func (a *PortAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

// UDPPorts are the sockets of one RTP session: RTP on an even port and RTCP
// on the port above, or RTP alone when RTCP is multiplexed on it (RFC 5761).
type UDPPorts struct {
	// RTP is the RTP socket (carrying RTCP too with rtcp-mux).
	RTP *net.UDPConn
	// RTCP is the RTCP socket, nil with rtcp-mux.
	RTCP *net.UDPConn

	port  int
	alloc *PortAllocator
	once  sync.Once
	err   error
}

// Port returns the RTP port.
func (p *UDPPorts) Port() uint16 { return uint16(p.port) }

// Close closes the sockets and returns the port (pair) to its allocator.
// It is idempotent.
func (p *UDPPorts) Close() error {
	p.once.Do(func() {
		p.err = p.RTP.Close()
		if p.RTCP != nil {
			if err := p.RTCP.Close(); p.err == nil {
				p.err = err
			}
		}
		p.alloc.release(p.port)
	})
	return p.err
}

// Allocate binds the sockets of one RTP session on addr (an unspecified
// address binds all interfaces): an even RTP port and, unless mux is set,
// the RTCP port above it. Ports handed out by a and not yet released are
// skipped; a port taken by another program makes it try another pair, from
// a random point of the range, up to the configured number of attempts, after which the error wraps
// ErrNoPorts. Other bind errors (an address not on this host, for example)
// end the search and are returned as they are. ctx is checked between
// attempts. Close the result to release the ports.
func (a *PortAllocator) Allocate(ctx context.Context, addr netip.Addr, mux bool) (*UDPPorts, error) {
	p, _, err := allocatePorts(ctx, a, addr, mux, bindPorts)
	if err != nil {
		return nil, err
	}
	p.alloc = a
	return p, nil
}

// allocatePorts runs Allocate's search with bind, which binds the socket(s)
// of one port (pair), and returns what it bound and the RTP port.
func allocatePorts[T any](ctx context.Context, a *PortAllocator, addr netip.Addr, mux bool,
	bind func(addr netip.Addr, port int, mux bool) (T, error)) (T, int, error) {
	var zero T
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	addr = addr.Unmap()
	attempts := 0
	for attempts < a.maxAttempts {
		if err := ctx.Err(); err != nil {
			return zero, 0, err
		}
		port, ok := a.reserve()
		if !ok {
			break
		}
		p, err := bind(addr, port, mux)
		if err == nil {
			return p, port, nil
		}
		a.release(port)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return zero, 0, err
		}
		a.mu.Lock()
		a.jumpLocked() // out of the other program's block
		a.mu.Unlock()
		attempts++
	}
	return zero, 0, fmt.Errorf("%w: [%d, %d] on %s after %d attempts", ErrNoPorts, a.min, a.max+1, addr, attempts)
}

// reserve marks the next unused RTP port as used and returns it, or false
// when every port of the range is in use.
func (a *PortAllocator) reserve() (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range a.pairs() {
		port := a.next
		a.next += 2
		if a.next > a.max {
			a.next = a.min
		}
		if _, taken := a.used[port]; !taken {
			a.used[port] = struct{}{}
			return port, true
		}
	}
	return 0, false
}

func (a *PortAllocator) release(port int) {
	a.mu.Lock()
	delete(a.used, port)
	a.mu.Unlock()
}

// bindPorts binds RTP on port and, without mux, RTCP on port+1.
func bindPorts(addr netip.Addr, port int, mux bool) (*UDPPorts, error) {
	rtp, rtcp, err := rtpsock.ListenUDP(addr, port, mux)
	if err != nil {
		return nil, err
	}
	return &UDPPorts{RTP: rtp, RTCP: rtcp, port: port}, nil
}
