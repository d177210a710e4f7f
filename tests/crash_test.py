"""Crash safety: acknowledged means durable, and nothing is half-written.

Several clients issue licences concurrently (each thread its own
approval_ref sequence; one thread issues two-licence bundles, one suspends
and revokes what the others were given) while the real server is killed
with SIGKILL at a random moment, ROUNDS times, and restarted.  After each
kill, before the restart, the database file is opened read-only:

  - PRAGMA integrity_check is ok;
  - every licence whose 201 a client received is stored, every status
    event refers to a stored licence, every bundle holds all its licences,
    every stored licence has its "issue" audit record and every "issue"
    record its licence (one transaction writes both);
  - every suspension or revocation that got its 200 has its event.

After the restart, through the API: every stored licence not seen before
is read by id (admin), verifies through POST /api/v1/verify with the status
it should have, and verifies with the independent verifier against the
trust list; the audit log (action=issue, paged with after=) names every
acknowledged issuance.  Requests whose answer the kill swallowed are sent
again: the same approval_ref answers 200 with the stored licence when it
had been committed and 201 when it had not (never 409 or 5xx).

The answer "acknowledged ⇒ durable" must hold whether the store commits one
transaction at a time or groups the commits of concurrent requests.

Each round is a test of its own (kill_round_1, ...; run_tests), so that a
round that fails does not hide the next, which starts a server again if it
has to; the last tests check what the rounds did together (nothing
unexpected answered, the last retries, a clean stop, kills that cut
requests off), so they need rounds before them:
`python3 tests/crash_test.py kill_round_1 kills_cut_requests_off`.
"""
import concurrent.futures
import functools
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
import csraw  # noqa: E402
import cshttp  # noqa: E402
from cshttp import ENV, HEALTH, T_DIAG, T_EIA, T_HAZ, T_RAD, T_TRAIN, org_code, person_code  # noqa: E402
import independent  # noqa: E402
from cstest import (Server, Workdir, check, done, run_tests, sample_request,  # noqa: E402
                    sanitizer_clean)

ROUNDS = int(os.environ.get("CS_CRASH_ROUNDS", "5"))
ISSUERS = 4
ISSUE_TYPES = [T_RAD, T_HAZ, T_EIA, T_TRAIN]

w = Workdir()
env = w.client("env", "issuer", ",".join([T_RAD, T_HAZ, T_EIA, T_TRAIN]), ENV, "广东省生态环境厅")
onewin = w.client("onewin", "issuer", T_RAD, ENV, "广东省生态环境厅")
w.cli("client grant", "onewin", "--types", T_DIAG, "--issuer-code", HEALTH,
      "--issuer-name", "广东省卫生健康委员会")
admin = w.client("admin", "admin", "*")
jwks = json.loads(w.cli("trust-list").stdout)


def start():
    """The server (restarted: its log is appended to, and Server reads
    this process's own 'listening on' line)."""
    return Server(w, "--rate-limit", "0")


def call(base, method, path, body=None, token=None, timeout=30):
    """(status, JSON) or raises OSError / http.client exceptions: one
    request on a connection of its own (cshttp.call), text sent as
    text/plain."""
    r = cshttp.call(base, method, path, body, token=token, timeout=timeout,
                    ctype="text/plain" if isinstance(body, str) else None,
                    headers={"Connection": "close"})
    try:
        return r.status, json.loads(r.body) if r.body else None
    except ValueError:
        return r.status, r.body


# --- what the clients were told ----------------------------------------------

lock = threading.Lock()
acked = {}          # id -> the licence as the 201 returned it
bundles_acked = {}  # bundle id -> [licence ids]
expected_status = {}  # id -> "suspended" | "revoked" after an acknowledged transition
maybe_status = {}   # id -> a transition whose answer was lost: either state
in_doubt = []       # (client, token, path, request): sent, answer lost
unexpected = []     # answers no client should get
stats = {"attempts": 0, "acked": 0, "refused": 0, "in_doubt": 0, "transitions": 0,
         "transitions_acked": 0, "transitions_lost": 0, "bundles": 0, "bundles_acked": 0}
busy = [0]          # requests sent whose answer has not arrived yet


class InFlight:
    """Counts a request as in flight from before it is sent until its
    answer (or its failure) is back."""

    def __enter__(self):
        with lock:
            busy[0] += 1

    def __exit__(self, *exc):
        with lock:
            busy[0] -= 1


def bump(k, n=1):
    with lock:
        stats[k] += n


