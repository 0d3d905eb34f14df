package sip

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// knownLine pads a header line to the 24 bytes knownName reads.
func knownLine(line string) []byte {
	return []byte(line + "\r\n" + strings.Repeat("x", 24))
}

// TestKnownNameExact: knownName classifies every known name, full and
// compact, in any case, when ':' follows it directly, and nothing else:
// a byte off by its case bit (such as CR for '-'), a name the line does
// not hold, or space before the colon send the caller to the scan.
func TestKnownNameExact(t *testing.T) {
	for k := hkind(1); k < hkindCount; k++ {
		name := canonicalNames[k]
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			line := n + ": v"
			got, end := knownName(knownLine(line), len(line))
			require.Equal(t, k, got, n)
			require.Equal(t, len(n), end, n)
			require.Equal(t, k, kindOf(n), n)
		}
		for i := range len(name) {
			b := []byte(name)
			b[i] ^= 0x20 // a letter's other case is still the name; '-' becomes CR
			if name[i] == '-' {
				line := string(b) + ": v"
				got, _ := knownName(knownLine(line), len(line))
				require.Equal(t, hOther, got, "%q", line)
				require.Equal(t, hOther, kindOf(string(b)), "%q", b)
			}
			b[i] = name[i] ^ 0x01
			line := string(b) + ": v"
			got, _ := knownName(knownLine(line), len(line))
			require.NotEqual(t, k, got, "%q", line)
		}
		line := name + " : v"
		got, _ := knownName(knownLine(line), len(line))
		require.Equal(t, hOther, got, line)
		// The colon past the line's end belongs to another line.
		got, _ = knownName(knownLine(name+"\r\n: v"), len(name))
		require.Equal(t, hOther, got, name)
	}
	for c := range 256 {
		line := string([]byte{byte(c)}) + ": v"
		got, end := knownName(knownLine(line), len(line))
		require.Equal(t, compactKind(byte(c)), got, "%q", c)
		if got != hOther {
			require.Equal(t, 1, end)
		}
	}
	got, _ := knownName(knownLine(": v"), 3)
	require.Equal(t, hOther, got)
}

// TestQuotedSpan: the word-at-a-time reading of a quoted string agrees
// with a byte-by-byte one wherever the closing quote and a backslash
// fall, and on strings too short for a word.
func TestQuotedSpan(t *testing.T) {
	byBytes := func(s string, i int) (int, bool, bool) {
		escaped := false
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				escaped = true
				i++
			case '"':
				return i + 1, true, escaped
			}
		}
		return len(s), false, true
	}
	for n := range 40 {
		for _, tail := range []string{"", "x", `;q="a"`, strings.Repeat("y", 20)} {
			inside := strings.Repeat("a", n)
			cases := []string{`"` + inside + `"` + tail, `"` + inside + tail}
			for k := range n {
				esc := []byte(inside)
				esc[k] = '\\'
				cases = append(cases, `"`+string(esc)+`"`+tail, `"`+string(esc)+`""`+tail)
			}
			for _, s := range cases {
				end, closed, escaped := quotedSpan(s, 0)
				wantEnd, wantClosed, wantEscaped := byBytes(s, 0)
				require.Equal(t, wantEnd, end, "%q", s)
				require.Equal(t, wantClosed, closed, "%q", s)
				if closed && !escaped {
					require.False(t, wantEscaped, "%q", s) // no backslash: nothing to unquote
				}
				if wantEscaped && closed {
					require.True(t, escaped, "%q", s)
				}
			}
		}
	}
}
