#!/usr/bin/env bash
# bench/profile.sh: where one scenario's server time goes (bench/README.md).
#
#   bench/profile.sh SCENARIO [callgrind|perf] [SIZE]
#
# SCENARIO: verify_url verify_compact verify_full lookup fetch qr_miss qr_hit issue, or
# ceil_verify (the raw ES256 verify loop, for comparison).  SIZE: a database
# seeded by bench/run.sh (bench/work/seed-SIZE; default the smallest).
#
# callgrind (default) counts instructions, which a loaded machine does not
# disturb: it runs certsvc (built with frame pointers and -g into
# build-prof/) under valgrind, warms it up, then counts 400 requests and
# prints instructions per request and the top functions, inclusive
# (requests in flight when counting starts and stops blur it by a few).  perf
# samples the same build (-O2, like Release) under the usual load for 10 s
# instead.  (Valgrind hides AVX-512 from OpenSSL, which then takes another
# code path: count the signature itself with perf, not callgrind.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
WORK=${BENCH_WORK:-$BENCH/work}
SC=${1:?scenario}
TOOL=${2:-callgrind}
SIZE=${3:-$(ls -d "$WORK"/seed-* | sed 's/.*seed-//' | sort -n | head -1)}
SRC=$WORK/seed-$SIZE
OUTD=$WORK/profile
mkdir -p "$OUTD"

BUILD=$ROOT/build-prof
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-O2 -g -fno-omit-frame-pointer" -DCERTSVC_BENCH=ON \
    -DCERTSVC_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null

if [ "$SC" = ceil_verify ]; then
	# 640 ES256 signatures and 640 verifications (multiples of 64).
	valgrind --tool=callgrind --callgrind-out-file="$OUTD/ceil_verify.cg" \
	    "$BUILD/bench/ceil_sign" --count 640 ES256 >/dev/null 2>&1
	callgrind_annotate --inclusive=yes "$OUTD/ceil_verify.cg" 2>/dev/null |
	    awk '/EVP_DigestVerify \[|EVP_DigestSign \[|EVP_DigestVerifyInit|EVP_DigestSignInit/ {
		gsub(",", "", $1); printf "%-60s %d per operation\n", $NF, $1 / 640 }'
	exit 0
fi

# Pinned as bench/run.sh pins them: wrk on core 0, certsvc on the rest.
# shellcheck source=bench/cores.sh
. "$BENCH/cores.sh"

RUN=$OUTD/run
rm -rf "$RUN"
mkdir -p "$RUN"
cp -a "$SRC/keys" "$RUN/keys"
cp "$SRC/certsvc.db" "$RUN/certsvc.db"
# shellcheck disable=SC1091
. "$SRC/tokens.env"
CMD=("${SERVER[@]}" "$BUILD/certsvc" serve --db "$RUN/certsvc.db" --keys "$RUN/keys"
    --templates "$ROOT/templates" --public-url http://127.0.0.1:8080
    --listen 127.0.0.1:0 --rate-limit 0 --threads "${BENCH_THREADS:-8}"
    --log-file "$RUN/requests.log")
# Extra flags for certsvc serve, as in run.sh (BENCH_SERVE_ARGS="--max-header 32768").
# shellcheck disable=SC2206
CMD+=(${BENCH_SERVE_ARGS:-})
if [ "$TOOL" = callgrind ]; then
	# Under valgrind the read audit writer falls seconds behind, and past
	# audit_max_lag_ms reads are refused with 503: a count of 503s, not of
	# the scenario.  The lag gate is not what is measured here.
	CMD+=(--audit-max-lag-ms 600000)
	"${SERVER[@]}" valgrind --tool=callgrind --instr-atstart=no \
	    --callgrind-out-file="$OUTD/$SC.cg" "${CMD[@]:${#SERVER[@]}}" 2> "$RUN/serve.log" &
else
	"${CMD[@]}" 2> "$RUN/serve.log" &
