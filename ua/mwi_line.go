package ua

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// A line's message-waiting subscription (RFC 3842 §4): subscribed at New,
// kept up while the UA runs, its summaries handed to the host.

// mwiState is the message-waiting subscription of a line.
type mwiState struct {
	l      *Line
	target sip.URI

	mu       sync.Mutex
	last     MessageSummary
	have     bool
	failures int
	sub      *Subscription
}

// newMWI prepares the message-waiting subscription of l when its
// configuration asks for one (LineConfig.MessageWaiting).
func newMWI(l *Line) (*mwiState, error) {
	if !l.cfg.MessageWaiting {
		return nil, nil
	}
	target := l.aor.URI
	if l.cfg.Voicemail != "" {
		uri, err := parseTarget(l.cfg.Voicemail)
		if err != nil {
			return nil, fmt.Errorf("ua: line voicemail: %w", err)
		}
		target = uri
	}
	return &mwiState{l: l, target: target}, nil
}

// MessageWaiting returns the latest message summary of the line's
// message-waiting subscription (LineConfig.MessageWaiting), and whether
// one has come.
func (l *Line) MessageWaiting() (MessageSummary, bool) {
	m := l.mwi
	if m == nil {
		return MessageSummary{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, m.have
}

// start subscribes on a goroutine of the UA.
func (m *mwiState) start() { m.l.u.goTrack(m.run) }

func (m *mwiState) run() {
	u := m.l.u
	s, err := u.subscribe(u.baseCtx, m.target, SubscribeOptions{
		Line:     m.l,
		Event:    MessageSummaryEvent,
		Accept:   []string{MessageSummaryType},
		OnNotify: m.notified,
	}, m.ended)
	if err != nil {
		if errors.Is(err, ErrClosed) || u.baseCtx.Err() != nil {
			return
		}
		u.log.Debug("message-waiting subscription failed", "line", m.l.AOR().String(), "error", err.Error())
		m.retry(m.backoff())
		return
	}
	m.mu.Lock()
	m.failures, m.sub = 0, s
	m.mu.Unlock()
}

// notified takes a NOTIFY: a message-summary body goes to the host.
func (m *mwiState) notified(ctx context.Context, _ *Subscription, n *Notify) {
	if len(n.Body) == 0 {
		return
	}
	ms, err := ParseMessageSummary(n.Body)
	if err != nil {
		m.l.u.log.Debug("message summary not understood", "line", m.l.AOR().String(), "error", err.Error())
		return
	}
	m.mu.Lock()
	m.last, m.have = ms, true
	m.mu.Unlock()
	if f := m.l.cfg.OnMessageWaiting; f != nil {
		f(ctx, m.l, ms)
	}
}

// ended subscribes again after the subscription ended: at once when the
// notifier deactivated it or let it time out, after its retry-after for
// probation or giveup, never when it was rejected or has no resource; with
// the line's back-off after other failures. It runs where the subscription
// ended (possibly the UA's clock): it must not block.
func (m *mwiState) ended(_ *Subscription, why error) {
	if errors.Is(why, ErrClosed) || errors.Is(why, ErrUnsubscribed) {
		return
	}
	var te *TerminatedError
	if errors.As(why, &te) {
		again, after := te.State.Resubscribe()
		if !again {
			m.l.u.log.Debug("message-waiting subscription refused", "line", m.l.AOR().String(), "reason", te.State.Reason)
			return
		}
		m.retry(after)
		return
	}
	m.retry(m.backoff())
}

// backoff is the wait before the next attempt after a failure: RetryMin
// doubling up to RetryMax, as for registrations.
func (m *mwiState) backoff() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.l.cfg.RetryMin
	for i := 0; i < m.failures && d < m.l.cfg.RetryMax; i++ {
		d *= 2
	}
	m.failures++
	return min(d, m.l.cfg.RetryMax)
}

func (m *mwiState) retry(d time.Duration) {
	u := m.l.u
	if d <= 0 {
		u.goTrack(m.run)
		return
	}
	u.afterFunc(d, func() { u.goTrack(m.run) })
}
