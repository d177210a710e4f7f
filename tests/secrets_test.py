"""Secrets stay secret (SPEC §7, SECURITY.md).

1. `certsvc serve` (and `serve --check`) refuses to start when the private
   key file is readable by group or others, naming the file; so do `issue`
   and `keygen`'s neighbours that load the key directory.
2. A realistic session (issue for an organisation and for a natural person,
   read, QR and face, verify online and offline, holder lookups, audit,
   trust list, a wrong token, CLI show/verify/decode), after which neither
   the server's log (standard output and error, and the request log file)
   nor any CLI output holds the private key (its PEM base64 or the raw d in
   any usual encoding) or any bearer token, and neither the logs nor any
   public answer holds the person's full resident ID.  Authorised answers
   carry the full code by SPEC §1, and only those.  The server exits 0
   after SIGTERM and its stderr holds no sanitizer report.
"""
import base64
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cstest import Server, Workdir, check, done, sample_request  # noqa: E402
from cstoken import b64url_encode  # noqa: E402

ISSUER = "11440000006939756B"
RID = "11010519491231002X"
ORG = "91440300708461136T"


def key_file(w):
    names = [n for n in os.listdir(w.keys) if n.endswith(".key")]
    assert len(names) == 1, names
    return os.path.join(w.keys, names[0])


