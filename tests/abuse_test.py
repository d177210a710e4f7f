"""Abuse limits: slow clients, idle connections, floods and wrong tokens,
while a well-behaved client keeps being served.

The real server runs with small limits so that the test is quick:
--connection-timeout 2, --max-connections 32, --rate-limit 10, and the
failure budget at its defaults made explicit (--auth-failures 20,
--auth-failure-refill 1).  Every attack comes from 127.0.0.1, except the
paper-copy guesses, which come from 127.0.0.3 to a server of their own.
The well-behaved client speaks from 127.0.0.2 (a socket bound to that
source address: the server listens on 127.0.0.1 only, and Linux routes
the whole of 127/8 over loopback), which is another remote address for
the per-address limits, or from 127.0.0.1 itself where an attack must not
hurt the attacker's neighbours: a reader with a valid token is not rate
limited, and wrong tokens from an address do not lock out the right ones
(a valid token is always served).  During each attack the test asserts
both sides: the attack is contained, and every request of the
well-behaved client is answered, correctly and in time.

  1. slowloris: sockets that send a request head (or a body) a byte a
     second are closed by the server within the connection timeout, long
     before the head is whole; and a request that has arrived is never
     cut, however long its handler waits;
  2. idle connections: max_connections + 50 sockets that send nothing;
     those beyond what one address may hold are closed at once, the rest
     at the connection timeout;
  3. a flood of POST /api/v1/verify from one address: 429 with
     Retry-After (and an RFC 9457 problem) once over the rate limit,
     never a 5xx, and no more 200s than the token bucket allows;
  4. wrong bearer tokens: 401 with WWW-Authenticate: Bearer
     error="invalid_token" while the address's failure budget lasts (20),
     then 429 with Retry-After and a problem body, never a 5xx; then 4
     threads for 2 s: nothing but 401 and 429, at most one 401 a second
     (the refill); the budget comes back with time.  Meanwhile readers
     with a valid token from 127.0.0.1 and 127.0.0.2 keep getting 200;
  5. paper-copy guesses ({"id", "holder_code"}, the oracle of a resident
     ID's hidden birth date): the same budget (here 5, one back an hour),
     shared with wrong tokens: not_found answers spend it, a licence found
     does not, and once it is spent every paper-copy check from that
     address is 429 before any lookup — the correct id and holder code
     too, through the API and the /v form — while the same check from
     another address is valid, and QR texts and valid tokens from the
     guessing address are still answered.

Each scenario is a test of its own (run_tests), followed by the checks
that the server still runs and answers /healthz, so that one failing
hides none of the others: `python3 tests/abuse_test.py flood_is_rate_limited`.
"""
import json
import os
import select
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csraw  # noqa: E402
from cshttp import ENV  # noqa: E402
from cstest import (Server, Workdir, check, done, run_tests, sample_request, uscc,  # noqa: E402
                    wait_for)

TIMEOUT = 2          # --connection-timeout
MAX_CONN = 32        # --max-connections
RATE = 10            # --rate-limit (requests per second per address, burst as much)
FAILURES = 20        # --auth-failures: wrong tokens an address may send before 429
GOOD = "127.0.0.2"   # the well-behaved client's own address
GUESSER = "127.0.0.3"  # the paper-copy guesser's address

w = Workdir()
issuer = w.client("env", "issuer", "*", ENV, "广东省生态环境厅")
reader = w.client("reader", "reader", "*")
srv = Server(w, "--connection-timeout", str(TIMEOUT), "--max-connections", str(MAX_CONN),
             "--rate-limit", str(RATE), "--auth-failures", str(FAILURES),
             "--auth-failure-refill", "1")
t_start = time.time()


def api(method, path, body=None, token=None, ctype=None, source=None, timeout=10, server=None):
    return csraw.send((server or srv).base, method, path, body, token, ctype, source=source,
                      timeout=timeout)


r = api("POST", "/api/v1/certificates", sample_request("11100000000013338W032", "AB-1"), issuer)
lic = json.loads(r.body)
check(r.status == 201, "a licence to read and verify")
LID, TOKEN, HOLDER = lic["id"], lic["token"], lic["holder"]["code"]

try:
    socket.create_connection(csraw.address(srv.base), 2,
                             source_address=(GOOD, 0)).close()
except OSError as e:
    print("cannot speak from %s (%s): the test needs Linux loopback" % (GOOD, e))
    srv.stop()
    sys.exit(1)


