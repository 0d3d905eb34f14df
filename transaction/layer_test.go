package transaction_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

func secs(fs ...float64) []time.Duration {
	out := make([]time.Duration, len(fs))
	for i, f := range fs {
		out[i] = time.Duration(f * float64(time.Second))
	}
	return out
}

func TestNewNeedsTransport(t *testing.T) {
	_, err := transaction.New(nil, transaction.Config{})
	require.ErrorIs(t, err, transaction.ErrNoTransport)
}

// TestExchange: a request and its response over UDP and TCP, both sides
// cleaning up after Timers J and K (zero over TCP).
func TestExchange(t *testing.T) {
	tests := []struct {
		name       string
		target     func() transport.Target
		clientGone time.Duration // when the client transaction ends (K)
		serverGone time.Duration // when the server transaction ends (J)
	}{
		{"udp", udp, 5 * time.Second, 32 * time.Second},
		{"tcp", tcp, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					calls.Add(1)
					require.NoError(t, w.Respond(sip.NewResponse(req, 200, "")))
					require.ErrorIs(t, w.Respond(sip.NewResponse(req, 200, "")), transaction.ErrFinalSent)
				})
				p := newPair(t, loss{}, h, nil)
				start := time.Now()
				tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tt.target())
				require.NoError(t, err)
				require.Equal(t, []int{200}, collect(tx))
				require.NoError(t, tx.Err())
				require.Equal(t, tt.clientGone, time.Since(start))
				synctest.Wait()
				require.Equal(t, int32(1), calls.Load())
				time.Sleep(tt.serverGone)
				synctest.Wait()
				require.Equal(t, 0, p.client.Len())
				require.Equal(t, 0, p.server.Len())
				require.Len(t, p.w.sentBy(clientAddr, start, isMethod(sip.OPTIONS)), 1)
				require.Len(t, p.w.sentBy(serverAddr, start, isStatus(200)), 1)
			})
		})
	}
}

// TestNonInviteTimeout: no answer; Timer E retransmits at the RFC instants
// and Timer F ends the transaction at 64*T1.
func TestNonInviteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, nil, nil)
		p.w.blackhole[serverAddr] = true
		start := time.Now()
		tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.Empty(t, collect(tx))
		require.Equal(t, 32*time.Second, time.Since(start))
		var te *transaction.TimeoutError
		require.ErrorAs(t, tx.Err(), &te)
		require.Equal(t, "F", te.Timer)
		require.ErrorIs(t, tx.Err(), transaction.ErrTimeout)
		require.Equal(t, secs(0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5),
			p.w.sentBy(clientAddr, start, isMethod(sip.OPTIONS)))
	})
}

// TestInviteTimeout: Timer A back-off from 0 to 31.5 s, Timer B at 32 s;
// over TCP a single send.
func TestInviteTimeout(t *testing.T) {
	tests := []struct {
		name   string
		target func() transport.Target
		want   []time.Duration
	}{
		{"udp", udp, secs(0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)},
		{"tcp", tcp, secs(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{}, nil, nil)
				p.w.blackhole[serverAddr] = true
				start := time.Now()
				tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tt.target())
				require.NoError(t, err)
				_, err = tx.Final(t.Context())
				require.Equal(t, 32*time.Second, time.Since(start))
				var te *transaction.TimeoutError
				require.ErrorAs(t, err, &te)
				require.Equal(t, "B", te.Timer)
				require.Equal(t, tt.want, p.w.sentBy(clientAddr, start, isMethod(sip.INVITE)))
			})
		})
	}
}

