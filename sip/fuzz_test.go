package sip_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// addSeeds adds every torture message and the benchmark corpus as seeds,
// from testdata.
func addSeeds(f *testing.F) {
	for _, glob := range []string{tortureDir + "/rfc4475/*.dat", tortureDir + "/rfc5118/*.dat", benchCorpus + "/*.sip"} {
		files, err := filepath.Glob(glob)
		require.NoError(f, err)
		require.NotEmpty(f, files, "seeds %s", glob)
		for _, name := range files {
			b, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Add([]byte(basicInvite))
	f.Add([]byte(regWithAuth))
}

// FuzzParse: no input panics, and whatever parses survives a round trip:
// Parse(AppendTo(Parse(x))) equals Parse(x), and the second write is
// byte-identical to the first.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sip.Parse(bytes.Clone(b)) // Parse owns its input; keep the fuzzer's
		if err != nil {
			var pe *sip.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %T %v", err, err)
			}
			return
		}
		checkRoundTrip(t, m)
		// Parameter lookup agrees with a scan of every parameter.
		if v, err := m.TopVia(); err == nil {
			for _, name := range []string{"branch", "rport", "received"} {
				got, ok := v.Params.Get(name)
				var want string
				var wantOK bool
				v.Params.Each(func(n, val string) bool {
					if strings.EqualFold(n, name) {
						want, wantOK = val, true
						return false
					}
					return true
				})
				if got != want || ok != wantOK {
					t.Fatalf("Params(%q).Get(%q) = %q, %v; scan says %q, %v", v.Params, name, got, ok, want, wantOK)
				}
			}
		}
		// Typed accessors never panic either.
		_, _ = m.(interface{ Vias() ([]sip.Via, error) }).Vias()
		_, _ = m.(interface{ Contacts() ([]sip.Address, error) }).Contacts()
		_, _ = m.(interface{ Routes() ([]sip.Address, error) }).Routes()
		if req, ok := m.(*sip.Request); ok {
			_ = sip.Validate(req)
			_ = sip.NewResponse(req, 200, "").String()
		}
	})
}

// chunkReader returns the data in chunks whose sizes come from sizes.
type chunkReader struct {
	data  []byte
	sizes []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = int(c.sizes[0])%64 + 1
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// FuzzReader: the stream reader frames the same messages whatever the
// read sizes, and never panics or loops.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		stream := append(append(append([]byte{}, b...), "\r\n\r\n"...), b...)
		whole := readAll(sip.NewReader(bytes.NewReader(stream), sip.Limits{}))
		split := readAll(sip.NewReader(&chunkReader{data: stream, sizes: b}, sip.Limits{}))
		require.Equal(t, whole, split)
	})
}

func readAll(r *sip.Reader) []string {
	var out []string
	for i := 0; i < 1000; i++ {
		m, ka, err := r.Next()
		if err != nil {
			// The error class, not the offset: a split changes where EOF hits.
			switch {
			case errors.Is(err, io.EOF):
				out = append(out, "EOF")
			case errors.Is(err, io.ErrUnexpectedEOF):
				out = append(out, "unexpected EOF")
			default:
				out = append(out, "error")
			}
			return out
		}
		if ka != sip.KeepaliveNone {
			continue // a CRLF pair split across reads may read as pong+pong or ping
		}
		out = append(out, m.String())
	}
	return out
}
