#!/usr/bin/env bash
# bench/run.sh: the benchmark, one command (bench/README.md).
#
#   bench/run.sh            1,000,000 and 10,000 licences, 10 s a scenario
#   bench/run.sh --quick    100,000 and 10,000 licences, 4 s a scenario
#   bench/run.sh --smoke    CI: 2,000 licences, one scenario for 2 s
#
# Options: --fresh (seed again even when a seeded database of the same
# sources is cached in bench/work/), --duration S, --threads N (server
# worker threads), --out FILE (also write the table there), --sizes
# "N ..." and --scenarios a,b (a subset, while working on one path),
# --backends sqlite,postgresql (or --backend postgresql): the stores to
# measure, SQLite alone by default.  On PostgreSQL it starts a PostgreSQL
# 15 cluster of its own (bench/pg.sh), seeds it with SQLite's seed moved
# over by certsvc copy (PG_SEED=issue: through cs_issue(), hours at 1M),
# measures raw one-insert transactions against it (ceil_pg) and runs
# verify, lookup, fetch and issue there; report.py holds them against
# that ceiling and against SQLite's same scenario in the same run.
#
# It builds a Release binary and the tools of bench/, measures the ceilings
# (raw signatures, a bare libmicrohttpd server, raw SQLite inserts, raw QR
# renders), seeds the databases through cs_issue(), then drives the real
# server over loopback with wrk at 64 connections and prints one table.
# With two or more cores, wrk runs on core 0 and every server (certsvc and
# the bare one) and every ceiling on the others: "server cores" below.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
WORK=${BENCH_WORK:-$BENCH/work}
MODE=full
FRESH=0
DUR=
THREADS=${BENCH_THREADS:-16}
# Extra flags for certsvc serve, for experiments (--audit-flush-ms 1000
# --audit-max-lag-ms 2000: the lag must exceed the flush window).
BENCH_SERVE_ARGS=${BENCH_SERVE_ARGS:-}
OUT=
ONLY_SIZES=
ONLY_SCENARIOS=
BACKENDS=sqlite
CONNS=64

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--fresh) FRESH=1 ;;
	--duration) DUR=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--sizes) ONLY_SIZES=$2; shift ;;
	--scenarios) ONLY_SCENARIOS=,$2,; shift ;;
	--backend|--backends) BACKENDS=$(tr , ' ' <<<"$2"); shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

case $MODE in
full)  SIZES="10000 1000000"; DUR=${DUR:-10}; CEIL=2; PAIR=3; SCENARIOS=all ;;
quick) SIZES="10000 100000";  DUR=${DUR:-4};  CEIL=1; PAIR=2; SCENARIOS=all ;;
smoke) SIZES="2000";          DUR=${DUR:-2};  CEIL=0.5; PAIR=1; SCENARIOS=verify_url ;;
esac
SIZES=${ONLY_SIZES:-$SIZES}
START=$(date +%s)

log() {
	printf '[bench %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2
}

# --- dependencies: wrk (required), linux-perf (optional, for profiling) ----
deps() {
	local missing=()
	for p in wrk curl python3 util-linux; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		local sudo=""
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		$sudo apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		    --no-install-recommends "${missing[@]}" >/dev/null
	fi
	bash "$ROOT/scripts/deps.sh" build >/dev/null
}

build() {
	log "building Release into $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCERTSVC_BENCH=ON \
	    -DCERTSVC_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j "$(nproc)" >/dev/null
}

# --- cores -----------------------------------------------------------------
# shellcheck source=bench/cores.sh
. "$BENCH/cores.sh"
CLK_TCK=$(getconf CLK_TCK)
# Disk syncs of the server during each scenario (how many requests one
# group commit carries), when perf may count syscalls here.
HAVE_PERF=0
if perf stat -e syscalls:sys_enter_fdatasync -x, -o /dev/null -- true \
    >/dev/null 2>&1; then
	HAVE_PERF=1
fi

