"""Issuances on the issuance writer (certsvc/store/tx_queue.c): with two HTTP
worker threads, many concurrent issuances share commits (more than two to a
batch), each gets its own licence, identical and conflicting requests in one
batch are answered as one at a time would be, and a client that hangs up
while its issuance is being written neither loses the licence nor stops the
server from shutting down."""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csraw  # noqa: E402
from cshttp import (T_HAZ, T_RAD, Deployment, call, metrics, org_code,  # noqa: E402
                    raw_socket, request_for)
from cstest import check, done, in_parallel, wait_for  # noqa: E402

CLIENTS = 24
EACH = 6

d = Deployment()
T = d.tokens
s = d.start("--rate-limit", "0", "--threads", "2")


def metric(name):
    v = metrics(s).get(name)
    return None if v is None else int(v)


# Many at once: every one answered 201 with a licence of its own.
before = d.count()
b0, r0 = metric("certsvc_issue_batches_total"), metric("certsvc_issue_batched_total")


def issue_some(i):
    got = []
    for k in range(EACH):
        req = request_for(T_RAD if k % 2 else T_HAZ, "w-%02d-%d" % (i, k), org_code(i * 100 + k))
        got.append(call(s, "POST", "/api/v1/certificates", req, token=T["env"]))
    return got


answers = [r for rs in in_parallel(CLIENTS, issue_some) for r in rs]
ids = [(r.doc or {}).get("id") for r in answers]
check(all(r.status == 201 for r in answers), "%d concurrent issuances are all 201 (%s)"
      % (len(answers), sorted({r.status for r in answers})))
check(len(set(ids)) == CLIENTS * EACH and d.count() == before + CLIENTS * EACH,
      "each has a licence of its own (%d ids, %d new rows)" % (len(set(ids)), d.count() - before))
check(all(r.headers.get("location") == "/api/v1/certificates/" + i for r, i in zip(answers, ids)),
      "each 201 has its Location")
b1, r1 = metric("certsvc_issue_batches_total"), metric("certsvc_issue_batched_total")
check(r1 - r0 == CLIENTS * EACH, "/metrics counts %d issuances on the writer (%d)"
      % (CLIENTS * EACH, r1 - r0))


def post_raw(sock, req):
    sock.sendall(csraw.build("POST", "/api/v1/certificates", [
        ("Authorization", "Bearer " + T["env"]), ("Content-Type", "application/json")],
        json.dumps(req).encode(), host="x", close=False))


# A burst of 48 sent before any answer is read: two worker threads hand
# them all to the writer, which takes what has queued while it wrote the
# batch before (the old design held one issuance per worker thread).
socks = [raw_socket(s) for _ in range(48)]
for i, sock in enumerate(socks):
    post_raw(sock, request_for(T_RAD, "w-burst-%02d" % i, org_code(8000 + i)))
statuses = []
for sock in socks:
    got = csraw.read_response(sock, "POST")
    statuses.append(got.status if got else None)
    sock.close()
b2, r2 = metric("certsvc_issue_batches_total"), metric("certsvc_issue_batched_total")
print("a burst of 48: %d issuances in %d batches" % (r2 - r1, b2 - b1))
check(statuses == [201] * 48, "a burst of 48 is all 201 (%s)" % sorted(set(statuses)))
check(r2 - r1 == 48 and 0 < b2 - b1 and (r2 - r1) / (b2 - b1) > 2,
      "with 2 worker threads, its batches hold more than 2 issuances (%d in %d batches)"
      % (r2 - r1, b2 - b1))

# The same request eight times at once: one licence, one 201, seven 200s.
same = request_for(T_RAD, "w-same", org_code(9001))
got = in_parallel(8, lambda i: call(s, "POST", "/api/v1/certificates", same, token=T["env"]))
check(sorted(r.status for r in got) == [200] * 7 + [201],
      "identical concurrent requests: one 201, the rest 200 (%s)" % [r.status for r in got])
check(len({(r.doc or {}).get("id") for r in got}) == 1, "and all name the same licence")

# The same approval_ref with different bodies at once: one licence, the
# others 409.
def variant(i):
    return call(s, "POST", "/api/v1/certificates",
                request_for(T_RAD, "w-clash", org_code(9100 + i)), token=T["env"])


got = in_parallel(6, variant)
check(sorted(r.status for r in got) == [201] + [409] * 5,
      "one approval_ref, six bodies at once: one 201, five 409 (%s)" % [r.status for r in got])

# Hang up right after sending: the licence is written all the same, and a
# retry gets it back (200) instead of a second one.
before = d.count()
hung = []
for i in range(20):
    req = request_for(T_RAD, "w-gone-%02d" % i, org_code(9200 + i))
    sock = raw_socket(s)
    post_raw(sock, req)
    sock.close()
    hung.append(req)
check(wait_for(lambda: d.count() == before + 20, timeout=20),
      "20 issuances whose clients hung up are stored (%d)" % (d.count() - before))
retries = [call(s, "POST", "/api/v1/certificates", req, token=T["env"]) for req in hung]
check(all(r.status == 200 for r in retries), "their retries are answered 200, not 201 (%s)"
      % sorted({r.status for r in retries}))
check(d.count() == before + 20, "and make no second licence")
check(wait_for(lambda: metric("certsvc_http_requests_in_flight") == 1, timeout=10),
      "the hung-up requests end: nothing is left in flight but /metrics")

# Hang-ups in the middle of a burst, then SIGTERM: the server exits 0 at
# once, having answered or stored everything.
stop = threading.Event()


def burst(i):
    k = 0
    while not stop.is_set():
        k += 1
        req = request_for(T_HAZ, "w-end-%02d-%d" % (i, k), org_code(9300 + i * 1000 + k))
        try:
            sock = raw_socket(s)
            post_raw(sock, req)
        except OSError:
            break  # the server has stopped listening
        sock.close()


threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
time.sleep(1.0)
t0 = time.time()
s.proc.send_signal(signal.SIGTERM)
try:
    rc = s.proc.wait(timeout=30)
except Exception:  # noqa: BLE001
    rc = None
stop.set()
for t in threads:
    t.join(30)
check(rc == 0 and time.time() - t0 < 12, "SIGTERM amid hang-ups: exit 0 within the drain (%s, %.1f s)"
      % (rc, time.time() - t0))
d.stop()
d.cleanup()
done()
