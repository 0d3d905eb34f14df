package rtp

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/dialtone/dialtone/internal/timerheap"
)

// Engine settings and their defaults.
const (
	// DefaultEngineSlot is the scheduling granularity when EngineConfig.Slot
	// is zero: session clocks tick on a 1 ms grid.
	DefaultEngineSlot = time.Millisecond
	// EngineMinSlot and EngineMaxSlot bound EngineConfig.Slot.
	EngineMinSlot = 100 * time.Microsecond
	EngineMaxSlot = 10 * time.Millisecond
	// EngineMaxWorkers bounds EngineConfig.Workers.
	EngineMaxWorkers = 1024
)

// ErrEngineConfig reports an invalid EngineConfig.
var ErrEngineConfig = errors.New("rtp: invalid engine configuration")

// EngineConfig configures an Engine. The zero value of each field selects
// its documented default.
type EngineConfig struct {
	// Workers is the number of clock goroutines that share the sessions;
	// 0 means runtime.GOMAXPROCS(0) when NewEngine is called.
	Workers int
	// NoRing makes the workers read each session's sockets and send each
	// packet with system calls of their own. By default, on Linux 5.6 and
	// later, a worker reads the sockets of all the sessions it runs at one
	// wake-up through an io_uring, a round of reads in one call, and sends
	// their packets in one call more; where the kernel refuses a ring, it
	// falls back to this.
	NoRing bool
	// Slot is the scheduling granularity, between EngineMinSlot and
	// EngineMaxSlot; 0 means DefaultEngineSlot. A session's frame deadlines
	// lie on a grid of this step, and sessions are spread over the slots
	// of a frame period so that no wake-up sends every frame at once. A
	// frame may leave up to one slot before its deadline (the runtime's
	// timers wake up to a millisecond late; waiting for the exact deadline
	// would make most frames late instead); it keeps its place in the
	// stream: RTP timestamps and the cadence follow the deadlines.
	Slot time.Duration
}

// Engine is the media clock shared by many sessions: a few worker
// goroutines, each with a deadline heap of its sessions, wake up when a
// session's frame is due and run that session's tick — receive what arrived
// on its sockets, send the frame (or DTMF), play out one frame and send RTCP
// when due — instead of one goroutine and one timer per session. Sessions
// are assigned to the least-loaded worker and to the least-loaded time slot
// of the frame period, so that the frames of 1,000 calls are sent in small
// batches spread over each period.
//
// An Engine has no goroutines while no session uses it: a worker starts
// when the first session joins it and stops when its last session closes
// (Session.Close waits for it), so an Engine needs no Close and owns no
// goroutine beyond its sessions' lifetime. A nil SessionConfig.Engine
// selects one Engine per PortAllocator. It is safe for concurrent use.
// Within a testing/synctest bubble, give the bubble its own Engine (or
// PortAllocator).
type Engine struct {
	slot    time.Duration
	workers []*worker

	mu    sync.Mutex
	epoch time.Time // origin of the slot grid, set at the first attach
}

// NewEngine validates cfg and returns an engine; invalid settings give an
// error wrapping ErrEngineConfig.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Slot == 0 {
		cfg.Slot = DefaultEngineSlot
	}
	switch {
	case cfg.Workers < 0 || cfg.Workers > EngineMaxWorkers:
		return nil, fmt.Errorf("%w: Workers %d", ErrEngineConfig, cfg.Workers)
	case cfg.Slot < EngineMinSlot || cfg.Slot > EngineMaxSlot:
		return nil, fmt.Errorf("%w: Slot %v", ErrEngineConfig, cfg.Slot)
	}
	e := &Engine{slot: cfg.Slot}
	phases := max(int(audio.FrameDuration/cfg.Slot), 1)
	for range cfg.Workers {
		e.workers = append(e.workers, &worker{slot: cfg.Slot, noRing: cfg.NoRing, load: make([]int, phases)})
	}
	return e, nil
}

// Sessions returns the number of open sessions and running Tickers driven
// by the engine.
func (e *Engine) Sessions() int {
	n := 0
	for _, w := range e.workers {
		w.mu.Lock()
		n += w.heap.Len()
		w.mu.Unlock()
	}
	return n
}

// engineJob is what a worker's heap holds: a session, or a Ticker.
type engineJob interface {
	// engineTick runs the job's due ticks on the worker, under its lock. A
	// session reads its sockets first with sc, unless sc is nil: the
	// worker's batch read them.
	engineTick(sc *recvScratch, b *sendBatch)
	schedule() *jobSched
}

// jobSched is a job's place on its worker, owned by the worker (under
// worker.mu).
type jobSched struct {
	worker *worker
	pace   pacer
	next   time.Time                 // pace.deadline() when last scheduled
	item   timerheap.Item[engineJob] // in worker.heap while scheduled
	phase  int                       // slot of the frame period, for load balancing
}

func (j *jobSched) schedule() *jobSched { return j }

// attach adds s to the engine with its ptime as the period.
func (e *Engine) attach(s *Session, now time.Time) { e.attachJob(s, s.ptime, now) }

