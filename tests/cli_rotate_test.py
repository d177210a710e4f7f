"""certsvc client rotate NAME, end to end against a running server.

1. A reader whose token was just used (so is cached) is rotated with the
   CLI while the server runs: the new token, printed once, works at once;
   the old one is refused (401 invalid_token) within auth_cache_ms plus a
   margin of the CLI returning, and stays refused past another cache
   period.  --json prints {"client", "token", "rotated_at"}.
2. The rotation is audited: one client_rotate record naming the client,
   done from the console ("cli").  Neither token appears in the server's
   log, the audit log or the CLI's standard error.
3. Refusals: an unknown client and a revoked one are not rotated (exit
   status not 0, a message naming the client), and nothing is audited.
4. --auth-cache-ms 0: the old token's very next request is 401.
5. PostgreSQL only: two nodes on one database; a rotation made with the
   CLI against the database is seen by both: each refuses the old token
   within 1 s (auth_cache_ms) and accepts the new one.

Waits are for conditions with deadlines, never fixed sleeps, except the
one wait past a whole cache period that checks a refusal stays.
"""
import copy
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
from cshttp import Deployment, audit_records, call, is_json, is_problem  # noqa: E402
from cstest import Server, check, done, run_tests  # noqa: E402

CACHE_S = 1.0      # auth_cache_ms by default
MARGIN_S = 1.5     # a request's time, a CLI process's exit, a loaded machine
POLL_S = 0.02

d = Deployment(clients=False)
T = d.tokens
d.add_client("admin", "admin", "*")
d.add_client("rd", "reader", "*")
d.add_client("rd0", "reader", "*")
d.add_client("rd_nodes", "reader", "*")
d.add_client("gone", "reader", "*")
d.work.cli("client revoke", "gone")
seen_tokens = []   # every token handed out here: none may leak


def me(server, token):
    return call(server, "GET", "/api/v1/me", token=token)


def rotate(name, *flags):
    """Rotate name with the CLI: (new token, CompletedProcess)."""
    r = d.work.cli("client rotate", name, *flags)
    if "--json" in flags:
        doc = json.loads(r.stdout)
        token = doc.get("token", "")
    else:
        lines = [x for x in r.stdout.splitlines() if x.startswith("cs_")]
        token = lines[0] if len(lines) == 1 else ""
    seen_tokens.append(token)
    check(token not in r.stderr, "the token is not on standard error")
    return token, r


def refused_within(server, token, limit_s):
    """Poll until token gets 401 or limit_s passes: (Response, seconds)."""
    t0 = time.monotonic()
    while True:
        r = me(server, token)
        took = time.monotonic() - t0
        if r.status != 200 or took > limit_s:
            return r, took
        time.sleep(POLL_S)


def rotate_under_cache():
    s = d.start()
    old = T["rd"]
    seen_tokens.append(old)
    for i in range(3):   # used, so cached
        is_json(me(s, old), 200, "1: the reader's token works (%d)" % i)
    new, out = rotate("rd", "--json")
    doc = json.loads(out.stdout)
    check(doc.get("client") == "rd" and new.startswith("cs_") and new != old,
          "1: --json names the client and a new token (%s)" % sorted(doc))
    check(str(doc.get("rotated_at", "")).endswith("Z"),
          "1: and when (%s)" % doc.get("rotated_at"))
    r = me(s, new)
    is_json(r, 200, "1: the new token works on the very next request")
    check((r.doc or {}).get("name") == "rd", "1: as the same client (%s)" % (r.doc or {}).get("name"))
    r, took = refused_within(s, old, CACHE_S + MARGIN_S + 1.0)
    print("1: old token refused %.3f s after the CLI returned" % took)
    is_problem(r, 401, what="1: the old token")
    check('error="invalid_token"' in r.headers.get("www-authenticate", ""),
          "1: its refusal says invalid_token (%s)" % r.headers.get("www-authenticate"))
    check(took <= CACHE_S + MARGIN_S,
          "1: refused within auth_cache_ms + %.1f s (took %.3f s)" % (MARGIN_S, took))
    time.sleep(CACHE_S + 0.2)
    after = [me(s, old).status, me(s, new).status]
    check(after == [401, 200], "1: past another cache period the old token stays refused, "
          "the new one works (got %s)" % after)

    # Rotated again, in plain text: the first rotation's token goes too.
    newer, out = rotate("rd")
    check(out.stdout.count(newer) == 1, "1: the plain output shows the token once")
    check("rotated" in out.stdout, "1: and says what it did (%r)" % out.stdout[:80])
    r, took = refused_within(s, new, CACHE_S + MARGIN_S + 1.0)
    is_problem(r, 401, what="1: the first rotation's token, after a second rotation")
    is_json(me(s, newer), 200, "1: the second rotation's token works")
    is_problem(me(s, old), 401, what="1: the original token still refused")
    T["rd"] = newer

    # 2. audited, and no token in the log.
    recs = audit_records(s, T["admin"], "action=client_rotate")
    check(len(recs) == 2, "2: two client_rotate records (got %d)" % len(recs))
    check(all(x.get("target") == "rd" and x.get("remote") == "cli" for x in recs),
          "2: each names the client, done from the console (%s)" % recs)
    d.stop()
    with open(s.log_path, "rb") as f:
        log = f.read()
    audit_text = json.dumps(audit_records(
        d.start(), T["admin"], "", reads_of_the_log=True))
    d.stop()
    for t in seen_tokens:
        check(t.encode() not in log, "2: no token in the server's log")
        check(t not in audit_text, "2: no token in the audit log")
    check(len(log) > 0, "2: the log was read (%d bytes)" % len(log))


