#!/usr/bin/env bash
# Build certsvc and run the whole test suite (unit and end-to-end), as CI
# does.  Installs its own Debian packages first.
#   CERTSVC_SANITIZE=1 scripts/test.sh   the same under ASan+UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test

build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTSVC_TEST_HOOKS=ON)
if [ "${CERTSVC_SANITIZE:-0}" = 1 ]; then
	build=build-asan
	flags=(-DCMAKE_BUILD_TYPE=Debug -DCERTSVC_SANITIZE=ON -DCERTSVC_TEST_HOOKS=ON)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
if ! cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1; then
	cat "$build/build.log"
	exit 1
fi
grep -i "warning:" "$build/build.log" || true
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
