"""Reconciliation (issue 18): GET /api/v1/certificates?approval_ref=
&issued_after=&issued_before= lists the calling issuer's own licences,
oldest first, paged with a cursor; a bundle's members match the bundle's
approval_ref; another client's licences never appear, even of the same
authority; a reader is refused (403, audited as denied); each page is
audited as "reconcile"; bad parameters are 400 naming them."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (T_RAD, Deployment, audit_records, audit_synced, call,  # noqa: E402
                    example_bundle, is_json, is_problem, org_code, request_for)
from cstest import check, done  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
LIST = "/api/v1/certificates"


def issue(who, ref, i):
    r = call(s, "POST", LIST, request_for(T_RAD, ref, org_code(i)), token=T[who])
    is_json(r, 201, "issue %s by %s" % (ref, who))
    return (r.doc or {}).get("id")


def listing(who, query=""):
    """Every licence id the query lists for who, paging with limit=2."""
    ids, cursor, pages = [], None, 0
    while pages < 50:
        q = query + ("&" if query else "") + "limit=2" + \
            ("&cursor=" + cursor if cursor else "")
        r = call(s, "GET", LIST + "?" + q, token=T[who])
        if not is_json(r, 200, "GET %s?%s" % (LIST, q)):
            return ids
        ids += [c.get("id") for c in r.doc.get("certificates", [])]
        cursor = r.doc.get("next")
        pages += 1
        if cursor is None:
            return ids
    check(False, "paging ends (%s)" % query)
    return ids


first = [issue("env", "RC-%d" % i, 10 + i) for i in range(3)]
theirs = issue("env_rad", "RC-0", 20)  # the same authority and ref, another client
# Licences carry whole seconds: the middle is the next whole second.
mid_ms = (int(time.time()) + 1) * 1000
time.sleep(mid_ms / 1000 - time.time() + 0.05)
second = [issue("env", "RC-%d" % i, 30 + i) for i in range(3, 6)]
r = call(s, "POST", "/api/v1/bundles", example_bundle("RC-B"), token=T["onewin"])
is_json(r, 201, "onewin issues a bundle")
bundle_ids = sorted(c.get("id") for c in (r.doc or {}).get("certificates", []))

got = listing("env")
check(got == first + second, "env lists its own six licences, oldest first (%s)" % got)
check(theirs not in got, "env_rad's licence of the same authority is not env's")
check(listing("env_rad") == [theirs], "env_rad lists only its own")
check(listing("env", "approval_ref=RC-0") == [first[0]],
      "approval_ref=RC-0: env's one licence of that case")
check(listing("env", "approval_ref=nothing") == [], "an unknown approval_ref: none")
check(sorted(listing("onewin", "approval_ref=RC-B")) == bundle_ids and len(bundle_ids) == 2,
      "a bundle's members match the bundle's approval_ref (%s)" % bundle_ids)
check(listing("env", "issued_before=%d" % mid_ms) == first, "issued_before the middle: the first")
check(listing("env", "issued_after=%d" % mid_ms) == second, "issued_after the middle: the second")
iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mid_ms // 1000))
check(listing("env", "issued_after=%s" % iso) == second, "RFC 3339 bound works too")

# A page's answer carries whole licences.
r = call(s, "GET", LIST + "?limit=1", token=T["env"])
is_json(r, 200, "one licence")
lic = ((r.doc or {}).get("certificates") or [{}])[0]
check(lic.get("id") == first[0] and lic.get("approval_ref") == "RC-0" and
      lic.get("status") == "valid", "the licence in full (%s)" % lic)

# Refusals.
is_problem(call(s, "GET", LIST, token=T["rd_rad"]), 403, what="a reader lists")
is_problem(call(s, "GET", LIST, token=T["admin"]), 403, what="an admin lists")
is_problem(call(s, "GET", LIST + "?cursor=garbage", token=T["env"]), 400, "cursor",
           what="a cursor not from a page")
is_problem(call(s, "GET", LIST + "?limit=0", token=T["env"]), 400, "limit", what="limit=0")
is_problem(call(s, "GET", LIST + "?issued_after=yesterday", token=T["env"]), 400,
           "issued_after", what="a time that is none")
is_problem(call(s, "GET", LIST + "?approval=RC-0", token=T["env"]), 400, "approval",
           what="an unknown parameter")
is_problem(call(s, "GET", LIST), 401, what="no token")

audit_synced(s, T["admin"])
recs = audit_records(s, T["admin"], "action=reconcile")
check(any(x.get("client") == "env" and x.get("target") == "RC-0" and
          x.get("result") == "ok" and x.get("result_count") == 1 for x in recs),
      "a page is audited with its approval_ref and count")
check(sorted(x.get("client") for x in recs if x.get("result") == "denied") ==
      ["admin", "rd_rad"], "the refused listings are audited as denied")
d.stop()
d.cleanup()
done()
