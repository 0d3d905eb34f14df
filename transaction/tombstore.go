package transaction

import (
	"encoding/binary"
	"hash/maphash"
	"maps"
	"time"
)

// tombStore keeps a shard's tombs (linger.go) where the garbage collector
// does not have to look at them. At ten thousand calls a second a shard
// holds hundreds of thousands of tombs for 64·T1; as objects with
// pointers (key strings, a tag, the final response's bytes) they made up
// nearly all of the live heap, and every GC cycle marked them one by one.
// Here each tomb is a record in a byte chunk and the index maps a 64-bit
// hash of its key to the record's position: neither holds a pointer, so
// the collector skips them.
//
// Every tomb lingers the same 64·T1, so records expire in the order they
// were written: a chunk is freed (or reused) once its last record is due.
// The hash picks the record; the key stored in the record decides the
// match, so a collision costs a miss, never a wrong answer.
type tombStore struct {
	seed  maphash.Seed
	index map[uint64]uint64 // key hash → position: chunk sequence << 32 | offset
	// chunks are the live chunks, oldest first; len of each is the bytes
	// written. chunks[0] has sequence number first, which wraps: a
	// position names its chunk by the low 32 bits of its sequence number,
	// enough while fewer than 2³² chunks are live.
	chunks [][]byte
	first  uint32
	head   int   // offset of the oldest record in chunks[0]
	last   int64 // deadline of the newest record, Unix nanoseconds
	n      int
	spare  []byte // one emptied chunk kept for reuse
	// peak is the most tombs held since the index was last built. A Go
	// map never gives back the buckets it grew, so after a burst the
	// index is rebuilt at its new size (pop).
	peak int
}

// indexShrinkMin is the peak below which the index is never rebuilt: a
// map of that many entries is under a megabyte.
const indexShrinkMin = 1 << 15

// tombChunk is the size of a chunk; a record larger than that gets a
// chunk of its own.
const tombChunk = 32 << 10

// A record is a fixed header followed by the key's branch, host and
// method, the To tag and the final response.
const (
	recDeadline = 0  // int64, Unix nanoseconds
	recHash     = 8  // uint64
	recPort     = 16 // uint32
	recBranch   = 20 // uint16 length
	recHost     = 22 // uint16 length
	recMethod   = 24 // uint8 length
	recFlags    = 25 // uint8: recInvite
	recTag      = 26 // uint16 length
	recFinal    = 28 // uint32 length
	recHeader   = 32

	recInvite = 1
)

// tombRef is a found tomb. Its slices point into the store and are valid
// only under the shard's lock until the store next changes.
type tombRef struct {
	invite bool
	tag    []byte // To tag of the responses, for a CANCEL's 200
	final  []byte // non-INVITE: the serialized final response
}

func newTombStore() tombStore {
	return tombStore{seed: maphash.MakeSeed(), index: make(map[uint64]uint64)}
}

// hash returns the index key of k.
func (st *tombStore) hash(k serverKey) uint64 {
	var h maphash.Hash
	h.SetSeed(st.seed)
	h.WriteString(k.branch)
	h.WriteByte(0)
	h.WriteString(k.host)
	h.WriteByte(0)
	h.WriteString(string(k.method))
	var p [8]byte
	binary.LittleEndian.PutUint64(p[:], uint64(k.port))
	h.Write(p[:])
	return h.Sum64()
}

// add stores a tomb for k and returns its deadline, which is never earlier
// than that of the tomb added before it (a later end is allowed; the
// order is what expiry relies on). false means the tomb does not fit a
// record (a field longer than its length field): keep the transaction.
func (st *tombStore) add(k serverKey, deadline time.Time, tag string, invite bool, final []byte) (time.Time, bool) {
	return st.put(st.hash(k), k, deadline, tag, invite, final)
}

func (st *tombStore) put(h uint64, k serverKey, deadline time.Time, tag string, invite bool, final []byte) (time.Time, bool) {
	if len(k.branch) > 0xffff || len(k.host) > 0xffff || len(k.method) > 0xff ||
		len(tag) > 0xffff || int64(len(final)) > 0xffffffff || k.port < 0 || int64(k.port) > 0xffffffff {
		return time.Time{}, false
	}
	d := deadline.UnixNano()
	if st.n > 0 && d < st.last {
		d = st.last
	}
	st.last = d
	need := recHeader + len(k.branch) + len(k.host) + len(k.method) + len(tag) + len(final)
	c := st.tail(need)
	off := len(c)
	c = c[:off+need]
	r := c[off:]
	binary.LittleEndian.PutUint64(r[recDeadline:], uint64(d))
	binary.LittleEndian.PutUint64(r[recHash:], h)
	binary.LittleEndian.PutUint32(r[recPort:], uint32(k.port))
	binary.LittleEndian.PutUint16(r[recBranch:], uint16(len(k.branch)))
	binary.LittleEndian.PutUint16(r[recHost:], uint16(len(k.host)))
	r[recMethod] = byte(len(k.method))
	r[recFlags] = 0
	if invite {
		r[recFlags] = recInvite
	}
	binary.LittleEndian.PutUint16(r[recTag:], uint16(len(tag)))
	binary.LittleEndian.PutUint32(r[recFinal:], uint32(len(final)))
	p := r[recHeader:]
	p = p[copy(p, k.branch):]
	p = p[copy(p, k.host):]
	p = p[copy(p, k.method):]
	p = p[copy(p, tag):]
	copy(p, final)
	i := len(st.chunks) - 1
	st.chunks[i] = c
	st.index[h] = uint64(st.first+uint32(i))<<32 | uint64(off)
	st.n++
	st.peak = max(st.peak, st.n)
	return time.Unix(0, d), true
}

