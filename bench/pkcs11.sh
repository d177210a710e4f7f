#!/usr/bin/env bash
# Issuance with the signing key in a PKCS#11 token (SoftHSM2) against the
# token's own signing rate, in one run (issue 16; bench/README.md):
#   1. ceil_p11: one thread signing with the token's key as serve does
#      (libp11's EVP_PKEY, EVP_DigestSign of 500 bytes): the ceiling, since
#      the issuance writer signs on one thread;
#   2. certsvc serve with keys = the token's URI, wrk POSTing issuances
#      (bench/lua/issue.lua) for DUR seconds: 201s per second;
#   3. the same server with a key file, for the cost of the token itself.
# Prints one line per rate and the ratio issuance / raw (target >= 0.8).
#
# Usage: bench/pkcs11.sh [BUILD-DIR]   (built with -DCERTSVC_BENCH=ON)
# Env: DUR (seconds per rate, default 10), CONNS (default 16).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
DUR=${DUR:-10}
CONNS=${CONNS:-16}
MODULE=/usr/lib/softhsm/libsofthsm2.so
CERTSVC=$BUILD/certsvc
TYPE=11100000000013338W032
ISSUER=11440000006939756B
ORG=91440300708461136T
WORK=$(mktemp -d /tmp/certsvc-p11bench.XXXXXX)
PID=""

cleanup() {
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }
	rm -rf "$WORK"
}
trap cleanup EXIT

for f in "$CERTSVC" "$BUILD/bench/ceil_p11" "$MODULE"; do
	[ -e "$f" ] || { echo "pkcs11.sh: $f is missing" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "pkcs11.sh: wrk is missing" >&2; exit 2; }

export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$WORK/tokens" > "$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null
printf '1234\n' > "$WORK/pin"
chmod 600 "$WORK/pin"
URI="pkcs11:token=bench;object=sign?pin-source=file:$WORK/pin&module-path=$MODULE"
"$CERTSVC" keygen --pkcs11 "$URI" >/dev/null
"$CERTSVC" keygen --keys "$WORK/keys" >/dev/null

# The sample request compact, as issue.lua's patterns want it.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d, ensure_ascii=False, separators=(",", ":")))' \
    "$ROOT/docs/examples/issue-$TYPE.json" > "$WORK/issue.json"
echo "$ORG" > "$WORK/holders.txt"

raw=$("$BUILD/bench/ceil_p11" "$URI" "$DUR" | awk '{ print $3 }')
echo "p11_sign_raw ES256 $raw per s (one thread)"

issue_rate() { # KEYS NAME
	local db=$WORK/$2.db token out port
	"$CERTSVC" migrate --db "$db" >/dev/null
	token=$("$CERTSVC" client add --db "$db" --keys "$1" --templates "$ROOT/templates" \
	    --name bench --role issuer --types '*' --issuer-code "$ISSUER" \
	    --issuer-name 广东省生态环境厅 | tail -1)
	"$CERTSVC" serve --db "$db" --keys "$1" --templates "$ROOT/templates" \
	    --listen 127.0.0.1:0 --rate-limit 0 > "$WORK/$2.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/$2.log" | grep -o '[0-9]*$' || true)
		[ -n "$port" ] && break
		sleep 0.1
	done
	out=$(wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 5s -s "$ROOT/bench/lua/issue.lua" \
	    "http://127.0.0.1:$port" -- "$WORK/issue.json" "$WORK/holders.txt" "$token" "$2")
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=""
	if grep -q "Non-2xx" <<<"$out"; then
		echo "pkcs11.sh: $2: some issuances failed: $(grep Non-2xx <<<"$out")" >&2
	fi
	awk '/^Requests\/sec/ { print $2 }' <<<"$out"
}

p11=$(issue_rate "$URI" token)
file=$(issue_rate "$WORK/keys" file)
echo "issue_token ES256 $p11 per s"
echo "issue_file ES256 $file per s"
# Three ratios.  Against the raw rate alone (the issue's literal target) the
# ratio cannot pass 0.8 while issuance with no token at all is slower than
# 0.8 of the token's raw rate: then the token is not what bounds issuance.
# So also against the two costs in series on one core, 1/(1/raw +
# 1/issue_file), the way verify's full check is held against its signature
# and the bare server (bench/README.md, "Issuance with the key in a PKCS#11
# token").
awk -v a="$p11" -v b="$raw" -v f="$file" 'BEGIN {
	printf "ratio issue_token / p11_sign_raw = %.2f (target >= 0.8); issue_token / issue_file = %.2f\n", a / b, a / f
	printf "ratio issue_token / (1/(1/p11_sign_raw + 1/issue_file)) = %.2f (series ceiling %.0f per s)\n", a * (1 / b + 1 / f), 1 / (1 / b + 1 / f) }'
