#!/usr/bin/env bash
# Install the Debian packages certsvc needs, idempotently and quietly.
#   scripts/deps.sh build   what building and running needs
#   scripts/deps.sh test    that plus what the test suite needs
#   scripts/deps.sh fuzz    that plus what the fuzz targets need (.ci/fuzz)
#   scripts/deps.sh postgres  that plus a PostgreSQL 15 server (run.sh --postgres)
# A warm machine (every package present) does not touch the network.
set -euo pipefail

# librsvg2-dev draws face.png and, with libcairo2-dev's PDF surface, the
# annotated copies' PDF; fonts-noto-cjk gives them (and a browser showing
# face.svg) the Chinese glyphs, embedded as subsets in the PDF; libpq-dev
# is the PostgreSQL backend's client library; libp11-dev and
# libp11-kit-dev's pkcs11.h: signing keys in a PKCS#11 token;
# libcurl4-openssl-dev the subscriptions' sender's HTTP(S) client.
build=(cmake make gcc pkg-config libssl-dev libsqlite3-dev libmicrohttpd-dev
       libqrencode-dev libpng-dev zlib1g-dev libdeflate-dev libzstd-dev
       libjansson-dev libcbor-dev librsvg2-dev libcairo2-dev libpq-dev
       libcurl4-openssl-dev fonts-noto-cjk libp11-dev libp11-kit-dev)
# python3-psycopg2: the tests read what a PostgreSQL server stored
# (tests/lib/csdb.py).  chromium and nodejs: the browser tests
# (tests/browser_test.py drive Debian's chromium with playwright-core).
# nginx-light: tests/nginx_tls_test.py runs docs/nginx-certsvc.conf (the
# package's own server on port 80 is neither needed nor used).
# poppler-utils (pdfsig, pdftotext, pdffonts, pdftoppm), qpdf and
# libnss3-tools (certutil) check the annotated copies' PDF
# (tests/http_copies_test.py).  openssl: nginx_tls makes its certificate
# with the openssl command, which a minimal Debian may lack.
# softhsm2 is the PKCS#11 token of tests/pkcs11_token_test.py, and opensc's
# pkcs11-tool asks it whether a key is extractable.
# python3-jsonschema: every JSON answer the end-to-end tests see is checked
# against docs/openapi.json's schemas (tests/lib/csopenapi.py, Draft 2020-12).
test=(zbar-tools python3 python3-cryptography python3-cbor2 curl libxml2-utils
      sqlite3 chromium nodejs python3-psycopg2 nginx-light poppler-utils qpdf
      libnss3-tools openssl python3-jsonschema softhsm2 opensc)

# clang and its compiler-rt (libFuzzer, the sanitizer runtimes) build the
# fuzz targets; python3-cbor2 lets fuzz/seeds.py take tokens apart.
fuzz=(clang libclang-rt-14-dev python3 python3-cbor2)

# A PostgreSQL 15 server the tests and run.sh --postgres start themselves
# (tests/lib/cspg.py: initdb and pg_ctl; the package starts no server of
# its own here, and none is relied on).
postgres=(postgresql-15 postgresql-client-15 python3)

want=("${build[@]}")
[ "${1:-build}" = test ] && want+=("${test[@]}" "${postgres[@]}")
[ "${1:-build}" = postgres ] && want+=("${postgres[@]}")
# Debian's nodejs comes without npm, which is its own package there; a
# nodejs from NodeSource brings its own npm and conflicts with Debian's, so
# npm is wanted only where no npm command exists.
[ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1 && want+=(npm)
[ "${1:-build}" = fuzz ] && want+=("${fuzz[@]}")

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
