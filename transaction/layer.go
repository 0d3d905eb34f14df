package transaction

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/internal/lifecycle"
	"github.com/dialtone/dialtone/internal/timerheap"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// DefaultMaxTransactions is the limit on live transactions when
// Config.MaxTransactions is zero.
const DefaultMaxTransactions = 1 << 20

// DefaultTimerSlack is Config.TimerSlack when zero: at 100 ms, a shard
// wakes at most ten times a second to end transactions, however many end.
const DefaultTimerSlack = 100 * time.Millisecond

// Config configures a Layer. The zero value is valid.
type Config struct {
	// Handler is the transaction user: it serves each new server
	// transaction and gets what RFC 3261 hands to the core directly (see
	// Handler). nil answers every request 501 Not Implemented and drops
	// the rest.
	Handler Handler
	// Timers are T1, T2 and T4; zero fields take the RFC 3261 defaults.
	Timers Timers
	// Logger gets warnings and debug traces; nil is silent.
	Logger *slog.Logger
	// Shards is the number of shards (each a lock, a timer and the
	// transactions whose keys hash to it); zero means GOMAXPROCS.
	Shards int
	// TimerSlack lets a timer that is due more than T2 ahead — the
	// timers that end a transaction (B, D, F, H, I, J, K, L, M), never a
	// retransmission's — fire up to this much late, rounded up to a
	// multiple of it, so that transactions started close together end on
	// one wake-up instead of one each. The RFC 3261 timers are minimum
	// waits, so firing late is allowed. Zero means DefaultTimerSlack;
	// negative means none (every timer fires on time).
	TimerSlack time.Duration
	// MaxTransactions limits live transactions. Beyond it a new request
	// is answered 503 Service Unavailable without a transaction, and
	// Request fails with ErrTooManyTransactions. Zero means
	// DefaultMaxTransactions; negative means no limit.
	MaxTransactions int
}

// Layer is the transaction layer: it binds itself as the handler of the
// transport beneath it, creates server transactions for new requests and
// hands them to Config.Handler, and runs client transactions for Request.
// All its methods are safe for concurrent use.
//
// A message is matched and fed to its state machine on the goroutine that
// delivers it, under the lock of its shard, and so are Request, Respond
// and Cancel: no hand-off to another goroutine on the way. Each shard has
// one goroutine that waits for its earliest timer.
type Layer struct {
	cfg    Config
	t      Transport
	timers Timers
	log    *slog.Logger
	seed   maphash.Seed
	shards []*shard
	max    int64
	slack  time.Duration // zero: none
	epoch  time.Time     // what slack rounds deadlines from

	live    atomic.Int64 // live transactions
	clients atomic.Int64 // client transactions in the shards' tables
	st      txCounters   // Stats

	// ctx bounds the layer's own sends; canceled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	// watches cancels INVITEs whose context ends (ctxwatch.go).
	watches ctxWatches

	quit      chan struct{}
	draining  atomic.Bool
	drained   chan struct{}
	drainOnce sync.Once
	// g owns the layer's goroutines: shard timers, handlers started by
	// Go, response pumps, flow-error visits.
	g lifecycle.Group
}

