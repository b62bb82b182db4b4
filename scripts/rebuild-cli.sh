#!/usr/bin/env bash
# `videologue projections rebuild` of several revisions side by side, each
# run in a fresh process, as a user runs it: builds each revision's
# binary, rebuilds the million-event fixture's read models with them in
# turn (the order rotated each round, so that no revision always follows
# the same one), and prints every run and the medians of events/s, system
# time and peak RSS per revision.
#
#   scripts/rebuild-cli.sh ROUNDS REV...     e.g. PAUSE=8 scripts/rebuild-cli.sh 8 02e6777 HEAD
#
# PAUSE (seconds, default 0) is a wait before each run. In a VM that hands
# freed memory back to its host (free page reporting), memory a process
# touches first costs far more once the host has it back, a few seconds
# after the last process let it go: PAUSE=8 measures that cold case, a
# user's first run; PAUSE=0 a run right after another.
#
# The log is a copy of the fixture that scripts/rebuild-series.sh builds
# (in $VIDEOLOGUE_BENCH_FIXTURES, /tmp/vl-bench-fixtures by default): run
# that first.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ROUNDS REV..." >&2
  exit 2
fi
rounds=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
fixture=${VIDEOLOGUE_BENCH_FIXTURES:-/tmp/vl-bench-fixtures}/log-1000-100-1000000
if [ ! -f "$fixture/complete" ]; then
  echo "no fixture at $fixture: run scripts/rebuild-series.sh first" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'for d in "$work"/wt-*; do [ -d "$d" ] && git -C "$repo" worktree remove --force "$d"; done; rm -rf "$work"' EXIT

revs=("$@")
for rev in "${revs[@]}"; do
  git -C "$repo" worktree add --detach -q "$work/wt-$rev" "$rev"
  (cd "$work/wt-$rev" && go build -o "$work/$rev.bin" ./cmd/videologue)
done
cp -r "$fixture" "$work/data"

out=$work/runs.txt
for r in $(seq "$rounds"); do
  n=${#revs[@]}
  for j in $(seq 0 $((n - 1))); do
    rev=${revs[$(((j + r) % n))]}
    rm -rf "$work/data/readmodels"
    sleep "${PAUSE:-0}"
    line=$( { /usr/bin/time -f "time %e %U %S %M" "$work/$rev.bin" projections rebuild --data "$work/data" | tr '\r' '\n' | tail -1; } 2>&1 )
    evs=$(echo "$line" | grep -o '([0-9]* events/s' | tr -d '(' | cut -d' ' -f1)
    # Columns: rev, events/s, "time", wall, user, system (s), peak RSS (KB).
    echo "$rev $evs $(echo "$line" | grep '^time')" | tee -a "$out"
  done
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for rev in "${revs[@]}"; do
  col() { awk -v rev="$rev" -v c="$1" '$1 == rev { print $c }' "$out" | median; }
  echo "$rev: $(grep -c "^$rev " "$out") runs, median $(col 2) events/s, system $(col 6) s, user $(col 5) s, peak RSS $(col 7) KB"
done
