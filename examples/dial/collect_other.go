//go:build !unix

package main

import "os"

// notifyCollect returns a channel that never receives: systems other than
// Unix have no SIGUSR1, so -stats only writes its line once a second.
func notifyCollect() (<-chan os.Signal, func()) {
	return nil, func() {}
}
