#!/usr/bin/env bash
# Install the Debian packages certsvc needs, idempotently and quietly.
#   scripts/deps.sh build   what building and running needs
#   scripts/deps.sh test    that plus what the test suite needs
# A warm machine (every package present) does not touch the network.
set -euo pipefail

build=(cmake make gcc pkg-config libssl-dev libsqlite3-dev libmicrohttpd-dev
       libqrencode-dev libpng-dev zlib1g-dev libjansson-dev libcbor-dev)
test=(zbar-tools python3 python3-cryptography python3-cbor2 curl libxml2-utils
      sqlite3)

want=("${build[@]}")
[ "${1:-build}" = test ] && want+=("${test[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
	"${missing[@]}" >/dev/null
