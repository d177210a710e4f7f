"""The CLI's administrative surface: every command's --help, settings from a
config file overridden by flags, keys, clients and grants, backup."""
import json
import os
import sqlite3
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import CERTSVC, SOURCE, TEMPLATES, Workdir, check, done, sample_request, uscc  # noqa: E402

COMMANDS = ["serve", "keygen", "client", "issue", "show", "qr", "trust-list", "verify",
            "decode", "backup"]


def run(*args):
    return subprocess.run([CERTSVC] + list(args), capture_output=True, text=True, timeout=60)


r = run("help")
check(r.returncode == 0 and all(c in r.stdout for c in COMMANDS), "certsvc help lists every command")
check(run().returncode == 2, "certsvc without a command is a usage error (exit 2)")
check(run("frobnicate").returncode == 2, "an unknown command is a usage error")
for c in COMMANDS:
    r = run(c, "--help")
    check(r.returncode == 0 and r.stdout.startswith("usage: certsvc " + c.split()[0]),
          "certsvc %s --help prints its usage" % c)
    r2 = run("help", c)
    check(r2.stdout == r.stdout, "certsvc help %s is the same text" % c)
check("--public-url" in run("serve", "--help").stdout, "serve --help lists the settings flags")
# Each command lists the settings it reads, not all of serve's.
for c, has, lacks in (("issue", ["--db", "--keys", "--templates"], ["--max-body", "--rate-limit", "--listen"]),
                      ("keygen", ["--keys"], ["--db", "--listen", "--threads"]),
                      ("migrate", ["--db"], ["--keys", "--listen"]),
                      ("verify", ["--keys", "--trust-list"], ["--db", "--listen"])):
    out = run(c, "--help").stdout
    check(all(f in out for f in has) and not any(f + " " in out for f in lacks),
          "%s --help lists its own settings (%s) and not serve's (%s)" % (c, has, lacks))
# verify's exit status: 1 only for a licence that is not valid; an
# unreadable or broken trust list is an input error (2).
r = run("verify", "--trust-list", "/nonexistent.json", "x")
check(r.returncode == 2 and "cannot read" in r.stderr, "verify with an unreadable trust list exits 2: %d" % r.returncode)
broken = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cs-broken-trust-%d.json" % os.getpid())
with open(broken, "w") as f:
    f.write('{"keys": [')
r = run("verify", "--trust-list", broken, "x")
os.unlink(broken)
check(r.returncode == 2, "verify with a trust list that is not JSON exits 2: %d %s" % (r.returncode, r.stderr))
r = run("issue", "--no-such-flag")
check(r.returncode == 2 and "unknown option '--no-such-flag'" in r.stderr, "unknown flags are named")

w = Workdir("ES256")
# keygen: three algorithms, 0600 private keys, the newest signs.
for alg in ("EdDSA", "SM2", "ES256"):
    out = w.run("keygen", "--alg", alg, "--keys", w.keys).stdout
    check(alg in out, "keygen --alg %s" % alg)
keys = sorted(os.listdir(w.keys))
privs = [k for k in keys if k.endswith(".key")]
crts = [k for k in keys if k.endswith(".crt")]
check(len(privs) == 4 and len(crts) == 4 and len(keys) == 12,
      "four key pairs in the key directory, each with its certificate: %s" % keys)
check(all(stat.S_IMODE(os.stat(os.path.join(w.keys, k)).st_mode) == 0o644 for k in crts),
      "certificates are mode 0644")
check(all(stat.S_IMODE(os.stat(os.path.join(w.keys, k)).st_mode) == 0o600 for k in privs),
      "private keys are mode 0600")
check(stat.S_IMODE(os.stat(w.keys).st_mode) == 0o700, "the key directory is mode 0700")
tl = json.loads(w.cli("trust-list").stdout)
active = [k for k in tl["keys"] if k["status"] == "active"]
check(len(tl["keys"]) == 4 and len(active) == 1 and active[0]["alg"] == "ES256",
      "the trust list holds 4 keys, the newest (ES256) active")
check(all(len(k.get("x5c", [])) == 1 for k in tl["keys"]),
      "every key of the trust list carries its certificate in x5c")
check(run("keygen", "--alg", "RSA", "--keys", w.keys).returncode == 1, "an unknown alg is refused")

