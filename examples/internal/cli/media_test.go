package cli

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

func TestMediaFlags(t *testing.T) {
	tests := []struct {
		args   []string
		codecs []string
		policy srtp.Policy
		bad    bool
		noSym  bool
		rtpTO  time.Duration
	}{
		{nil, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyDefault, false, false, 0},
		{[]string{"-codecs", "g722,PCMA", "-srtp", "optional"}, []string{"G722", "PCMA", "telephone-event"}, srtp.PolicyOptional, false, false, 0},
		{[]string{"-srtp", "mandatory"}, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyMandatory, false, false, 0},
		{[]string{"-srtp", "off"}, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyOff, false, false, 0},
		{[]string{"-srtp", "dtls"}, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyDTLS, false, false, 0},
		{[]string{"-srtp", "maybe"}, nil, 0, true, false, 0},
		{[]string{"-codecs", "g729"}, nil, 0, true, false, 0},
		{[]string{"-codecs", "opus,g722"}, []string{"opus", "G722", "telephone-event"}, srtp.PolicyDefault, !opus.Available, false, 0},
		{[]string{"-codecs", "pcmu,pcmu"}, nil, 0, true, false, 0},
		{[]string{"-codecs", ""}, nil, 0, true, false, 0},
		{[]string{"-no-symmetric"}, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyDefault, false, true, 0},
		{[]string{"-rtp-timeout", "20s"}, []string{"PCMU", "PCMA", "telephone-event"}, srtp.PolicyDefault, false, false, 20 * time.Second},
		{[]string{"-rtp-timeout", "-1s"}, nil, 0, true, false, 0},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		m := AddMediaFlags(fs)
		require.NoError(t, fs.Parse(tt.args))
		var mc ua.MediaConfig
		err := m.Apply(&mc)
		if tt.bad {
			require.Error(t, err, "%v", tt.args)
			continue
		}
		require.NoError(t, err, "%v", tt.args)
		var names []string
		for _, c := range mc.Codecs {
			names = append(names, c.Name)
		}
		assert.Equal(t, tt.codecs, names, "%v", tt.args)
		assert.Equal(t, tt.policy, mc.SRTP, "%v", tt.args)
		assert.Equal(t, tt.noSym, mc.DisableSymmetric, "%v", tt.args)
		assert.Equal(t, tt.rtpTO, mc.RTPTimeout, "%v", tt.args)
		assert.Equal(t, audio.TelephoneEvent(), mc.Codecs[len(mc.Codecs)-1])
	}
}
