#!/usr/bin/env bash
# Three `videologue serve` nodes on one shared store, loaded by cmd/vlload
# across all three: a delivery run (every viewer must end exact), then the
# same load with the third node SIGKILLed halfway through the posts (its
# viewers must rejoin on the other two and end exact, and leave the
# presence list within the documented bound). See docs/BENCHMARKS.md.
#
#   scripts/multinode.sh                      PostgreSQL at $VIDEOLOGUE_POSTGRES_URL
#   STORE=kurrentdb scripts/multinode.sh      KurrentDB at $KURRENTDB_URL
#
# USERS (viewers, default 6000), POSTS (default 1000), RATE (posts per
# second in all, default 100) and POSTERS (default 6: two per node) shape
# the load. With PostgreSQL the nodes use a schema of their own, dropped at
# the end (psql needed). The nodes run with --load-test (dev only).
# VIDEOLOGUE_BIN runs that server binary instead of one built from here
# (to compare with another revision).
set -euo pipefail
cd "$(dirname "$0")/.."

STORE=${STORE:-postgres}
USERS=${USERS:-6000}
POSTS=${POSTS:-1000}
RATE=${RATE:-100}
POSTERS=${POSTERS:-6}
PORT=${PORT:-4700}
case $STORE in
postgres)
	URL=${VIDEOLOGUE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
	SCHEMA=vlmn_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	STORE_ARGS=(--store postgres --store-url "$URL" --store-schema "$SCHEMA")
	;;
kurrentdb)
	URL=${KURRENTDB_URL:?set KURRENTDB_URL, e.g. kurrentdb://localhost:2113?tls=false}
	STORE_ARGS=(--store kurrentdb --store-url "$URL")
	;;
*)
	echo "STORE must be postgres or kurrentdb" >&2
	exit 2
	;;
esac

# 6,000 viewers need as many descriptors in vlload, and a third of them in
# each node.
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d)
if [ -n "${VIDEOLOGUE_BIN:-}" ]; then
	cp "$VIDEOLOGUE_BIN" "$WORK/videologue"
else
	go build -o "$WORK/videologue" ./cmd/videologue
fi
go build -o "$WORK/vlload" ./cmd/vlload

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$STORE" = postgres ]; then
		psql "$URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

ADDRS=()
for i in 1 2 3; do
	port=$((PORT + i))
	"$WORK/videologue" serve --load-test --secret multinode-load-test-secret \
		"${STORE_ARGS[@]}" --node "n$i" --addr "127.0.0.1:$port" --data "$WORK/data-$i" \
		>"$WORK/node-$i.log" 2>&1 &
	PIDS+=($!)
	ADDRS+=("http://127.0.0.1:$port")
done
for a in "${ADDRS[@]}"; do
	until curl -fs "$a/healthz" >/dev/null; do
		sleep 0.2
	done
done
NODES=$(IFS=,; echo "${ADDRS[*]}")
echo "nodes: $NODES (pids ${PIDS[*]}), store $STORE, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== delivery: $USERS viewers over 3 nodes, $POSTS posts at $RATE/s from $POSTERS posters"
"$WORK/vlload" --url "$NODES" --users "$USERS" --posts "$POSTS" --rate "$RATE" --posters "$POSTERS" --connects 500

echo "== the same, node 3 (pid ${PIDS[2]}) SIGKILLed halfway"
"$WORK/vlload" --url "$NODES" --users "$USERS" --posts "$POSTS" --rate "$RATE" --posters "$POSTERS" --connects 500 \
	--kill-pid "${PIDS[2]}" --kill-node 2 --drain 30s
