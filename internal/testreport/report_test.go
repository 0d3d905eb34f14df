package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonRun is a small go test -json stream: one package with a pass, a
// skip for a missing requirement, a skip for another reason and a failure,
// one package without tests.
const jsonRun = `{"Time":"2026-12-07T01:00:00Z","Action":"start","Package":"github.com/dialtone/dialtone/rtp"}
{"Time":"2026-12-07T01:00:00Z","Action":"run","Package":"github.com/dialtone/dialtone/rtp","Test":"TestA"}
{"Time":"2026-12-07T01:00:00Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Time":"2026-12-07T01:00:01Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestA","Output":"--- PASS: TestA (1.00s)\n"}
{"Time":"2026-12-07T01:00:01Z","Action":"pass","Package":"github.com/dialtone/dialtone/rtp","Test":"TestA","Elapsed":1}
{"Time":"2026-12-07T01:00:01Z","Action":"run","Package":"github.com/dialtone/dialtone/rtp","Test":"TestB/IPv6"}
{"Time":"2026-12-07T01:00:01Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestB/IPv6","Output":"    b_test.go:12: needs IPv6 loopback (::1): no address (skipped; under CI=true this fails)\n"}
{"Time":"2026-12-07T01:00:01Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestB/IPv6","Output":"--- SKIP: TestB/IPv6 (0.00s)\n"}
{"Time":"2026-12-07T01:00:01Z","Action":"skip","Package":"github.com/dialtone/dialtone/rtp","Test":"TestB/IPv6"}
{"Time":"2026-12-07T01:00:01Z","Action":"run","Package":"github.com/dialtone/dialtone/rtp","Test":"TestHelper"}
{"Time":"2026-12-07T01:00:01Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestHelper","Output":"    h_test.go:3: helper process\n"}
{"Time":"2026-12-07T01:00:01Z","Action":"skip","Package":"github.com/dialtone/dialtone/rtp","Test":"TestHelper"}
{"Time":"2026-12-07T01:00:02Z","Action":"run","Package":"github.com/dialtone/dialtone/rtp","Test":"TestC"}
{"Time":"2026-12-07T01:00:02Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Test":"TestC","Output":"    c_test.go:9: boom\n"}
{"Time":"2026-12-07T01:00:02Z","Action":"fail","Package":"github.com/dialtone/dialtone/rtp","Test":"TestC","Elapsed":0.5}
{"Time":"2026-12-07T01:00:02Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Output":"-test.shuffle 42\n"}
{"Time":"2026-12-07T01:00:02Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Output":"FAIL\n"}
{"Time":"2026-12-07T01:00:02Z","Action":"output","Package":"github.com/dialtone/dialtone/rtp","Output":"FAIL\tgithub.com/dialtone/dialtone/rtp\t2.0s\n"}
{"Time":"2026-12-07T01:00:02Z","Action":"fail","Package":"github.com/dialtone/dialtone/rtp","Elapsed":2}
{"Time":"2026-12-07T01:00:02Z","Action":"output","Package":"github.com/dialtone/dialtone/examples/x","Output":"?   \tgithub.com/dialtone/dialtone/examples/x\t[no test files]\n"}
{"Time":"2026-12-07T01:00:02Z","Action":"skip","Package":"github.com/dialtone/dialtone/examples/x"}
`

// passRun is one package that passes with its coverage.
const passRun = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"-test.shuffle 1796607335120798965\n"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"coverage: 81.5% of statements\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\tcoverage: 81.5% of statements\n"}
{"Action":"pass","Package":"p"}
`

// skipRun passes with one skip.
const skipRun = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:3: needs root (pcap): not running as root (skipped; under CI=true this fails)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p"}
`

