"""Bundles, the audit log's filters, /metrics and the configurable limits,
end to end (SPEC §5, §7; issue 3).

1. A bundle repeated with the same approval_ref answers 200 with the same
   licences; with different content it is a 409 problem and stores nothing.
   A bundle of three licences for two issuing authorities: each names the
   other two in `related`, read back by id too.
2. GET /api/v1/audit filters: ?client= returns that client's records and
   none of another's; a time window (since inclusive, until exclusive)
   that holds records returns exactly those, one between two bursts of
   activity returns none; ?action= and ?holder= combined (and with
   ?client=) return exactly the matching records.  Every record carries the
   server's request id of the request that made it, never one the client
   sent.
3. /metrics: after a known number of verifications of each result,
   certsvc_verifications_total{result=...} grew by exactly that many (and
   the others not at all), as did the verify route's request counter and
   certsvc_licences_issued_total.  The default header limit (16 KiB) takes
   a 12,000-byte header and refuses a 20,000-byte one with 431.
4. Limits at non-default values from a configuration file: max_body 2048
   (a 3000-byte issuance is a 413 problem, a 1500-byte one is issued) and
   max_header 4096 (a 6000-byte header is refused with 431, as
   keys.example/certsvc.conf documents; the default server takes it).
5. The trust list: every key carries valid_from (RFC 3339, not in the
   future), the newest key is "active" and the older "verify-only".

Each server is stopped with SIGTERM: it must exit 0 with no sanitizer report.
"""
import datetime
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csraw  # noqa: E402
from cshttp import (ENV, HEALTH, PROBLEM_CT, T_DIAG, T_EIA, T_HAZ, T_RAD, Deployment,  # noqa: E402
                    audit_records, audit_synced, call, is_json, is_problem, metrics, org_code,
                    request_for)
from cstest import Server, Workdir, check, done, sample_request  # noqa: E402

d = Deployment()
# A one-window platform acting for two departments, three types.
d.add_client("onewin3", "issuer", T_RAD + "," + T_HAZ, (ENV, "广东省生态环境厅"))
d.work.cli("client grant", "onewin3", "--types", T_DIAG, "--issuer-code", HEALTH,
           "--issuer-name", "广东省卫生健康委员会")
s = d.start("--rate-limit", "0")
T = d.tokens


def audit(query):
    return audit_records(s, T["admin"], query)


