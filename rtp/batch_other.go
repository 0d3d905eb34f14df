//go:build !linux || !(amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) || rtp_netpoll

package rtp

import "time"

// sendBatch exists only with the Linux raw sockets; here every session
// reads its own sockets and sends its own packets.
type sendBatch struct{}

func newSendBatch() *sendBatch         { return nil }
func (b *sendBatch) add(*Session) bool { return false }
func (b *sendBatch) flush()            {}
func (b *sendBatch) close()            {}

func (b *sendBatch) receive([]engineJob, *recvScratch, time.Time) bool { return false }
