package sip_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestNewRequest(t *testing.T) {
	u, err := sip.ParseURI("sip:bob@biloxi.example.com;transport=tcp")
	require.NoError(t, err)
	req := sip.NewRequest(sip.INVITE, u)
	req.SetFrom(sip.Address{Display: "Alice", URI: sip.URI{Scheme: "sip", User: "alice", Host: "atlanta.example.com"}, Params: sip.Params("").Set("tag", sip.NewTag())})
	req.Prepend("Via", sip.Via{Transport: "UDP", Host: "192.0.2.1", Port: 5060, Params: sip.Params("").Set("branch", sip.NewBranch())}.String())

	to, err := req.To()
	require.NoError(t, err)
	require.Equal(t, "sip:bob@biloxi.example.com", to.URI.String(), "To carries the URI without its parameters")
	require.Empty(t, to.Tag())
	cs, err := req.CSeq()
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: 1, Method: sip.INVITE}, cs)
	require.Len(t, req.CallID(), 32)
	mf, err := req.MaxForwards()
	require.NoError(t, err)
	require.Equal(t, 70, mf)

	// What we build parses back to the same thing.
	m, err := sip.Parse(req.AppendTo(nil))
	require.NoError(t, err)
	back := m.(*sip.Request)
	require.Equal(t, req.URI, back.URI)
	require.Equal(t, req.String(), back.String())
	require.NoError(t, sip.Validate(back))
	v, err := back.TopVia()
	require.NoError(t, err)
	require.True(t, v.HasCookie())
	require.True(t, strings.HasPrefix(req.String(), "INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0\r\n"))
}

func TestNewResponse(t *testing.T) {
	req := parseRequest(t, basicInvite+"")
	req.Add("Timestamp", "54")
	req.Add("Record-Route", "<sip:p1.example.com;lr>")
	tests := []struct {
		code      int
		reason    string
		wantTag   bool
		timestamp bool
	}{
		{100, "", false, true},
		{180, "", true, false},
		{200, "Fine", true, false},
		{486, "", true, false},
	}
	for _, tc := range tests {
		res := sip.NewResponse(req, tc.code, tc.reason)
		require.Equal(t, tc.code, res.StatusCode)
		if tc.reason == "" {
			require.Equal(t, sip.StatusText(tc.code), res.Reason)
		} else {
			require.Equal(t, tc.reason, res.Reason)
		}
		to, err := res.To()
		require.NoError(t, err)
		require.Equal(t, tc.wantTag, to.Tag() != "", "code %d", tc.code)
		require.Equal(t, tc.timestamp, res.Header("Timestamp") != "")
		require.Empty(t, res.Header("Record-Route"), "the dialog layer copies Record-Route, not the builder")
		require.Empty(t, res.Header("Contact"))
		for _, h := range []string{"Via", "From", "Call-ID", "CSeq"} {
			require.Equal(t, req.Values(h), res.Values(h), h)
		}
		m, err := sip.Parse(res.AppendTo(nil))
		require.NoError(t, err)
		require.Equal(t, res.String(), m.String())
	}
	// A To tag already present is kept.
	res := sip.NewResponse(req, 180, "")
	to, _ := res.To()
	res2 := sip.NewResponse(req, 200, "")
	res2.SetToTag(to.Tag())
	to2, _ := res2.To()
	require.Equal(t, to.Tag(), to2.Tag())
	req.Set("To", to.String())
	res3 := sip.NewResponse(req, 200, "")
	to3, _ := res3.To()
	require.Equal(t, to.Tag(), to3.Tag())
}

func TestNewResponseTag(t *testing.T) {
	req := parseRequest(t, basicInvite+"")
	tagged := parseRequest(t, basicInvite+"")
	to, err := tagged.To()
	require.NoError(t, err)
	to.Params = to.Params.Set("tag", "theirs")
	tagged.SetTo(to)
	// A To longer than the room a response keeps for it.
	long := parseRequest(t, strings.Replace(basicInvite, "To: Bob <", "To: \""+strings.Repeat("B", 150)+"\" <", 1))
	tests := []struct {
		name string
		req  *sip.Request
		code int
		tag  string
		want string // "": no tag; "*": a random one
	}{
		{"given tag", req, 200, "abc", "abc"},
		{"random tag", req, 180, "", "*"},
		{"no tag on 100", req, 100, "abc", ""},
		{"in-dialog request keeps its tag", tagged, 200, "abc", "theirs"},
		{"long To, given tag", long, 200, "abc", "abc"},
		{"long To, random tag", long, 180, "", "*"},
		{"long given tag", req, 200, strings.Repeat("t", 120), strings.Repeat("t", 120)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sip.NewResponseTag(tt.req, tt.code, "", tt.tag)
			to, err := res.To()
			require.NoError(t, err)
			switch tt.want {
			case "*":
				require.Len(t, to.Tag(), len(sip.NewTag()))
			default:
				require.Equal(t, tt.want, to.Tag())
			}
			reqTo, err := tt.req.To()
			require.NoError(t, err)
			require.Equal(t, reqTo.Display, to.Display)
			require.Equal(t, reqTo.URI, to.URI)
			m, err := sip.Parse(res.AppendTo(nil))
			require.NoError(t, err)
			require.Equal(t, res.String(), m.String())
		})
	}
}

// TestNewResponseTagOneAllocation checks that a response that adds a To
// tag is one allocation, its new To value included, when the To fits the
// room the response keeps for it; the responses' To values stay apart.
func TestNewResponseTagOneAllocation(t *testing.T) {
	req := parseRequest(t, basicInvite)
	for _, tag := range []string{"abc", ""} {
		want := 1.0
		if raceEnabled && tag == "" {
			want = 2 // the random bytes' buffer escapes under -race
		}
		require.Equal(t, want, testing.AllocsPerRun(100, func() { _ = sip.NewResponseTag(req, 180, "", tag) }), "tag %q", tag)
	}
	a := sip.NewResponseTag(req, 180, "", "")
	b := sip.NewResponseTag(req, 180, "", "")
	ta, err := a.To()
	require.NoError(t, err)
	tb, err := b.To()
	require.NoError(t, err)
	require.NotEqual(t, ta.Tag(), tb.Tag())
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		b := sip.NewBranch()
		require.True(t, strings.HasPrefix(b, sip.MagicCookie))
		require.GreaterOrEqual(t, len(b)-len(sip.MagicCookie), 16, "at least 64 random bits")
		require.False(t, seen[b])
		seen[b] = true
	}
	require.Len(t, sip.NewTag(), 16)
	require.Len(t, sip.NewTag(), sip.TagLen)
	require.Len(t, sip.AppendTag(nil), sip.TagLen)
	require.Len(t, sip.NewCallID(), sip.CallIDLen)
	id := sip.AppendCallID([]byte("x"))
	require.Len(t, id, 1+sip.CallIDLen)
	require.NotEqual(t, string(id), string(sip.AppendCallID([]byte("x"))))
	require.NotEqual(t, sip.NewTag(), sip.NewTag())
	require.NotEqual(t, sip.NewCallID(), sip.NewCallID())
}

func TestStatusText(t *testing.T) {
	require.Equal(t, "OK", sip.StatusText(sip.StatusOK))
	require.Equal(t, "Request Terminated", sip.StatusText(sip.StatusRequestTerminated))
	require.Equal(t, "Interval Too Brief", sip.StatusText(423))
	require.Equal(t, "", sip.StatusText(299))
	require.Equal(t, 4, sip.StatusClass(486))
}
