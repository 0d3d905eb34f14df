package rtp

import (
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"

	pionrtp "github.com/pion/rtp"
)

// Pacing settings.
const (
	// SendMaxCatchUpFrames is how many overdue frames the pacing sender
	// still sends, back to back, when it wakes up late (the process was
	// descheduled, for example). Older overdue frames are skipped: their
	// audio is discarded and their RTP timestamps are left out, so the
	// receiver sees a gap rather than a growing delay (counted in
	// SessionStats.FramesSkipped).
	SendMaxCatchUpFrames = 3
)

// pacer is the send schedule of a session: tick n is due at
// start + n·period on the monotonic clock. Deadlines are computed from the
// start, never by adding to the previous wake-up time, so the cadence does
// not drift however late individual wake-ups are. It is a passive value:
// time is an argument.
type pacer struct {
	start  time.Time
	period time.Duration
	n      int64
}

// deadline returns when the next tick is due.
func (p *pacer) deadline() time.Time {
	return p.start.Add(time.Duration(p.n) * p.period)
}

// due returns how many ticks are due at now: the oldest skip of them are to
// be skipped and the next run to be run, run being at most maxCatchUp. The
// caller advances n by skip + run as it handles them.
func (p *pacer) due(now time.Time, maxCatchUp int) (skip, run int) {
	d := p.deadline()
	if now.Before(d) {
		return 0, 0
	}
	k := int(now.Sub(d)/p.period) + 1
	if k > maxCatchUp {
		return k - maxCatchUp, maxCatchUp
	}
	return 0, k
}

// setPeriod changes the period from the next tick on: that tick keeps its
// deadline and becomes the new start.
func (p *pacer) setPeriod(period time.Duration) {
	p.start = p.deadline()
	p.n = 0
	p.period = period
}

// Lateness histogram layout: fine buckets up to latenessFineLimit, coarse
// ones up to latenessCoarseLimit, and one overflow bucket.
const (
	latenessFineStep    = 100 * time.Microsecond
	latenessFineLimit   = 10 * time.Millisecond
	latenessCoarseStep  = time.Millisecond
	latenessCoarseLimit = 100 * time.Millisecond
	latenessFine        = int(latenessFineLimit / latenessFineStep)
	latenessBuckets     = latenessFine + int((latenessCoarseLimit-latenessFineLimit)/latenessCoarseStep) + 1
)

// LatenessHistogram records how late the pacing sender sent frames relative
// to their scheduled time: 100 µs buckets up to 10 ms, 1 ms buckets up to
// 100 ms, and one bucket above. Its zero value is empty and ready to use.
// It is a plain value: copy it to keep a snapshot.
type LatenessHistogram struct {
	counts [latenessBuckets]uint32
	total  uint64
	max    time.Duration
	sum    time.Duration
}

func latenessBucket(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < latenessFineLimit:
		return int(d / latenessFineStep)
	case d < latenessCoarseLimit:
		return latenessFine + int((d-latenessFineLimit)/latenessCoarseStep)
	}
	return latenessBuckets - 1
}

// latenessUpper returns the upper bound of bucket i.
func latenessUpper(i int) time.Duration {
	if i < latenessFine {
		return time.Duration(i+1) * latenessFineStep
	}
	return latenessFineLimit + time.Duration(i-latenessFine+1)*latenessCoarseStep
}

// Add records one frame sent d late; negative values count as zero.
func (h *LatenessHistogram) Add(d time.Duration) {
	d = max(d, 0)
	h.counts[latenessBucket(d)]++
	h.total++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds the samples of o to h.
func (h *LatenessHistogram) Merge(o *LatenessHistogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Since returns the samples h gained after prev, an earlier copy of h: the
// lateness of one interval out of a running histogram. Its Max is the
// upper bound of the highest bucket that gained samples, at most h.Max().
func (h *LatenessHistogram) Since(prev *LatenessHistogram) LatenessHistogram {
	var d LatenessHistogram
	for i, c := range h.counts {
		d.counts[i] = c - prev.counts[i]
		if d.counts[i] > 0 {
			d.max = min(latenessUpper(i), h.max)
			if i == latenessBuckets-1 {
				d.max = h.max
			}
		}
	}
	d.total = h.total - prev.total
	d.sum = h.sum - prev.sum
	return d
}

// Count returns the number of samples.
func (h *LatenessHistogram) Count() uint64 { return h.total }

// Max returns the largest sample.
func (h *LatenessHistogram) Max() time.Duration { return h.max }

// Mean returns the average sample, 0 when empty.
func (h *LatenessHistogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}

// Quantile returns an upper estimate of the q-quantile (0 < q ≤ 1, for
// example 0.99): the upper bound of the bucket holding it, at most Max.
// It returns 0 when empty.
func (h *LatenessHistogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			if i == latenessBuckets-1 {
				return h.max
			}
			return min(latenessUpper(i), h.max)
		}
	}
	return h.max
}

