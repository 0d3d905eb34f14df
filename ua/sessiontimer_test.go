package ua_test

// Session timers (RFC 4028) in virtual time: negotiation, refresh by
// re-INVITE or UPDATE at half the interval, 422 and Min-SE, expiry.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

func TestSessionRefresh(t *testing.T) {
	tests := []struct {
		name   string
		update bool // B allows UPDATE: A refreshes with it
		method sip.Method
	}{
		{"by re-INVITE", false, sip.INVITE},
		{"by UPDATE", true, sip.UPDATE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				wa, wb := newWire(), newWire()
				start := time.Now()
				_, _, out, in, _, _ := established(t, n,
					ua.Config{Transport: ua.TransportConfig{Tracer: wa}, SessionExpires: 600 * time.Second},
					ua.Config{Transport: ua.TransportConfig{Tracer: wb}, AllowUpdate: tt.update})
				inv := wb.requests(sip.INVITE)[0]
				require.Equal(t, "600", inv.Header("Session-Expires"))
				require.Equal(t, "90", inv.Header("Min-SE"))
				ok := okResponses(wa, sip.INVITE)[0]
				require.Equal(t, "600;refresher=uac", ok.Header("Session-Expires"), "B grants A's interval, A refreshes")
				require.Equal(t, "timer", ok.Header("Require"))

				time.Sleep(301 * time.Second)
				synctest.Wait()
				refreshes := wb.requests(tt.method)
				if tt.method == sip.INVITE {
					refreshes = refreshes[1:]
				}
				require.Len(t, refreshes, 1, "one refresh at half the interval")
				require.Equal(t, "600;refresher=uac", refreshes[0].Header("Session-Expires"))
				require.Len(t, okResponses(wa, tt.method), map[bool]int{true: 1, false: 2}[tt.update])

				// Many intervals later the call is alive, refreshed every
				// 300 s.
				time.Sleep(time.Hour)
				synctest.Wait()
				require.Equal(t, ua.CallEstablished, out.State())
				require.Equal(t, ua.CallEstablished, in.State())
				got := len(wb.requests(tt.method))
				if tt.method == sip.INVITE {
					got--
				}
				require.Equal(t, int((time.Since(start)+time.Second)/(300*time.Second)), got)
				require.NoError(t, out.Hangup(t.Context()))
			})
		})
	}
}

// The peer refreshes but stops: the session ends with a BYE at the
// interval less min(32 s, interval/3) (RFC 4028 §10).
func TestSessionExpiresWithoutRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		peer, w := newTracedPeer(t, n, "192.0.2.7:5060", answer200, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.Set("Session-Expires", "120;refresher=uac")
		req.Set("Supported", "timer")
		req.SetBody([]byte(testSDP), "application/sdp")
		start := time.Now()
		tx, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		res, err := tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, "120;refresher=uac", res.Header("Session-Expires"))
		in := recv(t, calls, time.Second, "answered")
		ackRaw(t, peer, req, res) // and then never refreshes
		recv(t, doneOf(in.Done()), 5*time.Minute, "call ended")
		require.ErrorIs(t, in.Err(), ua.ErrSessionExpired)
		require.Equal(t, 88*time.Second, time.Since(start).Round(time.Second))
		synctest.Wait()
		require.Len(t, w.requests(sip.BYE), 1)
	})
}

// An interval below the UAS's minimum gets 422 with Min-SE; the UAC asks
// again with it.
func TestSessionIntervalTooSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		wa, wb := newWire(), newWire()
		_, _, out, _, _, _ := established(t, n,
			ua.Config{Transport: ua.TransportConfig{Tracer: wa}},
			ua.Config{Transport: ua.TransportConfig{Tracer: wb}, MinSessionExpires: 2000 * time.Second})
		var codes []int
		for _, r := range wa.responses(sip.INVITE) {
			codes = append(codes, r.StatusCode)
		}
		require.Contains(t, codes, sip.StatusSessionIntervalTooSmall)
		for _, r := range wa.responses(sip.INVITE) {
			if r.StatusCode == sip.StatusSessionIntervalTooSmall {
				require.Equal(t, "2000", r.Header("Min-SE"))
			}
		}
		invites := wb.requests(sip.INVITE)
		require.Len(t, invites, 2)
		require.Equal(t, "1800", invites[0].Header("Session-Expires"))
		require.Equal(t, "2000", invites[1].Header("Session-Expires"))
		require.Equal(t, ua.CallEstablished, out.State())
		require.NoError(t, out.Hangup(t.Context()))
	})
}

// Without session timers nothing is asked or granted, and "timer" is not
// supported: a call lasts without refreshes.
func TestSessionTimersOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		wa, wb := newWire(), newWire()
		_, _, out, _, _, _ := established(t, n,
			ua.Config{Transport: ua.TransportConfig{Tracer: wa}, SessionExpires: -1},
			ua.Config{Transport: ua.TransportConfig{Tracer: wb}, SessionExpires: -1})
		require.Empty(t, wb.requests(sip.INVITE)[0].Header("Session-Expires"))
		require.Empty(t, okResponses(wa, sip.INVITE)[0].Header("Session-Expires"))
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		require.Len(t, wb.requests(sip.INVITE), 1)
		require.Equal(t, ua.CallEstablished, out.State())
		require.NoError(t, out.Hangup(context.Background()))
	})
}

// ackRaw sends the raw peer's ACK for the 2xx res to its INVITE req.
func ackRaw(t *testing.T, peer *rawPeer, req *sip.Request, res *sip.Response) *dialog.Dialog {
	t.Helper()
	d, err := dialog.NewUAC(req, res)
	require.NoError(t, err)
	ack, err := d.NewAck(req, res)
	require.NoError(t, err)
	_, err = peer.tp.SendRequest(t.Context(), ack, uaTarget)
	require.NoError(t, err)
	return d
}
