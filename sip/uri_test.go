package sip_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want sip.URI
	}{
		{"sip:alice@atlanta.example.com", sip.URI{Scheme: "sip", User: "alice", Host: "atlanta.example.com"}},
		{"SIP:alice@Atlanta.example.com:5060", sip.URI{Scheme: "sip", User: "alice", Host: "Atlanta.example.com", Port: 5060}},
		{"sips:alice:secret@192.0.2.1:5061;transport=tcp?subject=project%20x&priority=urgent",
			sip.URI{Scheme: "sips", User: "alice", Password: "secret", Host: "192.0.2.1", Port: 5061, Params: ";transport=tcp", Headers: "subject=project%20x&priority=urgent"}},
		{"sip:[2001:db8::10]:5070", sip.URI{Scheme: "sip", Host: "[2001:db8::10]", Port: 5070}},
		{"sip:[2001:db8::10:5070]", sip.URI{Scheme: "sip", Host: "[2001:db8::10:5070]"}},
		{"sip:user;par=u%40example.net@example.com", sip.URI{Scheme: "sip", User: "user;par=u%40example.net", Host: "example.com"}},
		{"sip:example.com;lr;maddr=239.255.255.1", sip.URI{Scheme: "sip", Host: "example.com", Params: ";lr;maddr=239.255.255.1"}},
		{"tel:+1-201-555-0123;phone-context=example.com", sip.URI{Scheme: "tel", User: "+1-201-555-0123", Params: ";phone-context=example.com"}},
		{"urn:service:sos", sip.URI{Scheme: "urn", Opaque: "service:sos"}},
		{"mailto:alice@example.com", sip.URI{Scheme: "mailto", Opaque: "alice@example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := sip.ParseURI(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, u)
			// Written back: the same text, but the scheme in lower case.
			again, err := sip.ParseURI(u.String())
			require.NoError(t, err)
			require.Equal(t, u, again)
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, in := range []string{
		"", "sip", "sip:", ":x", "sip:@example.com", "sip:alice@", "sip:2001:db8::10",
		"sip:[2001:db8::10", "sip:host:99999", "sip:host:", "sip:host:5060x", "sip:a b@host",
		"sip:host;=x", "sip:host;a=", "sip:al%zzice@host", "tel:", "tel:xyz", "tel:123;=x", "1sip:host",
		"sip:host?a=<b>", "foo:", "foo:with space",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := sip.ParseURI(in)
			require.Error(t, err)
			require.True(t, errors.Is(err, sip.ErrMalformed), "%v", err)
		})
	}
}

func TestURIEqual(t *testing.T) {
	// RFC 3261 §19.1.4 examples and the rules behind them.
	tests := []struct {
		a, b  string
		equal bool
	}{
		{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", true},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", true},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;security=on", true},
		{"sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on", true},
		{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", true},
		{"sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x", true},
		{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", false},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", false},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", false},
		{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", false},
		{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", false},
		{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", false},
		{"sip:alice@atlanta.com", "sips:alice@atlanta.com", false},
		{"sip:alice:pw@atlanta.com", "sip:alice@atlanta.com", false},
		{"sip:[2001:db8::1]", "sip:[2001:DB8:0::1]", true},
		{"tel:+1-201-555-0123", "tel:+12015550123", true},
		{"tel:+1-201-555-0123", "tel:+12015550124", false},
		{"urn:service:sos", "urn:service:sos", true},
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			a, err := sip.ParseURI(tc.a)
			require.NoError(t, err)
			b, err := sip.ParseURI(tc.b)
			require.NoError(t, err)
			require.Equal(t, tc.equal, a.Equal(&b))
			require.Equal(t, tc.equal, b.Equal(&a), "symmetric")
		})
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"alice": "alice", "%61lice": "alice", "null-%00-null": "null-\x00-null", "a%2fb%2F": "a/b/", "%25": "%",
	} {
		got, err := sip.Unescape(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"%", "%4", "%zz", "a%g1"} {
		_, err := sip.Unescape(bad)
		require.ErrorIs(t, err, sip.ErrMalformed, bad)
	}
	u, err := sip.ParseURI("sip:I%20have%20spaces@example.net")
	require.NoError(t, err)
	require.Equal(t, "I have spaces", u.Username())
	require.Equal(t, "I%20have%20spaces", u.User)
}

func TestURIHostPort(t *testing.T) {
	u, err := sip.ParseURI("sip:bob@[2001:db8::1]:5062")
	require.NoError(t, err)
	require.Equal(t, "2001:db8::1", u.Hostname())
	require.Equal(t, "[2001:db8::1]:5062", u.HostPort())
	require.True(t, u.IsSIP())
}

func TestParams(t *testing.T) {
	p := sip.Params(";tag=abc ; LR;expires = 60;q=\"0.5;x\"")
	v, ok := p.Get("tag")
	require.True(t, ok)
	require.Equal(t, "abc", v)
	v, ok = p.Get("lr")
	require.True(t, ok)
	require.Empty(t, v)
	require.Equal(t, "60", p.Value("EXPIRES"))
	require.Equal(t, "\"0.5;x\"", p.Value("q"))
	require.False(t, p.Has("maddr"))
	require.Equal(t, 4, p.Len())

	p = p.Set("tag", "xyz").Set("maddr", "10.0.0.1").Del("lr")
	require.Equal(t, sip.Params(";tag=xyz;expires=60;q=\"0.5;x\";maddr=10.0.0.1"), p)
	require.Equal(t, sip.Params(";lr"), sip.Params("").Set("lr", ""))
	require.Equal(t, sip.Params(";a=1"), sip.Params(";a=1").Del("b"))
}

func TestParamsGetPaths(t *testing.T) {
	// The fast path (no quotes) and the full scan agree.
	tests := []struct {
		p     sip.Params
		name  string
		value string
		found bool
	}{
		{";branch=z9hG4bK1;rport", "branch", "z9hG4bK1", true},
		{";branch=z9hG4bK1;rport", "rport", "", true},
		{";branch=z9hG4bK1;rport", "rpor", "", false},
		{";rportx=1;rport=5", "rport", "5", true},
		{"; tag = abc ;x", "tag", "abc", true},
		{";TAG=abc", "tag", "abc", true},
		{";x=\"a;tag=b\";tag=c", "tag", "c", true},
		{";x=\"a;tag=b\"", "tag", "", false},
		{"", "tag", "", false},
		{";a;b;c", "c", "", true},
		{"x;tag=a", "tag", "a", true},
		{";tag=c;x=\"a;b\"", "tag", "c", true},     // a quote after the answer
		{";tag=\"a;b\";x", "tag", "\"a;b\"", true}, // the answer is quoted
		{";x=\"q\";tag=1", "tag", "1", true},
	}
	for _, tc := range tests {
		v, ok := tc.p.Get(tc.name)
		require.Equal(t, tc.found, ok, "%q %q", tc.p, tc.name)
		require.Equal(t, tc.value, v, "%q %q", tc.p, tc.name)
		slow, slowOK := slowGet(tc.p, tc.name)
		require.Equal(t, slowOK, ok)
		require.Equal(t, slow, v)
	}
}

// slowGet looks a parameter up parameter by parameter, as Get does when
// its fast path gives up.
func slowGet(p sip.Params, name string) (value string, found bool) {
	p.Each(func(n, v string) bool {
		if strings.EqualFold(n, name) {
			value, found = v, true
			return false
		}
		return true
	})
	return value, found
}