// outPacket is a datagram the engine worker sends once it has released
// the session lock.
type outPacket struct {
	b      []byte
	to     netip.AddrPort
	onRTCP bool // send from the RTCP socket
}

// txState is the sending side of a session, guarded by Session.mu except
// where noted.
type txState struct {
	seq         uint16
	tsNext      uint32 // RTP timestamp of the next tick
	lastTickTS  uint32
	lastTickAt  time.Time
	talking     bool      // the previous tick sent audio: no marker on the next
	dtxGap      bool      // Opus DTX left frames unsent: marker on the next
	dtxFrames   uint64    // frames Opus DTX did not send
	lastRTPAt   time.Time // deadline of the tick that last sent RTP
	packets     uint64
	octets      uint64
	late        LatenessHistogram
	skipped     uint64
	discarded   uint64
	dtmfSent    uint64
	sendErrors  uint64
	keepAlives  uint64 // RFC 6263 keep-alives
	silenceSent uint64 // frames of silence sent because the host played nothing
	cnSent      uint64 // RFC 3389 comfort-noise packets, keep-alives included

	q       frameRing
	loop    loopState // music on hold in place of q (loop.go)
	loopPCM []int16   // scratch frame of the loop
	silence []int16
	hdr     pionrtp.Header
	dtmf    *dtmfJob

	// Owned by the engine worker (and benchmarks that drive ticks).
	out     []outPacket
	outBufs [][]byte
	digits  []dtmf.Digit
	// batched counts the packets of out already in the worker's send
	// batch: a session run twice before the batch goes out (its next
	// frame fell due within the same wake-up) adds only the rest.
	batched int
	// sink, when set (tests only), sees each packet of a session without
	// sockets as it is handed over to be sent, in place of the socket.
	sink func(b []byte)
}

// sinkOut hands out's packets to the test sink of a session without
// sockets.
func (t *txState) sinkOut(out []outPacket) {
	if t.sink == nil {
		return
	}
	for i := range out {
		t.sink(out[i].b)
	}
}

// outBuf returns an empty buffer for the next outgoing packet: the one
// of its place in out. An RTCP report in out brings its own bytes and
// leaves its place's buffer unused, so out may be longer than outBufs.
func (t *txState) outBuf() []byte {
	i := len(t.out)
	for len(t.outBufs) <= i {
		t.outBufs = append(t.outBufs, make([]byte, 0, maxDatagram))
	}
	return t.outBufs[i][:0]
}

// engineTick is the session's turn on its engine worker, when its next
// frame is due: it handles what arrived on the sockets (read with sc, or
// already by the worker's batch when sc is nil), then the due ticks. The
// packets it queues go into the worker's batch b, or out at once when b is
// nil.
func (s *Session) engineTick(sc *recvScratch, b *sendBatch) {
	now := time.Now()
	if s.socks != nil && sc != nil {
		s.socks.receive(s, sc, now)
	}
	// A frame run up to a slot early counts as on time (lateness 0).
	if now.Before(s.next) {
		now = s.next
	}
	s.wake(now, &s.pace, b)
}

// wake handles the ticks due at now and advances p past them; b is as for
// engineTick.
func (s *Session) wake(now time.Time, p *pacer, b *sendBatch) {
	s.mu.Lock()
	if s.ptime != p.period {
		p.setPeriod(s.ptime)
	}
	skip, run := p.due(now, SendMaxCatchUpFrames)
	for range skip {
		s.tickLocked(now, p.deadline(), false)
		s.tx.skipped++
		p.n++
	}
	for range run {
		s.tickLocked(now, p.deadline(), true)
		p.n++
	}
	s.tx.digits = s.dtmfRx.Expire(s.tx.digits[:0], now)
	if !now.Before(s.rtcp.next) {
		s.queueRTCPLocked(now)
	}
	frameFn := s.frameFn
	s.mu.Unlock()

	s.traceOut(now)
	if !b.add(s) {
		s.flush()
	}
	s.deliverDTMF(s.tx.digits)
	if skip+run > 0 {
		if frameFn != nil {
			frameFn()
		}
		notify(s.txSpace)
		notify(s.rxReady)
	}
}

