// Command txuas is a user agent server built on the transport and
// transaction layers, the peer of SIPp's built-in uac scenario in the
// transaction interop check (issue 4):
//
//	txuas -listen 127.0.0.1:5070 &
//	sipp -sn uac -m 2000 -r 100 -d 0 127.0.0.1:5070          # UDP
//	sipp -sn uac -m 2000 -r 100 -d 0 -t t1 127.0.0.1:5070    # TCP
//
// It listens on UDP and TCP at -listen and answers an INVITE with 180 and
// then 200 with an SDP answer, a Contact and a To tag (the transaction layer
// sends 100 Trying itself when the answer takes longer than 200 ms). The
// INVITE server transaction hands 2xx retransmission to its user, so txuas
// retransmits the 200 itself as RFC 3261 §13.3.1.4 asks: after T1, doubling
// up to T2, until the ACK arrives through the transaction layer's HandleDirect
// or 64·T1 have passed. A BYE for a known dialog gets 200 (481 otherwise);
// a CANCEL during the -ring delay ends the INVITE with 487 (the layer
// answers the CANCEL 200 itself, §9.2); OPTIONS gets 200.
//
// On SIGINT or SIGTERM it prints one summary line of counters ("summary
// invites=… acks=… 2xx-retransmissions=…") and exits; -v adds one line per
// call event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5070", "host:port for UDP and TCP (port 0 picks one per network)")
	ring := flag.Duration("ring", 0, "time between 180 Ringing and 200 OK (a CANCEL in it gets 487)")
	callTTL := flag.Duration("call-ttl", 10*time.Minute, "confirmed calls without BYE are forgotten after this long")
	t1 := flag.Duration("t1", transaction.DefaultT1, "RFC 3261 T1")
	t2 := flag.Duration("t2", transaction.DefaultT2, "RFC 3261 T2")
	verbose := flag.Bool("v", false, "print one line per call event")
	debug := flag.Bool("debug", false, "log the layers' debug records to stderr")
	flag.Parse()
	if err := run(*listen, config{ring: *ring, callTTL: *callTTL, timers: transaction.Timers{T1: *t1, T2: *t2}, verbose: *verbose, debug: *debug}); err != nil {
		fmt.Fprintln(os.Stderr, "txuas:", err)
		os.Exit(1)
	}
}

type config struct {
	ring    time.Duration
	callTTL time.Duration
	timers  transaction.Timers
	verbose bool
	debug   bool
}

