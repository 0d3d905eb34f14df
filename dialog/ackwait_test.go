package dialog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
)

// TestAckWaitSchedule: without an ACK, the 2xx goes again at T1, 2·T1,
// 4·T1… capped at T2, and the wait gives up 64·T1 after the first send
// (RFC 3261 §13.3.1.4), with the defaults (T1 500 ms, T2 4 s) and with a
// short T1.
func TestAckWaitSchedule(t *testing.T) {
	tests := []struct {
		name   string
		t1, t2 time.Duration
		want   []time.Duration // retransmission instants, from the first send
	}{
		{"defaults", 500 * time.Millisecond, 4 * time.Second,
			[]time.Duration{500e6, 1500e6, 3500e6, 7500e6, 11500e6, 15500e6, 19500e6, 23500e6, 27500e6, 31500e6}},
		{"T1 100ms", 100 * time.Millisecond, 4 * time.Second,
			[]time.Duration{100e6, 300e6, 700e6, 1500e6, 3100e6, 6300e6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			a := dialog.NewAckWait(t0, 7, tt.t1, tt.t2)
			var got []time.Duration
			for {
				next, ok := a.Next()
				require.True(t, ok)
				switch a.Step(next) {
				case dialog.AckWaitRetransmit:
					got = append(got, next.Sub(t0))
					continue
				case dialog.AckWaitGiveUp:
					require.Equal(t, 64*tt.t1, next.Sub(t0), "gives up at 64·T1")
				default:
					t.Fatalf("nothing due at its own deadline %v", next.Sub(t0))
				}
				break
			}
			require.Equal(t, tt.want, got)
			_, ok := a.Next()
			require.False(t, ok, "over after giving up")
			require.Equal(t, dialog.AckWaitNone, a.Step(t0.Add(time.Hour)))
			require.False(t, a.Ack(7), "an ACK after giving up ends nothing")
		})
	}
}

// TestAckWaitAck: the ACK of the INVITE ends the wait; an ACK of another
// CSeq does not, nor does a step before the next retransmission.
func TestAckWaitAck(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := dialog.NewAckWait(t0, 3, 500*time.Millisecond, 4*time.Second)
	require.Equal(t, uint32(3), a.Seq())
	require.Equal(t, dialog.AckWaitNone, a.Step(t0.Add(499*time.Millisecond)), "not due yet")
	require.False(t, a.Ack(2), "another INVITE's ACK")
	require.Equal(t, dialog.AckWaitRetransmit, a.Step(t0.Add(500*time.Millisecond)))
	require.True(t, a.Ack(3))
	_, ok := a.Next()
	require.False(t, ok)
	require.Equal(t, dialog.AckWaitNone, a.Step(t0.Add(time.Minute)), "nothing after the ACK")
	require.False(t, a.Ack(3), "a second ACK ends nothing more")
}

// TestAckWaitLateStep: a step that comes late (a busy timer) retransmits
// once and schedules from the time it ran, never past the deadline.
func TestAckWaitLateStep(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := dialog.NewAckWait(t0, 1, 500*time.Millisecond, 4*time.Second)
	require.Equal(t, dialog.AckWaitRetransmit, a.Step(t0.Add(31*time.Second)))
	next, ok := a.Next()
	require.True(t, ok)
	require.Equal(t, t0.Add(32*time.Second), next, "capped at the deadline")
	require.Equal(t, dialog.AckWaitGiveUp, a.Step(next))
}
