package ua_test

// Requests inside a call, in both directions, and the answers the other
// end gets (RFC 3261 §12.2, §14).

import (
	"bytes"
	"context"
	"errors"
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

// rawEstablish has the raw peer call the UA at uaTarget (which answers),
// ACKs the 200 and returns the caller's dialog.
func rawEstablish(t *testing.T, peer *rawPeer, cseq uint32) (*dialog.Dialog, *sip.Request) {
	t.Helper()
	req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
	req.SetCSeq(sip.CSeq{Seq: cseq, Method: sip.INVITE})
	req.SetBody([]byte(testSDP), "application/sdp")
	tx, err := peer.tx.Request(t.Context(), req, uaTarget)
	require.NoError(t, err)
	var ok *sip.Response
	for res := range tx.Responses() {
		if res.IsSuccess() {
			ok = res
			break
		}
	}
	require.NotNil(t, ok, "the UA answered")
	d, err := dialog.NewUAC(req, ok)
	require.NoError(t, err)
	ack, err := d.NewAck(req, ok)
	require.NoError(t, err)
	_, err = peer.tp.SendRequest(t.Context(), ack, uaTarget)
	require.NoError(t, err)
	synctest.Wait()
	return d, req
}

// rawSend sends an in-dialog request from the raw peer and returns the
// final response.
func rawSend(t *testing.T, peer *rawPeer, req *sip.Request) *sip.Response {
	t.Helper()
	tx, err := peer.tx.Request(t.Context(), req, uaTarget)
	require.NoError(t, err)
	res, err := tx.Final(t.Context())
	require.NoError(t, err)
	return res
}

// The dialog's CSeq rules as the UAS applies them (RFC 3261 §12.2.2): a
// request below the peer's last CSeq gets 500; a request of a call that
// ended gets 481.
func TestInDialogCSeqAndEndedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		d, _ := rawEstablish(t, peer, 5)
		in := recv(t, calls, time.Second, "answered call")
		require.Equal(t, ua.CallEstablished, in.State())

		info, err := d.NewRequest(sip.INFO, nil, "")
		require.NoError(t, err)
		info.SetCSeq(sip.CSeq{Seq: 3, Method: sip.INFO})
		require.Equal(t, sip.StatusServerInternalError, rawSend(t, peer, info).StatusCode, "CSeq below the INVITE's")

		opts, err := d.NewRequest(sip.OPTIONS, nil, "")
		require.NoError(t, err)
		res := rawSend(t, peer, opts)
		require.Equal(t, 200, res.StatusCode)
		require.Contains(t, res.Header("Allow"), "BYE", "OPTIONS in a dialog describes the UA")

		bye, err := d.NewRequest(sip.BYE, nil, "")
		require.NoError(t, err)
		require.Equal(t, 200, rawSend(t, peer, bye).StatusCode)
		recv(t, in.Done(), time.Second, "call end")
		require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)

		info2, err := d.NewRequest(sip.INFO, nil, "")
		require.NoError(t, err)
		require.Equal(t, sip.StatusCallTransactionDoesNotExist, rawSend(t, peer, info2).StatusCode, "the dialog is gone")
		_, err = in.Request(t.Context(), sip.INFO, nil, "")
		require.ErrorIs(t, err, ua.ErrCallEnded)
		require.ErrorIs(t, in.Reinvite(t.Context(), []byte(testSDP)), ua.ErrCallEnded)
	})
}

