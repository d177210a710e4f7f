# shellcheck shell=bash
# bench/pg.sh: the PostgreSQL half of the benchmark, sourced by bench/run.sh
# (bench/README.md, "PostgreSQL").  It uses run.sh's globals (ROOT, BENCH,
# BUILD, WORK, SERVER, CLIENT, FRESH, log) and its seed_cached and
# seed_dir_new.
#
# A cluster of its own: tests/lib/cspg.py makes it (initdb as the postgres
# user when root, its own port on 127.0.0.1, a password for host
# connections, as a deployment has), with the settings below.  A seeded
# cluster is kept stopped in $WORK/pg-seed-N/pg, stamped like the SQLite
# seeds; each run starts a copy of it, so every run begins from the same
# files and the cache stays clean.

PG_BIN=${CS_PG_BIN:-/usr/lib/postgresql/15/bin}

# What a dedicated database machine of 2 cores and a few GB would be given
# (pgtune's kind of advice), nothing that trades durability:
# synchronous_commit and fsync on, full page writes on.  The WAL may grow
# to 8 GB between checkpoints, so a 10 s scenario does not meet one that
# the previous scenario's writes caused (checkpoints still run every 15
# minutes, spread over 90% of it).
PG_SETTINGS=(
	"shared_buffers = 1GB"
	"effective_cache_size = 4GB"
	"maintenance_work_mem = 256MB"
	"wal_buffers = 16MB"
	"max_wal_size = 8GB"
	"min_wal_size = 1GB"
	"checkpoint_timeout = 15min"
	"checkpoint_completion_target = 0.9"
	"random_page_cost = 1.1"
	"synchronous_commit = on"
	"fsync = on"
	"full_page_writes = on"
)

# The running cluster's root (stopped by pg_stop_running, run.sh's trap).
PG_RUNNING=
PG_PORT=
PG_PASSWORD=$(python3 -c "import sys; sys.path.insert(0, '$ROOT/tests/lib'); import cspg; print(cspg.PASSWORD)")

# A prefix, not a function, so that taskset can exec it: the cluster's
# owner is "postgres" when we are root (PostgreSQL refuses to run as root).
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)

pg_uri() {
	echo "postgresql://certsvc:$PG_PASSWORD@127.0.0.1:$PG_PORT/${1:-certsvc}"
}

pg_psql() {
	"${AS_PG[@]}" "$PG_BIN/psql" -h "$PG_RUNNING" -p "$PG_PORT" -U certsvc -d "${2:-certsvc}" \
	    -v ON_ERROR_STOP=1 -XAtq -c "$1"
}

# A new cluster in ROOT, started on the server cores, with database
# certsvc.
pg_init() {
	local root=$1
	PG_PORT=$("${SERVER[@]}" python3 - "$ROOT/tests/lib" "$root" "${PG_SETTINGS[@]}" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import cspg
c = cspg.Cluster(sys.argv[2])
c.start(settings=sys.argv[3:])
c.create_db("certsvc")
print(c.port)
EOF
)
	PG_RUNNING=$root
}

# Start the (stopped) cluster in ROOT, perhaps a copy, on a free port, on
# the server cores.  Later lines of postgresql.auto.conf win.
pg_start() {
	local root=$1
	PG_PORT=$(python3 -c "import sys; sys.path.insert(0, '$ROOT/tests/lib'); import cspg; print(cspg.free_port())")
	printf "port = %d\nunix_socket_directories = '%s'\n" "$PG_PORT" "$root" |
	    "${AS_PG[@]}" tee -a "$root/data/postgresql.auto.conf" >/dev/null
	"${SERVER[@]}" "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$root/data" \
	    -l "$root/server.log" -w -t 120 start >/dev/null
	PG_RUNNING=$root
}

# A clean shutdown (a checkpoint), so that the directory can be copied.
pg_stop() {
	[ -n "$PG_RUNNING" ] || return 0
	"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_RUNNING/data" -m fast -w -t 300 stop >/dev/null || true
	PG_RUNNING=
}

pg_postmaster() {
	head -1 "$PG_RUNNING/data/postmaster.pid"
}

# CPU ticks of the cluster: its processes' own (the postmaster and every
# child alive) and the postmaster's reaped children's.
pg_cpu_ticks() {
	local pm
	pm=$(pg_postmaster)
	# A process may end between the glob and the read (pipefail is on).
	for f in /proc/[0-9]*/stat; do
		cat "$f" 2>/dev/null || true
	done | awk -v pm="$pm" '{
		pid = $1; sub(/^.*\) /, "")
		# now $1 = state, $2 = ppid, $12 utime, $13 stime, $14 cutime, $15 cstime
		if (pid == pm) t += $12 + $13 + $14 + $15
		else if ($2 == pm) t += $12 + $13
	} END { print t + 0 }'
}

