//go:build interop

package interop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/ua"
)

// errNoSHA256 says the Kamailio under test did not challenge with SHA-256.
var errNoSHA256 = errors.New("no SHA-256 digest challenge")

// usrlocLastModified returns the Last-Modified time (Unix seconds, by
// Kamailio's clock) of the one binding in a kamcmd ul.lookup output.
func usrlocLastModified(t *testing.T, out string) int64 {
	t.Helper()
	var found []int64
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Last-Modified:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err, "Last-Modified in %q", line)
			found = append(found, n)
		}
	}
	require.Len(t, found, 1, "one binding's Last-Modified in:\n%s", out)
	return found[0]
}

// TestKamailioRegister: a line registers at Kamailio with digest
// authentication (MD5, and SHA-256 of RFC 8760, which Kamailio 5.6 offers:
// its absence skips, or fails under CI), asks for an Expires below
// Kamailio's min_expires and follows the 423 (RFC 3261 §10.2.8), refreshes
// at about half of the granted lifetime (§10.2.4; judged by the times
// Kamailio's usrloc records, not by our clock), and unregisters (Expires:
// 0, §10.2.2): Kamailio's usrloc (kamcmd ul.lookup) holds the binding with
// our Contact, then not.
func TestKamailioRegister(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sha256    bool
		algorithm digest.Algorithm // of the challenge and of our Authorization header
	}{
		{name: "MD5", algorithm: digest.MD5},
		{name: "SHA-256", sha256: true, algorithm: digest.SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			// The granted lifetime; the refresh is due at half of it,
			// and must land within refreshSlack of that by Kamailio's
			// clock (whole seconds, so one second of rounding at each end).
			const minExpires, refreshSlack = 20, 2
			k := startKamailio(t, ctx, kamailioOptions{sha256: tc.sha256, minExpires: minExpires})
			alice := newPeerUA(t, k, uaOptions{user: "alice", expires: minExpires / 2 * time.Second, manual: true})

			err := alice.line().Register(ctx)
			chal := alice.wire.received("SIP/2.0 401")
			require.NotEmpty(t, chal, "no 401 from Kamailio")
			www := headerValue(chal[0], "WWW-Authenticate")
			ch, perr := digest.ParseChallenge(www)
			require.NoError(t, perr, "Kamailio's challenge %q", www)
			if tc.sha256 && ch.Algorithm != digest.SHA256 {
				testenv.Need(t, "a Kamailio whose auth module challenges with SHA-256 (Kamailio 5.2 or later)",
					fmt.Errorf("%w: challenge %q", errNoSHA256, www))
			}
			require.Equal(t, tc.algorithm, ch.Algorithm, "challenge %q", www)
			require.NoError(t, err, "Register")
			ev := alice.waitEvent(t, ctx, ua.EventRegistered, "")
			require.Equal(t, minExpires*time.Second, ev.Expires, "lifetime granted after the 423")
			st, exp := alice.line().State()
			require.Equal(t, ua.RegRegistered, st)
			require.Equal(t, minExpires*time.Second, exp)

			// The wire: REGISTER, 401, REGISTER with credentials of the
			// algorithm, 423 with Min-Expires, REGISTER asking for it, 200.
			require.NotEmpty(t, alice.wire.received("SIP/2.0 423"), "Kamailio's 423")
			var authed []string
			for _, r := range alice.wire.sent("REGISTER ") {
				if a := headerValue(r, "Authorization"); a != "" {
					authed = append(authed, a)
				}
			}
			require.NotEmpty(t, authed, "no REGISTER with Authorization")
			for _, a := range authed {
				require.Contains(t, a, "algorithm="+tc.algorithm.String(), "Authorization")
				require.Contains(t, a, "qop=auth", "Authorization")
			}

			contact := alice.line().Contact().URI
			out := k.waitBinding(t, ctx, "alice", true)
			require.Contains(t, out, "127.0.0.1:"+strconv.Itoa(contact.Port), "usrloc Contact")
			t.Logf("ul.lookup after registration:\n%s", out)
			saved := usrlocLastModified(t, out)

			// Refresh: a second EventRegistered, which Kamailio saved at
			// about half of the lifetime after the first.
			ev = alice.waitEvent(t, ctx, ua.EventRegistered, "")
			require.Equal(t, minExpires*time.Second, ev.Expires)
			out = k.waitBinding(t, ctx, "alice", true)
			refreshed := usrlocLastModified(t, out)
			t.Logf("Kamailio saved the refresh %d s after the registration (lifetime %d s)", refreshed-saved, minExpires)
			require.InDelta(t, minExpires/2, refreshed-saved, refreshSlack,
				"refresh not at half the lifetime by Kamailio's clock (saved at %d, then %d)", saved, refreshed)

			// Unregister: Expires 0, the binding is gone.
			require.NoError(t, alice.line().Unregister(ctx), "Unregister")
			alice.waitEvent(t, ctx, ua.EventUnregistered, "")
			regs := alice.wire.sent("REGISTER ")
			for _, r := range regs {
				t.Logf("REGISTER sent: CSeq %s, Expires %s, Contact %s", headerValue(r, "CSeq"), headerValue(r, "Expires"), headerValue(r, "Contact"))
			}
			k.waitBinding(t, ctx, "alice", false)
			last := regs[len(regs)-1]
			require.True(t, headerValue(last, "Expires") == "0" || strings.Contains(headerValue(last, "Contact"), "expires=0"),
				"last REGISTER does not remove the binding:\n%s", last)
		})
	}
}

