#!/usr/bin/env bash
# scripts/load-tcp.sh: SIP over TCP under load (issue 22 §4). SIPp's
# built-in uac scenario (INVITE, ACK, BYE per call) against examples/dial
# answering (-no-media -quiet), on 127.0.0.1 only, in two modes:
#
#   t1  every call over one TCP connection (sipp -t t1)
#   tn  a connection per call, opened for its INVITE, closed after its BYE (sipp -t tn)
#   tls every call over one TLS connection: this SIPp is built without
#       OpenSSL, so the calls come from internal/interop/uaload (package ua
#       as a client on its own connection, -transport tls) to dial's
#       -tls-listen listener (a self-signed certificate, not verified),
#       each call held TLS_HOLD between answer and BYE
#
# For each mode of MODES:
#   1. the server's CPU per call at FIXED_RATE calls/s: utime+stime of the
#      dial process (/proc/PID/stat, all threads) over the trial divided by
#      the calls, FIXED_REPS trials, median; its RSS at the end of each;
#   2. the highest rate at which a SECS-second trial passes: every call
#      successful, none failed, and SIPp kept the rate (done within SECS+2
#      s). Doubling from START (T1_START, TN_START) until a trial fails or
#      RMAX, then bisecting to 5 %. Over TCP nothing is retransmitted, so a
#      server that falls behind shows as SIPp falling behind.
# Every trial starts a fresh server. uaload is as much a Go UA as the
# server and shares the cores with it: over TLS the highest rate is the
# pair's, and only the server's CPU per call is the server's own. SIPp is single-threaded and shares
# the 2 cores here: with -t tn it spends more CPU per call than the server,
# and it is then the limit (it is the limit of SIPp against its own uas as
# well). Compare only figures of one run.
#
# Settings (environment): MODES ("t1 tn tls"), SECS (10), FIXED_RATE (500),
# FIXED_REPS (5), T1_START (2000), TN_START (250), TLS_START (1000),
# TLS_HOLD (20ms), RMAX (32000), PORT (25190, TCP and UDP; the script
# refuses a port in use), TLS_PORT (25191), UAC_PORT (25160), OUT (a new
# temporary directory by default: SIPp's or uaload's output per trial).
#
#   scripts/load-tcp.sh
#   MODES=t1 SECS=5 FIXED_REPS=3 scripts/load-tcp.sh
#   MODES=tls scripts/load-tcp.sh
set -uo pipefail

