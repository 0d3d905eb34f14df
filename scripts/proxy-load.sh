#!/usr/bin/env bash
# scripts/proxy-load.sh: the cost of examples/proxy beside Kamailio, back to
# back in one run on 127.0.0.1 (issue 19).
#
# For each proxy, ours (examples/proxy, built without the race detector)
# then Kamailio (scripts/proxy-load/kamailio.cfg: stateful, record-routing,
# children = the number of cores), with the same users and MD5 digest:
#
#   1. a SIPp UAS registers as "uas" with digest and answers calls
#      (internal/interop/testdata/proxy_register.xml, proxy_uas.xml);
#   2. calls: SIPp uac -> proxy (Record-Route, UDP) -> SIPp uas, ACK and BYE
#      through the proxy (scripts/proxy-load/uac.xml), at each rate of
#      RATES for DURATION seconds: the highest rate with zero failed calls;
#   3. proxy CPU per call at FIXED_RATE: utime+stime of the proxy's
#      processes (/proc/PID/stat, all threads, Kamailio's children
#      included) over the run, divided by the calls; measured before 2.,
#      whose transactions would still be expiring;
#   4. memory per proxied call in progress, first, on the fresh process:
#      calls at INPROG_RATE lasting INPROG_HOLD seconds, the proxy's memory
#      sampled just before the first one ends, minus its memory before,
#      divided by the calls then in progress. Memory is the Pss of ours
#      (/proc/PID/smaps_rollup), and Kamailio's shared memory in use
#      (kamcmd core.shmmem: where tm keeps transactions, usrloc bindings);
#   5. memory per binding (Kamailio; ours from a Go benchmark, see below):
#      USERS registrations, shared memory in use before and after;
#   6. REGISTER with digest (401, then credentials, 200) per second: SIPp
#      registers the users of an injection file at each rate of REG_RATES:
#      the highest with zero failures.
#
# Our memory per binding for 100,000 bindings comes from a Go benchmark
# (BenchmarkBindingMemory in package proxy), run at the end.
#
# SIPp ignores unexpected messages instead of aborting the call
# (-default_behaviors all,-abortunexp): a proxy with several workers may
# relay a 180 after the 200 that followed it (UDP does not keep order),
# which is no failure of the call.
#
# SIPp is single-threaded and shares the machine: on a small machine the
# highest rate may be SIPp's, not the proxy's; the CPU per call at a fixed
# rate does not depend on that. Run it on a quiet machine.
#
# Settings (environment): DURATION (s per point, 10), RATES, REG_RATES
# (lists), FIXED_RATE (200), PROXY_PROCS (GOMAXPROCS of our proxy; empty:
# the Go runtime's default, one per core; 1 saves the scheduler's
# cross-thread wake-ups at low rates, at the price of one core at most), HOLD_MS (100: call length in the rate search),
# INPROG_RATE (100), INPROG_HOLD (20 s), USERS (1000), OUT (directory for
# logs and the summary; a new temporary one by default), KINDS (the
# proxies measured, in order: "dialtone kamailio"; a kind may repeat, to
# alternate them), STEPS (which of "inprogress bindings rate cpu register"
# run; all by default), PROXY_BIN (a built examples/proxy to measure
# instead of building this checkout's, to compare two builds: run the
# script twice, or name the other in KINDS as "dialtone=PATH"),
# PROXY_ARGS (more flags for ours, such as "-cpuprofile FILE").
#
#   scripts/proxy-load.sh
#   DURATION=5 RATES="100 200" REG_RATES="100 200" INPROG_HOLD=5 scripts/proxy-load.sh
#   STEPS=cpu KINDS="dialtone=/tmp/main-proxy dialtone kamailio dialtone=/tmp/main-proxy dialtone kamailio" scripts/proxy-load.sh
set -euo pipefail

DURATION=${DURATION:-10}
RATES=${RATES:-"100 200 400 600 800 1000 1200 1500 2000 2500 3000"}
REG_RATES=${REG_RATES:-"100 200 400 600 800 1000 1500 2000 3000"}
FIXED_RATE=${FIXED_RATE:-200}
HOLD_MS=${HOLD_MS:-100}
INPROG_RATE=${INPROG_RATE:-100}
INPROG_HOLD=${INPROG_HOLD:-20}
USERS=${USERS:-1000}
KINDS=${KINDS:-"dialtone kamailio"}
STEPS=${STEPS:-"inprogress bindings rate cpu register"}
PROXY_ARGS=${PROXY_ARGS:-}
PASSWORD=loadpw
IP=127.0.0.1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/scripts/proxy-load
TESTDATA=$ROOT/internal/interop/testdata
OUT=${OUT:-$(mktemp -d /tmp/proxy-load.XXXXXX)}
mkdir -p "$OUT"
CORES=$(nproc)
CTL=$OUT/kamailio.ctl
HZ=$(getconf CLK_TCK)

