"""Load on certsvc nodes for the fault tests (tests/http_disk_full_pg_test.py,
tests/backup_load_test.py, tests/backup_load_pg_test.py): clients issuing
licences (several threads per node, distinct approval_refs, two types),
issuing two-licence bundles, suspending licences they were given (one
each) and looking up holders, until stopped.

    load = Load(nodes, tokens); load.start(); ...; load.stop()

Every answer is recorded (load.answers: kind, node, sent and answered at,
status, Response or transport error), and so is every licence answered
201 (load.acked: id -> (answered at, document)) and every suspension
answered 200 (load.suspended: id -> answered at): a backup begun after
an answer must hold what it acknowledged, one begun while the request was
in flight may or may not.  A client that gets anything but a
success waits 50 ms before its next request.  stop() checks that every
answer was a success or a 503.
"""
import json
import os
import threading
import time
from collections import Counter

from cshttp import T_HAZ, T_RAD, call, connection, org_code, request_for
from cstest import SOURCE, check

HTTP_TIMEOUT = 30
SUCCESS = {"issue": 201, "bundle": 201, "suspend": 200, "lookup": 200}


class Load:
    def __init__(self, nodes, tokens, issuers_per_node=2, tag="BK"):
        self.nodes = list(nodes)
        self.T = tokens
        self.per_node = issuers_per_node
        self.tag = tag
        self.lock = threading.Lock()
        self.acked = {}         # licence id: (sent at, its document)
        self.suspended = {}     # licence id: sent at, for a suspension answered 200
        self.answers = []       # every answer (dicts: see the module's header)
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
        """One request on a kept-alive connection, recorded: (Response or
        None, answered at, the connection to use next)."""
        t0 = time.monotonic()
        r = err = None
        try:
            r = call(node, method, path, body, token=token, headers=headers, conn=conn)
        except Exception as e:  # noqa: BLE001 - recorded, and a failure
            conn.close()
            err = "%s: %s" % (type(e).__name__, e)
            conn = connection(node, HTTP_TIMEOUT)
        with self.lock:
            t1 = time.monotonic()
            self.answers.append({"kind": kind, "node": node, "t0": t0, "t1": t1,
                                 "status": r.status if r else None, "r": r, "err": err})
            self.statuses[(kind, r.status if r else err)] += 1
            if r is None or r.status not in (SUCCESS[kind], 503):
                self.bad.append((kind, r.status if r else err, r.body[:200] if r else None))
        if r is None or r.status != SUCCESS[kind]:
            self._stop.wait(0.05)
        return r, t1, conn

    def first(self, kinds_statuses, after):
        """When the first answer of these (kind, status) pairs to a request
        sent at or after `after` arrived; None if none did."""
        with self.lock:
            ts = [x["t1"] for x in self.answers
                  if (x["kind"], x["status"]) in kinds_statuses and x["t0"] >= after]
        return min(ts) if ts else None

    def _issuer(self, n, k):
        node = self.nodes[n]
        conn = connection(node, HTTP_TIMEOUT)
        i = 0
        while not self._stop.is_set():
            i += 1
            req = request_for(T_RAD if i % 2 else T_HAZ,
                              "%s-%d-%d-%05d" % (self.tag, n, k, i),
                              org_code(20000000 + n * 1000000 + k * 100000 + i))
            r, t1, conn = self._call(node, conn, "issue", "POST", "/api/v1/certificates", req,
                                     self.T["env"])
            if r is not None and r.status == 201:
                with self.lock:
                    self.acked[r.doc["id"]] = (t1, r.doc)
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
            r, t1, conn = self._call(node, conn, "bundle", "POST", "/api/v1/bundles", req,
                                     self.T["onewin"])
            if r is not None and r.status == 201:
                with self.lock:
                    for c in r.doc["certificates"]:
                        self.acked[c["id"]] = (t1, c)
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
                r, t1, conn = self._call(node, conn, "suspend", "POST",
                                         "/api/v1/certificates/%s/suspend" % lid,
                                         {"reason": "backup test"}, self.T["env"])
                if r is not None and r.status == 200:
                    with self.lock:
                        self.suspended[lid] = t1
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
            return {x: doc for x, (t1, doc) in self.acked.items() if t1 < t}

    def suspended_before(self, t):
        with self.lock:
            return {x for x, t1 in self.suspended.items() if t1 < t}
