#!/usr/bin/env bash
# Build certsvc and run it on its embedded default: SQLite, a freshly
# generated demo signing key, the sample catalog, demo API clients and a few
# sample licences.  Everything lives in .run/ (delete it to start over).
# Installs its own Debian packages first.  Ctrl-C stops the server cleanly.
#
#   scripts/run.sh              one node on .run/certsvc.db
#   scripts/run.sh --postgres   a PostgreSQL 15 cluster in .run/pg and two
#                               nodes on it (ports PORT and PORT+1), sharing
#                               the key directory: SPEC §8's many nodes
set -euo pipefail
cd "$(dirname "$0")/.."

mode=sqlite
case "${1:-}" in
--postgres) mode=postgres ;;
"") ;;
*) echo "usage: scripts/run.sh [--postgres]" >&2; exit 2 ;;
esac

bash scripts/deps.sh build
[ $mode = postgres ] && bash scripts/deps.sh postgres
mkdir -p build-release
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCERTSVC_TESTS=OFF >/dev/null
if ! cmake --build build-release -j"$(nproc)" >build-release/build.log 2>&1; then
	cat build-release/build.log
	exit 1
fi

bin=build-release/certsvc
port=${PORT:-8080}
url="http://127.0.0.1:$port"
demo=.run
mkdir -p "$demo"
chmod 700 "$demo"
state=$demo
db=$demo/certsvc.db
if [ $mode = postgres ]; then
	# The cluster runs as the postgres account when we are root: it must
	# pass through .run (not list it; the key directory stays 0700).
	[ "$(id -u)" -eq 0 ] && chmod 711 "$demo"
	state=$demo/pg-demo
	mkdir -p "$state"
	chmod 700 "$state"
	db=$(/usr/bin/python3 tests/lib/cspg.py up "$demo/pg" certsvc)
fi
common=(--db "$db" --keys "$demo/keys" --templates templates --public-url "$url")

# Demo authorities (their codes carry valid GB 32100 check characters).
env_code=11440000006939756B env_name="广东省生态环境厅"
health_code=114400000069400645 health_name="广东省卫生健康委员会"

if ! ls "$demo"/keys/*.key >/dev/null 2>&1; then
	"$bin" keygen --alg ES256 --keys "$demo/keys" >/dev/null
fi

token() { "$bin" client add "${common[@]}" "$@" | tail -n 1; }

if [ ! -f "$state/tokens" ]; then
	umask 077
	{
		echo "ISSUER_ENV=$(token --name env-bureau --role issuer \
			--types 11100000000013338W032,11100000000013338W041,11100000000013338W042,11100000000013338W043,11100000000013338W044 \
			--issuer-code $env_code --issuer-name $env_name)"
		echo "ISSUER_HEALTH=$(token --name health-bureau --role issuer \
			--types 11100000MB0143391C011 --issuer-code $health_code --issuer-name $health_name)"
		echo "ONE_WINDOW=$(token --name one-window --role issuer \
			--types 11100000000013338W032 --issuer-code $env_code --issuer-name $env_name)"
		echo "READER=$(token --name partner-agency --role reader --types '*')"
		echo "ADMIN=$(token --name operator --role admin)"
	} >"$state/tokens"
	# The one-window platform issues for both bureaus ("一件事").
	"$bin" client grant one-window "${common[@]}" --types 11100000MB0143391C011 \
		--issuer-code $health_code --issuer-name $health_name
	mkdir -p "$state/licences"
	for f in docs/examples/issue-*.json; do
		case "$f" in *MB0143391C011*) client=health-bureau ;; *) client=env-bureau ;; esac
		"$bin" issue "${common[@]}" --client "$client" "$f" >"$state/licences/$(basename "$f")"
	done
	echo "demo clients and sample licences created in $state/" >&2
fi
# shellcheck disable=SC1091
. "$state/tokens"

# A real QR text for the verify example: that of the sample radiation
# safety licence.  A demo directory made before the licences were kept
# gets it by issuing the sample again, which returns the licence issued
# then (the same approval_ref).
sample=$state/licences/issue-11100000000013338W032.json
if [ ! -s "$sample" ]; then
	mkdir -p "$state/licences"
	"$bin" issue "${common[@]}" --client env-bureau \
		docs/examples/issue-11100000000013338W032.json >"$sample"
fi
qr_text=$(sed -n 's/.*"qr_text": *"\([^"]*\)".*/\1/p' "$sample" | head -n 1)
if [ -z "$qr_text" ]; then
	echo "no qr_text in $sample" >&2
	exit 1
fi

if [ $mode = postgres ]; then
	url2="http://127.0.0.1:$((port + 1))"
	shown=$(sed 's#://\([^:/@]*\):[^@]*@#://\1:****@#' <<<"$db")
	cat <<EOT

certsvc on PostgreSQL: two nodes, one library ($shown)
  node 1: $url
  node 2: $url2
  (tokens in $state/tokens; the examples below work on either node;
   Ctrl-C stops both nodes and the cluster; .run/pg keeps the data)
EOT
else
	cat <<EOT

certsvc demo: $url   (tokens in $state/tokens; Ctrl-C stops it)
EOT
fi
cat <<EOT

  # approval system: issue a licence
  curl -s -X POST $url/api/v1/certificates -H "Authorization: Bearer $ISSUER_ENV" \\
       -H 'Content-Type: application/json' \\
       -d "\$(sed 's/SAMPLE-032/CASE-'\$RANDOM'/' docs/examples/issue-11100000000013338W032.json)"
  # one-window platform: two licences for one case, all or none
  curl -s -X POST $url/api/v1/bundles -H "Authorization: Bearer $ONE_WINDOW" \\
       -H 'Content-Type: application/json' -d @docs/examples/bundle.json
  # partner agency: a holder's licences (the purpose is audited)
  curl -s $url/api/v1/holders/91440300708461136T/certificates \\
       -H "Authorization: Bearer $READER" -H 'X-Purpose: 医疗机构校验'
  # counter staff / scanner: is this QR code genuine and in force?
  curl -s -X POST $url/api/v1/verify -H 'Content-Type: text/plain' \\
       --data-binary '$qr_text'
  # anyone: the trust list and the catalog; operators: health and metrics
  curl -s $url/api/v1/trust-list; curl -s $url/api/v1/types; curl -s $url/healthz
  # operator: the audit log
  curl -s $url/api/v1/audit -H "Authorization: Bearer $ADMIN"

EOT
if [ $mode = sqlite ]; then
	exec "$bin" serve "${common[@]}" --listen "127.0.0.1:$port"
fi
pids=()
stop_all() {
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
	/usr/bin/python3 tests/lib/cspg.py down "$demo/pg"
}
trap stop_all EXIT
trap 'exit 130' INT TERM
"$bin" serve "${common[@]}" --listen "127.0.0.1:$port" & pids+=($!)
"$bin" serve "${common[@]}" --listen "127.0.0.1:$((port + 1))" & pids+=($!)
wait -n "${pids[@]}"
