"""The public view keeps free-text reasons out (issue 13, item 14).

An issuer's reason for a revocation, a suspension or an amendment is free
text about the holder.  Anonymous verifiers see the kind (吊销/撤销/注销),
the action and its date: POST /api/v1/verify with the QR text, the paper
copy check, and the /v page.  A reader with a grant sees the reason in the
full licence (GET /api/v1/certificates/{id})."""
import functools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, issue, org_code, request_for  # noqa: E402
from cstest import check, done, run_tests  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
REASONS = {"revoke": "以欺骗手段取得 secret-revoke", "suspend": "整改期间暂扣 secret-suspend",
           "amend": "变更备注 secret-amend"}


def licence(i):
    return issue(s, request_for(T_RAD, "PR-%d" % i, org_code(i)), T["env"]).doc or {}


def change(lic, action, body):
    r = call(s, "POST", "/api/v1/certificates/%s/%s" % (lic["id"], action), body, token=T["env"])
    check(r.status in (200, 201), "%s: %r" % (action, r))


revoked, suspended, amended = licence(1), licence(2), licence(3)
change(revoked, "revoke", {"reason": REASONS["revoke"], "kind": "withdrawn"})
change(suspended, "suspend", {"reason": REASONS["suspend"]})
change(amended, "amend", {"approval_ref": "PR-3b", "fields": {"address": "新地址"},
                          "reason": REASONS["amend"]})


def public_view(lic, action, want):
    """What verify, the paper copy check, the /v page and a reader with the
    grant show of a licence after the change action."""
    secret = REASONS[action].encode()
    r = call(s, "POST", "/api/v1/verify", lic["qr_text"], ctype="text/plain")
    cert = (r.doc or {}).get("certificate") or {}
    detail = cert.get("status_detail") or {}
    check((r.doc or {}).get("result") == want and detail.get("at"),
          "%s: verify says %s with the date of the change: %s" % (action, want, detail))
    check(secret not in r.body and "reason" not in detail,
          "%s: the verification carries no reason: %s" % (action, detail))
    if action == "revoke":
        check(detail.get("kind") == "withdrawn", "the kind of revocation is public: %s" % detail)
    paper = call(s, "POST", "/api/v1/verify", {"id": lic["id"], "holder_code": lic["holder"]["code"]})
    check((paper.doc or {}).get("result") == want and secret not in paper.body,
          "%s: the paper copy check carries no reason: %s" % (action, paper.body[:300]))
    page = call(s, "GET", "/v/" + lic["qr_text"].rsplit("/", 1)[1])
    check(page.status == 200 and secret not in page.body,
          "%s: the /v page shows no reason" % action)
    if action == "revoke":
        check("撤销".encode() in page.body, "the /v page shows the kind (撤销)")
    full = call(s, "GET", "/api/v1/certificates/" + lic["id"], token=T["rd_rad"])
    check(((full.doc or {}).get("status_detail") or {}).get("reason") == REASONS[action],
          "%s: a reader with the grant sees the reason: %s" % (action, full.body[:300]))


run_tests([("public_view_after_" + action, functools.partial(public_view, lic, action, want))
           for lic, action, want in ((revoked, "revoke", "revoked"), (suspended, "suspend", "suspended"),
                                     (amended, "amend", "superseded"))])

check(d.stop() == 0, "the server exits 0 after SIGTERM")
d.cleanup()
done()
