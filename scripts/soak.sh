#!/usr/bin/env bash
# soak.sh DURATION: a long run of examples/dial under SIPp calls with media
# (issue 21 §4). DURATION is 120, 2m or 1h.
#
# SIPp's built-in uac scenario places calls at RATE per second for
# DURATION, each lasting CALL_MS; dial answers each and plays a 2 s tone
# (-play), which SIPp echoes back (-rtp_echo), so both directions carry RTP.
# Every INTERVAL seconds the script samples dial's RSS and open file
# descriptors (/proc) and its Go heap, goroutines, last GC pauses and calls
# (the -metrics endpoint) into OUT/soak.csv; it samples once before the
# load (baseline) and for COOLDOWN seconds after it (the transactions'
# 32 s linger, then the descriptors must be back to the baseline).
# internal/soakplot then draws OUT/soak.png and applies the pass criteria:
# after WARMUP seconds, RSS and goroutines grow less than 5 % over the run;
# open descriptors back to the baseline; zero failed calls (dial's counter
# and SIPp's). Exit status 0 only when everything holds.
#
# VIA=proxy soaks examples/proxy instead: dial registers with it (digest)
# and SIPp calls dial through it (scripts/proxy-load/uac.xml, following the
# proxy's Record-Route), RTP going straight between them; the samples of
# RSS, descriptors, heap, goroutines and GC pauses are then the proxy's
# (its -metrics), the call counts still dial's.
#
# Settings (environment): RATE (calls/s, default 50; the issue asks for
# half the measured maximum), CALL_MS (3000), INTERVAL (10), WARMUP (half
# the duration, at most 300: the Go heap and RSS take a minute or two to
# reach their level), COOLDOWN (45), OUT (soak-out), VIA (dial or proxy).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 DURATION   (seconds, or Nm, Nh: 120, 2m, 1h)" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in
*h) DUR=$((${1%h} * 3600)) ;;
*m) DUR=$((${1%m} * 60)) ;;
*s) DUR=${1%s} ;;
*[!0-9]*) usage ;;
*) DUR=$1 ;;
esac
[ "$DUR" -gt 0 ] || usage

RATE=${RATE:-50}
CALL_MS=${CALL_MS:-3000}
INTERVAL=${INTERVAL:-10}
WARMUP=${WARMUP:-$((DUR / 2 < 300 ? DUR / 2 : 300))}
COOLDOWN=${COOLDOWN:-45}
OUT=${OUT:-soak-out}
GO=${GO:-go}
VIA=${VIA:-dial}
case "$VIA" in dial | proxy) ;; *) echo "soak: VIA=$VIA: want dial or proxy" >&2; exit 2 ;; esac
for p in sipp sox curl python3; do
	command -v "$p" >/dev/null || { echo "soak: $p is not installed (make peers)" >&2; exit 1; }
done

mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
echo "soak: building dial, proxy and soakplot"
$GO build -o "$OUT/bin/dial" ./examples/dial
$GO build -o "$OUT/bin/proxy" ./examples/proxy
$GO build -o "$OUT/bin/soakplot" ./internal/soakplot
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$OUT/tone.wav" synth 2 sine 440 vol 0.3

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# freeport: a loopback port free for UDP now.
freeport() { python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# waitfor FILE PATTERN...: until FILE has a line matching each (10 s).
waitfor() {
	local f=$1 p ok
	shift
	for _ in $(seq 100); do
		ok=1
		for p in "$@"; do grep -q "$p" "$f" 2>/dev/null || ok=0; done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

DIAL_ARGS=()
if [ "$VIA" = proxy ]; then
	PROXY_SIP=127.0.0.1:$(freeport)
	"$OUT/bin/proxy" -domain 127.0.0.1 -listen "$PROXY_SIP" -user dial:soak-secret -auth none \
		-metrics 127.0.0.1:0 >"$OUT/proxy.out" 2>"$OUT/proxy.err" &
	PROXY=$!
	pids+=("$PROXY")
	waitfor "$OUT/proxy.out" "listening udp" "metrics http" ||
		{ echo "soak: proxy did not start:"; cat "$OUT/proxy.out" "$OUT/proxy.err"; exit 1; }
	PROXY_METRICS=$(awk '/metrics http/ {print $2; exit}' "$OUT/proxy.out")
	DIAL_ARGS=(-aor sip:dial@127.0.0.1 -pass soak-secret -registrar "sip:$PROXY_SIP")
fi
"$OUT/bin/dial" -listen 127.0.0.1:0 -metrics 127.0.0.1:0 -quiet -play "$OUT/tone.wav" "${DIAL_ARGS[@]}" \
	>"$OUT/dial.out" 2>"$OUT/dial.err" &
DIAL=$!
pids+=("$DIAL")
waitfor "$OUT/dial.out" "listening udp" "metrics http" || true
SIP=$(awk '/listening udp/ {print $4; exit}' "$OUT/dial.out")
METRICS=$(awk '/metrics http/ {print $3; exit}' "$OUT/dial.out")
[ -n "$SIP" ] && [ -n "$METRICS" ] || { echo "soak: dial did not start:"; cat "$OUT/dial.out" "$OUT/dial.err"; exit 1; }
echo "soak: dial pid $DIAL at $SIP, metrics $METRICS"
# What is sampled: the process (RSS, descriptors) and its runtime metrics.
SAMPLED=$DIAL
RUNTIME_METRICS=$METRICS
TARGET=$SIP
SIPP_SCENARIO=(-sn uac)
if [ "$VIA" = proxy ]; then
	waitfor "$OUT/proxy.out" "registered aor=sip:dial@127.0.0.1 contacts=1" ||
		{ echo "soak: dial did not register with the proxy:"; cat "$OUT/proxy.out" "$OUT/dial.out" "$OUT/dial.err"; exit 1; }
	echo "soak: proxy pid $PROXY at $PROXY_SIP, metrics $PROXY_METRICS; dial registered with it"
	SAMPLED=$PROXY
	RUNTIME_METRICS=$PROXY_METRICS
	TARGET=$PROXY_SIP
	SIPP_SCENARIO=(-sf scripts/proxy-load/uac.xml -s dial)
fi

CSV=$OUT/soak.csv
echo "time_s,phase,rss_bytes,heap_inuse_bytes,goroutines,open_fds,gc_pause_max_s,calls_active,calls_established,call_failures,rtp_packets_received,rtp_packets_lost" >"$CSV"
START=$(date +%s.%N)
# sample PHASE: one CSV row.
sample() {
	local now rss fds m
	now=$(awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
	rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$SAMPLED/status")
	fds=$(find "/proc/$SAMPLED/fd" -mindepth 1 -maxdepth 1 | wc -l)
	m=$(curl -sf --max-time 5 "$METRICS") || { echo "soak: metrics scrape failed" >&2; return 1; }
	if [ "$RUNTIME_METRICS" != "$METRICS" ]; then
		# The runtime's figures from the sampled process, the calls' from dial.
		m="$(curl -sf --max-time 5 "$RUNTIME_METRICS" | grep -E '^go_')
$(grep -v -E '^go_' <<<"$m")" || { echo "soak: metrics scrape failed" >&2; return 1; }
	fi
	awk -v t="$now" -v ph="$1" -v rss="$rss" -v fds="$fds" '
		/^go_memstats_heap_inuse_bytes / { heap = $2 }
		/^go_goroutines / { gor = $2 }
		/^go_gc_duration_seconds\{quantile="1"\} / { gc = $2 }
		/^dialtone_calls_active / { act = $2 }
		/^dialtone_calls_established_total / { est = $2 }
		/^dialtone_call_failures_total\{/ { fail += $2 }
		/^dialtone_rtp_packets_received_total / { rx = $2 }
		/^dialtone_rtp_packets_lost_total / { lost = $2 }
		END { printf "%s,%s,%d,%d,%d,%d,%g,%d,%d,%d,%d,%d\n", t, ph, rss, heap, gor, fds, gc + 0, act, est, fail, rx, lost }
	' <<<"$m" >>"$CSV"
}

sample baseline
CALLS=$((RATE * DUR))
SIPP_PORT=$(freeport)
MEDIA_PORT=$(freeport)
echo "soak: $CALLS calls at $RATE/s for ${DUR}s, ${CALL_MS} ms each, sampling every ${INTERVAL}s"
sipp "${SIPP_SCENARIO[@]}" -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" -t u1 -nostdin -rtp_echo \
	-d "$CALL_MS" -r "$RATE" -m "$CALLS" -timeout $((DUR + 120)) -timeout_error \
	-trace_stat -stf "$OUT/sipp_stat.csv" -fd "$INTERVAL" \
	-trace_screen -screen_file "$OUT/sipp_screen.log" -trace_err -error_file "$OUT/sipp_errors.log" \
	"$TARGET" >"$OUT/sipp.out" 2>&1 &
SIPP=$!
pids+=("$SIPP")
LOAD_START=$(date +%s)
# Samples while SIPp starts calls are the load; once it has started the
# last one, what follows (its last calls ending) is already after.
while kill -0 "$SIPP" 2>/dev/null; do
	sleep "$INTERVAL"
	if kill -0 "$SIPP" 2>/dev/null; then
		if [ $(($(date +%s) - LOAD_START)) -lt "$DUR" ]; then sample load; else sample after; fi
	fi
done
SIPP_RC=0
wait "$SIPP" || SIPP_RC=$?
END_LOAD=$(date +%s)
while [ $(($(date +%s) - END_LOAD)) -lt "$COOLDOWN" ]; do
	sleep "$INTERVAL"
	sample after
done

kill -TERM "$DIAL"
DIAL_RC=0
wait "$DIAL" || DIAL_RC=$?
PROXY_RC=0
if [ "$VIA" = proxy ]; then
	kill -TERM "$PROXY"
	wait "$PROXY" || PROXY_RC=$?
fi
pids=()

fail=0
# SIPp's last statistics row: successful and failed calls.
read -r OK FAILED < <(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{ ok = $col["SuccessfulCall(C)"]; bad = $col["FailedCall(C)"] } END { print ok + 0, bad + 0 }' "$OUT/sipp_stat.csv")
echo "soak: SIPp: $OK successful, $FAILED failed of $CALLS (exit status $SIPP_RC)"
if [ "$SIPP_RC" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "$OK" -ne "$CALLS" ]; then
	echo "FAIL: SIPp saw failed calls"
	fail=1
fi
if grep -q "panic:" "$OUT/dial.err"; then
	echo "FAIL: dial panicked (see $OUT/dial.err)"
	fail=1
fi
if [ "$DIAL_RC" -ne 0 ]; then
	echo "FAIL: dial exit status $DIAL_RC after SIGTERM"
	fail=1
fi
if [ "$VIA" = proxy ]; then
	if grep -q "panic:" "$OUT/proxy.err"; then
		echo "FAIL: the proxy panicked (see $OUT/proxy.err)"
		fail=1
	fi
	if [ "$PROXY_RC" -ne 0 ]; then
		echo "FAIL: proxy exit status $PROXY_RC after SIGTERM"
		fail=1
	fi
fi
TITLE="dialtone soak: dial, SIPp $RATE calls/s with RTP for ${DUR}s"
[ "$VIA" = proxy ] && TITLE="dialtone soak: examples/proxy, SIPp $RATE calls/s through it to dial, RTP, ${DUR}s"
"$OUT/bin/soakplot" -csv "$CSV" -png "$OUT/soak.png" -warmup "${WARMUP}s" -title "$TITLE" || fail=1
echo "soak: CSV $CSV, chart $OUT/soak.png"
exit $fail