func TestReport(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		opt    options
		ok     bool
		want   []string
		absent []string
		last   string // the closing line, when the case checks it
	}{
		{name: "failures and skips", in: jsonRun, ok: false, want: []string{
			"--- output of TestC (github.com/dialtone/dialtone/rtp):\n    c_test.go:9: boom\n",
			"-test.shuffle 42\nFAIL\nFAIL\tgithub.com/dialtone/dialtone/rtp\t2.0s\n",
			"?   \tgithub.com/dialtone/dialtone/examples/x\t[no test files]\n",
			"== tests: packages 2 (1 without tests); tests and subtests: 1 passed, 1 failed, 2 skipped\n",
			"skipped (1 for a missing requirement, 1 for another reason):\n",
			"  SKIP rtp TestB/IPv6: needs IPv6 loopback (::1): no address (skipped; under CI=true this fails)\n",
			"  SKIP rtp TestHelper: helper process\n",
			"  FAIL rtp TestC\n",
			"  FAIL package github.com/dialtone/dialtone/rtp\n",
		}, absent: []string{"RUN  TestA", "=== RUN"}, last: "tests: 1 passed, 1 failed, 2 skipped"},
		{name: "parallel progress", in: `{"Action":"run","Package":"p","Test":"TestP"}
{"Action":"pause","Package":"p","Test":"TestP"}
{"Action":"cont","Package":"p","Test":"TestP"}
{"Action":"pass","Package":"p","Test":"TestP","Elapsed":2}
{"Action":"pass","Package":"p"}
`, opt: options{progress: true}, ok: true, want: []string{"[    ] RUN  TestP\n[    ] CONT TestP\n[    ] PASS TestP (2.00s)\n"}},
		{name: "progress", in: jsonRun, opt: options{progress: true}, ok: false, want: []string{
			"[   0s] RUN  TestA\n",
			"[   1s] PASS TestA (1.00s)\n",
			"[   1s] SKIP TestB/IPv6 (0.00s): needs IPv6 loopback",
			"[   2s] FAIL TestC (0.50s)\n",
		}},
		{name: "pass with coverage", in: passRun, ok: true, want: []string{
			"ok  \tp\t0.1s\tcoverage: 81.5% of statements\n",
			"tests and subtests: 1 passed, 0 failed, 0 skipped",
		}, absent: []string{"PASS\n", "skipped (", "-test.shuffle", "\ncoverage:"}, last: "tests: 1 passed, 0 failed, 0 skipped"},
		{name: "skip allowed", in: skipRun, ok: true, want: []string{"SKIP p TestA: needs root (pcap)"}},
		{name: "skip refused", in: skipRun, opt: options{failOnSkip: true}, ok: false,
			want: []string{"FAIL: 1 skipped where nothing may skip (-fail-on-skip)"}},
		{name: "empty input", in: "", ok: false, want: []string{"FAIL: no test result in the input"}},
		{name: "counted corpus", in: `{"Action":"run","Package":"github.com/dialtone/dialtone/sip","Test":"TestTorture"}
{"Action":"pass","Package":"github.com/dialtone/dialtone/sip","Test":"TestTorture/a"}
{"Action":"pass","Package":"github.com/dialtone/dialtone/sip","Test":"TestTorture/b"}
{"Action":"skip","Package":"github.com/dialtone/dialtone/sip","Test":"TestTorture/c"}
{"Action":"pass","Package":"github.com/dialtone/dialtone/sip","Test":"TestTorture"}
{"Action":"pass","Package":"github.com/dialtone/dialtone/sip","Test":"TestOther/x"}
{"Action":"pass","Package":"github.com/dialtone/dialtone/sip"}
`, opt: options{count: []string{"TestTorture"}}, ok: true,
			want: []string{"sip TestTorture: 3 subtests: 2 passed, 0 failed, 1 skipped\n"}},
		{name: "counted test missing", in: passRun, opt: options{count: []string{"TestTorture"}}, ok: false,
			want: []string{"FAIL: TestTorture ran no subtest (-count)\n"}},
		{name: "timeout", in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestSlow"}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"panic: test timed out after 10m0s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t600.1s\n"}
{"Action":"fail","Package":"p","Elapsed":600.1}
`, ok: false, want: []string{"--- TestSlow never ended (p); its output:\npanic: test timed out after 10m0s\n",
			"  NEVER ENDED p TestSlow (the test binary died", "  FAIL package p\n"}},
		{name: "not json", in: "# pkg\n./a.go:1: syntax error\n", ok: false, want: []string{"./a.go:1: syntax error\n"}},
		{name: "build failure", in: `{"ImportPath":"p [p.test]","Action":"build-output","Output":"a.go:1: bad\n"}
{"ImportPath":"p [p.test]","Action":"build-fail"}
{"Action":"start","Package":"p"}
{"Action":"output","Package":"p","Output":"FAIL\tp [build failed]\n"}
{"Action":"fail","Package":"p","FailedBuild":"p [p.test]"}
`, ok: false, want: []string{"a.go:1: bad\n", "  FAIL build p [p.test]\n", "  FAIL package p\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opt.title == "" {
				tt.opt.title = "tests"
			}
			var out bytes.Buffer
			r := newReport(&out, tt.opt)
			require.NoError(t, r.read(strings.NewReader(tt.in)))
			require.Equal(t, tt.ok, r.summarize(), out.String())
			for _, w := range tt.want {
				require.Contains(t, out.String(), w)
			}
			for _, a := range tt.absent {
				require.NotContains(t, out.String(), a)
			}
			if tt.last != "" {
				lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
				require.Equal(t, tt.last, lines[len(lines)-1], "the plain closing line CI readers understand")
			}
		})
	}
}

func TestSkipReason(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"none", nil, "(no reason given)"},
		{"skip line", []string{"=== RUN   TestX\n", "    x_test.go:10: slow\n", "--- SKIP: TestX (0.00s)\n"}, "slow"},
		{"last of several", []string{"    x_test.go:3: a log line\n", "    x_test.go:10: needs tshark\n"}, "needs tshark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, skipReason(tt.lines))
		})
	}
}
