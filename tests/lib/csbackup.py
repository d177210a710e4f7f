"""Backups taken under load, and the restore drill, for either backend
(tests/backup_load_test.py: SQLite and `certsvc backup`;
tests/backup_load_pg_test.py: PostgreSQL and pg_dump / pg_restore).

    load = Load(nodes, tokens); load.start()
    t = load.mark()              # just before a backup starts
    ...                          # the backup
    load.stop()
    check_copy(server_on_copy, db_of_copy, load.acked_before(t), ...)
    check_serials_after_restore(server_on_restored, db_of_copy, tokens)

Load issues licences (several threads per node, distinct approval_refs,
two types), two-licence bundles, suspends licences it was given and looks
up holders, recording every licence and suspension acknowledged with the
time it was sent.  A backup must hold everything acknowledged before it
started: the answer came before the backup's snapshot could be taken.
"""
import json
import os
import threading
import time
from collections import Counter

import csdb
from cshttp import T_HAZ, T_RAD, call, connection, id_parts, org_code, request_for
from cstest import SOURCE, check

HTTP_TIMEOUT = 30


class Load:
    def __init__(self, nodes, tokens, issuers_per_node=2, tag="BK"):
        self.nodes = list(nodes)
        self.T = tokens
        self.per_node = issuers_per_node
        self.tag = tag
        self.lock = threading.Lock()
        self.acked = {}         # licence id: (sent at, its document)
        self.suspended = {}     # licence id: sent at, for a suspension answered 200
        self.statuses = Counter()
        self.bad = []           # answers that are neither success nor 503
        self._tried = set()
        self._stop = threading.Event()
        self._threads = []
        with open(os.path.join(SOURCE, "docs", "examples", "bundle.json")) as f:
            self._bundle = json.load(f)

    def mark(self):
        return time.monotonic()

    def _call(self, node, conn, kind, method, path, body, token, headers=None):
        t0 = time.monotonic()
        try:
            r = call(node, method, path, body, token=token, headers=headers, conn=conn)
        except Exception as e:  # noqa: BLE001 - recorded, and a failure
            conn.close()
            with self.lock:
                self.bad.append((kind, "%s: %s" % (type(e).__name__, e)))
            return None, t0, connection(node, HTTP_TIMEOUT)
        with self.lock:
            self.statuses[(kind, r.status)] += 1
            if r.status not in (200, 201, 503):
                self.bad.append((kind, r.status, r.body[:200]))
        return r, t0, conn

    def _issuer(self, n, k):
        node = self.nodes[n]
        conn = connection(node, HTTP_TIMEOUT)
        i = 0
        while not self._stop.is_set():
            i += 1
            req = request_for(T_RAD if i % 2 else T_HAZ,
                              "%s-%d-%d-%05d" % (self.tag, n, k, i),
                              org_code(20000000 + n * 1000000 + k * 100000 + i))
            r, t0, conn = self._call(node, conn, "issue", "POST", "/api/v1/certificates", req,
                                     self.T["env"])
            if r is not None and r.status == 201:
                with self.lock:
                    self.acked[r.doc["id"]] = (t0, r.doc)
        conn.close()

    def _bundler(self, n):
        node = self.nodes[n]
        conn = connection(node, HTTP_TIMEOUT)
        i = 0
        while not self._stop.is_set():
            i += 1
            req = json.loads(json.dumps(self._bundle))
            req["approval_ref"] = "%sB-%d-%05d" % (self.tag, n, i)
            for c in req["certificates"]:
                c["holder"]["code"] = org_code(40000000 + n * 1000000 + i)
            r, t0, conn = self._call(node, conn, "bundle", "POST", "/api/v1/bundles", req,
                                     self.T["onewin"])
            if r is not None and r.status == 201:
                with self.lock:
                    for c in r.doc["certificates"]:
                        self.acked[c["id"]] = (t0, c)
            time.sleep(0.02)
        conn.close()

    def _other(self, n):
        """Suspensions of licences issued (one each), and holder lookups."""
        node = self.nodes[n]
        conn = connection(node, HTTP_TIMEOUT)
        i = 0
        while not self._stop.is_set():
            i += 1
            lid = None
            with self.lock:
                if i % 2:
                    todo = [x for x, (_, doc) in self.acked.items()
                            if x not in self._tried and not doc.get("bundle")]
                    if todo:
                        lid = todo[i % len(todo)]
                        self._tried.add(lid)
            if lid is not None:
                r, t0, conn = self._call(node, conn, "suspend", "POST",
                                         "/api/v1/certificates/%s/suspend" % lid,
                                         {"reason": "backup test"}, self.T["env"])
                if r is not None and r.status == 200:
                    with self.lock:
                        self.suspended[lid] = t0
            else:
                self._call(node, conn, "lookup", "GET", "/api/v1/holders/%s/certificates" %
                           org_code(20000001), None, self.T["rd_all"],
                           headers={"X-Purpose": "backup test"})
            time.sleep(0.01)
        conn.close()

    def start(self):
        for n in range(len(self.nodes)):
            self._threads += [threading.Thread(target=self._issuer, args=(n, k))
                              for k in range(self.per_node)]
            self._threads += [threading.Thread(target=f, args=(n,))
                              for f in (self._bundler, self._other)]
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(HTTP_TIMEOUT + 10)
        print("load: %s" % ", ".join("%s %s: %d" % (k, s, c) for (k, s), c in
                                     sorted(self.statuses.items(), key=str)), flush=True)
        check(not self.bad, "every answer under load is a success or a 503: %d are not, e.g. %s"
              % (len(self.bad), self.bad[:3]))

    def acked_before(self, t):
        with self.lock:
            return {x: doc for x, (t0, doc) in self.acked.items() if t0 < t}

    def suspended_before(self, t):
        with self.lock:
            return {x for x, t0 in self.suspended.items() if t0 < t}


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
