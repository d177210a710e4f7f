"""certsvc copy (SPEC §8, issue 15): a library made by a real server on
SQLite, copied to a fresh PostgreSQL database, is the same library there:
every licence, its status, its token verifying, the audit log row for row,
and the next issuance takes the next serial.  A second copy copies nothing
and verifies; a copy killed with SIGKILL halfway is completed by running
it again; the copy back to SQLite is the same again; a row the target
holds with other content stops the copy (exit 1, naming table and key)
and its batch changes nothing.  No password of a URI is ever printed.

Needs the ctest fixture "pg" (CS_TEST_PG_DIR); skipped (77) without it."""
import json
import os
import signal
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
if not os.environ.get("CS_TEST_PG_DIR"):
    print("SKIP: no PostgreSQL cluster (CS_TEST_PG_DIR; the ctest fixture pg)")
    sys.exit(77)
import cbor2  # noqa: E402
import csdb  # noqa: E402
from cshttp import (ENV, T_HAZ, T_RAD, Deployment, call, id_parts, is_json,  # noqa: E402
                    issue, org_code, request_for, verify)
from cstest import CERTSVC, SOURCE, Server, check, done, run_tests, wait_for  # noqa: E402

d = Deployment()
w = d.work
T = d.tokens
s = d.start("--rate-limit", "0")
lics = []          # every licence issued on the SQLite server, as answered
status = {}        # id -> the status the source answers
PG = csdb.new_postgres_db()
SECRET = PG.split("://", 1)[1].split("@", 1)[0].partition(":")[2]

# --- the library, made through the API -------------------------------------------

for i in range(24):
    r = issue(s, request_for(T_RAD if i % 2 else T_HAZ, "CP-%d" % i, org_code(100 + i)),
              T["env"], what="issue %d" % i)
    lics.append(r.doc or {})
with open(os.path.join(SOURCE, "docs", "examples", "bundle.json")) as f:
    bundle = json.load(f)
bundle["approval_ref"] = "CP-B1"
r = call(s, "POST", "/api/v1/bundles", bundle, token=T["onewin"])
is_json(r, 201, "a bundle")
lics += (r.doc or {}).get("certificates", [])
for lic, action, body in ((lics[1], "suspend", {"reason": "限期整改"}),
                          (lics[2], "revoke", {"reason": "违法经营", "kind": "revoked"}),
                          (lics[3], "suspend", {"reason": "x"}),
                          (lics[3], "reinstate", {"reason": "整改完成"})):
    r = call(s, "POST", "/api/v1/certificates/%s/%s" % (lic["id"], action), body, token=T["env"])
    is_json(r, 200, "%s %s" % (action, lic["id"]))
for lic in lics:   # audited reads, with the purpose headers
    r = call(s, "GET", "/api/v1/certificates/" + lic["id"], token=T["rd_all"],
             headers={"X-Purpose": "核验", "X-Case-Ref": "CASE-1"})
    status[lic["id"]] = (r.doc or {}).get("status")
# Annotated copies (加注件) of two licences: they verify on the copy too.
annotated = []
for lic in lics[4:6]:
    r = call(s, "POST", "/api/v1/certificates/%s/copies" % lic["id"],
             {"purpose": "办理排污许可", "used_by": {"name": "某审批局"}}, token=T["rd_all"])
    is_json(r, 201, "an annotated copy of %s" % lic["id"])
    annotated.append((r.doc or {}).get("copy_id"))
# A subscription and a removed one (SPEC §8: copy carries subscriptions).
for name in ("library", "gone"):
    r = call(s, "POST", "/api/v1/subscriptions", {"name": name, "url": "http://127.0.0.1:9/h"},
             token=T["admin"])
    is_json(r, 201, "subscription %s" % name)
call(s, "DELETE", "/api/v1/subscriptions/gone", token=T["admin"])
# A client whose token was rotated twice (client_tokens): the copy carries
# the rotations, so only the last token authenticates there too.
ROTATED = d.add_client("rotated", "reader", "*")
for _ in range(2):
    ROTATED = json.loads(w.cli("client rotate", "rotated", "--json").stdout)["token"]