# Bytes a process has passed to write() and pwrite(): WAL frames, the
# checkpoints' copies into the database, the request log (answers go out
# with send(), which this does not count); -1 where /proc/PID/io cannot
# be read.  Unlike write_bytes, a page rewritten before writeback counts
# every time, so runs compare.
written_bytes() {
	local v
	v=$(awk '/^wchar:/ { print $2 }' "/proc/$1/io" 2>/dev/null) || true
	echo "${v:--1}"
}

# utime + stime of a process, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# wrk against URL with a script and its arguments; appends a result line
# "size scenario rps p50_ms p99_ms cpu_us_per_req requests bad" to
# $RESULTS.  $SPID is the server measured.
# usage: drive SIZE NAME URL SCRIPT [ARGS...]
drive() {
	local size=$1 name=$2 url=$3 script=$4 out t0 t1 w0 w1 p0 pp="" syncs=0
	local sf=$WORK/logs/syncs-$size-$name.txt
	shift 4
	if [ "$HAVE_PERF" = 1 ]; then
		perf stat -e syscalls:sys_enter_fdatasync -x, -o "$sf" -p "$SPID" \
		    -- sleep "$DUR" 2>/dev/null &
		pp=$!
	fi
	t0=$(cpu_ticks "$SPID")
	w0=$(written_bytes "$SPID")
	[ -z "$PG_RUNNING" ] || p0=$(pg_cpu_ticks)
	if [ -n "$script" ]; then
		out=$("${CLIENT[@]}" wrk -t1 -c$CONNS -d"${DUR}s" --latency \
		    --timeout "${WRK_TIMEOUT:-2s}" -s "$BENCH/lua/$script" "$url" -- "$@" 2>&1)
	else
		out=$("${CLIENT[@]}" wrk -t1 -c$CONNS -d"${DUR}s" --latency "$url" 2>&1)
	fi
	t1=$(cpu_ticks "$SPID")
	w1=$(written_bytes "$SPID")
	[ -z "$PG_RUNNING" ] || echo "meta $size pgcpu_$name $(($(pg_cpu_ticks) - p0))" >> "$CEILS"
	if [ -n "$pp" ]; then
		wait "$pp" 2>/dev/null || true
		syncs=$(grep -o '^[0-9]*,' "$sf" 2>/dev/null | tr -d , | head -1)
	fi
	echo "$out" > "$WORK/logs/wrk-$size-$name.txt"
	python3 "$BENCH/wrkparse.py" "$size" "$name" $((t1 - t0)) "$CLK_TCK" \
	    "${syncs:-0}" $((w0 < 0 || w1 < 0 ? -1 : w1 - w0)) <<<"$out" >> "$RESULTS"
	tail -1 "$RESULTS" | awk '{ printf "[bench] %-8s %-15s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  %6.1f us cpu/req  bad %s\n", $1, $2, $3, $4, $5, $6, $8 }' >&2
}

# Wait for "listening on http://ADDR:PORT" in a log; echo the port.
wait_port() {
	local logf=$1 pid=$2 i port
	for i in $(seq 1 3000); do
		port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$logf" 2>/dev/null |
		    head -1 | sed 's/.*://') || true
		[ -n "$port" ] && { echo "$port"; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.005
	done
	echo "bench/run.sh: the server did not start; its log:" >&2
	cat "$logf" >&2
	return 1
}

stop() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# --- ceilings ----------------------------------------------------------------
ceilings() {
	local b=$BUILD/bench port pid
	log "ceilings: EVP sign/verify (one thread)"
	"${SERVER[@]}" "$b/ceil_sign" "$CEIL" | sed 's/^/ceil /' >> "$CEILS"
	if [ "$MODE" != smoke ]; then
		log "ceilings: SQLite inserts, synchronous=FULL"
		"${SERVER[@]}" "$b/ceil_sqlite" "$WORK/ceil.db" "$CEIL" 20000 | sed 's/^/ceil /' >> "$CEILS"
		log "ceilings: libqrencode + libpng (one thread)"
		"${SERVER[@]}" "$b/ceil_qr" "$SAMPLE0/qr_url.txt" "$CEIL" 2>/dev/null |
		    sed 's/^/ceil /' >> "$CEILS"
	fi
	log "ceilings: bare libmicrohttpd, $THREADS threads"
	"${SERVER[@]}" "$b/ceil_mhd" 0 "$THREADS" > "$WORK/logs/ceil_mhd.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 400); do
		port=$(sed -n 's/^listening //p' "$WORK/logs/ceil_mhd.log")
		[ -n "$port" ] && break
		sleep 0.005
	done
	SPID=$pid
	drive ceil mhd "http://127.0.0.1:$port/" ""
	# It stays up: each scenario measures its own ceiling right before it.
	MHD_PID=$pid
	MHD_URL=http://127.0.0.1:$port/
}

