package digest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServerTrackedNonceBound checks that replay tracking stays within
// MaxTrackedNonces, that expired nonces go first, and that a nonce dropped
// while still valid cannot be replayed.
func TestServerTrackedNonceBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxTracked = 4
		srv, err := NewServer(ServerConfig{Realm: "r", MaxTrackedNonces: maxTracked, NonceLifetime: 30 * time.Second})
		require.NoError(t, err)
		creds := Credentials{Username: "u", Password: "p"}
		lookup := func(string, string) (Credentials, bool) { return creds, true }
		use := func(ch Challenge, nc uint32) error {
			a, err := Authorize(ch, creds, "OPTIONS", "sip:r", nil, nc, "c")
			require.NoError(t, err)
			_, err = srv.Verify(a.String(), "OPTIONS", nil, lookup)
			return err
		}
		fresh := func() Challenge {
			v, err := srv.Challenges(false)
			require.NoError(t, err)
			ch, err := ParseChallenge(v[0])
			require.NoError(t, err)
			return ch
		}

		// Issue one nonce now, to be used later, after others were dropped.
		early := fresh()
		time.Sleep(time.Second)

		var chs []Challenge
		for range maxTracked {
			ch := fresh()
			require.NoError(t, use(ch, 1))
			chs = append(chs, ch)
			time.Sleep(time.Second)
		}
		require.Equal(t, maxTracked, srv.tracked())

		// One more: the oldest tracked nonce is dropped while still valid.
		extra := fresh()
		require.NoError(t, use(extra, 1))
		require.Equal(t, maxTracked, srv.tracked())
		require.ErrorIs(t, use(chs[0], 2), ErrStale, "dropped nonce: its count is unknown")
		require.ErrorIs(t, use(chs[0], 1), ErrStale, "and a replay of it is not accepted")
		require.ErrorIs(t, use(early, 1), ErrStale, "issued before a dropped nonce")
		require.NoError(t, use(chs[1], 2), "still tracked")
		require.ErrorIs(t, use(chs[1], 2), ErrReplay)

		// After the lifetime all are expired; new ones replace them.
		time.Sleep(31 * time.Second)
		for range 2 * maxTracked {
			require.NoError(t, use(fresh(), 1))
		}
		require.Equal(t, maxTracked, srv.tracked())
		require.LessOrEqual(t, len(srv.order)-srv.head, maxTracked)
	})
}
