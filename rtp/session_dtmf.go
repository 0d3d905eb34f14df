package rtp

import (
	"context"

	"github.com/dialtone/dialtone/rtp/dtmf"
)

// DTMF returns the channel on which received RFC 4733 digits arrive, each
// once, when it ends. It is closed by Close. Digits that find it full are
// dropped (SessionStats.DTMFDropped).
func (s *Session) DTMF() <-chan dtmf.Digit { return s.dtmfCh }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone events with
// the negotiated payload type, in the audio stream: same SSRC, sequence
// numbers and timestamp clock, the first event starting at the next frame,
// one packet per ptime, the end packet three times (§2.5.1), each next digit
// SessionConfig.DTMF's duration plus pause later. Queued audio is discarded
// while a digit plays. It returns when the last packet is sent. If ctx ends
// first, the digit in progress is completed (so the peer sees its end) and
// the rest are dropped; SendDTMF then returns ctx's error. One call runs at a
// time; others wait their turn. Errors: dtmf.ErrDigit for an invalid digit,
// ErrNoTelephoneEvent, ErrSessionClosed.
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	for _, d := range digits {
		if _, err := dtmf.EventForDigit(d); err != nil {
			return err
		}
	}
	if digits == "" {
		return nil
	}
	select {
	case s.dtmfSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrSessionClosed
	}
	defer func() { <-s.dtmfSem }()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrSessionClosed
	case !s.hasTE:
		s.mu.Unlock()
		return ErrNoTelephoneEvent
	}
	j := &dtmfJob{digits: digits, done: make(chan error, 1)}
	s.tx.dtmf = j
	s.mu.Unlock()
	select {
	case err := <-j.done:
		return err
	case <-s.quit:
		return ErrSessionClosed
	case <-ctx.Done():
	}
	s.mu.Lock()
	j.cancel = true
	s.mu.Unlock()
	select {
	case <-j.done:
	case <-s.quit:
	}
	return ctx.Err()
}

// deliverDTMF passes received digits to the DTMF channel without blocking.
func (s *Session) deliverDTMF(digits []dtmf.Digit) {
	for _, d := range digits {
		select {
		case s.dtmfCh <- d:
			s.dtmfReceived.Add(1)
		default:
			s.dtmfDropped.Add(1)
		}
	}
}