// notify does a non-blocking send on a 1-buffered signal channel.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// queueRTCPLocked builds the periodic report, queues it when there is
// somewhere to send it, and schedules the next one.
func (s *Session) queueRTCPLocked(now time.Time) {
	if s.rtcpDest.IsValid() && !s.rtcpDest.Addr().IsUnspecified() {
		if b, err := s.buildRTCPLocked(now, false); err == nil {
			onRTCP := !s.rtcpOnRTP && !s.remoteMux
			s.queueOutLocked(outPacket{b: b, to: s.rtcpDest, onRTCP: onRTCP}, true)
		}
	}
	s.scheduleRTCPLocked(now)
}

// flush sends the queued packets. It runs on the engine worker without the
// session lock.
func (s *Session) flush() {
	t := &s.tx
	if len(t.out) == 0 {
		return
	}
	if s.socks == nil {
		t.sinkOut(t.out)
	}
	var errs uint64
	for i := range t.out {
		o := &t.out[i]
		if s.socks != nil && s.socks.Send(o.b, o.to, o.onRTCP) != nil {
			errs++
		}
	}
	s.sent(errs)
}

// sent empties the queue of packets once they have gone out (or failed:
// errs of them), on the engine worker without the session lock.
func (s *Session) sent(errs uint64) {
	t := &s.tx
	for i := range t.out {
		t.out[i].b = nil
	}
	t.out = t.out[:0]
	t.batched = 0
	if errs > 0 {
		s.mu.Lock()
		t.sendErrors += errs
		s.mu.Unlock()
	}
}

// canSendLocked reports whether RTP may be sent now: the remote is known,
// the negotiated direction sends, and the address is not the 0.0.0.0 of an
// old-style hold (RFC 3264 §8.4).
func (s *Session) canSendLocked() bool {
	return s.remoteSet && s.dir.Sends() && s.rtpDest.IsValid() && !s.rtpDest.Addr().IsUnspecified()
}

// tickLocked runs one frame period whose deadline was deadline: it takes the
// next queued frame and sends it (or the due DTMF packets instead), and
// plays out one frame from the jitter buffer. A skipped tick (send false)
// discards its audio frame but still sends its DTMF packets.
func (s *Session) tickLocked(now, deadline time.Time, send bool) {
	t := &s.tx
	fs := s.frameSamples
	ts := t.tsNext
	t.tsNext += s.tsPerFrame
	t.lastTickTS, t.lastTickAt = ts, deadline

	// The host's frame is read where it waits, in the queue's memory: no
	// push comes before this tick has sent it (both hold s.mu).
	frame, have := t.q.popInPlace()
	fill := false // frame is silence the host did not write
	if have {
		frame = s.toCallRateLocked(frame)
	}
	if t.loop.loop != nil {
		// A loop (music on hold) replaces the host's frame, which is
		// discarded to keep the host's pace.
		if have {
			t.discarded++
		}
		t.loopPCM = t.loop.frameLocked(t.loopPCM[:0], fs, s.codec.sampleRate())
		frame, have, fill = t.loopPCM, true, false
	} else if !have && !s.cfg.SuppressSilence && !s.hasCN {
		frame, have, fill = t.silence[:fs], true, true
	}
	// Events of skipped ticks are still sent, late: losing an end packet
	// matters more than a burst.
	canSend := s.canSendLocked()
	inDTMF := false
	if j := t.dtmf; j != nil {
		inDTMF = s.dtmfTickLocked(j, deadline, ts, canSend)
	}
	sent := false
	switch {
	case have && send && canSend && !inDTMF:
		s.appendAudioLocked(frame, ts)
		sent = true
		if fill {
			t.silenceSent++
		}
	case have && !fill:
		t.discarded++
	}
	if !sent && send && !inDTMF {
		switch {
		case canSend && !have && t.talking && s.hasCN && !s.cfg.SuppressSilence:
			// The talkspurt ended: tell the peer with a comfort-noise
			// packet (RFC 3389 §4); refreshed every IdleKeepAlive below.
			s.appendComfortNoiseLocked(ts)
			sent = true
		case (canSend || s.canReachLocked()) && s.keepAliveDueLocked(deadline):
			s.appendKeepAliveLocked(ts, canSend)
			sent = true
		}
	}
	t.talking = sent && have && canSend
	if sent || (inDTMF && canSend) {
		t.late.Add(now.Sub(deadline))
		t.lastRTPAt = deadline
	}
	s.playoutLocked(deadline)
}

