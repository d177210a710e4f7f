#!/bin/bash
# layers: the build enforces the layers of docs/design.md.
#
# Usage: layers.sh BUILD_DIR PROBE...   (tests/CMakeLists.txt passes them)
# A probe is expect:target:header.  Each target is one source file that
# includes header, compiled as a part of one layer.  A "no" probe must fail
# to build because the header is out of the layer's reach ("No such file")
# or private to another layer (its #error); a "yes" probe must build, which
# shows that the failures come from the layering and not from a broken
# probe.  Then source checks the compiler cannot make: the store's vtable
# is called from inside the store only, the layers above the domain reach
# the store only through it, no #include reaches across folders
# by a path, and SQLite, libpq and libmicrohttpd stay inside their layers.
set -u
build=$1
shift
src=${CS_SOURCE_DIR:?}
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for probe in "$@"; do
	IFS=: read -r expect target header <<<"$probe"
	out=$(cmake --build "$build" --target "$target" 2>&1)
	rc=$?
	if [ "$expect" = yes ]; then
		if [ $rc -eq 0 ]; then
			echo "ok: $target builds"
		else
			fail "$target should build:"
			echo "$out" | grep -E 'error|Error' | head -5
		fi
	elif [ $rc -eq 0 ]; then
		fail "$target built: $header is in reach of a layer below it"
	elif grep -qE "$header: No such file or directory|$header is private to" <<<"$out"; then
		echo "ok: $target fails: $(grep -oE "$header: No such file or directory|$header is private to [^:]*" <<<"$out" | head -1)"
	else
		fail "$target failed for another reason:"
		echo "$out" | grep -E 'error|Error' | head -5
	fi
done

cd "$src" || exit 1
# grep -n prints file:line:text; each check lists what it found.
check_none() {
	local what=$1 found
	shift
	found=$("$@")
	if [ -n "$found" ]; then
		fail "$what:"
		echo "$found"
	else
		echo "ok: $what: none"
	fi
}
check_none "backend vtable called from outside certsvc/store" \
	grep -rn -e '->ops->' certsvc crypto bench fuzz --include=*.c --include=*.h \
	--exclude-dir=store
check_none "the store reached from above the domain (HTTP, CLI, render)" \
	grep -rnE 'cs_store_[a-z_]+\(|#include "(store|audit_queue|tx_queue|lcache|zrecord)\.h"' \
	certsvc/http certsvc/cli certsvc/domain/render
check_none "#include by a path across folders" \
	grep -rnE '#include "[^"]*/' certsvc crypto
check_none "<sqlite3.h> outside certsvc/store/sqlite" \
	grep -rln '<sqlite3.h>' certsvc crypto --exclude-dir=sqlite
check_none "<libpq-fe.h> outside certsvc/store/postgres" \
	grep -rln '<libpq-fe.h>' certsvc crypto --exclude-dir=postgres
check_none "<microhttpd.h> outside certsvc/http" \
	grep -rln '<microhttpd.h>' certsvc crypto --exclude-dir=http

if [ $fails -ne 0 ]; then
	echo "$fails layering check(s) failed"
	exit 1
fi
echo "all layering checks passed"