def send(base, client, token, path, req):
    """Send one issuance; sort its fate.  False once the server is gone."""
    bump("attempts")
    try:
        with InFlight():
            status, body = call(base, "POST", path, req, token)
    except ConnectionRefusedError:
        bump("refused")   # never reached the server: nothing to doubt
        return False
    except (OSError, http.client.HTTPException):
        bump("in_doubt")
        with lock:
            in_doubt.append((client, token, path, req))
        return False
    if status == 201 and path.endswith("/bundles"):
        ids = [c["id"] for c in body["certificates"]]
        with lock:
            bundles_acked[body["id"]] = ids
            for c in body["certificates"]:
                acked[c["id"]] = c
            stats["bundles_acked"] += 1
            stats["acked"] += len(ids)
    elif status == 201:
        with lock:
            acked[body["id"]] = body
            stats["acked"] += 1
    else:
        with lock:
            unexpected.append((path, req.get("approval_ref"), status, str(body)[:300]))
    return True


def issuer_thread(base, rnd, tid, stop):
    k = 0
    while not stop.is_set():
        t = ISSUE_TYPES[k % len(ISSUE_TYPES)]
        i = rnd * 100000 + tid * 10000 + k
        req = sample_request(t, "CR%d-T%d-%d" % (rnd, tid, k),
                             person_code(i) if t == T_TRAIN else org_code(i))
        k += 1
        if not send(base, "env", env, "/api/v1/certificates", req):
            stop.wait(0.01)


def bundle_thread(base, rnd, stop):
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "examples",
                           "bundle.json")) as f:
        template = json.load(f)
    k = 0
    while not stop.is_set():
        req = json.loads(json.dumps(template))
        req["approval_ref"] = "CB%d-%d" % (rnd, k)
        for c in req["certificates"]:
            c["holder"]["code"] = org_code(900000 + rnd * 10000 + k)
        k += 1
        bump("bundles")
        if not send(base, "onewin", onewin, "/api/v1/bundles", req):
            stop.wait(0.01)


def lifecycle_thread(base, stop):
    """Suspend or revoke licences the issuers were given, one each."""
    rng = random.Random(7)
    done_ids = set(expected_status) | set(maybe_status)
    while not stop.is_set():
        with lock:
            todo = [i for i, lic in acked.items()
                    if i not in done_ids and lic.get("bundle") is None]
        if not todo:
            stop.wait(0.02)
            continue
        lid = rng.choice(todo)
        done_ids.add(lid)
        action = rng.choice(["suspend", "revoke"])
        body = {"reason": "crash test"}
        if action == "revoke":
            body["kind"] = "withdrawn"
        bump("transitions")
        target = "suspended" if action == "suspend" else "revoked"
        try:
            with InFlight():
                status, out = call(base, "POST", "/api/v1/certificates/%s/%s" % (lid, action),
                                   body, env)
        except ConnectionRefusedError:
            stop.wait(0.01)
            continue
        except (OSError, http.client.HTTPException):
            with lock:
                maybe_status[lid] = target
                stats["transitions_lost"] += 1
            continue
        if status == 200 and out.get("status") == target:
            with lock:
                expected_status[lid] = target
                stats["transitions_acked"] += 1
        else:
            with lock:
                unexpected.append((action, lid, status, str(out)[:300]))


# --- checks -----------------------------------------------------------------

def db_checks(rnd):
    """Read-only, with the server dead: what is on disk."""
    db = csraw.open_ro(w.db)
    try:
        if not csdb.is_postgres(w.db):
            # SQLite's own check of its file; a PostgreSQL server's data
            # directory is its own business (the server is not killed).
            ic = db.execute("PRAGMA integrity_check").fetchall()
            check(ic == [("ok",)], "round %d: PRAGMA integrity_check is ok (%s)" % (rnd, ic[:5]))
        ids = {r[0] for r in db.execute("SELECT id FROM licences")}
        orphans = db.execute("SELECT count(*) FROM status_events WHERE licence_id NOT IN "
                             "(SELECT id FROM licences)").fetchone()[0]
        check(orphans == 0, "round %d: every status event refers to a licence (%d do not)" % (
            rnd, orphans))
        sizes = dict(db.execute("SELECT b.id, (SELECT count(*) FROM licences l WHERE "
                                "l.bundle = b.id) FROM bundles b"))
        check(all(n == 2 for n in sizes.values()),
              "round %d: every bundle holds its two licences (%s)" % (
                  rnd, [b for b, n in sizes.items() if n != 2][:5]))
        strays = db.execute("SELECT count(*) FROM licences WHERE bundle IS NOT NULL AND "
                            "bundle NOT IN (SELECT id FROM bundles)").fetchone()[0]
        check(strays == 0, "round %d: no licence names a bundle that was not stored" % rnd)
        audited = {r[0] for r in db.execute("SELECT target FROM audit WHERE action = 'issue'")}
        check(audited == ids, "round %d: the issue audit records and the licences match "
              "(%d licences without, %d records without a licence)" % (
                  rnd, len(ids - audited), len(audited - ids)))
        events = set(db.execute("SELECT licence_id, action FROM status_events"))
    finally:
        db.close()
    with lock:
        lost = [i for i in acked if i not in ids]
        lost_bundles = [b for b in bundles_acked if b not in sizes]
        lost_events = [(i, s) for i, s in expected_status.items()
                       if (i, "suspend" if s == "suspended" else "revoke") not in events]
    check(not lost, "round %d: every acknowledged licence is on disk (%d of %d lost: %s)" % (
        rnd, len(lost), len(acked), lost[:3]))
    check(not lost_bundles, "round %d: every acknowledged bundle is on disk (%s)" % (
        rnd, lost_bundles[:3]))
    check(not lost_events, "round %d: every acknowledged suspension or revocation is on "
          "disk (%s)" % (rnd, lost_events[:3]))
    return ids


