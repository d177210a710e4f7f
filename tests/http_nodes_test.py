"""Two certsvc nodes on one PostgreSQL database (SPEC §8): what one node
does, the other answers from then on.

- the same approval_ref sent to both nodes at once gives one licence: one
  201 and one 200 with the same licence (a 409 when the content differs),
  never a 500;
- issuances raced on both nodes get distinct serials, ids and numbers;
- a suspension, a reinstatement and a suspension again made on node A are
  what node B answers within 1 s, by fetch and by holder lookup, though B
  had just read (and cached) the licence; node A answers each at once;
- a client revoked while both serve is refused by both within 1 s
  (auth_cache_ms) and never again.

SQLite is one process's file: the test is skipped (exit 77) unless the run
uses PostgreSQL (CS_TEST_BACKEND=postgresql, ctest -L pg)."""
import copy
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
from cshttp import (ENV, T_HAZ, T_RAD, Deployment, call, connection, issue,  # noqa: E402
                    org_code, request_for)
from cstest import Server, check, done, in_parallel, run_tests  # noqa: E402

if not csdb.is_postgres():
    print("skipped: many nodes share a PostgreSQL database (CS_TEST_BACKEND=postgresql)")
    sys.exit(77)

d = Deployment()
T = d.tokens
# Node B: the same database and key directory, its own log.
work_b = copy.copy(d.work)
work_b.dir = tempfile.mkdtemp(prefix="certsvc-node-b-")
a = d.start("--rate-limit", "0")
b = Server(work_b, "--rate-limit", "0")
NODES = (a, b)


def raced(calls):
    """Run each of calls (a function of a connection) in its own thread,
    all released at once; their results in order."""
    barrier = threading.Barrier(len(calls))

    def worker(i):
        node, fn = calls[i]
        conn = connection(node)
        conn.connect()
        try:
            barrier.wait(timeout=30)
            return fn(node, conn)
        finally:
            conn.close()

    return in_parallel(len(calls), worker)


def same_ref_one_licence():
    pairs = 16
    calls = []
    for i in range(pairs):
        req = request_for(T_RAD, "NODES-SAME-%02d" % i, org_code(100 + i))
        for node in NODES:
            calls.append((node, lambda n, c, req=req: issue(n, req, T["env"], expect=None,
                                                            conn=c)))
    out = raced(calls)
    for i in range(pairs):
        one, two = out[2 * i], out[2 * i + 1]
        got = sorted(getattr(r, "status", None) for r in (one, two))
        check(got == [200, 201], "pair %d on two nodes: one 201 and one 200 (got %s: %s)" % (
            i, got, [getattr(r, "body", r)[:200] for r in (one, two)]))
        if got == [200, 201]:
            check(one.doc["id"] == two.doc["id"], "pair %d: both answers are one licence" % i)


def same_ref_other_content_409():
    base = request_for(T_RAD, "NODES-DIFF", org_code(300))
    other = request_for(T_RAD, "NODES-DIFF", org_code(301))
    out = raced([(a, lambda n, c: issue(n, base, T["env"], expect=None, conn=c)),
                 (b, lambda n, c: issue(n, other, T["env"], expect=None, conn=c))])
    got = sorted(getattr(r, "status", None) for r in out)
    check(got == [201, 409], "one approval_ref, two contents, two nodes: 201 and 409 (got %s)"
          % got)


def serials_never_repeat():
    per = 24
    calls = []
    for i in range(per):
        for k, node in enumerate(NODES):
            kind = T_RAD if i % 2 else T_HAZ
            req = request_for(kind, "NODES-DISTINCT-%d-%02d" % (k, i), org_code(400 + 2 * i + k))
            calls.append((node, lambda n, c, req=req: issue(n, req, T["env"], expect=None,
                                                            conn=c)))
    out = raced(calls)
    codes = Counter(getattr(r, "status", None) for r in out)
    check(codes == Counter({201: len(calls)}), "%d issuances on two nodes: all 201 (%s)" % (
        len(calls), dict(codes)))
    docs = [r.doc for r in out if getattr(r, "status", None) == 201]
    ids = [x["id"] for x in docs]
    numbers = [(x["type"], x["number"]) for x in docs]
    check(len(set(ids)) == len(ids), "every id distinct across nodes (%d of %d)" % (
        len(set(ids)), len(ids)))
    check(len(set(numbers)) == len(numbers), "every number distinct across nodes (%d of %d)"
          % (len(set(numbers)), len(numbers)))


