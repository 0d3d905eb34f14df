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

// benchSuites are the suites the SRTP paths are measured with: the one
// every peer offers, and the AEAD one.
var benchSuites = []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AEAD_AES_128_GCM}

func srtpHarness(b *testing.B, suite srtp.Suite) (*pathHarness, *srtp.Context) {
	hs := newPathHarness(b)
	ka, err := srtp.NewCrypto(1, suite)
	require.NoError(b, err)
	kb, err := srtp.NewCrypto(1, suite)
	require.NoError(b, err)
	require.NoError(b, hs.s.SetSRTP(&srtp.ContextConfig{Local: ka.Keys, Remote: kb.Keys}))
	peer, err := srtp.NewContext(srtp.ContextConfig{Local: kb.Keys, Remote: ka.Keys})
	require.NoError(b, err)
	return hs, peer
}

// BenchmarkSessionSendPathSRTP: BenchmarkSessionSendPath plus SRTP
// protection, per suite.
func BenchmarkSessionSendPathSRTP(b *testing.B) {
	for _, suite := range benchSuites {
		b.Run(suite.String(), func(b *testing.B) {
			ctx := context.Background()
			hs, _ := srtpHarness(b, suite)
			for range 200 {
				hs.send(ctx)
			}
			b.ReportAllocs()
			for b.Loop() {
				hs.send(ctx)
			}
			require.Positive(b, hs.s.Stats().SRTP.RTP.Protected)
		})
	}
}

// BenchmarkSessionReceivePathSRTP: BenchmarkSessionReceivePath plus SRTP
// unprotection in place, per suite; the peer's packets are protected
// ahead, in batches, outside the timing, into buffers made once (so that
// no garbage collection of the batches falls inside it).
func BenchmarkSessionReceivePathSRTP(b *testing.B) {
	for _, suite := range benchSuites {
		b.Run(suite.String(), func(b *testing.B) { benchReceiveSRTP(b, suite) })
	}
}

func benchReceiveSRTP(b *testing.B, suite srtp.Suite) {
	ctx := context.Background()
	hs, peer := srtpHarness(b, suite)
	const batch = 1024
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 0, maxDatagram)
	}
	var sec [][]byte
	next := 0
	refill := func() {
		sec = sec[:0]
		for i := range batch {
			p := hs.pkts[int(hs.seq)%len(hs.pkts)]
			p[2], p[3] = byte(hs.seq>>8), byte(hs.seq)
			p[4], p[5], p[6], p[7] = byte(hs.ts>>24), byte(hs.ts>>16), byte(hs.ts>>8), byte(hs.ts)
			hs.seq++
			hs.ts += audio.FrameSamples
			s, err := peer.ProtectRTP(bufs[i][:0], p)
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
