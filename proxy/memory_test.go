package proxy_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// bindingsMeasured is how many bindings BenchmarkBindingMemory registers.
const bindingsMeasured = 100_000

// BenchmarkBindingMemory reports the heap one registered binding costs in
// MemoryLocation (B/binding): 100,000 AORs with one binding each, as the
// registrar writes them from a REGISTER (a parsed Contact with
// parameters, Call-ID, CSeq, User-Agent, the flow). It measures memory, not
// time: run it with -benchtime 1x.
//
//	go test -run '^$' -bench BindingMemory -benchtime 1x ./proxy/
func BenchmarkBindingMemory(b *testing.B) {
	for b.Loop() {
		loc := proxy.NewMemoryLocation()
		before := heapInUse()
		fill(b, loc, bindingsMeasured)
		after := heapInUse()
		require.Equal(b, bindingsMeasured, loc.Len())
		b.ReportMetric(float64(after-before)/bindingsMeasured, "B/binding")
		runtime.KeepAlive(loc)
	}
}

// TestBindingMemoryBounded keeps the figure of BenchmarkBindingMemory
// honest in every test run, on fewer bindings: a binding costs something,
// and less than a generous bound (a regression that copies messages into
// bindings would pass it).
func TestBindingMemoryBounded(t *testing.T) {
	const n = 10_000
	loc := proxy.NewMemoryLocation()
	before := heapInUse()
	fill(t, loc, n)
	per := float64(heapInUse()-before) / n
	runtime.KeepAlive(loc)
	t.Logf("%.0f B per binding (%d bindings)", per, n)
	require.Greater(t, per, 100.0, "a binding with its strings costs more than this")
	require.Less(t, per, 4096.0, "a binding should not cost a page")
}

// fill registers n AORs of one binding each, as the registrar would.
func fill(tb testing.TB, loc *proxy.MemoryLocation, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		contact, err := sip.ParseURI(fmt.Sprintf("sip:user%d@198.51.%d.%d:%d;transport=udp;ob", i, i/250%250, i%250+1, 5060+i%1000))
		require.NoError(tb, err)
		b := proxy.Binding{
			AOR: fmt.Sprintf("sip:user%d@example.test", i), Contact: contact, Q: 1,
			Expires: now.Add(time.Hour), CallID: fmt.Sprintf("%016x@198.51.100.7", i*7919), CSeq: 2,
			Source: transport.Flow{
				Network: transport.UDP, Local: netip.MustParseAddrPort("192.0.2.1:5060"),
				Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i / 250 % 250), byte(i%250 + 1)}), uint16(5060+i%1000)),
			},
			UserAgent: "Phone/1.0",
		}
		_, err = loc.Update(ctx, b.AOR, now, func(cur []proxy.Binding) ([]proxy.Binding, error) {
			return append(cur, b), nil
		})
		require.NoError(tb, err)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
