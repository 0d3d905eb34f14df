package ua

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
)

// TestSessionExpiresWire: the kept wire forms read as the values do, past
// the number kept too, and a kept one costs no allocation.
func TestSessionExpiresWire(t *testing.T) {
	u := &UA{}
	for round := range 3 {
		for i := range 2 * seWireKept {
			se := dialog.SessionExpires{Interval: time.Duration(90+i) * time.Second}
			if i%2 == 1 {
				se.Refresher = dialog.RefresherUAC
			}
			require.Equal(t, se.String(), u.seWire(se), "round %d, value %d", round, i)
		}
	}
	se := dialog.SessionExpires{Interval: 1800 * time.Second, Refresher: dialog.RefresherUAS}
	require.Equal(t, "1800;refresher=uas", u.seWire(se))
	require.Zero(t, testing.AllocsPerRun(20, func() { _ = u.seWire(se) }))
}