// TestTrying100: the INVITE server transaction sends 100 Trying at 200 ms
// when the handler is slow, and not when it answers sooner.
func TestTrying100(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration // before the handler's 180
		want  []int
		at100 []time.Duration
	}{
		{"slow handler", time.Second, []int{100, 180, 486}, secs(0.2)},
		{"quick handler", 100 * time.Millisecond, []int{180, 486}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					time.Sleep(tt.delay)
					r := sip.NewResponse(req, 180, "")
					require.NoError(t, w.Respond(r))
					f := sip.NewResponse(req, 486, "")
					f.SetToTag(toTag(r))
					require.NoError(t, w.Respond(f))
				})
				p := newPair(t, loss{}, h, nil)
				start := time.Now()
				tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tcp())
				require.NoError(t, err)
				require.Equal(t, tt.want, collect(tx))
				require.NoError(t, tx.Err())
				require.Equal(t, tt.at100, p.w.sentBy(serverAddr, start, isStatus(100)))
				// The client transaction ACKed the 486 itself, over TCP once.
				require.Len(t, p.w.sentBy(clientAddr, start, isMethod(sip.ACK)), 1)
				synctest.Wait()
				require.Empty(t, p.sStray.list(), "the ACK for a non-2xx belongs to the transaction")
				require.Equal(t, 0, p.server.Len())
			})
		})
	}
}

func toTag(m sip.Message) string {
	a, err := m.To()
	if err != nil {
		return ""
	}
	return a.Tag()
}

// TestRetransmissionAbsorbed: a retransmitted request reaches the handler
// once and is answered with the last response.
func TestRetransmissionAbsorbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			calls.Add(1)
			require.NoError(t, w.Respond(sip.NewResponse(req, 100, "")))
			select {
			case <-release:
			case <-ctx.Done():
			}
			require.NoError(t, w.Respond(sip.NewResponse(req, 202, "")))
		})
		p := newPair(t, loss{}, h, nil)
		start := time.Now()
		req := newReq(sip.MESSAGE)
		tx, err := p.client.Request(t.Context(), req, udp())
		require.NoError(t, err)
		// Timer E retransmits at 0.5 s, then in Proceeding every T2; each
		// copy gets the 100 again.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Equal(t, secs(0, 0.5, 4.5), p.w.sentBy(clientAddr, start, isMethod(sip.MESSAGE)))
		require.Equal(t, secs(0, 0.5, 4.5), p.w.sentBy(serverAddr, start, isStatus(100)))
		close(release)
		synctest.Wait()
		// A late copy of the request gets the final response again.
		inject(p.server, clientAddr, req)
		synctest.Wait()
		require.Len(t, p.w.sentBy(serverAddr, start, isStatus(202)), 2)
		require.Equal(t, []int{100, 100, 100, 202}, collect(tx))
		require.Equal(t, int32(1), calls.Load())
	})
}

// inject delivers a copy of m to l as if from addr over UDP.
func inject(l *transaction.Layer, from interface{ String() string }, m sip.Message) {
	msg, err := sip.Parse(m.AppendTo(nil))
	if err != nil {
		panic(err)
	}
	f := transport.Flow{Network: transport.UDP, Local: serverAddr, Remote: clientAddr}
	if from.String() == serverAddr.String() {
		f.Local, f.Remote = clientAddr, serverAddr
	}
	l.HandleMessage(transport.Incoming{Msg: msg, Flow: f, At: time.Now()})
}

// TestCancel: the caller's context ends after a 180; the layer sends
// CANCEL, the server answers it 200 and cancels the handler's context, the
// handler returns and the layer answers 487, which the client ACKs.
func TestCancel(t *testing.T) {
	tests := []struct {
		name       string
		viaContext bool // cancel through ctx, else through Cancel
		handler487 bool // the handler answers 487 itself
	}{
		{"context, layer answers 487", true, false},
		{"Cancel, handler answers 487", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cause atomic.Value
				h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
					r := sip.NewResponse(req, 180, "")
					require.NoError(t, w.Respond(r))
					<-ctx.Done()
					cause.Store(context.Cause(ctx))
					if tt.handler487 {
						f := sip.NewResponse(req, 487, "")
						f.SetToTag(toTag(r))
						require.NoError(t, w.Respond(f))
					}
				})
				p := newPair(t, loss{}, h, nil)
				start := time.Now()
				ctx, cancel := context.WithCancel(t.Context())
				tx, err := p.client.Request(ctx, newReq(sip.INVITE), udp())
				require.NoError(t, err)
				r := <-tx.Responses()
				require.Equal(t, 180, r.StatusCode)
				time.Sleep(time.Second)
				if tt.viaContext {
					cancel()
				} else {
					tx.Cancel()
				}
				r = <-tx.Responses()
				require.Equal(t, 487, r.StatusCode)
				require.Equal(t, toTag(r), toTag(mustFirst(t, p.w, serverAddr, 180)))
				_, open := <-tx.Responses()
				require.False(t, open) // UDP: ends after Timer D
				require.NoError(t, tx.Err())
				cancel()
				require.Equal(t, transaction.ErrCanceled, cause.Load())
				require.Equal(t, secs(1), p.w.sentBy(clientAddr, start, isMethod(sip.CANCEL)))
				require.Equal(t, secs(1), p.w.sentBy(serverAddr, start, func(m sip.Message) bool {
					r, ok := m.(*sip.Response)
					c, _ := m.CSeq()
					return ok && r.StatusCode == 200 && c.Method == sip.CANCEL
				}))
				require.Len(t, p.w.sentBy(clientAddr, start, isMethod(sip.ACK)), 1)
				synctest.Wait()
				require.Empty(t, p.sStray.list())
				require.Empty(t, p.cStray.list())
				time.Sleep(time.Minute)
				synctest.Wait()
				require.Equal(t, 0, p.client.Len())
				require.Equal(t, 0, p.server.Len())
			})
		})
	}
}

