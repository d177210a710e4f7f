"""Signing keys in a PKCS#11 token (SPEC §11, issue 16), with a SoftHSM2
token this test makes in its own directory (SOFTHSM2_CONF):

1. `certsvc keygen --pkcs11 URI` makes the key in the token; the token
   itself (pkcs11-tool, OpenSC) says the private key is sensitive and never
   extractable, and refuses to hand out its value.
2. A URI naming an unknown token or object, a pin-value, a PIN file others
   can read, or a wrong PIN is a clear start-up error, and the PIN never
   appears in any output.
3. A licence issued by `certsvc serve` with keys = the URI verifies with
   the trust list (certsvc verify offline, and python3-cryptography through
   tests/lib/independent.py), and online; the token is shown in the trust
   list like a file key (same JWK members).
4. The token's files taken away mid-run: issuance is 503 (not a crash, the
   server keeps serving reads and verifying with the keys' public halves);
   put back: issuance works again, signed by
   the same key, without a restart.
5. The status list is signed in the token too and verifies independently.
6. `certsvc key retire KID` with the token: the signing key and an unknown
   kid refused; an older key's answer is the pkcs11-tool commands that
   delete its objects, and run, they take it out of the trust list.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import independent  # noqa: E402
from cstest import (CERTSVC, Server, Workdir, check, done, sample_request,  # noqa: E402
                    wait_for)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "739150-pin"
ISSUER = "11440000006939756B"
ORG = "91440300708461136T"

if not os.path.exists(MODULE) or shutil.which("softhsm2-util") is None:
    print("SKIP: softhsm2 is not installed (scripts/deps.sh test)")
    sys.exit(77)

w = Workdir(keygen=False)
hsm = os.path.join(w.dir, "hsm")
tokens = os.path.join(hsm, "tokens")
os.makedirs(tokens)
conf = os.path.join(hsm, "softhsm2.conf")
with open(conf, "w") as f:
    f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" % tokens)
ENV = dict(os.environ, SOFTHSM2_CONF=conf)
os.environ["SOFTHSM2_CONF"] = conf   # for the CLI runs of Workdir
subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "certsvc",
                "--pin", PIN, "--so-pin", "5678-so"], check=True, env=ENV,
               capture_output=True)
pin = os.path.join(hsm, "pin")
with open(pin, "w") as f:
    f.write(PIN + "\n")
os.chmod(pin, 0o600)


def uri(obj="sign", token="certsvc", pin_source=None, extra=""):
    return "pkcs11:token=%s;object=%s?pin-source=file:%s&module-path=%s%s" % (
        token, obj, pin_source or pin, MODULE, extra)


URI = uri()
w.settings[w.settings.index("--keys") + 1] = URI
outputs = []

# 1. keygen in the token
r = w.run("keygen", "--pkcs11", URI)
outputs.append(r.stdout + r.stderr)
check("kid " in r.stdout and "pkcs11:token=certsvc;object=sign" in r.stdout,
      "keygen --pkcs11 names the key and its kid: %r" % r.stdout)
check("pin-source" not in r.stdout, "keygen does not print the PIN file's name")
kid = r.stdout.split("kid ")[1].split(")")[0]

objs = subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", "certsvc",
                       "--login", "--pin", PIN, "--list-objects", "--type", "privkey"],
                      capture_output=True, text=True, env=ENV)
check(objs.returncode == 0, "pkcs11-tool lists the token: %s" % objs.stderr)
check("Private Key Object; EC" in objs.stdout and "label:      sign" in objs.stdout,
      "the token holds an EC private key labelled sign: %s" % objs.stdout)
access = [line for line in objs.stdout.splitlines() if "Access:" in line]
check(access and "never extractable" in access[0] and "sensitive" in access[0],
      "the token calls the private key sensitive and never extractable: %s" % access)
read = subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", "certsvc",
                       "--login", "--pin", PIN, "--read-object", "--type", "privkey",
                       "--label", "sign"], capture_output=True, env=ENV)
check(read.returncode != 0 or len(read.stdout) == 0,
      "the token refuses to give out the private key's value")

# 2. start-up errors
for what, u, expect in [
        ("unknown token", uri(token="nosuch"), "no token labelled \"nosuch\""),
        ("unknown object", uri(obj="nosuch"), "holds no private key labelled \"nosuch\""),
        ("pin-value", "pkcs11:token=certsvc;object=sign?pin-value=%s&module-path=%s"
         % (PIN, MODULE), "pin-value is refused"),
        ("no module", "pkcs11:token=certsvc;object=sign?pin-source=file:%s" % pin,
         "no module")]:
    r = w.cli("serve", "--keys", u, "--check", check_rc=False)
    outputs.append(r.stdout + r.stderr)
    check(r.returncode != 0 and expect in r.stderr,
          "%s: serve --check refuses with %r: rc %d %r" % (what, expect, r.returncode, r.stderr))
loose = os.path.join(hsm, "pin-loose")
shutil.copy(pin, loose)
os.chmod(loose, 0o644)
wrong = os.path.join(hsm, "pin-wrong")
with open(wrong, "w") as f:
    f.write("0000\n")
os.chmod(wrong, 0o600)
for what, u, expect in [("loose PIN file", uri(pin_source=loose), "chmod 600"),
                        ("wrong PIN", uri(pin_source=wrong), "login refused")]:
    r = w.cli("serve", "--keys", u, "--check", check_rc=False)
    outputs.append(r.stdout + r.stderr)
    check(r.returncode != 0 and expect in r.stderr,
          "%s: refused with %r: %r" % (what, expect, r.stderr))
r = w.cli("serve", "--check")
check(r.returncode == 0, "serve --check with the token: %s" % r.stderr)

# 3. issuance signed in the token
token = w.client("env", "issuer", issuer_code=ISSUER, issuer_name="广东省生态环境厅")
jwks_text = w.cli("trust-list").stdout
jwks = json.loads(jwks_text)
check([k["kid"] for k in jwks["keys"]] == [kid] and jwks["keys"][0]["status"] == "active",
      "the trust list holds the token's key, active: %s" % jwks_text)
check(set(jwks["keys"][0]) >= {"kty", "crv", "x", "y", "kid", "alg", "use"},
      "the token's JWK has the members of a file key's")
srv = Server(w, env={"SOFTHSM2_CONF": conf})
try:
    st, _, served = srv.json("GET", "/api/v1/trust-list")
    check(st == 200 and [k["kid"] for k in served["keys"]] == [kid],
          "the server publishes the token's key")
    req = sample_request("11100000000013338W032", "P11-1", ORG)
    st, _, lic = srv.json("POST", "/api/v1/certificates", req, token)
    check(st == 201, "issuance signed in the token: %d %s" % (st, lic))
    check(lic["kid"] == kid, "the licence names the token's kid")
    ok, why, _ = independent.verify(lic["token"], jwks)
    check(ok, "python3-cryptography verifies the token's signature: %s" % why)
    tl = w.write("trust.json", jwks_text)
    r = w.run("verify", "--trust-list", tl, lic["qr_text"], check_rc=False)
    check(r.returncode == 0 and "valid" in r.stdout, "certsvc verify offline: %s" % r.stdout)
    st, _, v = srv.json("POST", "/api/v1/verify", {"qr": lic["qr_text"]})
    check(st == 200 and v["result"] == "valid", "online verify: %s" % v)
    st, _, raw = srv.request("GET", "/api/v1/status-list")
    check(st == 200, "the status list is signed: %d" % st)
    ok, why, _ = independent.verify_cose(raw, jwks)
    check(ok, "its signature (made in the token) verifies independently: %s" % why)

    # 4. the token goes away, then comes back
    away = os.path.join(hsm, "tokens-away")
    os.rename(tokens, away)
    os.makedirs(tokens)
    st, _, body = srv.json("POST", "/api/v1/certificates",
                           sample_request("11100000000013338W032", "P11-2", ORG), token)
    check(st == 503, "issuance while the token is gone: 503, got %d %s" % (st, body))
    check(srv.alive(), "the server is still running")
    # A second try, past the one-second pause, opens the token again and
    # fails: issuance stays 503, verification goes on with the public halves.
    time.sleep(1.2)
    st, _, body = srv.json("POST", "/api/v1/certificates",
                           sample_request("11100000000013338W032", "P11-2b", ORG), token)
    check(st == 503, "issuance after a failed reopen: 503, got %d %s" % (st, body))
    check("still unavailable" in srv.output(), "the failed reopen is logged")
    st, _, v = srv.json("POST", "/api/v1/verify", {"qr": lic["qr_text"]})
    check(st == 200 and v["result"] == "valid",
          "verification goes on while the token is gone: %s" % v)
    st, _, tl = srv.json("GET", "/api/v1/trust-list")
    check(st == 200 and [(k["kid"], k["status"]) for k in tl["keys"]] == [(kid, "verify-only")],
          "the trust list keeps the key, verify-only while it cannot sign: %s" % tl)
    st, _, _ = srv.json("GET", "/api/v1/certificates/%s" % lic["id"], token=token,
                        headers={"X-Purpose": "check"})
    check(st in (200, 400), "reads still answer while the token is gone (%d)" % st)
    st, _, _ = srv.json("GET", "/healthz")
    check(st == 200, "healthz while the token is gone")
    os.rmdir(tokens)
    os.rename(away, tokens)
    got = {}

    def issues_again():
        s, _, b = srv.json("POST", "/api/v1/certificates",
                           sample_request("11100000000013338W032", "P11-3", ORG), token)
        got["st"], got["body"] = s, b
        return s == 201
    check(wait_for(issues_again, timeout=30, step=0.5),
          "issuance works again once the token is back: %s" % got)
    ok, why, _ = independent.verify(got["body"]["token"], jwks)
    check(ok and got["body"]["kid"] == kid, "signed by the same key in the token: %s" % why)
    outputs.append(srv.output())
    check("stopped signing" in srv.output() and "signs again" in srv.output(),
          "the log says the token went and came back")
finally:
    srv.stop_clean()
outputs.append(srv.output())

# 6. key retire KID with the keys in the token: certsvc deletes nothing
# there, but checks the kid and prints the token tools' commands, which
# do retire it.
r = w.cli("key retire", kid, check_rc=False)
outputs.append(r.stdout + r.stderr)
check(r.returncode == 1 and "signing key" in r.stderr, "the token's signing key is refused: "
      "rc %d %r" % (r.returncode, r.stderr))
r = w.cli("key retire", "AAAAAAAAAAA", check_rc=False)
check(r.returncode == 1 and "no such key" in r.stderr, "an unknown kid: %r" % r.stderr)
time.sleep(1.1)   # a new CKA_ID: keygen's is its creation second
r = w.run("keygen", "--pkcs11", URI)
new_kid = r.stdout.split("kid ")[1].split(")")[0]
r = w.cli("key retire", kid, check_rc=False)
outputs.append(r.stdout + r.stderr)
cmds = [line.split() for line in r.stderr.splitlines() if line.strip().startswith("pkcs11-tool")]
check(r.returncode == 1 and "--delete-object" in r.stderr and len(cmds) == 2 and
      "SIGHUP" in r.stderr, "the old key: exit 1 and the two delete commands: rc %d %r" % (
          r.returncode, r.stderr))
for cmd in cmds:
    cmd = [MODULE if a == "MODULE" else "certsvc" if a == "TOKEN" else a for a in cmd]
    d = subprocess.run(cmd[:cmd.index("--login") + 1] + ["--pin", PIN] +
                       cmd[cmd.index("--login") + 1:], capture_output=True, text=True, env=ENV)
    check(d.returncode == 0, "%s: %s" % (" ".join(cmd), d.stderr))
kids = [k["kid"] for k in json.loads(w.cli("trust-list").stdout)["keys"]]
check(kids == [new_kid], "the commands retired it: the trust list holds the new key only: %r"
      % kids)
for text in outputs:
    check(PIN not in text, "no output holds the PIN")
w.cleanup()
done()