def at_ms(rec):
    """Unix milliseconds of a record's "at" (2026-11-24T08:00:00.123Z)."""
    t = datetime.datetime.strptime(rec["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


# --- 1. bundles ------------------------------------------------------------

def member(type_code, holder, issuer):
    req = request_for(type_code, "-", holder, issuer)
    del req["approval_ref"]
    return req


H3 = org_code(301)
bundle = {"approval_ref": "AUD-B3", "certificates": [
    member(T_RAD, H3, ENV), member(T_HAZ, H3, ENV), member(T_DIAG, H3, HEALTH)]}
before = d.count()
r = call(s, "POST", "/api/v1/bundles", bundle, token=T["onewin3"])
is_json(r, 201, "a bundle of three")
b3 = r.doc or {}
certs = b3.get("certificates", [])
ids = [c.get("id") for c in certs]
check(len(certs) == 3 and len(set(ids)) == 3 and d.count() == before + 3,
      "three licences issued and stored (%s; %d stored)" % (ids, d.count() - before))
check(sorted(c.get("type") for c in certs) == sorted([T_RAD, T_HAZ, T_DIAG]),
      "one of each type: %s" % [c.get("type") for c in certs])
check({c.get("issuer", {}).get("code") for c in certs} == {ENV, HEALTH},
      "two issuing authorities: %s" % [c.get("issuer") for c in certs])
for c in certs:
    others = sorted(i for i in ids if i != c.get("id"))
    check(c.get("bundle") == b3.get("id") and b3.get("id"),
          "%s names its bundle %s (%s)" % (c.get("id"), b3.get("id"), c.get("bundle")))
    check(sorted(c.get("related") or []) == others,
          "%s: related names the other two %s (got %s)" % (c.get("id"), others, c.get("related")))
    g = call(s, "GET", "/api/v1/certificates/" + c.get("id", "?"), token=T["rd_all"])
    is_json(g, 200, "read a bundle member")
    check(sorted((g.doc or {}).get("related") or []) == others and
          (g.doc or {}).get("bundle") == b3.get("id"),
          "%s read back: related %s, bundle %s" % (c.get("id"), (g.doc or {}).get("related"),
                                                   (g.doc or {}).get("bundle")))

# The same request again: 200, the same licences, nothing new stored.
r = call(s, "POST", "/api/v1/bundles", bundle, token=T["onewin3"])
is_json(r, 200, "the same bundle again")
check(r.doc and r.doc.get("id") == b3.get("id") and
      sorted(c.get("id") for c in r.doc.get("certificates", [])) == sorted(ids),
      "the repeat answers the same bundle and licences (%s)" % r)
check(d.count() == before + 3, "the repeat stored nothing")
# The same approval_ref with other content: 409, nothing stored.
changed = json.loads(json.dumps(bundle))
changed["certificates"][0]["fields"]["address"] = "深圳市福田区另一条路1号"
n_licences, n_bundles = d.count(), d.count("bundles")
r = call(s, "POST", "/api/v1/bundles", changed, token=T["onewin3"])
is_problem(r, 409, what="the same approval_ref, different content")
check((r.doc or {}).get("type") == "https://certsvc.example/problems/approval-ref-conflict",
      "the 409 is an approval-ref-conflict problem: %s" % r.doc)
dropped = dict(bundle, certificates=bundle["certificates"][:2])
r = call(s, "POST", "/api/v1/bundles", dropped, token=T["onewin3"])
is_problem(r, 409, what="the same approval_ref, one licence fewer")
check(d.count() == n_licences and d.count("bundles") == n_bundles,
      "the refused bundles stored nothing (%d → %d licences)" % (n_licences, d.count()))
# Another client may use the same approval_ref: its own namespace.
r = call(s, "POST", "/api/v1/bundles", {"approval_ref": "AUD-B3", "certificates": [
    member(T_RAD, H3, ENV), member(T_EIA, H3, ENV)]}, token=T["env"])
is_json(r, 201, "another client's bundle under the same approval_ref")

# --- 2. audit filters --------------------------------------------------------

HA, HB = org_code(401), org_code(402)
# Phase A: env issues for HA and HB; a reader looks HA up and reads one.
phase_a = []
for i, h in enumerate([HA, HA, HB]):
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AUD-A%d" % i, h),
             token=T["env"], headers={"X-Request-Id": "client-says-%d" % i})
    is_json(r, 201, "phase A issuance %d" % i)
    phase_a.append(r.doc or {})
    check(r.headers.get("x-request-id") not in (None, "client-says-%d" % i),
          "the server's request id is its own, not the client's X-Request-Id (%s)" %
          r.headers.get("x-request-id"))
    phase_a[-1]["_rid"] = r.headers.get("x-request-id")
r = call(s, "GET", "/api/v1/holders/%s/certificates" % HA, token=T["rd_all"],
         headers={"X-Purpose": "审计过滤测试"})
is_json(r, 200, "holder lookup of HA")
r = call(s, "GET", "/api/v1/certificates/" + phase_a[0]["id"], token=T["rd_all"])
is_json(r, 200, "read of HA's first licence")
audit_synced(s, T["admin"])
recs_a = audit("")
seq_a = max(x["seq"] for x in recs_a)
time.sleep(1.2)
# Phase B, over a second later: health issues for HA.
r = call(s, "POST", "/api/v1/certificates", request_for(T_DIAG, "AUD-B0", HA), token=T["health"])
is_json(r, 201, "phase B issuance (health)")
b_lic = r.doc or {}
audit_synced(s, T["admin"])
everything = audit("")
recs_b = [x for x in everything if x["seq"] > seq_a]
check(len(recs_b) == 1 and recs_b[0].get("action") == "issue" and
      recs_b[0].get("target") == b_lic.get("id"),
      "phase B left one record, its issuance: %s" % recs_b)

# Request ids: each issuance's record carries the id of its answer.
by_target = {x.get("target"): x for x in everything if x.get("action") == "issue"}
for lic in phase_a:
    rec = by_target.get(lic.get("id"), {})
    check(rec.get("request_id") == lic["_rid"] and not rec.get("request_id", "").startswith(
        "client-says"), "the audit record of %s carries the server's request id %s (got %s)" % (
        lic.get("id"), lic["_rid"], rec.get("request_id")))

# ?client=
for who, other in (("env", "health"), ("health", "env"), ("rd_all", "env")):
    got = audit("client=" + who)
    check(got and all(x.get("client") == who for x in got),
          "?client=%s: only %s's records (%d, clients %s)" % (
              who, who, len(got), sorted({x.get("client") for x in got})))
    check(len(got) == sum(1 for x in everything if x.get("client") == who),
          "?client=%s: all of %s's records" % (who, who))
    theirs = {x["seq"] for x in everything if x.get("client") == other}
    check(theirs and not theirs & {x["seq"] for x in got},
          "?client=%s excludes %s's %d records" % (who, other, len(theirs)))
check(b_lic.get("id") in {x.get("target") for x in audit("client=health")} and
      b_lic.get("id") not in {x.get("target") for x in audit("client=env")},
      "health's issuance is under ?client=health, not ?client=env")
check(audit("client=nobody") == [], "?client= of no client: no records")

# Time windows: since inclusive, until exclusive; RFC 3339 or milliseconds.
first_a = min(at_ms(x) for x in recs_a)
last_a = max(at_ms(x) for x in recs_a)
b_at = at_ms(recs_b[0]) if recs_b else 0
check(b_at - last_a >= 1000, "phase B is over a second after phase A (%d ms)" % (b_at - last_a))


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def seqs(recs):
    return sorted(x["seq"] for x in recs)


got = audit("since=%d&until=%d" % (first_a, last_a + 1))
check(seqs(got) == seqs(recs_a), "a window around phase A (ms) returns its %d records (got %d)" %
      (len(recs_a), len(got)))
got = audit("since=%s&until=%s" % (iso(first_a), iso(last_a + 1)))
check(seqs(got) == seqs(recs_a), "the same window in RFC 3339 returns them too (got %d)" % len(got))
got = audit("since=%d&until=%d" % (last_a + 1, b_at))
check(got == [], "a window between the two phases returns none (%d)" % len(got))
got = audit("since=%d" % b_at)
check(seqs(got) == seqs(recs_b), "since the phase B record's own time: it alone (%s)" % seqs(got))
got = audit("until=%d" % b_at)
check(seqs(got) == seqs(recs_a), "until the phase B record's time: all but it (%d of %d)" % (
    len(got), len(recs_a)))
got = audit("since=%s" % iso(b_at + 60000))
check(got == [], "a window in the future returns none (%d)" % len(got))
got = audit("until=2000-01-01T00:00:00Z")
check(got == [], "a window before 2000 returns none (%d)" % len(got))

# ?action= with ?holder=, and with ?client= too.
ha_issues = {lic["id"] for lic in phase_a if lic.get("holder", {}).get("code") == HA}
ha_issues |= {b_lic.get("id")}
got = audit("action=issue&holder=" + HA)
check({x.get("target") for x in got} == ha_issues and len(got) == len(ha_issues) and
      all(x.get("action") == "issue" and x.get("holder") == HA for x in got),
      "?action=issue&holder=HA: exactly HA's %d issuances (got %s)" % (
          len(ha_issues), [(x.get("action"), x.get("holder"), x.get("target")) for x in got]))
check(not {lic["id"] for lic in phase_a if lic.get("holder", {}).get("code") == HB} &
      {x.get("target") for x in got}, "?action=issue&holder=HA excludes HB's issuance")
got = audit("action=issue&holder=%s&client=env" % HA)
check({x.get("target") for x in got} == ha_issues - {b_lic.get("id")},
      "?action=issue&holder=HA&client=env: env's two, not health's (%s)" % [
          x.get("target") for x in got])
got = audit("action=holder_lookup&holder=" + HA)
check(len(got) == 1 and got[0].get("purpose") == "审计过滤测试" and
      got[0].get("client") == "rd_all" and got[0].get("result_count") == 2,
      "?action=holder_lookup&holder=HA: the one lookup, with its purpose and count: %s" % got)
got = audit("action=read&holder=" + HA)
check([x.get("target") for x in got] == [phase_a[0]["id"]],
      "?action=read&holder=HA: the one read (%s)" % [x.get("target") for x in got])
check(audit("action=holder_lookup&holder=" + HB) == [], "HB was never looked up")
r = call(s, "GET", "/api/v1/audit", token=T["rd_all"])
is_problem(r, 403, what="a reader reads the audit log")
r = call(s, "GET", "/api/v1/audit", token=T["env"])
is_problem(r, 403, what="an issuer reads the audit log")

# --- 3. /metrics -------------------------------------------------------------

def verified(result):
    return 'certsvc_verifications_total{result="%s"}' % result


RESULTS = ["valid", "not_yet_valid", "expired", "suspended", "revoked", "superseded",
           "invalid_signature", "unknown_key", "malformed", "not_found"]
VERIFY_200 = 'certsvc_http_requests_total{route="/api/v1/verify",status="200"}'
ISSUED = "certsvc_licences_issued_total"

good = phase_a[0]
held = phase_a[2]
r = call(s, "POST", "/api/v1/certificates/%s/suspend" % held["id"], {"reason": "metrics"},
         token=T["env"])
is_json(r, 200, "suspend one for the metrics")
m0 = metrics(s)
check(all(verified(x) in m0 for x in RESULTS), "every result has its series: %s" % [
    x for x in RESULTS if verified(x) not in m0])
want = {"valid": 0, "malformed": 0, "not_found": 0, "suspended": 0}


def expect(result, body, ctype=None):
    r = call(s, "POST", "/api/v1/verify", body, ctype=ctype)
    got = (r.doc or {}).get("result")
    check(r.status == 200 and got == result, "verify %s: %s (got %r)" % (result, body if len(
        str(body)) < 60 else str(body)[:60], r))
    want[result] += 1


for _ in range(3):
    expect("valid", good["token"], "text/plain")
expect("valid", {"qr": good["qr_text"]})
for _ in range(2):
    expect("suspended", held["qr_text"], "text/plain")
for body in ("hello", "EL1:!!!"):
    expect("malformed", body, "text/plain")
expect("malformed", {"qr": 5})
expect("malformed", b'{"qr": ', "application/json")
for number in ("NOT-A-NUMBER-1", "NOT-A-NUMBER-2"):
    expect("not_found", {"number": number, "holder_code": HA})
# An issuance and a repeat: one licence issued.
r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AUD-M1", HB), token=T["env"])
is_json(r, 201, "an issuance for the metrics")
r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AUD-M1", HB), token=T["env"])
is_json(r, 200, "its repeat")
total = sum(want.values())
# The request counter is bumped once the answer has gone out (the request's
# completion), so the last answer may arrive just before it: wait for it.
deadline = time.time() + 10
while True:
    m1 = metrics(s)
    if m1.get(VERIFY_200, 0) - m0.get(VERIFY_200, 0) >= total or time.time() > deadline:
        break
    time.sleep(0.05)
for result in RESULTS:
    delta = m1.get(verified(result), 0) - m0.get(verified(result), 0)
    check(delta == want.get(result, 0), "%s grew by %d (expected %d)" % (
        verified(result), delta, want.get(result, 0)))
check(m1.get(VERIFY_200, 0) - m0.get(VERIFY_200, 0) == total,
      "%s grew by %d (expected %d)" % (VERIFY_200, m1.get(VERIFY_200, 0) - m0.get(VERIFY_200, 0),
                                       total))
check(m1.get(ISSUED, 0) - m0.get(ISSUED, 0) == 1, "%s grew by %d (expected 1: the repeat is "
      "not an issuance)" % (ISSUED, m1.get(ISSUED, 0) - m0.get(ISSUED, 0)))

# The default header limit (16 KiB) takes a 12,000-byte header and refuses
# a 20,000-byte one with 431 (libmicrohttpd's answer; the connection ends).
r = call(s, "GET", "/api/v1/types", headers={"X-Pad": "p" * 12000})
check(r.status == 200, "the default server takes a 12,000-byte header (%r)" % r)
r = call(s, "GET", "/api/v1/types", headers={"X-Pad": "p" * 20000})
check(r.status == 431, "the default server refuses a 20,000-byte header with 431 (%r)" % r)

d.server.stop_clean("the server")
d.server = None

# --- 4. limits from a configuration file --------------------------------------

w = Workdir()
issuer = w.client("env", "issuer", "*", ENV, "广东省生态环境厅")
conf = w.write("certsvc.conf", "# non-default limits\nmax_body = 2048\nmax_header = 4096\n"
               "rate_limit = 0\n")
small = Server(w, "--config", conf)


def padded(ref, size):
    """A valid issuance request of exactly size bytes (JSON whitespace
    pads it: only its size differs from one that is issued)."""
    raw = json.dumps(sample_request(T_RAD, ref), ensure_ascii=False).encode()
    assert len(raw) < size, len(raw)
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


r = call(small, "POST", "/api/v1/certificates", padded("LIM-1500", 1500), token=issuer,
         ctype="application/json")
is_json(r, 201, "a 1500-byte issuance under max_body 2048")
r = call(small, "POST", "/api/v1/certificates", padded("LIM-3000", 3000), token=issuer,
         ctype="application/json")
is_problem(r, 413, what="a 3000-byte issuance over max_body 2048")
check((r.doc or {}).get("type") == "https://certsvc.example/problems/content-too-large" and
      "2048" in (r.doc or {}).get("detail", ""),
      "the 413 is content-too-large and names the limit: %s" % r.doc)
r = call(small, "POST", "/api/v1/certificates", padded("LIM-2048", 2048), token=issuer,
         ctype="application/json")
is_json(r, 201, "an issuance of exactly max_body bytes")
r = call(small, "POST", "/api/v1/certificates", padded("LIM-2049", 2049), token=issuer,
         ctype="application/json")
is_problem(r, 413, what="an issuance one byte over max_body")
check(r.ctype == PROBLEM_CT, "the 413 is a problem")
# Chunked, so no Content-Length warns the server: refused once it has grown past the limit.
body = padded("LIM-CHUNKED", 3000)
chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500])
                  for i in range(0, len(body), 500)) + b"0\r\n\r\n"