call(s, "GET", "/api/v1/audit?limit=1", token=T["admin"])   # the audit writer synced
d.stop()

AUDIT = ("SELECT seq, at_ms, client, action, target, holder, purpose, service_item, case_ref, "
         "result_count, remote, request_id, result FROM audit ORDER BY seq")
EVENTS = "SELECT seq, licence_id, at, actor, action, kind, reason, ref FROM status_events ORDER BY seq"
LICENCES = "SELECT id, seq, number, holder_code, issued_at, bundle FROM licences ORDER BY id"
CLIENTS = ("SELECT c.id, c.name, c.role, c.token_hash, c.created_at FROM clients c ORDER BY c.id")
COPIES = ("SELECT id, licence_id, client, purpose, used_by_name, used_by_code, created_at, expires_at "
          "FROM copies ORDER BY id")
# Without body: SQLite keeps it packed (a zstd frame, zrecord.h), PostgreSQL
# as text; copy's verification compares the bodies as the stores read them
# (copy.c, canon_change), byte for byte.
CHANGES = "SELECT seq, event_id, type, licence_type, licence_id, at FROM change_events ORDER BY seq"
SUBS = ("SELECT seq, name, url, types, events, secret, after_seq, at, CAST(removed AS integer) "
        "FROM subscriptions ORDER BY seq")
TOKENS = "SELECT seq, client_id, token_hash, at, supersedes FROM client_tokens ORDER BY seq"


def rows(db, sql):
    con = csdb.open_ro(db)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def copy(src, dst, *extra):
    return w.run("copy", "--from", src, "--to", dst, *extra, check_rc=False)


def counts(out, what):
    """{table: n} of the "verified:" or "copied:" line."""
    for line in out.splitlines():
        if line.startswith(what + ":"):
            parts = [p.strip().split(" ", 1) for p in line.split(":", 1)[1].split(",")]
            return {name: int(n) for n, name in parts}
    return {}


def served_on(db):
    settings = [a if a != w.db else db for a in w.settings]

    class Work:
        pass
    work = Work()
    work.__dict__.update(w.__dict__)
    work.settings = settings
    return Server(work, "--rate-limit", "0")

# --- the tests -------------------------------------------------------------------


def copies_to_postgres():
    r = copy(w.db, PG)
    check(r.returncode == 0, "copy SQLite -> PostgreSQL exits 0 (%d: %s)" % (r.returncode, r.stderr))
    v = counts(r.stdout, "verified")
    check(v.get("licences") == len(lics) and v.get("status events") == 4 and
          v.get("clients") == len(rows(w.db, CLIENTS)) and v.get("bundles") == 1 and
          v.get("annotated copies") == 2 and v.get("change events") == len(lics) + 4 and
          v.get("subscriptions") == 3 and v.get("client tokens") == 2,
          "it says what it verified: %r" % r.stdout)
    check(v.get("audit records") == len(rows(w.db, AUDIT)) > len(lics), "every audit record")
    check("licences" in r.stderr and "copied" in r.stderr, "progress per table on stderr")
    check(SECRET not in r.stdout + r.stderr, "the password is not printed")
    for sql in (AUDIT, EVENTS, LICENCES, CLIENTS, COPIES, CHANGES, SUBS, TOKENS):
        check(rows(w.db, sql) == rows(PG, sql), "the same rows: %s" % sql.split(" FROM ")[1])
    check(rows(w.db, "SELECT count(*) FROM change_events WHERE typeof(body) = 'blob'") ==
          [(len(lics) + 4,)], "SQLite keeps the change events' bodies packed")


def status_list_payload(db, now):
    """The payload of `certsvc status-list` on db, its clock at now: the
    signature aside (ES256 draws a fresh nonce every time)."""
    args = [a if a != w.db else db for a in w.settings]
    r = subprocess.run([CERTSVC, "status-list"] + args, capture_output=True, timeout=120,
                       env=dict(os.environ, CERTSVC_NOW=str(now)))
    check(r.returncode == 0, "certsvc status-list on %s exits 0: %r" % (
        "PostgreSQL" if db == PG else "SQLite", r.stderr[-300:]))
    msg = cbor2.loads(r.stdout) if r.returncode == 0 else None
    msg = msg.value if isinstance(msg, cbor2.CBORTag) else msg
    return msg[2] if isinstance(msg, list) and len(msg) == 4 else b""


