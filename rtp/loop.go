package rtp

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/wav"
)

// Looped audio: a WAV file held in memory that a session sends over and
// over in place of the host's frames (Session.SetLoop), as music on hold.

// MaxLoopDuration bounds the audio a Loop holds: at 16 kHz, 5 minutes are
// 9.6 MB of samples (and half that again at 8 kHz, and three times that at
// 48 kHz once an Opus call plays it). LoadLoop refuses a
// longer file with ErrLoopTooLong.
const MaxLoopDuration = 5 * time.Minute

// Loop errors.
var (
	// ErrLoopTooLong: the WAV file is longer than MaxLoopDuration.
	ErrLoopTooLong = errors.New("rtp: loop audio too long")
	// ErrLoopEmpty: the WAV file holds no samples.
	ErrLoopEmpty = errors.New("rtp: loop audio is empty")
)

// Loop is audio in memory, kept at 8 kHz and at 16 kHz so that it fits a
// G.711 and a G.722 call without converting on the media clock, and at
// 48 kHz once an Opus call at that rate first plays it (made then from
// the 16 kHz samples, three times their memory). It is immutable once
// made: any number of sessions send it at once, each from its own
// position.
type Loop struct {
	pcm8, pcm16 []int16
	pcm48once   sync.Once
	pcm48       []int16
}

// loopFullbandRate is the rate of an Opus call's frames when the host
// fixes none (RFC 7587: Opus at 48 kHz).
const loopFullbandRate = 48000

// LoadLoop reads a WAV file (any format package rtp/wav reads) into a
// Loop: decoded at 16 kHz, and from that at 8 kHz through the half-band
// filter of HostSampleRate's conversion. It reads no further than
// MaxLoopDuration of audio. Errors: those of wav.NewReader and Read,
// ErrLoopTooLong, ErrLoopEmpty.
func LoadLoop(r io.Reader) (*Loop, error) {
	rd, err := wav.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("rtp: loop: %w", err)
	}
	if err := rd.SetOutputRate(g722.SampleRate); err != nil {
		return nil, fmt.Errorf("rtp: loop: %w", err)
	}
	const chunk = 4096 // even: 2:1 down keeps its phase
	limit := int(MaxLoopDuration.Seconds()) * g722.SampleRate
	down := audio.NewResampler(false, chunk)
	l := &Loop{}
	buf := make([]int16, chunk)
	for {
		n, err := rd.Read(buf)
		l.pcm16 = append(l.pcm16, buf[:n]...)
		l.pcm8 = down.Convert(l.pcm8, buf[:n&^1])
		if len(l.pcm16) > limit {
			return nil, fmt.Errorf("%w: longer than %v", ErrLoopTooLong, MaxLoopDuration)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("rtp: loop: %w", err)
		}
	}
	if len(l.pcm8) == 0 {
		return nil, ErrLoopEmpty
	}
	return l, nil
}

// NewLoop makes a Loop of 8 kHz samples (copied; 16 kHz through the
// half-band filter). Errors: ErrLoopEmpty, ErrLoopTooLong.
func NewLoop(pcm8 []int16) (*Loop, error) {
	switch {
	case len(pcm8) == 0:
		return nil, ErrLoopEmpty
	case len(pcm8) > int(MaxLoopDuration.Seconds())*audio.SampleRate:
		return nil, fmt.Errorf("%w: longer than %v", ErrLoopTooLong, MaxLoopDuration)
	}
	up := audio.NewResampler(true, 2*len(pcm8))
	return &Loop{pcm8: slices.Clone(pcm8), pcm16: up.Convert(nil, pcm8)}, nil
}

// Duration is the length of the loop's audio.
func (l *Loop) Duration() time.Duration {
	return time.Duration(len(l.pcm8)) * time.Second / audio.SampleRate
}

// pcm returns the loop's samples at rate (8000, 16000 or 48000).
func (l *Loop) pcm(rate int) []int16 {
	switch rate {
	case g722.SampleRate:
		return l.pcm16
	case loopFullbandRate:
		l.pcm48once.Do(func() { l.pcm48 = upsample3(l.pcm16) })
		return l.pcm48
	}
	return l.pcm8
}

// upsample3 returns pcm at three times its rate, each new sample
// interpolated on the line between its neighbours (as package wav
// converts rates), the last one's interval closing on the first sample so
// that the loop joins up.
func upsample3(pcm []int16) []int16 {
	out := make([]int16, 0, 3*len(pcm))
	for i, v := range pcm {
		next := int32(pcm[(i+1)%len(pcm)])
		a := int32(v)
		out = append(out, v, int16(a+(next-a)/3), int16(a+2*(next-a)/3))
	}
	return out
}

// loopState is a session's position in its loop, under Session.mu.
type loopState struct {
	loop *Loop
	pos  time.Duration // of the audio, so a codec change keeps the place
}

// frameLocked appends n samples at rate from the loop to dst, wrapping at
// its end.
func (ls *loopState) frameLocked(dst []int16, n, rate int) []int16 {
	dst, ls.pos = ls.loop.AppendAt(dst, ls.pos, n, rate)
	return dst
}

// AppendAt appends to dst the n samples at rate (16000 or 48000, or else
// the 8 kHz audio) that start at pos in the loop, wrapping at its end, and returns
// them with the position that follows. The position is a time of the
// audio, so that a change of rate keeps the place. It is how a host that
// mixes the loop itself (a conference mixer) plays it.
func (l *Loop) AppendAt(dst []int16, pos time.Duration, n, rate int) ([]int16, time.Duration) {
	if rate != g722.SampleRate && rate != loopFullbandRate {
		rate = audio.SampleRate
	}
	pcm := l.pcm(rate)
	length := time.Duration(len(pcm)) * time.Second / time.Duration(rate)
	pos %= length
	if pos < 0 {
		pos += length
	}
	i := int(pos * time.Duration(rate) / time.Second)
	for need := n; need > 0; {
		k := min(need, len(pcm)-i)
		dst = append(dst, pcm[i:i+k]...)
		need -= k
		i = (i + k) % len(pcm)
	}
	return dst, (pos + time.Duration(n)*time.Second/time.Duration(rate)) % length
}

// SetLoop makes the session send l, looped, in place of the frames the
// host writes, which are discarded at their send time
// (SessionStats.FramesDiscarded) so that the host's pace is kept; nil
// gives the host's frames back. The loop restarts from its beginning each
// time it is set. It is how a UA plays music on hold.
func (s *Session) SetLoop(l *Loop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l == nil {
		s.tx.loop = loopState{}
		return
	}
	s.tx.loop = loopState{loop: l}
}

// Looping reports whether a Loop replaces the host's frames.
func (s *Session) Looping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx.loop.loop != nil
}