def check_licence(base, lid):
    """Read, verify online and independently.  Returns a failure or None."""
    status, lic = call(base, "GET", "/api/v1/certificates/" + lid, token=admin)
    if status != 200 or not isinstance(lic, dict) or lic.get("id") != lid:
        return "GET %s: %s %s" % (lid, status, str(lic)[:200])
    with lock:
        sent = acked.get(lid)
        want = expected_status.get(lid)
        maybe = maybe_status.get(lid)
    if sent is not None:
        for k in ("token", "number", "holder", "fields", "issued_at", "valid_from",
                  "valid_until", "bundle"):
            if sent.get(k) != lic.get(k):
                return "%s: %s differs from the acknowledged licence" % (lid, k)
    allowed = {want or "valid"} | ({maybe} if maybe else set())
    if lic.get("status") not in allowed:
        return "%s: status %s, expected %s" % (lid, lic.get("status"), "/".join(allowed))
    status, v = call(base, "POST", "/api/v1/verify", lic["token"])
    if status != 200 or v.get("result") != lic["status"]:
        return "%s: verify says %s %s, the licence is %s" % (
            lid, status, v if status != 200 else v.get("result"), lic["status"])
    ok, reason, claims = independent.verify(lic["token"], jwks)
    if not ok or claims[-65537]["id"] != lid:
        return "%s: the independent verifier says %s" % (lid, reason)
    return None


audit_cursor = [0]
audit_targets = set()


def audit_checks(base, rnd):
    pages = 0
    while True:
        status, page = call(base, "GET", "/api/v1/audit?action=issue&limit=1000&after=%d" %
                            audit_cursor[0], token=admin)
        if not check(status == 200, "round %d: GET /api/v1/audit (%s)" % (rnd, status)):
            return
        pages += 1
        recs = page.get("records", [])
        for r in recs:
            if r.get("action") == "issue":
                audit_targets.add(r.get("target"))
        if not recs:
            break
        audit_cursor[0] = page.get("next_after") or recs[-1]["seq"]
    with lock:
        missing = [i for i in acked if i not in audit_targets]
    check(not missing, "round %d: the audit log has an issue record for every acknowledged "
          "licence (%d missing, %d pages read)" % (rnd, len(missing), pages))


def retry_in_doubt(base, rnd, before_ids):
    """Send again what the kill interrupted: 200 for what was committed,
    201 for what was not, nothing else."""
    with lock:
        todo = list(in_doubt)
        in_doubt.clear()
    again = {"200": 0, "201": 0}
    for client, token, path, req in todo:
        try:
            status, body = call(base, "POST", path, req, token)
        except (OSError, http.client.HTTPException) as e:
            check(False, "round %d: retry of %s failed: %s" % (rnd, req["approval_ref"], e))
            continue
        ids = [c["id"] for c in body["certificates"]] if status in (200, 201) and \
            path.endswith("/bundles") else [body.get("id")] if status in (200, 201) else []
        check(status in (200, 201), "round %d: retry of an interrupted %s: %s %s" % (
            rnd, req["approval_ref"], status, str(body)[:200]))
        if status == 200:
            check(all(i in before_ids for i in ids),
                  "round %d: a 200 on retry returns what was on disk (%s)" % (rnd, ids))
        elif status == 201:
            check(not any(i in before_ids for i in ids), "round %d: a 201 on retry is new" % rnd)
        if status in (200, 201):
            again[str(status)] += 1
            with lock:
                for c in body["certificates"] if path.endswith("/bundles") else [body]:
                    acked[c["id"]] = c
                if path.endswith("/bundles"):
                    bundles_acked[body["id"]] = ids
    return len(todo), again


checked = set()
kills_in_flight = []   # per round: requests in flight the moment before the kill
t_start = time.time()
srv = start()