# The ceiling of one scenario, measured right before it (PAIR seconds),
# so that a machine whose load drifts during the run still compares each
# rate with its ceiling at the same moment.  Appends
# "pair SIZE SCENARIO KIND RATE" to $CEILS.
pair_ceiling() {
	local n=$1 s=$2 kind rate
	case $s in
	verify_full) kind=verify
		rate=$("${SERVER[@]}" "$BUILD/bench/ceil_sign" "$PAIR" ES256 |
		    awk '$1 == "verify" { print $3 }') ;;
	face_png|copy_pdf) # held against each other in the report, no ceiling
		echo "pair $n $s none nan" >> "$CEILS"; return ;;
	qr_miss) kind=qr_png
		rate=$("${SERVER[@]}" "$BUILD/bench/ceil_qr" "$SAMPLE0/qr_url.txt" "$PAIR" \
		    2>/dev/null | awk '{ print $2 }') ;;
	pg_issue) kind=pg_insert_1
		rate=$(pg_ceil "$PAIR" 20000 1 | awk '{ print $2 }') ;;
	issue) kind=insert_1
		rate=$("${SERVER[@]}" "$BUILD/bench/ceil_sqlite" "$WORK/ceil.db" "$PAIR" \
		    20000 1 | awk '{ print $2 }') ;;
	*) kind=mhd
		rate=$("${CLIENT[@]}" wrk -t1 -c$CONNS -d"${PAIR}s" "$MHD_URL" |
		    awk '/^Requests\/sec/ { print $2 }') ;;
	esac
	echo "pair $n $s $kind ${rate:-nan}" >> "$CEILS"
}

