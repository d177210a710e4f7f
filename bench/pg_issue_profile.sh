#!/usr/bin/env bash
# bench/pg_issue_profile.sh: what one issuance costs PostgreSQL, statement
# by statement and trigger by trigger (bench/README.md, "PostgreSQL
# issuance profile").
#
#   bench/pg_issue_profile.sh [SIZE [SECONDS [ROUNDS]]]
#
# Like pg_profile.sh, on a copy of bench/work/pg-seed-SIZE, but issuance
# only, with pg_stat_statements (rows and shared blocks too) and
# track_functions = all (the triggers' own time), and with PERF=1 a perf
# profile of the cluster's backends during the first round.  ROUNDS
# (default 1) windows of SECONDS (default 5) each print the licences a
# second, the CPU a licence cost certsvc and the cluster, and, for the
# last, the tables.  CERTSVC (default $BUILD/certsvc) is the binary
# served, so two builds can be held against each other on one cluster
# copy.  Not a benchmark: the statistics have a cost of their own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
WORK=${BENCH_WORK:-$BENCH/work}
SIZE=${1:-$(ls -d "$WORK"/pg-seed-* | sed 's/.*pg-seed-//' | sort -n | head -1)}
DUR=${2:-5}
ROUNDS=${3:-1}
CERTSVC=${CERTSVC:-$BUILD/certsvc}
SRC=$WORK/pg-seed-$SIZE
RUN=${PROFILE_RUN:-$WORK/pg-issue-profile}
CLK_TCK=$(getconf CLK_TCK)
# shellcheck source=bench/pg.sh
. "$BENCH/pg.sh"
# shellcheck source=bench/cores.sh
. "$BENCH/cores.sh"
SPID=
trap pg_profile_stop EXIT
pg_profile_start "$RUN" "$SRC" "$CERTSVC" "track_functions = all
pg_stat_statements.track = all"

licences() { pg_psql "SELECT count(*) FROM licences"; }

round() {
	local i=$1 out n l0 l1 t0 t1 p0 p1 perf=
	pg_psql "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
	l0=$(licences)
	t0=$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")
	p0=$(pg_cpu_ticks)
	if [ "${PERF:-0}" = 1 ] && [ "$i" = 1 ]; then
		perf record -F 999 -g -a -o "$WORK/pg-issue-perf.data" -- sleep "$DUR" \
		    >/dev/null 2>&1 &
		perf=$!
	fi
	out=$("${CLIENT[@]}" wrk -t1 -c64 -d"${DUR}s" -s "$BENCH/lua/issue.lua" "$URL" -- \
	    "$S/issue.json" "$S/new_holders.txt" "$BENCH_ISSUER_TOKEN" "$(date +%s%N)")
	t1=$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")
	p1=$(pg_cpu_ticks)
	# shellcheck disable=SC2086
	[ -z "$perf" ] || wait $perf || true
	sleep 0.3
	l1=$(licences)
	n=$((l1 - l0))
	echo "round $i: $n licences in ${DUR} s, $(awk -v n="$n" -v d="$DUR" 'BEGIN { printf "%.0f", n / d }') a second" \
	    "($(awk '/^Requests\/sec/ { print $2 }' <<<"$out") req/s);" \
	    "CPU a licence: certsvc $(( (t1 - t0) * 1000000 / CLK_TCK / n )) µs," \
	    "PostgreSQL $(( (p1 - p0) * 1000000 / CLK_TCK / n )) µs; load $(cut -d' ' -f1-3 /proc/loadavg)"
	LAST_N=$n
}

for i in $(seq 1 "$ROUNDS"); do
	round "$i"
done
n=$LAST_N
echo
echo "statements (last round, per licence stored: $n):"
echo "calls/lic | exec µs/lic | mean µs | rows/lic | blks hit/lic | dirtied/lic | written/lic | wal bytes/lic | statement"
pg_psql "SELECT to_char(calls::numeric / $n, 'FM990.000') || ' | ' ||
    to_char(total_exec_time * 1000 / $n, 'FM99990.0') || ' | ' ||
    to_char(mean_exec_time * 1000, 'FM99990.0') || ' | ' ||
    to_char(rows::numeric / $n, 'FM990.00') || ' | ' ||
    to_char(shared_blks_hit::numeric / $n, 'FM99990.0') || ' | ' ||
    to_char(shared_blks_dirtied::numeric / $n, 'FM990.00') || ' | ' ||
    to_char(shared_blks_written::numeric / $n, 'FM990.00') || ' | ' ||
    to_char(wal_bytes / $n, 'FM999990') || ' | ' ||
    regexp_replace(left(query, 110), '\s+', ' ', 'g')
    FROM pg_stat_statements WHERE calls::numeric / $n >= 0.01
    ORDER BY total_exec_time DESC LIMIT 25"
echo
echo "functions (triggers; total includes what they call):"
echo "calls/lic | total µs/lic | self µs/lic | function"
pg_psql "SELECT to_char(calls::numeric / $n, 'FM990.000') || ' | ' ||
    to_char(total_time * 1000 / $n, 'FM99990.0') || ' | ' ||
    to_char(self_time * 1000 / $n, 'FM99990.0') || ' | ' || funcname
    FROM pg_stat_user_functions ORDER BY total_time DESC"
if [ "${PERF:-0}" = 1 ]; then
	echo
	echo "perf, the cluster's processes (with children, top 60; kept in $WORK/pg-issue-perf.data):"
	perf report -i "$WORK/pg-issue-perf.data" --children --sort symbol \
	    --comm postgres --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -60
fi