func mustFirst(t *testing.T, w *wire, from interface{}, code int) sip.Message {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.log {
		if r, ok := s.msg.(*sip.Response); ok && r.StatusCode == code {
			return r
		}
	}
	t.Fatalf("no %d sent", code)
	return nil
}

// TestCancelBeforeProvisional: canceled in Calling, the CANCEL waits for
// the first provisional response (§9.1).
func TestCancelBeforeProvisional(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			time.Sleep(3 * time.Second) // the 100 Trying goes at 0.2 s
			<-ctx.Done()
		})
		p := newPair(t, loss{}, h, nil)
		start := time.Now()
		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tcp())
		require.NoError(t, err)
		tx.Cancel()
		require.Equal(t, []int{100, 487}, collect(tx))
		require.Equal(t, secs(0.2), p.w.sentBy(clientAddr, start, isMethod(sip.CANCEL)))
	})
}

// TestCancelUnmatched: a CANCEL that matches no INVITE gets 481 (§9.2).
func TestCancelUnmatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, respondWith(200), nil)
		c := newReq(sip.CANCEL)
		tx, err := p.client.Request(t.Context(), c, udp())
		require.NoError(t, err)
		require.Equal(t, []int{481}, collect(tx))
	})
}

// TestInvite2xx: 2xx responses and the TU's retransmissions of them pass
// through Accepted on both sides; after Timer M a 2xx goes to HandleDirect, and an
// ACK for the 2xx goes to the server's HandleDirect.
func TestInvite2xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ok *sip.Response
		var wmu sync.Mutex
		var w transaction.ResponseWriter
		h := transaction.HandlerFunc(func(_ context.Context, rw transaction.ResponseWriter, req *sip.Request) {
			r := sip.NewResponse(req, 200, "")
			wmu.Lock()
			ok, w = r, rw
			wmu.Unlock()
			require.NoError(t, rw.Respond(r))
		})
		p := newPair(t, loss{}, h, nil)
		start := time.Now()
		req := newReq(sip.INVITE)
		tx, err := p.client.Request(t.Context(), req, udp())
		require.NoError(t, err)
		r := <-tx.Responses()
		require.Equal(t, 200, r.StatusCode)
		// The UAS core retransmits its 2xx (§13.3.1.4) through the
		// transaction while it is in Accepted.
		for _, d := range []time.Duration{500 * time.Millisecond, time.Second} {
			time.Sleep(d)
			wmu.Lock()
			require.NoError(t, w.Respond(ok))
			wmu.Unlock()
			r = <-tx.Responses()
			require.Equal(t, 200, r.StatusCode)
		}
		wmu.Lock()
		require.ErrorIs(t, w.Respond(sip.NewResponse(req, 486, "")), transaction.ErrFinalSent)
		wmu.Unlock()
		// A retransmitted INVITE is absorbed in Accepted.
		inject(p.server, clientAddr, req)
		synctest.Wait()
		require.Len(t, p.w.sentBy(serverAddr, start, isStatus(200)), 3)
		// The TU's ACK (new branch) reaches the server's HandleDirect.
		ack := sip.NewRequest(sip.ACK, req.URI)
		ack.SetFrom(must(req.From()))
		ack.SetTo(must(r.To()))
		ack.SetCallID(req.CallID())
		ack.SetCSeq(sip.CSeq{Seq: 1, Method: sip.ACK})
		ack.Prepend("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch="+sip.NewBranch())
		inject(p.server, clientAddr, ack)
		synctest.Wait()
		require.Len(t, p.sStray.list(), 1)
		require.Equal(t, sip.ACK, p.sStray.list()[0].(*sip.Request).Method)
		_, open := <-tx.Responses()
		require.False(t, open)
		require.Equal(t, 32*time.Second, time.Since(start), "Timer M runs from the first 2xx")
		// After Timer M the client has no transaction: a 2xx goes to HandleDirect.
		inject(p.client, serverAddr, ok)
		synctest.Wait()
		require.Len(t, p.cStray.list(), 1)
		wmu.Lock()
		require.ErrorIs(t, w.Respond(ok), transaction.ErrTerminated, "Timer L ended the server side")
		wmu.Unlock()
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTransportErrors: a failing SendRequest and a failing flow end the
// transaction with ErrTransport.
func TestTransportErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("connection refused")
		release := make(chan struct{})
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
		p := newPair(t, loss{}, h, nil)
		p.cn.failReq.Store(&boom)
		_, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.ErrorIs(t, err, transaction.ErrTransport)
		require.ErrorIs(t, err, boom)
		p.cn.failReq.Store(nil)

		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tcp())
		require.NoError(t, err)
		synctest.Wait()
		p.client.HandleFlowError(tx.Flow(), boom)
		for range tx.Responses() {
		}
		require.ErrorIs(t, tx.Err(), transaction.ErrTransport)
		require.ErrorIs(t, tx.Err(), boom)
		require.Equal(t, 0, p.client.Len())
		close(release)
	})
}

