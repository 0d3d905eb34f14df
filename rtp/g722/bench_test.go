package g722

import "testing"

// BenchmarkEncode codes one 20 ms frame (320 samples into 160 octets).
func BenchmarkEncode(b *testing.B) {
	pcm := speechLike(FrameSamples, 1)
	e := NewEncoder()
	dst := make([]byte, 0, FrameBytes)
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Encode(dst[:0], pcm)
	}
}

// BenchmarkDecode decodes one 20 ms frame (160 octets into 320 samples).
func BenchmarkDecode(b *testing.B) {
	payload := encodeAll(speechLike(FrameSamples, 1))
	d := NewDecoder()
	dst := make([]int16, 0, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Decode(dst[:0], payload)
	}
}
