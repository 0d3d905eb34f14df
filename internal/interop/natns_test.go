//go:build interop

package interop

// Issue 14 through a real NAT: three network namespaces made by the test —
// a private one with our UA (examples/dial), a router doing iptables
// MASQUERADE (port-restricted cone; with --random, symmetric) with a
// short conntrack UDP timeout, and a public one with Kamailio, a STUN
// server (coturn's turnserver in STUN-only mode) and a caller
// (examples/dial again). Nothing leaves the namespaces: the addresses
// (10.99.N.0/24 inside, 198.19.N.0/24 outside, the benchmarking range of
// RFC 2544) exist only there, and every namespace is deleted when the
// test ends, failed or not.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp/audio"
)

// Settings of the NAT tests.
const (
	// natUDPTimeout is the router's conntrack UDP timeout (seconds): a
	// binding without traffic is gone after it.
	natUDPTimeout = 20
	// natIdle is how long the UA stays idle before it is called: the UDP
	// timeout, passed twice.
	natIdle = 2*natUDPTimeout*time.Second + 5*time.Second
	// natKeepalive is the UA's keepalive interval, below natUDPTimeout.
	natKeepalive = "10s"
	// natTestTimeout bounds one NAT test.
	natTestTimeout = natIdle + 90*time.Second
)

// natLab is the three namespaces of a NAT test.
type natLab struct {
	priv, router, pub string     // namespace names
	privIP, publicIP  netip.Addr // the UA's private address, the router's public one
	pubIP             netip.Addr // the public host (Kamailio, STUN, caller)
}

var natLabs atomic.Int32

// natRemapPorts are the public ports of a remapping cone NAT (natCase.remap),
// far from the UA's RTP ports (rtp.DefaultPortMin…DefaultPortMax) and
// SIP port, so that an SDP port in this range can only be a STUN mapping.
const natRemapPorts = "40000-40999"

// natLabConfig shapes a lab's NAT: symmetric adds --random to
// MASQUERADE (a new public port per destination); remap has the cone NAT
// take its UDP public ports from natRemapPorts instead of keeping the
// source port; udpTimeout is the router's conntrack UDP timeout in seconds
// (0: natUDPTimeout).
type natLabConfig struct {
	symmetric, remap bool
	udpTimeout       int
}

