package sip_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// tortureDir holds the RFC 4475 / RFC 5118 torture messages, byte-exact,
// and their manifest (see testdata/torture/README.md).
const tortureDir = "testdata/torture"

type tortureCase struct {
	file, section, kind, expectation, status, framing, note string
	facts                                                   map[string]string
}

func loadManifest(t *testing.T) []tortureCase {
	t.Helper()
	f, err := os.Open(filepath.Join(tortureDir, "MANIFEST.tsv"))
	require.NoError(t, err, "the torture corpus is part of the repository")
	defer f.Close()
	var cases []tortureCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		require.Len(t, cols, 8, "manifest row %q", sc.Text())
		c := tortureCase{file: cols[0], section: cols[1], kind: cols[2], expectation: cols[3],
			status: cols[4], framing: cols[5], note: cols[6], facts: map[string]string{}}
		if cols[7] != "-" {
			for _, kv := range strings.Split(cols[7], ";") {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "fact %q", kv)
				dv, err := url.PathUnescape(v)
				require.NoError(t, err, "fact %q", kv)
				c.facts[k] = dv
			}
		}
		cases = append(cases, c)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, cases)
	return cases
}

func readCase(t *testing.T, c tortureCase) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tortureDir, c.file))
	require.NoError(t, err)
	return b
}

// parseCase parses a corpus file as its framing says.
func parseCase(c tortureCase, b []byte) (sip.Message, error) {
	if c.framing == "stream" {
		return sip.NewReader(strings.NewReader(string(b)), sip.Limits{}).ReadMessage()
	}
	return sip.Parse(b)
}

func TestTorture(t *testing.T) {
	for _, c := range loadManifest(t) {
		t.Run(strings.TrimSuffix(c.file, ".dat"), func(t *testing.T) {
			b := readCase(t, c)
			m, err := parseCase(c, b)
			switch c.expectation {
			case "invalid-parse":
				require.Error(t, err, "%s: %s", c.section, c.note)
				var pe *sip.ParseError
				require.True(t, errors.As(err, &pe), "want *sip.ParseError, got %T %v", err, err)
				require.True(t, errors.Is(err, sip.ErrMalformed) || errors.Is(err, sip.ErrMessageTooLarge))
				return
			case "valid":
				require.NoError(t, err, "%s: %s", c.section, c.note)
				checkFacts(t, m, c.facts)
				checkRoundTrip(t, m)
				if req, ok := m.(*sip.Request); ok && len(c.facts) > 0 {
					// A valid request that the default UAS implements must validate.
					if _, known := knownMethod(req.Method); known {
						require.NoError(t, sip.Validate(req))
					}
				}
			case "semantic":
				require.NoError(t, err, "%s: %s", c.section, c.note)
				checkFacts(t, m, c.facts)
				checkRoundTrip(t, m)
				checkSemantic(t, c, m)
			default:
				t.Fatalf("unknown expectation %q", c.expectation)
			}
		})
	}
}

func knownMethod(m sip.Method) (sip.Method, bool) {
	for _, x := range sip.DefaultMethods() {
		if x == m {
			return x, true
		}
	}
	return m, false
}