// New starts a Layer over t with a timer goroutine per shard and binds it
// as t's handler (Transport.Serve), so call it before t listens. Close
// stops it.
func New(t Transport, cfg Config) (*Layer, error) {
	if t == nil {
		return nil, ErrNoTransport
	}
	n := cfg.Shards
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	l := &Layer{
		cfg:     cfg,
		t:       t,
		timers:  cfg.Timers.withDefaults(),
		log:     cfg.Logger,
		seed:    maphash.MakeSeed(),
		quit:    make(chan struct{}),
		drained: make(chan struct{}),
	}
	switch {
	case cfg.TimerSlack == 0:
		l.slack = DefaultTimerSlack
	case cfg.TimerSlack > 0:
		l.slack = cfg.TimerSlack
	}
	l.epoch = time.Now()
	switch {
	case cfg.MaxTransactions == 0:
		l.max = DefaultMaxTransactions
	case cfg.MaxTransactions < 0:
		l.max = 1<<63 - 1
	default:
		l.max = int64(cfg.MaxTransactions)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.shards = make([]*shard, n)
	for i := range l.shards {
		s := &shard{
			l:       l,
			clients: make(map[clientKey]*ClientTx),
			servers: make(map[serverKey]*serverTx),
			tombs:   newTombStore(),
			legacy:  make(map[legacyKey]*serverTx),
			timer:   time.NewTimer(time.Hour),
		}
		s.timer.Stop()
		l.shards[i] = s
	}
	for _, s := range l.shards {
		l.g.Go(s.run)
	}
	if err := t.Serve(l); err != nil {
		l.Close()
		return nil, fmt.Errorf("transaction: bind to the transport: %w", err)
	}
	return l, nil
}

// Close stops the layer: it stops intake, ends every client transaction
// with ErrClosed, cancels the contexts of running handlers with cause
// ErrClosed, and waits for its goroutines, handlers included, to return.
// It is idempotent and always returns nil.
func (l *Layer) Close() error {
	if l.g.Shut() {
		close(l.quit)
		l.cancel()
	}
	l.g.Wait()
	return nil
}

// Shutdown stops new transactions (new requests are answered 503, Request
// fails with ErrClosed), waits until the live transactions have ended —
// which includes absorbing retransmissions for Timers J, K, D, I, L, M — or
// ctx is done, then closes the layer. It returns ctx's error if ctx ended
// first.
func (l *Layer) Shutdown(ctx context.Context) error {
	l.draining.Store(true)
	if l.live.Load() == 0 {
		l.drainOnce.Do(func() { close(l.drained) })
	}
	var err error
	select {
	case <-l.drained:
	case <-l.quit:
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.Close()
	return err
}

// Len returns the number of live transactions.
func (l *Layer) Len() int { return int(l.live.Load()) }

// acquire counts a new transaction unless the limit is reached.
func (l *Layer) acquire(limit bool) bool {
	if n := l.live.Add(1); limit && n > l.max {
		l.release()
		return false
	}
	return true
}

func (l *Layer) release() {
	if l.live.Add(-1) == 0 && l.draining.Load() {
		l.drainOnce.Do(func() { close(l.drained) })
	}
}

// shardFor picks the shard of a key: the branch for RFC 3261 messages,
// the Call-ID for RFC 2543 requests, so that a CANCEL or ACK lands where
// its INVITE is.
func (l *Layer) shardFor(s string) *shard {
	if len(l.shards) == 1 {
		return l.shards[0]
	}
	return l.shards[maphash.String(l.seed, s)%uint64(len(l.shards))]
}

// HandleMessage implements transport.Handler: it matches a message to its
// transaction and feeds it in, or starts a server transaction. Messages
// without a usable top Via or CSeq are dropped (RFC 3261 §8.2 and §17.2.3
// need them).
func (l *Layer) HandleMessage(in transport.Incoming) {
	var s *shard
	switch m := in.Msg.(type) {
	case *sip.Request:
		v, err := m.TopVia()
		if err != nil {
			l.debug("request without Via dropped", m)
			return
		}
		if v.HasCookie() {
			s = l.shardFor(v.Branch())
		} else {
			s = l.shardFor(m.CallID())
		}
	case *sip.Response:
		v, err := m.TopVia()
		if err != nil {
			l.debug("response without Via dropped", m)
			return
		}
		s = l.shardFor(v.Branch())
	default:
		return
	}
	if s.lock() {
		s.message(in)
		s.unlock()
	}
}

// HandleFlowError implements transport.Handler: the client transactions
// whose request went out on f end with a *TransportError (RFC 3261
// §17.1.4). Server transactions are not ended: their responses may still
// reach the peer over a new connection (§18.2.2); they end if sending one
// fails.
//
// The transport may report a flow error from inside a send that a shard
// makes under its lock, so the shards are visited on a goroutine of their
// own, but only when some client transaction is live: a server that only
// answers (a UAS with a connection per call) closes its connections at
// no cost here. A transaction counts from before its request is sent, so
// one whose flow fails at once is never missed.
func (l *Layer) HandleFlowError(f transport.Flow, err error) {
	if l.clients.Load() == 0 {
		return
	}
	l.g.Go(func() {
		for _, s := range l.shards {
			if s.lock() {
				s.flowError(f, err)
				s.unlock()
			}
		}
	})
}

func (l *Layer) debug(msg string, m sip.Message) {
	if l.log == nil || !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.LogAttrs(context.Background(), slog.LevelDebug, msg,
		slog.String("call_id", m.CallID()), slog.String("msg", sip.Short(m)))
}

func (l *Layer) warn(msg string, attrs ...slog.Attr) {
	if l.log == nil || !l.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	l.log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// stray hands a message to Config.Handler's HandleDirect once the
// shard's lock is released.
func (s *shard) stray(in transport.Incoming) {
	if s.l.cfg.Handler == nil {
		return
	}
	s.after.stray = append(s.after.stray, in)
}

// afterUnlock is what a shard's step leaves to do once its lock is
// released: calls out of the layer that may come back into it.
type afterUnlock struct {
	stray   []transport.Incoming
	serve   []*serverTx // new server transactions for the Handler
	notices []notice    // responses and ends for RequestFunc's transactions
}

func (a *afterUnlock) empty() bool {
	return len(a.stray) == 0 && len(a.serve) == 0 && len(a.notices) == 0
}

// run does the work and empties the lists for reuse.
func (a *afterUnlock) run(l *Layer) {
	for i, n := range a.notices {
		n.fn(n.res, n.err)
		a.notices[i] = notice{}
	}
	a.notices = a.notices[:0]
	for i, in := range a.stray {
		l.cfg.Handler.HandleDirect(in)
		a.stray[i] = transport.Incoming{}
	}
	a.stray = a.stray[:0]
	for i, t := range a.serve {
		l.serveTU(t)
		a.serve[i] = nil
	}
	a.serve = a.serve[:0]
}

// txn is a transaction as its shard's deadline heap sees it.
type txn interface {
	fire(s *shard, now time.Time)
}

// shard is a lock, a timer and the transactions whose keys hash to it.
// Whoever holds mu touches the maps, the heap, the timer and the state
// machines: the goroutine delivering a message, a caller of Request,
// Respond or Cancel, or the shard's timer goroutine.
type shard struct {
	l *Layer

	mu     sync.Mutex
	closed bool

	clients map[clientKey]*ClientTx
	servers map[serverKey]*serverTx
	tombs   tombStore // lingering server transactions (linger.go)
	legacy  map[legacyKey]*serverTx
	heap    timerheap.Heap[txn]
	timer   *time.Timer
	armed   time.Time

	// after collects calls to make once mu is released; scratch is the
	// list the unlocking goroutine runs, swapped with after under mu so
	// that neither allocates in the steady state.
	after   afterUnlock
	scratch sync.Pool
}

// lock takes the shard's lock; false (and not locked) if the layer has
// closed. Every input — a message, Request, Respond, Cancel, a flow
// error — is stepped between lock and unlock on the caller's goroutine.
func (s *shard) lock() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	return true
}

// unlock rearms the timer, releases the lock and makes the calls the step
// left for afterwards.
func (s *shard) unlock() {
	s.rearm()
	if s.after.empty() {
		s.mu.Unlock()
		return
	}
	var a *afterUnlock
	if v := s.scratch.Get(); v != nil {
		a = v.(*afterUnlock)
	} else {
		a = new(afterUnlock)
	}
	s.after, *a = *a, s.after
	s.mu.Unlock()
	a.run(s.l)
	s.scratch.Put(a)
}

// run waits for the shard's timer and fires what is due, until the layer
// closes.
func (s *shard) run() {
	for {
		select {
		case <-s.timer.C:
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return
			}
			s.armed = time.Time{}
			now := time.Now()
			s.heap.PopDue(now, func(t txn) { t.fire(s, now) })
			s.expireTombs(now)
			s.unlock()
		case <-s.l.quit:
			s.stop()
			return
		}
	}
}

// rearm resets the shard's one timer to the earliest deadline.
func (s *shard) rearm() {
	next, ok := s.heap.Peek()
	if d, tok := s.tombs.peek(); tok && (!ok || d.Before(next)) {
		next, ok = d, true
	}
	if !ok {
		if !s.armed.IsZero() {
			s.timer.Stop()
			s.armed = time.Time{}
		}
		return
	}
	if next.Equal(s.armed) {
		return
	}
	s.armed = next
	s.timer.Reset(time.Until(next))
}

// schedule puts the transaction's heap item at the machine's deadline
// (with Config.TimerSlack applied), or takes it out. A deadline not after now (which the machines never set)
// is pushed a millisecond ahead so that PopDue always ends.
func (s *shard) schedule(it *timerheap.Item[txn], m fsm, now time.Time) {
	d := m.deadline()
	if d.IsZero() {
		s.heap.Remove(it)
		return
	}
	if !d.After(now) {
		d = now.Add(time.Millisecond)
	}
	d = s.slack(d, now)
	if !it.Scheduled() || !d.Equal(it.Deadline()) {
		s.heap.Update(it, d)
	}
}

// slack applies Config.TimerSlack to deadline d: one more than T2 ahead
// of now is rounded up to a multiple of the slack.
func (s *shard) slack(d, now time.Time) time.Time {
	if sl := s.l.slack; sl > 0 && d.Sub(now) > s.l.timers.T2 {
		off := d.Sub(s.l.epoch)
		d = s.l.epoch.Add((off + sl - 1) / sl * sl)
	}
	return d
}

// stop ends everything the shard owns when the layer closes.
func (s *shard) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, tx := range s.clients {
		tx.end(s, ErrClosed)
	}
	for _, tx := range s.servers {
		tx.end(s, ErrClosed)
	}
	for _, tx := range s.legacy {
		tx.end(s, ErrClosed)
	}
	s.clearTombs()
	s.heap.Clear()
	s.timer.Stop()
	s.after = afterUnlock{} // nothing runs after a close
}

// message matches a message from the transport; the shard is locked.
func (s *shard) message(in transport.Incoming) {
	now := time.Now()
	switch m := in.Msg.(type) {
	case *sip.Request:
		s.request(now, m, in)
	case *sip.Response:
		s.response(now, m, in)
	}
}

// flowError fails the client transactions whose request went out on f;
// the shard is locked.
func (s *shard) flowError(f transport.Flow, err error) {
	now := time.Now()
	terr := &TransportError{Err: err}
	for _, tx := range s.clients {
		if tx.m != nil && tx.flow == f {
			s.stepClient(now, tx, input{kind: inTransportError, err: terr})
		}
	}
}

// The transport calls a Layer.
var _ transport.Handler = (*Layer)(nil)
