package srtp_test

import (
	"testing"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// The per-frame cost of SRTP beside the plain path: one 20 ms G.711 frame
// packetized (and protected), and received (unprotected and decoded).
// Run: go test -run XXX -bench Frame ./rtp/srtp/

func benchFrame() []int16 {
	f := make([]int16, audio.FrameSamples)
	for i := range f {
		f[i] = int16(i * 97)
	}
	return f
}

func BenchmarkFrameSend(b *testing.B) {
	frame := benchFrame()
	for _, s := range []srtp.Suite{0, srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM} {
		name := "plain"
		var ctx *srtp.Context
		if s != 0 {
			name = s.String()
			ctx, _ = pair(b, s)
		}
		b.Run(name, func(b *testing.B) {
			h := pionrtp.Header{Version: 2, SSRC: 1}
			pkt := make([]byte, 0, 1500)
			out := make([]byte, 0, 1500)
			b.ReportAllocs()
			for b.Loop() {
				h.SequenceNumber++
				h.Timestamp += audio.FrameSamples
				p, err := g711.AppendPacket(pkt, &h, g711.ULaw, frame)
				if err != nil {
					b.Fatal(err)
				}
				if ctx != nil {
					if _, err := ctx.ProtectRTP(out, p); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkFrameReceive(b *testing.B) {
	frame := benchFrame()
	for _, s := range []srtp.Suite{0, srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM} {
		name := "plain"
		if s != 0 {
			name = s.String()
		}
		b.Run(name, func(b *testing.B) {
			var tx, rx *srtp.Context // per run: packets replayed to a context are refused
			if s != 0 {
				tx, rx = pair(b, s)
			}
			// Packets made ahead, so that each has a fresh index.
			const n = 4096
			pkts := make([][]byte, n)
			h := pionrtp.Header{Version: 2, SSRC: 1}
			for i := range pkts {
				h.SequenceNumber++
				p, err := g711.AppendPacket(nil, &h, g711.ULaw, frame)
				if err != nil {
					b.Fatal(err)
				}
				if tx != nil {
					if p, err = tx.ProtectRTP(nil, p); err != nil {
						b.Fatal(err)
					}
				}
				pkts[i] = p
			}
			var hdr pionrtp.Header
			plain := make([]byte, 0, 1500)
			pcm := make([]int16, 0, audio.FrameSamples)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := pkts[i%n]
				i++
				if rx != nil {
					var err error
					if p, err = rx.UnprotectRTP(plain, p); err != nil {
						if i > n { // the packets came round again: replays
							continue
						}
						b.Fatal(err)
					}
				}
				hl, err := hdr.Unmarshal(p)
				if err != nil {
					b.Fatal(err)
				}
				g711.DecodeULaw(pcm, p[hl:])
			}
		})
	}
}
