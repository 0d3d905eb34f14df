package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The mailbox store: one directory per mailbox, one WAV file per message
// and beside it a sidecar JSON with the caller, the time and whether the
// message is new.

// Store errors.
var (
	// ErrNoMailbox: the mailbox is not configured.
	ErrNoMailbox = errors.New("voicemail: no such mailbox")
	// ErrNoMessage: the message is not (or no longer) in the mailbox.
	ErrNoMessage = errors.New("voicemail: no such message")
	// ErrMailboxFull: the mailbox holds MaxMessages already.
	ErrMailboxFull = errors.New("voicemail: mailbox full")
)

// DefaultMaxMessages is how many messages a mailbox keeps when
// StoreConfig.MaxMessages is zero; a deposit beyond it is refused.
const DefaultMaxMessages = 100

// Message is one stored voice message.
type Message struct {
	// ID names the message in its mailbox (and its files: ID.wav,
	// ID.json).
	ID string `json:"id"`
	// Caller is the caller's address (the From of the call).
	Caller string `json:"caller"`
	// Time is when the recording started.
	Time time.Time `json:"time"`
	// Seconds is the recording's length.
	Seconds float64 `json:"seconds"`
	// New is true until the owner saves the message.
	New bool `json:"new"`
}

// Store keeps the mailboxes under a directory. It is safe for concurrent
// use; OnChange is called (outside the lock) with the mailbox after each
// change of its counts.
type Store struct {
	dir      string
	max      int
	onChange func(box string)

	mu    sync.Mutex
	boxes map[string][]Message // by mailbox: oldest first
	seq   int
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Dir holds one directory per mailbox.
	Dir string
	// Mailboxes are the mailbox names (their directories are created).
	Mailboxes []string
	// MaxMessages bounds each mailbox (0: DefaultMaxMessages).
	MaxMessages int
	// OnChange, when set, is called after a mailbox's counts change.
	OnChange func(box string)
}

// OpenStore opens (creating the directories of) the mailboxes and reads
// the messages already stored.
func OpenStore(cfg StoreConfig) (*Store, error) {
	s := &Store{dir: cfg.Dir, max: cfg.MaxMessages, onChange: cfg.OnChange, boxes: map[string][]Message{}}
	if s.max <= 0 {
		s.max = DefaultMaxMessages
	}
	for _, box := range cfg.Mailboxes {
		d := filepath.Join(cfg.Dir, box)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		names, err := filepath.Glob(filepath.Join(d, "*.json"))
		if err != nil {
			return nil, err
		}
		msgs := []Message{}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, err
			}
			var m Message
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			if m.ID+".json" != filepath.Base(n) {
				return nil, fmt.Errorf("%s: id %q does not match the file name", n, m.ID)
			}
			msgs = append(msgs, m)
		}
		slices.SortFunc(msgs, func(a, b Message) int { return a.Time.Compare(b.Time) })
		s.boxes[box] = msgs
	}
	return s, nil
}

// Has reports whether box is a mailbox.
func (s *Store) Has(box string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.boxes[box]
	return ok
}

// Path is the WAV file of message id of box.
func (s *Store) Path(box, id string) string { return filepath.Join(s.dir, box, id+".wav") }

// Reserve returns a new message's ID and the path to record it to, or
// ErrNoMailbox or ErrMailboxFull. Nothing is listed until Commit.
func (s *Store) Reserve(box string, at time.Time) (id, path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs, ok := s.boxes[box]
	if !ok {
		return "", "", ErrNoMailbox
	}
	if len(msgs) >= s.max {
		return "", "", ErrMailboxFull
	}
	s.seq++
	id = fmt.Sprintf("%s-%04d", at.UTC().Format("20060102T150405.000Z"), s.seq%10000)
	id = strings.ReplaceAll(id, ".", "")
	return id, s.Path(box, id), nil
}

// Commit lists a recorded message as new, writing its sidecar.
func (s *Store) Commit(box string, m Message) error {
	m.New = true
	if !s.Has(box) {
		return ErrNoMailbox
	}
	if err := s.writeSidecar(box, m); err != nil {
		return err
	}
	s.mu.Lock()
	s.boxes[box] = append(s.boxes[box], m)
	s.mu.Unlock()
	s.changed(box)
	return nil
}

// Discard removes the file of a reserved message that is not kept.
func (s *Store) Discard(box, id string) { _ = os.Remove(s.Path(box, id)) }

// Messages returns the new messages, then the saved ones, each oldest
// first.
func (s *Store) Messages(box string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, isNew := range []bool{true, false} {
		for _, m := range s.boxes[box] {
			if m.New == isNew {
				out = append(out, m)
			}
		}
	}
	return out
}

// Counts returns how many messages are new and saved.
func (s *Store) Counts(box string) (newMsgs, saved int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.boxes[box] {
		if m.New {
			newMsgs++
		} else {
			saved++
		}
	}
	return newMsgs, saved
}

// Save marks a message heard and kept.
func (s *Store) Save(box, id string) error {
	s.mu.Lock()
	i := s.indexLocked(box, id)
	if i < 0 {
		s.mu.Unlock()
		return ErrNoMessage
	}
	m := s.boxes[box][i]
	if !m.New {
		s.mu.Unlock()
		return nil
	}
	m.New = false
	s.boxes[box][i] = m
	s.mu.Unlock()
	if err := s.writeSidecar(box, m); err != nil {
		return err
	}
	s.changed(box)
	return nil
}

// Delete removes a message and its files.
func (s *Store) Delete(box, id string) error {
	s.mu.Lock()
	i := s.indexLocked(box, id)
	if i < 0 {
		s.mu.Unlock()
		return ErrNoMessage
	}
	s.boxes[box] = slices.Delete(s.boxes[box], i, i+1)
	s.mu.Unlock()
	err := errors.Join(os.Remove(s.Path(box, id)), os.Remove(filepath.Join(s.dir, box, id+".json")))
	s.changed(box)
	return err
}

func (s *Store) indexLocked(box, id string) int {
	return slices.IndexFunc(s.boxes[box], func(m Message) bool { return m.ID == id })
}

// writeSidecar writes ID.json through a temporary file and a rename.
func (s *Store) writeSidecar(box string, m Message) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	name := filepath.Join(s.dir, box, m.ID+".json")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func (s *Store) changed(box string) {
	if s.onChange != nil {
		s.onChange(box)
	}
}