# What shapes a seeded cluster: the seeder, the store, the catalog and the
# cluster's settings.
pg_seed_stamp() {
	{
		cat "$BENCH/seed.c" "$ROOT"/certsvc/domain/{issue,token,catalog}.c \
		    "$ROOT"/certsvc/store/postgres/*.c "$ROOT"/certsvc/store/zrecord.c \
		    "$ROOT"/templates/* "$ROOT"/docs/examples/issue-*.json
		printf '%s\n' "${PG_SETTINGS[@]}"
	} |
	    sha256sum | cut -c1-16
}

# N licences in a new cluster, kept stopped in $WORK/pg-seed-N/pg: by
# default the SQLite seed of the same size (seed(), issued through
# cs_issue() there) moved over with `certsvc copy`, so both backends serve
# the very same licences, keys, clients and sample, and 1M takes minutes
# instead of hours (bench/README.md, "PostgreSQL").  PG_SEED=issue issues
# them through cs_issue() into PostgreSQL itself instead: one process,
# as every numbering transaction takes the same advisory lock
# (docs/design.md, "Nodes"), 1,000 issuances to a transaction.
pg_seed() {
	local n=$1 dir=$WORK/pg-seed-$1 how=${PG_SEED:-copy} stamp t0 t1
	if [ "$how" = copy ]; then
		seed "$n"
		stamp="$(pg_seed_stamp)-copy-$(cat "$WORK/seed-$n/stamp")"
	else
		stamp="$(pg_seed_stamp)-$n"
	fi
	if seed_cached "$dir" "$stamp"; then
		log "pg seed $n: cached in $dir"
		return 0
	fi
	seed_dir_new "$dir"
	log "pg seed $n: a new cluster in $dir/pg"
	pg_init "$dir/pg"
	t0=$(date +%s.%N)
	if [ "$how" = copy ]; then
		log "pg seed $n: certsvc copy from the SQLite seed"
		rm -rf "$dir/keys"
		cp -a "$WORK/seed-$n/keys" "$WORK/seed-$n/sample" "$WORK/seed-$n/tokens.env" "$dir/"
		"$BUILD/certsvc" copy --from "$WORK/seed-$n/certsvc.db" --to "$(pg_uri)" \
		    > "$dir/seed.log" 2>&1 || { cat "$dir/seed.log" >&2; return 1; }
	else
		log "pg seed $n: issuing through cs_issue(), 1,000 per transaction, one process"
		"${CLIENT[@]}" "$BUILD/bench/bench_seed" --dir "$dir" --db "$(pg_uri)" --count "$n" \
		    --templates "$ROOT/templates" --examples "$ROOT/docs/examples" \
		    --sample 20000 > "$dir/seed.log" 2> >(sed 's/^/[bench]   /' >&2)
	fi
	# What autovacuum would have done by the time a library this size was
	# issued: statistics, and the visibility map that index-only scans use.
	pg_psql "VACUUM ANALYZE"
	t1=$(date +%s.%N)
	cat "$dir/seed.log" >&2
	pg_stop
	echo "$t0 $t1" | awk '{ printf "%.1f\n", $2 - $1 }' > "$dir/seed.seconds"
	echo "$how" > "$dir/seed.how"
	echo "$stamp" > "$dir/stamp"
}

# ceil_pg against the running cluster's scratch database "ceil".
pg_ceil() {
	"${SERVER[@]}" "$BUILD/bench/ceil_pg" "$(pg_uri ceil)" "$@"
}

pg_profile_start() {
	local run=$1 src=$2 certsvc=$3 conf=$4 port=
	[ -f "$src/stamp" ] || { echo "no seeded cluster in $src: run bench/run.sh --backends postgresql first" >&2; exit 1; }
	rm -rf "$run"
	mkdir -p "$run"
	cp -a "$src/pg" "$run/pg"
	printf "shared_preload_libraries = 'pg_stat_statements'\n%s\n" "$conf" |
	    "${AS_PG[@]}" tee -a "$run/pg/data/postgresql.auto.conf" >/dev/null
	pg_start "$run/pg"
	pg_psql "CREATE EXTENSION pg_stat_statements"
	# shellcheck disable=SC1091
	. "$src/tokens.env"
	"${SERVER[@]}" "$certsvc" serve --db "$(pg_uri)" --keys "$src/keys" \
	    --templates "$ROOT/templates" --public-url http://127.0.0.1:8080 \
	    --listen 127.0.0.1:0 --rate-limit 0 --threads 16 \
	    --log-file /dev/null 2> "$run/serve.log" &
	SPID=$!
	PROFILE_RUN_DIR=$run
	for _ in $(seq 1 2000); do
		port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$run/serve.log" | sed 's/.*://') || true
		[ -n "$port" ] && break
		sleep 0.01
	done
	URL=http://127.0.0.1:$port
	S=$src/sample
}

pg_profile_stop() {
	[ -z "${SPID:-}" ] || { kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true; }
	pg_stop
	[ -z "${PROFILE_RUN_DIR:-}" ] || rm -rf "$PROFILE_RUN_DIR"
}
