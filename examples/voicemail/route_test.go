package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestRoute(t *testing.T) {
	boxes := map[string]bool{"alice": true, "bob": true, "200": true}
	has := func(u string) bool { return boxes[u] }
	tests := []struct {
		name    string
		ruri    string
		from    string
		headers [][2]string
		want    Route
		ok      bool
	}{
		{"mailbox user", "sip:alice@vm.example", "sip:carol@x", nil, Route{Box: "alice", Via: "request-uri"}, true},
		{"unknown user", "sip:zed@vm.example", "sip:carol@x", nil, Route{}, false},
		{"call-in from the owner", "sip:voicemail@vm.example", "sip:bob@x", nil, Route{Box: "bob", Retrieve: true, Via: "from"}, true},
		{"call-in from elsewhere", "sip:voicemail@vm.example", "sip:carol@x", nil, Route{Retrieve: true}, true},
		{"diversion, most recent first", "sip:vm@vm.example", "sip:carol@x",
			[][2]string{{"Diversion", `<sip:bob@pbx>;reason=no-answer;counter=1, "Alice, A." <sip:alice@pbx>;reason=busy`}},
			Route{Box: "bob", Via: "diversion"}, true},
		{"diversion skips non-mailboxes", "sip:vm@vm.example", "sip:carol@x",
			[][2]string{{"Diversion", `<sip:zed@pbx>;reason=no-answer`}, {"Diversion", `<sip:alice@pbx>;reason=unconditional`}},
			Route{Box: "alice", Via: "diversion"}, true},
		{"history-info: the last mailbox target", "sip:vm@vm.example", "sip:carol@x",
			[][2]string{{"History-Info", `<sip:alice@pbx>;index=1, <sip:200@pbx?Reason=SIP%3Bcause%3D486>;index=1.1;rc=1, <sip:vm@vm.example>;index=1.1.1;mp=1.1`}},
			Route{Box: "200", Via: "history-info"}, true},
		{"escaped user", "sip:%61lice@vm.example", "sip:carol@x", nil, Route{Box: "alice", Via: "request-uri"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, err := sip.ParseURI(tt.ruri)
			require.NoError(t, err)
			from, err := sip.ParseURI(tt.from)
			require.NoError(t, err)
			to, err := sip.ParseURI("sip:x@y")
			require.NoError(t, err)
			req := sip.NewRequest(sip.INVITE, uri)
			req.Add("From", "<"+from.String()+">;tag=1")
			req.Add("To", "<"+to.String()+">")
			for _, h := range tt.headers {
				req.Add(h[0], h[1])
			}
			got, ok := route(req, "voicemail", has)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSplitEntriesBounded(t *testing.T) {
	v := ""
	for range MaxForwardEntries + 5 {
		v += "<sip:a@b>,"
	}
	require.Len(t, splitEntries([]string{v}), MaxForwardEntries)
	require.Equal(t, []string{`"a, b" <sip:x@y;p=1>`, `<sip:z@w>`}, splitEntries([]string{`"a, b" <sip:x@y;p=1> , <sip:z@w>`}))
}