def b_fetch_status(lid):
    r = call(b, "GET", "/api/v1/certificates/" + lid, token=T["rd_all"],
             headers={"X-Purpose": "status check"})
    return r.doc["status"] if r.status == 200 else "HTTP %s" % r.status, r


def b_lookup_status(lid, holder):
    r = call(b, "GET", "/api/v1/holders/%s/certificates" % holder, token=T["rd_all"],
             headers={"X-Purpose": "status check"})
    if r.status != 200:
        return "HTTP %s" % r.status, r
    mine = [c for c in r.doc["certificates"] if c["id"] == lid]
    return (mine[0]["status"] if mine else "absent"), r


def seconds_until(want, read):
    """How long until read() says want (polling), None if not in 3 s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:
        got, _ = read()
        if got == want:
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def status_seen_on_the_other_node():
    """Node B answers every change node A makes within 1 s, by fetch and by
    holder lookup, though B read the licence (and so cached its status)
    just before: the status cache's refresh, SPEC §8."""
    holder = org_code(600)
    r = issue(a, request_for(T_RAD, "NODES-STATUS", holder), T["env"])
    lid = r.doc["id"]
    for _ in range(3):  # warm whatever B caches of it
        check(b_fetch_status(lid)[0] == "valid", "node B fetches it valid")
        check(b_lookup_status(lid, holder)[0] == "valid", "node B's lookup says valid")
    for action, want in (("suspend", "suspended"), ("reinstate", "valid"),
                         ("suspend", "suspended")):
        r = call(a, "POST", "/api/v1/certificates/%s/%s" % (lid, action),
                 {"reason": "inspection %s" % action}, token=T["env"])
        check(r.status == 200, "node A: %s (%s %s)" % (action, r.status, r.body[:200]))
        took = seconds_until(want, lambda: b_fetch_status(lid))
        check(took is not None and took <= 1.0,
              "after %s on A, B's fetch says %s within 1 s (after %s s)" % (action, want, took))
        took = seconds_until(want, lambda: b_lookup_status(lid, holder))
        check(took is not None and took <= 1.0,
              "after %s on A, B's lookup says %s within 1 s (after %s s)" % (action, want,
                                                                            took))
        # Node A, which made the change, answers it at once.
        check(call(a, "GET", "/api/v1/certificates/" + lid, token=T["rd_all"],
                   headers={"X-Purpose": "status check"}).doc["status"] == want,
              "node A answers %s at once" % want)
    _, r = b_fetch_status(lid)
    v = call(b, "POST", "/api/v1/verify", r.doc["qr_text"], ctype="text/plain")
    check(v.status == 200 and v.doc.get("result") == "suspended",
          "node B's verify says suspended (%s)" % (v.doc or {}).get("result"))


def revoked_client_refused_by_both():
    token = d.add_client("nodes_rd", "reader", "*")
    for node in NODES:
        r = call(node, "GET", "/api/v1/types", token=token)
        r = call(node, "GET", "/api/v1/holders/%s/certificates" % org_code(600), token=token,
                 headers={"X-Purpose": "warm the cache"})
        check(r.status == 200, "the reader works on both nodes first (%s)" % r.status)
    d.work.cli("client revoke", "nodes_rd")
    t0 = time.monotonic()
    refused = {}
    while time.monotonic() - t0 < 3 and len(refused) < 2:
        for k, node in enumerate(NODES):
            if k in refused:
                continue
            r = call(node, "GET", "/api/v1/holders/%s/certificates" % org_code(600),
                     token=token, headers={"X-Purpose": "after revocation"})
            if r.status == 401:
                refused[k] = time.monotonic() - t0
        time.sleep(0.05)
    check(len(refused) == 2 and max(refused.values()) <= 1.2,
          "both nodes refuse the revoked client within auth_cache_ms, 1 s (%s)" % refused)


run_tests([
    ("same_ref_one_licence", same_ref_one_licence),
    ("same_ref_other_content_409", same_ref_other_content_409),
    ("serials_never_repeat", serials_never_repeat),
    ("status_seen_on_the_other_node", status_seen_on_the_other_node),
    ("revoked_client_refused_by_both", revoked_client_refused_by_both),
])
for node in NODES:
    node.stop_clean("node %s" % node.base)
d.cleanup()
shutil.rmtree(work_b.dir, ignore_errors=True)
done()
