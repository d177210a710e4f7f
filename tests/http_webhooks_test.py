"""Subscriptions and their deliveries (SPEC §9), end to end:
- POST/GET/DELETE /api/v1/subscriptions (admin): the secret shown once
  (whsec_ + base64 of 32 bytes), never in GET or the log; bad input
  (a URL not http(s), at the server's own listen address, over 2,048
  bytes; a bad name, type or event type) is a 422 naming the field;
- every event delivered to a Node receiver that checks each signature
  with the npm standardwebhooks package (tests/webhooks/, pinned);
- a receiver that answers 500, then is too slow, then is down, then
  comes back: every event delivered, in per-licence order, none missing
  and none taken twice (counted per webhook-id), and GET /api/v1/subscriptions and /metrics
  show the backlog and the failures meanwhile;
- a receiver that hangs (accepts, never answers) does not hold back
  another subscription: its events arrive while the hung request is
  still waiting for its timeout;
- PostgreSQL: the node holding a subscription's lease killed mid-delivery,
  the other node delivers the rest once the lease expires;
- SIGKILL of certsvc in the middle of deliveries, three times: after
  each restart every event is delivered;
- certsvc subscription add|list|remove."""
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
import csnpm  # noqa: E402
from cshttp import T_RAD, Deployment, audit_records, call, is_json, is_problem, issue, metrics, org_code, request_for  # noqa: E402
from cstest import Server, check, done, free_port, run_tests, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# A 5 s sending lease (30 by default): on PostgreSQL a restarted or
# surviving node takes a dead one's subscriptions over after it.
SERVE = ("--rate-limit", "0", "--webhook-timeout-s", "1", "--webhook-retry-max-s", "2",
         "--webhook-lease-s", "5")
d = Deployment()
s = d.start(*SERVE)
T = d.tokens
tmp = tempfile.mkdtemp(prefix="certsvc-hooks-")
refs = [0]


