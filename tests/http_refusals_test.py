"""Refusals (issue 13, items 5 and 10).

Item 5, no existence oracle: a licence identifier names its type and its
issuing authority, so the grant is checked on the identifier before any
lookup.  A client without the grant gets the same 403 for a licence that
exists and for one that does not, on every path with an id (the licence,
qr.png, qr.svg, face.svg, face.png; suspend, reinstate, revoke and amend
for an issuer of another authority); a malformed id is still 400 first
(SPEC §2a), and a client with the grant still gets 404 for an unknown id.

Item 10, refusals leave a trace: each of those 403s, and an issuance or a
bundle under an authority the client does not hold, appends one audit
record with result "denied" (action, target, client), which
GET /api/v1/audit shows and filters with ?result=denied; every other
record says result "ok"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, HEALTH, OTHER, T_DIAG, T_RAD, Deployment, audit_records, call,  # noqa: E402
                    is_json, is_problem, licence_id, org_code, request_for)
from cstest import check, done, run_tests, wait_for  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens

r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "RF-1", org_code(1)), token=T["env"])
is_json(r, 201, "setup: env issues a 辐射安全许可证")
L = (r.doc or {}).get("id", "?")
# Well-formed identifiers no licence has: one under ENV, one under OTHER.
UNKNOWN_ENV = licence_id(T_RAD, ENV, "ZZZZZZ")
UNKNOWN_OTHER = licence_id(T_RAD, OTHER, "ZZZZZZ")
MALFORMED = UNKNOWN_ENV[:-1] + ("0" if UNKNOWN_ENV[-1] != "0" else "1")
READS = ["", "/qr.png", "/qr.svg", "/face.svg", "/face.png"]
CERT = "/api/v1/certificates/"


def get(who, lid, sub=""):
    return call(s, "GET", CERT + lid + sub, token=T[who])


def change(who, lid, action):
    body = {"approval_ref": "RF-AM-%s" % who, "fields": {"address": "新地址"}} \
        if action == "amend" else {"reason": "不属本机关"}
    return call(s, "POST", "%s%s/%s" % (CERT, lid, action), body, token=T[who])


def same_refusal(a, b, what):
    """Two 403s that say the same, but for the id they name."""
    da = ((a.doc or {}).get("detail") or "").replace(L, "ID")
    db = ((b.doc or {}).get("detail") or "").replace(UNKNOWN_ENV, "ID")
    check(da == db, "%s: the same refusal for a licence that exists and one that does not "
          "(%r, %r)" % (what, da, db))


# --- item 5: 403 either way ---------------------------------------------------
refusals = []   # (client, action, target) of each 403, for item 10


def reads_refused():
    """403 for a read whether or not the licence exists."""
    for sub in READS:
        # rd_diag reads 放射诊疗许可证 only; health issues them only.
        for who in ("rd_diag", "health"):
            there, absent = get(who, L, sub), get(who, UNKNOWN_ENV, sub)
            what = "%s GET {id}%s of an ungranted type" % (who, sub)
            is_problem(there, 403, what=what + ", licence exists")
            is_problem(absent, 403, what=what + ", licence unknown")
            same_refusal(there, absent, what)
            refusals.extend([(who, "read", L), (who, "read", UNKNOWN_ENV)])
        is_problem(get("rd_diag", MALFORMED, sub), 400, what="a malformed id%s is 400 first" % sub)
        is_problem(get("rd_rad", UNKNOWN_ENV, sub), 404,
                   what="a reader granted the type: unknown id%s is 404" % sub)
    # An issuer reads only what its own authority issued.
    is_problem(get("other", UNKNOWN_ENV), 403, what="other reads an unknown ENV licence")
    refusals.append(("other", "read", UNKNOWN_ENV))
    is_problem(get("other", UNKNOWN_OTHER), 404, what="other reads an unknown licence of its own")


def changes_refused():
    """403 for a change whether or not the licence exists."""
    for action in ("suspend", "reinstate", "revoke", "amend"):
        what = "other %s ENV's licence" % action
        there, absent = change("other", L, action), change("other", UNKNOWN_ENV, action)
        is_problem(there, 403, what=what + ", licence exists")
        is_problem(absent, 403, what=what + ", licence unknown")
        same_refusal(there, absent, what)
        refusals.extend([("other", action, L), ("other", action, UNKNOWN_ENV)])
        is_problem(change("rd_all", UNKNOWN_ENV, action), 403, what="a reader may not %s" % action)
        refusals.append(("rd_all", action, UNKNOWN_ENV))
        is_problem(change("other", MALFORMED, action), 400,
                   what="%s a malformed id is 400 first" % action)
        is_problem(change("env", UNKNOWN_ENV, action), 404,
                   what="env %s an unknown licence of its own" % action)
    check(call(s, "GET", CERT + L, token=T["admin"]).doc.get("status") == "valid",
          "the refused changes changed nothing")


# --- item 10: issuance under another authority, and the audit log ------------
def issues_refused():
    """403 for issuing under another authority or an ungranted type."""
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "RF-2", issuer=OTHER),
             token=T["env"])
    is_problem(r, 403, what="env issues under OTHER")
    refusals.append(("env", "issue", T_RAD + "." + OTHER))
    r = call(s, "POST", "/api/v1/certificates", request_for(T_DIAG, "RF-3", issuer=HEALTH),
             token=T["env_rad"])
    is_problem(r, 403, what="env_rad issues a type it is not granted")
    refusals.append(("env_rad", "issue", T_DIAG + "." + HEALTH))
    bundle = {"approval_ref": "RF-B", "certificates": [
        request_for(T_RAD, "-", org_code(2)), request_for(T_DIAG, "-", org_code(2), issuer=HEALTH)]}
    for c in bundle["certificates"]:
        del c["approval_ref"]
    is_problem(call(s, "POST", "/api/v1/bundles", bundle, token=T["env"]), 403,
               what="env issues a bundle with a member under HEALTH")
    refusals.append(("env", "issue_bundle", T_DIAG + "." + HEALTH))


def audit(query):
    return audit_records(s, T["admin"], query)


def audit_log():
    """One denied audit record per refusal, and ?result= filters."""
    wait_for(lambda: len(audit("result=denied")) >= len(refusals), timeout=5)
    denied = audit("result=denied")
    got = sorted((x.get("client"), x.get("action"), x.get("target")) for x in denied)
    check(got == sorted(refusals), "one denied record per refusal:\n  want %s\n  got  %s" % (
        sorted(refusals), got))
    check(all(x.get("result") == "denied" and x.get("request_id") for x in denied),
          "each denied record says result denied and carries its request id")
    everything = audit("")
    check(everything and all(x.get("result") in ("ok", "denied") for x in everything),
          "every record has a result: %s" % [x.get("result") for x in everything][:20])
    ok = audit("result=ok")
    check(len(ok) + len(denied) == len(everything) and all(x.get("result") == "ok" for x in ok),
          "?result=ok is everything else (%d + %d of %d)" % (len(ok), len(denied), len(everything)))
    check(any(x.get("action") == "issue" and x.get("target") == L for x in ok),
          "the issuance of L is an ok record")
    mine = audit("result=denied&client=other&action=suspend")
    check(sorted(x.get("target") for x in mine) == sorted([L, UNKNOWN_ENV]),
          "?result=denied combines with client and action: %s" % mine)
    check([x.get("target") for x in audit("result=denied&target=" + UNKNOWN_ENV)].count(
        UNKNOWN_ENV) == sum(1 for x in refusals if x[2] == UNKNOWN_ENV),
        "?result=denied combines with target")
    is_problem(call(s, "GET", "/api/v1/audit?result=refused", token=T["admin"]), 400, "result",
               what="?result= neither ok nor denied")


run_tests([(f.__name__, f) for f in (reads_refused, changes_refused, issues_refused, audit_log)])

check(d.stop() == 0, "the server exits 0 after SIGTERM")
d.cleanup()
done()
