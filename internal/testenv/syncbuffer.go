package testenv

import (
	"strings"
	"sync"
)

// SyncBuffer is an io.Writer that several goroutines may write while a
// test reads what it holds: a log or trace sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// HasLine reports whether one line written so far holds all of parts.
func (s *SyncBuffer) HasLine(parts ...string) bool {
	for l := range strings.SplitSeq(s.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}