# --- seeding -----------------------------------------------------------------
# A seeded database is kept in $WORK/seed-N/ and used again while the
# sources it depends on are unchanged (their hash is its stamp).
seed_stamp() {
	cat "$BENCH/seed.c" "$BENCH/merge.py" "$ROOT"/certsvc/domain/{issue,token,catalog}.c \
	    "$ROOT"/certsvc/store/sqlite/*.c "$ROOT"/certsvc/store/zrecord.c \
	    "$ROOT"/templates/* "$ROOT"/docs/examples/issue-*.json |
	    sha256sum | cut -c1-16
}

# Whether DIR holds a seed stamped STAMP, and --fresh was not given.
seed_cached() {
	[ "$FRESH" = 0 ] && [ -f "$1/stamp" ] && [ "$(cat "$1/stamp")" = "$2" ]
}

# DIR emptied, with a new signing key in DIR/keys.
seed_dir_new() {
	rm -rf "$1"
	mkdir -p "$1"
	"$BUILD/certsvc" keygen --alg ES256 --keys "$1/keys" >/dev/null
}

seed() {
	local n=$1 dir=$WORK/seed-$1 stamp t0 t1 parts=1 k pids=()
	stamp="$(seed_stamp)-$n"
	if seed_cached "$dir" "$stamp"; then
		log "seed $n: cached in $dir"
		return 0
	fi
	seed_dir_new "$dir"
	# Large databases are seeded by one process a core, each issuing its
	# slice into a database of its own, then joined (bench/merge.py).
	[ "$n" -ge 50000 ] && parts=$NCPU
	log "seed $n: issuing through cs_issue(), 1,000 per transaction, $parts process(es)"
	t0=$(date +%s.%N)
	for k in $(seq 0 $((parts - 1))); do
		mkdir -p "$dir/part$k"
		cp -a "$dir/keys" "$dir/part$k/keys"
		"$BUILD/bench/bench_seed" --dir "$dir/part$k" --count "$n" \
		    --templates "$ROOT/templates" --examples "$ROOT/docs/examples" \
		    --sample 20000 --part "$k/$parts" > "$dir/part$k/seed.log" \
		    2> >(sed 's/^/[bench]   /' >&2) &
		pids+=($!)
	done
	for k in "${pids[@]}"; do
		wait "$k"
	done
	if [ "$parts" -gt 1 ]; then
		log "seed $n: joining the $parts databases"
		local others=()
		for k in $(seq 1 $((parts - 1))); do
			others+=("$dir/part$k/certsvc.db")
		done
		python3 "$BENCH/merge.py" "$dir/part0/certsvc.db" "${others[@]}"
	fi
	mv "$dir/part0/certsvc.db" "$dir/certsvc.db"
	mv "$dir/part0/tokens.env" "$dir/tokens.env"
	# Opening the store keys the audit chunks that merge.py filled
	# (schema version 4, store_sqlite.c), here rather than in the first
	# start-up of a run.
	"$BUILD/certsvc" client list --db "$dir/certsvc.db" >/dev/null
	mkdir -p "$dir/sample"
	for f in ids holders qr_url qr_compact; do
		cat "$dir"/part*/sample/$f.txt > "$dir/sample/$f.txt"
	done
	cp "$dir/part0/sample/new_holders.txt" "$dir/part0/sample/issue.json" "$dir/sample/"
	cat "$dir"/part*/seed.log >&2
	rm -rf "$dir"/part*
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.1f\n", $2 - $1 }' > "$dir/seed.seconds"
	echo "$stamp" > "$dir/stamp"
}

# --- working sets ---------------------------------------------------------------
# The load at every size draws on the same number of licences, so that the
# 1M-against-10k comparison shows how cost grows with the library, not
# with how much of it the load touches: WS_LICENCES ids and QR texts, and
# WS_HOLDERS holders (about four licences each), spread evenly over the
# sample.  A 10,000-licence library is the smallest full run: its sample
# is the whole library, 2,084 holders.  Where the sample is at least twice
# as wide (1M), lookup and fetch also run over all of it ("whole sample").
WS_LICENCES=10000
WS_HOLDERS=2000

# The first occurrence of each line of FILE, K of them spread evenly.
spread() {
	awk '!seen[$0]++' "$1" | awk -v k="$2" '{ l[NR] = $0 }
	    END { n = NR < k ? NR : k; for (i = 0; i < n; i++) print l[int(i * NR / n) + 1] }'
}

working_sets() {
	local sample=$1 ws=$2 f
	mkdir -p "$ws"
	for f in ids qr_url qr_compact; do
		spread "$sample/$f.txt" "$WS_LICENCES" > "$ws/$f.txt"
	done
	spread "$sample/holders.txt" "$WS_HOLDERS" > "$ws/holders.txt"
}

# Whether the whole sample's distinct lines of FILE are at least twice the
# working set's.
wide() {
	[ "$(sort -u "$1/$3.txt" | wc -l)" -ge $((2 * $(wc -l < "$2/$3.txt"))) ]
}

