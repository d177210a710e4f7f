"""`certsvc decode` against every EU DCC test file, layer by layer.

Each file says, per layer, whether it must decode; what certsvc decodes must
equal the file's own intermediate stages (../shared/vectors/dgc/README.md):
the prefix, Base45 output = COMPRESSED, zlib output = COSE, the COSE
headers (alg, kid and where it sits, the CWT tag) = those of COSE read here
with cbor2, the claims certsvc prints = CBOR decoded here with cbor2, and
with the file's certificate the signature verdict = EXPECTEDVERIFY.

The claims are compared as values, not bytes (issuers order map keys
differently): certsvc's claims, in CBOR diagnostic notation (RFC 8949 §8,
`decode --json` "diag"), are parsed back into Python values here and
compared strictly (types too) with cbor2's decoding of CBOR.
"""
import base64
import glob
import json
import math
import os
import re
import subprocess
import sys

import cbor2

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import CERTSVC, VECTORS, check, done  # noqa: E402

LAYER_KEYS = ("EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION",
              "EXPECTEDDECODE", "EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK")
# The EU DCC's claim key for the health certificate, and its one entry.
HCERT, HCERT_V1 = -260, 1


class DiagError(ValueError):
    pass


class Diag:
    """A parser of the diagnostic notation certsvc prints: integers, floats
    (also NaN, Infinity), "text" with JSON escapes, h'hex', indefinite
    strings (_ a, b) and ''_ / ""_, [arrays] and {maps} (also [_ and {_),
    N(tagged), true, false, null, undefined."""

    NUM = re.compile(r"-?(?:Infinity|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|NaN")

    def __init__(self, text):
        self.s, self.i = text, 0

    def parse(self):
        v = self.item()
        if self.i != len(self.s):
            raise DiagError("trailing text at %d: %r" % (self.i, self.s[self.i:self.i + 20]))
        return v

    def eat(self, tok):
        if not self.s.startswith(tok, self.i):
            raise DiagError("expected %r at %d: %r" % (tok, self.i, self.s[self.i:self.i + 20]))
        self.i += len(tok)

    def peek(self, tok):
        return self.s.startswith(tok, self.i)

    def seq(self, close, one):
        """Items up to close, separated by ", "; an indefinite one opens
        with "_ "."""
        out = []
        if self.peek("_ "):
            self.eat("_ ")
        while not self.peek(close):
            if out:
                self.eat(", ")
            out.append(one())
        self.eat(close)
        return out

    def pair(self):
        k = self.item()
        self.eat(": ")
        return hashable(k), self.item()

    def item(self):
        s, i = self.s, self.i
        if s.startswith("h'", i):
            j = s.index("'", i + 2)
            self.i = j + 1
            return bytes.fromhex(s[i + 2:j])
        if s.startswith("''_", i):
            self.i += 3
            return b""
        if s.startswith('""_', i):
            self.i += 3
            return ""
        if s.startswith('"', i):
            v, self.i = json.decoder.scanstring(s, i + 1)
            return v
        if s.startswith("(_ ", i):
            self.i += 1
            chunks = self.seq(")", self.item)
            return type(chunks[0])().join(chunks)
        if s.startswith("[", i):
            self.i += 1
            return self.seq("]", self.item)
        if s.startswith("{", i):
            self.i += 1
            return dict(self.seq("}", self.pair))
        for word, v in (("true", True), ("false", False), ("null", None),
                        ("undefined", cbor2.undefined)):
            if s.startswith(word, i):
                self.i += len(word)
                return v
        m = self.NUM.match(s, i)
        if m is None:
            raise DiagError("unexpected text at %d: %r" % (i, s[i:i + 20]))
        self.i = m.end()
        if self.peek("("):  # a tag: read back through cbor2, so its own
            self.i += 1      # tag handling (dates, bignums) applies alike
            v = self.item()
            self.eat(")")
            return cbor2.loads(cbor2.dumps(cbor2.CBORTag(int(m.group()), v)))
        t = m.group()
        return int(t) if re.fullmatch(r"-?\d+", t) else float(t)


