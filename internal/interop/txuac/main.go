// Command txuac is a user agent client built on the transport and
// transaction layers, the peer of SIPp's built-in uas scenario in the
// transaction interop check (issue 4):
//
//	sipp -sn uas -i 127.0.0.1 -p 5080 &
//	txuac -target 127.0.0.1:5080 -transport udp -calls 2000 -rate 100
//
// Each call is an INVITE with an SDP offer in a client transaction; the 2xx
// is ACKed by hand as RFC 3261 §13.2.2.4 asks (same Call-ID, From, To with
// the remote tag and CSeq number, method ACK, Request-URI the 2xx's
// Contact, a new branch), sent through the transport outside any
// transaction, and again for every retransmission of that 2xx; then a BYE
// (a new client transaction, CSeq + 1, to the Contact) that must get 200.
//
// txuac prints a summary line ("summary calls=… ok=… failed=…") and exits
// with status 1 when a call failed or -timeout passed first; -v adds one
// line per call event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sort"
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
	var cfg config
	flag.StringVar(&cfg.target, "target", "127.0.0.1:5060", "host:port of the UAS (an IP address)")
	network := flag.String("transport", "udp", "udp or tcp")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "local host:port to listen on")
	flag.IntVar(&cfg.calls, "calls", 1, "number of calls")
	flag.Float64Var(&cfg.rate, "rate", 10, "calls started per second")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "bound on the whole run")
	flag.DurationVar(&cfg.callTimeout, "call-timeout", 40*time.Second, "bound on one call")
	flag.DurationVar(&cfg.drain, "drain", 500*time.Millisecond, "after the last call, how long to keep answering 2xx retransmissions with ACK")
	flag.BoolVar(&cfg.verbose, "v", false, "print one line per call event")
	debug := flag.Bool("debug", false, "log the layers' debug records to stderr")
	flag.Parse()
	switch *network {
	case "udp":
		cfg.network = transport.UDP
	case "tcp":
		cfg.network = transport.TCP
	default:
		fmt.Fprintln(os.Stderr, "txuac: -transport must be udp or tcp")
		os.Exit(2)
	}
	if *debug {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ok, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "txuac:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	target      string
	network     transport.Network
	listen      string
	calls       int
	rate        float64
	timeout     time.Duration
	callTimeout time.Duration
	drain       time.Duration
	verbose     bool
	logger      *slog.Logger
}

