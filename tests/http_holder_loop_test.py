"""The holder in the loop (SPEC §10, issue 19): the portal role,
presentations (亮证码) with their /p/ page and QR image, use
authorisations (用证码) redeemed with X-Auth-Code, delegations
(X-Acting-For) and the holder's own record (用证记录).

A presentation's QR PNG is decoded with zbarimg; its text opens the page,
which lists the chosen licences with their status and time left; after
its ttl the same text shows the expired page (no licence) and the API
answers presentation_expired.  An authorisation lets a reader without a
grant read exactly its licences, as many times as its uses, then 403; a
typo is 400 from the check character; a withdrawal counts at once; the
holder's record lists each use with its purpose.  Guessing codes from one
address is held by the failure budget (429).  Bad input is 422 naming the
member, another holder's licence 403.  The holder's record also lists a
partner agency's reads with its grant, its lookups and the copies it makes;
presentation verifications have their own metric labels."""
import base64
import hashlib
import os
import re
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (T_DIAG, T_RAD, Deployment, call, is_json, is_problem,  # noqa: E402
                    issue, metrics, org_code, request_for, verify)
from cstest import check, done, run_tests, zbar  # noqa: E402

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

d = Deployment()
T = d.tokens
T["portal"] = d.add_client("portal", "portal", "*")
T["rd_none"] = d.add_client("rd_none", "reader", T_DIAG)
s = d.start("--rate-limit", "0")
TMP = tempfile.mkdtemp(prefix="certsvc-holder-")
H = org_code(901)
OTHER = org_code(902)
AGENT = org_code(903)
RAD = issue(s, request_for(T_RAD, "HL-1", H), T["env"]).doc or {}
RAD2 = issue(s, request_for(T_RAD, "HL-2", H), T["env"]).doc or {}
DIAG = issue(s, request_for(T_DIAG, "HL-3", H), T["health"]).doc or {}
FOREIGN = issue(s, request_for(T_RAD, "HL-4", OTHER), T["env"]).doc or {}


def post(path, body, token=None, headers=None):
    return call(s, "POST", path, body, token=token or T["portal"], headers=headers)


def present(body, holder=H, headers=None):
    return post("/api/v1/holders/%s/presentations" % holder, body, headers=headers)


def authorise(body, holder=H, headers=None):
    return post("/api/v1/holders/%s/authorisations" % holder, body, headers=headers)


def check_char(s9):
    total, w = 0, 1
    for c in s9:
        total = (total + ALPHABET.index(c) * w) % 31
        w = w * 3 % 31
    return ALPHABET[(31 - total) % 31]


def portal_role():
    r = call(s, "GET", "/api/v1/me", token=T["portal"])
    check(r.status == 200 and (r.doc or {}).get("role") == "portal" and
          (r.doc or {}).get("warnings") == [], "a portal client: %r" % r)
    r = present({"licences": [RAD["id"]]}, headers=None)
    check(r.status == 201, "the portal creates a presentation: %r" % r)
    r = post("/api/v1/holders/%s/presentations" % H, {"licences": [RAD["id"]]},
             token=T["rd_all"])
    is_problem(r, 403, what="a reader may not create a presentation")


