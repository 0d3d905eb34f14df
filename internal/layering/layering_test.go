package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/dialtone/dialtone"

// rule says which of the project's packages a package may import. A
// package matches the first rule whose prefix is its path or a parent of it.
type rule struct {
	prefix string
	allow  []string // project packages (and their subpackages) it may import
	any    bool     // may import anything of the project
	// testAllow are packages its test files may import besides allow
	// (proxy's tests drive it with ua phones).
	testAllow []string
}

var rules = []rule{
	{prefix: "examples", any: true},
	{prefix: "internal/interop", any: true},
	{prefix: "internal/layering"},
	// The media sockets use the one socket-address conversion and read
	// through the io_uring; the ring's tests build their destinations with
	// the conversion.
	{prefix: "internal/rtpsock", allow: []string{"internal/sockaddr", "internal/uring"}, testAllow: []string{"internal/testenv"}},
	{prefix: "internal/uring", testAllow: []string{"internal/sockaddr", "internal/testenv"}},
	{prefix: "internal"},
	{prefix: "sip/digest", allow: []string{"sip"}},
	{prefix: "sip"},
	{prefix: "transport", allow: []string{"sip", "internal/"}},
	{prefix: "transaction", allow: []string{"sip", "transport", "internal/"}},
	{prefix: "dialog", allow: []string{"sip", "transport", "transaction", "internal/"}},
	// rtp/audio is the media vocabulary and imports nothing of the project;
	// the media packages with one job each import only it (jitter and wav
	// also the G.711 codec: the buffer's default decoder, G.711 WAV files);
	// rtp itself imports its subpackages. Nothing under rtp/ reaches SIP.
	{prefix: "rtp/audio"},
	{prefix: "rtp/g711", allow: []string{"rtp/audio", "internal/"}, testAllow: []string{"rtp/wav"}},
	{prefix: "rtp/g722", allow: []string{"rtp/audio", "internal/"}},
	{prefix: "rtp/dtmf", allow: []string{"rtp/audio", "internal/"}},
	{prefix: "rtp/sdp", allow: []string{"rtp/audio", "internal/"}},
	{prefix: "rtp/jitter", allow: []string{"rtp/audio", "rtp/g711", "internal/"}},
	{prefix: "rtp/wav", allow: []string{"rtp/audio", "rtp/g711", "internal/"}},
	// SRTP keying rides on the SDP model (a=crypto, a=fingerprint).
	{prefix: "rtp/srtp", allow: []string{"rtp/audio", "rtp/sdp", "internal/"}, testAllow: []string{"rtp/g711"}},
	// The conference mixer sits on top of rtp (its Engine's clock, its
	// sessions' queues); rtp never imports it.
	{prefix: "rtp/mix", allow: []string{"rtp", "internal/"}},
	{prefix: "rtp", allow: []string{"rtp", "internal/"}},
	{prefix: "ua", allow: []string{"sip", "transport", "transaction", "dialog", "rtp", "internal/"}},
	// The location stores plug into proxy: they import it, it never
	// imports them (nor their SQL drivers).
	{prefix: "proxy/location", allow: []string{"proxy", "sip", "transport", "internal/"}},
	{prefix: "proxy", allow: []string{"sip", "transport", "transaction", "dialog", "internal/"}, testAllow: []string{"ua"}},
}

// within reports whether pkg is dir or below it.
func within(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

func ruleFor(pkg string) (rule, bool) {
	for _, r := range rules {
		if within(pkg, r.prefix) {
			return r, true
		}
	}
	return rule{}, false
}

// allowed reports whether a package under r may import imp (a project path
// relative to the module). A package may always import its own subtree;
// internal leaves import nothing else; test files may use internal/memnet.
func allowed(r rule, pkg, imp string, test bool) bool {
	if r.any || within(imp, pkg) {
		return true
	}
	if test && imp == "internal/memnet" {
		return true
	}
	if test && slices.ContainsFunc(r.testAllow, func(a string) bool { return within(imp, a) }) {
		return true
	}
	for _, a := range r.allow {
		if a == "internal/" {
			if within(imp, "internal") && !within(imp, "internal/interop") {
				return true
			}
			continue
		}
		if within(imp, a) {
			return true
		}
	}
	return false
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test")
		dir = parent
	}
}