def loose_key_refused():
    w = Workdir()
    try:
        path = key_file(w)
        os.chmod(path, 0o644)
        r = w.cli("serve", "--listen", "127.0.0.1:0", "--check", check_rc=False)
        check(r.returncode != 0, "serve --check starts with a 0644 key")
        # The real start, not only the check: it must exit on its own.
        import subprocess
        from cstest import CERTSVC
        t0 = time.time()
        try:
            p = subprocess.run([CERTSVC, "serve"] + w.settings + ["--listen", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=20)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = None, (e.stdout or b"").decode() + (e.stderr or b"").decode()
        check(rc is not None and rc != 0,
              "serve with a 0644 key did not refuse to start (rc %s)" % rc)
        check("listening" not in out, "serve with a 0644 key started listening")
        check(os.path.basename(path) in out and "644" in out,
              "the refusal names the key file and its mode: %r" % out[-300:])
        check(time.time() - t0 < 15, "the refusal took %.1f s" % (time.time() - t0))
        r = w.cli("issue", "--client", "nobody", w.write("r.json", {}), check_rc=False)
        check(r.returncode != 0 and "644" in r.stderr,
              "issue with a 0644 key does not refuse naming the mode: %r" % r.stderr[-200:])
        os.chmod(path, 0o640)
        r = w.cli("serve", "--listen", "127.0.0.1:0", "--check", check_rc=False)
        check(r.returncode != 0, "serve --check starts with a 0640 (group-readable) key")
        os.chmod(path, 0o600)
        r = w.cli("serve", "--listen", "127.0.0.1:0", "--check", check_rc=False)
        check(r.returncode == 0, "serve --check refuses a 0600 key: %s" % r.stderr[-300:])
    finally:
        w.cleanup()


def key_secrets(path):
    """Every spelling of the private key that a leak could take."""
    with open(path, "rb") as f:
        pem = f.read()
    lines = [l for l in pem.decode().splitlines() if l and not l.startswith("-----")]
    key = serialization.load_pem_private_key(pem, password=None)
    d = key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    secrets = {
        "PEM body": "".join(lines),
        "PKCS#8 DER base64": base64.b64encode(der).decode(),
        "d hex": d.hex(),
        "d HEX": d.hex().upper(),
        "d base64url": b64url_encode(d),
        "d base64": base64.b64encode(d).decode().rstrip("="),
    }
    # Each PEM line alone too (a log might wrap or cut a dump).
    for i, l in enumerate(lines):
        if len(l) >= 24:
            secrets["PEM line %d" % (i + 1)] = l
    return secrets, d


def session():
    w = Workdir()
    outputs = []  # (what, text) of everything the run printed or answered
    public = []   # (what, text) of what anonymous callers got
    try:
        secrets, d = key_secrets(key_file(w))
        tokens = {}
        for name, role, extra in [
                ("env", "issuer", ["--issuer-code", ISSUER, "--issuer-name", "广东省生态环境厅"]),
                ("partner", "reader", []), ("ops", "admin", [])]:
            r = w.cli("client add", "--name", name, "--role", role, "--types", "*", *extra)
            outputs.append(("client add stderr", r.stderr))
            tokens[name] = r.stdout.strip().splitlines()[-1]
        # The token is printed once, on client add's last line: that output
        # is the one place it may appear, so it is not searched.
        log_file = os.path.join(w.dir, "requests.log")
        srv = Server(w, "--log-file", log_file)
        try:
            org_req = sample_request("11100000000013338W032", "SECRETS-ORG", ORG)
            with open(os.path.join(os.environ.get("CS_SOURCE_DIR", "."), "docs", "examples",
                                   "issue-11100000000013338W044.json")) as f:
                rid_req = json.load(f)
            rid_req["approval_ref"] = "SECRETS-RID"
            check(rid_req["holder"]["code"] == RID, "the RID sample changed")
            licences = {}
            for what, req in [("org", org_req), ("rid", rid_req)]:
                st, h, raw = srv.request("POST", "/api/v1/certificates", req, tokens["env"])
                outputs.append(("issue %s" % what, raw.decode(errors="replace") + json.dumps(h)))
                check(st == 201, "issue %s: %d %s" % (what, st, raw[:300]))
                licences[what] = json.loads(raw)
            rid_lic = licences["rid"]
            check(rid_lic["holder"]["code"] == RID,
                  "the issuer's own answer carries the full code (SPEC §1)")
            for what, lic in licences.items():
                lid = lic["id"]
                for path, tok in [("/api/v1/certificates/%s" % lid, "partner"),
                                  ("/api/v1/certificates/%s" % lid, "env"),
                                  ("/api/v1/certificates/%s/qr.svg" % lid, "partner"),
                                  ("/api/v1/certificates/%s/face.svg" % lid, "partner")]:
                    st, h, raw = srv.request("GET", path, token=tokens[tok])
                    check(st == 200, "GET %s as %s: %d" % (path, tok, st))
                    outputs.append(("GET %s" % path, raw.decode(errors="replace") + json.dumps(h)))
                for body, ctype in [(lic["qr_text"], "text/plain"),
                                    ({"qr": lic["qr_text"]}, None)]:
                    st, h, raw = srv.request("POST", "/api/v1/verify", body, ctype=ctype)
                    check(st == 200 and json.loads(raw)["result"] == "valid",
                          "verify %s: %d %s" % (what, st, raw[:200]))
                    public.append(("verify %s" % what, raw.decode(errors="replace") + json.dumps(h)))
                st, h, raw = srv.request("GET", "/v/" + lic["token"])
                check(st == 200, "the verification page of %s: %d" % (what, st))
                public.append(("page %s" % what, raw.decode(errors="replace") + json.dumps(h)))
                st, h, raw = srv.request("POST", "/api/v1/verify",
                                         {"id": lic["id"], "holder_code": lic["holder"]["code"]})
                public.append(("manual verify %s" % what, raw.decode(errors="replace")))
                # The same paper copy through the page's form, the code typed
                # in full (and lower-cased, as a hand might): the page shows
                # the public view, and no log line keeps what was typed.
                form = urllib.parse.urlencode({"licence": lic["number"],
                                               "holder_code": lic["holder"]["code"].lower()})
                st, h, raw = srv.request("POST", "/v", form,
                                         ctype="application/x-www-form-urlencoded")
                check(st == 200 and b'data-result="valid"' in raw,
                      "the page's paper-copy form finds %s: %d" % (what, st))
                public.append(("page form %s" % what, raw.decode(errors="replace") + json.dumps(h)))
            for code in [RID, ORG, RID.lower()]:
                path = "/api/v1/holders/%s/certificates" % urllib.parse.quote(code)
                st, h, raw = srv.request("GET", path, token=tokens["partner"],
                                         headers={"X-Purpose": urllib.parse.quote("办理建设项目审批"),
                                                  "X-Case-Ref": "CASE-1"})
                check(st == 200, "holder lookup %s: %d %s" % (code, st, raw[:200]))
                outputs.append(("lookup", raw.decode(errors="replace") + json.dumps(h)))
            for path in ["/api/v1/trust-list", "/api/v1/types", "/healthz", "/metrics"]:
                st, h, raw = srv.request("GET", path)
                public.append((path, raw.decode(errors="replace") + json.dumps(h)))
            st, h, raw = srv.request("GET", "/api/v1/audit", token=tokens["ops"])
            check(st == 200, "audit as admin: %d" % st)
            outputs.append(("audit", raw.decode(errors="replace")))
            # A wrong token, a token of the wrong role and a malformed
            # header: refused, and not echoed anywhere.
            wrong = tokens["env"][:-4] + ("AAAA" if tokens["env"][-4:] != "AAAA" else "BBBB")
            tokens["wrong"] = wrong
            for tok in [wrong, tokens["partner"]]:
                st, h, raw = srv.request("POST", "/api/v1/certificates", org_req, tok)
                check(st in (401, 403), "issue with a wrong token: %d" % st)
                outputs.append(("refused", raw.decode(errors="replace") + json.dumps(h)))
            st, h, raw = srv.request("GET", "/api/v1/audit",
                                     headers={"Authorization": "Basic " + tokens["ops"]})
            outputs.append(("basic auth", raw.decode(errors="replace") + json.dumps(h)))
            check(st == 401, "a Basic Authorization header: %d" % st)
        finally:
            # SIGTERM: exit 0, and no sanitizer report on its stderr.
            srv.stop_clean("the server of the session")
        # The CLI's own answers.
        jwks = w.write("trust.json", w.cli("trust-list").stdout)
        for args in [["show", rid_lic["id"]], ["client list"], ["trust-list"]]:
            r = w.cli(args[0], *args[1:], check_rc=False)
            outputs.append(("cli " + args[0], r.stdout + r.stderr))
        for args in [["verify", "--trust-list", jwks, rid_lic["qr_text"]],
                     ["decode", rid_lic["qr_text"]]]:
            r = w.run(*args, check_rc=False)
            check(r.returncode == 0, "%s: %s" % (args[0], r.stderr[-200:]))
            public.append(("cli " + args[0], r.stdout + r.stderr))
        with open(srv.log_path, errors="replace") as f:
            server_log = f.read()
        with open(log_file, errors="replace") as f:
            request_log = f.read()
        check("route=" in request_log, "the request log file has no request lines")
        logs = [("server stdout/stderr", server_log), ("request log", request_log)]

        for what, text in logs + outputs + public:
            for name, s in secrets.items():
                check(s not in text, "%s holds the private key (%s)" % (what, name))
            for name, tok in tokens.items():
                check(tok not in text, "%s holds %s's bearer token" % (what, name))
                # The random part alone, whatever prefix it is shown with.
                body = tok.split("_", 1)[-1]
                check(len(body) < 20 or body not in text,
                      "%s holds the random part of %s's bearer token" % (what, name))
        for what, text in logs + public:
            check(RID not in text.upper(), "%s holds the full resident ID" % what)
            check(urllib.parse.quote(RID) not in text,
                  "%s holds the full resident ID (percent-encoded)" % what)
        # The public view masks the code: first 6, last 4 (SPEC §4).
        masked = RID[:6] + "*" * 8 + RID[-4:]
        check(any(masked in t for _, t in public), "no public answer shows the masked RID")
    finally:
        w.cleanup()


loose_key_refused()
session()
done()
