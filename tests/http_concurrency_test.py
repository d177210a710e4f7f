"""32 clients at once against the real server: distinct issuances get
distinct identifiers and numbers; the same request sent by 32 threads at
once gives exactly one 201 and 31 × 200 with the same licence; the same
approval_ref with different content gives one licence and 31 × 409; the
same bundle, one amendment, one suspension and one revocation raced by 32
threads each happen exactly once; reads run beside the writes."""
import json
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import cshttp  # noqa: E402
from cshttp import (ENV, T_DIAG, T_HAZ, T_RAD, T_TRAIN, Deployment, call,  # noqa: E402
                    id_is_valid, is_json, org_code, person_code, request_for)
from cstest import SOURCE, check, done  # noqa: E402

N = 32
d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens


def race(make, n=N):
    return cshttp.race(s, make, n)


def statuses(results):
    return Counter(getattr(r, "status", None) for r in results)


# --- distinct issuances: 32 clients × 4 at once -----------------------------------
# 32 client identities, each acting for the same authority (one numbering
# sequence per type), each using the same approval_refs as the others:
# idempotency is per client, so every request is a new licence.

PER = 4
KINDS = [T_RAD, T_RAD, T_HAZ, T_TRAIN]
for i in range(N):
    d.add_client("cc%02d" % i, "issuer", ",".join([T_RAD, T_HAZ, T_TRAIN]), (ENV, "广东省生态环境厅"))


def issue_many(i, conn):
    res = []
    for k in range(PER):
        t = KINDS[(i + k) % len(KINDS)]
        n = i * PER + k
        holder = person_code(n) if t == T_TRAIN else org_code(n)
        res.append(call(s, "POST", "/api/v1/certificates", request_for(t, "CC-%d" % k, holder),
                        token=T["cc%02d" % i], conn=conn))
    return res


before = d.count()
results = [r for batch in race(issue_many) if isinstance(batch, list) for r in batch]
check(statuses(results) == Counter({201: N * PER}), "%d distinct issuances at once: all 201 (%s)"
      % (N * PER, dict(statuses(results))))
lics = [r.doc for r in results if r.status == 201]
ids = [x["id"] for x in lics]
check(len(set(ids)) == len(ids) == N * PER, "no duplicate identifiers (%d distinct of %d)" % (len(set(ids)), len(ids)))
check(all(id_is_valid(x) for x in ids), "every identifier has a correct check character")
for t in (T_RAD, T_HAZ, T_TRAIN):
    numbers = [x["number"] for x in lics if x["type"] == t]
    check(len(set(numbers)) == len(numbers), "%s: no duplicate licence numbers (%d distinct of %d)"
          % (t, len(set(numbers)), len(numbers)))
check(d.count() == before + N * PER, "the database holds exactly the %d new licences (%d → %d)"
      % (N * PER, before, d.count()))
bad = [x["id"] for x in lics[::8]
       if (call(s, "POST", "/api/v1/verify", x["qr_text"], ctype="text/plain").doc or {}).get("result") != "valid"]
check(not bad, "the licences issued at once verify: %s" % bad)

# --- the same request 32 times at once: one 201, 31 × 200 ---------------------------------

for round_ in range(3):
    req = request_for(T_RAD, "SAME-%d" % round_, org_code(5000 + round_))
    before = d.count()
    res = race(lambda i, c: call(s, "POST", "/api/v1/certificates", req, token=T["env"], conn=c))
    st = statuses(res)
    check(st == Counter({201: 1, 200: N - 1}), "round %d: the same request at once: one 201, %d × 200 (%s)"
          % (round_, N - 1, dict(st)))
    got = {(r.doc or {}).get("id") for r in res if getattr(r, "status", 0) in (200, 201)}
    check(len(got) == 1, "round %d: every answer is the same licence (%d ids)" % (round_, len(got)))
    check(all(r.ctype == "application/json; charset=utf-8" for r in res if hasattr(r, "ctype")),
          "round %d: every answer is JSON" % round_)
    check(d.count() == before + 1, "round %d: one licence stored for one approval_ref (%d → %d)"
          % (round_, before, d.count()))

# --- one approval_ref, 32 different requests: one licence, 31 × 409 --------------------------

before = d.count()
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates",
                             request_for(T_RAD, "CLASH-1", org_code(6000 + i)), token=T["env"], conn=c))
st = statuses(res)
check(st == Counter({201: 1, 409: N - 1}), "one approval_ref, different content: one 201, %d × 409 (%s)"
      % (N - 1, dict(st)))
check(all(r.ctype == "application/problem+json" for r in res if getattr(r, "status", 0) == 409),
      "the 409s are problems")
check(d.count() == before + 1, "one licence stored (%d → %d)" % (before, d.count()))

# --- the same approval_ref from different clients: one licence each -------------------------

before = d.count()
who = ["env", "env_rad", "onewin"]
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "SHARED-REF", org_code(7000)),
                             token=T[who[i]], conn=c), n=3)
check(statuses(res) == Counter({201: 3}) and len({(r.doc or {}).get("id") for r in res}) == 3,
      "the same approval_ref from three clients: three licences (%s)" % dict(statuses(res)))
check(d.count() == before + 3, "three licences stored")

# --- the same bundle 32 times at once ----------------------------------------------------------

with open(os.path.join(SOURCE, "docs", "examples", "bundle.json")) as f:
    bundle = json.load(f)
