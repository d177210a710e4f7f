#!/usr/bin/env bash
# Run one fuzz target (fuzz/README.md):
#   fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]
# SECONDS: 60 by default; 0 runs until stopped.  The build is build-fuzz/
# (CERTSVC_FUZZ_BUILD overrides); the corpus fuzz/corpus-TARGET/ (made by
# fuzz/seeds.py, grown by the run); a failing input lands in
# build-fuzz/artifacts/TARGET/.  Exit status non-zero on any crash, leak,
# timeout (10 s per input) or memory over 2 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}"
secs="${2:-60}"
shift $(($# >= 2 ? 2 : 1))
build="${CERTSVC_FUZZ_BUILD:-build-fuzz}"
bin="$build/fuzz/fuzz_$target"
[ -x "$bin" ] || { echo "fuzz/run.sh: no $bin (build with -DCERTSVC_FUZZ=ON)" >&2; exit 2; }

case "$target" in
token) dict=token ;;
cose | cbor) dict=cbor ;;
codes | issue | catalog | jwks | http) dict="$target" ;;
*) dict= ;;
esac

corpus="fuzz/corpus-$target"
artifacts="$build/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
flags=(-timeout=10 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1
       -artifact_prefix="$artifacts/")
[ "$secs" != 0 ] && flags+=(-max_total_time="$secs")
[ -n "$dict" ] && flags+=(-dict="fuzz/$dict.dict")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$bin" "${flags[@]}" "$@" "$corpus"
