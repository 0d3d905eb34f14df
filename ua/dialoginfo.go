package ua

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// The dialog event package, RFC 4235, as a subscriber: busy-lamp fields.

// Dialog event package names and bounds.
const (
	// DialogEvent is the event package of RFC 4235.
	DialogEvent = "dialog"
	// DialogInfoType is the body type of its NOTIFYs.
	DialogInfoType = "application/dialog-info+xml"
	// MaxDialogInfoDialogs bounds the dialogs a watch keeps of one
	// notifier; a document with more is refused.
	MaxDialogInfoDialogs = 256
)

// ErrBadDialogInfo is wrapped by the errors of ParseDialogInfo.
var ErrBadDialogInfo = errors.New("ua: malformed dialog-info document")

// DialogInfo is a dialog-info document (RFC 4235 §4).
type DialogInfo struct {
	// Version orders the documents of one subscription.
	Version uint64
	// Full is true for state="full" (the whole set of dialogs), false
	// for "partial" (changes).
	Full bool
	// Entity is the URI whose dialogs these are.
	Entity string
	// Dialogs are the dialogs of the entity.
	Dialogs []DialogState
}

// DialogState is one dialog of a dialog-info document.
type DialogState struct {
	ID        string
	CallID    string
	LocalTag  string
	RemoteTag string
	// Direction is "initiator" or "recipient" ("" when absent).
	Direction string
	// State is trying, proceeding, early, confirmed or terminated.
	State string
	// Event and Code qualify the state (a terminated dialog's cause).
	Event string
	Code  int
	// Local and Remote are the parties' identities, as given.
	Local, Remote string
}

// Busy reports a dialog in progress: the entity is on the phone or
// ringing (any dialog not terminated), what a busy lamp shows.
func (d DialogInfo) Busy() bool {
	for _, x := range d.Dialogs {
		if x.State != "terminated" {
			return true
		}
	}
	return false
}

type xmlDialogInfo struct {
	XMLName xml.Name    `xml:"dialog-info"`
	Version uint64      `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []xmlDialog `xml:"dialog"`
}

type xmlDialog struct {
	ID        string   `xml:"id,attr"`
	CallID    string   `xml:"call-id,attr"`
	LocalTag  string   `xml:"local-tag,attr"`
	RemoteTag string   `xml:"remote-tag,attr"`
	Direction string   `xml:"direction,attr"`
	State     xmlState `xml:"state"`
	Local     xmlParty `xml:"local"`
	Remote    xmlParty `xml:"remote"`
}

type xmlState struct {
	Value string `xml:",chardata"`
	Event string `xml:"event,attr"`
	Code  int    `xml:"code,attr"`
}

type xmlParty struct {
	Identity string `xml:"identity"`
}

// ParseDialogInfo parses an application/dialog-info+xml body. It needs
// the version and state attributes and, for each dialog, an id and a
// state; it refuses more than MaxDialogInfoDialogs dialogs.
func ParseDialogInfo(b []byte) (DialogInfo, error) {
	var x xmlDialogInfo
	if err := xml.Unmarshal(b, &x); err != nil {
		return DialogInfo{}, fmt.Errorf("%w: %w", ErrBadDialogInfo, err)
	}
	d := DialogInfo{Version: x.Version, Entity: x.Entity}
	switch x.State {
	case "full":
		d.Full = true
	case "partial":
	default:
		return DialogInfo{}, fmt.Errorf("%w: state %q", ErrBadDialogInfo, x.State)
	}
	if len(x.Dialogs) > MaxDialogInfoDialogs {
		return DialogInfo{}, fmt.Errorf("%w: %d dialogs", ErrBadDialogInfo, len(x.Dialogs))
	}
	for _, xd := range x.Dialogs {
		st := strings.ToLower(strings.TrimSpace(xd.State.Value))
		if xd.ID == "" || st == "" {
			return DialogInfo{}, fmt.Errorf("%w: dialog without id or state", ErrBadDialogInfo)
		}
		d.Dialogs = append(d.Dialogs, DialogState{ID: xd.ID, CallID: xd.CallID, LocalTag: xd.LocalTag,
			RemoteTag: xd.RemoteTag, Direction: xd.Direction, State: st, Event: xd.State.Event,
			Code: xd.State.Code, Local: strings.TrimSpace(xd.Local.Identity), Remote: strings.TrimSpace(xd.Remote.Identity)})
	}
	return d, nil
}

// WatchOptions are the settings of WatchDialogs.
type WatchOptions struct {
	// Line subscribes (see SubscribeOptions.Line).
	Line *Line
	// OnDialogInfo gets the entity's dialogs after each NOTIFY: the whole
	// current set (partial documents merged in, terminated dialogs
	// removed), marked Full.
	OnDialogInfo func(ctx context.Context, s *Subscription, d DialogInfo)
}

// WatchDialogs subscribes to the dialogs of target (RFC 4235): a busy-lamp
// field's view of one extension. Each NOTIFY's document is merged into the
// current set (a partial one by dialog id, a full one replacing it; one
// whose version is not newer is ignored, RFC 4235 §4.1) and the set goes
// to opts.OnDialogInfo. The subscription is as Subscribe returns it.
func (u *UA) WatchDialogs(ctx context.Context, target string, opts WatchOptions) (*Subscription, error) {
	w := &dialogWatch{on: opts.OnDialogInfo}
	return u.Subscribe(ctx, target, SubscribeOptions{
		Line:     opts.Line,
		Event:    DialogEvent,
		Accept:   []string{DialogInfoType},
		OnNotify: w.notified,
	})
}

// dialogWatch merges the documents of one watch, per notifier.
type dialogWatch struct {
	on func(ctx context.Context, s *Subscription, d DialogInfo)

	mu  sync.Mutex
	cur map[string]*DialogInfo // by notifier (From tag)
}

func (w *dialogWatch) notified(ctx context.Context, s *Subscription, n *Notify) {
	if len(n.Body) == 0 {
		return
	}
	doc, err := ParseDialogInfo(n.Body)
	if err != nil {
		s.u.log.Debug("dialog-info not understood", "error", err.Error())
		return
	}
	w.mu.Lock()
	if w.cur == nil {
		w.cur = map[string]*DialogInfo{}
	}
	cur := w.cur[n.Notifier]
	switch {
	case cur != nil && doc.Version <= cur.Version:
		w.mu.Unlock()
		return // old or repeated (RFC 4235 §4.1)
	case cur == nil || doc.Full:
		cur = &DialogInfo{Full: true, Entity: doc.Entity}
		w.cur[n.Notifier] = cur
		cur.Dialogs = nil
	}
	cur.Version = doc.Version
	for _, x := range doc.Dialogs {
		i := slices.IndexFunc(cur.Dialogs, func(y DialogState) bool { return y.ID == x.ID })
		switch {
		case x.State == "terminated" && i >= 0:
			cur.Dialogs = slices.Delete(cur.Dialogs, i, i+1)
		case x.State == "terminated":
		case i >= 0:
			cur.Dialogs[i] = x
		case len(cur.Dialogs) < MaxDialogInfoDialogs:
			cur.Dialogs = append(cur.Dialogs, x)
		}
	}
	out := *cur
	out.Dialogs = slices.Clone(cur.Dialogs)
	w.mu.Unlock()
	if w.on != nil {
		w.on(ctx, s, out)
	}
}
