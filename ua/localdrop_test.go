package ua_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

// TestCallsThroughRefusedSends: when this host's firewall drops a share of
// the outgoing datagrams (sendto fails with EPERM, as with iptables -m
// statistic in OUTPUT), that is loss: retransmissions carry every call
// through set-up and hang-up, and no call fails with a transport error.
func TestCallsThroughRefusedSends(t *testing.T) {
	const calls = 20
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{Seed: 3, Refuse: 0.3})
		defer n.Close()
		in := make(chan *ua.Call, calls)
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(in)})
		for i := range calls {
			c, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
			require.NoError(t, err, "call %d", i)
			<-in
			require.NoError(t, c.Hangup(t.Context()), "call %d", i)
		}
		require.Positive(t, n.Stats().RefusedWrites, "the firewall refused sends")
		require.Zero(t, a.Calls())
	})
}