def presentation_round_trip():
    r = present({"licences": [RAD["id"], DIAG["id"]], "ttl": 3})
    is_json(r, 201, "presentation")
    p = r.doc or {}
    code = p.get("code", "")
    check(set(p) == {"code", "qr_text", "expires_at"}, "presentation answer: %s" % p)
    check(re.fullmatch(r"[A-Za-z0-9_-]{22,}", code) and len(code) * 6 >= 128,
          "the code is >= 128 bits of base64url: %r" % code)
    check(p.get("qr_text") == s.base + "/p/" + code or p.get("qr_text", "").endswith("/p/" + code),
          "qr_text is {public_url}/p/{code}: %s" % p.get("qr_text"))
    img = call(s, "GET", "/api/v1/holders/%s/presentations/%s/qr.png" % (H, code),
               token=T["portal"])
    check(img.status == 200 and img.headers.get("content-type") == "image/png",
          "the presentation's QR image: %r" % img)
    path = os.path.join(TMP, "p.png")
    with open(path, "wb") as f:
        f.write(img.body)
    text = zbar(path)
    check(text == p.get("qr_text"), "zbarimg reads the QR text from the PNG: %r" % text)
    page_path = "/p/" + (text or "").rsplit("/p/", 1)[-1]
    pg = call(s, "GET", page_path)
    html = pg.body.decode()
    check(pg.status == 200 and "text/html" in pg.headers.get("content-type", ""),
          "the /p/ page: %r" % pg)
    check(RAD.get("number", "?") in html and DIAG.get("number", "?") in html and
          'data-status="valid"' in html and "data-seconds-left" in html and
          FOREIGN.get("number", "?") not in html and RAD2.get("number", "?") not in html,
          "the page shows the chosen licences, their status and the time left")
    # One inline script (the time left counting down), allowed by its
    # hash: the CSP names exactly the SHA-256 of what the page embeds.
    csp = pg.headers.get("content-security-policy", "")
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    want = "'sha256-%s'" % base64.b64encode(
        hashlib.sha256(scripts[0].encode()).digest()).decode() if len(scripts) == 1 else None
    check(html.count("<script") == 1 and want is not None and
          ("script-src %s;" % want) in csp and "unsafe-inline'; form" in csp and
          "script-src 'unsafe" not in csp and "src=" not in html,
          "one script, allowed by its hash (%s)" % csp)
    check("http://" not in html.replace(s.base, "") and "default-src 'none'" in csp,
          "no outside assets")
    pasted = call(s, "GET", "/v?qr=" + urllib.parse.quote(text or "", safe=""))
    check(pasted.status == 200 and 'data-result="presentation"' in pasted.body.decode() and
          RAD.get("number", "?") in pasted.body.decode(),
          "the text pasted into /v shows the presentation page")
    v = verify(s, text)
    check(v.get("result") == "presentation" and
          sorted(c.get("id") for c in v.get("certificates", [])) ==
          sorted([RAD["id"], DIAG["id"]]) and
          all(c.get("status") == "valid" for c in v.get("certificates", [])),
          "verify answers the presentation: %s" % v)
    deadline = time.time() + 30
    while time.time() < deadline and verify(s, text).get("result") == "presentation":
        time.sleep(0.5)
    v = verify(s, text)
    check(v.get("result") == "presentation_expired" and "certificates" not in v,
          "after ttl: presentation_expired, no licences: %s" % v)
    pg = call(s, "GET", page_path).body.decode()
    check("presentation_expired" in pg and RAD.get("number", "?") not in pg and
          (RAD.get("holder") or {}).get("name", "?") not in pg,
          "after ttl the page says expired and shows no licence")
    img = call(s, "GET", "/api/v1/holders/%s/presentations/%s/qr.png" % (H, code),
               token=T["portal"])
    is_problem(img, 404, what="the QR image of an expired presentation")
    v = verify(s, p.get("qr_text", "").rsplit("/p/", 1)[0] + "/p/" + "A" * 24)
    check(v.get("result") == "not_found", "an unknown code: not_found: %s" % v)
    log = open(s.log_path, encoding="utf-8", errors="replace").read()
    check(code not in log, "the presentation code is never logged")


def presentation_bad_input():
    r = present({"licences": [RAD["id"], "1.2.156.3005.2.nonsense"]})
    is_problem(r, 422, "licences.1", "a malformed licence id")
    unknown = RAD["id"].rsplit(".", 2)[0] + ".009.X"
    r = present({"licences": [unknown]})
    is_problem(r, 422, "licences.0", "an unknown licence")
    r = present({"licences": [RAD["id"]], "ttl": 301})
    is_problem(r, 422, "ttl", "ttl over 300")
    r = present({"licences": [FOREIGN["id"]]})
    is_problem(r, 403, what="another holder's licence")
    r = present({"licences": "all"}, holder=H[:-1] + ("0" if H[-1] != "0" else "1"))
    is_problem(r, 422, "code", "a holder code failing its check")
    r = present({"licences": "all"})
    check(r.status == 201, "all of the holder's licences: %r" % r)
    v = verify(s, (r.doc or {}).get("qr_text", ""))
    check(sorted(c["id"] for c in v.get("certificates", [])) ==
          sorted([RAD["id"], RAD2["id"], DIAG["id"]]), "all: the holder's three: %s" % v)