# --- one database size ----------------------------------------------------------
# The scenarios of one size on one backend (sqlite or postgresql).  On
# PostgreSQL the scenarios, and the meta keys, are named with a "pg_"
# prefix, and only verify, lookup, fetch and issue run: QR images do not
# touch the store.
run_size() {
	local n=$1 backend=$2 src run t0 t1 port pid url s i startup ws db P="" list
	list="verify_url verify_compact verify_full lookup lookup_wide fetch fetch_wide qr_miss qr_hit face_png copy_pdf issue"
	if [ "$backend" = postgresql ]; then
		P=pg_
		src=$WORK/pg-seed-$n
		run=$WORK/run-pg-$n
		list="verify_url lookup lookup_wide fetch fetch_wide issue"
		pg_seed "$n"
		rm -rf "$run"
		mkdir -p "$run"
		cp -a "$src/keys" "$run/keys"
		log "pg $n: copying the seeded cluster"
		cp -a "$src/pg" "$run/pg"
		sync -f "$run/pg/data"
		pg_start "$run/pg"
		pg_psql "CREATE DATABASE ceil"
		db=$(pg_uri)
		s=$(pg_psql "SELECT pg_database_size('certsvc')")
		# The ceiling with one connection, as certsvc's writer has, and
		# with eight, whose commits PostgreSQL groups by itself.
		log "pg $n: ceilings: raw one-insert transactions (ceil_pg)"
		pg_ceil "$CEIL" 20000 1 | sed "s/^/meta $n /" >> "$CEILS"
		pg_ceil "$CEIL" 20000 8 | sed "s/^/meta $n /" >> "$CEILS"
	else
		src=$WORK/seed-$n
		run=$WORK/run-$n
		seed "$n"
		rm -rf "$run"
		mkdir -p "$run"
		cp -a "$src/keys" "$run/keys"
		cp "$src/certsvc.db" "$run/certsvc.db"
		# Write the copy back now: the kernel would otherwise flush its
		# 1.5 GB during the first scenarios, on the server's core too.
		sync "$run/certsvc.db"
		db=$run/certsvc.db
		s=$(stat -c %s "$src/certsvc.db")
	fi
	echo "meta $n ${P}db_bytes $s" >> "$CEILS"
	echo "meta $n ${P}seed_seconds $(cat "$src/seed.seconds" 2>/dev/null || echo 0)" >> "$CEILS"
	[ -z "$P" ] || echo "meta $n pg_seed_how $(cat "$src/seed.how" 2>/dev/null || echo issue)" >> "$CEILS"
	# shellcheck disable=SC1091
	. "$src/tokens.env"
	# Start-up: exec to the first answer of /healthz; the median of three
	# starts (the last one stays up for the scenarios).
	local starts=()
	for i in 1 2 3; do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086 # BENCH_SERVE_ARGS: several flags
		"${SERVER[@]}" "$BUILD/certsvc" serve --db "$db" --keys "$run/keys" \
		    --templates "$ROOT/templates" --public-url http://127.0.0.1:8080 \
		    --listen 127.0.0.1:0 --rate-limit 0 --threads "$THREADS" \
		    --log-file "$run/requests.log" $BENCH_SERVE_ARGS 2> "$run/serve.log" &
		pid=$!
		port=$(wait_port "$run/serve.log" "$pid")
		url=http://127.0.0.1:$port
		until curl -sf -o /dev/null "$url/healthz"; do sleep 0.002; done
		t1=$(date +%s%N)
		starts+=($(( (t1 - t0) / 1000000 )))
		[ "$i" = 3 ] || stop "$pid"
	done
	SPID=$pid
	startup=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
	echo "meta $n ${P}startup_ms $startup" >> "$CEILS"
	log "serving $n licences from $backend on $url (start-up ${starts[*]} ms)"
	# Each answer checked once before its load.
	check "$url" "$src/sample"

	ws=$run/ws
	working_sets "$src/sample" "$ws"
	echo "meta $n ${P}ws $(wc -l < "$ws/ids.txt") $(wc -l < "$ws/holders.txt")" >> "$CEILS"
	echo "meta $n ${P}whole $(sort -u "$src/sample/ids.txt" | wc -l) $(sort -u "$src/sample/holders.txt" | wc -l)" >> "$CEILS"
	for s in $list; do
		[ "$SCENARIOS" = all ] || [ "$SCENARIOS" = "$s" ] || continue
		[ -z "$ONLY_SCENARIOS" ] || [[ $ONLY_SCENARIOS == *",$s,"* ]] || continue
		case $s in
		lookup_wide) wide "$src/sample" "$ws" holders || continue ;;
		fetch_wide) wide "$src/sample" "$ws" ids || continue ;;
		esac
		# The reads' peak memory before the first drawing: a face.png
		# or a copy maps CJK font files of 20-30 MB each, counted in RSS
		# although the page cache shares them (bench/README.md,
		# "Memory").
		case $s in face_png|copy_pdf) [ -n "${read_rss:-}" ] ||
		    read_rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status") ;; esac
		pair_ceiling "$n" "$P$s"
		case $s in
		verify_url) drive "$n" "$P$s" "$url" verify.lua "$ws/qr_url.txt" ;;
		verify_compact) drive "$n" "$P$s" "$url" verify.lua "$ws/qr_compact.txt" ;;
		# The same tokens compressed again (zlib level 1, not libdeflate's
		# bytes): genuine, but not the stored bytes, so each gets the
		# full check with its signature verification.
		verify_full) python3 "$BENCH/recompress.py" "$ws/qr_url.txt" > "$ws/qr_full.txt"
		    drive "$n" "$P$s" "$url" verify.lua "$ws/qr_full.txt" ;;
		lookup) drive "$n" "$P$s" "$url" lookup.lua "$ws/holders.txt" "$BENCH_READER_TOKEN" ;;
		lookup_wide) drive "$n" "$P$s" "$url" lookup.lua "$src/sample/holders.txt" "$BENCH_READER_TOKEN" ;;
		fetch) drive "$n" "$P$s" "$url" fetch.lua "$ws/ids.txt" "$BENCH_READER_TOKEN" ;;
		fetch_wide) drive "$n" "$P$s" "$url" fetch.lua "$src/sample/ids.txt" "$BENCH_READER_TOKEN" ;;
		qr_miss) drive "$n" "$P$s" "$url" fetch.lua "$ws/ids.txt" "$BENCH_READER_TOKEN" /qr.png ;;
		qr_hit) drive "$n" "$P$s" "$url" fetch.lua "$ws/ids.txt" "$BENCH_READER_TOKEN" /qr.png 16 ;;
		# Drawn on every request, a quarter of a second of CPU or more
		# each: 8 connections and a 30 s timeout, so that queued requests
		# are not counted as errors.
		face_png) CONNS=8 WRK_TIMEOUT=30s drive "$n" "$P$s" "$url" fetch.lua "$ws/ids.txt" \
		    "$BENCH_READER_TOKEN" /face.png ;;
		copy_pdf) make_copies "$url" "$ws/ids.txt" 32 > "$run/copies.txt"
		    CONNS=8 WRK_TIMEOUT=30s drive "$n" "$P$s" "$url" paths.lua "$run/copies.txt" \
		    "$BENCH_READER_TOKEN" ;;
		issue) drive "$n" "$P$s" "$url" issue.lua "$src/sample/issue.json" \
		    "$src/sample/new_holders.txt" "$BENCH_ISSUER_TOKEN" "$(date +%s%N)" ;;
		esac
	done
	echo "meta $n ${P}peak_rss_kb $(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")" >> "$CEILS"
	[ -z "${read_rss:-}" ] || echo "meta $n ${P}peak_rss_reads_kb $read_rss" >> "$CEILS"
	read_rss=
	curl -s "$url/metrics" > "$run/metrics.txt" || true
	stop "$pid"
	if [ "$backend" = postgresql ]; then
		# Its log stays with the run's other logs; the copy goes.
		cp "$run/pg/server.log" "$WORK/logs/pg-$n.log" 2>/dev/null || true
		pg_stop
		rm -rf "$run/pg"
	elif [ "$MODE" = smoke ]; then
		rm -rf "$run"
	else
		rm -f "$run/certsvc.db" "$run/certsvc.db-wal" "$run/certsvc.db-shm"
	fi
}

