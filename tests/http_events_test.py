"""The change feed (SPEC §9): GET /api/v1/events.
- every issuance (each bundle member), amendment, suspension,
  reinstatement and revocation appends one event, with the licence's
  public metadata (no token, no face fields; code_type_code 001/111);
- a bundle rolled back (an invalid member) and an idempotent replay
  append none;
- a reader sees the events of the types it is granted, an admin all;
- after/limit page the feed in seq order; bad parameters are 400
  problems naming the parameter;
- a long poll (wait=S) answers within 100 ms of the event; on
  PostgreSQL a change made on node A wakes a long poll on node B;
- reading the feed is one audit record per request (events_read)."""
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
from cshttp import (ENV, T_DIAG, T_RAD, T_TRAIN, Deployment, audit_synced, call, example_bundle,  # noqa: E402
                    is_json, is_problem, issue, org_code, person_code, request_for)
from cstest import CERTSVC, Server, check, done, run_tests  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
refs = [0]


def feed(after=0, who="admin", query="", server=None):
    r = call(server or s, "GET", "/api/v1/events?after=%d%s" % (after, query), token=T[who])
    is_json(r, 200, "GET /api/v1/events after=%d%s as %s" % (after, query, who))
    return r.doc or {"events": [], "next_after": after}


def last_seq():
    return feed(0, query="&limit=1000")["next_after"]


def new_licence(type_code=T_RAD, holder=None, who="env", **extra):
    refs[0] += 1
    r = issue(s, request_for(type_code, "EV-%d" % refs[0], holder or org_code(500 + refs[0]),
                             **extra), T[who], what="issue %s" % type_code)
    return r.doc or {"id": "?"}


def events_since(after, who="admin"):
    return feed(after, who, "&limit=1000")["events"]


def every_type_once():
    start = last_seq()
    lic = new_licence()
    ev = events_since(start)
    check([e["type"] for e in ev] == ["licence.issued"], "an issuance: one licence.issued (%s)"
          % [e["type"] for e in ev])
    e = ev[0] if ev else {}
    m = e.get("licence", {})
    check(m.get("id") == lic["id"] and m.get("type") == T_RAD and m.get("status") == "valid" and
          m.get("number") == lic.get("number") and m.get("issuer", {}).get("code") == ENV,
          "issued: the licence's id, type, number, issuer and status (%s)" % m)
    check(m.get("holder", {}).get("code_type_code") == "001" and
          m.get("holder", {}).get("code") == lic["holder"]["code"], "issued: holder with code_type_code 001")
    check("token" not in m and "fields" not in m and "qr_text" not in m and
          "approval_ref" not in m, "issued: no token, face fields, QR text or approval_ref")
    check(isinstance(e.get("seq"), int) and e.get("event_id", "").startswith("evt_") and
          e.get("at", "").endswith("Z"), "issued: seq, event_id and at (%s)" % e)
    steps = [("suspend", {"reason": "整改"}, "licence.suspended", "suspended"),
             ("reinstate", {"reason": "整改完成"}, "licence.reinstated", "valid"),
             ("revoke", {"reason": "违法", "kind": "revoked"}, "licence.revoked", "revoked")]
    for action, body, typ, status in steps:
        before = last_seq()
        r = call(s, "POST", "/api/v1/certificates/%s/%s" % (lic["id"], action), body, token=T["env"])
        is_json(r, 200, action)
        ev = events_since(before)
        check([x["type"] for x in ev] == [typ], "%s: one %s (%s)" % (action, typ, [x["type"] for x in ev]))
        x = ev[0] if ev else {}
        check(x.get("licence", {}).get("status") == status and x.get("reason") == body["reason"] and
              x.get("kind") == body.get("kind"), "%s: status %s, its reason and kind (%s)" % (action, status, x))
        # The same change again is a replay: no event.
        r = call(s, "POST", "/api/v1/certificates/%s/%s" % (lic["id"], action), body, token=T["env"])
        if action == "revoke":
            check(r.headers.get("idempotent-replayed") == "true", "revoke again: replayed")
            check(events_since(before) == ev, "a replayed revocation appends no event")
    lic2 = new_licence()
    before = last_seq()
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % lic2["id"],
             {"approval_ref": "EV-AMEND-%d" % refs[0], "reason": "变更地址"}, token=T["env"])
    is_json(r, 201, "amend")
    ev = events_since(before)
    check([x["type"] for x in ev] == ["licence.amended"], "amend: one licence.amended (%s)" %
          [x["type"] for x in ev])
    m = ev[0]["licence"] if ev else {}
    check(m.get("id") == (r.doc or {}).get("id") and m.get("supersedes") == lic2["id"],
          "amended: the new version, naming the one it supersedes")
    # A person's licence: RID is 111.
    before = last_seq()
    new_licence(T_TRAIN, holder=person_code(77))
    ev = events_since(before)
    check(ev and ev[0]["licence"]["holder"].get("code_type_code") == "111", "a RID holder: code_type_code 111")