// TestFlowErrorWithoutClientsIsFree: a closed connection costs a layer
// with no client transaction nothing (no goroutine, no allocation), as a
// UAS with a connection per call closes one for every call; while a client
// transaction is live the error is still visited (TestTransportErrors),
// and once it has ended the cost is nothing again, on both sides.
func TestFlowErrorWithoutClientsIsFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			require.NoError(t, w.Respond(sip.NewResponse(req, 200, "")))
		})
		p := newPair(t, loss{}, h, nil)
		boom := errors.New("connection reset")
		f := transport.Flow{Network: transport.TCP, Local: serverAddr, Remote: clientAddr, Conn: 7}
		free := func(l *transaction.Layer) float64 {
			return testing.AllocsPerRun(100, func() { l.HandleFlowError(f, boom) })
		}
		require.Zero(t, free(p.server), "no client transaction yet")

		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tcp())
		require.NoError(t, err)
		require.NotZero(t, free(p.client), "a live client transaction: the shards are visited")
		require.Equal(t, []int{200}, collect(tx))
		synctest.Wait()
		require.Equal(t, 0, p.client.Len())
		require.Zero(t, free(p.client), "the transaction has ended")
		require.Zero(t, free(p.server))
	})
}

// TestMaxTransactions: beyond the limit new requests get 503 and Request
// fails.
func TestMaxTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			_ = w.Respond(sip.NewResponse(req, 200, ""))
		})
		p := newPair(t, loss{}, h, func(c, s *transaction.Config) { s.MaxTransactions = 1 })
		tx1, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.NoError(t, err)
		synctest.Wait()
		tx2, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.NoError(t, err)
		require.Equal(t, []int{503}, collect(tx2))
		close(release)
		require.Equal(t, []int{200}, collect(tx1))

		// Client side.
		third := &node{w: p.w, addr: netip.MustParseAddrPort("10.0.0.3:5060")}
		one, err := transaction.New(third, transaction.Config{MaxTransactions: 1})
		require.NoError(t, err)
		defer one.Close()
		p.w.blackhole[serverAddr] = true
		_, err = one.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.NoError(t, err)
		_, err = one.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.ErrorIs(t, err, transaction.ErrTooManyTransactions)
	})
}