// attachJob adds j to the least-loaded worker, starting the worker if it
// was idle, with its first tick in the least-loaded slot after now.
func (e *Engine) attachJob(j engineJob, period time.Duration, now time.Time) {
	e.mu.Lock()
	if e.epoch.IsZero() {
		e.epoch = now
	}
	epoch := e.epoch
	var w *worker
	best := 0
	for _, c := range e.workers {
		c.mu.Lock()
		n := c.heap.Len()
		c.mu.Unlock()
		if w == nil || n < best {
			w, best = c, n
		}
	}
	e.mu.Unlock()
	w.attach(j, period, epoch, now)
}

// worker is one clock goroutine's share of an engine: a deadline heap of
// sessions. Its goroutine runs while the heap is not empty; gen identifies
// the running one.
type worker struct {
	slot   time.Duration
	noRing bool

	mu      sync.Mutex
	epoch   time.Time                 // the engine's, once a session joined
	heap    timerheap.Heap[engineJob] // by jobSched.next
	load    []int                     // sessions per phase slot
	gen     *workerGen
	scratch recvScratch
	due     []engineJob // popped off the heap, to run at this wake-up

	// stall, when set (tests only, before the first session joins), is
	// called at every wake-up before the due sessions run: a test holds
	// the worker up there, as a descheduled process would be.
	stall func()
}

// workerGen is one run of a worker's goroutine.
type workerGen struct {
	quit chan struct{}
	wake chan struct{} // 1-buffered: the earliest deadline changed
	done chan struct{}
}

// attach schedules j's first tick and starts the goroutine if needed.
func (w *worker) attach(j engineJob, period time.Duration, epoch, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The least-loaded phase: slot index k ≡ phase (mod len(load)).
	phase := 0
	for i, n := range w.load {
		if n < w.load[phase] {
			phase = i
		}
	}
	w.load[phase]++
	s := j.schedule()
	s.worker, s.phase = w, phase
	k := int64(now.Sub(epoch)/w.slot) + 1
	k += (int64(phase) - k%int64(len(w.load)) + int64(len(w.load))) % int64(len(w.load))
	s.pace = pacer{start: epoch.Add(time.Duration(k) * w.slot), period: period}
	s.next = s.pace.deadline()
	w.epoch = epoch
	s.item.Value = j
	w.heap.Update(&s.item, s.next)
	if w.gen == nil {
		g := &workerGen{quit: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
		w.gen = g
		go w.run(g)
	} else if w.heap.Min() == &s.item {
		notify(w.gen.wake)
	}
}

// detach removes j; once it returns the worker no longer touches j. When j
// was the last job it stops the goroutine and waits for it.
func (w *worker) detach(j engineJob) {
	s := j.schedule()
	w.mu.Lock()
	if !w.heap.Remove(&s.item) {
		w.mu.Unlock()
		return
	}
	w.load[s.phase]--
	var g *workerGen
	if w.heap.Len() == 0 && w.gen != nil {
		g, w.gen = w.gen, nil
		close(g.quit)
	}
	w.mu.Unlock()
	if g != nil {
		<-g.done
	}
}

// run is the worker goroutine: it sleeps until the earliest deadline, runs
// the tick of every session due, and goes back to sleep.
func (w *worker) run(g *workerGen) {
	defer close(g.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var batch *sendBatch
	if !w.noRing {
		batch = newSendBatch()
		defer batch.close()
	}
	for {
		if w.stall != nil {
			w.stall()
		}
		w.mu.Lock()
		if w.gen != g {
			w.mu.Unlock()
			return
		}
		// Frames due within the next slot go now: the runtime's timers
		// wake up to a millisecond late, so waiting for them would make
		// them late instead. Those that fall due meanwhile make the wait
		// below zero and run at once.
		limit := time.Now().Add(w.slot)
		for w.heap.PopDue(limit, w.collect) > 0 {
			w.tickDue(batch)
		}
		batch.flush() // before the lock goes: a session may leave then
		wait := time.Hour
		if d, ok := w.heap.Peek(); ok {
			wait = time.Until(d) - w.slot
		}
		w.mu.Unlock()
		t.Reset(wait)
		select {
		case <-g.quit:
			return
		case <-g.wake:
		case <-t.C:
		}
	}
}

// collect takes a job popped off the heap into w.due.
func (w *worker) collect(j engineJob) { w.due = append(w.due, j) }

// tickDue runs the ticks of the jobs in w.due, in deadline order, and puts
// them back on the heap at their next deadlines. The batch first reads the
// sockets of them all (one system call a round); without a ring each
// session reads its own in its tick.
func (w *worker) tickDue(batch *sendBatch) {
	sc := &w.scratch
	if batch.receive(w.due, sc, time.Now()) {
		sc = nil
	}
	for _, j := range w.due {
		j.engineTick(sc, batch)
		s := j.schedule()
		s.next = s.pace.deadline()
		w.heap.Update(&s.item, s.next)
	}
	clear(w.due)
	w.due = w.due[:0]
}