// appendAudioLocked packetizes one frame with timestamp ts, setting the
// marker bit on the first packet of a talkspurt (RFC 3551 §4.1).
func (s *Session) appendAudioLocked(frame []int16, ts uint32) {
	t := &s.tx
	h := &t.hdr
	h.Version = 2
	h.Padding = false
	h.Extension = false
	h.Marker = !t.talking || t.dtxGap
	h.PayloadType = s.pt
	h.SequenceNumber = t.seq
	h.Timestamp = ts
	h.SSRC = s.ssrc
	b, size, err := s.codec.appendPacket(t.outBuf(), h, frame)
	if err != nil {
		t.sendErrors++
		return
	}
	if len(b) == 0 {
		// Opus DTX (usedtx=1): silence goes unsent; the timestamp moves
		// on, the sequence number does not (RFC 7587 §3.1.3).
		t.dtxGap = true
		t.dtxFrames++
		return
	}
	t.dtxGap = false
	t.seq++
	s.queueOutLocked(outPacket{b: b, to: s.rtpDest}, false)
	t.packets++
	t.octets += uint64(size)
	s.rtcp.weSent = true
}

// appendDTMFLocked packetizes one telephone-event packet (RFC 4733 §2.3)
// in the stream shared with audio: same SSRC and sequence numbers.
func (s *Session) appendDTMFLocked(p *dtmf.Packet) {
	t := &s.tx
	h := &t.hdr
	h.Version = 2
	h.Padding = false
	h.Extension = false
	h.Marker = p.Marker
	h.PayloadType = s.tePT
	h.SequenceNumber = t.seq
	h.Timestamp = p.Timestamp
	h.SSRC = s.ssrc
	buf := t.outBuf()
	buf = buf[:h.MarshalSize()]
	n, err := h.MarshalTo(buf)
	if err != nil {
		t.sendErrors++
		return
	}
	buf = p.Event.AppendTo(buf[:n])
	t.seq++
	s.queueOutLocked(outPacket{b: buf, to: s.rtpDest}, false)
	t.packets++
	t.octets += dtmf.PayloadSize
	t.dtmfSent++
	s.rtcp.weSent = true
}

// dtmfJob is a SendDTMF call in progress.
type dtmfJob struct {
	digits  string
	plan    []dtmf.Packet
	windows []dtmfWindow
	started bool
	start   time.Time
	next    int
	cancel  bool
	done    chan error // 1-buffered
}

// dtmfWindow is the time one digit occupies, relative to the job's start:
// from its start to its last end packet. Audio is not sent inside it.
type dtmfWindow struct{ from, to time.Duration }

// dtmfTickLocked advances job j at the tick with deadline and timestamp ts,
// packetizing the events due when canSend, and reports whether the tick
// falls inside a digit (no audio then). The first tick plans the digits:
// the first starts at this tick's timestamp, so events and audio share one
// timestamp clock (RFC 4733 §2.1).
func (s *Session) dtmfTickLocked(j *dtmfJob, deadline time.Time, ts uint32, canSend bool) bool {
	if j.cancel && !j.started {
		s.finishDTMFLocked(j, nil)
		return false
	}
	if !j.started {
		cfg := s.cfg.DTMF
		cfg.Interval = s.ptime
		sender, err := dtmf.NewSender(cfg)
		if err == nil {
			j.plan, err = sender.AppendDigits(nil, j.digits, ts)
		}
		if err != nil {
			s.finishDTMFLocked(j, err)
			return false
		}
		span := sender.Span()
		for i, p := range j.plan {
			if i == 0 || p.Timestamp != j.plan[i-1].Timestamp {
				from := time.Duration(len(j.windows)) * span
				j.windows = append(j.windows, dtmfWindow{from: from})
			}
			j.windows[len(j.windows)-1].to = p.At
		}
		j.start = deadline
		j.started = true
	}
	el := deadline.Sub(j.start)
	active := false
	for _, w := range j.windows {
		if el >= w.from && el <= w.to {
			active = true
			break
		}
	}
	if j.cancel && !active {
		s.finishDTMFLocked(j, nil)
		return false
	}
	for j.next < len(j.plan) && j.plan[j.next].At <= el {
		if canSend {
			s.appendDTMFLocked(&j.plan[j.next])
		}
		j.next++
	}
	if j.next == len(j.plan) {
		s.finishDTMFLocked(j, nil)
	}
	return active
}

func (s *Session) finishDTMFLocked(j *dtmfJob, err error) {
	if s.tx.dtmf == j {
		s.tx.dtmf = nil
	}
	j.done <- err
}