// TestClose: Close ends client transactions with ErrClosed and cancels
// handlers' contexts; Request fails afterwards.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cause atomic.Value
		h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
		})
		p := newPair(t, loss{}, h, nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), tcp())
		require.NoError(t, err)
		synctest.Wait()
		require.NoError(t, p.server.Close())
		require.NoError(t, p.server.Close())
		require.Equal(t, transaction.ErrClosed, cause.Load())
		require.NoError(t, p.client.Close())
		for range tx.Responses() {
		}
		require.ErrorIs(t, tx.Err(), transaction.ErrClosed)
		_, err = p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.ErrorIs(t, err, transaction.ErrClosed)
	})
}

// TestShutdown waits for transactions to finish, Timer J included.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, respondWith(200), nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.Equal(t, []int{200}, collect(tx))
		start := time.Now()
		require.NoError(t, p.server.Shutdown(t.Context()))
		require.Equal(t, 32*time.Second-5*time.Second, time.Since(start), "until Timer J")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.ErrorIs(t, p.client.Shutdown(ctx), context.DeadlineExceeded)
	})
}

// TestHandlerWithoutAnswer: a handler that returns without a final
// response gets a 500 sent for it; no Handler at all means 501.
func TestHandlerWithoutAnswer(t *testing.T) {
	tests := []struct {
		name string
		h    transaction.Handler
		want int
	}{
		{"silent handler", transaction.HandlerFunc(func(context.Context, transaction.ResponseWriter, *sip.Request) {}), 500},
		{"no handler", nil, 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{}, tt.h, nil)
				tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
				require.NoError(t, err)
				require.Equal(t, []int{tt.want}, collect(tx))
			})
		})
	}
}

// TestRespondErrors checks what Respond refuses.
func TestRespondErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make(chan []error, 1)
		h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			bad := sip.NewResponse(req, 200, "")
			bad.StatusCode = 99
			e1 := w.Respond(bad)
			e2 := w.Respond(nil)
			e3 := w.Respond(sip.NewResponse(req, 404, ""))
			e4 := w.Respond(sip.NewResponse(req, 180, ""))
			errs <- []error{e1, e2, e3, e4}
		})
		p := newPair(t, loss{}, h, nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), tcp())
		require.NoError(t, err)
		require.Equal(t, []int{404}, collect(tx))
		got := <-errs
		require.ErrorIs(t, got[0], transaction.ErrInvalidMessage)
		require.ErrorIs(t, got[1], transaction.ErrInvalidMessage)
		require.NoError(t, got[2])
		require.ErrorIs(t, got[3], transaction.ErrFinalSent)
		_, err = p.client.Request(t.Context(), newReq(sip.ACK), tcp())
		require.ErrorIs(t, err, transaction.ErrInvalidMessage)
	})
}

// TestDuplicateBranch: a caller-chosen branch already in use ends the new
// transaction with ErrDuplicate; a request without Via gets one with a
// fresh branch.
func TestDuplicateBranch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, loss{}, nil, nil)
		p.w.blackhole[serverAddr] = true
		a, b := newReq(sip.OPTIONS), newReq(sip.OPTIONS)
		a.Prepend("Via", "SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKsame")
		b.Prepend("Via", "SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKsame")
		tx1, err := p.client.Request(t.Context(), a, tcp())
		require.NoError(t, err)
		tx2, err := p.client.Request(t.Context(), b, tcp())
		require.NoError(t, err)
		require.Empty(t, collect(tx2))
		require.ErrorIs(t, tx2.Err(), transaction.ErrDuplicate)
		c := newReq(sip.OPTIONS)
		tx3, err := p.client.Request(t.Context(), c, tcp())
		require.NoError(t, err)
		v, err := tx3.Request().TopVia()
		require.NoError(t, err)
		require.True(t, v.HasCookie())
		require.NotEqual(t, "z9hG4bKsame", v.Branch())
		require.Empty(t, collect(tx1))
		require.ErrorIs(t, tx1.Err(), transaction.ErrTimeout)
	})
}