# Config file, overridden by flags.
conf = w.write("certsvc.conf", "# test\ndb = %s\nkeys = %s\ntemplates = %s\n"
               "public_url = https://from-file.example\n" % (w.db, w.keys, TEMPLATES))
r = run("serve", "--config", conf, "--check")
check(r.returncode == 0 and "6 licence types" in r.stdout and "active ES256" in r.stdout,
      "serve --check validates the configuration: %s" % r.stdout.strip())
r = run("serve", "--config", conf, "--listen", "nonsense", "--check")
check(r.returncode != 0 and "listen" in r.stderr, "a flag overrides the file and is validated")
r = run("serve", "--config", os.path.join(SOURCE, "keys.example", "certsvc.conf"),
        "--db", w.db, "--keys", w.keys, "--templates", TEMPLATES, "--check")
check(r.returncode == 0, "the sample configuration passes --check (paths overridden): " + r.stderr)

# Clients and grants.
issuer = uscc("11440000006939756")
tok = w.client("env", "issuer", "11100000000013338W032", issuer, "广东省生态环境厅")
check(tok.startswith("cs_") and len(tok) == 46, "client add prints the bearer token last")
r = w.cli("client add", "--name", "env", "--role", "issuer", check_rc=False)
check(r.returncode != 0 and "exists" in r.stderr, "a second client of the same name is refused")
r = w.cli("client add", "--name", "x", "--role", "god", check_rc=False)
check(r.returncode != 0 and "role" in r.stderr, "an unknown role is refused")
r = w.cli("client add", "--name", "y", "--role", "issuer", "--types", "*", check_rc=False)
check(r.returncode != 0 and "--issuer-code" in r.stderr, "an issuer grant needs its authority")
# The issuer's name is signed into every licence: refused at the grant,
# not at each issuance after it.
for bad_name, says in ((os.fsdecode(b"\xe5\xb1\x80\xff"), "is not valid UTF-8"),
                       ("广东省\t生态环境厅", "contains the control character U+0009"),
                       ("广东省\u202e厅境环态生", "contains the invisible character U+202E"),
                       ("广东省生态环境厅 ", "ends with the space U+0020"),
                       ("局" * 65, "is 65 characters, at most 64"),
                       ("", "needs --issuer-code and --issuer-name")):
    r = w.cli("client add", "--name", "y", "--role", "issuer", "--types", "*",
              "--issuer-code", issuer, "--issuer-name", bad_name, check_rc=False)
    check(r.returncode == 1 and "--issuer-name" in r.stderr and says in r.stderr,
          "the issuer name %r is refused: %s" % (bad_name, r.stderr.strip()))
    check(r.stderr.startswith("certsvc client: client not created, its grant failed: "),
          "the refusal says the client was not created: %s" % r.stderr.strip())
names = [line.split()[0] for line in w.cli("client list").stdout.splitlines() if line.strip()]
check("y" not in names, "a client whose grant failed was not created: %s" % names)
con = sqlite3.connect(w.db)
rows = con.execute("select count(*) from clients where name = 'y'").fetchone()[0]
con.close()
check(rows == 0, "no row of the failed client is left in the database (%d)" % rows)
tok_y = w.client("y", "issuer", "*", issuer, "广东省生态环境厅")
check(tok_y.startswith("cs_") and tok_y != tok, "the name of a failed add can be added again")
listing = w.cli("client list").stdout
check(any(line.split()[0] == "y" and "* as %s (广东省生态环境厅)" % issuer in line
          for line in listing.splitlines() if line.strip()),
      "client list shows the grant with its issuer code and name: %s" % listing)
# A wrong issuer code is named once with why (issue 18: the message
# repeated itself and ended in garbage), for a wrong check character and a
# wrong length alike.
bad_check = issuer[:-1] + ("0" if issuer[-1] != "0" else "1")
for code, says in ((bad_check, "check character"), (issuer[:-1], "must be 18 characters")):
    r = w.cli("client add", "--name", "z", "--role", "issuer", "--types", "*",
              "--issuer-code", code, "--issuer-name", "广东省生态环境厅", check_rc=False)
    err = r.stderr.strip()
    check(r.returncode == 1 and err.count(code) == 1 and says in err,
          "a bad issuer code %s is refused with a clear message: %r" % (code, err))