class GoodClient(threading.Thread):
    """Well-behaved requests at a polite pace until stopped: each must be
    answered correctly within `slow` seconds."""

    def __init__(self, what, plan, slow=3.0):
        threading.Thread.__init__(self)
        self.what, self.plan, self.slow = what, plan, slow
        self.stop = threading.Event()
        self.results = []   # (name, ok, seconds, status)

    def run(self):
        i = 0
        while not self.stop.is_set():
            name, source, call = self.plan[i % len(self.plan)]
            i += 1
            t0 = time.time()
            try:
                ok, status = call(source)
            except OSError as e:
                ok, status = False, repr(e)
            self.results.append((name, ok, time.time() - t0, status))
            self.stop.wait(0.2)

    def finish(self):
        self.stop.set()
        self.join(30)
        bad = [r for r in self.results if not r[1] or r[2] > self.slow]
        check(len(self.results) >= 5, "%s: the well-behaved client made its requests (%d)" % (
            self.what, len(self.results)))
        check(not bad, "%s: every well-behaved request was answered in time (%d of %d were "
              "not: %s)" % (self.what, len(bad), len(self.results), bad[:3]))
        worst = max((r[2] for r in self.results), default=0)
        print("  %s: well-behaved client: %d requests, all answered, slowest %.2f s" % (
            self.what, len(self.results), worst), flush=True)


def read_licence(source):
    r = api("GET", "/api/v1/certificates/" + LID, token=reader, source=source)
    return r is not None and r.status == 200 and json.loads(r.body)["id"] == LID, \
        r and r.status


def verifies(source):
    r = api("POST", "/api/v1/verify", TOKEN, ctype="text/plain", source=source)
    return r is not None and r.status == 200 and json.loads(r.body)["result"] == "valid", \
        r and r.status


def types(source):
    r = api("GET", "/api/v1/types", source=source)
    return r is not None and r.status == 200, r and r.status


PLAN_OTHER = [("read", GOOD, read_licence), ("verify", GOOD, verifies), ("types", GOOD, types)]


