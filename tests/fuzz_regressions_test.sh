#!/usr/bin/env bash
# Replay every input that once made a fuzz target fail (fuzz/regressions/
# <target>/*) through that target's code, built without libFuzzer as
# <build>/fuzz/replay_<target> (or with it, as fuzz_<target>).  Each must
# now run clean: a target aborts on a broken property, and under
# CERTSVC_SANITIZE=1 on any memory error, leak or undefined behaviour.
set -euo pipefail
src="${CS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
build="$(dirname "${CERTSVC:?CERTSVC names the certsvc binary}")"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

pass=0
fail=0
for dir in "$src"/fuzz/regressions/*/; do
	[ -d "$dir" ] || continue
	target="$(basename "$dir")"
	replay="$build/fuzz/replay_$target"
	# A -DCERTSVC_FUZZ=ON build has the libFuzzer binary instead, which
	# runs the files it is given just the same.
	[ -x "$replay" ] || replay="$build/fuzz/fuzz_$target"
	if [ ! -x "$replay" ]; then
		echo "FAIL: $target: no replayer $replay"
		fail=$((fail + 1))
		continue
	fi
	for input in "$dir"*; do
		[ -f "$input" ] || continue
		if "$replay" "$input" >/dev/null 2>"$build/fuzz/replay.err"; then
			pass=$((pass + 1))
		else
			echo "FAIL: $target: $(basename "$input")"
			tail -n 30 "$build/fuzz/replay.err"
			fail=$((fail + 1))
		fi
	done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
