package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

func TestConfigureReachFlags(t *testing.T) {
	cert, key := writeCert(t)
	tests := []struct {
		name  string
		args  []string
		usage bool   // a usage error
		err   string // any other error
		check func(t *testing.T, cfg ua.Config, stderr string)
	}{
		{"defaults", []string{"-aor", "sip:a@b"}, false, "", func(t *testing.T, cfg ua.Config, stderr string) {
			require.Nil(t, cfg.Transport.ClientTLS, "the system's roots")
			require.Len(t, cfg.Lines, 1)
			require.Zero(t, cfg.Lines[0].Keepalive)
			require.Empty(t, stderr)
		}},
		{"stun and keepalive", []string{"-aor", "sip:a@b", "-stun", "stun.example:3478", "-keepalive", "15s", "-transport", "WSS"}, false, "",
			func(t *testing.T, cfg ua.Config, _ string) {
				require.Equal(t, "stun.example:3478", cfg.Lines[0].STUNServer)
				require.Equal(t, 15*time.Second, cfg.Lines[0].Keepalive)
				require.Equal(t, transport.WSS, cfg.Lines[0].Transport)
			}},
		{"ca and client certificate", []string{"-tls-ca", cert, "-tls-cert", cert, "-tls-key", key}, false, "",
			func(t *testing.T, cfg ua.Config, _ string) {
				require.NotNil(t, cfg.Transport.ClientTLS.RootCAs)
				require.Len(t, cfg.Transport.ClientTLS.Certificates, 1)
				require.False(t, cfg.Transport.ClientTLS.InsecureSkipVerify)
			}},
		{"insecure is loud", []string{"-tls-insecure"}, false, "", func(t *testing.T, cfg ua.Config, stderr string) {
			require.True(t, cfg.Transport.ClientTLS.InsecureSkipVerify)
			require.Contains(t, stderr, "WARNING: -tls-insecure")
		}},
		{"bad transport", []string{"-transport", "sctp"}, true, "-transport \"sctp\"", nil},
		{"cert without key", []string{"-tls-cert", cert}, true, "-tls-cert and -tls-key go together", nil},
		{"missing CA file", []string{"-tls-ca", filepath.Join(t.TempDir(), "none.pem")}, false, "-tls-ca", nil},
		{"CA file without a certificate", []string{"-tls-ca", key}, false, "no PEM certificate", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			fs := NewFlagSet("x", "", "", &stderr)
			lf := AddLineFlags(fs, "NOPE_TEST")
			_, err := Parse(fs, tt.args)
			require.NoError(t, err)
			var cfg ua.Config
			err = lf.Configure(&cfg, &stderr)
			switch {
			case tt.usage:
				require.ErrorIs(t, err, ErrUsage)
				require.Contains(t, err.Error(), tt.err)
			case tt.err != "":
				require.Error(t, err)
				require.NotErrorIs(t, err, ErrUsage)
				require.Contains(t, err.Error(), tt.err)
			default:
				require.NoError(t, err)
				tt.check(t, cfg, stderr.String())
			}
		})
	}
}
