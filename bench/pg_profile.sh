#!/usr/bin/env bash
# bench/pg_profile.sh: what one request costs PostgreSQL, statement by
# statement (bench/README.md, "PostgreSQL").
#
#   bench/pg_profile.sh [SIZE [SECONDS]]
#
# It starts a copy of the cluster bench/run.sh --backends postgresql
# seeded (bench/work/pg-seed-SIZE, default the smallest) with
# pg_stat_statements loaded, serves it with the Release certsvc of
# build-bench/, and drives fetch, lookup, verify and issue for SECONDS
# each (default 4) with wrk as run.sh does.  For each scenario it prints
# the statements PostgreSQL ran, a request's share of each (calls and
# server time), and the CPU a request cost certsvc and the cluster.
# Not a benchmark: pg_stat_statements has a cost of its own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
WORK=${BENCH_WORK:-$BENCH/work}
SIZE=${1:-$(ls -d "$WORK"/pg-seed-* | sed 's/.*pg-seed-//' | sort -n | head -1)}
DUR=${2:-4}
SRC=$WORK/pg-seed-$SIZE
RUN=$WORK/pg-profile
CLK_TCK=$(getconf CLK_TCK)
log() { echo "[pg_profile] $*" >&2; }
# shellcheck source=bench/pg.sh
. "$BENCH/pg.sh"
# shellcheck source=bench/cores.sh
. "$BENCH/cores.sh"
SPID=
trap pg_profile_stop EXIT
pg_profile_start "$RUN" "$SRC" "$BUILD/certsvc" ""

one() {
	local name=$1 script=$2 out n t0 t1 p0 p1
	shift 2
	pg_psql "SELECT pg_stat_statements_reset()" >/dev/null
	t0=$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")
	p0=$(pg_cpu_ticks)
	out=$("${CLIENT[@]}" wrk -t1 -c64 -d"${DUR}s" -s "$BENCH/lua/$script" "$URL" -- "$@")
	t1=$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")
	p1=$(pg_cpu_ticks)
	# Let the read audit writer commit the last records.
	sleep 0.3
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	echo "## $name: $n requests, $(awk '/^Requests\/sec/ { print $2 }' <<<"$out") req/s;" \
	    "CPU a request: certsvc $(( (t1 - t0) * 1000000 / CLK_TCK / n )) µs," \
	    "PostgreSQL $(( (p1 - p0) * 1000000 / CLK_TCK / n )) µs"
	pg_psql "SELECT to_char(calls::numeric / $n, 'FM990.000') || ' calls/req, ' ||
	    to_char(total_exec_time * 1000 / $n, 'FM99990.0') || ' µs/req exec: ' ||
	    regexp_replace(left(query, 90), '\s+', ' ', 'g')
	    FROM pg_stat_statements WHERE calls::numeric / $n >= 0.01
	    ORDER BY total_exec_time DESC LIMIT 12"
	echo
}

one fetch fetch.lua "$S/ids.txt" "$BENCH_READER_TOKEN"
one lookup lookup.lua "$S/holders.txt" "$BENCH_READER_TOKEN"
one verify_url verify.lua "$S/qr_url.txt"
one issue issue.lua "$S/issue.json" "$S/new_holders.txt" "$BENCH_ISSUER_TOKEN" "$(date +%s%N)"