# Annotated copies (SPEC §12) of the first N licences of IDS, made once:
# prints each copy's PDF path.  The copy_pdf scenario draws and signs them.
make_copies() {
	local url=$1 ids=$2 n=$3 id
	head -"$n" "$ids" | while read -r id; do
		curl -sf -H "Authorization: Bearer $BENCH_READER_TOKEN" \
		    -H 'Content-Type: application/json' \
		    --data '{"purpose":"benchmark","used_by":{"name":"bench"}}' \
		    "$url/api/v1/certificates/$id/copies" |
		    python3 -c 'import json, sys; print(json.load(sys.stdin)["pdf"])'
	done
}

# One request of each kind, its answer checked, so that a rate is never
# that of errors.
check() {
	local url=$1 sample=$2 id code
	id=$(head -1 "$sample/ids.txt")
	code=$(head -1 "$sample/holders.txt")
	curl -sf -H 'Content-Type: text/plain' --data-binary "$(head -1 "$sample/qr_url.txt")" \
	    "$url/api/v1/verify" | grep -q '"result":"valid"'
	curl -sf -H 'Content-Type: text/plain' --data-binary "$(head -1 "$sample/qr_compact.txt")" \
	    "$url/api/v1/verify" | grep -q '"result":"valid"'
	curl -sf -H 'Content-Type: text/plain' --data-binary "$(python3 "$BENCH/recompress.py" "$sample/qr_url.txt" 1)" \
	    "$url/api/v1/verify" | grep -q '"result":"valid"'
	curl -sf -H "Authorization: Bearer $BENCH_READER_TOKEN" -H 'X-Purpose: bench check' \
	    "$url/api/v1/holders/$code/certificates" | grep -q '"certificates":\[{'
	curl -sf -H "Authorization: Bearer $BENCH_READER_TOKEN" "$url/api/v1/certificates/$id" |
	    grep -q '"status":"valid"'
	curl -sf -H "Authorization: Bearer $BENCH_READER_TOKEN" "$url/api/v1/certificates/$id/qr.png" |
	    head -c 4 | grep -q PNG
}

