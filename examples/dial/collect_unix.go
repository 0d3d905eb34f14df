//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyCollect returns a channel that gets SIGUSR1, the -stats request to
// collect garbage and write a line at once, and the function that stops it.
func notifyCollect() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	return ch, func() { signal.Stop(ch) }
}
