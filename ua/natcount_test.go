package ua_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// natCountUAs is how many UAs sit behind the NAT in TestIncomingCallsAfterIdle.
const natCountUAs = 100

// How many of 100 incoming calls reach a UA behind each NAT type after 10
// minutes idle, with NAT bindings that expire after 30 s idle: all of
// them with the default keepalive (every 25 s), none without.
func TestIncomingCallsAfterIdle(t *testing.T) {
	tests := []struct {
		typ       memnet.NATType
		keepalive time.Duration
		want      int
	}{
		{memnet.EndpointIndependent, 0, natCountUAs},
		{memnet.AddressDependent, 0, natCountUAs},
		{memnet.PortRestricted, 0, natCountUAs},
		{memnet.Symmetric, 0, natCountUAs},
		{memnet.PortRestricted, -1, 0},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%v default keepalive", tt.typ)
		if tt.keepalive < 0 {
			name = fmt.Sprintf("%v no keepalive", tt.typ)
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				nat, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/16"), netip.MustParseAddr("203.0.113.1"), tt.typ)
				require.NoError(t, err)
				nat.SetMappingTimeout(30 * time.Second)
				e := newEdge(t, n, edgeConfig{udp: "192.0.2.10:5060"})
				for i := range natCountUAs {
					ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 200), byte(2 + i%200)})
					lc := ua.LineConfig{AOR: fmt.Sprintf("sip:u%d@192.0.2.10", i), Registrar: "sip:192.0.2.10:5060",
						Manual: true, Keepalive: tt.keepalive}
					u, _ := newUA(t, n, netip.AddrPortFrom(ip, 5060).String(), ua.Config{Transport: ua.TransportConfig{Net: n.Host(ip)},
						Lines: []ua.LineConfig{lc}, OnCall: answerer(nil)})
					require.NoError(t, u.Lines()[0].Register(t.Context()))
				}
				time.Sleep(10 * time.Minute)
				reached := 0
				for i := range natCountUAs {
					ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
					res, err := e.call(ctx, fmt.Sprintf("u%d", i))
					cancel()
					if err == nil && res.StatusCode == sip.StatusOK {
						reached++
					}
				}
				t.Logf("%s: %d of %d incoming calls reached the UA after 10 min idle; %d STUN keepalives",
					name, reached, natCountUAs, e.stunSeen.Load())
				require.Equal(t, tt.want, reached)
			})
		})
	}
}
