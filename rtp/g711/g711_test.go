package g711

import (
	"math"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// Reference points from ITU-T G.711 tables 2a (μ-law) and 1a (A-law): the
// decision levels and decoder outputs of the 14-bit (μ-law) and 13-bit
// (A-law) uniform code, scaled to 16 bits (×4 and ×8), with the character
// signals as transmitted (A-law after even-bit inversion).
func TestG711UlawEncodeReference(t *testing.T) {
	tests := []struct {
		name string
		in   int16
		want byte
	}{
		{"zero", 0, 0xFF},
		{"minus one folds to negative zero", -1, 0x7F},
		{"one", 1, 0xFF},
		{"below first decision level", 4*1 - 1, 0xFF},
		{"first decision level", 4 * 1, 0xFE},
		{"minus first decision level", -4*1 - 1, 0x7E},
		{"end of segment 0", 4 * 30, 0xF0},
		{"start of segment 1", 4 * 31, 0xEF},
		{"start of segment 2", 4 * 95, 0xDF},
		{"start of segment 7", 4 * 4063, 0x8F},
		{"last decision level", 4 * 7903, 0x80},
		{"below last decision level", 4*7903 - 1, 0x81},
		{"max decoder output 8031", 4 * 8031, 0x80},
		{"saturation 8159", 4 * 8159, 0x80},
		{"full scale", math.MaxInt16, 0x80},
		{"negative full scale", math.MinInt16, 0x00},
		{"negative saturation", -4*8159 - 1, 0x00},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equalf(t, tc.want, EncodeULawSample(tc.in), "encode(%d)", tc.in)
		})
	}
}

func TestG711UlawDecodeReference(t *testing.T) {
	tests := []struct {
		in   byte
		want int16
	}{
		{0xFF, 0}, {0x7F, 0}, {0xFE, 4 * 2}, {0x7E, -4 * 2},
		{0xF0, 4 * 30}, {0xEF, 4 * 33}, {0xDF, 4 * 99},
		{0x80, 4 * 8031}, {0x00, -4 * 8031}, {0x8F, 4 * 4191},
	}
	for _, tc := range tests {
		require.Equalf(t, tc.want, DecodeULawSample(tc.in), "decode(%#02x)", tc.in)
	}
}

func TestG711AlawEncodeReference(t *testing.T) {
	tests := []struct {
		name string
		in   int16
		want byte
	}{
		{"zero", 0, 0xD5},
		{"minus one", -1, 0x55},
		{"below first decision level", 8*2 - 1, 0xD5},
		{"first decision level", 8 * 2, 0xD4},
		{"end of segment 1", 8*64 - 1, 0xCA},
		{"start of segment 2", 8 * 64, 0xF5},
		{"start of segment 7", 8 * 2048, 0xA5},
		{"last decision level", 8 * 3968, 0xAA},
		{"below last decision level", 8*3968 - 1, 0xAB},
		{"full scale", math.MaxInt16, 0xAA},
		{"negative full scale", math.MinInt16, 0x2A},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equalf(t, tc.want, EncodeALawSample(tc.in), "encode(%d)", tc.in)
		})
	}
}

func TestG711AlawDecodeReference(t *testing.T) {
	tests := []struct {
		in   byte
		want int16
	}{
		{0xD5, 8 * 1}, {0x55, -8 * 1}, {0xD4, 8 * 3}, {0xAA, 8 * 4032},
		{0x2A, -8 * 4032}, {0xA5, 8 * 2112}, {0x80, 8 * 688}, {0x00, -8 * 688},
	}
	for _, tc := range tests {
		require.Equalf(t, tc.want, DecodeALawSample(tc.in), "decode(%#02x)", tc.in)
	}
}

// Every code word decodes into its own quantization interval: re-encoding
// the decoded value returns the code (μ-law 0x7F, negative zero, becomes
// 0xFF), and decoded values are strictly monotonic in the code order.
func TestG711CodeWordsRoundTrip(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		u := EncodeULawSample(DecodeULawSample(b))
		if b == 0x7F {
			require.Equal(t, byte(0xFF), u)
		} else {
			require.Equalf(t, b, u, "μ-law %#02x", b)
		}
		require.Equalf(t, b, EncodeALawSample(DecodeALawSample(b)), "A-law %#02x", b)
	}
	// μ-law: 0x80..0xFF are positive, decreasing with the code.
	for c := 0x80; c < 0xFF; c++ {
		require.Greater(t, DecodeULawSample(byte(c)), DecodeULawSample(byte(c+1)))
		require.Equal(t, DecodeULawSample(byte(c)), -DecodeULawSample(byte(c&0x7F)))
	}
	// A-law: decoding the linear order of magnitudes (code ^ 0x55) increases.
	for m := range 127 {
		require.Less(t, DecodeALawSample(byte(m)^0xD5), DecodeALawSample(byte(m+1)^0xD5))
		require.Equal(t, DecodeALawSample(byte(m)^0xD5), -DecodeALawSample(byte(m)^0x55))
	}
}

