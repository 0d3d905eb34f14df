package dialog

import "github.com/dialtone/dialtone/sip"

// packParts is how many strings a new dialog packs.
const packParts = 7

// appendTagged appends a in wire form with its tag parameter set to tag
// (or removed when tag is "").
func appendTagged(b []byte, a sip.Address, tag string) []byte {
	if tag == "" {
		a.Params = a.Params.Del("tag")
		return a.AppendTo(b)
	}
	params := a.Params
	a.Params = ""
	return params.AppendSet(a.AppendTo(b), "tag", tag)
}

// appendContact appends the first Contact of m, or nothing.
func appendContact(b []byte, m contactHolder) []byte {
	if c, ok, err := m.FirstContact(); err == nil && ok && !c.Wildcard {
		return c.AppendTo(b)
	}
	return b
}

// packDialog fills the strings a new dialog keeps: id, local and remote
// (with the tags of id), contact (ours, the first Contact of m) and the
// remote target parsed from target. They are laid out in one buffer and
// cut from one string: one allocation, sharing nothing with the messages
// they came from.
func packDialog(d *Dialog, id ID, local, remote sip.Address, m contactHolder, target sip.URI) {
	var buf [1024]byte
	var ends [packParts]int
	b := append(buf[:0], id.CallID...)
	ends[0] = len(b)
	b = append(b, id.LocalTag...)
	ends[1] = len(b)
	b = append(b, id.RemoteTag...)
	ends[2] = len(b)
	b = appendTagged(b, local, id.LocalTag)
	ends[3] = len(b)
	b = appendTagged(b, remote, id.RemoteTag)
	ends[4] = len(b)
	b = appendContact(b, m)
	ends[5] = len(b)
	b = target.AppendTo(b)
	ends[6] = len(b)
	s := string(b)
	var part [packParts]string
	start := 0
	for i, e := range ends {
		part[i] = s[start:e]
		start = e
	}
	d.id = ID{CallID: part[0], LocalTag: part[1], RemoteTag: part[2]}
	d.local, d.remote, d.contact = part[3], part[4], part[5]
	d.remoteTarget = target
	if u, err := sip.ParseURI(part[6]); err == nil {
		d.remoteTarget = u
	}
}