// TestKamailioRegisterWrongPassword: Kamailio refuses the credentials (a
// second 401 for them, RFC 3261 §22.2): Register returns an error matching
// ua.ErrAuthFailed with the 401, the line reports EventRegistrationFailed,
// and no further REGISTER goes out (no loop, no retry of a final failure).
func TestKamailioRegisterWrongPassword(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	alice := newPeerUA(t, k, uaOptions{user: "alice", password: "not-alicepw", manual: true})

	err := alice.line().Register(ctx)
	require.ErrorIs(t, err, ua.ErrAuthFailed)
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 401, se.Code())
	ev := alice.waitEvent(t, ctx, ua.EventRegistrationFailed, "")
	require.ErrorIs(t, ev.Err, ua.ErrAuthFailed)
	st, _ := alice.line().State()
	require.Equal(t, ua.RegFailed, st)
	require.Len(t, alice.wire.sent("REGISTER "), 2, "one REGISTER, one answer to the challenge")
	// A real peer, a real clock: give a wrongly scheduled retry time to
	// show up.
	sleepCtx(ctx, 2*time.Second)
	require.Len(t, alice.wire.sent("REGISTER "), 2, "REGISTER sent again after a final authentication failure")
	_, bound := k.binding(t, ctx, "alice")
	require.False(t, bound, "Kamailio holds a binding for a refused REGISTER")
}

