package rtp

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// The session's per-frame paths with SRTP on, beside BenchmarkSessionSendPath
// and BenchmarkSessionReceivePath (the plain ones):
//
//	go test -run XXX -bench 'SessionSendPath|SessionReceivePath' ./rtp/

func srtpHarness(b *testing.B) (*pathHarness, *srtp.Context) {
	hs := newPathHarness(b)
	ka, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(b, err)
	kb, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(b, err)
	require.NoError(b, hs.s.SetSRTP(&srtp.ContextConfig{Local: ka.Keys, Remote: kb.Keys}))
	peer, err := srtp.NewContext(srtp.ContextConfig{Local: kb.Keys, Remote: ka.Keys})
	require.NoError(b, err)
	return hs, peer
}

// BenchmarkSessionSendPathSRTP: BenchmarkSessionSendPath plus SRTP
// protection (AES_CM_128_HMAC_SHA1_80).
func BenchmarkSessionSendPathSRTP(b *testing.B) {
	ctx := context.Background()
	hs, _ := srtpHarness(b)
	for range 200 {
		hs.send(ctx)
	}
	b.ReportAllocs()
	for b.Loop() {
		hs.send(ctx)
	}
	require.Positive(b, hs.s.Stats().SRTP.RTP.Protected)
}

// BenchmarkSessionReceivePathSRTP: BenchmarkSessionReceivePath plus SRTP
// unprotection in place; the peer's packets are protected ahead, in
// batches, outside the timing.
func BenchmarkSessionReceivePathSRTP(b *testing.B) {
	ctx := context.Background()
	hs, peer := srtpHarness(b)
	const batch = 1024
	var sec [][]byte
	next := 0
	refill := func() {
		sec = sec[:0]
		for range batch {
			p := hs.pkts[int(hs.seq)%len(hs.pkts)]
			p[2], p[3] = byte(hs.seq>>8), byte(hs.seq)
			p[4], p[5], p[6], p[7] = byte(hs.ts>>24), byte(hs.ts>>16), byte(hs.ts>>8), byte(hs.ts)
			hs.seq++
			hs.ts += audio.FrameSamples
			s, err := peer.ProtectRTP(make([]byte, 0, maxDatagram), p)
			if err != nil {
				b.Fatal(err)
			}
			sec = append(sec, s)
		}
		next = 0
	}
	receive := func() {
		if next == len(sec) {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		p, ok := hs.s.unprotect(sec[next], false)
		next++
		if !ok {
			b.Fatal("refused")
		}
		hs.digits = hs.s.handleRTP(&hs.h, p, hs.from, hs.now, hs.digits[:0])
		hs.s.mu.Lock()
		hs.s.tickLocked(hs.now, hs.now, true)
		hs.s.tx.out = hs.s.tx.out[:0]
		hs.s.mu.Unlock()
		hs.out, _ = hs.s.ReadFrame(ctx, hs.out[:0])
		hs.now = hs.now.Add(audio.FrameDuration)
	}
	refill()
	for range 200 {
		receive()
	}
	b.ReportAllocs()
	for b.Loop() {
		receive()
	}
	require.Zero(b, hs.s.Stats().SRTP.RTP.AuthFailed+hs.s.Stats().SRTP.RTP.Replayed)
}
