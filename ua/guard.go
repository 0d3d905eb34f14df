package ua

import (
	"fmt"
	"runtime/debug"
)

// guard runs a host callback (OnCall, OnReinvite, OnMessage, OnInfo,
// OnEvent) and recovers a panic in it: the panic is logged with its stack
// at error level and guard reports false, so the caller answers the
// request 500 and the UA keeps serving. A panic in the host's code must not
// take down every other call of the process.
func (u *UA) guard(callback string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			u.log.Error("ua: host callback panicked; request answered 500",
				"callback", callback, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	f()
	return true
}