// newNATLab builds the namespaces, links and NAT.
func newNATLab(t *testing.T, ctx context.Context, cfg natLabConfig) *natLab {
	symmetric, remap := cfg.symmetric, cfg.remap
	udpTimeout := cfg.udpTimeout
	if udpTimeout == 0 {
		udpTimeout = natUDPTimeout
	}
	t.Helper()
	requireRootTools(t)
	n := natLabs.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+rune(n%26))
	l := &natLab{
		priv: "dtnat" + id + "p", router: "dtnat" + id + "r", pub: "dtnat" + id + "o",
		privIP:   netip.AddrFrom4([4]byte{10, 99, byte(n), 2}),
		publicIP: netip.AddrFrom4([4]byte{198, 19, byte(n), 1}),
		pubIP:    netip.AddrFrom4([4]byte{198, 19, byte(n), 2}),
	}
	routerIn := netip.AddrFrom4([4]byte{10, 99, byte(n), 1})
	run := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil && os.Getenv("CI") != "true" && strings.Contains(string(out), "Operation not permitted") {
			t.Skipf("%s: %s", strings.Join(args, " "), out)
		}
		require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	}
	for _, ns := range []string{l.priv, l.router, l.pub} {
		run("ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
		run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	inA, inB := "vn"+id+"a", "vn"+id+"b"   // private side
	outA, outB := "vn"+id+"c", "vn"+id+"d" // public side
	run("ip", "link", "add", inA, "type", "veth", "peer", "name", inB)
	run("ip", "link", "add", outA, "type", "veth", "peer", "name", outB)
	for _, c := range []struct{ dev, ns, addr string }{
		{inA, l.priv, l.privIP.String() + "/24"}, {inB, l.router, routerIn.String() + "/24"},
		{outA, l.router, l.publicIP.String() + "/24"}, {outB, l.pub, l.pubIP.String() + "/24"},
	} {
		run("ip", "link", "set", c.dev, "netns", c.ns)
		run("ip", "-n", c.ns, "addr", "add", c.addr, "dev", c.dev)
		run("ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	run("ip", "-n", l.priv, "route", "add", "default", "via", routerIn.String())
	run("ip", "netns", "exec", l.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	masq := []string{"ip", "netns", "exec", l.router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", outA, "-j", "MASQUERADE"}
	if symmetric {
		masq = append(masq, "--random")
	}
	if remap {
		// Before the catch-all rule: UDP is remapped.
		run("ip", "netns", "exec", l.router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", outA,
			"-p", "udp", "-j", "MASQUERADE", "--to-ports", natRemapPorts)
	}
	run(masq...)
	// conntrack is set up in the router's namespace by now: shorten its
	// UDP timeouts, for a flow seen one way and both ways.
	for _, f := range []string{"nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"} {
		run("ip", "netns", "exec", l.router, "sh", "-c",
			fmt.Sprintf("echo %d > /proc/sys/net/netfilter/%s", udpTimeout, f))
	}
	return l
}

// start runs bin with args in namespace ns; its output goes to
// <name>.stdout and .stderr in the artifact directory. The test's end
// interrupts it.
func (l *natLab) start(t *testing.T, ctx context.Context, ns, name, bin string, args ...string) *program {
	t.Helper()
	t.Logf("[%s] %s %s", ns, name, strings.Join(args, " "))
	p := launch(t, exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...), name, nil)
	t.Cleanup(func() {
		_ = p.stop(t) // before the tails, so that they hold its last words
		logTails(t, p.stdout, p.stderr)
	})
	return p
}

// waitFile waits until file holds s.
func waitFile(t *testing.T, ctx context.Context, file, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(readFile(t, file), s) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: no %q within %s", filepath.Base(file), s, d)
		}
		sleepCtx(ctx, peerPoll)
	}
}

// startKamailioIn starts Kamailio in namespace ns on ip and waits until
// its control socket answers.
func startKamailioIn(t *testing.T, ctx context.Context, ns string, ip netip.Addr) *kamailio {
	t.Helper()
	bin := peerBinary(t, "kamailio", "kamailio")
	peerBinary(t, "kamcmd", "kamailio")
	run := shortTempDir(t, "dtkam")
	src := filepath.Join(peersDir(t), "kamailio")
	cfg, err := os.ReadFile(filepath.Join(src, "kamailio.cfg"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(run, "kamailio.cfg"), cfg, 0o644))
	require.NoError(t, writeKamailioUsers(filepath.Join(src, "users.txt"), filepath.Join(run, "users.cfg")))
	k := &kamailio{port: 5060, ctl: "unix:" + filepath.Join(run, "ctl")}
	args := []string{"netns", "exec", ns, bin, "-f", filepath.Join(run, "kamailio.cfg"),
		"-A", fmt.Sprintf("RUNDIR=%q", run), "-A", fmt.Sprintf("CTL_SOCK=%q", k.ctl),
		"-A", "SIP_PORT=5060", "-A", "MIN_EXPIRES=10", "-A", "LISTEN_IP=" + ip.String(),
		"-DD", "-E", "--debug=2", "-m", "64", "-M", "8", "-P", filepath.Join(run, "kamailio.pid")}
	k.daemon = startDaemon(t, "kamailio", filepath.Join(artifacts(t), "kamailio.log"), "ip", args...)
	t.Cleanup(func() { logTails(t, k.log) })
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := k.kamcmd(ctx, "core.version")
		if err == nil && strings.Contains(out, "kamailio") {
			return k
		}
		require.False(t, k.exited(), "kamailio exited at start: %v", k.err)
		require.False(t, time.Now().After(deadline), "kamailio's control socket does not answer: %s", out)
		sleepCtx(ctx, peerPoll)
	}
}

// natCase is one run through the NAT.
type natCase struct {
	symmetric bool
	keepalive string // the UA's -keepalive
	reached   bool   // the incoming call after natIdle reaches the UA
	// hold: the caller holds alice for natHold, longer than the UDP
	// timeout, resumes, and must hear her tone again.
	hold bool
	// remap: the cone NAT does not keep source ports (natRemapPorts), the
	// caller is called at once (no natIdle), and alice's own trace must
	// show her announcing her RTP socket's STUN mapping (a port of
	// natRemapPorts: only STUN can have told her one). Kamailio's
	// configuration fixes Contacts (nathelper) but never SDP, so what the
	// caller gets is what alice sent. The caller latches onto where her
	// RTP comes from, as every peer here does: Linux's conntrack is not a
	// true cone NAT, and a packet of the caller's that reaches the mapped
	// port before alice's first one leaves an unreplied entry that makes
	// the NAT map her flow to the caller onto another port.
	remap bool
}

// natHold is how long the hold case holds the call: past natUDPTimeout.
const natHold = natUDPTimeout*time.Second + 5*time.Second

// runNATCase registers alice (examples/dial in the private namespace,
// with STUN) at Kamailio through the NAT, waits natIdle, and has a caller
// on the public side call her; when she must be reached, both record the
// other's tone and hang up.
func runNATCase(t *testing.T, tc natCase) {
	testenv.LookPath(t, "turnserver", "coturn")
	ctx, cancel := context.WithTimeout(t.Context(), natTestTimeout)
	defer cancel()
	lab := newNATLab(t, ctx, natLabConfig{symmetric: tc.symmetric, remap: tc.remap})
	k := startKamailioIn(t, ctx, lab.pub, lab.pubIP)
	stunAddr := net.JoinHostPort(lab.pubIP.String(), "3478")
	lab.start(t, ctx, lab.pub, "turnserver", "turnserver", "--stun-only", "-n", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip", lab.pubIP.String(), "--listening-port", "3478", "--log-file", "stdout", "--simple-log")

	dial := buildExample(t, ctx, "dial")
	dir := t.TempDir()
	aliceTone, bobTone := filepath.Join(dir, "alice-tone.wav"), filepath.Join(dir, "bob-tone.wav")
	aliceRec, bobRec := filepath.Join(dir, "alice-rec.wav"), filepath.Join(dir, "bob-rec.wav")
	toneLen := 3 * time.Second
	if tc.hold {
		toneLen = natHold + 15*time.Second // she plays through the hold and after
	}
	require.NoError(t, writeToneWAV(aliceTone, mediaOurTone, audio.SampleRate, toneLen))
	require.NoError(t, writeToneWAV(bobTone, mediaPeerTone, audio.SampleRate, 3*time.Second))
	kHost := net.JoinHostPort(lab.pubIP.String(), "5060")

	aliceArgs := []string{"-listen", net.JoinHostPort(lab.privIP.String(), "5060"),
		"-aor", "sip:alice@" + kHost, "-pass", "alicepw", "-registrar", "sip:" + kHost,
		"-stun", stunAddr, "-keepalive", tc.keepalive, "-answer-after", "0",
		"-play", aliceTone, "-record", aliceRec}
	bobArgs := []string{"-listen", net.JoinHostPort(lab.pubIP.String(), "5070"),
		"-play", bobTone, "-record", bobRec, "-trace"}
	if tc.hold {
		bobArgs = append(bobArgs, "-hold-after", "2s", "-resume-after", natHold.String(),
			"-hangup-after", (2*time.Second + natHold + 6*time.Second).String())
	} else {
		aliceArgs = append(aliceArgs, "-hangup-after", "4s")
	}
	if tc.remap {
		aliceArgs = append(aliceArgs, "-trace")
	}
	alice := lab.start(t, ctx, lab.priv, "alice", dial, aliceArgs...)
	waitFile(t, ctx, alice.stdout, "registered line=", peerWait)
	out := k.waitBinding(t, ctx, "alice", true)
	t.Logf("Kamailio's binding of alice:\n%s", out)
	require.Contains(t, out, lab.publicIP.String(), "the Contact Kamailio holds is the public address")
	require.NotContains(t, out, "Contact: <sip:alice@"+lab.privIP.String(), "no private Contact")
	if tc.symmetric {
		waitFile(t, ctx, alice.stdout, "symmetric NAT", peerWait)
	}

	if !tc.remap {
		t.Logf("idle for %s (conntrack UDP timeout %d s)", natIdle, natUDPTimeout)
		sleepCtx(ctx, natIdle)
		require.NoError(t, ctx.Err())
	}

	bob := lab.start(t, ctx, lab.pub, "bob", dial, append(bobArgs, "sip:alice@"+kHost)...)
	select {
	case <-bob.done:
	case <-time.After(45*time.Second + natHold):
		t.Fatal("the caller did not finish in time")
	}
	bobOut := readFile(t, bob.stdout)
	if !tc.reached {
		require.Error(t, bob.waitErr, "the call must fail without keepalives:\n%s", bobOut)
		require.NotContains(t, bobOut, "answered")
		t.Logf("without keepalives the call failed: %v", bob.waitErr)
		return
	}
	require.NoError(t, bob.waitErr, "bob's call:\n%s", bobOut)
	require.Contains(t, bobOut, "answered")
	trace := readFile(t, bob.stderr)
	// The 200 OK bob got carries alice's public address in its Contact
	// and SDP (c=).
	ok200 := ""
	for _, m := range traceSplit.Split(trace, -1) {
		if strings.Contains(m, "SIP/2.0 200") && strings.Contains(m, "INVITE") && strings.Contains(m, "c=IN IP4") {
			ok200 = m
			break
		}
	}
	require.NotEmpty(t, ok200, "no 200 OK with SDP in bob's trace:\n%s", trace)
	require.Contains(t, ok200, "c=IN IP4 "+lab.publicIP.String(), "SDP c= is the public address:\n%s", ok200)
	require.NotContains(t, ok200, lab.privIP.String(), "nothing private in the 200:\n%s", ok200)

	if tc.remap {
		checkMappedSDP(t, readFile(t, alice.stderr), lab.publicIP)
	}
	waitFile(t, ctx, alice.stdout, "recorded file=", peerWait)
	heardByBob, heardByAlice := peak(readWAV(t, bobRec), mediaOurTone), peak(readWAV(t, aliceRec), mediaPeerTone)
	t.Logf("bob heard alice's %d Hz at %.4f, alice heard bob's %d Hz at %.4f", mediaOurTone, heardByBob, mediaPeerTone, heardByAlice)
	require.Greater(t, heardByBob, mediaMinLevel, "alice's tone through the NAT")
	require.Greater(t, heardByAlice, mediaMinLevel, "bob's tone through the NAT")
	if tc.hold {
		require.Contains(t, bobOut, "resumed call=")
		rec := readWAV(t, bobRec)
		tail := rec[max(0, len(rec)-3*audio.SampleRate):]
		after := peak(tail, mediaOurTone)
		t.Logf("after %s on hold, bob hears alice's tone at %.4f in the last 3 s", natHold, after)
		require.Greater(t, after, mediaMinLevel, "alice's tone after the resume")
	}
}

// checkMappedSDP finds the 200 OK to the INVITE in alice's own trace and
// checks that its SDP announces the public address and, for RTP (and
// RTCP when a=rtcp is there), ports of the remapping NAT's range: the STUN
// mappings of her media sockets, not their local ports.
func checkMappedSDP(t *testing.T, trace string, public netip.Addr) {
	t.Helper()
	var sent200 string
	for _, m := range traceSplit.Split(trace, -1) {
		if strings.Contains(m, "SIP/2.0 200") && strings.Contains(m, "INVITE") && strings.Contains(m, "m=audio ") {
			sent200 = m
			break
		}
	}
	require.NotEmpty(t, sent200, "no 200 OK with SDP in alice's trace:\n%s", trace)
	t.Logf("alice's 200 OK:\n%s", sent200)
	require.Contains(t, sent200, "c=IN IP4 "+public.String(), "c= is the public address")
	lo, hi, _ := strings.Cut(natRemapPorts, "-")
	inRange := func(what, port string) {
		p, err := strconv.Atoi(port)
		require.NoError(t, err, "%s port %q", what, port)
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		require.True(t, p >= l && p <= h, "%s port %d is the NAT's mapping (%s), not a local port", what, p, natRemapPorts)
	}
	m := regexp.MustCompile(`(?m)^m=audio (\d+) `).FindStringSubmatch(sent200)
	require.NotNil(t, m, "no m=audio")
	inRange("RTP", m[1])
	if r := regexp.MustCompile(`(?m)^a=rtcp:(\d+)`).FindStringSubmatch(sent200); r != nil {
		inRange("RTCP", r[1])
	}
}

// traceSplit cuts a -trace output into messages (each starts with ">>> "
// or "<<< ").
var traceSplit = regexp.MustCompile(`(?m)^(?:>>>|<<<) `)

// TestNATConeKeepalive: behind a port-restricted cone NAT whose UDP
// bindings last 20 s, a UA with 10 s keepalives registers its public
// address (STUN), is called after 45 s idle, and both sides hear each
// other; its Contact and SDP carry the public address.
func TestNATConeKeepalive(t *testing.T) {
	t.Parallel()
	runNATCase(t, natCase{keepalive: natKeepalive, reached: true})
}

// TestNATConeNoKeepalive: the same without keepalives: the binding
// expires and the call after 45 s idle does not reach the UA.
func TestNATConeNoKeepalive(t *testing.T) {
	t.Parallel()
	runNATCase(t, natCase{keepalive: "-1s", reached: false})
}

// TestNATConeHoldResume: the caller holds the call longer than the NAT's
// UDP timeout (the UA sends no RTP while held) and resumes: the UA's
// media come through again.
func TestNATConeHoldResume(t *testing.T) {
	t.Parallel()
	runNATCase(t, natCase{keepalive: natKeepalive, reached: true, hold: true})
}

// TestNATConeMediaSTUN: behind a cone NAT that does not keep source
// ports, alice's SDP carries the STUN mapping of her RTP (and RTCP)
// socket, as her own trace shows, and a caller that sends only where the
// SDP says (no symmetric RTP, no media relay, Kamailio leaves SDP alone)
// and alice hear each other.
func TestNATConeMediaSTUN(t *testing.T) {
	t.Parallel()
	runNATCase(t, natCase{keepalive: natKeepalive, reached: true, remap: true})
}

// TestNATSymmetricKeepalive: behind a symmetric NAT (MASQUERADE
// --random) STUN's mapping is not the registrar's: the UA says so, keeps
// the registrar's view, holds the binding with keepalives and is reached
// with audio both ways (symmetric RTP at the caller).
func TestNATSymmetricKeepalive(t *testing.T) {
	t.Parallel()
	runNATCase(t, natCase{symmetric: true, keepalive: natKeepalive, reached: true})
}
