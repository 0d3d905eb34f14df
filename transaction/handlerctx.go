package transaction

import (
	"context"
	"sync"
	"time"
)

// handlerCtx is the context a server transaction's handler gets (ServeSIP's
// ctx): done when the transaction ends, or earlier when a CANCEL matched
// its INVITE, with the reason as its cause (context.Cause).
//
// It lives inside the transaction and makes the standard cancelable
// context it stands for only when a handler asks for something that needs
// it (Done, Value, and so context.Cause or a context derived from it): a
// handler that answers at once and never waits on it, as most do, costs
// no allocation for it. Until then it keeps the cause itself; Err answers
// from it without making anything.
type handlerCtx struct {
	mu     sync.Mutex
	inner  context.Context // made on first need, then canceled with the transaction
	cancel context.CancelCauseFunc
	cause  error // the first cause, while inner is not made
}

var _ context.Context = (*handlerCtx)(nil)

// get returns the standard context, made (and canceled at once when the
// transaction has ended) on the first call.
func (h *handlerCtx) get() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inner == nil {
		h.inner, h.cancel = context.WithCancelCause(context.Background())
		if h.cause != nil {
			h.cancel(h.cause)
			h.cause = nil
		}
	}
	return h.inner
}

// end cancels the context with cause; only the first cause counts, as
// with context.WithCancelCause.
func (h *handlerCtx) end(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.inner != nil:
		h.cancel(cause)
	case h.cause == nil:
		h.cause = cause
	}
}

// Deadline implements context.Context: a transaction's context has none.
func (h *handlerCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (h *handlerCtx) Done() <-chan struct{} { return h.get().Done() }

// Err implements context.Context: context.Canceled once the transaction
// has ended or its INVITE was canceled, nil before.
func (h *handlerCtx) Err() error {
	h.mu.Lock()
	inner, cause := h.inner, h.cause
	h.mu.Unlock()
	if inner != nil {
		return inner.Err()
	}
	if cause != nil {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context. It hands the question to the standard
// context, which is how context.Cause finds the cause and how a context
// derived from this one is canceled with it without a goroutine.
func (h *handlerCtx) Value(key any) any { return h.get().Value(key) }

// causeOf returns the cause the context ended with, nil while it has not,
// without making the standard context.
func (h *handlerCtx) causeOf() error {
	h.mu.Lock()
	inner, cause := h.inner, h.cause
	h.mu.Unlock()
	if inner != nil {
		return context.Cause(inner)
	}
	return cause
}

// String names the context in debug output, as the standard ones do.
func (h *handlerCtx) String() string { return "transaction.handlerCtx" }