func run(listen string, cfg config) error {
	var logger *slog.Logger
	if cfg.debug {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	u := &uas{cfg: cfg, calls: make(map[callKey]*call)}

	tl, err := transport.New(transport.Config{Logger: logger})
	if err != nil {
		return err
	}
	defer tl.Close()
	// The transaction layer binds itself to the transport in New; the
	// handler rings before answering, so each request gets a goroutine.
	txl, err := transaction.New(tl, transaction.Config{
		Handler: transaction.Go(u),
		Timers:  cfg.timers,
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	defer txl.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, n := range []transport.Network{transport.UDP, transport.TCP} {
		a, err := tl.Listen(ctx, n, listen)
		if err != nil {
			return err
		}
		fmt.Printf("listening %s %s\n", n, a)
	}

	janitor := time.NewTicker(time.Second)
	defer janitor.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-janitor.C:
			u.sweep(now)
		}
	}
	_ = txl.Close()
	_ = tl.Close()
	u.stopAll()
	fmt.Println(u.summary())
	return nil
}

// callKey names a dialog we created: Call-ID and our To tag.
type callKey struct{ callID, tag string }

// call is a dialog of ours: unconfirmed until its ACK arrives, while the 2xx
// is retransmitted; confirmed afterwards until BYE or callTTL.
type call struct {
	key     callKey
	created time.Time
	w       transaction.ResponseWriter
	ok      *sip.Response

	// Guarded by uas.mu.
	confirmed bool
	ended     time.Time   // when BYE ended it; the entry lingers for late ACKs
	timer     *time.Timer // the next 2xx retransmission; nil once stopped
	interval  time.Duration
	deadline  time.Time // 64·T1 after the first 2xx
}

// uas is the transaction user: handler, Stray hook, dialogs and counters.
type uas struct {
	cfg config

	mu    sync.Mutex
	calls map[callKey]*call

	invites, ringing, answered, acks, byes, cancels, options atomic.Uint64
	retrans2xx, ackTimeouts, unknownAcks, unknownByes        atomic.Uint64
	strayResponses, expired, respondErrors                   atomic.Uint64
}

func (u *uas) logf(format string, args ...any) {
	if u.cfg.verbose {
		fmt.Printf(time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
	}
}

// contact returns our Contact for a request that arrived on f.
func (u *uas) contact(f transport.Flow) string {
	network := "udp"
	if f.Network != transport.UDP {
		network = string(f.Network)
	}
	l := f.Local
	return "<sip:txuas@" + net.JoinHostPort(l.Addr().Unmap().String(), strconv.Itoa(int(l.Port()))) + ";transport=" + network + ">"
}

// answerSDP is a fixed minimal SDP answer (RFC 4566, RFC 3264): PCMU on a
// port nothing listens on, since the check is about signalling.
func answerSDP(ip string) []byte {
	return []byte("v=0\r\n" +
		"o=txuas 1 1 IN IP4 " + ip + "\r\n" +
		"s=-\r\n" +
		"c=IN IP4 " + ip + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n")
}

// ServeSIP implements transaction.Handler.
func (u *uas) ServeSIP(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	switch req.Method {
	case sip.INVITE:
		u.invite(ctx, w, req)
	case sip.BYE:
		u.bye(w, req)
	case sip.OPTIONS:
		u.options.Add(1)
		u.respond(w, sip.NewResponse(req, sip.StatusOK, ""))
	default:
		res := sip.NewResponse(req, sip.StatusMethodNotAllowed, "")
		res.Set("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
		u.respond(w, res)
	}
}

func (u *uas) respond(w transaction.ResponseWriter, res *sip.Response) bool {
	if err := w.Respond(res); err != nil {
		u.respondErrors.Add(1)
		u.logf("respond %d: %v", res.StatusCode, err)
		return false
	}
	return true
}

func (u *uas) invite(ctx context.Context, w transaction.ResponseWriter, req *sip.Request) {
	u.invites.Add(1)
	id := req.CallID()
	if to, err := req.To(); err == nil && to.Tag() != "" {
		// A re-INVITE: outside what this check exercises.
		u.respond(w, sip.NewResponse(req, sip.StatusNotAcceptableHere, ""))
		return
	}
	tag := sip.NewTag()
	u.logf("call %s: INVITE from %v over %s", id, w.Flow().Remote, w.Flow().Network)

	ringing := sip.NewResponse(req, sip.StatusRinging, "")
	ringing.SetToTag(tag)
	ringing.Set("Contact", u.contact(w.Flow()))
	if !u.respond(w, ringing) {
		return
	}
	u.ringing.Add(1)

	if u.cfg.ring > 0 {
		t := time.NewTimer(u.cfg.ring)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if errors.Is(context.Cause(ctx), transaction.ErrCanceled) {
				u.cancels.Add(1)
				u.logf("call %s: CANCEL, answering 487", id)
				res := sip.NewResponse(req, sip.StatusRequestTerminated, "")
				res.SetToTag(tag)
				u.respond(w, res)
			}
			return
		}
	}

	ok := sip.NewResponse(req, sip.StatusOK, "")
	ok.SetToTag(tag)
	ok.Set("Contact", u.contact(w.Flow()))
	ok.SetBody(answerSDP(w.Flow().Local.Addr().Unmap().String()), "application/sdp")

	c := &call{key: callKey{callID: id, tag: tag}, created: time.Now(), w: w, ok: ok}
	t1 := u.t1()
	u.mu.Lock()
	u.calls[c.key] = c
	// §13.3.1.4: retransmit from T1, doubling up to T2, until the ACK or
	// 64·T1. Armed before the first send so that a fast ACK finds it.
	c.interval = t1
	c.deadline = c.created.Add(64 * t1)
	c.timer = time.AfterFunc(t1, func() { u.retransmit(c) })
	u.mu.Unlock()

	if !u.respond(w, ok) {
		u.forget(c)
		return
	}
	u.answered.Add(1)
	u.logf("call %s: 200 sent", id)
}

// retransmit sends the 2xx of c again unless its ACK came, and schedules
// the next one (RFC 3261 §13.3.1.4).
func (u *uas) retransmit(c *call) {
	u.mu.Lock()
	if c.timer == nil || c.confirmed {
		u.mu.Unlock()
		return
	}
	now := time.Now()
	if !now.Before(c.deadline) {
		// §13.3.1.4: no ACK within 64·T1: the dialog ends; a real UAS
		// would send BYE.
		c.timer = nil
		delete(u.calls, c.key)
		u.mu.Unlock()
		u.ackTimeouts.Add(1)
		u.logf("call %s: no ACK within 64*T1", c.key.callID)
		return
	}
	t2 := u.cfg.timers.T2
	if t2 == 0 {
		t2 = transaction.DefaultT2
	}
	c.interval = min(2*c.interval, t2)
	c.timer = time.AfterFunc(min(c.interval, c.deadline.Sub(now)), func() { u.retransmit(c) })
	u.mu.Unlock()
	u.retrans2xx.Add(1)
	u.logf("call %s: retransmitting 200", c.key.callID)
	if err := c.w.Respond(c.ok); err != nil {
		// The INVITE transaction has left Accepted (Timer L, 64·T1), or
		// the layer is closing: the deadline above ends the
		// retransmissions no later than Timer L, so this is shutdown.
		u.respondErrors.Add(1)
	}
}

// confirm marks the dialog of an ACK or BYE as confirmed and stops the 2xx
// retransmissions; bye ends the dialog. It reports whether the dialog was
// known and, for a BYE, not ended already.
func (u *uas) confirm(k callKey, bye bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.calls[k]
	if c == nil || (bye && !c.ended.IsZero()) {
		return false
	}
	c.confirmed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if bye {
		// Kept for a while: the ACK may still be on its way (the layer
		// passes it on another goroutine than the BYE).
		c.ended = time.Now()
	}
	return true
}

func (u *uas) forget(c *call) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	delete(u.calls, c.key)
}

// HandleDirect implements transaction.Handler: see stray.
func (u *uas) HandleDirect(in transport.Incoming) { u.stray(in) }

// stray gets what the transaction layer hands to the core directly: ACKs for our 2xx responses
// and anything else that matched no transaction.
func (u *uas) stray(in transport.Incoming) {
	req, ok := in.Msg.(*sip.Request)
	if !ok {
		u.strayResponses.Add(1)
		return
	}
	if req.Method != sip.ACK {
		return
	}
	to, err := req.To()
	if err != nil || !u.confirm(callKey{callID: req.CallID(), tag: to.Tag()}, false) {
		u.unknownAcks.Add(1)
		u.logf("call %s: ACK for no dialog", req.CallID())
		return
	}
	u.acks.Add(1)
	u.logf("call %s: ACK, confirmed", req.CallID())
}

func (u *uas) bye(w transaction.ResponseWriter, req *sip.Request) {
	to, err := req.To()
	// A BYE can overtake the ACK it follows (they travel on different
	// goroutines here, and UDP may reorder them): it ends the dialog
	// either way (§15.1.2).
	if err != nil || !u.confirm(callKey{callID: req.CallID(), tag: to.Tag()}, true) {
		u.unknownByes.Add(1)
		u.logf("call %s: BYE for no dialog, 481", req.CallID())
		u.respond(w, sip.NewResponse(req, sip.StatusCallTransactionDoesNotExist, ""))
		return
	}
	u.byes.Add(1)
	u.logf("call %s: BYE, 200", req.CallID())
	u.respond(w, sip.NewResponse(req, sip.StatusOK, ""))
}

// sweep forgets dialogs ended by BYE more than 64·T1 ago, and confirmed
// dialogs older than callTTL.
func (u *uas) sweep(now time.Time) {
	linger := 64 * u.t1()
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, c := range u.calls {
		switch {
		case !c.ended.IsZero():
			if now.Sub(c.ended) > linger {
				delete(u.calls, k)
			}
		case c.confirmed && now.Sub(c.created) > u.cfg.callTTL:
			delete(u.calls, k)
			u.expired.Add(1)
		}
	}
}

func (u *uas) t1() time.Duration {
	if u.cfg.timers.T1 == 0 {
		return transaction.DefaultT1
	}
	return u.cfg.timers.T1
}

// stopAll stops every pending retransmission (at exit).
func (u *uas) stopAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.calls {
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
	}
}

func (u *uas) summary() string {
	open := 0
	u.mu.Lock()
	for _, c := range u.calls {
		if c.ended.IsZero() {
			open++
		}
	}
	u.mu.Unlock()
	return fmt.Sprintf("summary invites=%d ringing=%d answered=%d acks=%d byes=%d cancels=%d options=%d "+
		"2xx-retransmissions=%d ack-timeouts=%d unknown-acks=%d unknown-byes=%d stray-responses=%d "+
		"respond-errors=%d expired=%d open-calls=%d",
		u.invites.Load(), u.ringing.Load(), u.answered.Load(), u.acks.Load(), u.byes.Load(),
		u.cancels.Load(), u.options.Load(), u.retrans2xx.Load(), u.ackTimeouts.Load(),
		u.unknownAcks.Load(), u.unknownByes.Load(), u.strayResponses.Load(),
		u.respondErrors.Load(), u.expired.Load(), open)
}