def same_status_list():
    """The two backends read the library by different statements (SQLite
    merges an index scan with the events; PostgreSQL pages by pos), and
    must build the same list from it, byte for byte."""
    now = int(time.time())
    lite, pg = status_list_payload(w.db, now), status_list_payload(PG, now)
    check(lite != b"" and lite == pg, "the same status list from SQLite and PostgreSQL "
          "(%d and %d bytes)" % (len(lite), len(pg)))
    entries = cbor2.loads(lite).get(-65538, []) if lite else []
    states = b"".join(zlib.decompress(e["s"]) for e in entries)
    check(sum(e["n"] for e in entries) >= 24 and states.count(1) == 1 and states.count(2) == 1,
          "it lists the library: one suspended, one revoked (%r)" % states)


def again_copies_nothing():
    r = copy(w.db, PG)
    check(r.returncode == 0, "the same copy again exits 0 (%d: %s)" % (r.returncode, r.stderr))
    c = counts(r.stdout, "copied")
    check(c and all(n == 0 for n in c.values()), "and copies nothing: %r" % r.stdout)
    check(counts(r.stdout, "verified").get("licences") == len(lics), "and verifies: %r" % r.stdout)


def serves_the_copy():
    t = served_on(PG)
    try:
        for lic in lics:
            r = call(t, "GET", "/api/v1/certificates/" + lic["id"], token=T["admin"])
            doc = r.doc or {}
            check(r.status == 200 and doc.get("status") == status[lic["id"]] and
                  doc.get("token") == lic.get("token"), "%s: the same licence and status (%s)" % (
                      lic["id"], doc.get("status")))
            res = verify(t, lic["qr_text"]).get("result")
            want = {"valid": "valid", "suspended": "suspended", "revoked": "revoked"}
            check(res == want.get(status[lic["id"]], res), "its token verifies there: %s" % res)
        r = call(t, "GET", "/api/v1/me", token=ROTATED)
        check(r.status == 200 and (r.doc or {}).get("name") == "rotated",
              "the rotated client's last token works on the copy (%d)" % r.status)
        r = call(t, "GET", "/api/v1/me", token=T["rotated"])
        check(r.status == 401, "its first token does not (%d)" % r.status)
        for copy_id in annotated:
            v = verify(t, {"copy": copy_id})
            check(v.get("result") == "valid" and (v.get("copy") or {}).get("purpose") == "办理排污许可",
                  "annotated copy %s verifies on the copy: %s" % (copy_id, v))
        seqs = "SELECT seq FROM licences WHERE type = '%s' AND issuer_code = '%s'" % (T_RAD, ENV)
        top = max(x[0] for x in rows(PG, seqs))
        r = issue(t, request_for(T_RAD, "CP-NEW", org_code(999)), T["env"], what="issue on the copy")
        new = (r.doc or {}).get("id", "")
        got = rows(PG, "SELECT seq FROM licences WHERE id = '%s'" % new)
        check(new not in status and got == [(top + 1,)],
              "a new licence takes the next serial (%s: seq %r after %d)" % (new, got, top))
        lics.append(r.doc or {})
        status[new] = "valid"
    finally:
        t.stop()