func run(cfg config) (bool, error) {
	if cfg.calls < 1 || cfg.rate <= 0 {
		return false, errors.New("-calls and -rate must be positive")
	}
	dst, err := netip.ParseAddrPort(cfg.target)
	if err != nil {
		return false, fmt.Errorf("-target: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	u := &uac{cfg: cfg, target: transport.Target{Network: cfg.network, Addr: dst, Pinned: true}, dialogs: make(map[string]*dialog)}
	tl, err := transport.New(transport.Config{Logger: cfg.logger})
	if err != nil {
		return false, err
	}
	defer tl.Close()
	// The transaction layer binds itself to the transport in New.
	txl, err := transaction.New(tl, transaction.Config{Handler: u, Logger: cfg.logger})
	if err != nil {
		return false, err
	}
	defer txl.Close()
	u.tl, u.txl = tl, txl

	a, err := tl.Listen(ctx, cfg.network, cfg.listen)
	if err != nil {
		return false, err
	}
	fmt.Printf("listening %s %s\n", cfg.network, a)
	u.contact = "<sip:txuac@" + a.String() + ";transport=" + string(cfg.network) + ">"
	host, _, _ := net.SplitHostPort(a.String())
	u.localIP = host

	start := time.Now()
	period := time.Duration(float64(time.Second) / cfg.rate)
	var wg sync.WaitGroup
	launched := 0
launch:
	for i := range cfg.calls {
		if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				break launch
			}
		}
		launched++
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.result(i, u.call(ctx, i))
		}()
	}
	launchTime := time.Since(start)
	wg.Wait()
	elapsed := time.Since(start)
	// The last ACKs may be lost (UDP): keep answering 2xx retransmissions
	// for a while before the layers close.
	if ctx.Err() == nil && cfg.drain > 0 {
		t := time.NewTimer(cfg.drain)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}

	ok := u.ok.Load()
	failed := uint64(cfg.calls) - ok
	rate := 0.0
	if launched > 1 && launchTime > 0 {
		rate = float64(launched-1) / launchTime.Seconds()
	}
	fmt.Printf("summary calls=%d launched=%d ok=%d failed=%d rate=%.1f/s elapsed=%s "+
		"2xx-retransmissions=%d acks=%d invite-time-avg=%s invite-time-max=%s bye-time-avg=%s bye-time-max=%s stray=%d\n",
		cfg.calls, launched, ok, failed, rate, elapsed.Round(time.Millisecond),
		u.retrans2xx.Load(), u.acks.Load(),
		avg(u.inviteTime.Load(), ok), time.Duration(u.inviteMax.Load()),
		avg(u.byeTime.Load(), ok), time.Duration(u.byeMax.Load()), u.stray2xx.Load())
	u.mu.Lock()
	reasons := make([]string, 0, len(u.failures))
	for r, n := range u.failures {
		reasons = append(reasons, fmt.Sprintf("%6d %s", n, r))
	}
	u.mu.Unlock()
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Println("failure", r)
	}
	if ctx.Err() != nil && failed > 0 {
		fmt.Println("failure: run stopped:", context.Cause(ctx))
	}
	return failed == 0, nil
}

func avg(total, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	return (time.Duration(total) / time.Duration(n)).Round(time.Microsecond)
}

// uac places the calls and keeps the counters.
type uac struct {
	cfg     config
	tl      *transport.Layer
	txl     *transaction.Layer
	target  transport.Target
	contact string
	localIP string

	mu       sync.Mutex
	dialogs  map[string]*dialog // by Call-ID, for 2xx retransmissions after the INVITE transaction
	failures map[string]int

	ok, acks, retrans2xx, stray2xx atomic.Uint64
	inviteTime, byeTime            atomic.Uint64 // nanoseconds, summed over successful calls
	inviteMax, byeMax              atomic.Int64
}

// dialog is what a call needs to ACK its 2xx again.
type dialog struct {
	mu     sync.Mutex // serializes sends of ack, which the transport stamps
	ack    *sip.Request
	target transport.Target
	toTag  string
}

