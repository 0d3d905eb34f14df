#!/usr/bin/env bash
# fuzz-long.sh: runs every fuzz target of the module (every `func FuzzX` in
# a _test.go file), one after the other, for FUZZTIME each (default 30m;
# `make fuzz-long FUZZTIME=30s` for a quick pass). A failing input is
# written by go test to the package's testdata/fuzz/FuzzX/ directory: fix
# the bug, then commit that file; from then on it runs in every `go test`
# (make unit) as a regression test. Exits 1 when any target failed, after
# listing the failures and the new corpus files.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30m}

targets=$(grep -rE --include='*_test.go' -l '^func Fuzz[A-Za-z0-9_]*\(' . | sort | while read -r file; do
	dir=$(dirname "$file")
	grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed "s|^func |$dir |"
done)
n=$(printf '%s\n' "$targets" | grep -c .)
echo "fuzz-long: $n targets, $FUZZTIME each"
failed=()
i=0
while read -r dir name; do
	[ -n "$name" ] || continue
	i=$((i + 1))
	echo "[$i/$n] $dir $name"
	if ! $GO test "$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME"; then
		failed+=("$dir $name")
	fi
done <<<"$targets"

new=$(git status --porcelain --untracked-files=all -- '*/testdata/fuzz/*' 2>/dev/null)
if [ -n "$new" ]; then
	echo "new fuzz corpus entries (commit them once fixed, as regression tests):"
	echo "$new"
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz-long: ${#failed[@]} of $n targets failed:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
echo "fuzz-long: all $n targets ran $FUZZTIME without a failure"