def closed(sock):
    """Whether the server closed a socket (EOF or reset), without waiting."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError:
        return True


# --- 1. slowloris: a byte a second ------------------------------------------

def slowloris_is_cut_off():
    print("slowloris: 8 request heads and 2 bodies, a byte a second", flush=True)
    good = GoodClient("slowloris", PLAN_OTHER + [("read from the attacker's address", None,
                                                  read_licence)])
    good.start()
    head = (b"GET /api/v1/types HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " +
            b"s" * 200 + b"\r\n\r\n")
    body_head = (b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: text/plain\r\nContent-Length: 400\r\n\r\n")
    socks = []
    for i in range(10):
        s = csraw.connect(srv.base)
        if i >= 8:
            s.sendall(body_head)   # the head at once, then the body slowly
        socks.append([s, head if i < 8 else TOKEN.encode()[:400], 0, None])
    t0 = time.time()
    while time.time() - t0 < TIMEOUT + 4 and any(x[3] is None for x in socks):
        for x in socks:
            s, data, pos, when = x
            if when is not None:
                continue
            try:
                s.send(data[pos:pos + 1])
                x[2] += 1
            except OSError:
                x[3] = time.time() - t0
        deadline = time.time() + 1.0
        while time.time() < deadline:
            for x in socks:
                if x[3] is None and closed(x[0]):
                    x[3] = time.time() - t0
            time.sleep(0.05)
    good.finish()
    lasted = [x[3] for x in socks]
    sent = [x[2] for x in socks]
    for s in socks:
        s[0].close()
    check(all(t is not None and t <= TIMEOUT + 1.5 for t in lasted),
          "slowloris: every slow socket was closed within the %d s timeout (+1.5 s): "
          "closed after %s s, %s bytes sent" % (
              TIMEOUT, [None if t is None else round(t, 1) for t in lasted], sent))
    print("  slow sockets closed after %.1f-%.1f s, having sent %d-%d bytes" % (
        min(t or 99 for t in lasted), max(t or 99 for t in lasted), min(sent), max(sent)),
        flush=True)


def slow_handler_is_not_cut():
    """The other side of the slowloris deadline: a request that arrived
    whole is never cut, however long its handler takes (here it waits for
    the database, held by another process longer than the timeout)."""
    print("a slow handler: the database locked for %d s by another process" % (TIMEOUT + 1),
          flush=True)
    db = sqlite3.connect(w.db, timeout=10, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    out = {}

    def issue_while_locked():
        t0 = time.time()
        out["r"] = api("POST", "/api/v1/certificates",
                       sample_request("11100000000013338W032", "AB-SLOW"), issuer, timeout=30)
        out["t"] = time.time() - t0
    t = threading.Thread(target=issue_while_locked)
    t.start()
    time.sleep(TIMEOUT + 1)
    db.execute("ROLLBACK")
    db.close()
    t.join(30)
    r = out.get("r")
    check(r is not None and r.status == 201, "slow handler: answered 201 after %.1f s, not cut "
          "(%s)" % (out.get("t", 0), r and (r.status, r.body[:200])))
    print("  answered %s after %.1f s" % (r and r.status, out.get("t", 0)), flush=True)


# --- 2. idle connections -------------------------------------------------------

def idle_connections_are_closed():
    n = MAX_CONN + 50
    print("idle connections: %d sockets that send nothing (--max-connections %d)" % (
        n, MAX_CONN), flush=True)
    good = GoodClient("idle connections", PLAN_OTHER)
    good.start()
    socks, refused = [], 0
    t0 = time.time()
    for _ in range(n):
        try:
            socks.append(csraw.connect(srv.base, timeout=2))
        except OSError:
            refused += 1
    # Those over the per-address limit go at once (allow a loaded machine
    # a moment, well within the timeout that cuts the others).
    wait_for(lambda: sum(1 for s in socks if closed(s)) + refused >= n - MAX_CONN // 2,
             timeout=t0 + TIMEOUT * 0.75 - time.time(), step=0.05)
    early = sum(1 for s in socks if closed(s)) + refused
    open_after = len(socks) + refused - early
    # All the rest go at the connection timeout.
    wait_for(lambda: all(closed(s) for s in socks), timeout=t0 + TIMEOUT + 2.5 - time.time(),
             step=0.1)
    held = time.time() - t0
    still = sum(1 for s in socks if not closed(s))
    good.finish()
    for s in socks:
        s.close()
    print("  %d refused or closed at once, %d held open, all closed after %.1f s" % (
        early, open_after, held), flush=True)
    check(early >= n - MAX_CONN, "idle: the connections over the limit are refused or closed "
          "at once (%d of %d)" % (early, n))
    check(open_after <= MAX_CONN // 2, "idle: one address holds at most half the connections "
          "(%d held)" % open_after)
    check(still == 0, "idle: the idle connections are closed at the %d s timeout (%d still "
          "open after %.1f s)" % (TIMEOUT, still, held))


# --- 3. a verification flood -------------------------------------------------------

def flood_is_rate_limited():
    secs = 2.0
    print("verification flood: 4 threads for %.0f s from one address (--rate-limit %d)" % (
        secs, RATE), flush=True)
    good = GoodClient("verify flood", PLAN_OTHER + [("read from the flooding address", None,
                                                     read_licence)])
    good.start()
    counts, retry_after, problems, lock = {}, set(), [], threading.Lock()

    def hammer():
        end = time.time() + secs
        while time.time() < end:
            r = api("POST", "/api/v1/verify", TOKEN, ctype="text/plain")
            with lock:
                key = r.status if r is not None else None
                counts[key] = counts.get(key, 0) + 1
                if r is not None and r.status == 429:
                    retry_after.add(r.header("retry-after"))
                    try:
                        p = json.loads(r.body)
                        if p.get("status") != 429 or not p.get("detail"):
                            problems.append(p)
                    except ValueError:
                        problems.append(r.body[:100])
    t0 = time.time()
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    good.finish()
    total = sum(counts.values())
    print("  %d requests in %.1f s: %s; Retry-After %s" % (
        total, elapsed, dict(sorted(counts.items(), key=str)), sorted(retry_after)), flush=True)
    allowed = RATE + RATE * elapsed + 2   # a full bucket, then the refill
    check(counts.get(200, 0) <= allowed, "flood: at most %d answers of 200 (%d)" % (
        allowed, counts.get(200, 0)))
    check(counts.get(429, 0) > 0, "flood: 429 once over the rate limit")
    check(set(counts) <= {200, 429}, "flood: nothing but 200 and 429 (%s)" % counts)
    check(all(ra is not None and ra.isdigit() and int(ra) >= 1 for ra in retry_after),
          "flood: every 429 has Retry-After in whole seconds (%s)" % retry_after)
    check(not problems, "flood: every 429 is a problem with status and detail (%s)" %
          problems[:2])


# --- 4. wrong bearer tokens ----------------------------------------------------------

def fake_token(k, i):
    return "cs_" + ("%04d%06d" % (k, i)) * 4 + "AAA"   # a token's shape


def is_429(r):
    """A 429 problem with Retry-After in whole seconds."""
    if r is None:
        return False
    try:
        p = json.loads(r.body)
    except ValueError:
        return False
    ra = r.header("retry-after") or ""
    return r.status == 429 and p.get("status") == 429 and bool(p.get("detail")) and \
        r.header("content-type") == "application/problem+json" and ra.isdigit() and int(ra) >= 1


def wrong_tokens_are_shed():
    print("wrong bearer tokens from one address: one at a time until 429, then 4 threads "
          "for 2 s (--auth-failures %d)" % FAILURES, flush=True)
    good = GoodClient("wrong tokens", PLAN_OTHER + [("read from the same address", None,
                                                     read_licence)])
    good.start()
    # One at a time: 401 while the budget lasts, then 429.
    seq, t0 = [], time.time()
    while len(seq) < FAILURES * 3 and (not seq or (seq[-1] is not None and
                                                   seq[-1].status == 401)):
        seq.append(api("GET", "/api/v1/certificates/" + LID, token=fake_token(9, len(seq))))
    elapsed = time.time() - t0
    n401 = sum(1 for r in seq if r is not None and r.status == 401)
    print("  one at a time: %d answers of 401, then %s, in %.2f s" % (
        n401, seq[-1] and seq[-1].status, elapsed), flush=True)
    check(FAILURES <= n401 <= FAILURES + elapsed + 1, "wrong tokens: 401 for the budget of %d "
          "(plus one a second), then no more (%d in %.2f s)" % (FAILURES, n401, elapsed))
    check(all(r.header("www-authenticate") == 'Bearer realm="certsvc", error="invalid_token"'
              for r in seq[:-1]), "wrong tokens: each 401 says invalid_token")
    check(seq[-1] is not None and is_429(seq[-1]), "wrong tokens: past the budget, 429 with "
          "Retry-After and a problem (%r)" % ((seq[-1] and (seq[-1], seq[-1].headers)),))
    # A stream: shed, never a 5xx.
    counts, bad, lock = {}, [], threading.Lock()
    secs = 2.0

    def guess(k):
        end, i = time.time() + secs, 0
        while time.time() < end:
            i += 1
            r = api("GET", "/api/v1/certificates/" + LID, token=fake_token(k, i))
            with lock:
                key = r.status if r is not None else None
                counts[key] = counts.get(key, 0) + 1
                if r is not None and r.status == 429 and not is_429(r):
                    bad.append(r)
    t0 = time.time()
    threads = [threading.Thread(target=guess, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    good.finish()
    print("  %d guesses in %.1f s: %s" % (sum(counts.values()), elapsed, counts), flush=True)
    check(set(counts) <= {401, 429} and counts.get(429, 0) > 0,
          "wrong tokens: only 401 and 429, never a 5xx (%s)" % counts)
    check(counts.get(401, 0) <= elapsed + 2, "wrong tokens: at most one 401 a second once the "
          "budget is spent (%d in %.1f s)" % (counts.get(401, 0), elapsed))
    check(not bad, "wrong tokens: every 429 has Retry-After and a problem (%s)" % bad[:2])
    for source in (None, GOOD):
        ok, st = read_licence(source)
        check(ok, "wrong tokens: a valid reader from %s is still served (%s)" % (
            source or "127.0.0.1", st))
    time.sleep(2.2)
    r = api("GET", "/api/v1/certificates/" + LID, token=fake_token(8, 1))
    check(r is not None and r.status == 401, "wrong tokens: the budget comes back with time: 401 "
          "again after 2 s (%r)" % r)


# --- 5. paper-copy guesses -------------------------------------------------------------

def paper_copy_guesses_are_limited():
    budget = 5
    print("paper-copy guesses from %s (--auth-failures %d, one back an hour)" % (
        GUESSER, budget), flush=True)
    guard = Server(w, "--auth-failures", str(budget), "--auth-failure-refill", "3600",
                   "--rate-limit", "0")
    try:
        paper_copy_on(guard, budget)
    finally:
        guard.stop()


def paper_copy_on(guard, budget):
    def paper(holder_code, source=GUESSER, key="id"):
        return api("POST", "/api/v1/verify", {key: LID if key == "id" else lic["number"],
                                              "holder_code": holder_code},
                   source=source, server=guard)

    def result(r):
        try:
            return r.status, json.loads(r.body).get("result")
        except (ValueError, AttributeError):
            return r and r.status, None

    def wrong(i):
        # A valid USCC that is not the holder's: a guess that finds nothing.
        return uscc("9144030070%07d" % i)

    # A licence found costs nothing, however often.
    for i in range(budget * 2):
        check(result(paper(HOLDER)) == (200, "valid"), "paper copy: the right holder code is "
              "valid, and costs nothing (%d)" % i)
    # The budget is shared: wrong tokens spend it too.
    r = api("GET", "/api/v1/certificates/" + LID, token=fake_token(7, 1), source=GUESSER,
            server=guard)
    check(r is not None and r.status == 401, "paper copy: a wrong token spends one (%r)" % r)
    answers = [result(paper(wrong(i))) for i in range(budget - 1)]
    check(answers == [(200, "not_found")] * (budget - 1), "paper copy: guesses answer not_found "
          "while the budget lasts: %s" % answers)
    r = paper(wrong(99))
    check(is_429(r), "paper copy: past the budget, a guess is 429 with Retry-After (%r)" % r)
    check(r is not None and int(r.header("retry-after") or 0) > 60, "paper copy: Retry-After "
          "tells the hour's refill (%s s)" % (r and r.header("retry-after")))
    r = paper(HOLDER)
    check(is_429(r), "paper copy: past the budget, even the right id and holder code from that "
                     "address is 429, before any lookup (%r)" % r)
    r = paper(HOLDER, key="number")
    check(is_429(r), "paper copy: and by number (%r)" % r)
    form = "licence=%s&holder_code=%s" % (LID, HOLDER)
    r = csraw.request(guard.base, "POST", "/v", [("Content-Type",
                                                  "application/x-www-form-urlencoded")],
                      form, source=GUESSER)
    check(is_429(r), "paper copy: the /v form from that address is 429 too (%r)" % r)
    r = paper(HOLDER, source=GOOD)
    check(result(r) == (200, "valid"), "paper copy: the same check from another address is "
          "valid (%r)" % r)
    r = csraw.request(guard.base, "POST", "/v", [("Content-Type",
                                                  "application/x-www-form-urlencoded")],
                      form, source=GOOD)
    check(r is not None and r.status == 200 and "text/html" in (r.header("content-type") or ""),
          "paper copy: the /v form from another address shows the page (%r)" % r)
    r = api("POST", "/api/v1/verify", TOKEN, ctype="text/plain", source=GUESSER, server=guard)
    check(result(r) == (200, "valid"), "paper copy: a QR text from the guessing address is "
          "still verified (%r)" % r)
    r = api("GET", "/api/v1/certificates/" + LID, token=reader, source=GUESSER, server=guard)
    check(r is not None and r.status == 200, "paper copy: a valid token from the guessing "
          "address is still served (%r)" % r)
    r = api("POST", "/api/v1/verify", {"qr": 5}, source=GUESSER, server=guard)
    check(result(r) == (200, "malformed"), "paper copy: a malformed body is still a verdict "
          "(%r)" % r)
    print("  %d guesses answered, then 429; another address still verifies" % (budget - 1),
          flush=True)


def survived(attack):
    """The attack as a test: then the server is still running and answers
    /healthz (checked even if the attack raised)."""
    def test():
        try:
            attack()
        finally:
            check(srv.proc.poll() is None, "%s: the server is still running" % attack.__name__)
            check(csraw.alive(srv.base), "%s: /healthz answers afterwards" % attack.__name__)
    return attack.__name__, test


def no_internal_error_logged():
    with open(srv.log_path, "rb") as f:
        log = f.read()
    check(b"error req=" not in log, "the server logged no internal error")


ATTACKS = (slowloris_is_cut_off, slow_handler_is_not_cut, idle_connections_are_closed,
           flood_is_rate_limited, wrong_tokens_are_shed, paper_copy_guesses_are_limited)
ran = run_tests([survived(attack) for attack in ATTACKS] + [no_internal_error_logged])
code = srv.stop()
check(code == 0, "the server stops cleanly after the attacks (%s)" % code)
print("abuse test: %d scenarios in %.1f s" % (len(set(ran) & {a.__name__ for a in ATTACKS}),
                                             time.time() - t_start))
w.cleanup()
done()
