package dialog

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/dialtone/dialtone/sip"
)

// storeShards is the number of independently locked parts of a Store.
const storeShards = 64

// Store holds dialogs by ID for a user agent: incoming requests and
// responses find their dialog through it (RFC 3261 §12.2.2: a request
// whose dialog is unknown gets 481). It is safe for concurrent use; the
// dialogs it holds are not (each has one owner that serializes access).
//
// The store is split into shards by a hash of the Call-ID, each with its
// own lock, so lookups of different calls rarely contend. It holds one map
// entry (the ID and a pointer) per dialog and starts no goroutine. The
// zero value is an empty store ready to use; do not copy a Store.
type Store struct {
	n      atomic.Int64
	shards [storeShards]storeShard
}

type storeShard struct {
	mu sync.RWMutex
	m  map[ID]*Dialog
	// pad keeps shards on separate 64-byte cache lines.
	_ [64 - (unsafe.Sizeof(sync.RWMutex{})+unsafe.Sizeof(map[ID]*Dialog(nil)))%64]byte
}

// shard returns the shard of a Call-ID (FNV-1a). Go maps are seeded, so a
// chosen Call-ID can only crowd a shard's lock, not slow its map.
func (s *Store) shard(callID string) *storeShard {
	h := uint32(2166136261)
	for i := 0; i < len(callID); i++ {
		h ^= uint32(callID[i])
		h *= 16777619
	}
	return &s.shards[h%storeShards]
}

// Add stores d under its ID, or returns ErrExists when that ID is taken.
func (s *Store) Add(d *Dialog) error {
	id := d.ID()
	sh := s.shard(id.CallID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[id]; ok {
		return ErrExists
	}
	if sh.m == nil {
		sh.m = make(map[ID]*Dialog)
	}
	sh.m[id] = d
	s.n.Add(1)
	return nil
}

// Get returns the dialog with the given ID.
func (s *Store) Get(id ID) (*Dialog, bool) {
	sh := s.shard(id.CallID)
	sh.mu.RLock()
	d, ok := sh.m[id]
	sh.mu.RUnlock()
	return d, ok
}

// Remove deletes the dialog with the given ID and reports whether it was
// there.
func (s *Store) Remove(id ID) bool {
	sh := s.shard(id.CallID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[id]; !ok {
		return false
	}
	delete(sh.m, id)
	s.n.Add(-1)
	return true
}

// Len returns the number of dialogs stored.
func (s *Store) Len() int { return int(s.n.Load()) }

// Range calls f for each stored dialog until f returns false (for example
// to end every call on Close). f runs without any lock held, on a snapshot
// of one shard at a time, so it may call Add and Remove.
func (s *Store) Range(f func(*Dialog) bool) {
	var buf []*Dialog
	for i := range s.shards {
		sh := &s.shards[i]
		buf = buf[:0]
		sh.mu.RLock()
		for _, d := range sh.m {
			buf = append(buf, d)
		}
		sh.mu.RUnlock()
		for _, d := range buf {
			if !f(d) {
				return
			}
		}
	}
}

// MatchRequest finds the dialog of an incoming request by Call-ID, To tag
// (the local tag) and From tag (the remote tag). A request with no To tag
// is not in a dialog. Without a match it returns a *RejectError with 481
// wrapping ErrNoDialog (RFC 3261 §12.2.2).
func (s *Store) MatchRequest(req *sip.Request) (*Dialog, error) {
	id := RequestID(req)
	if id.LocalTag != "" {
		if d, ok := s.Get(id); ok {
			return d, nil
		}
	}
	return nil, rejectErr(sip.StatusCallTransactionDoesNotExist, ErrNoDialog)
}

// MatchResponse finds the dialog of an incoming response by Call-ID, From
// tag (the local tag) and To tag (the remote tag). It returns ErrNoDialog
// when there is none; a response to a forked INVITE with a new tag goes to
// the INVITE's ForkSet instead.
func (s *Store) MatchResponse(res *sip.Response) (*Dialog, error) {
	if d, ok := s.Get(ResponseID(res)); ok {
		return d, nil
	}
	return nil, ErrNoDialog
}