// TestKamailioCalls: two of our UAs, alice and bob, registered at Kamailio,
// call each other through it (INVITE answered with proxy authentication,
// 407), both directions, hanging up from either side. Kamailio
// record-routes, so the ACK and the BYE must cross it (RFC 3261 §12.2.1.1,
// §16.12): the BYE carries a Route to Kamailio and Kamailio logs it.
func TestKamailioCalls(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	alice := newPeerUA(t, k, uaOptions{user: "alice"})
	bob := newPeerUA(t, k, uaOptions{user: "bob"})
	alice.waitEvent(t, ctx, ua.EventRegistered, "")
	bob.waitEvent(t, ctx, ua.EventRegistered, "")
	k.waitBinding(t, ctx, "alice", true)
	k.waitBinding(t, ctx, "bob", true)

	for _, tc := range []struct {
		name           string
		caller, callee *peerUA
		callerHangs    bool
	}{
		{"alice calls bob, alice hangs up", alice, bob, true},
		{"alice calls bob, bob hangs up", alice, bob, false},
		{"bob calls alice, bob hangs up", bob, alice, true},
		{"bob calls alice, alice hangs up", bob, alice, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.caller.ua.Dial(ctx, k.uri(tc.callee.name), ua.DialOptions{SDP: testSDP(9)})
			require.NoError(t, err, "Dial")
			id := out.CallID()
			require.Equal(t, ua.CallEstablished, out.State())
			require.NotEmpty(t, tc.caller.wire.received("SIP/2.0 407"), "Kamailio asks for proxy authentication")
			in := tc.callee.nextCall(t, ctx)
			require.Equal(t, id, in.CallID())
			tc.callee.waitEvent(t, ctx, ua.EventCallConfirmed, id)

			// The callee saw Kamailio's Record-Route.
			invites := filterCallID(tc.callee.wire.received("INVITE "), id)
			require.NotEmpty(t, invites)
			require.Contains(t, headerValue(invites[0], "Record-Route"), ":"+strconv.Itoa(k.port), "Record-Route of the INVITE")

			hanger, other := out, in
			hangerUA, otherUA := tc.caller, tc.callee
			if !tc.callerHangs {
				hanger, other = in, out
				hangerUA, otherUA = tc.callee, tc.caller
			}
			require.NoError(t, hanger.Hangup(ctx), "Hangup")
			require.ErrorIs(t, waitDone(t, ctx, hanger, hangerUA.name), ua.ErrLocalHangup)
			require.ErrorIs(t, waitDone(t, ctx, other, otherUA.name), ua.ErrRemoteHangup)

			byes := filterCallID(hangerUA.wire.sent("BYE "), id)
			require.Len(t, byes, 1, "BYEs sent")
			require.Contains(t, headerValue(byes[0], "Route"), ":"+strconv.Itoa(k.port), "BYE's Route")
			require.NotEmpty(t, filterCallID(otherUA.wire.received("BYE "), id), "BYE received")
			require.NotEmpty(t, k.logLines("REQ BYE", id), "Kamailio did not see the BYE")
			require.NotEmpty(t, k.logLines("REQ ACK", id), "Kamailio did not see the ACK")
			require.Zero(t, tc.caller.ua.Calls()+tc.callee.ua.Calls(), "calls left")
		})
	}
}

// TestKamailioRedirect: a call to sip:redirect@… gets Kamailio's 302 with
// bob as Contact; the UA follows it (RFC 3261 §8.1.3.4) to bob, who
// answers.
func TestKamailioRedirect(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	alice := newPeerUA(t, k, uaOptions{user: "alice"})
	bob := newPeerUA(t, k, uaOptions{user: "bob"})
	alice.waitEvent(t, ctx, ua.EventRegistered, "")
	bob.waitEvent(t, ctx, ua.EventRegistered, "")
	k.waitBinding(t, ctx, "bob", true)

	out, err := alice.ua.Dial(ctx, k.uri("redirect"), ua.DialOptions{SDP: testSDP(9)})
	require.NoError(t, err, "Dial")
	in := bob.nextCall(t, ctx)
	bob.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
	redirects := alice.wire.received("SIP/2.0 302")
	require.NotEmpty(t, redirects, "no 302 from Kamailio")
	require.Contains(t, headerValue(redirects[0], "Contact"), "sip:bob@")
	invites := alice.wire.sent("INVITE ")
	require.True(t, strings.HasPrefix(invites[len(invites)-1], "INVITE sip:bob@"), "last INVITE:\n%s", invites[len(invites)-1])
	require.Equal(t, "bob", in.Line().AOR().User)

	require.NoError(t, out.Hangup(ctx))
	require.ErrorIs(t, waitDone(t, ctx, in, "bob"), ua.ErrRemoteHangup)
}

// filterCallID keeps the traced messages of one call.
func filterCallID(msgs []string, id string) []string {
	var out []string
	for _, m := range msgs {
		if headerValue(m, "Call-ID") == id {
			out = append(out, m)
		}
	}
	return out
}
