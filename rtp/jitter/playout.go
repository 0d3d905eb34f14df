package jitter

import (
	"slices"
	"time"
)

// Pop returns the frame to play at now, appended to dst, and what it is:
// FrameDuration of audio, taken from as many packets as that spans. Call
// it once per FrameDuration. With Empty nothing is appended; otherwise
// exactly one frame is (completed with silence, counted in Stats.Padded,
// when the buffer runs dry within it), Concealed when any of it is.
func (b *Buffer) Pop(now time.Time, dst []int16) ([]int16, Status) {
	status := Empty
	need := b.frameSamples
	for need > 0 {
		if len(b.pend) == 0 {
			st := b.popPacket(now)
			if st == Empty {
				break
			}
			b.pendConcealed = st == Concealed
		}
		n := min(need, len(b.pend))
		dst = append(dst, b.pend[:n]...)
		b.pend = b.pend[n:]
		need -= n
		if b.pendConcealed {
			status = Concealed
		} else if status == Empty {
			status = Played
		}
	}
	if status != Empty && need > 0 {
		n := len(dst)
		dst = slices.Grow(dst, need)[:n+need]
		clear(dst[n:])
		b.stats.Padded++
	}
	return dst, status
}

// popPacket moves the playout point to the next packet and puts its
// samples (as received, or concealment) in b.pend; Empty when there is
// none to play at now.
func (b *Buffer) popPacket(now time.Time) Status {
	if !b.playing {
		if b.count == 0 || now.Before(b.bufferSince.Add(b.target())) {
			return Empty
		}
		// Start from the first buffered frame; the gap before it was
		// never played, save the numbers that carried no audio.
		for {
			s := &b.slots[b.next%int64(len(b.slots))]
			if s.used && s.ext == b.next && !s.skip {
				break
			}
			if s.used && s.ext == b.next {
				s.used = false
			} else {
				b.stats.Lost++
			}
			b.next++
			b.advanced = true
		}
		b.playing = true
		b.havePlayed = false // a new talkspurt: no continuity check
	}
	b.passSkipped()

	var status Status
	s := &b.slots[b.next%int64(len(b.slots))]
	switch {
	case s.used && s.ext == b.next:
		if b.havePlayed && s.ts != b.expectTS && now.Before(s.arrival.Add(b.target())) {
			// A new talkspurt: let it wait the target delay.
			b.playing = false
			b.bufferSince = s.arrival
			return Empty
		}
		// The packet's samples become the pending ones by a swap of
		// memory, not a copy: the slot takes pend's previous buffer.
		samples := s.samples
		s.samples, b.pendBuf = b.pendBuf[:0], samples[:0]
		b.pend = samples
		b.plc.played(b.pend)
		b.lastLen = len(samples)
		b.expectTS = s.ts + uint32(len(samples))
		b.havePlayed = true
		b.afterSkip = false
		b.concealRun = 0
		b.release(s)
		b.stats.Played++
		status = Played
	case b.count > 0 && b.depth() < b.target() && b.waits < int(b.target()/b.lastDuration()):
		// The frame is late and the buffer is shallower than the target:
		// fill in and keep waiting for it, which deepens the buffer. The
		// wait is bounded in case the stream stopped behind the gap.
		b.pend = b.conceal(b.pendBuf[:0], false)
		b.waits++
		b.stats.Concealed++
		return Concealed
	case b.count > 0:
		b.pend = b.conceal(b.pendBuf[:0], true)
		b.stats.Lost++
		b.stats.Concealed++
		status = Concealed
	case b.havePlayed && !b.afterSkip && b.waits < int(b.target()/b.lastDuration()):
		// Dry inside a talkspurt: the next packet is more likely late
		// than the stream over (a talkspurt ends after a packet that
		// carries no audio, such as comfort noise, or fades out here).
		// Fill in and keep waiting, so that when it comes the delay has
		// grown by the wait instead of the talkspurt restarting after a
		// gap of silence.
		b.pend = b.conceal(b.pendBuf[:0], false)
		b.waits++
		b.stats.Concealed++
		return Concealed
	default:
		b.playing = false
		b.waits = 0
		b.stats.Underruns++
		return Empty
	}
	b.next++
	b.advanced = true
	b.waits = 0
	b.shrink()
	return status
}

