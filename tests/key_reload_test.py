"""Key rotation on a running server (issue 18, "Reload and rotation"):

1. `certsvc keygen` while the server runs: until SIGHUP the server still
   signs with and publishes its old key; after SIGHUP (no restart) the new
   key signs, the trust list shows it active and the old one verify-only,
   and a licence signed by the old key still verifies.
2. `certsvc key retire KID` refuses the signing key and an unknown kid;
   retires the old key (its files move to keys/retired/); after SIGHUP the
   trust list no longer has it and its licences are unknown_key.
3. A key directory that cannot be loaded at SIGHUP (a private key others
   can read) leaves the server signing with the keys it had, and says so.
4. Kids are written one way everywhere: keygen, the trust list, a
   licence's "kid", `certsvc decode --json` and `key retire` all use the
   same base64url.
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import Server, Workdir, check, done, sample_request, wait_for  # noqa: E402

ISSUER = "11440000006939756B"
ORG = "91440300708461136T"
TYPE = "11100000000013338W032"

w = Workdir(keygen=False)
r = w.run("keygen", "--keys", w.keys)
old_kid = r.stdout.split("kid ")[1].split(")")[0]
token = w.client("env", "issuer", issuer_code=ISSUER, issuer_name="广东省生态环境厅")
srv = Server(w)
n = [0]


def issue():
    n[0] += 1
    st, _, lic = srv.json("POST", "/api/v1/certificates",
                          sample_request(TYPE, "ROT-%d" % n[0], ORG), token)
    check(st == 201, "issuance %d: %d %s" % (n[0], st, lic))
    return lic


def served():
    st, _, tl = srv.json("GET", "/api/v1/trust-list")
    check(st == 200, "trust list: %d" % st)
    return {k["kid"]: k["status"] for k in tl["keys"]}


def hup_until(cond, what):
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_for(cond, timeout=20, step=0.1), what)


def verdict(lic):
    st, _, v = srv.json("POST", "/api/v1/verify", {"qr": lic["qr_text"]})
    check(st == 200, "verify: %d" % st)
    return v["result"]


try:
    first = issue()
    check(first["kid"] == old_kid, "keygen printed the kid the licence carries: %s %s"
          % (old_kid, first["kid"]))
    dec = json.loads(w.run("decode", "--json", first["token"]).stdout)
    cose = [layer for layer in dec["layers"] if layer.get("name") == "cose"] \
        if isinstance(dec, dict) and "layers" in dec else []
    text = json.dumps(dec)
    check(('"kid": "%s"' % old_kid) in text, "decode --json writes the kid as the trust "
          "list does: %s" % (cose or text[:400]))

    # 1. keygen on the running server, then SIGHUP
    r = w.run("keygen", "--keys", w.keys)
    new_kid = r.stdout.split("kid ")[1].split(")")[0]
    check(new_kid != old_kid, "a second key")
    check(issue()["kid"] == old_kid, "before SIGHUP the server still signs with the old key")
    check(served() == {old_kid: "active"}, "before SIGHUP it publishes the old key only")
    hup_until(lambda: served().get(new_kid) == "active",
              "after SIGHUP the trust list shows the new key active")
    check(served() == {old_kid: "verify-only", new_kid: "active"},
          "and the old one verify-only: %s" % served())
    check(issue()["kid"] == new_kid, "after SIGHUP the new key signs, without a restart")
    check(verdict(first) == "valid", "a licence of the old key still verifies")
    check("keys reloaded" in srv.output(), "the reload is logged")
    cli_tl = json.loads(w.cli("trust-list").stdout)
    check({k["kid"]: k["status"] for k in cli_tl["keys"]} == served(),
          "the CLI's trust list and the server's agree after SIGHUP")

    # 2. key retire
    r = w.run("key", "retire", new_kid, "--keys", w.keys, check_rc=False)
    check(r.returncode != 0 and "signs" in r.stderr,
          "the signing key cannot be retired: %r" % r.stderr)
    r = w.run("key", "retire", "AAAAAAAAAAA", "--keys", w.keys, check_rc=False)
    check(r.returncode != 0 and "no key" in r.stderr, "an unknown kid: %r" % r.stderr)
    r = w.run("key", "retire", "not-a-kid", "--keys", w.keys, check_rc=False)
    check(r.returncode == 2, "a malformed kid is a usage error: %d %r" % (r.returncode, r.stderr))
    r = w.run("key", "retire", old_kid, "--keys", w.keys, check_rc=False)
    check(r.returncode == 0 and old_kid in r.stdout, "retire the old key: %r %r"
          % (r.stdout, r.stderr))
    retired = os.listdir(os.path.join(w.keys, "retired"))
    check(any(f.endswith(".key") for f in retired) and any(f.endswith(".pub") for f in retired),
          "its files are kept in keys/retired/: %s" % retired)
    hup_until(lambda: old_kid not in served(), "after SIGHUP the retired key is gone from "
              "the trust list")
    check(verdict(first) == "unknown_key", "a licence of the retired key: unknown_key")
    check(issue()["kid"] == new_kid, "the new key still signs")

    # 3. a directory that fails to load at SIGHUP keeps the keys in use
    bad = os.path.join(w.keys, "20300101T000000Z-es256-0000000000000000.key")
    with open(os.path.join(w.keys, [f for f in os.listdir(w.keys)
                                    if f.endswith(".key")][0]), "rb") as f:
        key_bytes = f.read()
    with open(bad, "wb") as f:
        f.write(key_bytes)
    os.chmod(bad, 0o644)
    mark = len(srv.output())
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "chmod 600" in srv.output()[mark:], timeout=20),
          "a loose key file at SIGHUP is reported: %s" % srv.output()[mark:])
    check(issue()["kid"] == new_kid and served() == {new_kid: "active"},
          "and the server keeps signing with the keys it had")
    os.unlink(bad)
finally:
    srv.stop_clean()
w.cleanup()
done()
