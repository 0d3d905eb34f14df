package transaction

import (
	"context"
	"reflect"
	"sync"
)

// ctxWatches cancels the INVITE client transactions whose context ended
// before their final response (Request's contract). The INVITEs started
// with one context share one watch: one context.AfterFunc for all of
// them, where one per transaction cost three allocations each (the
// watcher, its stop function and the method value). A UA sends every
// INVITE with the same long-lived context, so a call costs none.
type ctxWatches struct {
	mu sync.Mutex
	m  map[context.Context]*ctxWatch
}

// ctxWatch is the INVITEs started with one context, and the AfterFunc
// registration that cancels them when it ends. Guarded by ctxWatches.mu.
type ctxWatch struct {
	ctx  context.Context
	stop func() bool
	txs  map[*ClientTx]struct{}
}

// watch arranges for tx.Cancel to run when ctx ends. The shard of tx is
// locked; the callback takes no shard lock before it has left w's.
func (ws *ctxWatches) watch(ctx context.Context, tx *ClientTx) {
	if !reflect.TypeOf(ctx).Comparable() {
		// Not usable as a map key: a watch of its own.
		tx.stopCtx = context.AfterFunc(ctx, tx.Cancel)
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.m[ctx]
	if w == nil {
		if ws.m == nil {
			ws.m = make(map[context.Context]*ctxWatch)
		}
		w = &ctxWatch{ctx: ctx, txs: make(map[*ClientTx]struct{})}
		ws.m[ctx] = w
		// Registered under ws.mu: the callback, which runs on a goroutine
		// of its own (at once when ctx has ended already), waits for it.
		w.stop = context.AfterFunc(ctx, func() { ws.fire(w) })
	}
	w.txs[tx] = struct{}{}
	tx.watch = w
}

// fire cancels the transactions of w, whose context has ended. A
// transaction registered after this finds no watch for the context and
// makes a new one, which fires at once.
func (ws *ctxWatches) fire(w *ctxWatch) {
	ws.mu.Lock()
	if ws.m[w.ctx] == w {
		delete(ws.m, w.ctx)
	}
	txs := make([]*ClientTx, 0, len(w.txs))
	for tx := range w.txs {
		txs = append(txs, tx)
	}
	clear(w.txs)
	ws.mu.Unlock()
	for _, tx := range txs {
		tx.Cancel()
	}
}

// unwatch forgets tx, which has ended; the watch goes with its last
// transaction. The shard of tx is locked.
func (ws *ctxWatches) unwatch(tx *ClientTx) {
	w := tx.watch
	tx.watch = nil
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(w.txs, tx)
	if len(w.txs) == 0 && ws.m[w.ctx] == w {
		delete(ws.m, w.ctx)
		w.stop()
	}
}