def authorisation():
    r = authorise({"purpose": "企业开办核验", "service_item": "11440000MB2C-001",
                   "licences": [RAD["id"]], "uses": 2})
    is_json(r, 201, "authorisation")
    a = r.doc or {}
    code = a.get("auth_code", "")
    check(len(code) == 10 and all(c in ALPHABET for c in code) and
          check_char(code[:9]) == code[9], "a 10-character code with its check: %r" % code)
    hdr = {"X-Auth-Code": code}
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"])
    is_problem(r, 403, what="without the code, no grant")
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"], headers=hdr)
    check(r.status == 200 and (r.doc or {}).get("id") == RAD["id"],
          "with the code the reader reads the licence: %r" % r)
    r = call(s, "GET", "/api/v1/certificates/" + RAD2["id"], token=T["rd_none"], headers=hdr)
    is_problem(r, 403, what="a licence the code does not cover")
    r = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_none"], headers=hdr)
    check(r.status == 200 and [c["id"] for c in (r.doc or {}).get("certificates", [])] ==
          [RAD["id"]], "the holder lookup shows exactly the authorised licence: %r" % r)
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"], headers=hdr)
    is_problem(r, 403, what="the uses are spent")
    typo = code[:3] + ALPHABET[(ALPHABET.index(code[3]) + 1) % 31] + code[4:]
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"],
             headers={"X-Auth-Code": typo})
    is_problem(r, 400, what="a typo is caught by the check character")
    # Withdrawal works at once.
    r = authorise({"purpose": "年检", "licences": {"types": [T_RAD]}, "uses": 5})
    code2 = (r.doc or {}).get("auth_code", "")
    r = call(s, "GET", "/api/v1/certificates/" + RAD2["id"], token=T["rd_none"],
             headers={"X-Auth-Code": code2})
    check(r.status == 200, "a types authorisation covers the type: %r" % r)
    r = call(s, "DELETE", "/api/v1/holders/%s/authorisations/%s" % (H, code2),
             token=T["portal"])
    check(r.status == 204, "withdrawn: %r" % r)
    r = call(s, "GET", "/api/v1/certificates/" + RAD2["id"], token=T["rd_none"],
             headers={"X-Auth-Code": code2})
    is_problem(r, 403, what="a withdrawn code")
    # The holder's record: each use with its purpose, newest first.
    r = call(s, "GET", "/api/v1/holders/%s/usage?limit=2" % H, token=T["portal"])
    is_json(r, 200, "usage")
    u = r.doc or {}
    check(len(u.get("usage", [])) == 2 and u.get("next") is not None and
          u["usage"][0].get("purpose") == "年检" and
          u["usage"][0].get("what") == "authorised_read", "usage page 1: %s" % u)
    r = call(s, "GET", "/api/v1/holders/%s/usage?limit=500&cursor=%s" % (H, u.get("next")),
             token=T["portal"])
    rest = (r.doc or {}).get("usage", [])
    purposes = [x.get("purpose") for x in u["usage"] + rest if x.get("what") == "authorised_read"]
    check(purposes == ["年检", "企业开办核验", "企业开办核验"] and
          any(x.get("what") == "presentation_shown" for x in rest),
          "the record: the three reads with their purpose, newest first, and the "
          "presentations: %s" % (u["usage"] + rest))
    check(all("remote" not in x and "auth_code" not in x for x in u["usage"] + rest),
          "no addresses or codes in the record")
    r = authorise({"purpose": "x", "licences": [RAD["id"]], "expires_in": 7 * 86400 + 1})
    is_problem(r, 422, "expires_in", "expires_in over 7 days")
    r = authorise({"purpose": "x", "licences": [FOREIGN["id"]]})
    is_problem(r, 403, what="an authorisation for another holder's licence")
    r = authorise({"licences": [RAD["id"]]})
    is_problem(r, 422, "purpose", "no purpose")


