// Package mutate turns SIP messages into hostile variants for the flood
// generator (internal/interop/sipflood, issue 21 §3): bit flips,
// truncation, duplicated headers, huge and negative numbers, a wrong
// Content-Length, binary junk. A Generator is deterministic: the same seed
// and seeds give the same sequence, so a run can be replayed and its
// expected counts recomputed.
package mutate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Kind names a mutation.
type Kind uint8

// The mutations.
const (
	// BitFlip flips one to eight random bits.
	BitFlip Kind = iota
	// Truncate cuts the message at a random point.
	Truncate
	// DuplicateHeader repeats one header line 2 to 64 times.
	DuplicateHeader
	// HugeNumber replaces a run of digits with a number no integer type
	// holds, or with the edge of one.
	HugeNumber
	// NegativeNumber replaces a run of digits with a negative number.
	NegativeNumber
	// WrongContentLength sets Content-Length to a value other than the
	// body's length: too short, too long, or 100 MiB.
	WrongContentLength
	// BinaryJunk inserts random bytes into the message, or replaces it
	// with them.
	BinaryJunk
	numKinds
)

var kindNames = [...]string{"bitflip", "truncate", "dupheader", "hugenumber", "negative", "contentlength", "junk"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds returns every mutation, in order.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// MaxSize bounds a mutant: it must fit in one UDP datagram.
const MaxSize = 65000

// HugeBody is the Content-Length of the "100 MB announcement".
const HugeBody = 100 << 20

// ErrNoSeeds is returned when no seed message was found or given.
var ErrNoSeeds = errors.New("mutate: no seed messages")

// LoadSeeds reads every *.dat file under dir (the torture corpus,
// sip/testdata/torture), in lexical order.
func LoadSeeds(dir string) ([][]byte, error) {
	var seeds [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".dat") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(b) > 0 {
			seeds = append(seeds, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mutate: seeds: %w", err)
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w under %s", ErrNoSeeds, dir)
	}
	return seeds, nil
}

// Generator yields mutants of its seeds. It is not safe for concurrent
// use: give each goroutine its own (with seeds derived from one).
type Generator struct {
	rng   *rand.Rand
	seeds [][]byte
}

// New returns a Generator of mutants of seeds, deterministic for seed.
func New(seed uint64, seeds [][]byte) (*Generator, error) {
	if len(seeds) == 0 {
		return nil, ErrNoSeeds
	}
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seeds: seeds}, nil
}

// Next returns a new mutant and the mutation applied. The slice is the
// caller's.
func (g *Generator) Next() ([]byte, Kind) {
	k := Kind(g.rng.IntN(int(numKinds)))
	return g.Apply(k, g.seeds[g.rng.IntN(len(g.seeds))]), k
}

// Apply returns a mutant of msg made by k (msg is not modified).
func (g *Generator) Apply(k Kind, msg []byte) []byte {
	b := bytes.Clone(msg)
	switch k {
	case BitFlip:
		b = g.bitFlip(b)
	case Truncate:
		b = g.truncate(b)
	case DuplicateHeader:
		b = g.duplicateHeader(b)
	case HugeNumber:
		b = g.replaceNumber(b, hugeNumbers)
	case NegativeNumber:
		b = g.replaceNumber(b, negativeNumbers)
	case WrongContentLength:
		b = g.wrongContentLength(b)
	case BinaryJunk:
		b = g.junk(b)
	}
	if len(b) > MaxSize {
		b = b[:MaxSize]
	}
	return b
}

func (g *Generator) bitFlip(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	for range 1 + g.rng.IntN(8) {
		b[g.rng.IntN(len(b))] ^= 1 << g.rng.IntN(8)
	}
	return b
}

func (g *Generator) truncate(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	return b[:1+g.rng.IntN(len(b)-1)]
}

// lines splits the header block of b into lines (without their CRLF) and
// returns them with the offset where the body starts (after the empty
// line), or len(b) when there is no empty line.
func lines(b []byte) (hdr [][]byte, body int) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	sep := 4
	if end < 0 {
		end, sep = bytes.Index(b, []byte("\n\n")), 2
	}
	if end < 0 {
		end, sep = len(b), 0
	}
	for _, l := range bytes.Split(b[:end], []byte("\n")) {
		hdr = append(hdr, bytes.TrimSuffix(l, []byte("\r")))
	}
	return hdr, end + sep
}