// Config.OnReinvite answers the peer's re-INVITE: its SDP, the status of
// an *AnswerError, or 488 for any other error.
func TestOnReinvite(t *testing.T) {
	answer := "v=0\r\no=- 3 4 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=recvonly\r\n"
	tests := []struct {
		name   string
		answer func() ([]byte, error)
		code   int
		reason string
	}{
		{"answered", func() ([]byte, error) { return []byte(answer), nil }, 200, ""},
		{"AnswerError", func() ([]byte, error) { return nil, &ua.AnswerError{Code: 606, Reason: "Not Today"} }, 606, "Not Today"},
		{"other error", func() ([]byte, error) { return nil, errors.New("no") }, 488, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				var offers [][]byte
				_, _, out, in, _, _ := established(t, n, ua.Config{}, ua.Config{OnReinvite: func(_ context.Context, c *ua.Call, offer []byte) ([]byte, error) {
					mu.Lock()
					offers = append(offers, offer)
					mu.Unlock()
					return tt.answer()
				}})
				err := out.Hold(t.Context())
				mu.Lock()
				require.Len(t, offers, 1)
				require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(offers[0]), "OnReinvite got the offer")
				mu.Unlock()
				if tt.code == 200 {
					require.NoError(t, err)
					require.Equal(t, answer, string(out.RemoteSDP()))
					synctest.Wait()
					require.Equal(t, answer, string(in.LocalSDP()))
					require.True(t, in.RemoteHold())
				} else {
					var se *ua.StatusError
					require.ErrorAs(t, err, &se)
					require.Equal(t, tt.code, se.Code())
					if tt.reason != "" {
						require.Equal(t, tt.reason, se.Response.Reason)
					}
					require.Equal(t, testSDP, string(out.RemoteSDP()), "nothing changed")
					require.Equal(t, ua.CallEstablished, out.State())
				}
				require.NoError(t, out.Hangup(t.Context()))
			})
		})
	}
}

// MESSAGE inside a call reaches OnMessage with the call; the status it
// returns is the answer.
func TestMessageInDialog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		got := make(chan *ua.Message, 2)
		codes := make(chan int, 2)
		codes <- 202
		codes <- 99 // not a final status: 500
		_, _, out, in, _, _ := established(t, n, ua.Config{}, ua.Config{OnMessage: func(_ context.Context, m *ua.Message) int {
			got <- m
			return <-codes
		}})
		res, err := out.Request(t.Context(), sip.MESSAGE, []byte("in call"), "text/plain")
		require.NoError(t, err)
		require.Equal(t, 202, res.StatusCode)
		m := recv(t, got, time.Second, "MESSAGE")
		require.Same(t, in, m.Call)
		require.Equal(t, "in call", string(m.Body))
		require.Equal(t, sip.MESSAGE, m.Request.Method)
		_, err = out.Request(t.Context(), sip.MESSAGE, []byte("again"), "text/plain")
		var se *ua.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 500, se.Code())
		_, err = out.Request(t.Context(), sip.INVITE, nil, "")
		require.ErrorIs(t, err, dialog.ErrMethod, "INVITE has Reinvite")
		require.NoError(t, out.Hangup(t.Context()))
	})
}

// A 481 to an in-dialog request ends the call (RFC 3261 §12.2.1.2).
func TestInDialog481EndsCall(t *testing.T) {
	for _, m := range []sip.Method{sip.INVITE, sip.INFO} {
		t.Run(string(m), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					to, _ := req.To()
					if req.Method == sip.INVITE && to.Tag() == "" {
						inviteSeen(nil)(context.Background(), w, req)
						return
					}
					_ = w.Respond(sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
				}, nil)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				if m == sip.INVITE {
					err = c.Reinvite(t.Context(), []byte(testSDP))
				} else {
					_, err = c.Request(t.Context(), m, nil, "")
				}
				var se *ua.StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, 481, se.Code())
				recv(t, c.Done(), time.Second, "call end")
				require.ErrorIs(t, c.Err(), ua.ErrDialogTerminated)
				require.Zero(t, a.Calls())
			})
		})
	}
}

// A re-INVITE before the ACK of our 2xx is refused locally; once the
// ACK comes it goes out.
func TestReinviteBeforeACK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 1)
		newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		peer := newRawPeer(t, n, "192.0.2.7:5060", answer200, nil)
		req := rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
		req.SetBody([]byte(testSDP), "application/sdp")
		_, err := peer.tx.Request(t.Context(), req, uaTarget)
		require.NoError(t, err)
		in := recv(t, calls, time.Second, "answered call")
		require.Equal(t, ua.CallAnswered, in.State())
		require.Equal(t, "answered", in.State().String())
		require.ErrorIs(t, in.Reinvite(t.Context(), []byte(testSDP)), ua.ErrNotEstablished)
		require.NoError(t, in.Hangup(t.Context()), "BYE after the ACK or 64·T1")
		require.Equal(t, ua.CallEnded, in.State())
	})
}