raw = csraw.request(small.base, "POST", "/api/v1/certificates", [
    ("Authorization", "Bearer " + issuer), ("Content-Type", "application/json"),
    ("Transfer-Encoding", "chunked")], chunks)
check(raw is not None and raw.status == 413 and
      (raw.header("content-type") or "").startswith(PROBLEM_CT),
      "a 3000-byte chunked issuance over max_body 2048: a 413 problem (%r)" % raw)
db = csraw.open_ro(w.db)
refs = sorted(x[0] for x in db.execute("SELECT approval_ref FROM licences"))
db.close()
check(refs == ["LIM-1500", "LIM-2048"], "only the issuances within the limit are stored: %s" % refs)

r = call(small, "GET", "/api/v1/types", headers={"X-Pad": "p" * 1500})
check(r.status == 200, "max_header 4096 takes a 1500-byte header (%r)" % r)
r = call(small, "GET", "/api/v1/types", headers={"X-Pad": "p" * 6000})
check(r.status == 431, "max_header 4096 refuses a 6000-byte header with 431 (%r)" % r)
r = call(small, "GET", "/healthz")
check(r.status == 200, "the server still answers after the refusals (%r)" % r)

# --- 5. the trust list ---------------------------------------------------------

time.sleep(1.1)  # a second key, a second later
w.run("keygen", "--alg", "EdDSA", "--keys", w.keys)
small.stop_clean("the server with small limits")
small = Server(w, "--config", conf)
r = call(small, "GET", "/api/v1/trust-list")
is_json(r, 200, "the trust list")
keys = (r.doc or {}).get("keys", [])
now = datetime.datetime.now(datetime.timezone.utc)
check(len(keys) == 2, "two keys in the trust list (%d)" % len(keys))
for k in keys:
    vf = k.get("valid_from")
    ok = isinstance(vf, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", vf)
    check(ok, "key %s: valid_from is an RFC 3339 time (%r)" % (k.get("kid"), vf))
    if ok:
        t = datetime.datetime.strptime(vf, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        check(now - datetime.timedelta(minutes=10) < t <= now + datetime.timedelta(seconds=5),
              "key %s: valid_from %s is its creation, minutes ago at most" % (k.get("kid"), vf))
    check(k.get("use") == "sig" and k.get("status") in ("active", "verify-only"),
          "key %s: use sig, a status (%s)" % (k.get("kid"), k))
active = [k for k in keys if k.get("status") == "active"]
check(len(active) == 1 and active[0].get("alg") == "EdDSA",
      "the newest key (EdDSA) is the one active: %s" % [(k.get("alg"), k.get("status"))
                                                       for k in keys])
older = [k for k in keys if k.get("alg") == "ES256"]
check(len(older) == 1 and older[0].get("status") == "verify-only",
      "the older key (ES256) is verify-only: %s" % older)
if len(active) == 1 and len(older) == 1:
    check(active[0].get("valid_from", "") > older[0].get("valid_from", "~"),
          "the active key's valid_from is after the older one's (%s, %s)" % (
              active[0].get("valid_from"), older[0].get("valid_from")))
r = call(small, "POST", "/api/v1/certificates", request_for(T_RAD, "LIM-NEWKEY", HA), token=issuer)
is_json(r, 201, "an issuance with the new key")
# The licence and the JWK both write the kid in base64url.
jwk_kid = active[0]["kid"] if active else None
check((r.doc or {}).get("alg") == "EdDSA" and (r.doc or {}).get("kid") == jwk_kid,
      "it is signed by the active key (%s %s, active %s)" % (
          (r.doc or {}).get("alg"), (r.doc or {}).get("kid"), jwk_kid))
small.stop_clean("the server with a second key")

w.cleanup()
d.cleanup()
done()
