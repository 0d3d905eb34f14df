package cli

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// reachFlags are the flags that make a line reachable over TLS and behind
// NAT: -tls-ca, -tls-cert, -tls-key, -tls-insecure, -stun and -keepalive.
type reachFlags struct {
	tlsCA, tlsCert, tlsKey, stun *string
	insecure                     *bool
	keepalive                    *time.Duration
}

func addReachFlags(fs *flag.FlagSet) reachFlags {
	return reachFlags{
		tlsCA:     fs.String("tls-ca", "", "PEM file of the CAs that vouch for TLS servers (default: the system's roots)"),
		tlsCert:   fs.String("tls-cert", "", "PEM client certificate for TLS (trunks that authenticate clients); needs -tls-key"),
		tlsKey:    fs.String("tls-key", "", "PEM private key of -tls-cert"),
		insecure:  fs.Bool("tls-insecure", false, "do NOT verify TLS server certificates (testing only; logged loudly)"),
		stun:      fs.String("stun", "", "STUN server host:port, asked for the public address of the SIP socket and of each call's RTP and RTCP sockets (behind NAT)"),
		keepalive: fs.Duration("keepalive", 0, "keepalive interval of the registration's flow (0: 25s on UDP, 120s on TCP/TLS/WS; negative: none)"),
	}
}

// networks are the values -transport takes.
var networks = []transport.Network{transport.UDP, transport.TCP, transport.TLS, transport.WS, transport.WSS}

// Configure puts the line of the flags into cfg (cfg.Lines) with its
// STUN server and keepalive, and the TLS client settings
// (cfg.Transport.ClientTLS). A bad -transport or an incomplete certificate pair is
// a usage error; -tls-insecure writes a warning to stderr.
func (l *LineFlags) Configure(cfg *ua.Config, stderr io.Writer) error {
	n := transport.Network(strings.ToLower(*l.network))
	if n != "" && !containsNet(n) {
		return Usagef("-transport %q: want udp, tcp, tls, ws or wss", *l.network)
	}
	r := l.reach
	if (*r.tlsCert == "") != (*r.tlsKey == "") {
		return Usagef("-tls-cert and -tls-key go together")
	}
	ct, err := r.clientTLS(stderr)
	if err != nil {
		return err
	}
	if ct != nil {
		cfg.Transport.ClientTLS = ct
	}
	cfg.Lines = l.Lines()
	return nil
}

func containsNet(n transport.Network) bool {
	for _, x := range networks {
		if x == n {
			return true
		}
	}
	return false
}

// clientTLS builds the TLS client configuration the flags ask for; nil
// when they ask for nothing (the system's roots, verification on).
func (r reachFlags) clientTLS(stderr io.Writer) (*tls.Config, error) {
	if *r.tlsCA == "" && *r.tlsCert == "" && !*r.insecure {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if *r.tlsCA != "" {
		pem, err := os.ReadFile(*r.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", *r.tlsCA)
		}
		c.RootCAs = pool
	}
	if *r.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*r.tlsCert, *r.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if *r.insecure {
		fmt.Fprintln(stderr, "WARNING: -tls-insecure: TLS server certificates are NOT verified; anyone on the path can read and change the calls")
		c.InsecureSkipVerify = true
	}
	return c, nil
}

// Network is the -transport flag's network ("" when not given), for
// calls placed without a line too.
func (l *LineFlags) Network() transport.Network {
	return transport.Network(strings.ToLower(*l.network))
}
