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
	local status=$?
	if [ "$status" -ne 0 ]; then
		for i in 1 2 3; do
			echo "== node $i log (exit status $status):" >&2
			tail -5 "$WORK/node-$i.log" >&2 || true
		done
	fi
	# When the live nodes' sweeps closed the dead node's viewings: the
	# presence drop the watcher saw is that plus its own lag.
	grep -h "closed viewings of dead nodes" "$WORK"/node-*.log 2>/dev/null || true
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
for i in 0 1 2; do
	until curl -fs "${ADDRS[i]}/healthz" >/dev/null; do
		kill -0 "${PIDS[i]}" 2>/dev/null || { echo "node $((i + 1)) did not start" >&2; exit 1; }
		sleep 0.2
	done
done
NODES=$(IFS=,; echo "${ADDRS[*]}")
echo "nodes: $NODES (pids ${PIDS[*]}), store $STORE, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

# ticks prints the CPU time (user+system, clock ticks) each pid given has
# taken, summed.
ticks() {
	local pid n=0 t
	for pid in "$@"; do
		# Fields 14 and 15; the command before them may hold spaces.
		t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')
		n=$((n + ${t:-0}))
	done
	echo "$n"
}

# backends lists the PostgreSQL server processes serving the nodes: those
# whose client port is one of the nodes' connections to the database.
backends() {
	[ "$STORE" = postgres ] || return 0
	local ports
	ports=$(ss -tnpH state established '( dport = :5432 )' 2>/dev/null |
		grep -E "pid=($(IFS='|'; echo "${PIDS[*]}"))," | awk '{split($3, a, ":"); print a[2]}' | paste -sd,)
	[ -n "$ports" ] || return 0
	psql "$URL" -Atc "SELECT pid FROM pg_stat_activity WHERE client_port IN ($ports)" | paste -sd' '
}

# load runs vlload with "$@" and, every 5 s while it runs, prints the CPU
# each process took in that interval, in % of one core: the three nodes,
# vlload, the nodes' PostgreSQL backends, and the whole machine's busy
# time (other users' included), with the load average.
load() {
	"$WORK/vlload" "$@" &
	local vl=$! hz t0 t1 busy0 busy1 pid n pg line
	local -A prev now
	hz=$(getconf CLK_TCK)
	sample() {
		now=()
		for pid in "${PIDS[@]}" "$vl" $(backends); do
			if [ -r "/proc/$pid/stat" ]; then now[$pid]=$(ticks "$pid"); fi
		done
		busy1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
		t1=$(date +%s%N)
	}
	# pct is the % of one core pid took since the last sample; a pid
	# that has just appeared counts from 0, one gone counts nothing.
	pct() {
		local d=$((${now[$1]:-0} - ${prev[$1]:-0}))
		[ "${now[$1]:-}" ] && [ "$d" -gt 0 ] || d=0
		echo $((d * 100 * 1000000000 / hz / (t1 - t0)))
	}
	sample
	while kill -0 "$vl" 2>/dev/null; do
		prev=()
		for pid in "${!now[@]}"; do prev[$pid]=${now[$pid]}; done
		t0=$t1 busy0=$busy1
		sleep 5
		sample
		line="cpu % of a core:"
		n=1
		for pid in "${PIDS[@]}"; do
			line+=" n$n=$(pct "$pid")"
			n=$((n + 1))
		done
		pg=0
		for pid in "${!now[@]}"; do
			case " ${PIDS[*]} $vl " in *" $pid "*) ;; *) pg=$((pg + $(pct "$pid"))) ;; esac
		done
		echo "$line vlload=$(pct "$vl") postgres=$pg machine=$(((busy1 - busy0) * 100 * 1000000000 / hz / (t1 - t0))) load $(cut -d' ' -f1 /proc/loadavg)"
	done
	wait "$vl" || echo "vlload exited with $?"
}

echo "== delivery: $USERS viewers over 3 nodes, $POSTS posts at $RATE/s from $POSTERS posters"
load --url "$NODES" --users "$USERS" --posts "$POSTS" --rate "$RATE" --posters "$POSTERS" --connects 500 --settle 120s

echo "== the same, node 3 (pid ${PIDS[2]}) SIGKILLed halfway"
load --url "$NODES" --users "$USERS" --posts "$POSTS" --rate "$RATE" --posters "$POSTERS" --connects 500 --settle 120s \
	--kill-pid "${PIDS[2]}" --kill-node 2 --drain 30s
