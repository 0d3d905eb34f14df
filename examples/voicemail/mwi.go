package main

import (
	"context"
	"sync"
	"time"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// Message waiting (RFC 3842): the owner's phones SUBSCRIBE to
// message-summary for their mailbox (the Request-URI's user); each gets
// a NOTIFY at once and whenever the mailbox's counts change.

// NotifyTimeout bounds the wait for each NOTIFY's answer.
const NotifyTimeout = 32 * time.Second

// waiting keeps the subscriptions by mailbox.
type waiting struct {
	store  *Store
	access string
	printf func(string, ...any)
	ctx    context.Context
	wg     *sync.WaitGroup

	mu   sync.Mutex
	subs map[string]map[*ua.Notifier]string // the host of the Message-Account

	sendMu sync.Mutex // one round of NOTIFYs at a time, each with the latest counts
}

// summary is the message-summary body of box.
func (m *waiting) summary(box string, host string) []byte {
	n, o := m.store.Counts(box)
	acct := sip.URI{Scheme: "sip", User: m.access, Host: host}
	return ua.MessageSummary{
		Waiting: n > 0,
		Account: acct.String(),
		Classes: []ua.MessageCounts{{Class: "voice-message", New: n, Old: o}},
	}.Marshal()
}

// subscribe is Config.OnSubscribe.
func (m *waiting) subscribe(_ context.Context, is *ua.IncomingSubscription) {
	if is.Event() != ua.MessageSummaryEvent {
		_ = is.Reject(sip.StatusBadEvent, "Bad Event")
		return
	}
	req := is.Request()
	box := uriUser(req.URI)
	if !m.store.Has(box) {
		_ = is.Reject(sip.StatusNotFound, "No Such Mailbox")
		return
	}
	n, err := is.Accept(ua.MessageSummaryType, m.summary(box, req.URI.HostPort()))
	if err != nil {
		m.printf("subscription box=%s failed: %v", box, err)
		return
	}
	m.printf("subscribed box=%s from=%s expires=%s", box, is.From().URI, is.Expires())
	m.mu.Lock()
	if m.subs[box] == nil {
		m.subs[box] = map[*ua.Notifier]string{}
	}
	m.subs[box][n] = req.URI.HostPort()
	m.mu.Unlock()
	m.wg.Go(func() {
		<-n.Done()
		m.mu.Lock()
		delete(m.subs[box], n)
		m.mu.Unlock()
		m.printf("subscription box=%s ended: %v", box, n.Err())
	})
}

// changed is the store's OnChange: a NOTIFY to each subscriber of box.
func (m *waiting) changed(box string) {
	m.wg.Go(func() {
		m.sendMu.Lock()
		defer m.sendMu.Unlock()
		m.mu.Lock()
		ns := map[*ua.Notifier]string{}
		for n, host := range m.subs[box] {
			ns[n] = host
		}
		m.mu.Unlock()
		newMsgs, saved := m.store.Counts(box)
		for n, host := range ns {
			ctx, cancel := context.WithTimeout(m.ctx, NotifyTimeout)
			err := n.Notify(ctx, ua.MessageSummaryType, m.summary(box, host))
			cancel()
			m.printf("notify box=%s new=%d saved=%d err=%v", box, newMsgs, saved, err)
		}
	})
}
