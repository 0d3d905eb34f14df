package ua

import (
	"net/netip"
	"strings"
	"sync"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// contactCacheSize bounds how many formatted Contacts (one per user, local
// address and network) a UA keeps. Users come from incoming Request-URIs,
// so the bound is what a peer sending many user parts can make us hold;
// past it, Contacts are formatted per call as before.
const contactCacheSize = 64

type contactKey struct {
	user string
	at   netip.AddrPort
	n    transport.Network
}

// contactCache keeps the Contacts built from a local address, which never
// change for a given user, address and network: a call reuses the parsed
// sip.Address (plain strings, shared read-only) instead of formatting and
// parsing it again.
type contactCache struct {
	mu sync.Mutex
	m  map[contactKey]sip.Address
	// wires holds the wire form of each Address in m, for the Contact
	// lines of our requests and responses (wire).
	wires map[sip.Address]string
}

// wire returns a's wire form: the one kept when a is a cached Contact,
// else formatted now.
func (c *contactCache) wire(a sip.Address) string {
	c.mu.Lock()
	s, ok := c.wires[a]
	c.mu.Unlock()
	if ok {
		return s
	}
	return a.String()
}

// at returns our Contact for user at the local address at over network n.
func (c *contactCache) at(user string, at netip.AddrPort, n transport.Network) (sip.Address, error) {
	at = netip.AddrPortFrom(at.Addr().Unmap(), at.Port())
	k := contactKey{user: user, at: at, n: n}
	c.mu.Lock()
	a, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := makeContact(user, hostPort(at.Addr().String(), int(at.Port())), n)
	if err != nil {
		return a, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[contactKey]sip.Address)
		c.wires = make(map[sip.Address]string)
	}
	if len(c.m) < contactCacheSize {
		k.user = strings.Clone(user) // the key must not keep a message alive
		c.m[k] = a
		c.wires[a] = a.String() // a's strings are its own (makeContact)
	}
	c.mu.Unlock()
	return a, nil
}
