package ua_test

// Registration over time, in virtual time: what the registrar sees across
// refreshes (RFC 3261 §10.2.4) and the retry schedule after failures.

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// requireOneRegistration checks RFC 3261 §10.2 over every REGISTER the
// registrar saw: one Call-ID (and From tag) for all of them, and the CSeq
// incremented by one from each REGISTER to the next.
func requireOneRegistration(t *testing.T, regs []regSeen) {
	t.Helper()
	require.NotEmpty(t, regs)
	for i, r := range regs {
		require.Equal(t, regs[0].callID, r.callID, "REGISTER %d keeps the Call-ID (§10.2.4)", i)
		require.Equal(t, regs[0].fromTag, r.fromTag, "REGISTER %d keeps the From tag", i)
		if i > 0 {
			require.Equal(t, regs[i-1].cseq+1, r.cseq, "REGISTER %d: CSeq incremented by one (§10.2)", i)
		}
	}
}

// Refreshes reuse the registration's Call-ID and count CSeq up, through
// the digest challenge, several refreshes and the unregistration.
func TestRegisterRefreshKeepsCallIDAndCSeq(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 100, 0)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		require.NoError(t, line.Err())
		t0 := time.Now()
		time.Sleep(260 * time.Second) // refreshes at 50, 100, 150, 200, 250 s
		synctest.Wait()
		authed := reg.authed()
		require.Len(t, authed, 6, "the registration and five refreshes")
		for i, s := range authed[1:] {
			require.Equal(t, time.Duration(i+1)*50*time.Second, s.at.Sub(t0).Round(time.Second), "refresh %d at half of 100 s", i+1)
		}
		require.NoError(t, u.Close())
		all := reg.seen()
		require.EqualValues(t, 0, all[len(all)-1].expires, "unregistered on Close")
		require.Greater(t, len(all), len(authed), "the first REGISTER was challenged")
		requireOneRegistration(t, all)
		require.EqualValues(t, 1, all[0].cseq)
	})
}

// A registration that fails (500, no Retry-After) is retried after
// RetryMin, then after twice the previous delay up to RetryMax; success
// resets the back-off. Line.Err tells the last failure until a success.
func TestRegisterBackoffWithoutRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		gaps     []time.Duration // between the failed attempts
	}{
		{"configured", 10 * time.Second, 40 * time.Second,
			[]time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second}},
		{"defaults", 0, 0,
			[]time.Duration{ua.DefaultRetryMin, 2 * ua.DefaultRetryMin, 4 * ua.DefaultRetryMin, 8 * ua.DefaultRetryMin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				fails := len(tt.gaps) // the attempt after the last gap succeeds
				var mu sync.Mutex
				var at []time.Time
				var regs []regSeen
				newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					mu.Lock()
					at = append(at, time.Now())
					cs, _ := req.CSeq()
					from, _ := req.From()
					regs = append(regs, regSeen{callID: req.CallID(), cseq: cs.Seq, fromTag: from.Tag()})
					k := len(at)
					mu.Unlock()
					if k <= fails {
						_ = w.Respond(sip.NewResponse(req, sip.StatusServerInternalError, ""))
						return
					}
					res := sip.NewResponse(req, sip.StatusOK, "")
					res.Set("Expires", "600")
					_ = w.Respond(res)
				}, nil)
				lc := lineCfg("", time.Hour)
				lc.RetryMin, lc.RetryMax = tt.min, tt.max
				u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
				line := u.Lines()[0]
				err := line.Register(t.Context())
				var se *ua.StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, 500, se.Code())
				require.ErrorAs(t, line.Err(), &se, "Line.Err is the last failure")
				require.Equal(t, 500, se.Code())
				st, _ := line.State()
				require.Equal(t, ua.RegFailed, st)

				var total time.Duration
				for _, g := range tt.gaps {
					total += g
				}
				time.Sleep(total + time.Second)
				synctest.Wait()
				mu.Lock()
				got := make([]time.Duration, 0, len(at)-1)
				for i := 1; i < len(at); i++ {
					got = append(got, at[i].Sub(at[i-1]).Round(time.Second))
				}
				mu.Unlock()
				require.Equal(t, tt.gaps, got, "the back-off schedule")
				st, granted := line.State()
				require.Equal(t, ua.RegRegistered, st, "the last retry succeeded")
				require.Equal(t, 600*time.Second, granted, "the Expires header of the 2xx")
				require.NoError(t, line.Err(), "cleared by the success")
				require.Equal(t, fails, rec.count(ua.EventRegistrationFailed))

				time.Sleep(300 * time.Second)
				synctest.Wait()
				mu.Lock()
				require.Len(t, at, fails+2, "a refresh at half of 600 s, not a retry")
				requireOneRegistration(t, regs)
				mu.Unlock()
			})
		})
	}
}

