package sip_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// checksumRow is a row of SOURCES.md's checksum tables:
// | rfc4475/wsinv.dat | 1001 | `d6f6…` |
var checksumRow = regexp.MustCompile("^\\| ([^ |]+) \\| ([0-9]+) \\| `([0-9a-f]{64})` \\|$")

// sha256sumLine is a line of sha256sum's output, indented in a README.
var sha256sumLine = regexp.MustCompile(`^\s+([0-9a-f]{64})  (\S+)$`)

// TestTortureCorpusIntact: every torture file is there, byte for byte as
// SOURCES.md records it, and every file there is recorded.
func TestTortureCorpusIntact(t *testing.T) {
	rows := 0
	seen := map[string]bool{}
	forEachLine(t, filepath.Join(tortureDir, "SOURCES.md"), func(line string) {
		m := checksumRow.FindStringSubmatch(line)
		if m == nil {
			return
		}
		rows++
		seen[m[1]] = true
		size, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		requireFile(t, filepath.Join(tortureDir, m[1]), size, m[3])
	})
	require.Equal(t, 50+12+12, rows, "RFC 4475's 50 files, RFC 5118's 12 twice")
	files, err := filepath.Glob(filepath.Join(tortureDir, "*", "*.dat"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(tortureDir, "*", "*", "*.dat"))
	require.NoError(t, err)
	for _, f := range append(files, more...) {
		rel, err := filepath.Rel(tortureDir, f)
		require.NoError(t, err)
		require.True(t, seen[filepath.ToSlash(rel)], "%s has no checksum in SOURCES.md", rel)
	}
}

// TestBenchCorpus: the benchmark messages are the recorded bytes and parse
// to what their README says.
func TestBenchCorpus(t *testing.T) {
	n := 0
	forEachLine(t, filepath.Join(benchCorpus, "README.md"), func(line string) {
		if m := sha256sumLine.FindStringSubmatch(line); m != nil {
			n++
			requireFile(t, filepath.Join(benchCorpus, m[2]), -1, m[1])
		}
	})
	require.Equal(t, 2, n, "checksums in README.md")

	inv, err := sip.Parse(corpus(t, "invite.sip"))
	require.NoError(t, err)
	require.Equal(t, "3848276298220188511@atlanta.example.com", inv.CallID())
	cs, err := inv.CSeq()
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: 314159, Method: sip.INVITE}, cs)
	v, err := inv.TopVia()
	require.NoError(t, err)
	require.Equal(t, "z9hG4bK74bf9a1c6e2d.4f3b", v.Branch())
	from, err := inv.From()
	require.NoError(t, err)
	require.Equal(t, "9fxced76sl", from.Tag())
	require.Len(t, inv.Values("Route"), 2)
	require.Len(t, inv.Body(), 254)
	require.True(t, strings.HasPrefix(string(inv.Body()), "v=0"))

	res, err := sip.Parse(corpus(t, "response-200-invite.sip"))
	require.NoError(t, err)
	to, err := res.To()
	require.NoError(t, err)
	require.Equal(t, "8321234356", to.Tag())
	require.Len(t, res.Values("Record-Route"), 2)
	require.Len(t, res.Body(), 211)
}

func forEachLine(t *testing.T, name string, fn func(string)) {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(sc.Text())
	}
	require.NoError(t, sc.Err())
}

// requireFile checks a file's SHA-256 and, when size >= 0, its length.
func requireFile(t *testing.T, name string, size int, sum string) {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	if size >= 0 {
		require.Len(t, b, size, name)
	}
	got := sha256.Sum256(b)
	require.Equal(t, sum, hex.EncodeToString(got[:]), name)
}
