"""The role × endpoint × grant matrix of SPEC §5, table-driven: every cell
is asserted as allowed (2xx), 401, 403, or — for a holder lookup, which
SPEC §5 allows a reader only — which licences the reader's grants let
through.  A refused write leaves nothing behind: no licence stored, no
status changed.

The principals without a valid token fail about a hundred times from one
address in a few seconds: the server runs without the failure budget
(--auth-failures 0), which tests/abuse_test.py covers."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, HEALTH, OTHER, T_DIAG, T_PDP, T_RAD, Deployment, call,  # noqa: E402
                    is_problem, issue, org_code, request_for)
from cstest import SOURCE, check, done  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0", "--auth-failures", "0")
T = d.tokens

ISSUERS = ["env", "env_rad", "onewin", "health", "other"]
READERS = ["rd_rad", "rd_diag", "rd_all"]
NOBODY = ["none", "bad", "gone"]   # no token, an unknown one, a revoked client's
PRINCIPALS = ISSUERS + READERS + ["admin"] + NOBODY
EVERYONE = set(PRINCIPALS)


def token(p):
    return {"none": None, "bad": "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}.get(p, T.get(p))


H = org_code(42)   # one holder with a licence of every kind below
seq = [0]


def fresh(type_code, who, issuer=None):
    """A new licence of type_code issued by client who."""
    seq[0] += 1
    r = issue(s, request_for(type_code, "AZ-FRESH-%d" % seq[0], H, issuer=issuer), T[who],
              what="setup: %s issues %s" % (who, type_code))
    if r.status != 201 or not r.doc:
        return {"id": "?", "qr_text": ""}
    return r.doc


L = {
    "rad": fresh(T_RAD, "env"),                 # ENV's radiation safety licence
    "pdp": fresh(T_PDP, "env"),                 # ENV's pollutant permit (a type env_rad lacks)
    "diag": fresh(T_DIAG, "health"),            # HEALTH's radiation diagnosis licence
    "other": fresh(T_RAD, "other", OTHER),      # the same type under another authority
}

with open(os.path.join(SOURCE, "docs", "examples", "bundle.json")) as f:
    BUNDLE = json.load(f)


def status_of(lid):
    return (call(s, "GET", "/api/v1/certificates/" + lid, token=T["admin"]).doc or {}).get("status")


# --- the cells ---------------------------------------------------------------
# Each row: (what, call(principal) -> Response, principals allowed).  A
# principal not allowed gets 401 when it is one of NOBODY, else 403.

def issue_cell(type_code, issuer=None):
    def run(p):
        seq[0] += 1
        holder = org_code(900 + seq[0])
        req = request_for(type_code, "AZ-%s-%d" % (p, seq[0]), holder, issuer=issuer)
        if "number" in req:  # a given number is one licence's: the holder's own
            req["number"] = holder + "001P"
        return call(s, "POST", "/api/v1/certificates", req, token=token(p))
    return run


def bundle_cell(p):
    seq[0] += 1
    return call(s, "POST", "/api/v1/bundles", dict(BUNDLE, approval_ref="AZ-B-%d" % seq[0]), token=token(p))


def read_cell(which, suffix=""):
    return lambda p: call(s, "GET", "/api/v1/certificates/%s%s" % (L[which]["id"], suffix), token=token(p))


def transition_cell(which, action, allowed):
    """On its own fresh licence for each allowed principal (the change is
    real); on the shared licence for the others (which must not change)."""
    type_code, owner, issuer = {"rad": (T_RAD, "env", None), "diag": (T_DIAG, "health", None)}[which]

    def run(p):
        target = L[which]
        if p in allowed:
            target = fresh(type_code, owner, issuer)
            if action == "reinstate":
                call(s, "POST", "/api/v1/certificates/%s/suspend" % target["id"], {"reason": "先暂扣"},
                     token=T[owner])
        seq[0] += 1
        body = {"reason": "授权矩阵 %s" % p}
        if action == "amend":
            body = {"approval_ref": "AZ-AM-%d" % seq[0], "fields": {"address": "新地址 %d" % seq[0]}}
        if action == "revoke":
            body["kind"] = "withdrawn"
        return call(s, "POST", "/api/v1/certificates/%s/%s" % (target["id"], action), body, token=token(p))
    return run


def audit_cell(p):
    return call(s, "GET", "/api/v1/audit?limit=5", token=token(p))


ISSUE_RAD = {"env", "env_rad", "onewin"}
READ_RAD = {"env", "env_rad", "onewin", "rd_rad", "rd_all", "admin"}
READ_PDP = {"env", "rd_all", "admin"}
READ_DIAG = {"health", "onewin", "rd_diag", "rd_all", "admin"}
READ_OTHER = {"other", "rd_rad", "rd_all", "admin"}
CHANGE_RAD = {"env", "env_rad", "onewin"}
CHANGE_DIAG = {"health", "onewin"}

MATRIX = [
    ("issue 辐射安全许可证 for ENV", issue_cell(T_RAD, ENV), ISSUE_RAD),
    ("issue 辐射安全许可证, authority implied", issue_cell(T_RAD), ISSUE_RAD | {"other"}),
    ("issue 辐射安全许可证 naming OTHER", issue_cell(T_RAD, OTHER), {"other"}),
    ("issue 排污许可证", issue_cell(T_PDP), {"env"}),
    ("issue 放射诊疗许可证 for HEALTH", issue_cell(T_DIAG, HEALTH), {"health", "onewin"}),
    ("issue a two-department bundle", bundle_cell, {"onewin"}),
    ("read ENV's 辐射安全许可证", read_cell("rad"), READ_RAD),
    ("qr.png of ENV's 辐射安全许可证", read_cell("rad", "/qr.png"), READ_RAD),
    ("qr.svg of ENV's 辐射安全许可证", read_cell("rad", "/qr.svg"), READ_RAD),
    ("face.svg of ENV's 辐射安全许可证", read_cell("rad", "/face.svg"), READ_RAD),
    ("face.png of ENV's 辐射安全许可证", read_cell("rad", "/face.png"), READ_RAD),
    ("read ENV's 排污许可证", read_cell("pdp"), READ_PDP),
    ("face.svg of ENV's 排污许可证", read_cell("pdp", "/face.svg"), READ_PDP),
    ("read HEALTH's 放射诊疗许可证", read_cell("diag"), READ_DIAG),
    ("qr.png of HEALTH's 放射诊疗许可证", read_cell("diag", "/qr.png"), READ_DIAG),
    ("read OTHER's 辐射安全许可证", read_cell("other"), READ_OTHER),
    ("qr.svg of OTHER's 辐射安全许可证", read_cell("other", "/qr.svg"), READ_OTHER),
    ("suspend ENV's licence", transition_cell("rad", "suspend", CHANGE_RAD), CHANGE_RAD),
    ("reinstate ENV's licence", transition_cell("rad", "reinstate", CHANGE_RAD), CHANGE_RAD),
    ("revoke ENV's licence", transition_cell("rad", "revoke", CHANGE_RAD), CHANGE_RAD),
    ("amend ENV's licence", transition_cell("rad", "amend", CHANGE_RAD), CHANGE_RAD),
    ("suspend HEALTH's licence", transition_cell("diag", "suspend", CHANGE_DIAG), CHANGE_DIAG),
    ("revoke HEALTH's licence", transition_cell("diag", "revoke", CHANGE_DIAG), CHANGE_DIAG),
    ("amend HEALTH's licence", transition_cell("diag", "amend", CHANGE_DIAG), CHANGE_DIAG),
    ("read the audit log", audit_cell, {"admin"}),
    ("verify a QR text", lambda p: call(s, "POST", "/api/v1/verify", L["rad"]["qr_text"], token=token(p),
                                        ctype="text/plain"), EVERYONE),
    ("the trust list", lambda p: call(s, "GET", "/api/v1/trust-list", token=token(p)), EVERYONE),
    ("the status list", lambda p: call(s, "GET", "/api/v1/status-list", token=token(p)), EVERYONE),
    ("the catalog", lambda p: call(s, "GET", "/api/v1/types", token=token(p)), EVERYONE),
    ("the verification page", lambda p: call(s, "GET", "/v/" + L["rad"]["qr_text"].rsplit("/", 1)[1],
                                             token=token(p)), EVERYONE),
    ("/healthz", lambda p: call(s, "GET", "/healthz", token=token(p)), EVERYONE),
    ("/metrics", lambda p: call(s, "GET", "/metrics", token=token(p)), EVERYONE),
]

cells = 0
for what, run, allowed in MATRIX:
    before = d.count()
    for p in PRINCIPALS:
        r = run(p)
        cells += 1
        if p in allowed:
            check(200 <= r.status < 300, "%s by %s: allowed (got %r)" % (what, p, r))
        else:
            want = 401 if p in NOBODY else 403
            is_problem(r, want, what="%s by %s" % (what, p))
    if what.startswith("issue"):
        issued = len(allowed & set(PRINCIPALS)) * (2 if "bundle" in what else 1)
        check(d.count() == before + issued, "%s: only the allowed issuances stored (%d → %d, %d allowed)"
              % (what, before, d.count(), issued))

# The shared licences were refused every change.
for which in ("rad", "diag"):
    check(status_of(L[which]["id"]) == "valid", "%s: every refused transition left it valid" % which)

# --- holder lookups: a reader only (SPEC §5), filtered by its grants --------------
# An admin reads licences and the audit log but does not look up holders:
# 403 like an issuer.

VISIBLE = {
    "rd_rad": {"rad", "other"},
    "rd_diag": {"diag"},
    "rd_all": {"rad", "pdp", "diag", "other"},
}
for p in PRINCIPALS:
    r = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=token(p),
             headers={"X-Purpose": "授权矩阵"})
    cells += 1
    if p in VISIBLE:
        got = {c["id"] for c in (r.doc or {}).get("certificates", [])}
        want = {L[k]["id"] for k in VISIBLE[p]}
        check(r.status == 200 and want <= got, "holder lookup by %s: sees %s" % (p, sorted(VISIBLE[p])))
        hidden = {L[k]["id"] for k in set(L) - VISIBLE[p]}
        check(not (got & hidden), "holder lookup by %s: licences outside its grants are filtered out" % p)
        types = {c["type"] for c in (r.doc or {}).get("certificates", [])}
        allowed_types = {"rd_rad": {T_RAD}, "rd_diag": {T_DIAG}}.get(p)
        if allowed_types:
            check(types <= allowed_types, "holder lookup by %s: only granted types (%s)" % (p, types))
    else:
        is_problem(r, 401 if p in NOBODY else 403, what="holder lookup by %s" % p)
    for typ in (T_RAD, T_DIAG):
        r = call(s, "GET", "/api/v1/holders/%s/certificates?type=%s" % (H, typ), token=token(p),
                 headers={"X-Purpose": "授权矩阵"})
        cells += 1
        if p in VISIBLE:
            types = {c["type"] for c in (r.doc or {}).get("certificates", [])}
            check(r.status == 200 and types <= {typ}, "holder lookup ?type= by %s stays within it" % p)
        else:
            is_problem(r, 401 if p in NOBODY else 403, what="holder lookup ?type= by %s" % p)
check(set(VISIBLE) == set(READERS), "the holder lookup is asserted for every reader, allowed to no one else")

print("%d matrix cells checked" % cells)
d.cleanup()
done()
