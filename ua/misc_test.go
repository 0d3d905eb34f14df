package ua_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/ua"
)

// Without a media session SendDTMF sends each digit in a SIP INFO
// application/dtmf-relay; the peer reports them as EventDTMF.
func TestDTMFInfoWithoutMedia(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		var mu sync.Mutex
		var got []ua.Event
		_, _, out, _, _, _ := established(t, n, ua.Config{}, ua.Config{OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventDTMF {
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
		}})
		require.Nil(t, out.Media())
		require.ErrorIs(t, out.SendDTMF(t.Context(), "1x"), dtmf.ErrDigit, "checked before anything is sent")
		require.NoError(t, out.SendDTMF(t.Context(), "5#"))
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 2, "nothing of the refused string, each digit once")
		for i, d := range []rune{'5', '#'} {
			require.Equal(t, d, got[i].Digit)
			require.True(t, got[i].DTMFInfo)
			require.Equal(t, ua.DefaultDTMFInfoDuration, got[i].DigitDuration)
			require.Equal(t, fmt.Sprintf("dtmf call=%s digit=%c via=info duration=160ms", out.CallID(), d), got[i].String())
		}
		require.NoError(t, out.Hangup(t.Context()))
	})
}

// A line may hold the HA1 of its password instead of the password (RFC
// 3261 §22.4: H(username:realm:password)).
func TestRegisterWithHA1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 300, 0)
		sum := md5.Sum([]byte("alice:example.test:secret"))
		lc := lineCfg("", time.Hour)
		lc.HA1 = map[digest.Algorithm]string{digest.MD5: hex.EncodeToString(sum[:])}
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lc}})
		require.NoError(t, u.Lines()[0].Register(t.Context()))
		require.Len(t, reg.authed(), 1)
	})
}

// Register on a registered line registers now and restarts the refresh
// schedule from there.
func TestRegisterAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		reg := newRegistrar(t, n, "192.0.2.9:5060", "secret", 100, 0)
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		line := u.Lines()[0]
		require.NoError(t, line.Register(t.Context()))
		time.Sleep(30 * time.Second)
		t1 := time.Now()
		require.NoError(t, line.Register(t.Context()))
		time.Sleep(70 * time.Second) // past 50 s after the first: no refresh; 50 s after the second: one
		synctest.Wait()
		a := reg.authed()
		require.Len(t, a, 3)
		require.Equal(t, time.Duration(0), a[1].at.Sub(t1).Round(time.Second), "registered at once")
		require.Equal(t, 50*time.Second, a[2].at.Sub(t1).Round(time.Second), "refresh at half, from the second")
		requireOneRegistration(t, reg.seen())
	})
}