r = w.cli("client grant", "env", "--types", "NOPE", check_rc=False)
check(r.returncode != 0 and "not in the catalog" in r.stderr, "a grant of an unknown type is refused")
r = w.cli("client grant", "env", "--types", "11100000000013338W044", "--issuer-code", issuer,
          "--issuer-name", "局" * 65, check_rc=False)
check(r.returncode == 1 and "at most 64" in r.stderr, "client grant checks the issuer name too")
r = w.cli("client grant", "env", "--types", "11100000000013338W044", "--issuer-code", issuer,
          "--issuer-name", "局" * 64)
check(r.stdout.strip() == "client env granted 11100000000013338W044",
      "client grant says what it did: %r" % r.stdout)
r = w.cli("client add", "--name", "rd_none", "--role", "reader")
check("warning" in r.stderr and "sees no licence" in r.stderr and "client grant rd_none" in r.stderr,
      "a reader added without types is warned about: %r" % r.stderr)
clients = {c["name"]: c for c in json.loads(w.cli("client list", "--json").stdout)}
check(clients.get("env", {}).get("grants", [{}])[-1] ==
      {"types": ["11100000000013338W044"], "issuer": {"code": issuer, "name": "局" * 64}},
      "client list --json shows each grant: %s" % clients.get("env"))
check(clients.get("rd_none", {}).get("grants") == [] and clients["rd_none"].get("warnings"),
      "client list --json warns about a reader without grants: %s" % clients.get("rd_none"))
check(all("token" not in json.dumps(c) for c in clients.values()) and tok not in json.dumps(clients),
      "client list --json carries no token or hash")
listing = w.cli("client list").stdout
check("env" in listing and "11100000000013338W044" in listing and tok not in listing,
      "client list shows grants and never a token")
con = sqlite3.connect(w.db)
hashes = [row[0] for row in con.execute("select token_hash from clients")]
check(all(tok.encode() not in bytes(h) for h in hashes) and all(len(h) == 32 for h in hashes),
      "only a 32-byte hash of each token is stored")
for sql in ("update clients set token_hash = zeroblob(32) where name = 'env'",
            "update clients set role = 'admin'", "delete from clients where name = 'y'"):
    try:
        con.execute(sql)
        con.commit()
        check(False, "the database refuses %r: clients are append-only" % sql)
    except sqlite3.DatabaseError as e:
        check("append-only" in str(e), "the database refuses %r: %s" % (sql, e))
con.close()

req = w.write("req.json", sample_request("11100000000013338W032", "ADM-1"))
lic = json.loads(w.cli("issue", "--client", "env", req).stdout)
check(lic["status"] == "valid", "an issuer with a grant issues")
bad = w.write("bad.json", sample_request("11100000000013338W041", "ADM-2"))
r = w.cli("issue", "--client", "env", bad, check_rc=False)
check(r.returncode == 1 and "no grant" in r.stderr, "a type outside the grants is refused: " + r.stderr)
broken = w.write("broken.json", '{"type": "11100000000013338W032", "holder": {"code": "91440300708461136A"}}')
r = w.cli("issue", "--client", "env", broken, check_rc=False)
check(r.returncode == 1 and "holder.code" in r.stderr and "approval_ref: is required" in r.stderr,
      "every problem of a request is listed with its field: " + r.stderr)
r = w.cli("client revoke", "env")
check(r.stdout.startswith("client env revoked"), "client revoke says what it did: %r" % r.stdout)
r = w.cli("issue", "--client", "env", req, check_rc=False)
check(r.returncode == 1 and "no active client" in r.stderr, "a revoked client cannot issue")
check(w.cli("client revoke", "env", check_rc=False).returncode == 1, "revoking twice fails")

# Backup: a consistent copy that certsvc can read.
copy = os.path.join(w.dir, "copy.db")
w.cli("backup", copy)
shown = json.loads(w.run("show", "--db", copy, "--keys", w.keys, "--templates", TEMPLATES,
                         lic["id"]).stdout)
check(shown["token"] == lic["token"], "the backup holds the licence")
check(w.cli("backup", copy, check_rc=False).returncode == 1, "backup refuses to overwrite a file")
r = w.cli("show", "1.2.156.3005.2.11100000000013338W032.11440000006939756B.X.001.0", check_rc=False)
check(r.returncode == 1 and "check character" in r.stderr, "show names a bad identifier's fault")
w.cleanup()
done()