def replay_none():
    refs[0] += 1
    req = request_for(T_RAD, "EV-R-%d" % refs[0], org_code(900 + refs[0]))
    issue(s, req, T["env"])
    before = last_seq()
    r = issue(s, req, T["env"], expect=200, what="the same issuance again")
    check(r.headers.get("idempotent-replayed") == "true", "replay marked")
    check(events_since(before) == [], "an idempotent replay appends no event")


def bundle_members_and_rollback():
    before = last_seq()
    r = call(s, "POST", "/api/v1/bundles", example_bundle("EV-B1"), token=T["onewin"])
    is_json(r, 201, "bundle")
    ids = [c["id"] for c in (r.doc or {}).get("certificates", [])]
    ev = events_since(before)
    check([x["type"] for x in ev] == ["licence.issued"] * 2 and
          [x["licence"]["id"] for x in ev] == ids and
          all(x["licence"]["bundle"] == r.doc["id"] for x in ev),
          "a bundle: one licence.issued per member, naming the bundle")
    before = last_seq()
    bad = example_bundle("EV-B2")
    bad["certificates"][1]["fields"] = {}
    r = call(s, "POST", "/api/v1/bundles", bad, token=T["onewin"])
    check(r.status in (400, 422), "a bundle with an invalid member is refused (%d)" % r.status)
    check(events_since(before) == [], "a refused bundle appends no event")


def grants_filter():
    before = last_seq()
    rad = new_licence(T_RAD)
    refs[0] += 1
    diag = issue(s, request_for(T_DIAG, "EV-D-%d" % refs[0], org_code(700 + refs[0])), T["health"]).doc
    ids = lambda who: [x["licence"]["id"] for x in events_since(before, who)]  # noqa: E731
    check(ids("admin") == [rad["id"], diag["id"]], "admin sees both")
    check(ids("rd_all") == [rad["id"], diag["id"]], "a reader granted * sees both")
    check(ids("rd_rad") == [rad["id"]], "a reader of T_RAD sees only T_RAD")
    check(ids("rd_diag") == [diag["id"]], "a reader of T_DIAG sees only T_DIAG")
    check(ids("health") == [diag["id"]], "an issuer sees its own authority's licences")
    # next_after moves past what the reader may not see.
    f = feed(before, "rd_diag", "&limit=1000")
    check(f["next_after"] == last_seq(), "next_after passes events the reader may not see")


def paging():
    before = last_seq()
    for _ in range(5):
        new_licence()
    seen, after = [], before
    for _ in range(10):
        f = feed(after, query="&limit=2")
        check(len(f["events"]) <= 2, "limit=2: at most two")
        if not f["events"]:
            break
        seen += [x["seq"] for x in f["events"]]
        after = f["next_after"]
    check(len(seen) == 5 and seen == sorted(seen) and len(set(seen)) == 5,
          "paging by next_after: every event once, in seq order (%s)" % seen)
    f = feed(after)
    check(f == {"events": [], "next_after": after}, "the end of the feed: empty, next_after kept")


def bad_params():
    for q, field in [("after=-1", "after"), ("after=x", "after"), ("limit=0", "limit"),
                     ("limit=1001", "limit"), ("limit=1.5", "limit"), ("wait=31", "wait"),
                     ("wait=-1", "wait"), ("wait=abc", "wait"), ("since=1", "since")]:
        r = call(s, "GET", "/api/v1/events?" + q, token=T["admin"])
        is_problem(r, 400, field, "GET /api/v1/events?%s" % q)
    r = call(s, "GET", "/api/v1/events")
    check(r.status == 401, "no token: 401")


def long_poll(server_read=None, server_write=None, what="long poll"):
    server_read = server_read or s
    after = last_seq()
    got = {}

    def poll():
        t0 = time.monotonic()
        r = call(server_read, "GET", "/api/v1/events?after=%d&wait=10" % after, token=T["admin"])
        got["t"] = time.monotonic()
        got["elapsed"] = got["t"] - t0
        got["r"] = r

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.8)
    check("r" not in got, "%s: an empty feed waits" % what)
    refs[0] += 1
    issue(server_write or s, request_for(T_RAD, "EV-LP-%d" % refs[0], org_code(800 + refs[0])),
          T["env"])
    t_issued = time.monotonic()
    th.join(15)
    r = got.get("r")
    check(r is not None and r.status == 200 and len((r.doc or {}).get("events", [])) == 1,
          "%s: answered with the event" % what)
    lag = got.get("t", 99) - t_issued
    return lag