func (u *uac) logf(format string, args ...any) {
	if u.cfg.verbose {
		fmt.Printf(time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
	}
}

func (u *uac) result(i int, err error) {
	if err == nil {
		u.ok.Add(1)
		return
	}
	u.logf("call %d: failed: %v", i, err)
	u.mu.Lock()
	if u.failures == nil {
		u.failures = make(map[string]int)
	}
	u.failures[err.Error()]++
	u.mu.Unlock()
}

// offerSDP is a fixed minimal SDP offer (RFC 4566, RFC 3264).
func offerSDP(ip string) []byte {
	return []byte("v=0\r\n" +
		"o=txuac 1 1 IN IP4 " + ip + "\r\n" +
		"s=-\r\n" +
		"c=IN IP4 " + ip + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 40002 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n")
}

// callError is a failed call step.
type callError struct {
	step string
	err  error
}

func (e *callError) Error() string { return e.step + ": " + e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

func fail(step string, err error) error { return &callError{step: step, err: err} }

func maxInto(m *atomic.Int64, d time.Duration) {
	for {
		cur := m.Load()
		if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// call places call i: INVITE, ACK for the 2xx, BYE.
func (u *uac) call(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.callTimeout)
	defer cancel()
	uri := sip.URI{Scheme: "sip", User: "service", Host: u.target.Addr.Addr().String(), Port: int(u.target.Addr.Port())}
	inv := sip.NewRequest(sip.INVITE, uri)
	from := sip.Address{Display: "txuac", URI: sip.URI{Scheme: "sip", User: "txuac", Host: u.localIP},
		Params: sip.Params(";tag=" + sip.NewTag())}
	inv.SetFrom(from)
	inv.Set("Contact", u.contact)
	inv.Set("Subject", "call "+strconv.Itoa(i))
	inv.SetBody(offerSDP(u.localIP), "application/sdp")
	callID := inv.CallID()

	t0 := time.Now()
	// context.WithoutCancel: our ctx ending must not CANCEL an INVITE that
	// got its 2xx; the transaction bounds itself (Timer B).
	tx, err := u.txl.Request(context.WithoutCancel(ctx), inv, u.target)
	if err != nil {
		return fail("INVITE", err)
	}
	u.logf("call %d %s: INVITE sent", i, callID)
	var ok *sip.Response
	for ok == nil {
		select {
		case res, open := <-tx.Responses():
			if !open {
				err := tx.Err()
				if err == nil {
					err = errors.New("transaction ended without a final response")
				}
				return fail("INVITE", err)
			}
			switch {
			case res.IsProvisional():
				u.logf("call %d: %d", i, res.StatusCode)
			case res.IsSuccess():
				ok = res
			default:
				return fail("INVITE", fmt.Errorf("final response %d %s", res.StatusCode, res.Reason))
			}
		case <-ctx.Done():
			tx.Cancel()
			return fail("INVITE", context.Cause(ctx))
		}
	}
	inviteTime := time.Since(t0)
	u.logf("call %d: 200 after %s", i, inviteTime)

	d, err := u.newDialog(inv, ok)
	if err != nil {
		return fail("2xx", err)
	}
	u.mu.Lock()
	u.dialogs[callID] = d
	u.mu.Unlock()
	defer func() {
		// Forgotten only after the transaction's Timer M, so that late
		// 2xx retransmissions that reach Stray are still ACKed.
		time.AfterFunc(u.txlTimerM(), func() {
			u.mu.Lock()
			delete(u.dialogs, callID)
			u.mu.Unlock()
		})
	}()
	if err := u.sendAck(ctx, d); err != nil {
		return fail("ACK", err)
	}
	// Every further 2xx the transaction passes up is a retransmission
	// (or a forked 2xx, which SIPp does not send): ACK it again
	// (§13.2.2.4). The goroutine ends with the transaction (Timer M) or
	// when the layer closes.
	go func() {
		for res := range tx.Responses() {
			if res.IsSuccess() {
				u.retrans2xx.Add(1)
				u.logf("call %d: 2xx retransmission, ACK again", i)
				_ = u.sendAck(context.Background(), d)
			}
		}
	}()

	t1 := time.Now()
	bye := sip.NewRequest(sip.BYE, d.ack.URI)
	bye.SetCallID(callID)
	bye.SetFrom(from)
	to, _ := ok.To()
	bye.SetTo(to)
	cseq, _ := inv.CSeq()
	bye.SetCSeq(sip.CSeq{Seq: cseq.Seq + 1, Method: sip.BYE})
	btx, err := u.txl.Request(ctx, bye, d.target)
	if err != nil {
		return fail("BYE", err)
	}
	res, err := btx.Final(ctx)
	if err != nil {
		return fail("BYE", err)
	}
	if res.StatusCode != sip.StatusOK {
		return fail("BYE", fmt.Errorf("final response %d %s", res.StatusCode, res.Reason))
	}
	byeTime := time.Since(t1)
	u.logf("call %d: BYE 200 after %s", i, byeTime)
	u.inviteTime.Add(uint64(inviteTime))
	u.byeTime.Add(uint64(byeTime))
	maxInto(&u.inviteMax, inviteTime)
	maxInto(&u.byeMax, byeTime)
	return nil
}

func (u *uac) txlTimerM() time.Duration { return transaction.Timers{}.M() }

// newDialog builds the ACK for the 2xx ok to inv, by RFC 3261 §13.2.2.4:
// the Call-ID, From and CSeq number of the INVITE, the To of the 2xx (with
// its tag), method ACK, the remote target (the 2xx's Contact, §12.1.2) as
// Request-URI, and a Via with a new branch. There is no route set: SIPp
// sends no Record-Route.
func (u *uac) newDialog(inv *sip.Request, ok *sip.Response) (*dialog, error) {
	contacts, err := ok.Contacts()
	if err != nil || len(contacts) == 0 {
		return nil, fmt.Errorf("no Contact in 2xx: %v", err)
	}
	remote := contacts[0].URI
	to, err := ok.To()
	if err != nil || to.Tag() == "" {
		return nil, errors.New("2xx without To tag")
	}
	target, err := u.targetOf(remote)
	if err != nil {
		return nil, err
	}
	cseq, err := inv.CSeq()
	if err != nil {
		return nil, err
	}
	from, err := inv.From()
	if err != nil {
		return nil, err
	}
	ack := sip.NewRequest(sip.ACK, remote)
	ack.SetCallID(inv.CallID())
	ack.SetFrom(from)
	ack.SetTo(to)
	ack.SetCSeq(sip.CSeq{Seq: cseq.Seq, Method: sip.ACK})
	ack.Prepend("Via", "SIP/2.0/"+u.cfg.network.ViaTransport()+" 0.0.0.0;branch="+sip.NewBranch())
	return &dialog{ack: ack, target: target, toTag: to.Tag()}, nil
}

// targetOf turns the remote target URI into a transport target: its
// numeric host and port (5060 when absent), over the transport of the run
// (the URI's transport parameter names the same one with SIPp).
func (u *uac) targetOf(uri sip.URI) (transport.Target, error) {
	ip, err := netip.ParseAddr(uri.Hostname())
	if err != nil {
		return transport.Target{}, fmt.Errorf("contact host %q is not an IP address", uri.Host)
	}
	port := uri.Port
	if port == 0 {
		port = transport.DefaultSIPPort
	}
	return transport.Target{Network: u.cfg.network, Addr: netip.AddrPortFrom(ip, uint16(port)), Pinned: true}, nil
}

// sendAck sends the dialog's ACK straight through the transport: an ACK for
// a 2xx is not part of any transaction (§17.1.1.3).
func (u *uac) sendAck(ctx context.Context, d *dialog) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := u.tl.SendRequest(ctx, d.ack, d.target); err != nil {
		return err
	}
	u.acks.Add(1)
	return nil
}

// ServeSIP answers requests outside our calls 501: this UAC serves none.
func (u *uac) ServeSIP(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	_ = w.Respond(sip.NewResponse(req, sip.StatusNotImplemented, ""))
}

// HandleDirect is the transaction layer's hand-off of what matches no
// transaction (see stray).
func (u *uac) HandleDirect(in transport.Incoming) { u.stray(in) }

// stray gets what matches no transaction; for a UAC these are 2xx
// retransmissions that arrive after the INVITE transaction ended (RFC 6026
// §8.4), which are ACKed again.
func (u *uac) stray(in transport.Incoming) {
	res, ok := in.Msg.(*sip.Response)
	if !ok || !res.IsSuccess() {
		return
	}
	cseq, err := res.CSeq()
	if err != nil || cseq.Method != sip.INVITE {
		return
	}
	u.stray2xx.Add(1)
	u.mu.Lock()
	d := u.dialogs[res.CallID()]
	u.mu.Unlock()
	if d == nil {
		return
	}
	if to, err := res.To(); err == nil && to.Tag() == d.toTag {
		u.retrans2xx.Add(1)
		_ = u.sendAck(context.Background(), d)
	}
}
