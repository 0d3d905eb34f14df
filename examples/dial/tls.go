package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// selfSignedLifetime is how long the certificate dial makes for its TLS
// listener, when given none, stays valid.
const selfSignedLifetime = 24 * time.Hour

// tlsListenFlags are the flags of dial's TLS listener: -tls-listen
// HOST:PORT, and the server certificate -tls-listen-cert and
// -tls-listen-key (PEM files). Without them the listener presents a
// self-signed certificate made at start for HOST, whose SHA-256
// fingerprint dial prints (for load tests and trials; peers must then
// skip verification or pin it).
type tlsListenFlags struct {
	addr, cert, key string
}

func addTLSListenFlags(fs *flag.FlagSet) *tlsListenFlags {
	f := &tlsListenFlags{}
	fs.StringVar(&f.addr, "tls-listen", "", "host:port to listen on for SIP over TLS (port 0 picks one)")
	fs.StringVar(&f.cert, "tls-listen-cert", "", "PEM certificate of the -tls-listen listener (default: a self-signed one made at start)")
	fs.StringVar(&f.key, "tls-listen-key", "", "PEM private key of -tls-listen-cert")
	return f
}

// check reports a usage error in the flags.
func (f *tlsListenFlags) check() error {
	if (f.cert == "") != (f.key == "") {
		return cli.Usagef("-tls-listen-cert and -tls-listen-key go together")
	}
	if f.cert != "" && f.addr == "" {
		return cli.Usagef("-tls-listen-cert needs -tls-listen")
	}
	if f.addr != "" {
		if _, _, err := net.SplitHostPort(f.addr); err != nil {
			return cli.Usagef("-tls-listen %q: want host:port", f.addr)
		}
	}
	return nil
}

// apply adds the TLS listener and its certificate to cfg; it returns the
// SHA-256 fingerprint of a self-signed certificate it made ("" when the
// certificate came from files or there is no listener).
func (f *tlsListenFlags) apply(cfg *ua.Config) (string, error) {
	if f.addr == "" {
		return "", nil
	}
	var (
		cert tls.Certificate
		fp   string
		err  error
	)
	if f.cert != "" {
		if cert, err = tls.LoadX509KeyPair(f.cert, f.key); err != nil {
			return "", fmt.Errorf("-tls-listen-cert/-tls-listen-key: %w", err)
		}
	} else {
		host, _, _ := net.SplitHostPort(f.addr)
		if cert, fp, err = selfSigned(host, time.Now()); err != nil {
			return "", fmt.Errorf("-tls-listen: self-signed certificate: %w", err)
		}
	}
	cfg.Transport.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cfg.Listen = append(cfg.Listen, ua.ListenConfig{Network: transport.TLS, Addr: f.addr})
	return fp, nil
}

// selfSigned makes an ECDSA P-256 certificate for host (an IP address or
// a DNS name; "localhost" when empty), valid from now for
// selfSignedLifetime, and returns it with its SHA-256 fingerprint in the
// colon-separated form of RFC 8122.
func selfSigned(host string, now time.Time) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	if host == "" {
		host = "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(selfSignedLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	fp := make([]byte, 0, len(sum)*3)
	for i, b := range sum {
		if i > 0 {
			fp = append(fp, ':')
		}
		fp = fmt.Appendf(fp, "%02X", b)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(fp), nil
}