def hashable(k):
    """A map key as cbor2 makes it (arrays as tuples)."""
    return tuple(hashable(x) for x in k) if isinstance(k, list) else k


def same(a, b):
    """Equal values of equal types all the way down: 1, 1.0 and True
    differ; map key order does not matter; NaN equals NaN."""
    if type(a) is not type(b):
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            pass
        else:
            return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, cbor2.CBORTag):
        return a.tag == b.tag and same(a.value, b.value)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def cose_headers(cose_hex):
    """(alg, kid, kid_unprotected, cwt_tag, protected bytes) of a COSE_Sign1,
    read with cbor2 alone."""
    m, tags = cbor2.loads(bytes.fromhex(cose_hex)), []
    while isinstance(m, cbor2.CBORTag):
        tags.append(m.tag)
        m = m.value
    prot = cbor2.loads(m[0]) if m[0] else {}
    unprot = m[1]
    kid_unprot = 4 not in prot and 4 in unprot
    kid = prot.get(4, unprot.get(4, b""))
    return prot.get(1, unprot.get(1)), kid, kid_unprot, 61 in tags, m[0]


def layer(report, name):
    return next((l for l in report["layers"] if l["layer"] == name), None)


def run(text, key=None, at=None):
    cmd = [CERTSVC, "decode", "--json"]
    if key:
        cmd += ["--key", key]
    if at:
        cmd += ["--at", at]
    r = subprocess.run(cmd + ["-"], input=text, capture_output=True, text=True, timeout=30)
    return r.returncode, json.loads(r.stdout)


# The parser itself, on the forms the vectors do not reach.
check(same(Diag('{1: [_ 1, -2, 1.5], "a": (_ h\'01\', h\'02\'), 2: 1(0), 3: undefined}').parse(),
           cbor2.loads(bytes.fromhex("a4" "01" "9f0121f93e00ff" "6161" "5f41014102ff"
                                     "02" "c100" "03" "f7"))),
      "the diagnostic-notation parser reads what cbor2 decodes")
check(not same(Diag("{1: 1}").parse(), {1: 1.0}) and not same(Diag("[true]").parse(), [1]),
      "the comparison tells 1 from 1.0 and true from 1")