// The 2xx of a re-INVITE is acknowledged again for each retransmission,
// and a 2xx that comes after Reinvite gave up is acknowledged too (RFC
// 3261 §13.2.2.4, §14.1).
func TestReinvite2xxAcknowledged(t *testing.T) {
	for _, late := range []bool{false, true} {
		name := "retransmitted"
		if late {
			name = "after the caller gave up"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				acks := map[uint32]int{}
				newRawPeer(t, n, "192.0.2.8:5060", func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
					to, _ := req.To()
					if req.Method != sip.INVITE || to.Tag() == "" {
						inviteSeen(nil)(ctx, w, req)
						return
					}
					ok := sip.NewResponse(req, sip.StatusOK, "")
					ok.Set("Contact", "<sip:peer@192.0.2.8:5060>")
					ok.SetBody([]byte(reinviteAnswer), "application/sdp")
					if late {
						<-ctx.Done() // the CANCEL came; answer 200 anyway, as if it crossed
						_ = w.Respond(ok)
						return
					}
					_ = w.Respond(ok)
					for range 2 {
						time.Sleep(500 * time.Millisecond)
						_ = w.Respond(ok)
					}
				}, func(in transport.Incoming) {
					if r, ok := in.Msg.(*sip.Request); ok && r.Method == sip.ACK {
						cs, _ := r.CSeq()
						mu.Lock()
						acks[cs.Seq]++
						mu.Unlock()
					}
				})
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				ctx := t.Context()
				if late {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Second)
					defer cancel()
				}
				err = c.Reinvite(ctx, ua.SetSDPDirection(testSDP2(), ua.MediaSendOnly))
				time.Sleep(5 * time.Second)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				require.Equal(t, 1, acks[1], "the INVITE's 2xx")
				if late {
					require.ErrorIs(t, err, context.DeadlineExceeded)
					require.Equal(t, 1, acks[2], "the late 2xx of the re-INVITE is acknowledged")
				} else {
					require.NoError(t, err)
					require.Equal(t, 3, acks[2], "one ACK per copy of the re-INVITE's 2xx")
					require.Equal(t, reinviteAnswer, string(c.RemoteSDP()))
				}
				require.Equal(t, ua.CallEstablished, c.State())
			})
		})
	}
}

func testSDP2() []byte { return []byte(testSDP) }

// A forking proxy delivers two 2xx with different To tags, each twice: the
// first is the call, the second is acknowledged and ended with BYE (RFC
// 3261 §13.2.2.4), and every copy of either gets an ACK.
func TestForkedAnswersSurplusByed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		acks := map[string]int{} // by To tag
		byes := map[string]int{}
		newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			to, _ := req.To()
			switch {
			case req.Method == sip.BYE:
				mu.Lock()
				byes[to.Tag()]++
				mu.Unlock()
				_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
			case req.Method == sip.INVITE:
				for _, tag := range []string{"fork-a", "fork-b", "fork-a", "fork-b"} { // each 2xx, then its retransmission
					ok := sip.NewResponseTag(req, sip.StatusOK, "", tag)
					ok.Set("Contact", "<sip:"+tag+"@192.0.2.8:5060>")
					ok.SetBody([]byte(testSDP), "application/sdp")
					_ = w.Respond(ok)
				}
			}
		}, func(in transport.Incoming) {
			if r, ok := in.Msg.(*sip.Request); ok && r.Method == sip.ACK {
				to, _ := r.To()
				mu.Lock()
				acks[to.Tag()]++
				mu.Unlock()
			}
		})
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		time.Sleep(time.Second)
		synctest.Wait()
		remote := c.Remote()
		require.Equal(t, "fork-a", remote.Tag(), "the first 2xx is the call")
		mu.Lock()
		require.Equal(t, 2, acks["fork-a"], "one ACK per copy of the call's 2xx")
		require.Equal(t, 2, acks["fork-b"], "the surplus 2xx is acknowledged, each copy")
		require.Equal(t, 1, byes["fork-b"], "then ended, once")
		require.Zero(t, byes["fork-a"])
		mu.Unlock()
		require.Equal(t, 1, a.Calls())
		require.NoError(t, c.Hangup(t.Context()))
	})
}