// The round-trip error across the whole int16 range stays within half a
// quantization step: |x|/32 + 8 bounds it for both laws, including the
// saturated ends (the last step is 1024 for μ-law and A-law in 16-bit units).
func TestG711RoundTripErrorBound(t *testing.T) {
	laws := []struct {
		name   string
		enc    func(int16) byte
		dec    func(byte) int16
		maxOut int
	}{
		{"ulaw", EncodeULawSample, DecodeULawSample, 32124},
		{"alaw", EncodeALawSample, DecodeALawSample, 32256},
	}
	for _, law := range laws {
		t.Run(law.name, func(t *testing.T) {
			prev := math.MinInt
			for x := math.MinInt16; x <= math.MaxInt16; x++ {
				y := int(law.dec(law.enc(int16(x))))
				err := y - x
				if err < 0 {
					err = -err
				}
				ax := x
				if ax < 0 {
					ax = -ax
				}
				if err > ax/32+8 {
					t.Fatalf("x=%d decoded %d: error %d > %d", x, y, err, ax/32+8)
				}
				if y < prev {
					t.Fatalf("not monotonic at %d: %d < %d", x, y, prev)
				}
				prev = y
				require.LessOrEqual(t, y, law.maxOut)
				require.GreaterOrEqual(t, y, -law.maxOut)
			}
		})
	}
}

func TestG711SliceFunctions(t *testing.T) {
	src := []int16{0, -1, 1000, -1000, math.MaxInt16, math.MinInt16, 12345}
	for _, law := range []Law{ULaw, ALaw} {
		t.Run(law.String(), func(t *testing.T) {
			enc := law.Encode([]byte{0xEE}, src)
			require.Len(t, enc, len(src)+1)
			require.Equal(t, byte(0xEE), enc[0], "prefix kept")
			dec := law.Decode([]int16{7}, enc[1:])
			require.Len(t, dec, len(src)+1)
			require.Equal(t, int16(7), dec[0])
			for i, s := range src {
				var wantB byte
				var wantS int16
				if law == ULaw {
					wantB = EncodeULawSample(s)
					wantS = DecodeULawSample(wantB)
				} else {
					wantB = EncodeALawSample(s)
					wantS = DecodeALawSample(wantB)
				}
				require.Equal(t, wantB, enc[1+i])
				require.Equal(t, wantS, dec[1+i])
			}
		})
	}
	require.Equal(t, []byte{1}, Law(0).Encode([]byte{1}, src))
	require.Equal(t, []int16{1}, Law(9).Decode([]int16{1}, []byte{1, 2}))
}

func TestG711LawFor(t *testing.T) {
	tests := []struct {
		name    string
		codec   audio.Codec
		want    Law
		wantErr bool
	}{
		{"PCMU", audio.PCMU(), ULaw, false},
		{"PCMA", audio.PCMA(), ALaw, false},
		{"lower case", audio.Codec{Name: "pcma", PayloadType: 8, ClockRate: 8000}, ALaw, false},
		{"telephone-event", audio.TelephoneEvent(), 0, true},
		{"wideband clock", audio.Codec{Name: "PCMU", ClockRate: 16000}, 0, true},
		{"stereo", audio.Codec{Name: "PCMU", ClockRate: 8000, Channels: 2}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LawFor(tc.codec)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrCodec)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.codec.PayloadType, got.PayloadType())
			byPT, err := LawForPayloadType(got.PayloadType())
			require.NoError(t, err)
			require.Equal(t, got, byPT)
		})
	}
	_, err := LawForPayloadType(101)
	require.ErrorIs(t, err, ErrCodec)
	require.Equal(t, uint8(0xFF), Law(0).PayloadType())
	require.Equal(t, "G711Law(3)", Law(3).String())
}

