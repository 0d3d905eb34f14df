#!/usr/bin/env bash
# scripts/parse-stages.sh: where the parser spends its work, by stage, in
# machine instructions per message (issue 22's per-stage profile).
#
#   scripts/parse-stages.sh [TREE]    (TREE: a checkout to measure, default this one)
#
# Runs BenchmarkParseInviteCore and BenchmarkParseResponse of package sip
# (the corpus in sip/testdata/bench) for N messages under valgrind's
# callgrind, which counts instructions exactly: the figures do not depend on
# the machine's load, so two trees compare on a busy machine. Instructions
# are not time (memory, branches and the garbage collector are outside the
# count; GOGC=off), so the benchmarks in ns stay the measure of speed.
# Stages, per message:
#   total        sip.ParseWith, everything the parse does
#   start-line   the request or status line (the Request-URI and the one
#                allocation of the message included)
#   scan         the header block: finding lines, names, colons, values
#   classify     finding and telling known header names apart (knownName;
#                kindOfWords or kindOf in older trees)
#   core         parsing the core headers: Via, From, To, CSeq, Call-ID,
#                Contact, Content-Length, Max-Forwards
#   accessors    the benchmark's reads after the parse (branch, tags)
# Needs valgrind (apt-get install valgrind) and Go. GOMAXPROCS=1: valgrind
# does not know RDTSCP, which the runtime reaches on contended locks.
set -eu
TREE=$(cd "${1:-$(dirname "$0")/..}" && pwd)
N=${N:-5000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
(cd "$TREE" && go test -c -o "$OUT/sip.test" ./sip/)
incl() { # FILE FUNCTION-REGEX -> inclusive instructions of its first summary line
	awk -v re="$2" '$0 ~ re && !seen { gsub(",", "", $1); print $1; seen = 1 }' "$1"
}
printf '%-18s %8s %10s %9s %9s %6s %9s\n' benchmark total start-line scan classify core accessors
for b in ParseInviteCore ParseResponse; do
	for try in 1 2 3; do # a rare run still dies of an instruction valgrind lacks
		(cd "$TREE/sip" && GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOGC=off valgrind --tool=callgrind \
			--callgrind-out-file="$OUT/cg.$b" "$OUT/sip.test" -test.run '^$' \
			-test.bench "^Benchmark$b\$" -test.benchtime "${N}x" >/dev/null 2>&1) && break
	done
	callgrind_annotate --inclusive=yes "$OUT/cg.$b" >"$OUT/a.$b" 2>/dev/null
	f=$OUT/a.$b
	total=$(incl "$f" 'sip\.ParseWith ')
	line=$(incl "$f" 'sip\.\(\*parser\)\.(requestLine|statusLine) ')
	hdrs=$(incl "$f" 'sip\.\(\*parser\)\.headers ')
	core=$(incl "$f" 'sip\.\(\*parser\)\.header ')
	cls=$(incl "$f" 'sip\.knownName ')
	[ -n "$cls" ] || cls=$(incl "$f" 'sip\.kindOfWords ')
	[ -n "$cls" ] || cls=$(incl "$f" 'sip\.kindOf ')
	acc=$(incl "$f" 'sip\.Params\.Get ')
	awk -v b="$b" -v n="$N" -v t="$total" -v l="$line" -v h="$hdrs" -v c="$core" -v k="$cls" -v a="${acc:-0}" \
		'BEGIN { printf "%-18s %8d %10d %9d %9d %6d %9d\n", b, t/n, l/n, (h-c-k)/n, k/n, c/n, a/n }'
done