def authorisation_bad_input():
    unknown = RAD["id"].rsplit(".", 2)[0] + ".009.X"
    r = authorise({"purpose": "x", "licences": [RAD["id"], unknown]})
    is_problem(r, 422, "licences.1", "an authorisation for an unknown licence")
    r = authorise({"purpose": "x", "licences": ["1.2.156.3005.2.nonsense"]})
    is_problem(r, 422, "licences.0", "an authorisation for a malformed licence id")
    r = authorise({"purpose": "x", "licences": "all"}, holder=H[:-1] + ("0" if H[-1] != "0" else "1"))
    is_problem(r, 422, "code", "an authorisation for a holder code failing its check")
    r = call(s, "GET", "/api/v1/holders/%s/usage" % (H[:-1] + ("0" if H[-1] != "0" else "1")),
             token=T["portal"])
    is_problem(r, 422, "code", "the record of a holder code failing its check")
    r = call(s, "GET", "/api/v1/holders/%s/usage" % H, token=T["rd_all"])
    is_problem(r, 403, what="a reader may not read the holder's record")
    r = call(s, "GET", "/api/v1/holders/%s/usage?cursor=x" % H, token=T["portal"])
    is_problem(r, 400, "cursor", "a cursor that is not a number")


def whole_record():
    """Every line of the holder's record, following next."""
    lines, cursor = [], None
    for _ in range(50):
        r = call(s, "GET", "/api/v1/holders/%s/usage?limit=3%s" %
                 (H, "&cursor=" + cursor if cursor else ""), token=T["portal"])
        is_json(r, 200, "usage page")
        lines += (r.doc or {}).get("usage", [])
        cursor = (r.doc or {}).get("next")
        if not cursor:
            break
    return lines


def partner_usage():
    """Issue 19's 用证记录 holds every use: a partner agency's read with its
    grant, its holder lookup and the annotated copy it makes are listed,
    newest first, with who, what and the purpose; reads made with a use
    authorisation are listed once (as authorised_read), and presentations
    name the licences they showed."""
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_rad"])
    check(r.status == 200, "a partner reads with its grant: %r" % r)
    r = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_rad"],
             headers={"X-Purpose": "项目审批核验", "X-Service-Item": "SI-7"})
    check(r.status == 200 and len((r.doc or {}).get("certificates", [])) == 2,
          "a partner looks the holder up: %r" % r)
    r = call(s, "POST", "/api/v1/certificates/%s/copies" % RAD["id"],
             {"purpose": "招投标", "used_by": {"name": "某招标代理", "code": AGENT}},
             token=T["rd_rad"])
    is_json(r, 201, "copy")
    copy_id = (r.doc or {}).get("copy_id")
    lines = whole_record()
    top = lines[:3]
    check([x.get("what") for x in top] == ["copy", "holder_lookup", "read"] and
          all(x.get("client") == "rd_rad" for x in top),
          "the newest three uses are the partner's, newest first: %s" % top)
    check(top[0].get("purpose") == "招投标" and top[0].get("copy_id") == copy_id and
          top[0].get("licences") == [RAD["id"]], "the copy line: %s" % top[0])
    check(top[1].get("purpose") == "项目审批核验" and top[1].get("service_item") == "SI-7" and
          top[1].get("count") == 2, "the lookup line: %s" % top[1])
    check(top[2].get("licences") == [RAD["id"]], "the read line: %s" % top[2])
    ats = [x.get("at") for x in lines]
    check(ats == sorted(ats, reverse=True), "newest first across pages: %s" % ats)
    authorised = [x.get("purpose") for x in lines if x.get("what") == "authorised_read"]
    plain = [x for x in lines if x.get("what") in ("read", "holder_lookup")]
    check(authorised == ["年检", "企业开办核验", "企业开办核验"] and len(plain) == 2,
          "reads with an authorisation code listed once each: %s" % lines)
    check(any(x.get("what") == "presentation_shown" and
              sorted(x.get("licences", [])) == sorted([RAD["id"], DIAG["id"]])
              for x in lines), "a presentation names the licences shown: %s" % lines)
    check(all(set(x) <= {"at", "what", "client", "purpose", "service_item",
                         "authorisation_id", "licences", "copy_id", "count"} for x in lines),
          "no addresses, codes or request ids in the record")