// 403 and 404 are final: no retry follows.
func TestRegisterFinalFailures(t *testing.T) {
	for _, code := range []int{sip.StatusForbidden, sip.StatusNotFound} {
		t.Run(sip.NewResponse(sip.NewRequest(sip.REGISTER, sip.URI{Scheme: "sip", Host: "x"}), code, "").Reason, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				tries := 0
				newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					mu.Lock()
					tries++
					mu.Unlock()
					_ = w.Respond(sip.NewResponse(req, code, ""))
				}, nil)
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("", time.Hour)}})
				var se *ua.StatusError
				require.ErrorAs(t, u.Lines()[0].Register(t.Context()), &se)
				require.Equal(t, code, se.Code())
				time.Sleep(time.Hour)
				synctest.Wait()
				mu.Lock()
				require.Equal(t, 1, tries, "no retry after %d", code)
				mu.Unlock()
				require.ErrorAs(t, u.Lines()[0].Err(), &se)
			})
		})
	}
}

// A line without a registrar neither registers nor unregisters.
func TestLineWithoutRegistrar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "alice@example.test"}}})
		l := u.Lines()[0]
		require.Equal(t, "sip:alice@example.test", l.AOR().String(), "sip: added to the AOR")
		require.ErrorIs(t, l.Register(t.Context()), ua.ErrNoRegistrar)
		require.ErrorIs(t, l.Unregister(t.Context()), ua.ErrNoRegistrar)
		st, _ := l.State()
		require.Equal(t, ua.RegUnregistered, st)
		require.Equal(t, "unregistered", st.String())
		require.NoError(t, l.Err())
	})
}

// A registrar that forgot its nonce refuses the credentials a refresh
// sends ahead of a challenge: the line starts afresh once (REGISTER
// without credentials, challenge, answer) and stays registered.
func TestRegisterRefreshAfterNonceExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		srv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test", NonceLifetime: 30 * time.Second})
		require.NoError(t, err)
		reg := &registrar{srv: srv, password: "secret", grant: 120}
		newRawPeer(t, n, "192.0.2.9:5060", reg.serve, nil)
		u, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		require.Len(t, reg.seen(), 2, "challenge, then credentials")
		time.Sleep(61 * time.Second) // the refresh at 60 s, after the nonce expired
		synctest.Wait()
		seen := reg.seen()
		require.Len(t, seen, 5, "stale credentials, then a fresh challenge answered")
		require.Equal(t, []bool{false, false, true}, []bool{seen[2].authed, seen[3].authed, seen[4].authed})
		st, _ := line.State()
		require.Equal(t, ua.RegRegistered, st)
		require.Zero(t, rec.count(ua.EventRegistrationFailed))
		requireOneRegistration(t, seen)
	})
}