def refusals():
    s = d.start()
    before = len(audit_records(s, T["admin"], "action=client_rotate"))
    for name in ("nobody", "gone"):
        r = d.work.cli("client rotate", name, check_rc=False)
        check(r.returncode != 0, "3: rotating %s fails (exit %d)" % (name, r.returncode))
        check(name in r.stderr and "no active client" in r.stderr,
              "3: the message names it (%r)" % r.stderr.strip())
        check("cs_" not in r.stdout, "3: no token printed for %s" % name)
    r = d.work.cli("client rotate", check_rc=False)
    check(r.returncode == 2, "3: rotate without NAME is a usage error (exit %d)" % r.returncode)
    after = len(audit_records(s, T["admin"], "action=client_rotate"))
    check(after == before, "3: a refused rotation is not audited (%d -> %d)" % (before, after))
    is_problem(me(s, T["gone"]), 401, what="3: the revoked client stays refused")
    d.stop()


def no_cache():
    s = d.start("--auth-cache-ms", "0")
    old = T["rd0"]
    seen_tokens.append(old)
    is_json(me(s, old), 200, "4: the reader's token works")
    new, _ = rotate("rd0")
    is_problem(me(s, old), 401, what="4: auth_cache_ms 0: the old token's very next request")
    is_json(me(s, new), 200, "4: the new token")
    d.stop()


def two_nodes():
    if not csdb.is_postgres():
        print("5: skipped: two nodes share a PostgreSQL database only")
        return
    work_b = copy.copy(d.work)
    work_b.dir = tempfile.mkdtemp(prefix="certsvc-node-b-")
    a = d.start()
    b = Server(work_b)
    nodes = (a, b)
    try:
        old = T["rd_nodes"]
        seen_tokens.append(old)
        for node in nodes:
            for _ in range(2):
                is_json(me(node, old), 200, "5: the token works on both nodes first")
        new, _ = rotate("rd_nodes")
        t0 = time.monotonic()
        refused = {}
        while time.monotonic() - t0 < CACHE_S + MARGIN_S + 1.0 and len(refused) < 2:
            for k, node in enumerate(nodes):
                if k not in refused and me(node, old).status == 401:
                    refused[k] = time.monotonic() - t0
            time.sleep(POLL_S)
        print("5: old token refused by the nodes after %s s" % refused)
        check(len(refused) == 2 and max(refused.values()) <= CACHE_S + 0.2,
              "5: both nodes refuse the old token within auth_cache_ms, 1 s (%s)" % refused)
        for k, node in enumerate(nodes):
            is_json(me(node, new), 200, "5: node %d takes the new token" % k)
            is_problem(me(node, old), 401, what="5: node %d still refuses the old one" % k)
    finally:
        b.stop_clean("node B")
        d.stop()
        work_b.cleanup()


try:
    run_tests([rotate_under_cache, refusals, no_cache, two_nodes])
finally:
    d.cleanup()
done()
