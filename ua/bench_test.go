package ua_test

import (
	"testing"

	"github.com/dialtone/dialtone/ua"
)

// BenchmarkCall measures complete calls (INVITE, 200, ACK, BYE, 200)
// between two UAs over loopback UDP on real sockets.
func BenchmarkCall(b *testing.B) {
	callee := newUDPUA(b, ua.Config{OnCall: answerer(nil)})
	caller := newUDPUA(b, ua.Config{})
	target := "sip:bob@" + callee.Addrs()[0].String()
	sdp := []byte(testSDP)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := caller.Dial(b.Context(), target, ua.DialOptions{SDP: sdp})
			if err != nil {
				b.Error(err)
				return
			}
			if err := c.Hangup(b.Context()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
