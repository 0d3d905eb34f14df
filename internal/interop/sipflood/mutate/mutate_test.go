package mutate

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

const invite = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"From: <sip:alice@example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 4\r\n" +
	"\r\n" +
	"v=0\n"

func gen(t *testing.T, seed uint64) *Generator {
	t.Helper()
	g, err := New(seed, [][]byte{[]byte(invite)})
	require.NoError(t, err)
	return g
}

func contentLength(t *testing.T, b []byte) (int, string) {
	t.Helper()
	hdr, at := lines(b)
	for _, l := range hdr {
		if v, ok := strings.CutPrefix(string(l), "Content-Length: "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n, string(b[at:])
		}
	}
	t.Fatalf("no Content-Length in %q", b)
	return 0, ""
}

// TestApply: each mutation does what its name says, to many random
// draws, and never returns more than MaxSize bytes.
func TestApply(t *testing.T) {
	seed := []byte(invite)
	tests := []struct {
		kind  Kind
		check func(t *testing.T, m []byte)
	}{
		{BitFlip, func(t *testing.T, m []byte) {
			require.Len(t, m, len(seed))
			require.NotEqual(t, seed, m, "a flip of a bit twice over is possible but not in these draws")
		}},
		{Truncate, func(t *testing.T, m []byte) {
			require.Less(t, len(m), len(seed))
			require.NotEmpty(t, m)
			require.True(t, bytes.HasPrefix(seed, m))
		}},
		{DuplicateHeader, func(t *testing.T, m []byte) {
			hs, _ := lines(m)
			orig, _ := lines(seed)
			require.Greater(t, len(hs), len(orig))
			require.Equal(t, orig[0], hs[0], "the start line stays")
		}},
		{HugeNumber, func(t *testing.T, m []byte) {
			require.True(t, bytes.ContainsFunc(m, func(r rune) bool { return r >= '0' && r <= '9' }))
			require.Greater(t, len(m), len(seed)-8)
			require.NotEqual(t, seed, m)
		}},
		{NegativeNumber, func(t *testing.T, m []byte) {
			require.Contains(t, string(m), "-")
			require.NotEqual(t, seed, m)
		}},
		{WrongContentLength, func(t *testing.T, m []byte) {
			n, body := contentLength(t, m)
			require.Equal(t, "v=0\n", body, "the body stays")
			require.NotEqual(t, len(body), n)
		}},
		{BinaryJunk, func(t *testing.T, m []byte) {
			require.NotEqual(t, seed, m)
			require.Greater(t, len(m), 0)
		}},
	}
	require.Len(t, tests, len(Kinds()), "every kind is tested")
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			g := gen(t, 1)
			for range 200 {
				m := g.Apply(tt.kind, seed)
				require.LessOrEqual(t, len(m), MaxSize)
				tt.check(t, m)
			}
			require.Equal(t, invite, string(seed), "the seed is not modified")
		})
	}
}

// TestDeterministic: one seed, one sequence; another seed, another.
func TestDeterministic(t *testing.T) {
	a, b, c := gen(t, 7), gen(t, 7), gen(t, 8)
	same := true
	for range 100 {
		ma, ka := a.Next()
		mb, kb := b.Next()
		mc, _ := c.Next()
		require.Equal(t, ma, mb)
		require.Equal(t, ka, kb)
		same = same && bytes.Equal(ma, mc)
	}
	require.False(t, same)
}

// TestCorpus: the torture corpus loads, every kind comes out of a run,
// and most mutants are malformed (the flood is hostile), while none
// crashes the parser.
func TestCorpus(t *testing.T) {
	seeds, err := LoadSeeds("../../../../sip/testdata/torture")
	require.NoError(t, err)
	require.Greater(t, len(seeds), 40)
	g, err := New(42, seeds)
	require.NoError(t, err)
	kinds := map[Kind]int{}
	bad := 0
	const n = 5000
	for range n {
		m, k := g.Next()
		kinds[k]++
		if _, err := sip.Parse(m); err != nil {
			bad++
		}
	}
	require.Len(t, kinds, len(Kinds()))
	require.Greater(t, bad, n/2, "most mutants are malformed")
	t.Logf("%d of %d mutants malformed; by kind %v", bad, n, kinds)
}

func TestErrors(t *testing.T) {
	_, err := New(1, nil)
	require.ErrorIs(t, err, ErrNoSeeds)
	_, err = LoadSeeds(t.TempDir())
	require.ErrorIs(t, err, ErrNoSeeds)
	require.Equal(t, "kind(99)", Kind(99).String())
}
