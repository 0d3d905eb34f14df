#!/usr/bin/env bash
# Mutation check: applies each one-line mutation of scripts/mutations.txt
# to a temporary copy of the working tree, runs the tests it names and
# reports KILLED or SURVIVED; exits non-zero if any mutation survived.
# Arguments go to internal/tools/mutate (-list, -timeout, -match, -v).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/tools/mutate "$@"