// 423 without Min-Expires cannot be answered: the registration fails
// with the 423 (and is retried later, it is not final).
func TestRegister423WithoutMinExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		tries := 0
		newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			mu.Lock()
			tries++
			mu.Unlock()
			_ = w.Respond(sip.NewResponse(req, sip.StatusIntervalTooBrief, ""))
		}, nil)
		lc := lineCfg("", time.Hour)
		lc.RetryMin = time.Minute
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
		var se *ua.StatusError
		require.ErrorAs(t, u.Lines()[0].Register(t.Context()), &se)
		require.Equal(t, sip.StatusIntervalTooBrief, se.Code())
		time.Sleep(61 * time.Second)
		synctest.Wait()
		mu.Lock()
		require.Equal(t, 2, tries, "one REGISTER per attempt, retried after RetryMin")
		mu.Unlock()
	})
}

// Close while a REGISTER waits for its answer: Register returns ErrClosed
// and the line registers no more.
func TestRegisterDuringClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		got := make(chan struct{}, 4)
		newRawPeer(t, n, "192.0.2.9:5060", func(ctx context.Context, _ transaction.ResponseWriter, _ *sip.Request) {
			got <- struct{}{}
			<-ctx.Done() // never answered
		}, nil)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("", time.Hour)}})
		line := u.Lines()[0]
		done := make(chan error, 1)
		go func() { done <- line.Register(context.Background()) }()
		recv(t, got, time.Second, "REGISTER")
		require.NoError(t, u.Close())
		require.ErrorIs(t, recv(t, done, time.Minute, "Register's return"), ua.ErrClosed)
		require.ErrorIs(t, line.Register(t.Context()), ua.ErrClosed)
		st, _ := line.State()
		require.NotEqual(t, ua.RegRegistered, st)
	})
}

// The lifetime granted is the expires parameter of our Contact in the
// 2xx, else its Expires header, else what we asked for (RFC 3261
// §10.2.4); a 423 whose Min-Expires is no longer than what we asked fails.
func TestRegisterGrantedLifetime(t *testing.T) {
	tests := []struct {
		name    string
		respond func(req *sip.Request) *sip.Response
		want    time.Duration
		code    int
	}{
		{"Contact expires", func(req *sip.Request) *sip.Response {
			res := sip.NewResponse(req, sip.StatusOK, "")
			cts, _ := req.Contacts()
			res.Add("Contact", "<sip:other@192.0.2.77>;expires=50")
			res.Add("Contact", "<"+cts[0].URI.String()+">;expires=90")
			res.Set("Expires", "70")
			return res
		}, 90 * time.Second, 0},
		{"Expires header", func(req *sip.Request) *sip.Response {
			res := sip.NewResponse(req, sip.StatusOK, "")
			res.Set("Expires", "70")
			return res
		}, 70 * time.Second, 0},
		{"what we asked", func(req *sip.Request) *sip.Response {
			return sip.NewResponse(req, sip.StatusOK, "")
		}, 1800 * time.Second, 0},
		{"423 below our request", func(req *sip.Request) *sip.Response {
			res := sip.NewResponse(req, sip.StatusIntervalTooBrief, "")
			res.Set("Min-Expires", "60")
			return res
		}, 0, sip.StatusIntervalTooBrief},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				newRawPeer(t, n, "192.0.2.9:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					_ = w.Respond(tt.respond(req))
				}, nil)
				u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("", 30*time.Minute)}})
				err := u.Lines()[0].Register(t.Context())
				if tt.code != 0 {
					var se *ua.StatusError
					require.ErrorAs(t, err, &se)
					require.Equal(t, tt.code, se.Code())
					return
				}
				require.NoError(t, err)
				_, granted := u.Lines()[0].State()
				require.Equal(t, tt.want, granted)
			})
		})
	}
}

// A line whose transport has no listener registers over a connection of
// its own (contact_test.go); with nobody listening there it fails to
// connect.
func TestRegisterWithoutListenerForTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		lc := lineCfg("", time.Hour)
		lc.Transport = "tcp"
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
		require.ErrorIs(t, u.Lines()[0].Register(t.Context()), transport.ErrUnreachable)
		require.ErrorIs(t, u.Lines()[0].Err(), transport.ErrUnreachable)
	})
}
