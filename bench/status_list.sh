#!/usr/bin/env bash
# The status list's cost (issue 16's benchmark): time to build and sign it
# and its size, on a copy of a seeded library with 1% of its licences
# revoked.
#
#   bench/status_list.sh [N ...]      default: 10000 1000000
#
# Uses bench/run.sh's seeds (bench/work/seed-N, made by `bench/run.sh
# --sizes N` first; a seed whose stamp is older than the code is used
# as it is: the list reads only ids, types, issuers, serials and
# statuses).  The revocations are status_events rows written straight
# into the copy with sqlite3, one licence in a hundred drawn at random:
# a fixture, so that the list holds the 2s a real library would have.
# Each size is timed RUNS times (default 5) with `certsvc status-list`
# (opening the store, reading every licence, building, compressing,
# signing, writing), after one run that warms the page cache; the median
# of the process's user CPU time is printed, with the list's size, against
# the targets (< 1 s and < 200 KB at 1M).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BUILD=${BUILD:-$ROOT/build}
WORK=$BENCH/work
SIZES=${*:-10000 1000000}
RUNS=${RUNS:-5}

printf '| licences | revoked | build+sign, user CPU, median of %s | list bytes | target |\n' "$RUNS"
printf '|--:|--:|--:|--:|---|\n'
for n in $SIZES; do
	src=$WORK/seed-$n
	[ -f "$src/certsvc.db" ] || { echo "no seed in $src: bench/run.sh --sizes $n first" >&2; exit 2; }
	run=$WORK/statuslist-$n
	rm -rf "$run"
	mkdir -p "$run"
	cp -a "$src/keys" "$run/keys"
	cp "$src/certsvc.db" "$run/certsvc.db"
	# Migrate the copy first (an old seed), so the timing is the list's.
	"$BUILD/certsvc" client list --db "$run/certsvc.db" > /dev/null
	sqlite3 "$run/certsvc.db" "INSERT INTO status_events (licence_id, at, actor, action, kind, reason)
	    SELECT id, CAST(strftime('%s','now') AS INTEGER), 'bench', 'revoke', 'revoked', 'bench fixture'
	    FROM licences WHERE abs(random()) % 100 = 0;"
	revoked=$(sqlite3 "$run/certsvc.db" "SELECT count(*) FROM status_events WHERE actor = 'bench'")
	# User CPU time, not wall: the machine is shared, and other jobs'
	# load stretches wall time (and the page cache's reads show as
	# system time).  One run first to warm the page cache.
	"$BUILD/certsvc" status-list --db "$run/certsvc.db" --keys "$run/keys" \
	    --templates "$ROOT/templates" > "$run/list.cose"
	times=()
	for i in $(seq "$RUNS"); do
		/usr/bin/time -f '%U %S %e' -o "$run/time" "$BUILD/certsvc" status-list \
		    --db "$run/certsvc.db" --keys "$run/keys" --templates "$ROOT/templates" \
		    > "$run/list.cose"
		read -r u sy wall < "$run/time"
		times+=("$(awk -v u="$u" 'BEGIN { printf "%d", u * 1000 }')")
		echo "  run $i: user $u s, sys $sy s, wall $wall s" >&2
	done
	med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
	bytes=$(stat -c %s "$run/list.cose")
	printf '| %s | %s | %s ms (%s) | %s | %s |\n' "$n" "$revoked" "$med" "${times[*]}" "$bytes" \
	    "$([ "$n" -ge 1000000 ] && echo '< 1,000 ms, < 204,800 bytes' || echo '—')"
	rm -rf "$run"
done