// TestDetach: once detached after the first 2xx, the retransmitted 2xx
// reach the function on the layer's loop, Responses closes at once, and
// nothing waits on the transaction for the rest of Timer M.
func TestDetach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ok *sip.Response
		var wmu sync.Mutex
		var w transaction.ResponseWriter
		h := transaction.HandlerFunc(func(_ context.Context, rw transaction.ResponseWriter, req *sip.Request) {
			r := sip.NewResponse(req, 200, "")
			wmu.Lock()
			ok, w = r, rw
			wmu.Unlock()
			require.NoError(t, rw.Respond(r))
		})
		p := newPair(t, loss{}, h, nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.INVITE), udp())
		require.NoError(t, err)
		r := <-tx.Responses()
		require.Equal(t, 200, r.StatusCode)

		var mu sync.Mutex
		var got []int
		tx.Detach(func(r *sip.Response) {
			mu.Lock()
			got = append(got, r.StatusCode)
			mu.Unlock()
		})
		_, open := <-tx.Responses()
		require.False(t, open, "Responses closes on Detach")
		for range 2 {
			time.Sleep(500 * time.Millisecond)
			wmu.Lock()
			require.NoError(t, w.Respond(ok))
			wmu.Unlock()
			synctest.Wait()
		}
		mu.Lock()
		require.Equal(t, []int{200, 200}, got, "retransmitted 2xx go to the detached function")
		mu.Unlock()
		tx.Detach(func(*sip.Response) { t.Error("a second Detach must not replace the first") })
		time.Sleep(40 * time.Second) // past Timer M
		synctest.Wait()
		require.NoError(t, tx.Err())
	})
}

// inlineHandler serves OPTIONS inline (answering 200 now) and MESSAGE
// inline (answering 202 later, from another goroutine), and hands the rest
// to a goroutine through transaction.Go, where they get 486.
type inlineHandler struct {
	inline, goroutine atomic.Int32
	later             chan func()
	slow              transaction.Handler
}

func newInlineHandler() *inlineHandler {
	h := &inlineHandler{later: make(chan func(), 1)}
	h.slow = transaction.Go(transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		h.goroutine.Add(1)
		_ = w.Respond(sip.NewResponse(req, 486, ""))
	}))
	return h
}

func (h *inlineHandler) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	switch req.Method {
	case sip.OPTIONS:
		h.inline.Add(1)
		_ = w.Respond(sip.NewResponse(req, 200, ""))
	case sip.MESSAGE:
		h.inline.Add(1)
		res := sip.NewResponse(req, 202, "")
		h.later <- func() { _ = w.Respond(res) }
	default:
		h.slow.ServeSIP(ctx, w, req)
	}
}

func (h *inlineHandler) HandleDirect(transport.Incoming) {}

// TestInlineHandler: a Handler runs on the delivering goroutine and owns
// the answer: what it serves is answered by it, now or later, and never by
// the layer's 500; what it hands to transaction.Go runs there.
func TestInlineHandler(t *testing.T) {
	tests := []struct {
		method          sip.Method
		want            int
		inline, goroute int32
	}{
		{sip.OPTIONS, 200, 1, 0},
		{sip.MESSAGE, 202, 1, 0},
		{sip.INFO, 486, 0, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newInlineHandler()
				p := newPair(t, loss{}, nil, func(_, s *transaction.Config) { s.Handler = h })
				tx, err := p.client.Request(t.Context(), newReq(tt.method), udp())
				require.NoError(t, err)
				synctest.Wait()
				select {
				case f := <-h.later:
					time.Sleep(100 * time.Millisecond) // the handler answers later
					f()
				default:
				}
				require.Equal(t, []int{tt.want}, collect(tx))
				require.Equal(t, tt.inline, h.inline.Load())
				require.Equal(t, tt.goroute, h.goroutine.Load())
			})
		})
	}
}

// TestGoAnswersForTheHandler: a handler run through transaction.Go that
// returns without a final response gets the layer's 500.
func TestGoAnswersForTheHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		silent := transaction.HandlerFunc(func(context.Context, transaction.ResponseWriter, *sip.Request) {})
		p := newPair(t, loss{}, silent, nil)
		tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.Equal(t, []int{500}, collect(tx))
	})
}