bundle["approval_ref"] = "BUNDLE-RACE"
before = d.count()
res = race(lambda i, c: call(s, "POST", "/api/v1/bundles", bundle, token=T["onewin"], conn=c))
st = statuses(res)
check(st == Counter({201: 1, 200: N - 1}), "the same bundle at once: one 201, %d × 200 (%s)" % (N - 1, dict(st)))
check(len({json.dumps(sorted(c["id"] for c in (r.doc or {}).get("certificates", []))) for r in res
           if hasattr(r, "doc")}) == 1, "every answer names the same two licences")
check(d.count() == before + 2, "one bundle's two licences stored (%d → %d)" % (before, d.count()))

# --- one licence, 32 amendments at once: exactly one wins ----------------------------------------

target = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AMEND-RACE", org_code(8000)),
              token=T["env"]).doc
before = d.count()
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates/%s/amend" % target["id"],
                             {"approval_ref": "AMEND-RACE-%d" % i, "fields": {"remarks": "第%d次" % i}},
                             token=T["env"], conn=c))
st = statuses(res)
check(st == Counter({201: 1, 409: N - 1}), "32 amendments of one licence at once: one 201, %d × 409 (%s)"
      % (N - 1, dict(st)))
winner = next((r.doc for r in res if getattr(r, "status", 0) == 201), {})
old = call(s, "GET", "/api/v1/certificates/" + target["id"], token=T["admin"]).doc or {}
check(old.get("status") == "superseded" and old.get("status_detail", {}).get("superseded_by") == winner.get("id"),
      "the old version is superseded by the one amendment that won")
check(d.count() == before + 1, "one new version stored (%d → %d)" % (before, d.count()))

# The same amendment from 32 threads: one new version, 31 × 200 with it.
target = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AMEND-SAME", org_code(8002)),
              token=T["env"]).doc
before = d.count()
same = {"approval_ref": "AMEND-SAME-1", "fields": {"remarks": "同一变更"}}
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates/%s/amend" % target["id"], same,
                             token=T["env"], conn=c))
check(statuses(res) == Counter({201: 1, 200: N - 1}), "the same amendment at once: one 201, %d × 200 (%s)"
      % (N - 1, dict(statuses(res))))
check(len({(r.doc or {}).get("id") for r in res if hasattr(r, "doc")}) == 1, "every answer is the one new version")
check(d.count() == before + 1, "one new version stored (%d → %d)" % (before, d.count()))

# --- one licence, 32 suspensions and then 32 revocations at once ------------------------------------

target = call(s, "POST", "/api/v1/certificates", request_for(T_HAZ, "SUSPEND-RACE", org_code(8001)),
              token=T["env"]).doc
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates/%s/suspend" % target["id"],
                             {"reason": "并发 %d" % i}, token=T["env"], conn=c))
check(statuses(res) == Counter({200: 1, 409: N - 1}), "32 suspensions at once: one 200, %d × 409 (%s)"
      % (N - 1, dict(statuses(res))))
kinds = ["revoked", "withdrawn", "cancelled"]
res = race(lambda i, c: call(s, "POST", "/api/v1/certificates/%s/revoke" % target["id"],
                             {"reason": "并发 %d" % i, "kind": kinds[i % 3]}, token=T["env"], conn=c))
check(statuses(res) == Counter({200: 1, 409: N - 1}), "32 revocations at once: one 200, %d × 409 (%s)"
      % (N - 1, dict(statuses(res))))
won = next((r.doc for r in res if getattr(r, "status", 0) == 200), {})
now = call(s, "GET", "/api/v1/certificates/" + target["id"], token=T["admin"]).doc or {}
check(now.get("status") == "revoked" and now.get("status_detail") == won.get("status_detail"),
      "the licence is revoked as the one winning revocation says")
audit = call(s, "GET", "/api/v1/audit?target=%s&limit=1000" % target["id"], token=T["admin"]).doc or {}
acts = Counter(x.get("action") for x in audit.get("records", []))
check(acts["suspend"] == 1 and acts["revoke"] == 1, "the audit log has one suspension and one revocation: %s"
      % dict(acts))

# --- reads beside writes --------------------------------------------------------------------------

H = org_code(9000)


def mixed(i, conn):
    if i % 2 == 0:
        return call(s, "POST", "/api/v1/certificates",
                    request_for(T_DIAG if i % 4 == 0 else T_RAD, "MIX-%d" % i, H),
                    token=T["health" if i % 4 == 0 else "env"], conn=conn)
    return call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_all"],
                headers={"X-Purpose": "并发读取"}, conn=conn)


res = race(mixed)
check(statuses(res) == Counter({201: N // 2, 200: N // 2}), "issuances and lookups at once: %s" % dict(statuses(res)))
final = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_all"], headers={"X-Purpose": "核对"})
is_json(final, 200, "lookup after the race")
check(len((final.doc or {}).get("certificates", [])) == N // 2, "the holder has the %d licences issued" % (N // 2))
r = call(s, "GET", "/healthz")
check(r.status == 200, "the server is healthy after the races")
m = re.search(r"^certsvc_licences_issued_total (\d+)$", call(s, "GET", "/metrics").body.decode(), re.M)
check(m and int(m.group(1)) == d.count(), "the issued counter equals the licences stored, repeats not "
      "counted (%s vs %d)" % (m and m.group(1), d.count()))
check(d.stop() == 0, "the server stops cleanly")
d.cleanup()
done()