func checkSemantic(t *testing.T, c tortureCase, m sip.Message) {
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatalf("semantic case is a %T", m)
	}
	want, optional := c.status, false
	if strings.HasSuffix(want, "?") {
		want, optional = strings.TrimSuffix(want, "?"), true
	}
	code, err := strconv.Atoi(want)
	require.NoError(t, err, "status %q", c.status)
	var v sip.Validator
	switch code {
	case sip.StatusTooManyHops:
		// Only a proxy refuses Max-Forwards 0; a UAS processes it.
		require.NoError(t, v.Validate(req), "a UAS processes Max-Forwards 0")
		v.Proxy = true
	case sip.StatusUnauthorized:
		// A registrar's digest check answers this (sip/digest, ua); the
		// message itself is valid.
		require.NoError(t, v.Validate(req))
		return
	}
	err = v.Validate(req)
	if optional && err == nil {
		return
	}
	var ve *sip.ValidationError
	require.True(t, errors.As(err, &ve), "want ValidationError %d, got %v", code, err)
	require.ErrorIs(t, err, sip.ErrInvalidRequest)
	require.Equal(t, code, ve.StatusCode, "%s: %v", c.note, err)
	if code == sip.StatusBadExtension {
		require.NotEmpty(t, ve.Unsupported)
	}
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func checkFacts(t *testing.T, m sip.Message, facts map[string]string) {
	t.Helper()
	const absent = "(absent)"
	vias, _ := m.(interface{ Vias() ([]sip.Via, error) }).Vias()
	contacts, err := m.(interface{ Contacts() ([]sip.Address, error) }).Contacts()
	require.NoError(t, err)
	for key, want := range facts {
		var got string
		present := true
		switch {
		case key == "method":
			got = string(m.(*sip.Request).Method)
		case key == "ruri":
			got = m.(*sip.Request).URI.String()
		case key == "status":
			got = strconv.Itoa(m.(*sip.Response).StatusCode)
		case key == "reason":
			got = m.(*sip.Response).Reason
		case key == "call_id":
			got = m.CallID()
		case key == "cseq_num" || key == "cseq_method":
			cs, err := m.CSeq()
			require.NoError(t, err)
			got = strconv.FormatUint(uint64(cs.Seq), 10)
			if key == "cseq_method" {
				got = string(cs.Method)
			}
		case key == "via_count":
			got = strconv.Itoa(len(vias))
		case strings.HasPrefix(key, "via"):
			idx, field := factIndex(key, "via")
			require.Less(t, idx, len(vias), key)
			got, present = viaFact(vias[idx], field)
			if idx == 0 {
				top, err := m.TopVia()
				require.NoError(t, err)
				require.Equal(t, vias[0], top)
			}
		case strings.HasPrefix(key, "from_") || strings.HasPrefix(key, "to_"):
			name, field, _ := strings.Cut(key, "_")
			a, err := m.From()
			if name == "to" {
				a, err = m.To()
			}
			require.NoError(t, err)
			got, present = addrFact(a, field)
		case key == "contact_count":
			got = strconv.Itoa(len(contacts))
		case strings.HasPrefix(key, "contact"):
			idx, field := factIndex(key, "contact")
			require.Less(t, idx, len(contacts), key)
			got, present = addrFact(contacts[idx], field)
		case key == "max_forwards":
			mf, err := m.(interface{ MaxForwards() (int, error) }).MaxForwards()
			got, present = strconv.Itoa(mf), err == nil
		case key == "content_type":
			got = m.(interface{ ContentType() string }).ContentType()
			present = got != ""
		case key == "content_length":
			got = m.Header("Content-Length")
			present = got != ""
			if present {
				n, err := strconv.Atoi(got)
				require.NoError(t, err)
				got = strconv.Itoa(n)
			}
		case key == "body_len":
			got = strconv.Itoa(len(m.Body()))
		case key == "body_sha256":
			sum := sha256.Sum256(m.Body())
			got = hex.EncodeToString(sum[:])
		default:
			t.Errorf("unknown fact %q", key)
			continue
		}
		if want == absent {
			require.False(t, present, "%s should be absent, got %q", key, got)
			continue
		}
		require.True(t, present, "%s should be present", key)
		if strings.HasSuffix(key, "display") {
			got, want = collapse(got), collapse(want)
		}
		require.Equal(t, want, got, key)
	}
}

// factIndex splits "via2_host" into (1, "host") and "via_host" into (0, "host").
func factIndex(key, prefix string) (int, string) {
	rest := strings.TrimPrefix(key, prefix)
	num, field, _ := strings.Cut(rest, "_")
	if num == "" {
		return 0, field
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, field
	}
	return n - 1, field
}

func viaFact(v sip.Via, field string) (string, bool) {
	switch field {
	case "transport":
		return v.Transport, true
	case "host":
		return v.Host, true
	case "port":
		return strconv.Itoa(v.Port), v.Port != 0
	case "branch":
		return v.Params.Get("branch")
	case "received":
		return v.Params.Get("received")
	case "rport":
		return v.Params.Get("rport")
	case "maddr", "ttl":
		return v.Params.Get(field)
	}
	return "unknown field " + field, true
}

func addrFact(a sip.Address, field string) (string, bool) {
	switch field {
	case "display":
		return a.Display, a.Display != ""
	case "uri":
		return a.URI.String(), true
	case "tag":
		return a.Params.Get("tag")
	case "expires", "q":
		return a.Params.Get(field)
	}
	return "unknown field " + field, true
}

type summary struct {
	Start   string
	Headers [][2]string
	Body    string
	Via     sip.Via
	From    sip.Address
	To      sip.Address
	CSeq    sip.CSeq
	CallID  string
}

func summarize(t *testing.T, m sip.Message) summary {
	t.Helper()
	s := summary{Body: string(m.Body()), CallID: m.CallID()}
	switch v := m.(type) {
	case *sip.Request:
		s.Start = string(v.Method) + " " + v.URI.String() + " " + v.Proto
	case *sip.Response:
		s.Start = v.Proto + " " + strconv.Itoa(v.StatusCode) + " " + v.Reason
	}
	for _, h := range m.Headers() {
		if sip.CanonicalName(h.Name) == "Content-Length" {
			continue // rewritten to the body's true length
		}
		s.Headers = append(s.Headers, [2]string{h.Name, collapse(h.Value)})
	}
	s.Via, _ = m.TopVia()
	s.From, _ = m.From()
	s.To, _ = m.To()
	s.CSeq, _ = m.CSeq()
	return s
}

// checkRoundTrip: Parse(AppendTo(Parse(x))) equals Parse(x), and writing
// again is byte-identical.
func checkRoundTrip(t *testing.T, m sip.Message) {
	t.Helper()
	wire := m.AppendTo(nil)
	m2, err := sip.Parse(wire)
	require.NoError(t, err, "reparse of %q", wire)
	require.Equal(t, summarize(t, m), summarize(t, m2))
	require.Equal(t, string(wire), string(m2.AppendTo(nil)))
	require.Equal(t, string(wire), m.String())
}