// tail returns the chunk to append a record of need bytes to, adding one
// when the newest is full.
func (st *tombStore) tail(need int) []byte {
	if n := len(st.chunks); n > 0 {
		if c := st.chunks[n-1]; cap(c)-len(c) >= need {
			return c
		}
	}
	var c []byte
	switch {
	case need <= tombChunk && st.spare != nil:
		c, st.spare = st.spare[:0], nil
	case need <= tombChunk:
		c = make([]byte, 0, tombChunk)
	default:
		c = make([]byte, 0, need)
	}
	st.chunks = append(st.chunks, c)
	return c
}

// record returns the record at position pos.
func (st *tombStore) record(pos uint64) []byte {
	c := st.chunks[uint32(pos>>32)-st.first]
	return c[uint32(pos):]
}

// find returns the tomb of k.
func (st *tombStore) find(k serverKey) (tombRef, bool) {
	if st.n == 0 {
		return tombRef{}, false
	}
	return st.get(st.hash(k), k)
}

func (st *tombStore) get(h uint64, k serverKey) (tombRef, bool) {
	pos, ok := st.index[h]
	if !ok {
		return tombRef{}, false
	}
	r := st.record(pos)
	bl := int(binary.LittleEndian.Uint16(r[recBranch:]))
	hl := int(binary.LittleEndian.Uint16(r[recHost:]))
	ml := int(r[recMethod])
	tl := int(binary.LittleEndian.Uint16(r[recTag:]))
	fl := int(binary.LittleEndian.Uint32(r[recFinal:]))
	p := r[recHeader:]
	if int64(binary.LittleEndian.Uint32(r[recPort:])) != int64(k.port) ||
		string(p[:bl]) != k.branch ||
		string(p[bl:bl+hl]) != k.host ||
		string(p[bl+hl:bl+hl+ml]) != string(k.method) {
		return tombRef{}, false // another key with the same hash
	}
	p = p[bl+hl+ml:]
	return tombRef{
		invite: r[recFlags]&recInvite != 0,
		tag:    p[:tl:tl],
		final:  p[tl : tl+fl : tl+fl],
	}, true
}

// peek returns the earliest deadline.
func (st *tombStore) peek() (time.Time, bool) {
	if st.n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(st.chunks[0][st.head+recDeadline:]))), true
}

// pop removes the oldest tomb if it is due at now.
func (st *tombStore) pop(now int64) bool {
	if st.n == 0 {
		return false
	}
	c := st.chunks[0]
	r := c[st.head:]
	if int64(binary.LittleEndian.Uint64(r[recDeadline:])) > now {
		return false
	}
	h := binary.LittleEndian.Uint64(r[recHash:])
	if pos, ok := st.index[h]; ok && pos == uint64(st.first)<<32|uint64(st.head) {
		delete(st.index, h)
	}
	st.head += recHeader + int(binary.LittleEndian.Uint16(r[recBranch:])) +
		int(binary.LittleEndian.Uint16(r[recHost:])) + int(r[recMethod]) +
		int(binary.LittleEndian.Uint16(r[recTag:])) + int(binary.LittleEndian.Uint32(r[recFinal:]))
	st.n--
	if st.peak >= indexShrinkMin && st.n <= st.peak/8 {
		st.shrink()
	}
	if st.head < len(c) {
		return true
	}
	// chunks[0] is used up.
	if len(st.chunks) == 1 {
		st.chunks[0], st.head = c[:0], 0
		return true
	}
	if cap(c) == tombChunk {
		st.spare = c[:0]
	}
	st.chunks[0] = nil
	st.chunks = st.chunks[1:]
	st.first++
	st.head = 0
	return true
}

// shrink rebuilds the index at its present size, so that the memory a
// burst made it grow goes back. Copying is O(n) but happens only after n
// fell to an eighth of its peak, so it costs little per tomb.
func (st *tombStore) shrink() {
	m := make(map[uint64]uint64, len(st.index))
	maps.Copy(m, st.index)
	st.index, st.peak = m, st.n
}

// len returns the number of tombs.
func (st *tombStore) len() int { return st.n }

// reset drops every tomb.
func (st *tombStore) reset() {
	if st.peak >= indexShrinkMin {
		st.index = make(map[uint64]uint64)
	} else {
		clear(st.index)
	}
	st.chunks, st.first, st.head, st.n, st.spare, st.peak = nil, 0, 0, 0, nil, 0
}
