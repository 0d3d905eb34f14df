package rtp

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Ticker bounds.
const (
	// TickerMinPeriod and TickerMaxPeriod bound a Ticker's period.
	TickerMinPeriod = SessionMinPtime
	TickerMaxPeriod = time.Second
)

// Ticker runs a function on an Engine's clock once per period, beside the
// engine's sessions and on the same slot grid: a conference mixer, for
// example, that moves the frames of many sessions at each tick with no
// goroutine of its own. A Ticker that wakes up late catches up like a
// session (SendMaxCatchUpFrames ticks back to back; older ones are
// skipped and counted).
type Ticker struct {
	jobSched // owned by the engine worker (under worker.mu)

	fn      func(deadline time.Time)
	stop    sync.Once
	skipped atomic.Uint64
}

// NewTicker starts calling fn every period on one of e's workers, the
// first time within a period from now. fn receives the tick's scheduled
// time; it runs with the worker's lock held, so it must be short, and it
// must not close sessions of e or stop Tickers of e (do that from another
// goroutine). A period outside [TickerMinPeriod, TickerMaxPeriod] gives an
// error wrapping ErrEngineConfig.
func (e *Engine) NewTicker(period time.Duration, fn func(deadline time.Time)) (*Ticker, error) {
	if period < TickerMinPeriod || period > TickerMaxPeriod {
		return nil, fmt.Errorf("%w: ticker period %v", ErrEngineConfig, period)
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil ticker function", ErrEngineConfig)
	}
	t := &Ticker{fn: fn}
	e.attachJob(t, period, time.Now())
	return t, nil
}

// Stop takes the ticker off its engine, waiting for a tick in progress;
// after it returns fn is not called again. It is idempotent.
func (t *Ticker) Stop() {
	t.stop.Do(func() { t.worker.detach(t) })
}

// Skipped returns how many ticks were skipped because the worker woke up
// more than SendMaxCatchUpFrames periods late.
func (t *Ticker) Skipped() uint64 { return t.skipped.Load() }

// engineTick runs the due ticks.
func (t *Ticker) engineTick(*recvScratch, *sendBatch) {
	now := time.Now()
	if now.Before(t.next) {
		now = t.next // run up to a slot early: on time
	}
	skip, run := t.pace.due(now, SendMaxCatchUpFrames)
	t.pace.n += int64(skip)
	t.skipped.Add(uint64(skip))
	for range run {
		t.fn(t.pace.deadline())
		t.pace.n++
	}
}
