package srtp_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// handshakePair runs Handshake as client on one UDP socket and as server
// on another, on loopback.
func handshakePair(t *testing.T, client, server srtp.DTLSConfig) (rc, rs *srtp.DTLSResult, errC, errS error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	b, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rs, errS = srtp.Handshake(ctx, b, a.LocalAddr(), server)
	}()
	rc, errC = srtp.Handshake(ctx, a, b.LocalAddr(), client)
	if errC != nil {
		_ = b.Close() // the server may wait for a flight that never comes
	}
	<-done
	for _, r := range []*srtp.DTLSResult{rc, rs} {
		if r != nil {
			_ = r.Conn.Close()
		}
	}
	_ = a.Close()
	_ = b.Close()
	return rc, rs, errC, errS
}

// The keys exported by both ends mirror each other (RFC 5764 §4.2: the
// client's write key is the server's read key), the profile is the one
// the server chose in use_srtp (its own preference among the client's,
// RFC 5764 §4.1.2), and neither printing the result nor pion's debug
// messages (which go to DTLSConfig.Logger) show key material.
func TestHandshakeKeys(t *testing.T) {
	certA, fpA, err := srtp.NewCertificate()
	require.NoError(t, err)
	certB, fpB, err := srtp.NewCertificate()
	require.NoError(t, err)
	tests := []struct {
		name          string
		client, serve []srtp.Suite
		want          srtp.Suite
	}{
		{"defaults", nil, nil, srtp.AES_CM_128_HMAC_SHA1_80},
		{"server prefers GCM", nil, []srtp.Suite{srtp.AEAD_AES_128_GCM, srtp.AES_CM_128_HMAC_SHA1_80}, srtp.AEAD_AES_128_GCM},
		{"client offers GCM only", []srtp.Suite{srtp.AEAD_AES_128_GCM}, nil, srtp.AEAD_AES_128_GCM},
		{"server has GCM only", nil, []srtp.Suite{srtp.AEAD_AES_128_GCM}, srtp.AEAD_AES_128_GCM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			rc, rs, errC, errS := handshakePair(t,
				srtp.DTLSConfig{Certificate: certA, Remote: fpB, Client: true, Suites: tt.client, Logger: log},
				srtp.DTLSConfig{Certificate: certB, Remote: fpA, Suites: tt.serve, Logger: log})
			require.NoError(t, errC)
			require.NoError(t, errS)
			assert.Equal(t, tt.want, rc.Keys.Local.Suite)
			assert.Equal(t, rc.Keys.Local, rs.Keys.Remote)
			assert.Equal(t, rc.Keys.Remote, rs.Keys.Local)
			assert.NotEqual(t, rc.Keys.Local.Key, rc.Keys.Remote.Key)
			assert.Len(t, rc.Keys.Local.Key, tt.want.KeyLen())
			assert.Len(t, rc.Keys.Local.Salt, tt.want.SaltLen())
			_, err := srtp.NewContext(rc.Keys)
			require.NoError(t, err)
			require.Contains(t, logs.String(), "dtls: ", "pion's messages go to the Logger")
			printed := fmt.Sprintf("%v %+v %#v %s %v", rc.Keys, rc.Keys, rc.Keys, rc.Keys.Local, rc.Keys.Remote) + logs.String()
			for _, k := range [][]byte{rc.Keys.Local.Key, rc.Keys.Remote.Key, rc.Keys.Local.Salt} {
				assert.NotContains(t, printed, hex.EncodeToString(k))
				assert.NotContains(t, printed, base64.StdEncoding.EncodeToString(k)[:12])
				assert.NotContains(t, printed, fmt.Sprint(k))
			}
		})
	}
}

// Bad configurations and a peer certificate other than the fingerprint
// fail with typed errors.
func TestHandshakeErrors(t *testing.T) {
	certA, fpA, err := srtp.NewCertificate()
	require.NoError(t, err)
	certB, fpB, err := srtp.NewCertificate()
	require.NoError(t, err)
	_, fpOther, err := srtp.NewCertificate()
	require.NoError(t, err)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	for name, cfg := range map[string]srtp.DTLSConfig{
		"no certificate":  {Remote: fpB},
		"no fingerprint":  {Certificate: certA},
		"no DTLS profile": {Certificate: certA, Remote: fpB, Suites: []srtp.Suite{srtp.AES_256_CM_HMAC_SHA1_32}},
	} {
		_, err := srtp.Handshake(t.Context(), conn, conn.LocalAddr(), cfg)
		require.ErrorIs(t, err, srtp.ErrDTLS, name)
	}

	_, _, errC, _ := handshakePair(t,
		srtp.DTLSConfig{Certificate: certA, Remote: fpOther, Client: true},
		srtp.DTLSConfig{Certificate: certB, Remote: fpA})
	require.ErrorIs(t, errC, srtp.ErrFingerprintMismatch)
	require.ErrorIs(t, errC, srtp.ErrFingerprint)

	_, _, _, errS := handshakePair(t,
		srtp.DTLSConfig{Certificate: certA, Remote: fpB, Client: true},
		srtp.DTLSConfig{Certificate: certB, Remote: fpOther})
	require.ErrorIs(t, errS, srtp.ErrFingerprintMismatch, "the server checks the client's certificate")
}

// syncBuffer is a bytes.Buffer safe for the handshake's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