def killed_then_completed():
    target = csdb.new_postgres_db()
    p = subprocess.Popen([CERTSVC, "copy", "--from", w.db, "--to", target, "--batch", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def some():
            try:
                return len(rows(target, "SELECT id FROM licences")) > 0
            except Exception:
                return False
        check(wait_for(some, timeout=60, step=0.005), "the copy got to the licences")
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    half, total = len(rows(target, LICENCES)), len(rows(w.db, LICENCES))
    check(0 < half <= total, "killed with %d of %d licences copied" % (half, total))
    r = copy(w.db, target)
    check(r.returncode == 0, "run again, it completes (%d: %s)" % (r.returncode, r.stderr))
    c = counts(r.stdout, "copied")
    check(c.get("licences", -1) == total - half, "copying what was missing: %r" % c)
    for sql in (AUDIT, EVENTS, LICENCES, CLIENTS, COPIES, CHANGES, SUBS, TOKENS):
        check(rows(w.db, sql) == rows(target, sql), "the same rows: %s" % sql.split(" FROM ")[1])


def copies_back_to_sqlite():
    back = os.path.join(w.dir, "back.db")
    r = copy(PG, back)
    check(r.returncode == 0, "copy PostgreSQL -> SQLite exits 0 (%d: %s)" % (r.returncode, r.stderr))
    check(counts(r.stdout, "verified").get("licences") == len(rows(PG, LICENCES)),
          "every licence, the one issued on PostgreSQL too: %r" % r.stdout)
    for sql in (AUDIT, EVENTS, LICENCES, CLIENTS, COPIES, CHANGES, SUBS, TOKENS):
        check(rows(back, sql) == rows(PG, sql), "the same rows: %s" % sql.split(" FROM ")[1])
    r = w.run("copy", "--from", back, "--to", PG, "--verify-only", check_rc=False)
    check(r.returncode == 0, "--verify-only finds the two the same (%d: %s)" % (
        r.returncode, r.stderr))
    t = served_on(back)
    try:
        for lic in lics:
            r = call(t, "GET", "/api/v1/certificates/" + lic["id"], token=T["admin"])
            check(r.status == 200 and (r.doc or {}).get("status") == status[lic["id"]],
                  "%s read back from SQLite" % lic["id"])
        rh = call(t, "GET", "/api/v1/audit?holder=%s" % lics[0]["holder"]["code"],
                  token=T["admin"])
        check(is_json(rh, 200, "audit by holder") and len(rh.doc.get("records", [])) >= 2,
              "the audit log is found by holder on the copy")
    finally:
        t.stop()
    r = w.run("copy", "--from", back, "--to", PG, "--verify-only", check_rc=False)
    check(r.returncode == 1 and "audit records" in r.stderr and "missing from the target" in
          r.stderr, "once the copy's reads are audited, the two differ, and verify says where: "
          "%r" % r.stderr)


def conflict_names_the_row():
    target = os.path.join(w.dir, "other.db")
    w.run("client", "add", *[a if a != w.db else target for a in w.settings], "--name", "env",
          "--role", "reader", "--types", "*")
    r = copy(w.db, target)
    check(r.returncode == 1, "a client of the same name, other content: exit 1 (%d)" % r.returncode)
    check("clients env" in r.stderr, "naming the table and the key: %r" % r.stderr)
    check(len(rows(target, CLIENTS)) == 1, "and its batch changed nothing")
    check(len(rows(target, LICENCES)) == 0, "nor was anything after it copied")


def refuses_mistakes():
    r = w.run("copy", "--from", w.db, check_rc=False)
    check(r.returncode == 2, "without --to: a usage error (%d)" % r.returncode)
    r = w.run("copy", "--from", os.path.join(w.dir, "nope.db"), "--to", PG, check_rc=False)
    check(r.returncode == 1 and "no such file" in r.stderr, "a missing source file: %r" % r.stderr)
    check(not os.path.exists(os.path.join(w.dir, "nope.db")), "is not created")
    bad = PG.rsplit("/", 1)[0] + "/no_such_database"
    r = copy(w.db, bad)
    check(r.returncode == 1 and SECRET not in r.stdout + r.stderr and ":****@" in r.stderr,
          "an unreachable target: exit 1, the URI masked: %r" % r.stderr)
    r = w.run("copy", "--help", check_rc=False)
    check(r.returncode == 0 and "usage: certsvc copy" in r.stdout, "--help says how")


run_tests([
    ("copies_to_postgres", copies_to_postgres),
    ("same_status_list", same_status_list),
    ("again_copies_nothing", again_copies_nothing),
    ("serves_the_copy", serves_the_copy),
    ("killed_then_completed", killed_then_completed),
    ("copies_back_to_sqlite", copies_back_to_sqlite),
    ("conflict_names_the_row", conflict_names_the_row),
    ("refuses_mistakes", refuses_mistakes),
])
d.cleanup()
done()
