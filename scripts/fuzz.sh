#!/usr/bin/env bash
# Runs every go fuzz target of the module for a short while each
# (default 50000 executions; the first argument overrides, as -fuzztime
# takes it). Their seed corpora under testdata/fuzz also run as ordinary
# tests in every `go test`.
#
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator
# can fail a target with a bare "context deadline exceeded" at the end
# of the time on a busy machine, having found nothing (go.dev/issue/75804,
# fixed in Go 1.27). CI failed so on FuzzChunk; a count has no deadline
# to race.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-50000x}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "== fuzz $pkg $name ($t)"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg"
  done
done
