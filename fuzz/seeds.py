#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made fresh at run time (none is
committed):

  fuzz/seeds.py BUILD_DIR [OUT_DIR]

BUILD_DIR is a -DCERTSVC_FUZZ=ON build (its fuzz/fuzz_token writes the fixed
fuzz keys; its certsvc issues licences with them).  OUT_DIR (default fuzz/)
gets corpus-<target>/ for each target.  Sources:
  - ../shared/vectors (COSE WG and EU DCC test vectors), read where they are;
  - docs/examples/*.json (issuance requests) and templates/*.json;
  - licences issued by the real binary with each fixed key (ES256, EdDSA,
    SM2): their tokens in every QR form, the COSE messages, the claims,
    identifiers, and the trust lists;
  - for fuzz_http, requests as clients send them: targets, /v forms and
    header values, in parts split at NUL bytes.
"""
import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import cbor2

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
VECTORS = os.environ.get("CS_VECTORS_DIR", os.path.join(SOURCE, "..", "shared", "vectors"))
TARGETS = ["token", "cose", "cbor", "encode", "codes", "issue", "catalog", "jwks", "http",
           "status_list"]
ISSUERS = [("*", "11440000006939756B", "广东省生态环境厅"),
           ("11100000MB0143391C011", "114400000069400645", "广东省卫生健康委员会")]

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45(data):
    out = []
    for i in range(0, len(data) - 1, 2):
        v = data[i] * 256 + data[i + 1]
        out += [B45[v % 45], B45[v // 45 % 45], B45[v // 2025]]
    if len(data) % 2:
        out += [B45[data[-1] % 45], B45[data[-1] // 45]]
    return "".join(out)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Corpus:
    def __init__(self, out):
        self.out = out
        self.count = {t: 0 for t in TARGETS}
        for t in TARGETS:
            d = os.path.join(out, "corpus-" + t)
            os.makedirs(d, exist_ok=True)

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode()
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(self.out, "corpus-" + target, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] += 1


def cose_parts(cose):
    """The payload and protected header of a COSE_Sign1 (tag 18, maybe in 61)."""
    obj = cbor2.loads(cose)
    while isinstance(obj, cbor2.CBORTag):
        obj = obj.value
    return obj[2], obj[0]


def token_seeds(c, cose, compressed=None):
    z = compressed if compressed is not None else zlib.compress(cose, 9)
    tok = b64url(z)
    c.add("token", tok)
    c.add("token", "https://lic.example.gov.cn/v/" + tok)
    c.add("token", "EL1:" + b45(z))
    c.add("token", b64url(cose))          # uncompressed COSE
    c.add("cose", cose)
    c.add("cbor", cose)
    c.add("encode", tok)
    c.add("encode", b45(z))
    c.add("encode", z)
    try:
        payload, prot = cose_parts(cose)
        c.add("cbor", payload)
        if prot:
            c.add("cbor", prot)
        if payload[:1] and payload[0] >> 5 == 5:
            c.add("token", payload)      # a map: the signed-claims mode
    except Exception:
        pass


def vectors(c):
    for path in sorted(glob.glob(os.path.join(VECTORS, "cose-wg", "*.json"))):
        with open(path) as f:
            v = json.load(f)
        hexcbor = v.get("output", {}).get("cbor")
        if hexcbor:
            cose = bytes.fromhex(hexcbor)
            c.add("cose", cose)
            c.add("cbor", cose)
            c.add("encode", hexcbor)
            c.add("token", b64url(cose))
    for path in sorted(glob.glob(os.path.join(VECTORS, "dgc", "*.json"))):
        with open(path) as f:
            v = json.load(f)
        if v.get("PREFIX"):
            c.add("token", v["PREFIX"])
        if v.get("BASE45"):
            c.add("encode", v["BASE45"])
        if v.get("CBOR"):
            c.add("cbor", bytes.fromhex(v["CBOR"]))
        if v.get("COMPRESSED"):
            c.add("encode", bytes.fromhex(v["COMPRESSED"]))
        if v.get("COSE"):
            try:
                cose = bytes.fromhex(v["COSE"])
                comp = bytes.fromhex(v["COMPRESSED"]) if v.get("COMPRESSED") else None
                token_seeds(c, cose, comp)
            except ValueError:
                pass


def requests_and_templates(c):
    for path in sorted(glob.glob(os.path.join(SOURCE, "docs", "examples", "*.json"))):
        with open(path, "rb") as f:
            raw = f.read()
        c.add("issue", raw)
        req = json.loads(raw)
        # fuzz_issue's client acts for two authorities for this type.
        if req.get("type") == ISSUERS[1][0]:
            req["issuer"] = {"code": ISSUERS[1][1]}
            c.add("issue", json.dumps(req, ensure_ascii=False, indent=2))
    for path in sorted(glob.glob(os.path.join(SOURCE, "templates", "*.json"))):
        with open(path, "rb") as f:
            raw = f.read()
        c.add("catalog", raw)
        tpl = json.loads(raw)
        svg_path = os.path.join(SOURCE, "templates", tpl.get("face", ""))
        if os.path.isfile(svg_path):
            with open(svg_path, "rb") as f:
                svg = f.read()
            tpl["face"] = "fuzz.svg"
            c.add("catalog", json.dumps(tpl, ensure_ascii=False).encode() + b"\0" + svg)
    for code in ["91350100M000100Y43", "91440300708461136T", "11010519491231002X",
                 "440524188001010014", "11440000006939756B", "11010519491231002x",
                 "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
                 "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
                 "11100000000013338W032\n11220000013544541J\n2430599\n1"]:
        c.add("codes", code)


def http_parts(target, form, header):
    """A fuzz_http input: its parts joined by NUL bytes."""
    return b"\0".join(x.encode() if isinstance(x, str) else x
                       for x in (target, form, header))


def http_requests(c):
    pct = "%E5%8A%9E%E7%90%86%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7"
    targets = [
        "/api/v1/certificates",
        "/api/v1/certificates/1.2.156.3005.2.11100000000013338W032."
        "11220000013544541J.2430599.001.F/qr.png?form=url",
        "/api/v1/certificates/%E8%AF%81/face.png?scale=2",
        "/api/v1/certificates/a%2Fb/suspend",
        "/api/v1/holders/91350100M000100Y43/certificates?type=11100000MB0143391C011"
        "&status=valid",
        "/api/v1/audit?since=2025-01-01&limit=50&client=seed",
        "/api/v1/verify", "/api/v1/trust-list", "/api/v1/types",
        "/v", "/v?qr=EL1%3A6BFOXN%2BTSMAHN", "/v/eJzLSM3JyVcozy_KSQEAGgQEXQ#top",
        "/healthz", "/metrics", "/x?a=1&&b&=&%FF=1&c=%00",
    ]
    forms = ["qr=EL1%3A6BFOXN%2BTSMAHN%0D%0A",
             "licence=1.2.156.3005.2.11100000000013338W032.11220000013544541J."
             "2430599.001.F&holder_code=91350100M000100Y43",
             "qrx=1&qr=&licence=&holder_code=" + pct, "qr=a+b&qr=second"]
    headers = ["Bearer cs_1234567890abcdef", "bearer\t tok \t", "Basic dXNlcg==",
               "application/json; charset=utf-8", "text/plain;charset=\"latin1\"",
               "application/x-www-form-urlencoded", pct, "办理营业执照",
               "case%0A2025", "req-1.a_B"]
    for i, t in enumerate(targets):
        c.add("http", t)
        c.add("http", http_parts(t, forms[i % len(forms)], headers[i % len(headers)]))
    for f in forms:
        c.add("http", f)
    for h in headers:
        c.add("http", h)
    # A fuzzed route pattern as the second part, matched against the first.
    c.add("http", http_parts("/a/x%2Fy/b", "/a/{p}/b", ""))
    c.add("http", http_parts("/v/tok", "/v/{t", ""))


def issued(c, build):
    certsvc = os.path.join(build, "certsvc")
    tmp = tempfile.mkdtemp(prefix="certsvc-seeds-")
    env = dict(os.environ, CS_FUZZ_WRITE_KEYS=os.path.join(tmp, "keys"),
               ASAN_OPTIONS="detect_leaks=0")
    try:
        subprocess.run([os.path.join(build, "fuzz", "fuzz_token"), "-runs=0"],
                       env=env, check=True, capture_output=True)
        env.pop("CS_FUZZ_WRITE_KEYS")
        rings = []
        for alg in ["es256", "eddsa", "sm2"]:
            common = ["--db", os.path.join(tmp, alg + ".db"),
                      "--keys", os.path.join(tmp, "keys", alg),
                      "--templates", os.path.join(SOURCE, "templates"),
                      "--public-url", "https://lic.example.gov.cn"]

            def run(*args):
                return subprocess.run([certsvc, *args[:1], *args[1:2], *common, *args[2:]]
                                      if args[0] == "client" else
                                      [certsvc, args[0], *common, *args[1:]],
                                      env=env, check=True, capture_output=True,
                                      text=True).stdout
            run("client", "add", "--name", "seed", "--role", "issuer", "--types",
                ISSUERS[0][0], "--issuer-code", ISSUERS[0][1], "--issuer-name", ISSUERS[0][2])
            run("client", "grant", "seed", "--types", ISSUERS[1][0], "--issuer-code",
                ISSUERS[1][1], "--issuer-name", ISSUERS[1][2])
            for path in sorted(glob.glob(os.path.join(SOURCE, "docs", "examples", "issue-*.json"))):
                with open(path) as f:
                    req = json.load(f)
                # The client acts for two authorities for this type.
                if req["type"] == ISSUERS[1][0]:
                    req["issuer"] = {"code": ISSUERS[1][1]}
                path = os.path.join(tmp, "request.json")
                with open(path, "w") as f:
                    json.dump(req, f, ensure_ascii=False)
                lic = json.loads(run("issue", "--client", "seed", path))
                z = base64.urlsafe_b64decode(lic["token"] + "=" * (-len(lic["token"]) % 4))
                cose = zlib.decompress(z)
                token_seeds(c, cose, z)
                c.add("token", lic["qr_text"])
                c.add("http", "/v/" + lic["token"])
                c.add("http", "/api/v1/certificates/" + lic["id"] + "/qr.svg")
                c.add("http", http_parts("/v", "qr=" + lic["qr_text"].replace(
                    "%", "%25").replace("+", "%2B").replace(" ", "+"), ""))
                c.add("codes", lic["id"])
                c.add("codes", lic["holder"]["code"])
                c.add("codes", lic["issuer"]["code"])
            # The library's status list (SPEC §11): the file, and its
            # payload (fuzz_status_list signs an input as one too).
            sl = subprocess.run([certsvc, "status-list", *common], env=env, check=True,
                                capture_output=True).stdout
            c.add("status_list", sl)
            c.add("status_list", cose_parts(sl)[0])
            trust = run("trust-list")
            c.add("jwks", trust)
            rings.append(json.loads(trust)["keys"])
        c.add("jwks", json.dumps({"keys": [k for r in rings for k in r]}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: fuzz/seeds.py BUILD_DIR [OUT_DIR]")
    build = os.path.abspath(sys.argv[1])
    out = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else HERE
    c = Corpus(out)
    if os.path.isdir(VECTORS):
        vectors(c)
    else:
        print("seeds: no vectors at %s" % VECTORS, file=sys.stderr)
    requests_and_templates(c)
    http_requests(c)
    issued(c, build)
    print("seeds: " + ", ".join("%s %d" % (t, c.count[t]) for t in TARGETS))


if __name__ == "__main__":
    main()