MODES=${MODES:-"t1 tn tls"}
SECS=${SECS:-10}
FIXED_RATE=${FIXED_RATE:-500}
FIXED_REPS=${FIXED_REPS:-5}
T1_START=${T1_START:-2000}
TN_START=${TN_START:-250}
TLS_START=${TLS_START:-1000}
TLS_HOLD=${TLS_HOLD:-20ms}
TLS_PORT=${TLS_PORT:-25191}
RMAX=${RMAX:-32000}
PORT=${PORT:-25190}
UAC_PORT=${UAC_PORT:-25160}
OUT=${OUT:-$(mktemp -d /tmp/load-tcp.XXXXXX)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=127.0.0.1:$PORT
TCK=$(getconf CLK_TCK)

command -v sipp >/dev/null || { echo "load-tcp: sipp is not installed (scripts/install-peers.sh)" >&2; exit 2; }
mkdir -p "$OUT"
BIN=$OUT/dial
UALOAD=$OUT/uaload
(cd "$ROOT" && go build -o "$BIN" ./examples/dial && go build -o "$UALOAD" ./internal/interop/uaload) || exit 1

listening() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"; }
busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q . || ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# col FILE NAME: that column of the last line of SIPp's -trace_stat CSV.
col() { awk -F';' -v c="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==c) k=i} END{print $k}' "$1"; }
# kv FILE KEY: the value of KEY=value in uaload's summary line.
kv() { grep '^summary ' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k{print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# trial MODE RATE DIR: one trial against a fresh server; prints its line,
# returns 0 when it passed.
trial() {
	local mode=$1 rate=$2 dir=$3 calls=$(($2 * SECS)) pid i
	mkdir -p "$dir"
	if busy "$PORT" || busy "$UAC_PORT" || busy "$TLS_PORT"; then
		echo "rate=$rate FAIL port $PORT, $TLS_PORT or $UAC_PORT is in use by another program"
		return 1
	fi
	local tlsl=()
	[ "$mode" = tls ] && tlsl=(-tls-listen "127.0.0.1:$TLS_PORT")
	"$BIN" -listen "$TARGET" "${tlsl[@]}" -no-media -quiet >"$dir/server.log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do listening "$PORT" "$pid" && break; sleep 0.1; done
	if ! listening "$PORT" "$pid"; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		echo "rate=$rate FAIL the server did not start (see $dir/server.log)"
		return 1
	fi
	sleep 0.5
	local extra=()
	[ "$mode" = tn ] && extra=(-max_socket 16000)
	local c0 t0 c1 t1
	c0=$(ticks "$pid")
	t0=$(date +%s.%N)
	if [ "$mode" = tls ]; then
		timeout -k 5 $((SECS + 45)) "$UALOAD" -target "sip:service@127.0.0.1:$TLS_PORT;transport=tls" -transport tls \
			-tls-insecure -listen "127.0.0.1:$UAC_PORT" -calls "$calls" -rate "$rate" -hold "$TLS_HOLD" \
			-timeout "$((SECS + 30))s" >"$dir/uaload.out" 2>"$dir/uaload.err"
	else
		timeout -k 5 $((SECS + 45)) sipp -sn uac "$TARGET" -t "$mode" "${extra[@]}" -i 127.0.0.1 -p "$UAC_PORT" \
			-r "$rate" -m "$calls" -timeout "$((SECS + 30))s" -nostdin -buff_size 4194304 \
			-trace_stat -stf "$dir/stat.csv" -fd 1 >"$dir/sipp.out" 2>"$dir/sipp.err"
	fi
	t1=$(date +%s.%N)
	c1=$(ticks "$pid")
	local mem
	mem=$(rss "$pid")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local ok fail el
	if [ "$mode" = tls ]; then
		if ! grep -q '^summary ' "$dir/uaload.out"; then
			echo "rate=$rate FAIL no uaload summary (see $dir/uaload.err)"
			return 1
		fi
		ok=$(kv "$dir/uaload.out" ok)
		fail=$(kv "$dir/uaload.out" failed)
		el=$(kv "$dir/uaload.out" elapsed | awk '{printf "%d", $1+0}') # seconds (uaload prints e.g. 10.02s)
	else
		if [ ! -s "$dir/stat.csv" ]; then
			echo "rate=$rate FAIL no SIPp statistics (see $dir/sipp.err)"
			return 1
		fi
		ok=$(col "$dir/stat.csv" "SuccessfulCall(C)")
		fail=$(col "$dir/stat.csv" "FailedCall(C)")
		el=$(col "$dir/stat.csv" "ElapsedTime(C)" | awk -F: '{print $1*3600+$2*60+int($3)}')
	fi
	local verdict=PASS
	if [ "$ok" != "$calls" ] || [ "$fail" != 0 ] || [ "$el" -gt $((SECS + 2)) ]; then
		verdict=FAIL
	fi
	awk -v r="$rate" -v v="$verdict" -v n="$calls" -v ok="$ok" -v f="$fail" -v el="$el" -v c0="$c0" -v c1="$c1" \
		-v t0="$t0" -v t1="$t1" -v tck="$TCK" -v mem="$mem" 'BEGIN{
		cpu=(c1-c0)/tck; printf "rate=%d %s calls=%d ok=%s failed=%s elapsed_s=%s server_cpu=%.0f%% server_cpu_us_per_call=%.0f server_rss_kb=%s\n",
		r, v, n, ok, f, el, cpu*100/(t1-t0), cpu*1e6/(ok>0?ok:1), mem }'
	sleep 1
	[ "$verdict" = PASS ]
}

echo "# load-tcp: $(date -u +%FT%TZ), $(nproc) cpus, $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*'), $(uptime | sed 's/.*load/load/')"
echo "# output under $OUT"
for mode in $MODES; do
	us=()
	for i in $(seq 1 "$FIXED_REPS"); do
		line=$(trial "$mode" "$FIXED_RATE" "$OUT/$mode-fixed$i")
		echo "$mode fixed: $line"
		us+=("$(grep -o 'server_cpu_us_per_call=[0-9]*' <<<"$line" | cut -d= -f2)")
	done
	echo "$mode: server CPU per call at $FIXED_RATE calls/s: ${us[*]} µs, median $(printf '%s\n' "${us[@]}" | median)"
	r=$T1_START
	[ "$mode" = tn ] && r=$TN_START
	[ "$mode" = tls ] && r=$TLS_START
	lo=0 hi=0
	while :; do
		line=$(trial "$mode" "$r" "$OUT/$mode-r$r") && lo=$r || hi=$r
		echo "$mode search: $line"
		{ [ "$hi" -ne 0 ] || [ "$r" -ge "$RMAX" ]; } && break
		r=$((r * 2 > RMAX ? RMAX : r * 2))
	done
	while [ "$hi" -ne 0 ]; do
		step=$((lo / 20 < 10 ? 10 : lo / 20))
		[ $((hi - lo)) -le "$step" ] && break
		mid=$(((lo + hi) / 20 * 10))
		{ [ "$mid" -le "$lo" ] || [ "$mid" -ge "$hi" ]; } && break
		line=$(trial "$mode" "$mid" "$OUT/$mode-r$mid") && lo=$mid || hi=$mid
		echo "$mode search: $line"
	done
	echo "$mode: highest rate with every call successful: $lo calls/s"
done
