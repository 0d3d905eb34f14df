package sip_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

// TestParamsAppendSet checks AppendSet against successive Set calls.
func TestParamsAppendSet(t *testing.T) {
	tests := []struct {
		name   string
		params sip.Params
		pairs  []string
		want   string
	}{
		{"none present", ";branch=z9hG4bKx", []string{"received", "192.0.2.1", "rport", "5060"}, ";branch=z9hG4bKx;received=192.0.2.1;rport=5060"},
		{"rport in place", ";rport;branch=z9hG4bKx", []string{"received", "192.0.2.1", "rport", "5060"}, ";rport=5060;branch=z9hG4bKx;received=192.0.2.1"},
		{"duplicates dropped", ";RPORT=1;rport=2", []string{"rport", "3"}, ";rport=3"},
		{"flag", ";branch=b", []string{"rport", ""}, ";branch=b;rport"},
		{"empty params", "", []string{"tag", "abc"}, ";tag=abc"},
		{"quoted value kept", `;x="a;b";y=1`, []string{"y", "2"}, `;x="a;b";y=2`},
		{"no pairs", ";a=1;b", nil, ";a=1;b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.params.AppendSet([]byte("pre"), tt.pairs...))
			require.Equal(t, "pre"+tt.want, got)
			seq := tt.params
			for k := 0; k+1 < len(tt.pairs); k += 2 {
				seq = seq.Set(tt.pairs[k], tt.pairs[k+1])
			}
			if len(tt.pairs) > 0 {
				require.Equal(t, string(seq), tt.want, "same as successive Set calls")
			}
		})
	}
}

// TestSetTopViaValue checks that a preformatted top Via replaces the first
// value only and is parsed for TopVia.
func TestSetTopViaValue(t *testing.T) {
	tests := []struct {
		name, via, value, wantLine string
		wantErr                    bool
	}{
		{"no Via", "", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa", false},
		{"replaces first", "SIP/2.0/UDP h;branch=z9hG4bKo", "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKn", "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKn", false},
		{"keeps the rest of the line", "SIP/2.0/UDP h;branch=z9hG4bKo, SIP/2.0/UDP p;branch=z9hG4bKp", "SIP/2.0/UDP q;branch=z9hG4bKn", "SIP/2.0/UDP q;branch=z9hG4bKn, SIP/2.0/UDP p;branch=z9hG4bKp", false},
		{"malformed", "SIP/2.0/UDP h;branch=z9hG4bKo", "junk", "junk", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.OPTIONS, sip.URI{Scheme: "sip", Host: "example.com"})
			if tt.via != "" {
				req.Add("Via", tt.via)
			}
			req.SetTopViaValue(tt.value)
			require.Equal(t, tt.wantLine, req.Header("Via"))
			v, err := req.TopVia()
			if tt.wantErr {
				require.ErrorIs(t, err, sip.ErrMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.value, v.String())
		})
	}
}

// TestAppendBranchAndCSeq checks the append forms against the string ones.
func TestAppendBranchAndCSeq(t *testing.T) {
	b := string(sip.AppendBranch([]byte(";branch=")))
	require.True(t, strings.HasPrefix(b, ";branch="+sip.MagicCookie))
	require.Len(t, b, len(";branch=")+len(sip.NewBranch()))
	require.NotEqual(t, sip.NewBranch(), sip.NewBranch())
	for _, c := range []sip.CSeq{{Seq: 1, Method: sip.INVITE}, {Seq: 1<<32 - 1, Method: "FOO"}} {
		got, err := sip.ParseCSeq(string(c.AppendTo(nil)))
		require.NoError(t, err)
		require.Equal(t, c, got)
		require.Equal(t, string(c.AppendTo(nil)), c.String())
	}
}

// TestIDAllocations pins one allocation per tag, branch, Call-ID and CSeq
// string.
func TestIDAllocations(t *testing.T) {
	for name, f := range map[string]func(){
		"NewBranch": func() { _ = sip.NewBranch() },
		"NewTag":    func() { _ = sip.NewTag() },
		"NewCallID": func() { _ = sip.NewCallID() },
		"CSeq":      func() { _ = sip.CSeq{Seq: 1234, Method: sip.INVITE}.String() },
	} {
		require.LessOrEqual(t, testing.AllocsPerRun(100, f), 1.0, name)
	}
}

// TestFirstContact checks FirstContact against Contacts and that it
// allocates nothing.
func TestFirstContact(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		want    string
		ok      bool
		wantErr bool
	}{
		{"none", nil, "", false, false},
		{"one", []string{"<sip:a@192.0.2.1:5060>;expires=60"}, "<sip:a@192.0.2.1:5060>;expires=60", true, false},
		{"list", []string{`"A" <sip:a@h>, <sip:b@h>`}, `"A" <sip:a@h>`, true, false},
		{"two lines", []string{"sip:a@h", "<sip:b@h>"}, "<sip:a@h>", true, false},
		{"wildcard", []string{"*"}, "*", true, false},
		{"later value malformed", []string{"<sip:a@h>, <<<"}, "", false, true},
		{"later line malformed", []string{"<sip:a@h>", "<<<"}, "", false, true},
		{"first malformed", []string{"<<<"}, "", false, true},
		{"junk after", []string{"<sip:a@h> junk"}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.URI{Scheme: "sip", Host: "example.com"})
			for _, l := range tt.lines {
				req.Add("Contact", l)
			}
			a, ok, err := req.FirstContact()
			all, allErr := req.Contacts()
			if tt.wantErr {
				require.ErrorIs(t, err, sip.ErrMalformed)
				require.Error(t, allErr, "Contacts agrees")
				return
			}
			require.NoError(t, err)
			require.NoError(t, allErr)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, len(all) > 0, ok)
			if ok {
				require.Equal(t, tt.want, a.String())
				require.Equal(t, all[0], a)
			}
			require.Zero(t, testing.AllocsPerRun(20, func() { _, _, _ = req.FirstContact() }))
		})
	}
}

// TestGrow checks that Grow keeps the lines and makes Add allocation-free.
func TestGrow(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 8} {
		req := sip.NewRequest(sip.BYE, sip.URI{Scheme: "sip", Host: "example.com"})
		before := req.String()
		req.Grow(n)
		require.Equal(t, before, req.String(), "n=%d", n)
		if n > 0 {
			grown := sip.NewRequest(sip.BYE, sip.URI{Scheme: "sip", Host: "example.com"})
			grown.Grow(2 * n) // AllocsPerRun calls the function twice
			adds := testing.AllocsPerRun(1, func() {
				for range n {
					grown.Add("X-A", "1")
				}
			})
			require.Zero(t, adds, "n=%d", n)
		}
	}
}
