#!/usr/bin/env python3
"""Webhook delivery (SPEC §9, issue 17): the delivery lag and whether the
sender keeps up while licences are issued at half the issuance ceiling
measured in the same run.  Not a test: it prints Markdown rows for
bench/README.md.

    CERTSVC=build/certsvc bench/webhooks.py [--backend sqlite|postgresql]
        [--subs 1,8] [--seconds 15] [--ceiling-seconds 5]

1. The ceiling: wrk with bench/lua/issue.lua at 32 connections against the
   server (no subscription yet), as bench/run.sh's issue scenario.
2. For each number of subscriptions (all to one local Node receiver,
   bench/webhooks_receiver.js, that answers 204 at once; one path each):
   wrk with bench/lua/issue_paced.lua at half that ceiling (its pause
   calibrated by a 3 s run) for --seconds;
   each licence.issued event's lag is its arrival at the receiver minus
   the moment its 201 came back (both CLOCK_MONOTONIC); p50 and p99 over
   every (subscription, licence).  The backlog (events acknowledged
   less events arrived, every 100 ms): its largest value in the second
   half of the issuing, its value at the end, and how long after the end
   the last event arrived say whether delivery keeps up (bounded) or
   falls behind.

--backend postgresql starts a throwaway PostgreSQL 15 cluster of its own
(tests/lib/cspg.py, fsync and synchronous_commit on) and stops it after.
"""
import argparse
import bisect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))


def wrk(url, seconds, conns, script, *args):
    """wrk's successful answers per second (a refusal is not an issuance)."""
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s",
                          "-s", os.path.join(HERE, "lua", script), url, "--"] + list(args),
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m:
        return 0.0, out
    secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    return (int(m.group(1)) - (int(bad.group(1)) if bad else 0)) / secs, out


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    ap.add_argument("--subs", default="1,8")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--ceiling-seconds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="certsvc-bench-hooks-")
    cluster = None
    if a.backend == "postgresql":
        import cspg
        cluster = cspg.Cluster().start()  # its own directory, the postgres user's
        with open(os.path.join(cluster.root, "uri"), "w") as f:
            f.write(cluster.uri() + "\n")
        os.environ["CS_TEST_BACKEND"] = "postgresql"
        os.environ["CS_TEST_PG_DIR"] = cluster.root
    # csdb reads the backend when imported.
    from cshttp import T_RAD, Deployment, call, org_code, request_for
    from cstest import free_port
    d = Deployment()
    rcv = None
    try:
        s = d.start("--rate-limit", "0")
        tok = d.tokens
        req = os.path.join(tmp, "issue.json")
        with open(req, "w") as f:
            # Compact: the wrk scripts replace "approval_ref":"..." as written.
            json.dump(request_for(T_RAD, "WH-0", org_code(1)), f, ensure_ascii=False,
                      separators=(",", ":"))
        holders = os.path.join(tmp, "holders.txt")
        with open(holders, "w") as f:
            f.write("".join(request_for(T_RAD, "x", org_code(100 + i))["holder"]["code"] + "\n"
                            for i in range(2000)))
        ceiling, _ = wrk(s.base, a.ceiling_seconds, 32, "issue.lua", req, holders, tok["env"],
                         "ceil%d" % time.time())
        port = free_port()
        rcv = subprocess.Popen(["node", os.path.join(HERE, "webhooks_receiver.js"), str(port)],
                               stdout=subprocess.PIPE, text=True)
        assert rcv.stdout.readline().startswith("listening")
        # Each connection waits `pause` ms after each answer: a cycle is
        # pause plus the answer's latency, which a short run at a first
        # guess measures (before any subscription: the feed's end is where
        # a new one starts).
        rate, conns = ceiling / 2, 32
        pause = conns * 1000 / rate
        got, _ = wrk(s.base, 3, conns, "issue_paced.lua", req, holders, tok["env"],
                     "cal%d" % time.time(), str(int(pause)), os.path.join(tmp, "cal"))
        latency = max(0.0, conns * 1000 / max(got, 1) - pause)
        pause = max(1, int(conns * 1000 / rate - latency))
        rows = []
        for k in [int(x) for x in a.subs.split(",")]:
            names = ["b%d-%d" % (k, j) for j in range(k)]
            for nm in names:
                r = call(s, "POST", "/api/v1/subscriptions",
                         {"name": nm, "url": "http://127.0.0.1:%d/%s" % (port, nm),
                          "events": ["licence.issued"]}, token=tok["admin"])
                assert r.status == 201, r
            prefix = os.path.join(tmp, "sent-%d" % k)
            t_start = time.monotonic() * 1000
            issued_rate, _ = wrk(s.base, a.seconds, conns, "issue_paced.lua", req, holders,
                                 tok["env"], "k%d%d" % (k, time.time()), str(pause), prefix)
            t_end = time.monotonic() * 1000
            sent = {}
            for fn in os.listdir(tmp):
                if fn.startswith("sent-%d." % k):
                    with open(os.path.join(tmp, fn)) as f:
                        for line in f:
                            lid, t = line.split()
                            sent[lid] = float(t)
            deadline = time.monotonic() + 120
            while True:
                dump = json.load(urllib.request.urlopen("http://127.0.0.1:%d/_dump" % port))
                arr = dump["arrived"]
                left = sum(1 for nm in names for lid in sent if lid not in arr.get("/" + nm, {}))
                if left == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # The backlog, from both ends rather than from /metrics (whose
            # pending count reads the feed, a load of its own): at each
            # moment, events acknowledged (201s times subscriptions) less
            # events arrived.
            acks = sorted(sent.values())
            got = sorted(arr["/" + nm][lid] for nm in names for lid in sent
                         if lid in arr.get("/" + nm, {}))

            def backlog(t):
                return k * bisect.bisect_right(acks, t) - bisect.bisect_right(got, t)
            during = [backlog(t_start + i * 100) for i in range(int((t_end - t_start) / 100) + 1)]
            caught = (got[-1] - t_end) / 1000 if got and left == 0 else float("inf")
            lags = sorted(arr["/" + nm][lid] - t for nm in names for lid, t in sent.items()
                          if lid in arr.get("/" + nm, {}))
            delivered = len(lags) / a.seconds
            half = during[len(during) // 2:]
            rows.append("| %s | %d | %.0f | %.0f | %.0f | %d | %d | %.1f | %.0f | %.0f | %d |" % (
                a.backend, k, ceiling, issued_rate, delivered, max(half or [0]),
                during[-1] if during else 0, max(caught, 0),
                pct(lags, 0.50), pct(lags, 0.99), left))
            print(rows[-1], flush=True)
            for nm in names:
                call(s, "DELETE", "/api/v1/subscriptions/" + nm, token=tok["admin"])
        print("| backend | subscriptions | issue ceiling per s | issued per s | events delivered "
              "per s | backlog max, 2nd half | backlog at the end | s to the last after | "
              "lag p50 ms | lag p99 ms | not delivered |")
        print("| --- " * 11 + "|")
        print("\n".join(rows))
    finally:
        if rcv is not None:
            rcv.kill()
            rcv.wait()
        d.cleanup()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
