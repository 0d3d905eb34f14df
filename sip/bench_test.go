package sip_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dialtone/dialtone/sip"
)

// benchCorpus holds the benchmark messages (see testdata/bench/README.md):
// the same bytes the parser comparison with sipgo reads.
const benchCorpus = "testdata/bench"

func corpus(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(benchCorpus, name))
	if err != nil {
		tb.Fatalf("benchmark corpus (part of the repository): %v", err)
	}
	return b
}

func BenchmarkParseInviteCore(b *testing.B) {
	data := corpus(b, "invite.sip")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var sink int
	for b.Loop() {
		m, err := sip.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		cs, _ := m.CSeq()
		v, _ := m.TopVia()
		f, _ := m.From()
		t, _ := m.To()
		sink += len(m.CallID()) + int(cs.Seq) + len(v.Branch()) + len(f.Tag()) + len(t.Tag()) + len(m.Body())
	}
	_ = sink
}

func benchParse(b *testing.B, name string) {
	data := corpus(b, name)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sip.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInvite(b *testing.B)   { benchParse(b, "invite.sip") }
func BenchmarkParseResponse(b *testing.B) { benchParse(b, "response-200-invite.sip") }

func benchSerialize(b *testing.B, name string) {
	m, err := sip.Parse(corpus(b, name))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendTo(buf[:0])
	}
}

func BenchmarkSerializeInvite(b *testing.B)   { benchSerialize(b, "invite.sip") }
func BenchmarkSerializeResponse(b *testing.B) { benchSerialize(b, "response-200-invite.sip") }
