//go:build interop

package interop

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// lossyPair is two network namespaces joined by a veth pair, created by a
// test and deleted when it ends, each dropping a share of the UDP
// datagrams it receives (iptables' statistic match in INPUT): the loss
// applies to both directions. Dropping in INPUT rather than OUTPUT loses
// datagrams as a network does: in OUTPUT, the sender's sendto would fail
// with EPERM instead. Nothing leaves the pair: the addresses (198.18.0.0/15,
// the benchmarking range of RFC 2544) exist only on its two ends.
type lossyPair struct {
	ns   [2]string     // namespace names
	ip   [2]netip.Addr // the address of each end
	veth [2]string     // the interface of each end
}

// lossyPairs numbers the pairs of one test process, for unique names.
var lossyPairs atomic.Int32

// requireRootTools skips the test (fails it under CI=true) unless it runs
// as root with ip and iptables installed.
func requireRootTools(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "network namespaces and iptables")
	testenv.LookPath(t, "ip", "iproute2")
	testenv.LookPath(t, "iptables", "iptables")
}

// newLossyPair creates the namespaces, the veth pair and the drop rules,
// all deleted in t.Cleanup even when the test fails half-way.
func newLossyPair(t *testing.T, ctx context.Context, loss float64) *lossyPair {
	t.Helper()
	requireRootTools(t)
	n := lossyPairs.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid(), 'a'+rune(n%26))
	p := &lossyPair{
		ns: [2]string{"dtloss" + id + "x", "dtloss" + id + "y"},
		ip: [2]netip.Addr{netip.AddrFrom4([4]byte{198, 18, byte(n), 1}), netip.AddrFrom4([4]byte{198, 18, byte(n), 2})},
	}
	veth := [2]string{"vdt" + id + "x", "vdt" + id + "y"} // at most 15 bytes
	p.veth = veth
	run := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		if err != nil && os.Getenv("CI") != "true" && strings.Contains(string(out), "Operation not permitted") {
			t.Skipf("ip %s: %s", strings.Join(args, " "), out)
		}
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	for _, ns := range p.ns {
		run("netns", "add", ns)
		t.Cleanup(func() {
			// Deleting a namespace deletes its end of the veth pair.
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	run("link", "add", veth[0], "type", "veth", "peer", "name", veth[1])
	for i, ns := range p.ns {
		run("link", "set", veth[i], "netns", ns)
		run("-n", ns, "addr", "add", p.ip[i].String()+"/24", "dev", veth[i])
		run("-n", ns, "link", "set", veth[i], "up")
		run("-n", ns, "link", "set", "lo", "up")
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-p", "udp",
			"-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(loss, 'f', -1, 64),
			"-j", "DROP").CombinedOutput()
		require.NoError(t, err, "iptables in %s: %s", ns, out)
	}
	return p
}

// command returns a command that runs bin with args in namespace i.
func (p *lossyPair) command(ctx context.Context, i int, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.ns[i], bin}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopTimeout
	return cmd
}

// dropped returns how many datagrams sent to namespace i its drop rule
// has dropped.
func (p *lossyPair) dropped(t *testing.T, i int) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", p.ns[i], "iptables", "-L", "INPUT", "-v", "-x", "-n").CombinedOutput()
	require.NoError(t, err, "iptables -L: %s", out)
	for l := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[2] == "DROP" {
			n, err := strconv.Atoi(f[0])
			require.NoError(t, err, "iptables -L: %s", l)
			return n
		}
	}
	t.Fatalf("no DROP rule in %s:\n%s", p.ns[i], out)
	return 0
}

// waitUDP waits until the process pid (which runs in a namespace of the
// pair) has a UDP socket bound to ap, reading /proc/PID/net/udp: the
// sockets of the process's own namespace.
func waitUDP(t *testing.T, ctx context.Context, pid int, ap netip.AddrPort) {
	t.Helper()
	a := ap.Addr().As4()
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], ap.Port())
	deadline := time.Now().Add(startTimeout)
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid)); err == nil {
			for l := range strings.SplitSeq(string(b), "\n") {
				if f := strings.Fields(l); len(f) > 1 && f[1] == want {
					return
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("nothing listens on udp %s", ap)
		}
		// A real process on a real socket: poll.
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// The comments that name setLoss's media rules, for mediaCounts.
const (
	mediaInRule   = "dialtone-media-in"
	mediaDropRule = "dialtone-media-drop"
)

// setLoss replaces the pair's drop rules: SIP datagrams (to the ports
// sipPorts, "5060:5079", where every end listens) dropped at sip, every
// other UDP datagram (RTP, RTCP) at media, in both namespaces. dropped
// counts the SIP rule's; mediaCounts the other datagrams, arrived and
// dropped.
func (p *lossyPair) setLoss(t *testing.T, ctx context.Context, sipPorts string, sip, media float64) {
	t.Helper()
	port := sipPorts
	for _, ns := range p.ns {
		for _, args := range [][]string{
			{"-F", "INPUT"},
			{"-A", "INPUT", "-p", "udp", "--dport", port, "-m", "statistic", "--mode", "random",
				"--probability", strconv.FormatFloat(sip, 'f', -1, 64), "-j", "DROP"},
			// No target: a rule that only counts what reaches the next.
			{"-A", "INPUT", "-p", "udp", "!", "--dport", port, "-m", "comment", "--comment", mediaInRule},
			{"-A", "INPUT", "-p", "udp", "!", "--dport", port, "-m", "statistic", "--mode", "random",
				"--probability", strconv.FormatFloat(media, 'f', -1, 64), "-m", "comment", "--comment", mediaDropRule, "-j", "DROP"},
		} {
			out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, "iptables"}, args...)...).CombinedOutput()
			require.NoError(t, err, "iptables %s in %s: %s", strings.Join(args, " "), ns, out)
		}
	}
}

// mediaCounts returns, after setLoss, how many datagrams other than SIP
// reached namespace i (before the drop rule) and how many of them the
// media rule dropped.
func (p *lossyPair) mediaCounts(t *testing.T, i int) (arrived, dropped int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", p.ns[i], "iptables", "-L", "INPUT", "-v", "-x", "-n").CombinedOutput()
	require.NoError(t, err, "iptables -L: %s", out)
	found := map[string]int{}
	for l := range strings.SplitSeq(string(out), "\n") {
		for _, name := range []string{mediaInRule, mediaDropRule} {
			if strings.Contains(l, "/* "+name+" */") {
				n, err := strconv.Atoi(strings.Fields(l)[0])
				require.NoError(t, err, "iptables -L: %s", l)
				found[name] = n
			}
		}
	}
	require.Len(t, found, 2, "the media rules in %s:\n%s", p.ns[i], out)
	return found[mediaInRule], found[mediaDropRule]
}

// udpRcvbufErrors returns the UDP datagrams namespace i dropped because a
// socket's receive buffer was full (RcvbufErrors of /proc/net/snmp): loss
// that is not the drop rules'.
func (p *lossyPair) udpRcvbufErrors(t *testing.T, i int) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", p.ns[i], "cat", "/proc/net/snmp").CombinedOutput()
	require.NoError(t, err, "/proc/net/snmp: %s", out)
	var names []string
	for l := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		k := slices.Index(names, "RcvbufErrors")
		require.True(t, k >= 0 && k+1 < len(f), "no RcvbufErrors in %s", out)
		n, err := strconv.Atoi(f[k+1])
		require.NoError(t, err, "/proc/net/snmp: %s", l)
		return n
	}
	t.Fatalf("no Udp: lines in %s's /proc/net/snmp:\n%s", p.ns[i], out)
	return 0
}
