package audio_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
)

// The frame size agrees with the rate and the duration, and the codecs
// carry RFC 3551's static payload types and clock rates.
func TestVocabulary(t *testing.T) {
	require.Equal(t, audio.FrameSamples, int(audio.SampleRate*audio.FrameDuration/time.Second))
	tests := []struct {
		c    audio.Codec
		name string
		pt   uint8
	}{
		{audio.PCMU(), "PCMU", 0},
		{audio.PCMA(), "PCMA", 8},
		{audio.TelephoneEvent(), "telephone-event", 101},
	}
	for _, tt := range tests {
		require.Equal(t, tt.name, tt.c.Name)
		require.Equal(t, tt.pt, tt.c.PayloadType, tt.name)
		require.Equal(t, uint32(audio.SampleRate), tt.c.ClockRate, tt.name)
		require.Equal(t, 1, tt.c.Channels, tt.name)
	}
	require.Equal(t, "0-15", audio.TelephoneEvent().Fmtp)
}