// TestImportDirection parses every Go file of the module (whatever its build
// tags) and fails on each import that goes against the layering.
func TestImportDirection(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		r, ok := ruleFor(pkg)
		if !ok {
			t.Errorf("%s: package %q has no layering rule; add one to rules", path, pkg)
			return nil
		}
		test := strings.HasSuffix(path, "_test.go")
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			imp = strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if !allowed(r, pkg, imp, test) {
				t.Errorf("%s imports %s: %s may not depend on it (see internal/layering/doc.go)",
					fset.Position(spec.Pos()), imp, pkg)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 100, "walked too few files: is the module root right?")
}

// TestRulesCatchViolations checks the rules themselves on imports that
// must be refused and ones that must pass, so a loosened rule is noticed.
func TestRulesCatchViolations(t *testing.T) {
	tests := []struct {
		pkg, imp string
		test     bool
		ok       bool
	}{
		{"sip", "transport", false, false},
		{"sip/digest", "sip", false, true},
		{"transport", "transaction", false, false},
		{"transport", "internal/sockaddr", false, true},
		{"transaction", "dialog", false, false},
		{"transaction", "ua", false, false},
		{"dialog", "ua", false, false},
		{"dialog", "transaction", false, true},
		{"rtp", "sip", false, false},
		{"rtp", "ua", false, false},
		{"rtp/jitter", "rtp/g711", false, true},
		{"rtp", "rtp/sdp", false, true},
		{"rtp", "internal/timerheap", false, true},
		{"rtp/audio", "rtp", false, false},
		{"rtp/audio", "rtp/g711", false, false},
		{"rtp/audio", "internal/timerheap", false, false},
		{"rtp/g711", "rtp/audio", false, true},
		{"rtp/g711", "rtp", false, false},
		{"rtp/g711", "rtp/wav", false, false},
		{"rtp/g711", "rtp/wav", true, true},
		{"rtp/dtmf", "rtp/jitter", false, false},
		{"rtp/dtmf", "rtp", false, false},
		{"rtp/jitter", "rtp", false, false},
		{"rtp/jitter", "rtp/dtmf", false, false},
		{"rtp/wav", "rtp/g711", false, true},
		{"rtp/wav", "rtp/sdp", false, false},
		{"rtp/sdp", "rtp/audio", false, true},
		{"rtp/sdp", "rtp", false, false},
		{"rtp/sdp", "ua", false, false},
		{"rtp/sdp", "sip", false, false},
		{"rtp/g722", "rtp/audio", false, true},
		{"rtp/g722", "rtp", false, false},
		{"rtp/g722", "internal/testenv", true, true},
		{"ua", "rtp", false, true},
		{"ua", "internal/interop", false, false},
		{"internal/timerheap", "sip", false, false},
		{"internal/memnet", "internal/timerheap", false, false},
		{"internal/rtpsock", "internal/sockaddr", false, true},
		{"internal/rtpsock", "rtp", false, false},
		{"internal/rtpsock", "internal/uring", false, true},
		{"internal/rtpsock", "internal/timerheap", false, false},
		{"internal/uring", "internal/sockaddr", false, false},
		{"internal/uring", "internal/sockaddr", true, true},
		{"rtp", "internal/rtpsock", false, true},
		{"transaction", "internal/memnet", true, true},
		{"sip", "internal/memnet", false, false},
		{"examples/dial", "transaction", false, true},
		{"internal/interop/txuas", "transaction", false, true},
		{"proxy", "ua", false, false},
		{"proxy", "ua", true, true},
		{"proxy", "rtp", false, false},
		{"proxy", "sip/digest", false, true},
		{"proxy", "dialog", false, true},
		{"proxy/location/sqlitestore", "proxy", false, true},
		{"proxy/location/pgstore", "ua", false, false},
		{"transaction", "proxy", false, false},
		{"ua", "proxy", false, false},
	}
	for _, tt := range tests {
		r, ok := ruleFor(tt.pkg)
		require.True(t, ok, tt.pkg)
		require.Equal(t, tt.ok, allowed(r, tt.pkg, tt.imp, tt.test), "%s -> %s (test %v)", tt.pkg, tt.imp, tt.test)
	}
}