// lastDuration returns the duration of the last packet played, FrameDuration
// before the first.
func (b *Buffer) lastDuration() time.Duration {
	if b.lastLen == 0 {
		return b.frame
	}
	return time.Duration(int64(b.lastLen) * int64(time.Second) / int64(b.clock))
}

// passSkipped moves the playout point over sequence numbers that carried
// no audio (Skip).
func (b *Buffer) passSkipped() {
	for {
		s := &b.slots[b.next%int64(len(b.slots))]
		if !s.used || !s.skip || s.ext != b.next {
			return
		}
		s.used = false
		b.next++
		b.advanced = true
		b.afterSkip = true
	}
}

// conceal appends a replacement for a missing packet of the last one's
// duration: waveform substitution (see concealer), silence once
// ConcealFrames packets in a row were concealed or when concealment is
// off. skip says the missing packet is given up, so the next expected
// timestamp moves on.
func (b *Buffer) conceal(dst []int16, skip bool) []int16 {
	b.concealRun++
	n := b.lastLen
	if n == 0 {
		n = b.frameSamples
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:len(dst)+n]
	out := dst[start:]
	b.plc.conceal(out)
	if b.concealRun > b.concealFrames {
		clear(out)
	}
	if skip {
		b.expectTS += uint32(n)
	}
	return dst
}

// release frees a slot at the playout point.
func (b *Buffer) release(s *jitterSlot) {
	s.used = false
	b.count--
}

// shrink discards one packet after the buffer stayed more than a frame (or
// a packet, when packets are longer) above the target for ShrinkAfter Pops:
// the depth swings by a packet's duration as packets arrive and play out,
// so only a margin beyond that is excess delay. The packet discarded is the
// next quiet one (ShrinkQuietLevel), so speech is not cut, unless the
// depth exceeds MaxDepth.
func (b *Buffer) shrink() {
	if b.depth() <= b.target()+max(b.frame, b.lastDuration()) {
		b.overRun = 0
		return
	}
	b.overRun++
	if b.overRun < ShrinkAfter {
		return
	}
	b.passSkipped()
	s := &b.slots[b.next%int64(len(b.slots))]
	present := s.used && s.ext == b.next
	if present && !quiet(s.samples) && b.depth() <= b.maxDepth+max(b.frame, b.lastDuration()) {
		return // shrink in a pause, not in speech, unless beyond MaxDepth
	}
	b.overRun = 0
	if present {
		b.expectTS = s.ts + uint32(len(s.samples))
		b.release(s)
		b.stats.Discarded++
	} else {
		b.stats.Lost++
	}
	b.next++
}

// quiet reports whether samples are silence or close to it: a mean
// absolute level below ShrinkQuietLevel.
func quiet(samples []int16) bool {
	var sum int64
	for _, v := range samples {
		sum += int64(max(v, -v))
	}
	return sum < int64(ShrinkQuietLevel)*int64(len(samples))
}

// depth returns the audio buffered from the playout point to the end of
// the highest packet, by timestamps (so missing packets count for their
// duration), plus what is left of the packet being played.
func (b *Buffer) depth() time.Duration {
	n := len(b.pend)
	if b.count > 0 {
		h := &b.slots[b.highest%int64(len(b.slots))]
		end := h.ts + uint32(len(h.samples))
		var d int32
		switch s := &b.slots[b.next%int64(len(b.slots))]; {
		case b.havePlayed:
			d = int32(end - b.expectTS)
		case s.used && s.ext == b.next:
			d = int32(end - s.ts)
		default:
			d = int32(b.highest-b.next+1) * int32(b.frameSamples)
		}
		n += max(int(d), 0)
	}
	return time.Duration(int64(n) * int64(time.Second) / int64(b.clock))
}
