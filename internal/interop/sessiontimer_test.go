//go:build interop

package interop

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// Session timers (RFC 4028) against SIPp, each scenario written for it:
// our UA refreshing by UPDATE and by re-INVITE at half of a 90 s
// interval, ending with a BYE a session SIPp does not refresh, and asking
// again after a 422 with Min-SE. The 90 s interval is RFC 4028's floor, so
// the three callee cases take 45 to 60 s each; they run in parallel.
func TestSessionTimersWithSIPp(t *testing.T) {
	sippPath(t)
	callee := []struct {
		name, file string
		cfg        ua.Config
		want       error // how our call ends
	}{
		{"refresh by UPDATE", "uac_timer_update.xml", ua.Config{AllowUpdate: true}, ua.ErrRemoteHangup},
		{"refresh by re-INVITE", "uac_timer_reinvite.xml", ua.Config{}, ua.ErrRemoteHangup},
		{"expiry ends the call", "uac_timer_expiry.xml", ua.Config{}, ua.ErrSessionExpired},
	}
	for _, tc := range callee {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			calls := make(chan *ua.Call, 1)
			cfg := tc.cfg
			cfg.OnCall = func(_ context.Context, ic *ua.IncomingCall) {
				if c, err := ic.Answer(testSDP(9)); err == nil {
					calls <- c
				}
			}
			cfg.Media.DisableMedia = true
			u, _ := tracedUA(t, cfg)
			start := time.Now()
			sippAgainst(t, ctx, "timer", scenario(t, tc.file), u.Addrs()[0].String())
			var c *ua.Call
			select {
			case c = <-calls:
			default:
				t.Fatal("no call answered")
			}
			select {
			case <-c.Done():
			case <-time.After(peerWait):
				t.Fatalf("call not ended within %s", peerWait)
			}
			require.ErrorIs(t, c.Err(), tc.want)
			t.Logf("%s after %s", c.Err(), time.Since(start).Round(time.Second))
		})
	}
	t.Run("422 Min-SE", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		w := callSIPpUntilHangup(t, ctx, "timer_422", "uas_timer_422.xml")
		invites := w.sent("INVITE ")
		require.Len(t, invites, 2, "the INVITE and its retry after 422")
		require.Equal(t, "1900", headerValue(invites[1], "Session-Expires"))
	})
}
