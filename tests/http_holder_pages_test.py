"""Holder lookups come in pages (issue 13, item 6): GET
/api/v1/holders/{code}/certificates answers at most ?limit= licences (100
by default, 1 to 1,000) and a "next" cursor (null on the last page) to pass
back as ?cursor=; paging through a holder of 2,500 licences gives each
exactly once, with the reader's grants, ?type= and ?status= applied; a bad
limit or cursor is a 400 naming it; each page is audited with its count.
That the paper-copy check does not read the holder's licences is proved in
test_store_sqlite.c (lookups_read_pages)."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (T_HAZ, T_RAD, Deployment, call, is_json, is_problem, org_code,  # noqa: E402
                    request_for)
from cstest import check, done  # noqa: E402

HOLDER = org_code(7)
OTHER = org_code(8)
# 2,500 licences, half T_RAD, half T_HAZ: bundles of one licence of each
# type, as a bundle issues one licence of a type to a holder (item 8).
BUNDLES, PER = 1250, 2
PURPOSE = {"X-Purpose": "issue 13 paging test"}

d = Deployment()
T = d.tokens
s = d.start("--rate-limit", "0")


def bundle(ref, holder, n):
    members = []
    for j in range(n):
        m = request_for(T_RAD if j % 2 else T_HAZ, "-", holder)
        del m["approval_ref"]
        members.append(m)
    return call(s, "POST", "/api/v1/bundles", {"approval_ref": ref, "certificates": members},
                token=T["env"])


# Seed: 1,250 bundles of 2 from four threads.
seeded, statuses, lock = {}, [], threading.Lock()


def seeder(t):
    for k in range(t, BUNDLES, 4):
        r = bundle("seed-%d" % k, HOLDER, PER)
        with lock:
            statuses.append(r.status)
            for c in (r.doc or {}).get("certificates", []):
                seeded[c["id"]] = c["type"]


threads = [threading.Thread(target=seeder, args=(t,)) for t in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join(600)
check(statuses == [201] * BUNDLES and len(seeded) == BUNDLES * PER,
      "seeded %d licences of one holder (%s)" % (len(seeded), sorted(set(statuses))))
other = bundle("other", OTHER, 2)
is_json(other, 201, "a licence of another holder")


def lookup(query, token=T["rd_all"], holder=HOLDER):
    return call(s, "GET", "/api/v1/holders/%s/certificates%s" % (holder, query), token=token,
                headers=PURPOSE)


def page_through(query="", token=T["rd_all"]):
    """(ids in the order given, page sizes) following next to the end."""
    ids, sizes, cursor = [], [], None
    for _ in range(BUNDLES * PER + 2):
        q = "&".join(x for x in (query, cursor and "cursor=" + cursor) if x)
        r = lookup("?" + q if q else "", token)
        if not is_json(r, 200, "a page of %r" % q):
            break
        ids += [c["id"] for c in r.doc["certificates"]]
        sizes.append(len(r.doc["certificates"]))
        cursor = r.doc.get("next")
        if cursor is None:
            break
    return ids, sizes


# The first page keeps SPEC §5's shape, with "next".
r = lookup("")
is_json(r, 200, "the first page")
doc = r.doc or {}
check(sorted(doc) == ["certificates", "holder_code", "next"] and doc["holder_code"] == HOLDER,
      "the first page: holder_code, certificates, next (%s)" % sorted(doc))
check(len(doc.get("certificates", [])) == 100 and isinstance(doc.get("next"), str),
      "the first page holds 100 licences and a next cursor (got %d, next %r)"
      % (len(doc.get("certificates", [])), doc.get("next")))

# Every licence exactly once, with the default and explicit limits.
seq_before = (call(s, "GET", "/api/v1/audit?action=holder_lookup&limit=1000",
                   token=T["admin"]).doc or {}).get("next_after", 0)
for query, want in (("", [100] * 25), ("limit=1000", [1000, 1000, 500]),
                    ("limit=999", [999, 999, 502])):
    ids, sizes = page_through(query)
    check(sorted(ids) == sorted(seeded), "?%s: every licence exactly once (%d ids, %d distinct)"
          % (query, len(ids), len(set(ids))))
    check(sizes == want, "?%s: pages of %s (got %s)" % (query, want[:3], sizes[:30]))
# Each page is audited with its count.
recs = (call(s, "GET", "/api/v1/audit?action=holder_lookup&limit=1000&after=%d" % seq_before,
             token=T["admin"]).doc or {}).get("records", [])
counts = [x.get("result_count") for x in recs if x.get("holder") == HOLDER]
check(counts == [100] * 25 + [1000, 1000, 500, 999, 999, 502],
      "each page is audited with its count (got %s)" % counts)

# Filters page too: ?type=, the reader's grants, ?status=.
ids, _ = page_through("type=%s&limit=300" % T_HAZ)
check(sorted(ids) == sorted(i for i, t in seeded.items() if t == T_HAZ),
      "?type=: every licence of the type exactly once (%d, %d distinct)"
      % (len(ids), len(set(ids))))
ids, sizes = page_through("limit=100", T["rd_rad"])
check(sorted(ids) == sorted(i for i, t in seeded.items() if t == T_RAD) and
      max(sizes) <= 100, "a reader granted one type: each of its licences once (%d, %d distinct)"
      % (len(ids), len(set(ids))))
revoked = sorted(seeded)[::83]
for lid in revoked:
    call(s, "POST", "/api/v1/certificates/%s/revoke" % lid, {"reason": "paging"}, token=T["env"])
ids, sizes = page_through("status=revoked&limit=7")
check(sorted(ids) == revoked, "?status=revoked: each revoked licence once (%d of %d)"
      % (len(set(ids) & set(revoked)), len(revoked)))
check(sizes[:-1] == [7] * (len(sizes) - 1), "?status=: pages are filled (%s)" % sizes)

# Bad limits and cursors: 400 naming the parameter.
next_of_other = (lookup("?limit=1", holder=OTHER).doc or {}).get("next")
for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=-1", "limit"),
                     ("limit=x", "limit"), ("limit=%201", "limit"), ("limit=1.5", "limit"),
                     ("cursor=x", "cursor"), ("cursor=-5", "cursor"), ("cursor=0", "cursor"),
                     ("cursor=99999999", "cursor"), ("cursor=%s" % next_of_other, "cursor")):
    is_problem(lookup("?" + query), 400, field, "?" + query)

s.stop_clean()
d.cleanup()
done()
