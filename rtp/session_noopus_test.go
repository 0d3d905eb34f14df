//go:build !opus || !cgo

package rtp_test

import (
	"cmp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/sdp"
)

// Without the build tag opus, an Opus call is refused with an error that
// says what is missing, whatever the host's rate, and the session keeps
// its codec.
func TestSessionOpusNeedsTag(t *testing.T) {
	for _, hostRate := range []int{0, 16000, 8000} {
		a := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t), HostSampleRate: hostRate})
		err := a.SetRemote(sdp.MediaParams{Codec: audio.Opus()})
		require.ErrorIs(t, err, g711.ErrCodec)
		require.ErrorIs(t, err, opus.ErrUnavailable)
		require.Contains(t, err.Error(), "-tags opus")
		require.Equal(t, cmp.Or(hostRate, audio.SampleRate), a.SampleRate())
	}
}