files = sorted(glob.glob(os.path.join(VECTORS, "dgc", "*.json")))
check(len(files) >= 10, "found the DCC vectors in %s" % VECTORS)
tmp = os.environ.get("TMPDIR", "/tmp")
claims_compared = verdicts = 0
for path in files:
    name = os.path.basename(path)
    v = json.load(open(path))
    exp = v["EXPECTEDRESULTS"]
    cert = os.path.join(tmp, "dgc-%d-%s.der" % (os.getpid(), name))
    with open(cert, "wb") as f:
        f.write(base64.b64decode(v["TESTCTX"]["CERTIFICATE"]))
    rc, rep = run(v["PREFIX"], key=cert if "EXPECTEDVERIFY" in exp else None,
                  at=v["TESTCTX"]["VALIDATIONCLOCK"] if "EXPECTEDEXPIRATIONCHECK" in exp else None)
    os.unlink(cert)
    got = {}
    pre = layer(rep, "prefix")
    got["EXPECTEDUNPREFIX"] = pre is not None and pre["ok"]
    b45 = layer(rep, "base45")
    got["EXPECTEDB45DECODE"] = b45 is not None and b45["ok"]
    z = layer(rep, "zlib")
    got["EXPECTEDCOMPRESSION"] = z is not None and z["ok"]
    claims = layer(rep, "claims")
    got["EXPECTEDDECODE"] = claims is not None and claims["ok"]
    if "signature" in rep:
        got["EXPECTEDVERIFY"] = rep["signature"]["ok"]
    if "expiry" in rep:
        got["EXPECTEDEXPIRATIONCHECK"] = rep["expiry"]["ok"]
    for key in LAYER_KEYS:
        if key not in exp:
            continue
        if key == "EXPECTEDVERIFY" and not got.get(key) and "PS256" in json.dumps(rep):
            print("%s: PS256 reported as unsupported" % name)
            continue
        check(got.get(key) == exp[key], "%s: %s is %s, expected %s (%s)" % (
            name, key, got.get(key), exp[key], json.dumps(rep)[:600]))
    if "EXPECTEDVERIFY" in exp:
        verdicts += 1

    # Prefix: an HC1: text is recognised as the EU DCC form.
    if got["EXPECTEDUNPREFIX"]:
        check(rep["form"] == "EU DCC (HC1:)", "%s: the form is the EU DCC's: %s" % (name, rep["form"]))
    # The bytes of each layer equal the file's stages, where both exist.
    if b45 and b45["ok"] and "COMPRESSED" in v:
        check(b45["hex"] == v["COMPRESSED"].lower(), "%s: Base45 output equals COMPRESSED" % name)
    if z and z["ok"] and "COSE" in v:
        check(z["hex"] == v["COSE"].lower(), "%s: zlib output equals COSE" % name)
    # COSE: the headers certsvc reports are those cbor2 reads in COSE.
    if "cose" in rep and "COSE" in v:
        alg, kid, kid_unprot, cwt, prot = cose_headers(v["COSE"])
        c = rep["cose"]
        check(c["alg"] == alg, "%s: COSE alg %s, expected %s" % (name, c["alg"], alg))
        # base64url, as certsvc's trust list writes kids (issue 18: one form everywhere)
        b64 = base64.urlsafe_b64encode(kid).decode().rstrip("=")
        check(c["kid"] == b64, "%s: COSE kid %s, expected %s" % (name, c["kid"], b64))
        check(c["kid_unprotected"] == kid_unprot,
              "%s: kid in the unprotected header: %s, expected %s" % (name, c["kid_unprotected"],
                                                                      kid_unprot))
        check(c["cwt_tag"] == cwt, "%s: CWT tag 61: %s, expected %s" % (name, c["cwt_tag"], cwt))
        check(c["protected"] == prot.hex(), "%s: protected header bytes" % name)
    # Claims: the values certsvc prints are those of CBOR, decoded here.  A
    # file's CBOR is either the whole CWT claims map or only its health
    # certificate (claim -260, entry 1), depending on the issuer's tooling.
    if claims and claims["ok"] and "CBOR" in v:
        try:
            mine = Diag(rep["diag"]).parse()
        except (DiagError, KeyError, ValueError) as e:
            check(False, "%s: certsvc's claims parse as diagnostic notation: %s" % (name, e))
            continue
        theirs = cbor2.loads(bytes.fromhex(v["CBOR"]))
        hcert = mine.get(HCERT, {}).get(HCERT_V1) if isinstance(mine, dict) else None
        check(same(mine, theirs) or same(hcert, theirs),
              "%s: the claims certsvc decodes equal CBOR: %s vs %s" % (
                  name, rep["diag"][:300], repr(theirs)[:300]))
        check(isinstance(mine, dict) and all(k in mine for k in (1, 4, 6, HCERT)),
              "%s: the claims hold iss, exp, iat and hcert" % name)
        claims_compared += 1
    all_ok = all(exp.get(k, True) for k in LAYER_KEYS)
    if all_ok and "PS256" not in json.dumps(rep):
        check(rc == 0, "%s: exit status 0 when every layer decodes (got %d)" % (name, rc))
    elif not all_ok:
        check(rc != 0, "%s: exit status non-zero when a layer must fail" % name)
    print("%-28s %s" % (name, "ok" if rc == 0 else "rejected as expected" if not all_ok else "rc=%d" % rc))
# Every file whose claims decode was compared, and every verdict was given.
check(claims_compared >= 9, "claims compared for %d files" % claims_compared)
check(verdicts >= 9, "signature verdicts for %d files" % verdicts)
done()