class Receiver:
    """The Node receiver (tests/webhooks/receiver.js) on a fixed port:
    stopped and started again on the same one ("down", then back)."""

    def __init__(self, name):
        self.mods = csnpm.npm_ci(os.path.join(HERE, "webhooks"), "webhooks-npm",
                                 "standardwebhooks/package.json")
        self.port = free_port()
        self.log = os.path.join(tmp, name + ".jsonl")
        self.secret = os.path.join(tmp, name + ".secret")
        self.proc = None
        open(self.log, "w").close()

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def start(self, mode="ok", delay_ms=0):
        env = dict(os.environ, NODE_PATH=self.mods)
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "webhooks", "receiver.js"),
                                      str(self.port), self.log, self.secret],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError("receiver did not start: " + line + self.proc.stdout.read())
        self.mode(mode, delay_ms)

    def mode(self, mode, delay_ms=0):
        import urllib.request
        req = urllib.request.Request("http://127.0.0.1:%d/_mode" % self.port,
                                     data=json.dumps({"mode": mode, "delay_ms": delay_ms}).encode(),
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def entries(self):
        with open(self.log) as f:
            return [json.loads(x) for x in f if x.strip()]

    def accepted(self):
        """The deliveries it accepted (a verified signature and a 2xx in
        time), first per webhook-id, in arrival order."""
        seen, out = set(), []
        for e in self.entries():
            if e.get("verified") and e.get("answered") in (200, 204) and not e.get("late") \
                    and e["id"] not in seen:
                seen.add(e["id"])
                out.append(e)
        return out


def subscribe(rcv, name, **extra):
    body = dict({"name": name, "url": rcv.url()}, **extra)
    r = call(s, "POST", "/api/v1/subscriptions", body, token=T["admin"])
    is_json(r, 201, "POST /api/v1/subscriptions %s" % name)
    doc = r.doc or {}
    with open(rcv.secret, "w") as f:
        f.write(doc.get("secret", ""))
    return doc


def unsubscribe(name):
    r = call(s, "DELETE", "/api/v1/subscriptions/" + name, token=T["admin"])
    check(r.status == 204, "DELETE subscription %s: 204 (%s)" % (name, r.status))


def change_some(n, prefix):
    """n new licences, each suspended and reinstated: 3n events, three
    per licence in an order the receiver must keep."""
    ids = []
    for _ in range(n):
        refs[0] += 1
        r = issue(s, request_for(T_RAD, "%s-%d" % (prefix, refs[0]), org_code(700 + refs[0])),
                  T["env"], what="issue")
        lid = (r.doc or {}).get("id")
        ids.append(lid)
        for action in ("suspend", "reinstate"):
            rr = call(s, "POST", "/api/v1/certificates/%s/%s" % (lid, action), {"reason": "x"},
                      token=T["env"])
            is_json(rr, 200, action)
    return ids


def feed_for(ids):
    """The feed's events of these licences, by seq (every page)."""
    out, after = [], 0
    while True:
        r = call(s, "GET", "/api/v1/events?after=%d&limit=1000" % after, token=T["admin"])
        doc = r.doc or {}
        out += [e for e in doc.get("events", []) if e["licence"]["id"] in ids]
        if not doc.get("events") or doc.get("next_after", after) == after:
            return out
        after = doc["next_after"]


def all_delivered(rcv, ids, timeout=120):
    want = {e["event_id"] for e in feed_for(ids)}
    ok = wait_for(lambda: want <= {e["id"] for e in rcv.accepted()}, timeout=timeout, step=0.2)
    got = {e["id"] for e in rcv.accepted()}
    check(ok, "every event delivered: %d of %d" % (len(want & got), len(want)))
    return want


def none_twice(rcv, want):
    """Counted per webhook-id: no event taken (2xx in time) twice.  With
    no crash, an event the receiver took is never sent again."""
    n = {}
    for e in rcv.entries():
        if e["id"] in want and e.get("answered") in (200, 204) and not e.get("late"):
            n[e["id"]] = n.get(e["id"], 0) + 1
    twice = [k for k, v in n.items() if v > 1]
    check(not twice, "none of %d events taken twice (%s)" % (len(want), twice[:3]))


def in_order(rcv, ids):
    """Per licence, the first accepted deliveries come in seq order."""
    last = {}
    bad = []
    for e in rcv.accepted():
        lid = e.get("licence")
        if lid in ids:
            if last.get(lid, 0) >= e["seq"]:
                bad.append((lid, last[lid], e["seq"]))
            last[lid] = e["seq"]
    check(not bad, "per licence, events delivered in order (%s)" % bad[:3])


def sub_state(name):
    r = call(s, "GET", "/api/v1/subscriptions", token=T["admin"])
    is_json(r, 200, "GET /api/v1/subscriptions")
    for x in (r.doc or {}).get("subscriptions", []):
        if x["name"] == name:
            return x
    return {}


def bad_input():
    url = "http://127.0.0.1:9/hook"
    port = s.base.rsplit(":", 1)[1]
    cases = [
        ({"name": "a", "url": "ftp://example.org/x"}, "url"),
        ({"name": "a", "url": "file:///etc/passwd"}, "url"),
        ({"name": "a", "url": "http://127.0.0.1:%s/hook" % port}, "url"),
        ({"name": "a", "url": "http://localhost:%s/" % port}, "url"),
        ({"name": "a", "url": "https://example.org/" + "x" * 2048}, "url"),
        ({"name": "a"}, "url"),
        ({"url": url}, "name"),
        ({"name": "a b", "url": url}, "name"),
        ({"name": "a", "url": url, "types": ["NOPE"]}, "types.0"),
        ({"name": "a", "url": url, "events": ["licence.eaten"]}, "events.0"),
        ({"name": "a", "url": url, "types": "x"}, "types"),
    ]
    for body, field in cases:
        r = call(s, "POST", "/api/v1/subscriptions", body, token=T["admin"])
        is_problem(r, 422, field, "subscription %s" % json.dumps(body)[:80])
    r = call(s, "POST", "/api/v1/subscriptions", {"name": "a", "url": url}, token=T["rd_all"])
    is_problem(r, 403, what="a reader may not subscribe")
    r = call(s, "GET", "/api/v1/subscriptions", token=T["env"])
    is_problem(r, 403, what="an issuer may not list subscriptions")
    r = call(s, "DELETE", "/api/v1/subscriptions/nobody", token=T["admin"])
    is_problem(r, 404, what="DELETE an unknown subscription")


def secret_once():
    url = "http://127.0.0.1:9/hook"
    r = call(s, "POST", "/api/v1/subscriptions", {"name": "once", "url": url,
                                                  "types": [T_RAD], "events": ["licence.revoked"]},
             token=T["admin"])
    is_json(r, 201, "POST a subscription")
    doc = r.doc or {}
    sec = doc.get("secret", "")
    check(re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", sec) is not None,
          "the secret is whsec_ + base64 of 32 bytes (%r)" % sec[:8])
    check(doc.get("types") == [T_RAD] and doc.get("events") == ["licence.revoked"] and
          doc.get("url") == url, "the answer names url, types and events (%s)" % doc)
    r = call(s, "POST", "/api/v1/subscriptions", {"name": "once", "url": url}, token=T["admin"])
    is_problem(r, 409, what="the same name again")
    st = sub_state("once")
    check(st.get("url") == url and "secret" not in st and "delivery" in st,
          "GET lists it without its secret (%s)" % st)
    r = call(s, "GET", "/api/v1/subscriptions", token=T["admin"])
    check(sec not in r.body.decode(), "no secret anywhere in GET")
    unsubscribe("once")
    check(sub_state("once") == {}, "removed: no longer listed")
    acts = [(x.get("action"), x.get("target")) for x in
            audit_records(s, T["admin"], "target=once")]
    check(acts == [("subscription_add", "once"), ("subscription_remove", "once")],
          "adding and removing it are audited, the refused second add is not an add (%s)" % acts)
    check(sec not in s.output(), "the secret is not in the server's log")


def signed_and_delivered():
    rcv = Receiver("plain")
    rcv.start()
    try:
        subscribe(rcv, "plain")
        ids = change_some(4, "PLAIN")
        want = all_delivered(rcv, ids, timeout=60)
        none_twice(rcv, want)
        entries = [e for e in rcv.entries() if e["id"] in want]
        check(entries and all(e["verified"] for e in entries),
              "standardwebhooks verifies every delivery's signature")
        in_order(rcv, ids)
        # The sender records its attempts shortly after the receiver's answers.
        wait_for(lambda: sub_state("plain").get("delivery", {}).get("pending") == 0,
                 timeout=30, step=0.05)
        dl = sub_state("plain").get("delivery", {})
        check(dl.get("pending") == 0 and (dl.get("last_attempt") or {}).get("result") == "delivered",
              "GET: nothing pending, last attempt delivered (%s)" % dl)
    finally:
        unsubscribe("plain")
        rcv.stop()


def receiver_trouble():
    rcv = Receiver("trouble")
    rcv.start(mode="fail")
    try:
        subscribe(rcv, "trouble")
        ids = change_some(3, "TRB")

        def last_result(want):
            return lambda: ((sub_state("trouble").get("delivery") or {}).get("last_attempt") or
                            {}).get("result") == want
        check(wait_for(last_result("http_status"), timeout=30, step=0.2),
              "500s: the last attempt is http_status")
        dl = sub_state("trouble").get("delivery", {})
        check(dl.get("pending", 0) >= 1 and dl.get("oldest_pending_age_s", -1) >= 0,
              "500s: events pending (%s)" % dl)
        m = metrics(s)
        check(m.get('certsvc_webhook_attempts_total{result="http_status"}', 0) >= 1 and
              m.get("certsvc_webhook_pending", 0) >= 1,
              "/metrics: failed attempts and pending events")
        rcv.mode("slow", 4000)
        check(wait_for(last_result("timeout"), timeout=30, step=0.2),
              "too slow: the last attempt is timeout")
        rcv.stop()
        check(wait_for(last_result("connect"), timeout=30, step=0.2),
              "down: the last attempt is connect")
        more = change_some(2, "TRB2")
        time.sleep(1)
        rcv.start(mode="ok")
        want = all_delivered(rcv, ids + more, timeout=90)
        in_order(rcv, ids + more)
        none_twice(rcv, want)
        check(wait_for(lambda: sub_state("trouble").get("delivery", {}).get("pending") == 0,
                       timeout=10, step=0.05), "back: nothing pending")
    finally:
        unsubscribe("trouble")
        rcv.stop()


def sigkill_mid_delivery():
    """Three times: changes made, the kill while deliveries are under way
    and while a client is issuing; after each restart, every issuance that
    got its 201 before the kill has its event in the feed, and in the end
    every event is delivered, in per-licence order."""
    global s
    rcv = Receiver("kill")
    rcv.start(mode="ok", delay_ms=40)
    try:
        subscribe(rcv, "kill")
        ids, acked = [], []
        for round_ in range(3):
            ids += change_some(8, "KILL%d" % round_)
            stop = threading.Event()

            def issuing(srv=s, tag="KILLI%d" % round_):
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        r = call(srv, "POST", "/api/v1/certificates",
                                 request_for(T_RAD, "%s-%d" % (tag, i), org_code(900 + i)),
                                 token=T["env"], timeout=10)
                    except OSError:
                        return  # the kill cut it off: not acknowledged
                    if r.status == 201:
                        acked.append(r.doc["id"])
            # Deliveries under way first (on PostgreSQL the restarted node
            # waits for the dead one's lease), then a client issuing: the
            # kill lands in the middle of both.
            before, n_acked = len(rcv.accepted()), len(acked)
            wait_for(lambda: len(rcv.accepted()) > before, timeout=60, step=0.01)
            th = threading.Thread(target=issuing)
            th.start()
            wait_for(lambda: len(acked) > n_acked + 2, timeout=30, step=0.005)
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait()
            stop.set()
            th.join(30)
            d.stop()
            s = d.start(*SERVE)
            fed = {e["licence"]["id"] for e in feed_for(acked) if e["type"] == "licence.issued"}
            missing = [x for x in acked if x not in fed]
            check(acked and not missing, "round %d: each of the %d issuances acknowledged "
                  "before the kill has its event in the feed (missing %s)"
                  % (round_, len(acked), missing[:3]))
        all_delivered(rcv, ids + acked, timeout=120)
        in_order(rcv, ids + acked)
    finally:
        unsubscribe("kill")
        rcv.stop()

class Hang:
    """A receiver that accepts connections and reads, but never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def close(self):
        for c in self.conns + [self.sock]:
            c.close()


def hang_holds_back_only_itself():
    """One subscription's receiver hangs until the timeout (15 s here)
    while another answers at once: the prompt one gets every event well
    before that timeout, while the hung request is still in flight (no
    attempt recorded for it yet)."""
    global s
    timeout = 15
    d.stop()
    s = d.start(*(SERVE[:2] + ("--webhook-timeout-s", str(timeout)) + SERVE[4:]))
    rcv = Receiver("prompt")
    rcv.start(mode="ok")
    hang = Hang()
    try:
        subscribe(rcv, "prompt")
        # Created second, so listed (and, sent one after the other, tried) first.
        r = call(s, "POST", "/api/v1/subscriptions", {"name": "hang", "url": hang.url()},
                 token=T["admin"])
        is_json(r, 201, "POST /api/v1/subscriptions hang")
        ids = change_some(3, "HANG")
        t0 = time.monotonic()
        want = {e["event_id"] for e in feed_for(ids)}
        # Both, not one after the other: on a loaded machine the prompt
        # receiver may have everything before the sender's first look at
        # the hung subscription (it sees new ones within ROUND_MS).
        ok = wait_for(lambda: want <= {e["id"] for e in rcv.accepted()} and len(hang.conns) >= 1,
                      timeout=timeout, step=0.05)
        took = time.monotonic() - t0
        dl = sub_state("hang").get("delivery", {})
        check(ok and took < timeout / 2,
              "the prompt receiver has all %d events %.1f s after the last change, well within "
              "the hung one's %d s timeout" % (len(want), took, timeout))
        check(len(hang.conns) >= 1 and dl.get("last_attempt") is None and dl.get("pending", 0) >= 1,
              "meanwhile the hung receiver holds a request, no attempt over yet (%d connections, %s)"
              % (len(hang.conns), dl))
        in_order(rcv, ids)
    finally:
        unsubscribe("hang")
        unsubscribe("prompt")
        rcv.stop()
        hang.close()
        d.stop()
        s = d.start(*SERVE)


def node_dies_hands_over():
    """PostgreSQL: two nodes, one lease; SIGKILL the node holding it in the
    middle of deliveries: the other takes over once the lease expires
    (5 s here) and every event is delivered, in order."""
    global s
    if not csdb.is_postgres():
        print("skipped: node_dies_hands_over needs PostgreSQL", flush=True)
        return
    import psycopg2
    work_b = copy.copy(d.work)
    work_b.dir = tempfile.mkdtemp(prefix="certsvc-hooks-b-")
    b = Server(work_b, *SERVE)
    rcv = Receiver("nodes")
    rcv.start(mode="ok", delay_ms=100)
    try:
        subscribe(rcv, "nodes")
        ids = change_some(10, "NODES")
        check(wait_for(lambda: len(rcv.accepted()) >= 3, timeout=30, step=0.05),
              "deliveries under way")
        con = psycopg2.connect(d.work.db)
        try:
            cur = con.cursor()
            cur.execute("SELECT l.node FROM sub_leases l JOIN subscriptions x ON x.seq = l.sub "
                        "WHERE x.name = 'nodes' AND NOT x.removed")
            holders = [r[0].split("-")[0] for r in cur.fetchall()]
        finally:
            con.close()
        check(len(holders) == 1, "one lease row (%s)" % holders)
        victim = s if holders and holders[0] == str(s.proc.pid) else b
        check(holders and holders[0] in (str(s.proc.pid), str(b.proc.pid)),
              "the lease names one of the nodes (%s)" % holders)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        if victim is s:
            d.stop()
            s = b
        else:
            b.stop()
        all_delivered(rcv, ids, timeout=150)
        in_order(rcv, ids)
    finally:
        if s is b:
            s = d.start(*SERVE)
            b.stop()
        elif b.alive():
            b.stop()
        call(s, "DELETE", "/api/v1/subscriptions/nodes", token=T["admin"])
        rcv.stop()


def cli_subscriptions():
    w = d.work
    r = w.cli("subscription add", "--name", "cli", "--url", "https://example.org/hook",
              "--types", T_RAD)
    doc = json.loads(r.stdout)
    check(doc.get("secret", "").startswith("whsec_") and doc.get("types") == [T_RAD],
          "subscription add prints the secret and types (%s)" % doc.get("types"))
    r = w.cli("subscription list")
    lst = json.loads(r.stdout)
    names = [x["name"] for x in lst.get("subscriptions", [])]
    check("cli" in names and doc["secret"] not in r.stdout, "subscription list: listed, no secret")
    r = w.cli("subscription add", "--name", "bad", "--url", "gopher://x", check_rc=False)
    check(r.returncode != 0 and "url" in r.stderr, "add with a bad url fails naming url (%s)"
          % r.stderr.strip()[:200])
    r = w.cli("subscription remove", "cli")
    check(r.returncode == 0, "subscription remove")
    r = w.cli("subscription remove", "cli", check_rc=False)
    check(r.returncode != 0, "remove it again: fails")


try:
    run_tests([bad_input, secret_once, signed_and_delivered, receiver_trouble,
               sigkill_mid_delivery, hang_holds_back_only_itself, node_dies_hands_over, cli_subscriptions])
finally:
    if d.server is not None:
        check(d.stop() == 0, "server exits 0 after SIGTERM")
    d.cleanup()
done()