// TestGoRecoversPanics: a handler run through transaction.Go that panics
// gets the layer's 500, the panic is logged with its stack, and the layer
// goes on serving.
func TestGoRecoversPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		var mu sync.Mutex
		var calls int
		h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				panic("handler bug")
			}
			_ = w.Respond(sip.NewResponse(req, 200, ""))
		})
		p := newPair(t, loss{}, h, func(_, s *transaction.Config) {
			s.Logger = slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, nil))
		})
		tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.Equal(t, []int{500}, collect(tx))
		tx, err = p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
		require.NoError(t, err)
		require.Equal(t, []int{200}, collect(tx), "the layer still serves")
		mu.Lock()
		defer mu.Unlock()
		require.Contains(t, logs.String(), "handler panicked")
		require.Contains(t, logs.String(), "handler bug")
		require.Contains(t, logs.String(), "layer_test.go", "with the stack")
	})
}

// lockedWriter serializes writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTimerSlack: with slack, Timer J of two transactions 30 ms apart
// fires once, at the next multiple of the slack; without, each on time.
func TestTimerSlack(t *testing.T) {
	tests := []struct {
		name                      string
		slack                     time.Duration
		at32040, at32050, at32100 int // live server transactions then
	}{
		{"none", -1, 0, 0, 0},
		{"100ms", 100 * time.Millisecond, 2, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, loss{}, respondWith(200), func(_, s *transaction.Config) { s.TimerSlack = tt.slack })
				start := time.Now()
				for _, at := range []time.Duration{10 * time.Millisecond, 40 * time.Millisecond} {
					time.Sleep(at - time.Since(start))
					tx, err := p.client.Request(t.Context(), newReq(sip.OPTIONS), udp())
					require.NoError(t, err)
					_, err = tx.Final(t.Context())
					require.NoError(t, err)
				}
				live := func(at time.Duration) int {
					time.Sleep(at - time.Since(start))
					synctest.Wait()
					return p.server.Len()
				}
				require.Equal(t, 2, live(32*time.Second))
				require.Equal(t, tt.at32040, live(32040*time.Millisecond))
				require.Equal(t, tt.at32050, live(32050*time.Millisecond))
				require.Equal(t, tt.at32100, live(32100*time.Millisecond))
			})
		})
	}
}

// TestLingeringServer: a server transaction that has sent its final over
// UDP lingers (as a tomb, linger.go) for 64·T1 and still counts as live:
// a retransmitted non-INVITE request gets the final again, a retransmitted
// INVITE in Accepted is absorbed, and a CANCEL after the 2xx gets 200 with
// the INVITE's To tag; its handler's context ends with ErrTerminated.
func TestLingeringServer(t *testing.T) {
	tests := []struct {
		method  sip.Method
		resends int // finals sent after one retransmission
	}{
		{sip.OPTIONS, 2},
		{sip.INVITE, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctxs := make(chan context.Context, 1)
				h := transaction.HandlerFunc(func(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
					res := sip.NewResponse(req, 200, "")
					res.SetToTag("uas-tag")
					require.NoError(t, w.Respond(res))
					ctxs <- ctx
				})
				p := newPair(t, loss{}, h, nil)
				start := time.Now()
				req := newReq(tt.method)
				tx, err := p.client.Request(t.Context(), req, udp())
				require.NoError(t, err)
				_, err = tx.Final(t.Context())
				require.NoError(t, err)
				ctx := <-ctxs
				synctest.Wait()
				require.ErrorIs(t, context.Cause(ctx), transaction.ErrTerminated)
				require.Equal(t, 1, p.server.Len(), "still absorbing retransmissions")

				inject(p.server, clientAddr, tx.Request())
				synctest.Wait()
				require.Len(t, p.w.sentBy(serverAddr, start, isStatus(200)), tt.resends)

				if tt.method == sip.INVITE {
					cancel := transaction.NewCancel(tx.Request())
					inject(p.server, clientAddr, cancel)
					synctest.Wait()
					p.w.mu.Lock()
					last := p.w.log[len(p.w.log)-1].msg.(*sip.Response)
					p.w.mu.Unlock()
					require.Equal(t, 200, last.StatusCode)
					cs, _ := last.CSeq()
					require.Equal(t, sip.CANCEL, cs.Method)
					require.Equal(t, "uas-tag", toTag(last))
				}
				time.Sleep(32*time.Second - time.Since(start))
				synctest.Wait()
				require.Equal(t, 0, p.server.Len())
			})
		})
	}
}
