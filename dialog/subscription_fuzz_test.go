package dialog_test

import (
	"testing"

	"github.com/dialtone/dialtone/dialog"
)

// Header values from the network never panic their parsers, and what
// parses writes back to the same value.
func FuzzParseSubscriptionState(f *testing.F) {
	for _, s := range []string{"active;expires=60", "terminated;reason=probation;retry-after=5", ";", "pending;expires"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := dialog.ParseSubscriptionState(s)
		if err != nil {
			return
		}
		again, err := dialog.ParseSubscriptionState(st.String())
		if err != nil || again.State != st.State {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzParseSessionExpires(f *testing.F) {
	for _, s := range []string{"1800", "90;refresher=uac", "x;refresher", "4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		se, err := dialog.ParseSessionExpires(s)
		if err != nil {
			return
		}
		again, err := dialog.ParseSessionExpires(se.String())
		if err != nil || again != se {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