for p in sipp kamailio go python3; do
	command -v "$p" >/dev/null || { echo "proxy-load: $p not found (scripts/install-peers.sh)" >&2; exit 1; }
done

say() { echo "$*" | tee -a "$OUT/summary.txt"; }

# The processes this script started, stopped on exit (by PID, never by name).
STARTED=()
cleanup() {
	for pid in "${STARTED[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
	done
	for pid in "${STARTED[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# free_port: a port free for both UDP and TCP on 127.0.0.1 (examples/proxy
# listens on both).
free_port() {
	python3 - <<'PY'
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
PY
}

# tree PID: PID and its descendants (Kamailio forks its workers).
tree() {
	python3 - "$1" <<'PY'
import os, sys
children = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        stat = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    ppid = stat[stat.rindex(")") + 2:].split()[1]
    children.setdefault(ppid, []).append(d)
out, todo = [], [sys.argv[1]]
while todo:
    p = todo.pop()
    out.append(p)
    todo.extend(children.get(p, []))
print(" ".join(out))
PY
}

# cpu_ticks PIDS: utime+stime of the processes, in clock ticks.
cpu_ticks() {
	local sum=0 line
	for pid in "$@"; do
		line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		sum=$((sum + $(echo "${line##*) }" | awk '{print $12 + $13}')))
	done
	echo $sum
}

# pss_kb PIDS: proportional set size of the processes (shared pages split
# between them), in kB.
pss_kb() {
	local sum=0 v
	for pid in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
		sum=$((sum + ${v:-0}))
	done
	echo $sum
}

# mem_bytes KIND: the memory the measurement follows (see 4. above).
mem_bytes() {
	if [ "$1" = dialtone ]; then
		echo $(($(pss_kb $PROXY_PIDS) * 1024))
	else
		kamcmd -s "$CTL" core.shmmem | awk '$1 == "used:" {print $2}'
	fi
}

# settle KIND: before a memory reading, wait until Kamailio holds no
# transaction of an earlier step (tm keeps a finished one for its wait
# timer, and frees it during the next step: a reading taken before would
# count that release against the next step, even below zero). At most
# 60 s; our proxy is read from a Go benchmark instead.
settle() {
	[ "$1" = dialtone ] && return 0
	local n
	for _ in $(seq 600); do
		n=$(kamcmd -s "$CTL" tm.stats | awk '$1 == "current:" {print $2}')
		[ "${n:-1}" = 0 ] && return 0
		sleep 0.1
	done
	say "$1: $n transactions still alive after 60 s"
}

wait_udp() { # port
	for _ in $(seq 100); do
		ss -lun | grep -q "$IP:$1 " && return 0
		sleep 0.1
	done
	echo "proxy-load: nothing listens on udp $IP:$1" >&2
	return 1
}

# sipp_run NAME ARGS…: SIPp in the foreground with its statistics in OUT;
# its exit status is SIPp's (0: every call succeeded).
sipp_run() {
	local name=$1
	shift
	sipp -i $IP -mi $IP -nostdin -default_behaviors all,-abortunexp -trace_stat -stf "$OUT/$name.csv" -fd 1 \
		-trace_err -error_file "$OUT/$name.err" "$@" >"$OUT/$name.out" 2>&1
}

# sipp_counts NAME: "successful failed" calls of a finished SIPp run.
sipp_counts() {
	python3 - "$OUT/$1.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
print(last[h.index('SuccessfulCall(C)')], last[h.index('FailedCall(C)')])
PY
}

BIN=${PROXY_BIN:-}
if [ -z "$BIN" ]; then
	echo "proxy-load: building examples/proxy" >&2
	BIN=$OUT/proxy
	(cd "$ROOT" && go build -o "$BIN" ./examples/proxy)
fi
step() { [[ " $STEPS " == *" $1 "* ]]; }

USERS_FILE=$OUT/users.txt
INF=$OUT/users.csv
{
	echo "uas:$PASSWORD"
	for i in $(seq 0 $((USERS - 1))); do echo "user$i:$PASSWORD"; done
} >"$USERS_FILE"
{
	echo SEQUENTIAL
	for i in $(seq 0 $((USERS - 1))); do echo "user$i;[authentication username=user$i password=$PASSWORD]"; done
} >"$INF"

start_proxy() { # kind port [binary] → sets PROXY_PID, PROXY_PIDS
	local kind=$1 port=$2 bin=${3:-$BIN}
	if [ "$kind" = dialtone ]; then
		# shellcheck disable=SC2086 # PROXY_ARGS is a list of flags
		env ${PROXY_PROCS:+GOMAXPROCS=$PROXY_PROCS} \
			"$bin" -domain $IP -listen "$IP:$port" -users "$USERS_FILE" -algorithms MD5 -quiet $PROXY_ARGS \
			>"$OUT/dialtone.stdout" 2>"$OUT/dialtone.stderr" &
		PROXY_PID=$!
	else
		local moddir="" d
		for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/lib64/kamailio/modules; do
			[ -f "$d/tm.so" ] && moddir=$d && break
		done
		[ -n "$moddir" ] || { echo "proxy-load: Kamailio's modules (tm.so) not found" >&2; return 1; }
		kamailio -f "$HERE/kamailio.cfg" -DD -E -L "$moddir" -m 512 -M 16 \
			-A SIP_PORT="$port" -A NCHILDREN="$CORES" -A "PASSWORD=\"$PASSWORD\"" -A "CTL_SOCK=\"unix:$CTL\"" \
			>"$OUT/kamailio.stdout" 2>"$OUT/kamailio.stderr" &
		PROXY_PID=$!
	fi
	STARTED+=("$PROXY_PID")
	wait_udp "$port"
	sleep 0.5
	PROXY_PIDS=$(tree "$PROXY_PID")
}

stop_pid() {
	kill -INT "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}

measure() { # kind[=binary]
	local kind=${1%%=*} bin="" port uas_port uas_pid best reg_best
	[[ "$1" == *=* ]] && bin=${1#*=}
	MEASURED=$((MEASURED + 1))
	local tag=$kind$MEASURED # the logs' prefix
	port=$(free_port)
	uas_port=$(free_port)
	start_proxy "$kind" "$port" "$bin"
	say ""
	say "== $kind${bin:+ ($bin)} (pid $PROXY_PID: processes $PROXY_PIDS) on udp $IP:$port, $CORES cores, $(uptime | sed 's/.*load/load/')"

	sipp_run "$tag-uas-register" -sf "$TESTDATA/proxy_register.xml" -s uas -au uas -ap $PASSWORD \
		-p "$uas_port" -m 1 -timeout 10s -timeout_error "$IP:$port" ||
		{ say "$kind: the UAS could not register"; return 1; }
	sipp -i $IP -mi $IP -nostdin -sf "$TESTDATA/proxy_uas.xml" -p "$uas_port" \
		-trace_err -error_file "$OUT/$tag-uas.err" >"$OUT/$tag-uas.out" 2>&1 &
	uas_pid=$!
	STARTED+=("$uas_pid")
	wait_udp "$uas_port"

	# 4. Memory per call in progress, on the fresh process.
	local m0 m1 inprog=$((INPROG_RATE * INPROG_HOLD)) sp s f calls
	if step inprogress; then
	m0=$(mem_bytes "$kind")
	sipp_run "$tag-inprogress" -sf "$HERE/uac.xml" -s uas -r "$INPROG_RATE" -m "$inprog" -d $((INPROG_HOLD * 1000)) \
		-l 100000 -p "$(free_port)" -timeout $((2 * INPROG_HOLD + 30))s -timeout_error "$IP:$port" &
	sp=$!
	sleep "$(python3 -c "print($INPROG_HOLD - 0.3)")"
	m1=$(mem_bytes "$kind")
	wait "$sp" || true
	read -r s f < <(sipp_counts "$tag-inprogress")
	calls=$(python3 -c "print(int($INPROG_RATE * ($INPROG_HOLD - 0.3)))")
	say "$kind: memory per call in progress: $(python3 -c "print(f'{($m1-$m0)/$calls:.0f}')") B ($m0 B before, $m1 B with ~$calls calls in progress; $s of $inprog calls successful, $f failed)"
	fi

	# 5. Memory per binding (Kamailio's; ours is the benchmark's).
	if step bindings; then
	settle "$kind"
	m0=$(mem_bytes "$kind")
	sipp_run "$tag-bindings" -sf "$HERE/register.xml" -inf "$INF" -r 200 -m "$USERS" -l 100000 \
		-p "$(free_port)" -timeout $((USERS / 200 + 30))s -timeout_error "$IP:$port" || true
	settle "$kind" # the REGISTER transactions, not the bindings, go away
	m1=$(mem_bytes "$kind")
	read -r s f < <(sipp_counts "$tag-bindings")
	if [ "$kind" = dialtone ]; then
		# A Go process's Pss follows its garbage collector more than its
		# bindings: the benchmark at the end measures the heap instead.
		say "$kind: memory per binding: see BenchmarkBindingMemory below (Pss $m0 -> $m1 B for $s bindings)"
	else
		say "$kind: memory per binding: $(python3 -c "print(f'{($m1-$m0)/max($s,1):.0f}')") B (shared memory used $m0 -> $m1 B for $s bindings, $f failed)"
	fi
	fi

	# 3. CPU per call at a fixed rate, before the rate search: after it,
	# the transactions of its highest rates, alive until Timers M, L and
	# J (32 s), would expire during this step and count against it.
	local n=$((FIXED_RATE * DURATION)) t0 t1
	if step cpu; then
	t0=$(cpu_ticks $PROXY_PIDS)
	sipp_run "$tag-cpu" -sf "$HERE/uac.xml" -s uas -r "$FIXED_RATE" -m "$n" -d "$HOLD_MS" -l 100000 \
		-p "$(free_port)" -timeout $((DURATION + 30))s -timeout_error "$IP:$port" || true
	t1=$(cpu_ticks $PROXY_PIDS)
	read -r s f < <(sipp_counts "$tag-cpu")
	say "$kind: CPU per call at $FIXED_RATE calls/s: $(python3 -c "print(f'{($t1-$t0)*1000/$HZ/max($s,1):.3f}')") ms ($((t1 - t0)) ticks of 1/$HZ s for $s calls, $f failed)"
	fi

	# 2. Highest call rate with zero failures.
	if step rate; then
	best=0
	for r in $RATES; do
		local n=$((r * DURATION)) ok=yes
		sipp_run "$tag-calls-$r" -sf "$HERE/uac.xml" -s uas -r "$r" -m "$n" -d "$HOLD_MS" -l 100000 \
			-p "$(free_port)" -timeout $((DURATION + 30))s -timeout_error "$IP:$port" || ok=no
		read -r s f < <(sipp_counts "$tag-calls-$r")
		say "$kind calls: $r/s for ${DURATION}s: $s successful, $f failed$([ $ok = no ] && echo ", SIPp failed")"
		[ "$ok" = yes ] && [ "$f" = 0 ] && [ "$s" = "$n" ] || break
		best=$r
	done
	say "$kind: highest call rate with zero failures: $best calls/s (of: $RATES)"
	fi

	# 6. REGISTER with digest per second.
	if step register; then
	reg_best=0
	for r in $REG_RATES; do
		local n=$((r * DURATION)) ok=yes
		sipp_run "$tag-register-$r" -sf "$HERE/register.xml" -inf "$INF" -r "$r" -m "$n" -l 100000 \
			-p "$(free_port)" -timeout $((DURATION + 30))s -timeout_error "$IP:$port" || ok=no
		read -r s f < <(sipp_counts "$tag-register-$r")
		say "$kind REGISTER: $r/s for ${DURATION}s: $s successful, $f failed$([ $ok = no ] && echo ", SIPp failed")"
		[ "$ok" = yes ] && [ "$f" = 0 ] && [ "$s" = "$n" ] || break
		reg_best=$r
	done
	say "$kind: highest REGISTER (with digest) rate with zero failures: $reg_best/s (of: $REG_RATES)"
	fi

	stop_pid "$uas_pid"
	stop_pid "$PROXY_PID"
}

say "proxy-load $(date -u +%FT%TZ): $CORES cores, our proxy's GOMAXPROCS ${PROXY_PROCS:-default}, ${DURATION}s per point, calls of ${HOLD_MS} ms, steps: $STEPS, logs in $OUT"
MEASURED=0
for k in $KINDS; do
	measure "$k"
done

if step bindings; then
	say ""
	say "== dialtone, memory per binding for 100,000 bindings (BenchmarkBindingMemory)"
	(cd "$ROOT" && go test -run '^$' -bench BindingMemory -benchtime 1x ./proxy/) | grep Benchmark | tee -a "$OUT/summary.txt"
fi
say ""
say "summary: $OUT/summary.txt"
