#!/usr/bin/env bash
# Rebuild benchmark of several revisions side by side, on a noisy machine:
# builds each revision's projections test binary, runs them alternately
# (ROUNDS rounds, three runs per process), and prints every run and the
# medians of events/s and events/CPU-s per revision.
#
#   scripts/rebuild-series.sh ROUNDS REV...     e.g. scripts/rebuild-series.sh 6 ea3ae18 HEAD
#
# The fixtures (a 1M-event log, built once, about a minute) are kept in
# $VIDEOLOGUE_BENCH_FIXTURES, /tmp/vl-bench-fixtures by default.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 ROUNDS REV..." >&2
  exit 2
fi
rounds=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
export VIDEOLOGUE_BENCH_FIXTURES=${VIDEOLOGUE_BENCH_FIXTURES:-/tmp/vl-bench-fixtures}
work=$(mktemp -d)
trap 'for d in "$work"/wt-*; do [ -d "$d" ] && git -C "$repo" worktree remove --force "$d"; done; rm -rf "$work"' EXIT

for rev in "$@"; do
  git -C "$repo" worktree add --detach -q "$work/wt-$rev" "$rev"
  (cd "$work/wt-$rev" && go test -c -o "$work/$rev.test" ./projections)
done

out=$work/runs.txt
for r in $(seq "$rounds"); do
  for rev in "$@"; do
    echo "round $r $rev load $(cut -d' ' -f1 /proc/loadavg)" >&2
    (cd "$repo/projections" && "$work/$rev.test" -test.run '^$' -test.bench 'BenchmarkRebuild$' \
      -test.benchtime 1x -test.count 3) | grep '^BenchmarkRebuild' | sed "s/^/$rev /" | tee -a "$out"
  done
done

# Columns: rev, name, N, ns, "ns/op", events/CPU-s, its unit, events/s, its unit.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for rev in "$@"; do
  n=$(awk -v rev="$rev" '$1 == rev' "$out" | wc -l)
  ev=$(awk -v rev="$rev" '$1 == rev { print $8 }' "$out" | median)
  cpu=$(awk -v rev="$rev" '$1 == rev { print $6 }' "$out" | median)
  echo "$rev: $n runs, median $ev events/s, $cpu events/CPU-s"
done
