package opus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFmtp(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Params
		err  bool
	}{
		{name: "empty", in: "", want: Params{}},
		{name: "baresip", in: "stereo=1;sprop-stereo=1;useinbandfec=1", want: Params{Stereo: true, UseInbandFEC: true}},
		{name: "all", in: "maxplaybackrate=16000; maxaveragebitrate=20000;useinbandfec=1;usedtx=1;minptime=10",
			want: Params{MaxPlaybackRate: 16000, MaxAverageBitrate: 20000, UseInbandFEC: true, UseDTX: true}},
		{name: "case and off", in: "UseInbandFEC=0;USEDTX=0", want: Params{}},
		{name: "bad flag", in: "useinbandfec=yes", err: true},
		{name: "bad rate", in: "maxaveragebitrate=-5", err: true},
		{name: "not a number", in: "maxplaybackrate=x", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFmtp(tt.in)
			if tt.err {
				require.ErrorIs(t, err, ErrFmtp)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParamsStringRoundTrip(t *testing.T) {
	p := Params{MaxPlaybackRate: 48000, MaxAverageBitrate: 24000, UseInbandFEC: true, UseDTX: true}
	assert.Equal(t, "maxplaybackrate=48000;maxaveragebitrate=24000;useinbandfec=1;usedtx=1", p.String())
	back, err := ParseFmtp(p.String())
	require.NoError(t, err)
	assert.Equal(t, p, back)
}

func TestParamsEncoderConfig(t *testing.T) {
	tests := []struct {
		name    string
		p       Params
		bitrate int
		want    EncoderConfig
	}{
		{name: "defaults", want: EncoderConfig{Bitrate: DefaultBitrate}},
		{name: "peer caps", p: Params{MaxAverageBitrate: 16000, UseInbandFEC: true}, want: EncoderConfig{Bitrate: 16000, FEC: true}},
		{name: "peer above ours", p: Params{MaxAverageBitrate: 64000, UseDTX: true}, bitrate: 24000, want: EncoderConfig{Bitrate: 24000, DTX: true}},
		{name: "peer below minimum", p: Params{MaxAverageBitrate: 100}, want: EncoderConfig{Bitrate: MinBitrate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.EncoderConfig(tt.bitrate))
		})
	}
}
