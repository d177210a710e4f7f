"""SIGTERM (and SIGINT) during a burst of issuances: the server stops
accepting, answers what it took (201, or 503 for a request that arrived
while draining), exits 0; after a restart every licence that got a 201 is
there, unchanged, and verifies; a request whose answer was lost can be
retried with its approval_ref and never makes a second licence."""
import os
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import PROBLEM_CT, T_HAZ, T_RAD, Deployment, call, connection, org_code, request_for  # noqa: E402
from cstest import check, done, wait_for  # noqa: E402

THREADS = 16
STOP_CYCLES = 20
d = Deployment()
T = d.tokens


def burst(sig, tag, flowing=40):
    """Issue from THREADS threads until the server is gone; the signal is
    sent once requests are flowing.  Returns (answers, lost refs)."""
    s = d.start("--rate-limit", "0")
    answers = []          # (ref, Response)
    lost = []             # refs sent whose answer never came
    lock = threading.Lock()
    stop = threading.Event()

    def worker(i):
        conn, k = None, 0
        while not stop.is_set():
            ref = "%s-%02d-%04d" % (tag, i, k)
            k += 1
            req = request_for(T_RAD if k % 2 else T_HAZ, ref, org_code(i * 10000 + k))
            try:
                if conn is None:
                    conn = connection(s, timeout=30)
                    conn.connect()
            except OSError:
                break  # the listening socket is closed: the server is stopping
            try:
                r = call(s, "POST", "/api/v1/certificates", req, token=T["env"], conn=conn)
            except Exception:  # noqa: BLE001 - reset or closed mid-request
                with lock:
                    lost.append((ref, req))
                conn.close()
                conn = None
                continue
            with lock:
                answers.append((ref, req, r))
            if r.headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    # Signal once requests are flowing: enough answers, or time is up.
    wait_for(lambda: sum(1 for a in answers if a[2].status == 201) >= flowing, timeout=30)
    sent_at = time.time()
    s.proc.send_signal(sig)
    try:
        rc = s.proc.wait(timeout=30)
    except Exception:  # noqa: BLE001
        rc = None
    took = time.time() - sent_at
    stop.set()
    for t in threads:
        t.join(60)
    d.stop()
    check(rc == 0, "%s: the server exits 0 (%s)" % (tag, rc))
    check(took < 12, "%s: it stops within the drain period (%.1f s)" % (tag, took))
    with open(s.log_path, "rb") as f:
        f.seek(s.log_start)
        log = f.read().decode()
    check("received, stopping" in log and "certsvc: stopped" in log, "%s: the log tells the shutdown" % tag)
    return answers, lost


for sig, tag in ((signal.SIGTERM, "TERM"), (signal.SIGINT, "INT")):
    start_count = d.count()
    answers, lost = burst(sig, tag)
    created = {ref: r.doc for ref, _, r in answers if r.status == 201}
    codes = sorted({r.status for _, _, r in answers})
    check(len(created) >= 10, "%s: the burst issued licences before the signal (%d)" % (tag, len(created)))
    check(set(codes) <= {201, 503}, "%s: every answer is 201 or 503 (%s)" % (tag, codes))
    check(all(r.ctype == PROBLEM_CT and (r.doc or {}).get("status") == 503 for _, _, r in answers
              if r.status == 503), "%s: each 503 is a problem" % tag)
    print("%s: %d × 201, %d × 503, %d without an answer" % (
        tag, len(created), sum(1 for _, _, r in answers if r.status == 503), len(lost)))

    db = sqlite3.connect(d.work.db)
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "%s: the database is intact" % tag)
    db.close()

    s = d.start("--rate-limit", "0")
    missing, changed, unverified = [], [], []
    for ref, lic in created.items():
        r = call(s, "GET", "/api/v1/certificates/" + lic["id"], token=T["admin"])
        if r.status != 200:
            missing.append(ref)
            continue
        if (r.doc or {}).get("token") != lic["token"]:
            changed.append(ref)
        v = call(s, "POST", "/api/v1/verify", lic["qr_text"], ctype="text/plain").doc or {}
        if v.get("result") != "valid":
            unverified.append((ref, v.get("result")))
    check(not missing, "%s: every licence answered 201 is there after the restart (missing %s)" % (tag, missing[:5]))
    check(not changed, "%s: and unchanged (%s)" % (tag, changed[:5]))
    check(not unverified, "%s: and verifies valid (%s)" % (tag, unverified[:5]))

    # Retrying what got 503 or no answer: each ref ends with exactly one licence.
    retried = [(ref, req) for ref, req, r in answers if r.status == 503] + lost
    before = d.count()
    fresh = 0
    for ref, req in retried:
        r = call(s, "POST", "/api/v1/certificates", req, token=T["env"])
        check(r.status in (200, 201), "%s: the retry of %s is answered (%r)" % (tag, ref, r))
        fresh += r.status == 201
        if (ref, req) in lost:
            check(r.status == 201, "%s: %s lost its answer, so it was never stored (a stored licence is "
                  "always answered)" % (tag, ref))
        again = call(s, "POST", "/api/v1/certificates", req, token=T["env"])
        check(again.status == 200 and (again.doc or {}).get("id") == (r.doc or {}).get("id"),
              "%s: a second retry of %s returns the same licence" % (tag, ref))
    check(d.count() == before + fresh, "%s: retries add only the licences never stored" % tag)
    check(d.count() == start_count + len(created) + len(retried),
          "%s: one licence per approval_ref sent, no more, no fewer (%d + %d + %d → %d)"
          % (tag, start_count, len(created), len(retried), d.count()))
    d.stop()


# SIGTERM while requests come in: libmicrohttpd 0.9.75's MHD_quiesce_daemon()
# raced the awake worker threads for the listening socket's epoll entry and
# aborted the process now and then (SIGABRT, "Failed to remove listen FD
# from epoll set").  Many short lives make the race likely if it is there.
# Each server also gets a second SIGTERM (d.stop()) while it closes: that
# one must not kill it either.
SHIM = os.environ.get("CS_SLOW_LISTEN_DEL")
aborted = []


def hammer(srv, until):
    """Keep the worker threads waking up: the race needs one awake."""
    while not until.is_set():
        try:
            c = connection(srv, timeout=5)
            c.request("GET", "/healthz")
            c.getresponse().read()
            c.close()
        except OSError:
            pass


for i in range(STOP_CYCLES):
    s = d.start("--rate-limit", "0", env={"LD_PRELOAD": SHIM} if SHIM else None)
    until = threading.Event()
    hammers = [threading.Thread(target=hammer, args=(s, until)) for _ in range(3)]
    for t in hammers:
        t.start()
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "CYCLE-%03d" % i, org_code(900000 + i)),
             token=T["env"])
    s.proc.send_signal(signal.SIGTERM)
    rc = d.stop()
    until.set()
    for t in hammers:
        t.join()
    if r.status != 201 or rc != 0:
        aborted.append((i, r.status, rc, s.output()[-300:]))
check(not aborted, "SIGTERM under load, then another: all %d servers exit 0 (%s)" % (
    STOP_CYCLES, aborted[:2]))

d.cleanup()
done()