func TestG711AppendPacket(t *testing.T) {
	samples := make([]int16, 160)
	for i := range samples {
		samples[i] = int16(i * 100)
	}
	h := &pionrtp.Header{Marker: true, PayloadType: audio.PayloadTypePCMA, SequenceNumber: 65535, Timestamp: 1 << 31, SSRC: 0xDEADBEEF}
	buf, err := AppendPacket([]byte("xx"), h, ALaw, samples)
	require.NoError(t, err)
	require.Equal(t, "xx", string(buf[:2]))

	var p pionrtp.Packet
	require.NoError(t, p.Unmarshal(buf[2:]))
	require.Equal(t, uint8(2), p.Version)
	require.True(t, p.Marker)
	require.Equal(t, uint8(audio.PayloadTypePCMA), p.PayloadType)
	require.Equal(t, uint16(65535), p.SequenceNumber)
	require.Equal(t, uint32(1<<31), p.Timestamp)
	require.Equal(t, uint32(0xDEADBEEF), p.SSRC)
	require.Equal(t, EncodeALaw(nil, samples), p.Payload)
	require.Equal(t, uint8(0), h.Version, "caller's header not modified")

	_, err = AppendPacket(nil, h, Law(0), samples)
	require.ErrorIs(t, err, ErrCodec)
}

// Steady state: encode+packetize and depacketize+decode of a 20 ms frame
// reuse caller buffers and allocate nothing.
func TestG711ZeroAllocs(t *testing.T) {
	src := make([]int16, audio.FrameSamples)
	for i := range src {
		src[i] = int16(i*397 - 30000)
	}
	enc := make([]byte, 0, audio.FrameSamples)
	dec := make([]int16, 0, audio.FrameSamples)
	pkt := make([]byte, 0, 1500)
	h := pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU, SSRC: 1}
	var in pionrtp.Packet

	tests := []struct {
		name string
		fn   func()
	}{
		{"EncodeUlaw", func() { enc = EncodeULaw(enc[:0], src) }},
		{"EncodeAlaw", func() { enc = EncodeALaw(enc[:0], src) }},
		{"DecodeUlaw", func() { dec = DecodeULaw(dec[:0], enc) }},
		{"DecodeAlaw", func() { dec = DecodeALaw(dec[:0], enc) }},
		{"Packetize", func() {
			h.SequenceNumber++
			h.Timestamp += audio.FrameSamples
			var err error
			pkt, err = AppendPacket(pkt[:0], &h, ULaw, src)
			if err != nil {
				panic(err)
			}
		}},
		{"Depacketize", func() {
			if err := in.Unmarshal(pkt); err != nil {
				panic(err)
			}
			dec = DecodeULaw(dec[:0], in.Payload)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn() // warm up (first packet fills pkt)
			require.Zero(t, testing.AllocsPerRun(100, tc.fn))
		})
	}
	require.Len(t, dec, audio.FrameSamples)
}

func BenchmarkG711(b *testing.B) {
	src := make([]int16, audio.FrameSamples)
	for i := range src {
		src[i] = int16(math.Sin(float64(i)/7) * 20000)
	}
	enc := EncodeULaw(nil, src)
	dst8 := make([]byte, 0, audio.FrameSamples)
	dst16 := make([]int16, 0, audio.FrameSamples)
	b.Run("EncodeUlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst8 = EncodeULaw(dst8[:0], src)
		}
	})
	b.Run("EncodeAlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst8 = EncodeALaw(dst8[:0], src)
		}
	})
	b.Run("DecodeUlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst16 = DecodeULaw(dst16[:0], enc)
		}
	})
	b.Run("DecodeAlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst16 = DecodeALaw(dst16[:0], enc)
		}
	})
	b.Run("PacketizeUlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		h := pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU, SSRC: 1}
		pkt := make([]byte, 0, 1500)
		for b.Loop() {
			h.SequenceNumber++
			h.Timestamp += audio.FrameSamples
			pkt, _ = AppendPacket(pkt[:0], &h, ULaw, src)
		}
	})
	b.Run("DepacketizeUlaw/160", func(b *testing.B) {
		b.ReportAllocs()
		h := pionrtp.Header{Version: 2, PayloadType: audio.PayloadTypePCMU, SSRC: 1}
		pkt, _ := AppendPacket(nil, &h, ULaw, src)
		var p pionrtp.Packet
		for b.Loop() {
			if err := p.Unmarshal(pkt); err != nil {
				b.Fatal(err)
			}
			dst16 = DecodeULaw(dst16[:0], p.Payload)
		}
	})
}

// The slice encoders' tables give the per-sample encoders' code for every
// 16-bit sample.
func TestG711EncodeTables(t *testing.T) {
	src := make([]int16, 1<<16)
	for i := range src {
		src[i] = int16(uint16(i))
	}
	u, a := EncodeULaw(nil, src), EncodeALaw(nil, src)
	for i, s := range src {
		if u[i] != EncodeULawSample(s) || a[i] != EncodeALawSample(s) {
			require.Failf(t, "table differs", "sample %d: μ-law %#x want %#x, A-law %#x want %#x",
				s, u[i], EncodeULawSample(s), a[i], EncodeALawSample(s))
		}
	}
}
