"""Refusals (issue 13, item 5).

Item 5, no existence oracle: a licence identifier names its type and its
issuing authority, so the grant is checked on the identifier before any
lookup.  A client without the grant gets the same 403 for a licence that
exists and for one that does not, on every path with an id (the licence,
qr.png, qr.svg, face.svg, face.png; suspend, reinstate, revoke and amend
for an issuer of another authority); a malformed id is still 400 first
(SPEC §2a), and a client with the grant still gets 404 for an unknown id."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, OTHER, T_RAD, Deployment, call, is_json, is_problem,  # noqa: E402
                    licence_id, org_code, request_for)
from cstest import check, done  # noqa: E402

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
for sub in READS:
    # rd_diag reads 放射诊疗许可证 only; health issues them only.
    for who in ("rd_diag", "health"):
        there, absent = get(who, L, sub), get(who, UNKNOWN_ENV, sub)
        what = "%s GET {id}%s of an ungranted type" % (who, sub)
        is_problem(there, 403, what=what + ", licence exists")
        is_problem(absent, 403, what=what + ", licence unknown")
        same_refusal(there, absent, what)
    is_problem(get("rd_diag", MALFORMED, sub), 400, what="a malformed id%s is 400 first" % sub)
    is_problem(get("rd_rad", UNKNOWN_ENV, sub), 404,
               what="a reader granted the type: unknown id%s is 404" % sub)
# An issuer reads only what its own authority issued.
is_problem(get("other", UNKNOWN_ENV), 403, what="other reads an unknown ENV licence")
is_problem(get("other", UNKNOWN_OTHER), 404, what="other reads an unknown licence of its own")

for action in ("suspend", "reinstate", "revoke", "amend"):
    what = "other %s ENV's licence" % action
    there, absent = change("other", L, action), change("other", UNKNOWN_ENV, action)
    is_problem(there, 403, what=what + ", licence exists")
    is_problem(absent, 403, what=what + ", licence unknown")
    same_refusal(there, absent, what)
    is_problem(change("rd_all", UNKNOWN_ENV, action), 403, what="a reader may not %s" % action)
    is_problem(change("other", MALFORMED, action), 400, what="%s a malformed id is 400 first" % action)
    is_problem(change("env", UNKNOWN_ENV, action), 404, what="env %s an unknown licence of its own" % action)
check(call(s, "GET", CERT + L, token=T["admin"]).doc.get("status") == "valid",
      "the refused changes changed nothing")

check(d.stop() == 0, "the server exits 0 after SIGTERM")
d.cleanup()
done()
