package sip_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(string) string
		v      sip.Validator
		status int
	}{
		{"valid", func(s string) string { return s }, sip.Validator{}, 0},
		{"missing Call-ID", func(s string) string {
			return strings.Replace(s, "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", "", 1)
		}, sip.Validator{}, 400},
		{"missing Via", func(s string) string {
			return strings.Replace(s, "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n", "", 1)
		}, sip.Validator{}, 400},
		{"two CSeq", func(s string) string {
			return strings.Replace(s, "CSeq: 314159 INVITE\r\n", "CSeq: 314159 INVITE\r\nCSeq: 314160 INVITE\r\n", 1)
		}, sip.Validator{}, 400},
		{"CSeq method mismatch", func(s string) string { return strings.Replace(s, "314159 INVITE", "314159 BYE", 1) }, sip.Validator{}, 400},
		{"version", func(s string) string { return strings.Replace(s, " SIP/2.0\r\n", " SIP/3.0\r\n", 1) }, sip.Validator{}, 505},
		{"scheme", func(s string) string {
			return strings.Replace(s, "INVITE sip:bob@biloxi.example.com", "INVITE im:bob@biloxi.example.com", 1)
		}, sip.Validator{}, 416},
		{"scheme allowed", func(s string) string {
			return strings.Replace(s, "INVITE sip:bob@biloxi.example.com", "INVITE im:bob@biloxi.example.com", 1)
		}, sip.Validator{Schemes: []string{"im"}}, 0},
		{"method", func(s string) string { return strings.ReplaceAll(s, "INVITE", "FOO") }, sip.Validator{}, 501},
		{"require", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRequire: 100rel, foo\r\n", 1)
		}, sip.Validator{Supported: []string{"100rel"}}, 420},
		{"require supported", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRequire: 100rel\r\n", 1)
		}, sip.Validator{Supported: []string{"100rel"}}, 0},
		{"body type", func(s string) string { return strings.Replace(s, "application/sdp", "application/x-foo", 1) }, sip.Validator{}, 415},
		{"accept", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nAccept: text/html\r\n", 1)
		}, sip.Validator{}, 406},
		{"accept wildcard", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nAccept: application/*\r\n", 1)
		}, sip.Validator{}, 0},
		{"proxy max-forwards", func(s string) string { return strings.Replace(s, "Max-Forwards: 70", "Max-Forwards: 0", 1) }, sip.Validator{Proxy: true}, 483},
		{"uas max-forwards", func(s string) string { return strings.Replace(s, "Max-Forwards: 70", "Max-Forwards: 0", 1) }, sip.Validator{}, 0},
		{"proxy-require", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nProxy-Require: sec-agree\r\n", 1)
		}, sip.Validator{Proxy: true}, 420},
		{"uri headers", func(s string) string {
			return strings.Replace(s, "INVITE sip:bob@biloxi.example.com", "INVITE sip:bob@biloxi.example.com?Route=x", 1)
		}, sip.Validator{}, 400},
		{"bad route", func(s string) string {
			return strings.Replace(s, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRoute: <sip:;;>\r\n", 1)
		}, sip.Validator{}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseRequest(t, tc.edit(basicInvite))
			err := tc.v.Validate(req)
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			var ve *sip.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tc.status, ve.StatusCode, ve.Error())
			require.ErrorIs(t, err, sip.ErrInvalidRequest)
			switch tc.status {
			case 420:
				want := []string{"foo"}
				if tc.v.Proxy {
					want = []string{"sec-agree"}
				}
				require.Equal(t, want, ve.Unsupported)
			case 415:
				require.Equal(t, sip.DefaultAccept(), ve.Accept)
			}
		})
	}
}
