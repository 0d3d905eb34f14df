package dialog

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

func TestPackDialog(t *testing.T) {
	tests := []struct {
		name                string
		local, remote       string
		localTag, remoteTag string
		contact             string
		wantLocal, wantRem  string
	}{
		{"tags set", "<sip:a@h>;tag=1", "<sip:b@h>", "1", "2", "<sip:a@10.0.0.1>", "<sip:a@h>;tag=1", "<sip:b@h>;tag=2"},
		{"RFC 2543 peer without tag", `"B" <sip:b@h>;x=y`, "<sip:a@h>;tag=9", "", "9", "", `"B" <sip:b@h>;x=y`, "<sip:a@h>;tag=9"},
		{"tag replaced in place", "<sip:a@h>;tag=old;x=1", "<sip:b@h>", "new", "r", "*", "<sip:a@h>;tag=new;x=1", "<sip:b@h>;tag=r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, err := sip.ParseAddress(tt.local)
			require.NoError(t, err)
			remote, err := sip.ParseAddress(tt.remote)
			require.NoError(t, err)
			m := sip.NewRequest(sip.INVITE, sip.URI{Scheme: "sip", Host: "example.com"})
			if tt.contact != "" {
				m.Add("Contact", tt.contact)
			}
			target, err := sip.ParseURI("sip:b@192.0.2.7:5070;transport=tcp")
			require.NoError(t, err)
			var d Dialog
			id := ID{CallID: "cid", LocalTag: tt.localTag, RemoteTag: tt.remoteTag}
			packDialog(&d, id, local, remote, m, target)
			require.Equal(t, id, d.id)
			require.Equal(t, tt.wantLocal, d.local)
			require.Equal(t, tt.wantRem, d.remote)
			require.Equal(t, firstContact(m), d.contact, "as firstContact formats it")
			require.Equal(t, target, d.remoteTarget)
			require.Equal(t, 1.0, testing.AllocsPerRun(10, func() { packDialog(&d, id, local, remote, m, target) }), "one allocation")
		})
	}
}