def load_and_kill(rnd):
    """Clients at work, then SIGKILL at a random moment; the database as
    the kill left it.  Returns the ids on disk and the stats before."""
    base = srv.base
    stop = threading.Event()
    threads = [threading.Thread(target=issuer_thread, args=(base, rnd, t, stop))
               for t in range(ISSUERS)]
    threads.append(threading.Thread(target=bundle_thread, args=(base, rnd, stop)))
    threads.append(threading.Thread(target=lifecycle_thread, args=(base, stop)))
    before = dict(stats)
    for t in threads:
        t.start()
    time.sleep(random.uniform(0.4, 1.6))
    with lock:
        kills_in_flight.append(busy[0])
    srv.proc.kill()                     # SIGKILL: no drain, no clean close
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join(60)
    srv.stop()
    check(srv.proc.returncode == -9, "round %d: the server died of SIGKILL (%s)" % (
        rnd, srv.proc.returncode))
    sanitizer_clean(srv.output(), "round %d: the server killed" % rnd)
    return db_checks(rnd), before


def kill_round(rnd):
    """One round: load and a kill, the database read-only, a restart, the
    interrupted requests sent again, every licence not seen before read
    and verified, the audit log."""
    global srv
    if not srv.alive():     # an earlier round failed before its restart
        srv = start()
    ids, before = load_and_kill(rnd)
    with lock:
        found = sum(1 for i in acked if i in ids)
        acked_n = len(acked)

    srv = start()
    retried, again = retry_in_doubt(srv.base, rnd, ids)
    new = sorted(set(ids) - checked)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for lid, err in zip(new, pool.map(lambda i: check_licence(srv.base, i), new)):
            check(err is None, "round %d: %s" % (rnd, err))
    checked.update(new)
    audit_checks(srv.base, rnd)
    d = {k: stats[k] - before[k] for k in stats}
    print("round %d: %d requests in flight at the kill; %d issuance requests (%d licences "
          "acknowledged, %d answers lost, %d refused), %d bundles and %d transitions "
          "acknowledged (%d answers lost); on disk %d licences, %d of the %d acknowledged so "
          "far found; %d interrupted requests sent again: %d were committed (200), %d were "
          "not (201)" % (
              rnd, kills_in_flight[-1], d["attempts"], d["acked"], d["in_doubt"], d["refused"],
              d["bundles_acked"], d["transitions_acked"], d["transitions_lost"], len(ids), found,
              acked_n, retried, again["200"], again["201"]), flush=True)


def no_unexpected_answer_under_load():
    check(not unexpected, "no unexpected answer under load: %s" % unexpected[:5])


def last_retries_are_stored_and_verify():
    # The last round's retries made licences no round has read yet.
    with lock:
        rest = sorted(set(acked) - checked)
    for lid in rest:
        err = check_licence(srv.base, lid)
        check(err is None, "after the last round: %s" % err)
    checked.update(rest)


def clean_stop_keeps_everything():
    # A last look after a clean stop: everything acknowledged (including the
    # retries of the last round) is there, and the database is sound.
    srv.stop_clean("the last server")
    ids = db_checks(ROUNDS + 1)
    print("crash test: %d rounds, %d issuance requests, %d licences acknowledged, %d on disk "
          "(%d checked through the API and independently), %d bundles, %d transitions "
          "acknowledged, %.1f s" % (ROUNDS, stats["attempts"], len(acked), len(ids), len(checked),
                                     len(bundles_acked), len(expected_status),
                                     time.time() - t_start))


def load_acknowledged_every_kind():
    check(len(acked) > 0 and stats["transitions_acked"] > 0 and bundles_acked,
          "the load acknowledged licences, bundles and transitions")


def kills_cut_requests_off():
    # Not vacuous: at least one kill cut requests off mid-way (their answers
    # were lost: the connection broke after they were sent), so the checks
    # above saw what a crash in the middle of a write leaves.
    lost = stats["in_doubt"] + stats["transitions_lost"]
    print("kills with requests in flight: %d of %d rounds (%s); answers lost: %d" % (
        sum(1 for n in kills_in_flight if n > 0), ROUNDS, kills_in_flight, lost))
    check(any(n > 0 for n in kills_in_flight),
          "at least one kill came while requests were in flight (%s)" % kills_in_flight)
    check(lost > 0, "at least one kill cut off a request in flight: no answer was lost in %d "
          "rounds" % ROUNDS)


run_tests([("kill_round_%d" % rnd, functools.partial(kill_round, rnd))
           for rnd in range(1, ROUNDS + 1)] + [
    no_unexpected_answer_under_load,
    last_retries_are_stored_and_verify,
    clean_stop_keeps_everything,
    load_acknowledged_every_kind,
    kills_cut_requests_off,
])
srv.stop()
w.cleanup()
done()
