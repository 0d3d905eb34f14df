package dialog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

func TestParseSessionExpires(t *testing.T) {
	tests := []struct {
		in      string
		want    dialog.SessionExpires
		wantErr bool
	}{
		{"1800", dialog.SessionExpires{Interval: 1800 * time.Second}, false},
		{"90;refresher=UAC", dialog.SessionExpires{Interval: 90 * time.Second, Refresher: "uac"}, false},
		{" 600 ; refresher = uas ;x=1", dialog.SessionExpires{Interval: 600 * time.Second, Refresher: "uas"}, false},
		{"0", dialog.SessionExpires{}, true},
		{"soon", dialog.SessionExpires{}, true},
		{"600;refresher=me", dialog.SessionExpires{}, true},
		{"", dialog.SessionExpires{}, true},
		{"1800;;refresher=uac;", dialog.SessionExpires{Interval: 1800 * time.Second, Refresher: "uac"}, false},
	}
	for _, tt := range tests {
		got, err := dialog.ParseSessionExpires(tt.in)
		if tt.wantErr {
			require.ErrorIs(t, err, dialog.ErrBadSessionExpires, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		again, err := dialog.ParseSessionExpires(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
	}
	allocs := testing.AllocsPerRun(20, func() { _, _ = dialog.ParseSessionExpires("1800;refresher=uac") })
	require.Zero(t, allocs, "a well-formed value parses without allocating")
}

func sessionInvite(t *testing.T, headers ...string) *sip.Request {
	t.Helper()
	req := newInvite(t, inviteOpts{})
	for i := 0; i+1 < len(headers); i += 2 {
		req.Set(headers[i], headers[i+1])
	}
	return req
}

// The UAS's choices of RFC 4028 §9.
func TestAnswerSession(t *testing.T) {
	const want, minSE = 1800 * time.Second, 90 * time.Second
	tests := []struct {
		name    string
		headers []string
		want    dialog.SessionAnswer
	}{
		{"UAC asks and supports", []string{"Session-Expires", "600", "Supported", "timer"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: 600 * time.Second, Refresher: "uac"}, RequireTimer: true}},
		{"UAC names us", []string{"Session-Expires", "600;refresher=uas", "Supported", "timer"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: 600 * time.Second, Refresher: "uas"}}},
		{"we lower it, not below Min-SE", []string{"Session-Expires", "7200", "Min-SE", "3600", "Supported", "100rel, timer"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: 3600 * time.Second, Refresher: "uac"}, RequireTimer: true}},
		{"we lower it to ours", []string{"Session-Expires", "7200", "Supported", "timer"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: want, Refresher: "uac"}, RequireTimer: true}},
		{"too small", []string{"Session-Expires", "60", "Supported", "timer"},
			dialog.SessionAnswer{TooSmall: true, MinSE: minSE}},
		{"proxy-inserted, UAC without timer", []string{"Session-Expires", "600"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: 600 * time.Second, Refresher: "uas"}}},
		{"nothing asked, UAC supports", []string{"Supported", "timer"},
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: want, Refresher: "uac"}, RequireTimer: true}},
		{"nothing asked nor supported", nil,
			dialog.SessionAnswer{Expires: dialog.SessionExpires{Interval: want, Refresher: "uas"}}},
		{"malformed", []string{"Session-Expires", "x"}, dialog.SessionAnswer{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, dialog.AnswerSession(sessionInvite(t, tt.headers...), want, minSE))
		})
	}
	require.Equal(t, dialog.SessionAnswer{}, dialog.AnswerSession(sessionInvite(t), 0, minSE), "timers off and nothing asked")
	require.Equal(t, 3600*time.Second, dialog.MinSE(sessionInvite(t, "Min-SE", "3600")))
	require.Equal(t, dialog.MinSessionExpires, dialog.MinSE(sessionInvite(t, "Min-SE", "10")))
	require.Equal(t, dialog.MinSessionExpires, dialog.MinSE(sessionInvite(t)))
}
