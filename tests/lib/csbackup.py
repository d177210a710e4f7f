"""Backups taken under load, and the restore drill, for either backend
(tests/backup_load_test.py: SQLite and `certsvc backup`;
tests/backup_load_pg_test.py: PostgreSQL and pg_dump / pg_restore).

    load = csload.Load(nodes, tokens); load.start()
    t = load.mark()              # just before a backup starts
    ...                          # the backup
    load.stop()
    check_copy(server_on_copy, db_of_copy, load.acked_before(t), ...)
    check_serials_after_restore(server_on_restored, db_of_copy, tokens)

The load (tests/lib/csload.py) records every licence and suspension
acknowledged with the time it was sent.  A backup must hold everything
acknowledged before it started: the answer came before the backup's
snapshot could be taken.
"""
import os
import time

import csdb
from cshttp import T_HAZ, T_RAD, call, connection, id_parts, org_code, request_for
from cstest import check

HTTP_TIMEOUT = 30


def under_load(load, take, n, between_s):
    """Start load, then n times: wait between_s, take(k) a backup (it
    returns the backup's path); stop the load.  Returns [(path, load mark
    when it began, seconds it took)], and prints what each holds."""
    out = []
    load.start()
    try:
        for k in range(n):
            time.sleep(between_s)
            began = load.mark()
            path = take(k)
            out.append((path, began, load.mark() - began))
        time.sleep(between_s / 2)
    finally:
        load.stop()
    for path, began, took in out:
        print("%s: %d licences acknowledged before it began, taken in %.3f s, %d KiB" % (
            os.path.basename(path), len(load.acked_before(began)), took,
            os.path.getsize(path) // 1024 if os.path.exists(path) else -1), flush=True)
    check(len(load.acked) > 0 and load.suspended, "the load issued and suspended licences")
    return out


def stored(db):
    """The licence ids and the (licence, action) status events in db."""
    con = csdb.open_ro(db)
    try:
        ids = {r[0] for r in con.execute("SELECT id FROM licences")}
        events = [tuple(r) for r in con.execute(
            "SELECT licence_id, action FROM status_events ORDER BY seq")]
    finally:
        con.close()
    return ids, events


def check_copy(server, db, acked, suspended, token, what):
    """A copy (db, served by server) is whole and holds what it must:
    nothing half-written; every licence in acked (id: document) and every
    suspension in suspended in it; every licence in it verifies through
    server with the status its own events give.  token: an admin's.
    Returns the ids in the copy."""
    bad = csdb.half_written(db)
    check(not bad, "%s: nothing half-written (%s)" % (what, bad))
    ids, events = stored(db)
    missing = sorted(set(acked) - ids)
    check(not missing, "%s: every licence acknowledged before the backup began is in it "
          "(%d of %d missing, e.g. %s)" % (what, len(missing), len(acked), missing[:3]))
    evs = set(events)
    lost = sorted(x for x in suspended if (x, "suspend") not in evs)
    check(not lost, "%s: every suspension acknowledged before the backup began is in it "
          "(%d missing, e.g. %s)" % (what, len(lost), lost[:3]))
    want = {}
    for lid, action in events:
        want[lid] = {"suspend": "suspended", "reinstate": "valid"}.get(action, want.get(lid))
    wrong = []
    conn = connection(server, HTTP_TIMEOUT)
    for lid in sorted(ids):
        r = call(server, "GET", "/api/v1/certificates/" + lid, token=token, conn=conn)
        expect = want.get(lid) or "valid"
        if r.status != 200 or (r.doc or {}).get("status") != expect:
            wrong.append((lid, "read", r.status, (r.doc or {}).get("status"), expect))
            continue
        if lid in acked and acked[lid].get("token") != r.doc.get("token"):
            wrong.append((lid, "token differs from the one acknowledged"))
        v = call(server, "POST", "/api/v1/verify", r.doc["qr_text"], ctype="text/plain",
                 conn=conn)
        if v.status != 200 or (v.doc or {}).get("result") != expect:
            wrong.append((lid, "verify", v.status, (v.doc or {}).get("result"), expect))
    conn.close()
    check(not wrong, "%s: every licence in it (%d) reads and verifies with the status its "
          "events give: %d do not, e.g. %s" % (what, len(ids), len(wrong), wrong[:3]))
    return ids


def check_serials_after_restore(server, ids, tokens, what, tag="AFTER-RESTORE"):
    """Served from a restored copy holding ids, new issuances take serials
    above every serial of their type and issuer in the copy (none
    repeats), and their numbers repeat none either."""
    top = {}
    for lid in ids:
        t, i, s, _, _ = id_parts(lid)
        top[(t, i)] = max(top.get((t, i), 0), int(s, 36))
    new = []
    for k, type_code in enumerate((T_RAD, T_HAZ)):
        req = request_for(type_code, "%s-%d" % (tag, k), org_code(7000 + k))
        r = call(server, "POST", "/api/v1/certificates", req, token=tokens["env"])
        check(r.status == 201, "%s: an issuance on the restored copy gives 201 (%r)" % (what, r))
        if r.status == 201:
            new.append(r.doc["id"])
    for lid in new:
        t, i, s, _, _ = id_parts(lid)
        check(lid not in ids and int(s, 36) > top.get((t, i), 0),
              "%s: the new licence %s takes a serial above the copy's last of its type and "
              "issuer (%s)" % (what, lid, top.get((t, i))))
    return new