fi
PID=$!
for _ in $(seq 1 2000); do
	grep -q 'listening on' "$RUN/serve.log" && break
	sleep 0.01
done
PORT=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$RUN/serve.log" | sed 's/.*://')
URL=http://127.0.0.1:$PORT
S=$SRC/sample
case $SC in
verify_url) ARGS=(verify.lua "$S/qr_url.txt") ;;
verify_compact) ARGS=(verify.lua "$S/qr_compact.txt") ;;
verify_full) python3 "$BENCH/recompress.py" "$S/qr_url.txt" > "$RUN/qr_full.txt"
	ARGS=(verify.lua "$RUN/qr_full.txt") ;;
lookup) ARGS=(lookup.lua "$S/holders.txt" "$BENCH_READER_TOKEN") ;;
fetch) ARGS=(fetch.lua "$S/ids.txt" "$BENCH_READER_TOKEN") ;;
qr_miss) ARGS=(fetch.lua "$S/ids.txt" "$BENCH_READER_TOKEN" /qr.png) ;;
qr_hit) ARGS=(fetch.lua "$S/ids.txt" "$BENCH_READER_TOKEN" /qr.png 16) ;;
issue) ARGS=(issue.lua "$S/issue.json" "$S/new_holders.txt" "$BENCH_ISSUER_TOKEN" "p$(date +%s%N)") ;;
*) echo "unknown scenario $SC" >&2; kill "$PID"; exit 2 ;;
esac
script=${ARGS[0]}
ARGS=("${ARGS[@]:1}")

if [ "$TOOL" = callgrind ]; then
	# Warm up (caches, connections, QR cache), then count a fixed number
	# of requests: wrk's -R is not in Debian's wrk, so a Lua counter stops
	# each connection after its share.  One connection walks the sample in
	# order from a random start, so WARM seconds (20: about 20,000 requests
	# under valgrind) pass every id of a 10,000-line sample: a timed run
	# reads each id 20 times or more, and a profile that counted first
	# reads would charge the cache's misses to every request.
	"${CLIENT[@]}" wrk -t1 -c1 -d"${WARM:-20}"s -s "$BENCH/lua/$script" "$URL" -- "${ARGS[@]}" >/dev/null
	rm -f "$OUTD/$SC.cg"*
	# issue.lua numbers its approval_refs from 1 in each run: a second
	# run with the warm-up's run id would replay its licences (200)
	# instead of issuing new ones.
	[ "$SC" = issue ] && ARGS[3]="q$(date +%s%N)"
	callgrind_control -i on "$PID" >/dev/null 2>&1
	out=$("${CLIENT[@]}" wrk -t1 -c8 -d15s -s "$BENCH/lua/$script" "$URL" -- "${ARGS[@]}")
	callgrind_control -d "$PID" >/dev/null 2>&1
	callgrind_control -i off "$PID" >/dev/null 2>&1
	n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null || true
	f=$OUTD/$SC.cg.1
	total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	echo "$SC: $n requests, $total instructions, $((total / n)) per request"
	callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/^Ir/,$p' | head -45
else
	"${CLIENT[@]}" wrk -t1 -c64 -d2s -s "$BENCH/lua/$script" "$URL" -- "${ARGS[@]}" >/dev/null
	perf record -F 499 --call-graph dwarf,16384 -p "$PID" -o "$OUTD/$SC.perf" -- sleep 8 \
	    2>/dev/null >/dev/null &
	rec=$!
	"${CLIENT[@]}" wrk -t1 -c64 -d8s -s "$BENCH/lua/$script" "$URL" -- "${ARGS[@]}" | grep Requests
	wait "$rec" 2>/dev/null || true
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null || true
	perf report -i "$OUTD/$SC.perf" --no-children --sort dso 2>/dev/null |
	    grep -E '^ +[0-9]' | head -12
	perf report -i "$OUTD/$SC.perf" --children --sort symbol 2>/dev/null |
	    grep -E '^ +[0-9]' | grep -v '\[k\]' | head -60
fi