def verify_metrics():
    """Presentation verifications have their own labels, not "other"."""
    def label(m, res):
        return m.get('certsvc_verifications_total{result="%s"}' % res, 0)
    live = (present({"licences": [RAD["id"]], "ttl": 300}).doc or {}).get("qr_text", "")
    short = (present({"licences": [RAD["id"]], "ttl": 1}).doc or {}).get("qr_text", "")
    m0 = metrics(s)
    check(verify(s, live).get("result") == "presentation", "a live presentation verifies")
    m1 = metrics(s)
    check(label(m1, "presentation") == label(m0, "presentation") + 1 and
          label(m1, "other") == label(m0, "other"),
          "counted as presentation: %s -> %s" % (label(m0, "presentation"),
                                                  label(m1, "presentation")))
    deadline = time.time() + 30
    while time.time() < deadline and verify(s, short).get("result") == "presentation":
        time.sleep(0.3)
    m0 = metrics(s)
    check(verify(s, short).get("result") == "presentation_expired", "the short one expired")
    m1 = metrics(s)
    check(label(m1, "presentation_expired") == label(m0, "presentation_expired") + 1 and
          label(m1, "other") == label(m0, "other"), "counted as presentation_expired")


def guessing():
    """Codes guessed from one address: refused with 429 within the failure
    budget (20 by default), long before 1% of the 31^9 codes."""
    statuses = []
    for i in range(40):
        body = "%09d" % (i * 7919)
        body = "".join(ALPHABET[int(c)] for c in body)
        guess = body + check_char(body)
        r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"],
                 headers={"X-Auth-Code": guess})
        statuses.append(r.status)
        if r.status == 429:
            break
    check(statuses[-1] == 429 and len(statuses) <= 30 and set(statuses[:-1]) == {403},
          "guesses are 403 until the budget is spent, then 429: %s" % statuses)


def delegation():
    hdr = {"X-Acting-For": AGENT}
    r = present({"licences": [RAD["id"]]}, headers=hdr)
    is_problem(r, 403, what="an agent without a delegation")
    r = post("/api/v1/holders/%s/delegations" % H, {"agent": {"name": "某代办公司",
             "code_type": "USCC", "code": AGENT}, "types": [T_RAD], "until": "2099-12-31"})
    is_json(r, 201, "delegation")
    did = (r.doc or {}).get("delegation_id", "")
    r = present({"licences": [RAD["id"]]}, headers=hdr)
    check(r.status == 201, "with a delegation, a covered type: %r" % r)
    r = authorise({"purpose": "代办", "licences": [RAD["id"]]}, headers=hdr)
    check(r.status == 201, "and an authorisation for it: %r" % r)
    r = present({"licences": [DIAG["id"]]}, headers=hdr)
    is_problem(r, 403, what="a type the delegation does not cover")
    r = call(s, "DELETE", "/api/v1/holders/%s/delegations/%s" % (H, did), token=T["portal"])
    check(r.status == 204, "the delegation withdrawn: %r" % r)
    r = present({"licences": [RAD["id"]]}, headers=hdr)
    is_problem(r, 403, what="after withdrawal, refused")
    r = post("/api/v1/holders/%s/delegations" % H, {"agent": {"name": "x", "code_type":
             "USCC", "code": AGENT[:-1] + "0"}, "until": "2000-01-01"})
    is_problem(r, 422, "until", "a date in the past")


def codes_never_logged():
    """Neither kind of code reaches the log (the presentation code is checked
    in presentation_round_trip)."""
    r = authorise({"purpose": "日志检查", "licences": [RAD["id"]]})
    code = (r.doc or {}).get("auth_code", "")
    r = call(s, "GET", "/api/v1/certificates/" + RAD["id"], token=T["rd_none"],
             headers={"X-Auth-Code": code})
    check(r.status == 200 and code, "read with the code: %r" % r)
    log = open(s.log_path, encoding="utf-8", errors="replace").read()
    check(code not in log, "the use authorisation code is never logged")


run_tests([portal_role, presentation_round_trip, presentation_bad_input, authorisation,
           authorisation_bad_input, partner_usage, verify_metrics, delegation,
           codes_never_logged, guessing])
d.cleanup()
done()
