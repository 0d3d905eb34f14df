package sdp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/sdp"
)

func TestDirectionOf(t *testing.T) {
	tests := []struct {
		name, sdp string
		want      sdp.Direction
	}{
		{"none: sendrecv", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", sdp.SendRecv},
		{"session level", "v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n", sdp.SendOnly},
		{"media level wins", "v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n", sdp.Inactive},
		{"first media section", "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\nm=audio 4002 RTP/AVP 0\r\na=sendonly\r\n", sdp.RecvOnly},
		{"LF line ends", "v=0\nm=audio 4000 RTP/AVP 0\na=recvonly\n", sdp.RecvOnly},
		{"not an attribute", "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonlyx\r\n", sdp.SendRecv},
		{"media sendrecv after session sendonly", "v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n", sdp.SendRecv},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, sdp.DirectionOf([]byte(tt.sdp)), tt.name)
	}
}

func TestSetDirection(t *testing.T) {
	tests := []struct {
		name, sdp string
		dir       sdp.Direction
		want      string
	}{
		{"replaces and bumps the version", "v=0\r\no=- 1 7 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n", sdp.SendOnly,
			"v=0\r\no=- 1 8 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"},
		{"every media section", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=recvonly\r\n", sdp.Inactive,
			"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\n"},
		{"session without media", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\na=sendrecv\r\n", sdp.SendOnly,
			"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\na=sendonly\r\n"},
		{"version not a number: kept", "v=0\r\no=- 1 x IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", sdp.SendOnly,
			"v=0\r\no=- 1 x IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"},
		{"short o= line: kept", "v=0\r\no=- 1\r\nm=audio 4000 RTP/AVP 0\r\n", sdp.RecvOnly,
			"v=0\r\no=- 1\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"},
		{"version overflows: kept", "v=0\r\no=- 1 99999999999999999999999 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", sdp.SendOnly,
			"v=0\r\no=- 1 99999999999999999999999 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"},
	}
	for _, tt := range tests {
		got := sdp.SetDirection([]byte(tt.sdp), tt.dir)
		require.Equal(t, tt.want, string(got), tt.name)
		require.Equal(t, tt.dir, sdp.DirectionOf(got), tt.name)
	}
	require.Nil(t, sdp.SetDirection(nil, sdp.SendOnly))
	in := []byte("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n")
	require.Equal(t, string(in), string(sdp.SetDirection(in, sdp.Direction(9))), "an unknown direction leaves the SDP as it is")
}
