package rtp

import (
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// sendPtime returns the packetization time to send with: the peer's
// a=ptime, 20 ms when it sent none, at most its a=maxptime, within
// [SessionMinPtime, SessionMaxPtime] and on a whole number of
// milliseconds.
func sendPtime(remotePtime, remoteMaxPtime int) time.Duration {
	ptime := audio.FrameDuration
	if remotePtime > 0 {
		ptime = time.Duration(remotePtime) * time.Millisecond
	}
	if remoteMaxPtime > 0 {
		ptime = min(ptime, time.Duration(remoteMaxPtime)*time.Millisecond)
	}
	return min(max(ptime, SessionMinPtime), SessionMaxPtime)
}
