"""The authentication cache (certsvc/domain/client_cache.h, auth_cache_ms), end to end.

A running server trusts a token it has checked for auth_cache_ms (1000 by
default) instead of asking the database on every request.  What changes
about a client from the CLI (another process) must still reach it:

1. Default settings: a reader whose token was just used (so is cached) is
   revoked with `certsvc client revoke` while the server runs; its
   requests are refused with 401 no later than auth_cache_ms + 1.5 s after
   the revoke returned (the time it took is printed), and once refused it
   stays refused, past another whole auth_cache_ms.
2. Default settings: a grant added with `certsvc client grant` to a
   running server's reader becomes usable within the same bound: a read of
   a type the reader lacked goes 403 -> 200 and stays 200, and what it
   could read before it still can.
3. A wrong token is never cached: it gets 401 (invalid_token) every time,
   before and after a valid token was cached, on a fresh connection and on
   a kept-alive one shared with a valid token, including a token one
   character away from a valid one.  A valid token keeps working throughout.
4. --auth-cache-ms 0: a revoked client's very next request is 401, and a
   new grant is usable on the very next request.

Every server stops cleanly (exit 0, no sanitizer report).  The failure
budget (auth_failures, 20 per address) stays on: the test spends about a
dozen failures, so every refusal must be a 401, never a 429.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, HEALTH, T_DIAG, T_RAD, Deployment, call, connection,  # noqa: E402
                    is_json, is_problem, issue, org_code, request_for)
from cstest import check, done  # noqa: E402

CACHE_S = 1.0      # auth_cache_ms by default
MARGIN_S = 1.5     # a request's time, a CLI process's exit, a loaded machine
POLL_S = 0.02

started = time.time()
d = Deployment(clients=False)
T = d.tokens
d.add_client("env", "issuer", T_RAD, (ENV, "广东省生态环境厅"))
d.add_client("health", "issuer", T_DIAG, (HEALTH, "广东省卫生健康委员会"))
d.add_client("rd_revoked", "reader", T_RAD)      # 1: revoked under the default cache
d.add_client("rd_grown", "reader", T_RAD)        # 2: granted T_DIAG under the default cache
d.add_client("rd_steady", "reader", "*")         # 3: always valid
d.add_client("rd_revoked0", "reader", T_RAD)     # 4: revoked with the cache off
d.add_client("rd_grown0", "reader", T_RAD)       # 4: granted with the cache off

BAD = "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
tok = T["rd_steady"]
NEAR = tok[:-1] + ("A" if tok[-1] != "A" else "B")   # one character away from a valid token


def read(lic, who_or_token, conn=None):
    t = T.get(who_or_token, who_or_token)
    return call(d.server, "GET", "/api/v1/certificates/" + lic["id"], token=t, conn=conn)


def licence(type_code, who, ref):
    r = issue(d.server, request_for(type_code, ref, org_code(77)), T[who],
              what="setup: %s issues %s" % (who, type_code))
    return r.doc if r.status == 201 and r.doc else {"id": "?"}


def poll_until(cond_status, fn, limit_s):
    """Call fn() every POLL_S until its status is not cond_status or limit_s
    passes: (the first other Response or the last one, seconds taken,
    statuses seen before it)."""
    t0 = time.monotonic()
    before = []
    while True:
        r = fn()
        took = time.monotonic() - t0
        if r.status != cond_status or took > limit_s:
            return r, took, before
        before.append(r.status)
        time.sleep(POLL_S)


# --- 1. a revoke reaches a running server within auth_cache_ms -------------

s = d.start()
RAD = licence(T_RAD, "env", "AC-RAD-1")
DIAG = licence(T_DIAG, "health", "AC-DIAG-1")

for i in range(3):   # used, so cached
    is_json(read(RAD, "rd_revoked"), 200, "1: the reader reads its licence (%d)" % i)
d.work.cli("client revoke", "rd_revoked")
r, took, before = poll_until(200, lambda: read(RAD, "rd_revoked"), CACHE_S + MARGIN_S + 1.0)
print("1: revoked reader refused %.3f s after the CLI returned (%d request(s) still served "
      "from the cache first)" % (took, len(before)))
is_problem(r, 401, what="1: the revoked reader's request")
check(r.headers.get("www-authenticate", "").find('error="invalid_token"') >= 0,
      "1: the refusal says invalid_token (%s)" % r.headers.get("www-authenticate"))
check(took <= CACHE_S + MARGIN_S,
      "1: refused within auth_cache_ms + %.1f s of the revoke (took %.3f s)" % (MARGIN_S, took))
# Stays refused: now, and past another whole cache period (a refusal must
# not be followed by a stale cached success, nor the refusal be cached
# into a success).
refused = [read(RAD, "rd_revoked").status]
conn = connection(s)
refused.append(read(RAD, "rd_revoked", conn=conn).status)
time.sleep(CACHE_S + 0.2)
refused += [read(RAD, "rd_revoked").status, read(RAD, "rd_revoked", conn=conn).status]
conn.close()
check(refused == [401] * 4, "1: once refused the revoked reader stays refused (got %s)" % refused)
is_json(read(RAD, "rd_steady"), 200, "1: another reader is not affected")

# --- 2. a grant reaches a running server within auth_cache_ms --------------

is_json(read(RAD, "rd_grown"), 200, "2: the reader reads the type it has")
r = read(DIAG, "rd_grown")
is_problem(r, 403, what="2: the reader lacks 放射诊疗许可证 (now cached without it)")
d.work.cli("client grant", "rd_grown", "--types", T_DIAG)
r, took, before = poll_until(403, lambda: read(DIAG, "rd_grown"), CACHE_S + MARGIN_S + 1.0)
print("2: new grant usable %.3f s after the CLI returned (%d request(s) still 403 first)"
      % (took, len(before)))
is_json(r, 200, "2: the reader reads the newly granted type")
check(took <= CACHE_S + MARGIN_S,
      "2: the grant is usable within auth_cache_ms + %.1f s (took %.3f s)" % (MARGIN_S, took))
check((r.doc or {}).get("id") == DIAG["id"], "2: it is the licence asked for")
after = [read(DIAG, "rd_grown").status, read(RAD, "rd_grown").status]
time.sleep(CACHE_S + 0.2)
after += [read(DIAG, "rd_grown").status, read(RAD, "rd_grown").status]
check(after == [200] * 4, "2: both types stay readable, past another cache period (got %s)" % after)

# --- 3. a wrong token is never cached ----------------------------------------

bad = []
conn = connection(s)
for i in range(3):
    bad.append(read(RAD, BAD).status)
    check(read(RAD, "rd_steady", conn=conn).status == 200, "3: a valid token works (%d)" % i)
    bad.append(read(RAD, BAD, conn=conn).status)
    bad.append(read(RAD, NEAR, conn=conn).status)
    check(read(RAD, "rd_steady").status == 200, "3: a valid token works on its own connection (%d)" % i)
conn.close()
check(bad == [401] * 9, "3: a wrong token gets 401 every time, never 200 nor 429 (got %s)" % bad)
r = read(RAD, NEAR)
is_problem(r, 401, what="3: a token one character from a valid one")
check('error="invalid_token"' in r.headers.get("www-authenticate", ""),
      "3: its refusal says invalid_token (%s)" % r.headers.get("www-authenticate"))

s.stop_clean("the server with the default auth_cache_ms")
d.server = None

# --- 4. auth_cache_ms 0: every request asks the database ---------------------

s = d.start("--auth-cache-ms", "0")
for i in range(3):
    is_json(read(RAD, "rd_revoked0"), 200, "4: the reader reads its licence (%d)" % i)
d.work.cli("client revoke", "rd_revoked0")
r = read(RAD, "rd_revoked0")
is_problem(r, 401, what="4: auth_cache_ms 0: the very next request after the revoke")
check([read(RAD, "rd_revoked0").status for _ in range(2)] == [401] * 2,
      "4: and the ones after it")
is_json(read(RAD, "rd_steady"), 200, "4: another reader is not affected")

is_problem(read(DIAG, "rd_grown0"), 403, what="4: the reader lacks 放射诊疗许可证")
d.work.cli("client grant", "rd_grown0", "--types", T_DIAG)
is_json(read(DIAG, "rd_grown0"), 200, "4: auth_cache_ms 0: the new grant on the very next request")
is_json(read(RAD, "rd_grown0"), 200, "4: and the type it had")
is_problem(read(RAD, "rd_revoked"), 401, what="4: the reader revoked earlier, after a restart")

s.stop_clean("the server with auth_cache_ms 0")
d.server = None
d.cleanup()
print("run time %.1f s" % (time.time() - started))
done()