# --- main --------------------------------------------------------------------
for b in $BACKENDS; do
	case $b in
	sqlite|postgresql) ;;
	*) echo "bench/run.sh: unknown backend $b (sqlite, postgresql)" >&2; exit 2 ;;
	esac
done
# shellcheck source=bench/pg.sh
. "$BENCH/pg.sh"
# A failure must not leave servers behind: the certsvc being measured,
# the bare server, the cluster.
SPID=
MHD_PID=
cleanup() {
	[ -z "$SPID" ] || kill -TERM "$SPID" 2>/dev/null || true
	[ -z "$MHD_PID" ] || kill -TERM "$MHD_PID" 2>/dev/null || true
	pg_stop
}
trap cleanup EXIT
deps
build
mkdir -p "$WORK/logs"
RESULTS=$WORK/results.tsv
CEILS=$WORK/ceilings.tsv
: > "$RESULTS"
: > "$CEILS"
{
	echo "meta - date $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "meta - cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//; s/ /_/g')"
	echo "meta - cores $NCPU"
	echo "meta - server_cores $SERVER_CORES"
	echo "meta - threads $THREADS"
	echo "meta - mode $MODE"
	echo "meta - clk_tck $CLK_TCK"
	echo "meta - backends $(tr ' ' , <<<"$BACKENDS")"
	echo "meta - pg_settings $(IFS=';'; tr -d ' ' <<<"${PG_SETTINGS[*]}")"
	echo "meta - duration $DUR"
	echo "meta - load_start $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)"
	echo "meta - kernel $(uname -r)"
} >> "$CEILS"

first=${SIZES%% *}
if [[ " $BACKENDS " == *" sqlite "* ]]; then
	seed "$first"
	SAMPLE0=$WORK/seed-$first/sample
else
	pg_seed "$first"
	SAMPLE0=$WORK/pg-seed-$first/sample
fi
ceilings
for n in $SIZES; do
	for b in $BACKENDS; do
		run_size "$n" "$b"
	done
done
stop "$MHD_PID"
echo "meta - load_end $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >> "$CEILS"
echo "meta - seconds $(($(date +%s) - START))" >> "$CEILS"
python3 "$BENCH/report.py" "$CEILS" "$RESULTS" | tee ${OUT:+"$OUT"}