// No answer at all to an in-dialog request (the peer is gone) ends the
// call once the transaction times out (RFC 3261 §12.2.1.2).
func TestInDialogTimeoutEndsCall(t *testing.T) {
	for _, m := range []sip.Method{sip.INVITE, sip.INFO} {
		t.Run(string(m), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				peer := newRawPeer(t, n, "192.0.2.8:5060", inviteSeen(nil), nil)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				peer.close() // gone without a BYE
				t0 := time.Now()
				if m == sip.INVITE {
					err = c.Reinvite(t.Context(), []byte(testSDP))
				} else {
					_, err = c.Request(t.Context(), m, nil, "")
				}
				require.ErrorIs(t, err, transaction.ErrTimeout)
				require.Equal(t, 32*time.Second, time.Since(t0).Round(time.Second), "Timer B or F: 64·T1")
				recv(t, c.Done(), time.Second, "call end")
				require.ErrorIs(t, c.Err(), ua.ErrDialogTerminated)
				require.Zero(t, a.Calls())
			})
		})
	}
}

// ackGate is a Tracer that holds the goroutine sending our first ACK
// until the UA has answered a BYE (or a second passed): the peer's BYE
// then arrives right after our ACK, before Dial's goroutine goes on.
type ackGate struct {
	once     sync.Once
	answered chan struct{}
}

func (g *ackGate) Trace(ev transport.TraceEvent) {
	if ev.Direction != transport.Out {
		return
	}
	switch {
	case bytes.HasPrefix(ev.Data, []byte("ACK ")):
		select {
		case <-g.answered:
		case <-time.After(time.Second):
		}
	case bytes.HasPrefix(ev.Data, []byte("SIP/2.0 ")) && bytes.Contains(ev.Data, []byte(" BYE\r\n")):
		g.once.Do(func() { close(g.answered) })
	}
}

// The callee may send BYE as soon as it has our ACK (RFC 3261 §15): the
// call must be known by then.
func TestByeRightAfterACK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		var d *dialog.Dialog
		byeRes := make(chan int, 1)
		var peer *rawPeer
		peer = newRawPeer(t, n, "192.0.2.8:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			if req.Method != sip.INVITE {
				_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
				return
			}
			ok := sip.NewResponseTag(req, sip.StatusOK, "", sip.NewTag())
			ok.Set("Contact", "<sip:peer@192.0.2.8:5060>")
			ok.SetBody([]byte(testSDP), "application/sdp")
			ud, err := dialog.NewUAS(req, ok)
			if err == nil {
				mu.Lock()
				d = ud
				mu.Unlock()
			}
			_ = w.Respond(ok)
		}, func(in transport.Incoming) {
			if r, ok := in.Msg.(*sip.Request); !ok || r.Method != sip.ACK {
				return
			}
			mu.Lock()
			bye, err := d.NewRequest(sip.BYE, nil, "")
			mu.Unlock()
			if err != nil {
				return
			}
			go func() {
				tx, err := peer.tx.Request(context.Background(), bye, transport.Target{Network: transport.UDP, Addr: parseAP("192.0.2.1:5060")})
				if err != nil {
					byeRes <- 0
					return
				}
				res, err := tx.Final(context.Background())
				if err != nil {
					byeRes <- 0
					return
				}
				byeRes <- res.StatusCode
			}()
		})
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Transport: ua.TransportConfig{Tracer: &ackGate{answered: make(chan struct{})}}})
		c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		require.Equal(t, sip.StatusOK, recv(t, byeRes, time.Minute, "BYE's answer"), "not 481: the dialog was known")
		recv(t, c.Done(), time.Second, "call end")
		require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
		require.Zero(t, a.Calls())
	})
}