def long_poll_fast():
    lags = [long_poll() for _ in range(3)]
    check(min(lags) < 0.1, "a long poll answers within 100 ms of the event (lags %s)" %
          ["%.3f" % x for x in lags])
    t0 = time.monotonic()
    after = last_seq()
    f = feed(after, query="&wait=1")
    el = time.monotonic() - t0
    check(f["events"] == [] and 0.9 <= el < 2.5, "wait=1 with nothing: empty after about 1 s (%.2f)" % el)


def audited_once():
    audit_synced(s, T["admin"])
    r = call(s, "GET", "/api/v1/audit?action=events_read&client=rd_rad&limit=1000", token=T["admin"])
    n0 = len((r.doc or {}).get("records", []))
    feed(0, "rd_rad", "&limit=3")
    after = last_seq()
    call(s, "GET", "/api/v1/events?after=%d&wait=1" % after, token=T["rd_rad"])
    audit_synced(s, T["admin"])
    r = call(s, "GET", "/api/v1/audit?action=events_read&client=rd_rad&limit=1000", token=T["admin"])
    recs = (r.doc or {}).get("records", [])
    check(len(recs) - n0 == 2, "two feed requests (one a long poll): two events_read records (%d)"
          % (len(recs) - n0))


def cli_events():
    w = d.work
    everything = []
    after = 0
    while True:
        f = feed(after, query="&limit=1000")
        everything += f["events"]
        if not f["events"]:
            break
        after = f["next_after"]
    r = w.cli("events")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    check(lines == everything, "certsvc events: every event as the admin's feed has it (%d, %d)"
          % (len(lines), len(everything)))
    mid = everything[len(everything) // 2]["seq"] if everything else 0
    r = w.cli("events", "--after", str(mid), "--limit", "2")
    check([json.loads(x)["seq"] for x in r.stdout.splitlines()] ==
          [e["seq"] for e in everything if e["seq"] > mid][:2], "--after and --limit")
    r = w.cli("events", "--limit", "0", check_rc=False)
    check(r.returncode == 2 and "limit" in r.stderr, "--limit 0: exit 2 naming limit (%s)" % r.stderr)
    r = w.cli("events", "--help", check_rc=False)
    check(r.returncode == 0 and "--follow" in r.stdout + r.stderr, "--help")
    last = everything[-1]["seq"] if everything else 0
    p = subprocess.Popen([CERTSVC, "events"] + w.settings + ["--follow", "--after", str(last)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        lic = new_licence()
        got = {}

        def read_line():
            got["line"] = p.stdout.readline()
        th = threading.Thread(target=read_line, daemon=True)
        th.start()
        th.join(10)
        ev = json.loads(got.get("line") or "{}")
        check(ev.get("licence", {}).get("id") == lic["id"], "--follow prints a new event (%s)" % ev)
    finally:
        p.kill()
        p.wait()


def two_nodes():
    if not csdb.is_postgres():
        return
    work_b = copy.copy(d.work)
    work_b.dir = tempfile.mkdtemp(prefix="certsvc-events-b-")
    b = Server(work_b, "--rate-limit", "0")
    try:
        lag = long_poll(server_read=b, server_write=s, what="node B's long poll, a change on node A")
        check(lag < 1.0, "node B answers within 1 s of node A's change (%.3f)" % lag)
    finally:
        check(b.stop() == 0, "node B exits 0")


def drain_answers_waiters():
    """Last: SIGTERM while a long poll waits answers it at once, and the
    server exits 0 (the drain waits for suspended requests)."""
    after = last_seq()
    got = {}

    def poll():
        got["r"] = call(s, "GET", "/api/v1/events?after=%d&wait=30" % after, token=T["admin"])

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    check(d.stop() == 0, "SIGTERM with a long poll waiting: exit 0")
    th.join(10)
    r = got.get("r")
    check(r is not None and r.status == 200 and (r.doc or {}).get("events") == [],
          "the waiting long poll is answered (empty) by the drain")
    check(time.monotonic() - t0 < 5, "the drain does not wait out the long poll")


try:
    run_tests([every_type_once, replay_none, bundle_members_and_rollback, grants_filter, paging,
               bad_params, long_poll_fast, audited_once, cli_events, two_nodes,
               drain_answers_waiters])
finally:
    if d.server is not None:
        check(d.stop() == 0, "server exits 0 after SIGTERM")
    d.cleanup()
done()
