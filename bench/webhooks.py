#!/usr/bin/env python3
"""Webhook delivery (SPEC §9): how fast the sender drains a backlog to a
local receiver that answers at once, and the delivery lag while licences
are issued at a steady rate.  Not a test: it prints one Markdown row
for bench/README.md.

    CERTSVC=build/certsvc bench/webhooks.py [--backlog 2000] [--rate 100] [--seconds 20]

1. The receiver is down while --backlog licences are issued; then it
   comes up and the time to receive them all is the drain rate
   (events delivered per second).
2. Then --rate issuances per second for --seconds (paced, 8 threads): the
   lag of each event is its arrival at the receiver minus the moment its
   201 came back; p50 and p99 of those, and the backlog left at the end.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from cshttp import T_RAD, Deployment, call, org_code, request_for  # noqa: E402
from cstest import free_port  # noqa: E402

arrived = {}        # licence id -> monotonic arrival of its issued event
lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.monotonic()
        try:
            lid = json.loads(body)["licence"]["id"]
        except (ValueError, KeyError):
            lid = None
        with lock:
            arrived.setdefault(lid, now)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    d = Deployment()
    s = d.start("--rate-limit", "0")
    tok = d.tokens
    port = free_port()
    r = call(s, "POST", "/api/v1/subscriptions", {"name": "bench",
             "url": "http://127.0.0.1:%d/hook" % port, "events": ["licence.issued"]},
             token=tok["admin"])
    assert r.status == 201, r
    n = [0]

    def issue_one():
        with lock:
            n[0] += 1
            i = n[0]
        r = call(s, "POST", "/api/v1/certificates",
                 request_for(T_RAD, "B-%d" % i, org_code(10000 + i)), token=tok["env"])
        assert r.status == 201, r
        return r.doc["id"], time.monotonic()

    # 1. backlog, receiver down
    for _ in range(a.backlog):
        issue_one()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    while True:
        with lock:
            got = len(arrived)
        if got >= a.backlog or time.monotonic() - t0 > 600:
            break
        time.sleep(0.01)
    drain = got / (time.monotonic() - t0)
    # 2. steady issuance
    sent = {}
    stop = time.monotonic() + a.seconds
    per_thread = a.rate / 8

    def pace():
        next_t = time.monotonic()
        while next_t < stop:
            lid, t = issue_one()
            with lock:
                sent[lid] = t
            next_t += 1 / per_thread
            time.sleep(max(0, next_t - time.monotonic()))
    th = [threading.Thread(target=pace) for _ in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    issued_rate = len(sent) / a.seconds
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if all(k in arrived for k in sent):
                break
        time.sleep(0.05)
    with lock:
        lags = sorted(arrived[k] - t for k, t in sent.items() if k in arrived)
        left = sum(1 for k in sent if k not in arrived)
    p = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] * 1000 if lags else float("nan")  # noqa: E731
    backend = "postgresql" if d.work.db.startswith("postgres") else "sqlite"
    print("| %s | %d | %.0f | %.0f | %.0f | %.0f | %d |" % (
        backend, a.backlog, drain, issued_rate, p(0.50), p(0.99), left))
    srv.shutdown()
    d.cleanup()


if __name__ == "__main__":
    main()