// join builds a message from header lines and a body.
func join(hdr [][]byte, body []byte) []byte {
	var out bytes.Buffer
	for _, l := range hdr {
		out.Write(l)
		out.WriteString("\r\n")
	}
	out.WriteString("\r\n")
	out.Write(body)
	return out.Bytes()
}

func (g *Generator) duplicateHeader(b []byte) []byte {
	hdr, body := lines(b)
	if len(hdr) < 2 {
		return g.junk(b)
	}
	i := 1 + g.rng.IntN(len(hdr)-1) // not the start line
	n := 1 + g.rng.IntN(63)
	out := make([][]byte, 0, len(hdr)+n)
	out = append(out, hdr[:i+1]...)
	for range n {
		out = append(out, hdr[i])
	}
	out = append(out, hdr[i+1:]...)
	return join(out, b[min(body, len(b)):])
}

var hugeNumbers = []string{
	"4294967296", "4294967295", "2147483648", "9223372036854775807",
	"9223372036854775808", "18446744073709551616",
	"99999999999999999999999999999999999999999999999999",
	"1" + strings.Repeat("0", 400),
}

var negativeNumbers = []string{"-1", "-0", "-2147483648", "-9223372036854775808", "-99999999999999999999"}

// replaceNumber replaces one run of ASCII digits (CSeq, Max-Forwards,
// Content-Length, Expires, a port, a status code…) with one of with.
func (g *Generator) replaceNumber(b []byte, with []string) []byte {
	type run struct{ start, end int }
	var runs []run
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		runs = append(runs, run{i, j})
		i = j
	}
	if len(runs) == 0 {
		return g.junk(b)
	}
	r := runs[g.rng.IntN(len(runs))]
	n := with[g.rng.IntN(len(with))]
	out := make([]byte, 0, len(b)+len(n))
	out = append(out, b[:r.start]...)
	out = append(out, n...)
	return append(out, b[r.end:]...)
}

func (g *Generator) wrongContentLength(b []byte) []byte {
	hdr, bodyAt := lines(b)
	body := b[min(bodyAt, len(b)):]
	var v int
	switch g.rng.IntN(4) {
	case 0:
		v = len(body) + 1 + g.rng.IntN(1000)
	case 1:
		if len(body) == 0 {
			v = 1 + g.rng.IntN(100)
		} else {
			v = g.rng.IntN(len(body))
		}
	case 2:
		v = HugeBody
	default:
		v = len(body) + 70000 // more than any datagram holds
	}
	cl := []byte("Content-Length: " + strconv.Itoa(v))
	found := false
	for i, l := range hdr {
		name, _, ok := bytes.Cut(l, []byte(":"))
		n := strings.ToLower(strings.TrimSpace(string(name)))
		if ok && (n == "content-length" || n == "l") {
			hdr[i], found = cl, true
		}
	}
	if !found {
		hdr = append(hdr, cl)
	}
	return join(hdr, body)
}

func (g *Generator) junk(b []byte) []byte {
	n := 1 + g.rng.IntN(1500)
	j := make([]byte, n)
	for i := range j {
		j[i] = byte(g.rng.Uint32())
	}
	if len(b) == 0 || g.rng.IntN(3) == 0 {
		return j // nothing but junk
	}
	at := g.rng.IntN(len(b))
	out := make([]byte, 0, len(b)+n)
	out = append(out, b[:at]...)
	out = append(out, j...)
	return append(out, b[at:]...)
}
