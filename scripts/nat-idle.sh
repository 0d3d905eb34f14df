#!/usr/bin/env bash
# nat-idle.sh [IDLE]: how many of 100 incoming calls reach a UA behind a
# NAT after IDLE (default 10m) without traffic but its default keepalive
# (issue 14, "numbers to report"). Not run in CI: it takes IDLE twice.
#
# For each NAT of the lab in internal/interop/natns_test.go (network
# namespaces, iptables MASQUERADE; port-restricted cone, then symmetric
# with --random), internal/interop's TestNATIdleCalls registers alice
# (examples/dial, -stun, no -keepalive: 25 s STUN keepalives on UDP) at
# Kamailio from behind the NAT, waits IDLE, and has SIPp on the public side
# call her CALLS times through Kamailio. Each run prints one
# "NAT-IDLE RESULT nat=... calls=... reached=... failed=..." line; the
# cone run fails unless every call reached her.
#
# Settings (environment): CALLS (100), UDP_TIMEOUT (the router's conntrack
# UDP timeout in seconds, 30: Linux's default), KINDS ("cone symmetric"),
# OUT (nat-idle-out: the go test logs). Needs root, ip, iptables, coturn,
# kamailio and sipp (scripts/install-peers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE=${1:-10m}
CALLS=${CALLS:-100}
UDP_TIMEOUT=${UDP_TIMEOUT:-30}
KINDS=${KINDS:-cone symmetric}
OUT=${OUT:-nat-idle-out}
mkdir -p "$OUT"

status=0
for kind in $KINDS; do
	log="$OUT/$kind.log"
	echo "== $kind NAT: $CALLS calls after $IDLE idle (conntrack UDP timeout ${UDP_TIMEOUT}s); log in $log"
	if ! DIALTONE_NAT_IDLE=$IDLE DIALTONE_NAT_KIND=$kind DIALTONE_NAT_CALLS=$CALLS DIALTONE_NAT_UDP_TIMEOUT=$UDP_TIMEOUT \
		go test -count=1 -tags interop,natidle -timeout 0 -run '^TestNATIdleCalls$' -v ./internal/interop/ >"$log" 2>&1; then
		status=1
	fi
	if ! grep -h 'NAT-IDLE RESULT' "$log" | sed 's/^ *natidle_test.go:[0-9]*: //'; then
		echo "no result: see $log" >&2
		tail -n 30 "$log" >&2
		status=1
	fi
done
exit $status
