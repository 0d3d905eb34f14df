package ua_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// rawInvite builds an INVITE from the raw peer at 192.0.2.7 to the UA.
func rawRequest(m sip.Method, uri string) *sip.Request {
	u, _ := sip.ParseURI(uri)
	req := sip.NewRequest(m, u)
	from, _ := sip.ParseAddress("<sip:raw@192.0.2.7:5060>;tag=" + sip.NewTag())
	req.SetFrom(from)
	req.Set("Contact", "<sip:raw@192.0.2.7:5060>")
	return req
}

var uaTarget = transport.Target{Network: transport.UDP, Addr: mustAddrPort("192.0.2.2:5060")}

func TestAutomaticAnswers(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*sip.Request)
		uri   string
		want  int
		check func(t *testing.T, res *sip.Response)
	}{
		{"unsupported Require", func(r *sip.Request) { r.Set("Require", "foo") }, "sip:bob@192.0.2.2:5060", 420,
			func(t *testing.T, res *sip.Response) { require.Equal(t, "foo", res.Header("Unsupported")) }},
		{"unknown scheme", nil, "im:bob@192.0.2.2", 416, nil},
		{"missing Call-ID", func(r *sip.Request) { r.Del("Call-ID") }, "sip:bob@192.0.2.2:5060", 400, nil},
		{"two Max-Forwards", func(r *sip.Request) { r.Add("Max-Forwards", "70") }, "sip:bob@192.0.2.2:5060", 400, nil},
		{"OPTIONS health probe", nil, "sip:192.0.2.2:5060", 200, func(t *testing.T, res *sip.Response) {
			require.Contains(t, res.Header("Allow"), "INVITE")
			require.Contains(t, res.Header("Accept"), "application/sdp")
			require.Contains(t, res.String(), "\r\nSupported:")
		}},
		{"BYE outside a dialog", nil, "sip:bob@192.0.2.2:5060", 481, nil},
		{"UPDATE not enabled", nil, "sip:bob@192.0.2.2:5060", 501, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				called := false
				newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(context.Context, *ua.IncomingCall) { called = true }})
				peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
				m := sip.INVITE
				switch {
				case strings.HasPrefix(tt.name, "OPTIONS"):
					m = sip.OPTIONS
				case strings.HasPrefix(tt.name, "BYE"):
					m = sip.BYE
				case strings.HasPrefix(tt.name, "UPDATE"):
					m = sip.UPDATE
				}
				req := rawRequest(m, "sip:bob@192.0.2.2:5060")
				if tt.uri != "" {
					u, err := sip.ParseURI(tt.uri)
					if err == nil {
						req.URI = u
					} else {
						req.URI = sip.URI{Scheme: "im", Opaque: "bob@192.0.2.2"}
					}
				}
				if tt.edit != nil {
					tt.edit(req)
				}
				tx, err := peer.tx.Request(t.Context(), req, uaTarget)
				require.NoError(t, err)
				res, err := tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, tt.want, res.StatusCode)
				if tt.check != nil {
					tt.check(t, res)
				}
				require.False(t, called, "the host never saw it")
			})
		})
	}
}

// A UAS 2xx is retransmitted (T1, 2T1, 4T1, then T2) until the ACK; with no
// ACK within 64·T1 the call ends with a BYE.
func TestAnswerRetransmittedUntilACK(t *testing.T) {
	for _, ack := range []bool{true, false} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				calls := make(chan *ua.Call, 1)
				newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
				var mu sync.Mutex
				var oks []time.Time
				var byes int
				var byeAt time.Time
				peer := newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					if req.Method == sip.BYE {
						mu.Lock()
						byes++
						byeAt = time.Now()
						mu.Unlock()
					}
					_ = w.Respond(sip.NewResponse(req, 200, ""))
				}, func(in transport.Incoming) {
					if res, ok := in.Msg.(*sip.Response); ok && res.StatusCode == 200 {
						mu.Lock()
						oks = append(oks, in.At)
						mu.Unlock()
					}
				})
				req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
				req.SetBody([]byte(testSDP), "application/sdp")
				tx, err := peer.tx.Request(t.Context(), req, uaTarget)
				require.NoError(t, err)
				t0 := time.Now()
				var first *sip.Response
				for res := range tx.Responses() {
					if res.StatusCode == 200 {
						if first == nil {
							first = res
							if ack {
								break
							}
						}
						mu.Lock()
						oks = append(oks, time.Now())
						mu.Unlock()
					}
				}
				c := <-calls
				if ack {
					time.Sleep(1200 * time.Millisecond) // two retransmissions (0.5 s, 1.5 s) go by first
					d, err := dialog.NewUAC(req, first)
					require.NoError(t, err)
					a, err := d.NewAck(req, first)
					require.NoError(t, err)
					_, err = peer.tp.SendRequest(t.Context(), a, uaTarget)
					require.NoError(t, err)
					synctest.Wait()
					require.Equal(t, ua.CallEstablished, c.State())
					mu.Lock()
					seen := len(oks)
					mu.Unlock()
					time.Sleep(time.Minute)
					synctest.Wait()
					mu.Lock()
					require.Equal(t, seen, len(oks), "no retransmission after the ACK")
					mu.Unlock()
					require.NoError(t, c.Hangup(t.Context()))
					return
				}
				<-c.Done()
				require.ErrorIs(t, c.Err(), ua.ErrNoACK)
				require.Equal(t, 32*time.Second, time.Since(t0).Round(time.Second), "64·T1")
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				require.Equal(t, 1, byes, "BYE after 64·T1 without ACK")
				require.Equal(t, 32*time.Second, byeAt.Sub(t0).Round(time.Second), "the BYE goes at 64·T1")
				require.Len(t, oks, 11, "the 2xx and its retransmissions at 0.5, 1.5, 3.5, 7.5 s, then every 4 s until 31.5 s")
				var gaps []time.Duration
				for i := 1; i < len(oks) && i < 6; i++ {
					gaps = append(gaps, oks[i].Sub(oks[i-1]).Round(100*time.Millisecond))
				}
				require.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, gaps)
			})
		})
	}
}

func mustAddrPort(s string) netipAddrPort { return parseAP(s) }
