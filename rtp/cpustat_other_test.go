//go:build !linux

package rtp_test

// pinnedCPUTicks reports nothing outside Linux.
func pinnedCPUTicks() (busy, total uint64) { return 0, 0 }
