package ua_test

import (
	"testing"

	"github.com/dialtone/dialtone/ua"
)

// Bodies from the network never panic their parsers, and what parses
// writes back to the same value.
func FuzzParseMessageSummary(f *testing.F) {
	for _, s := range []string{
		"Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n",
		"messages-waiting:no\n\nTo: x\n", "Voice-Message: 1/", ":", "Messages-Waiting: yes\r\nFax-Message: 1/2 (3/",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ua.ParseMessageSummary(b)
		if err != nil {
			return
		}
		again, err := ua.ParseMessageSummary(m.Marshal())
		if err != nil || again.Waiting != m.Waiting || len(again.Classes) != len(m.Classes) {
			t.Fatalf("round trip of %q: %+v, %v", b, again, err)
		}
	})
}

func FuzzParseDialogInfo(f *testing.F) {
	for _, s := range []string{
		`<dialog-info version="1" state="full" entity="sip:a@b"><dialog id="x"><state>early</state></dialog></dialog-info>`,
		`<dialog-info state="partial">`, `<x/>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ua.ParseDialogInfo(b)
		if err == nil && len(d.Dialogs) > ua.MaxDialogInfoDialogs {
			t.Fatalf("%d dialogs kept", len(d.Dialogs))
		}
	})
}
