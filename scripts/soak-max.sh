#!/usr/bin/env bash
# soak-max.sh: the highest call rate the soak's setup sustains (issue 21
# §4 asks for the soak at half of it). Each trial is scripts/soak.sh for
# TRIAL seconds at one rate (examples/dial answering with a tone, SIPp's
# uac echoing the RTP, calls of CALL_MS); a trial passes when SIPp
# completed every call with none failed, retransmitted on at most
# RETRANS_PERMILLE per mille of the calls, and dial lost at most
# RTP_LOSS_PERMILLE per mille of the RTP packets it expected. The rate
# starts at START and doubles until a trial fails, then is bisected down
# to STEP_PCT per cent; the last line is MAX_RATE=N.
#
# Settings (environment): TRIAL (30), START (50), RMAX (3200), STEP_PCT
# (5), RETRANS_PERMILLE (1), RTP_LOSS_PERMILLE (1), CALL_MS (3000), OUT
# (soak-max-out: one directory per trial); VIA=proxy measures the calls
# through examples/proxy, as soak.sh does with it.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIAL=${TRIAL:-30}
START=${START:-50}
RMAX=${RMAX:-3200}
STEP_PCT=${STEP_PCT:-5}
RETRANS_PERMILLE=${RETRANS_PERMILLE:-1}
RTP_LOSS_PERMILLE=${RTP_LOSS_PERMILLE:-1}
export CALL_MS=${CALL_MS:-3000}
OUT=${OUT:-soak-max-out}
mkdir -p "$OUT"

# trial RATE: run one, print its line, return 0 when it passes.
trial() {
	local rate=$1 dir="$OUT/rate-$1"
	rm -rf "$dir"
	RATE=$rate OUT=$dir COOLDOWN=0 INTERVAL=5 ./scripts/soak.sh "$TRIAL" >"$dir.log" 2>&1 || true
	local stat=$dir/sipp_stat.csv csv=$dir/soak.csv
	if [ ! -s "$stat" ] || [ ! -s "$csv" ]; then
		echo "  rate=$rate FAIL (no statistics; see $dir.log)"
		return 1
	fi
	local ok failed retrans rx lost
	read -r ok failed retrans < <(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ ok = $col["SuccessfulCall(C)"]; bad = $col["FailedCall(C)"]; re = $col["Retransmissions(C)"] }
		END { print ok + 0, bad + 0, re + 0 }' "$stat")
	read -r rx lost < <(awk -F, 'END { print $11 + 0, $12 + 0 }' "$csv")
	local calls=$((rate * TRIAL)) verdict=PASS
	if [ "$ok" -ne "$calls" ] || [ "$failed" -ne 0 ] ||
		[ $((retrans * 1000)) -gt $((RETRANS_PERMILLE * calls)) ] ||
		[ $((lost * 1000)) -gt $((RTP_LOSS_PERMILLE * (rx + lost))) ]; then
		verdict=FAIL
	fi
	echo "  rate=$rate $verdict calls=$calls ok=$ok failed=$failed retrans=$retrans rtp_received=$rx rtp_lost=$lost load=$(cut -d' ' -f1 /proc/loadavg)"
	[ "$verdict" = PASS ]
}

echo "soak-max: trials of ${TRIAL}s, calls of ${CALL_MS} ms with RTP both ways"
good=0
bad=0
rate=$START
while [ "$rate" -le "$RMAX" ]; do
	if trial "$rate"; then good=$rate; rate=$((rate * 2)); else bad=$rate; break; fi
done
if [ "$bad" -eq 0 ]; then
	echo "MAX_RATE=$good (the highest tried)"
	exit 0
fi
while [ $((bad - good)) -gt $((good * STEP_PCT / 100)) ] && [ $((bad - good)) -gt 1 ]; do
	mid=$(((good + bad) / 2))
	if trial "$mid"; then good=$mid; else bad=$mid; fi
done
echo "MAX_RATE=$good"
