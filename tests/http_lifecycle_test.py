"""Lifecycle over HTTP (SPEC §1, §5): each transition (suspend, reinstate,
revoke with each kind, amend → the old one superseded, the next version of
the id) and each forbidden one (409), with POST /api/v1/verify asked after
every change; the verification results for every QR form, a tampered
token, a foreign key, a key-sharing foreign library and garbage; expiry and
validity start through the test clock (CERTSVC_NOW); and the audit log with
the purpose headers, raw UTF-8 and percent-encoded.  Every server exits 0
after SIGTERM, and its stderr holds no sanitizer report.

The script is a list of tests (run_tests, tests/lib/cstest.py), each on
licences of its own, so that one failure hides nothing else and any runs
alone (`python3 tests/http_lifecycle_test.py six_years_on`).  The tests of
the test clock come last: the licences they look at are issued on the main
server when the first of them runs, and that server is then stopped for
the servers with a clock of their own."""
import datetime
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, T_EIA, T_HAZ, T_RAD, T_TRAIN, Deployment, call,  # noqa: E402
                    id_is_valid, id_parts, is_json, is_problem, issue, org_code, person_code,
                    request_for, verify)
from cstest import Server, Workdir, check, done, run_tests  # noqa: E402
from cstoken import compact_text, tamper_payload, tamper_signature  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
refs = [0]


def licence(type_code=T_RAD, holder=None, who="env", **extra):
    """A new licence, each with its own approval_ref and holder."""
    refs[0] += 1
    r = issue(s, request_for(type_code, "LC-%d" % refs[0], holder or org_code(refs[0]), **extra),
              T[who], what="issue %s" % type_code)
    return r.doc or {"id": "?", "qr_text": "", "token": ""}


def act(lic, action, body, expect, who="env", what=None):
    r = call(s, "POST", "/api/v1/certificates/%s/%s" % (lic["id"], action), body, token=T[who])
    what = what or "%s (%s)" % (action, body)
    if expect >= 400:
        is_problem(r, expect, what=what)
    else:
        is_json(r, expect, what)
    return r.doc or {}


def result(lic, server=None):
    return verify(server or s, lic["qr_text"]).get("result")


def read(lic):
    return call(s, "GET", "/api/v1/certificates/" + lic["id"], token=T["admin"]).doc or {}


# A person's licence, in every QR form, and whose holder the audit tests
# look up.
g = licence(T_TRAIN, person_code(9))
H = g["holder"]["code"] if "holder" in g else "?"


# --- suspend ⇄ reinstate, then revoke ---------------------------------------------

def suspend_and_reinstate():
    a = licence()
    check(result(a) == "valid", "a new licence verifies valid")
    act(a, "reinstate", {"reason": "无"}, 409, what="reinstate a valid licence")
    out = act(a, "suspend", {"reason": "限期整改"}, 200)
    check(out.get("status") == "suspended" and out.get("id") == a["id"],
          "suspend answers the licence, suspended")
    check(out.get("status_detail", {}).get("reason") == "限期整改" and
          out.get("status_detail", {}).get("action") == "suspend",
          "the status detail gives action and reason: %s" % out.get("status_detail"))
    check(read(a).get("status") == "suspended", "GET shows suspended")
    v = verify(s, a["qr_text"])
    check(v.get("result") == "suspended" and v.get("certificate", {}).get("status") == "suspended",
          "verify says suspended: %s" % v.get("result"))
    act(a, "suspend", {"reason": "再次"}, 409, what="suspend a suspended licence")
    # The same suspension again (a caller retrying after a time-out): it
    # holds, so 200 marked as a replay, and nothing is appended.
    r = call(s, "POST", "/api/v1/certificates/%s/suspend" % a["id"], {"reason": "限期整改"}, token=T["env"])
    is_json(r, 200, "the same suspension again")
    check(r.headers.get("idempotent-replayed") == "true" and (r.doc or {}).get("status") == "suspended",
          "a repeated suspension is marked Idempotent-Replayed: %s" % dict(r.headers))
    audited = call(s, "GET", "/api/v1/audit?action=suspend&target=%s" % a["id"], token=T["admin"])
    check(len((audited.doc or {}).get("records", [])) == 1,
          "a replayed suspension appends nothing: %s" % (audited.doc or {}).get("records"))
    act(a, "amend", {"approval_ref": "LC-AM-S", "fields": {"remarks": "x"}}, 409,
        what="amend a suspended licence")
    out = act(a, "reinstate", {"reason": "整改完成"}, 200)
    check(out.get("status") == "valid" and "status_detail" not in out,
          "reinstate: valid again, no status detail")
    check(result(a) == "valid", "verify says valid after reinstate")
    r = call(s, "POST", "/api/v1/certificates/%s/reinstate" % a["id"], {"reason": "整改完成"}, token=T["env"])
    is_json(r, 200, "the same reinstatement again")
    check(r.headers.get("idempotent-replayed") == "true", "a repeated reinstatement is a replay")
    r = call(s, "POST", "/api/v1/certificates/%s/suspend" % a["id"], {"reason": "限期整改"}, token=T["env"])
    check(r.status == 200 and "idempotent-replayed" not in r.headers,
          "suspending again after the reinstatement is a new change, not a replay: %d %s"
          % (r.status, dict(r.headers)))


def revoked_licence_stays_revoked():
    a = licence()
    act(a, "suspend", {"reason": "第二次"}, 200)
    out = act(a, "revoke", {"reason": "违法经营"}, 200, what="revoke a suspended licence")
    check(out.get("status") == "revoked" and out.get("status_detail", {}).get("kind") == "revoked",
          "revoke without kind: revoked (吊销): %s" % out.get("status_detail"))
    v = verify(s, a["qr_text"])
    check(v.get("result") == "revoked" and
          v.get("certificate", {}).get("status_detail", {}).get("kind") == "revoked",
          "verify says revoked, kind revoked")
    for action, body in (("suspend", {"reason": "x"}), ("reinstate", {"reason": "x"}),
                         ("revoke", {"reason": "x", "kind": "cancelled"}),
                         ("amend", {"approval_ref": "LC-AM-R", "fields": {"remarks": "x"}})):
        act(a, action, body, 409, what="%s a revoked licence" % action)
    r = call(s, "POST", "/api/v1/certificates/%s/revoke" % a["id"], {"reason": "违法经营"}, token=T["env"])
    is_json(r, 200, "the same revocation again")
    check(r.headers.get("idempotent-replayed") == "true" and (r.doc or {}).get("status") == "revoked",
          "a repeated revocation (same kind, same reason) is a replay")
    act(a, "revoke", {"reason": "违法经营", "kind": "withdrawn"}, 409,
        what="revoke again with another kind")
    check(result(a) == "revoked", "a revoked licence stays revoked")


def each_kind_of_revocation():
    for kind, zh in (("withdrawn", "撤销"), ("cancelled", "注销"), ("revoked", "吊销")):
        x = licence()
        out = act(x, "revoke", {"reason": "依申请" + zh, "kind": kind}, 200)
        check(out.get("status") == "revoked" and out.get("status_detail", {}).get("kind") == kind and
              out.get("status_detail", {}).get("reason") == "依申请" + zh,
              "revoke kind %s (%s)" % (kind, zh))
        v = verify(s, {"qr": x["qr_text"]})
        check(v.get("result") == "revoked" and
              v.get("certificate", {}).get("status_detail", {}).get("kind") == kind,
              "verify says revoked with kind %s" % kind)


def refused_transitions_change_nothing():
    b = licence()
    act(b, "revoke", {"reason": "x", "kind": "destroyed"}, 422, what="revoke with an unknown kind")
    act(b, "suspend", {}, 422, what="suspend without a reason")
    act(b, "suspend", {"reason": ""}, 422, what="suspend with an empty reason")
    act(b, "suspend", {"reason": "x", "kind": "withdrawn"}, 422, what="suspend with a kind")
    act(b, "suspend", {"reason": 5}, 422, what="a reason that is not text")
    r = call(s, "POST", "/api/v1/certificates/%s/suspend" % b["id"], "not json", token=T["env"],
             ctype="application/json")
    is_problem(r, 400, what="suspend with malformed JSON")
    r = call(s, "POST", "/api/v1/certificates/%s/suspend" % b["id"], "reason", token=T["env"],
             ctype="text/plain")
    is_problem(r, 415, what="suspend sent as text/plain")
    check(read(b).get("status") == "valid", "refused transitions change nothing")


# --- amend: the old one superseded, the next version of the id ---------------------------

def amendment_supersedes_the_old():
    c = licence()
    body = {"approval_ref": "LC-AM-1", "fields": {"remarks": "增加机房一间"}, "reason": "变更备注"}
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % c["id"], body, token=T["env"])
    is_json(r, 201, "amend a valid licence")
    c2 = r.doc or {}
    check(r.headers.get("location") == "/api/v1/certificates/" + c2.get("id", "?"),
          "amend: Location of the new version")
    t1, i1, s1, v1, _ = id_parts(c["id"])
    t2, i2, s2, v2, _ = id_parts(c2.get("id", c["id"]))
    check((t2, i2, s2, v2) == (t1, i1, s1, 2) and id_is_valid(c2.get("id", "")),
          "amend: same type, authority and serial, version 002, a correct check character: %s"
          % c2.get("id"))
    check(c2.get("supersedes") == c["id"] and c2.get("status") == "valid" and
          c2.get("fields", {}).get("remarks") == "增加机房一间" and
          c2.get("fields", {}).get("address") == c["fields"]["address"] and
          c2.get("number") == c["number"] and
          c2.get("holder") == c["holder"] and c2.get("approval_ref") == "LC-AM-1",
          "amend: supersedes the old, changed field, the rest kept")
    check((c2.get("valid_from"), c2.get("valid_until")) == (c["valid_from"], c["valid_until"]),
          "amend: the validity is kept when not changed (%s..%s)" % (c2.get("valid_from"),
                                                                     c2.get("valid_until")))
    old = read(c)
    check(old.get("status") == "superseded" and
          old.get("status_detail", {}).get("superseded_by") == c2.get("id"),
          "the old version is superseded, naming the new: %s" % old.get("status_detail"))
    check(old.get("token") == c["token"], "the old version's record is unchanged")
    check(result(c) == "superseded", "verify of the old QR: superseded")
    check(result(c2) == "valid", "verify of the new QR: valid")
    v = verify(s, {"number": c["number"], "holder_code": c["holder"]["code"]})
    check(v.get("result") == "valid" and v.get("certificate", {}).get("id") == c2.get("id"),
          "a paper copy's number (kept by the amendment) checks against the version in force: %s %s"
          % (v.get("result"), v.get("certificate", {}).get("id")))
    v = verify(s, {"id": c["id"], "holder_code": c["holder"]["code"]})
    check(v.get("result") == "superseded", "the old version's id typed by hand: superseded")
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % c["id"], body, token=T["env"])
    is_json(r, 200, "the same amendment again")
    check((r.doc or {}).get("id") == c2.get("id"), "the repeated amendment returns the new version")
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % c["id"],
             dict(body, fields={"remarks": "别的"}), token=T["env"])
    is_problem(r, 409, what="the amendment's approval_ref with other content")
    act(c, "amend", {"approval_ref": "LC-AM-2", "fields": {"remarks": "y"}}, 409,
        what="amend a superseded licence")
    for action in ("suspend", "reinstate", "revoke"):
        act(c, action, {"reason": "x"}, 409, what="%s a superseded licence" % action)
    check(result(c) == "superseded", "a superseded licence stays superseded")


def renewal_is_the_next_version():
    c = licence()
    c2 = act(c, "amend", {"approval_ref": "LC-AM-RN", "fields": {"remarks": "增加机房一间"},
                          "reason": "变更备注"}, 201, what="amend a valid licence")
    c3 = act(c2, "amend", {"approval_ref": "LC-AM-3", "valid_until": "2035-12-31", "reason": "延续"},
             201, what="renew the new version")
    check(id_parts(c3.get("id", c["id"]))[3] == 3 and c3.get("valid_until") == "2035-12-31" and
          c3.get("supersedes") == c2.get("id"), "renewal: version 003 with the new end date")
    check(result(c2) == "superseded" and result(c3) == "valid",
          "after renewal: 002 superseded, 003 valid")
    act(c3, "amend", {"approval_ref": "LC-AM-4", "holder": {"code": org_code(7)}}, 422,
        what="amend the holder's code")
    act(c3, "amend", {"approval_ref": "LC-AM-5", "fields": {"radiation_activity_category": "偷"}}, 422,
        what="amend with an invalid field")
    act(c3, "amend", {"approval_ref": "LC-AM-6", "colour": "red"}, 422,
        what="amend with an unknown member")
    act(c3, "amend", {"fields": {"remarks": "no ref"}}, 422, what="amend without approval_ref")
    renamed = act(c3, "amend", {"approval_ref": "LC-AM-7",
                                "holder": {"name": "深圳市第一人民医院（更名）"}}, 201,
                  what="amend the holder's name")
    check(renamed.get("holder", {}).get("name") == "深圳市第一人民医院（更名）" and
          renamed.get("holder", {}).get("code") == c["holder"]["code"],
          "a renamed holder keeps its code")


def amendment_without_expiry_has_none():
    eia = licence(T_EIA)
    eia2 = act(eia, "amend", {"approval_ref": "LC-AM-EIA",
                              "fields": {"main_requirements": "补充要求。"}}, 201,
               what="amend a licence without expiry")
    check(eia2.get("valid_until") is None, "an amendment of a licence without expiry has none either")


# --- verification results for every form ----------------------------------------------

def every_qr_form_verifies():
    token = g["token"]
    forms = {
        "url": g["qr_text"],
        "compact": compact_text(token),
        "bare token": token,
        "url with scanner CRLF": g["qr_text"] + "\r\n",
        "compact with CRLF": compact_text(token) + "\r\n",
    }
    for name, text in forms.items():
        v = verify(s, text)
        check(v.get("result") == "valid" and v.get("certificate", {}).get("id") == g["id"],
              "verify %s: valid (%s)" % (name, v.get("reason")))
        check(isinstance(v.get("reason"), str) and isinstance(v.get("checked_at"), str),
              "verify %s: reason, checked_at" % name)
    r = call(s, "POST", "/api/v1/verify", {"qr": compact_text(token)})
    check((r.doc or {}).get("result") == "valid", "verify {\"qr\": compact}: valid")
    r = call(s, "POST", "/api/v1/verify", token.encode())   # no Content-Type: the text itself
    check((r.doc or {}).get("result") == "valid", "verify a body without Content-Type: %s" % r)


def tampered_tokens_are_invalid():
    token = g["token"]
    v = verify(s, tamper_signature(token))
    check(v.get("result") == "invalid_signature" and v.get("certificate") is None,
          "a flipped signature bit: invalid_signature, nothing shown (%s)" % v.get("result"))
    v = verify(s, tamper_payload(token, g["number"].encode()[-3:], b"999"))
    check(v.get("result") == "invalid_signature",
          "a changed licence number: invalid_signature (%s)" % v.get("result"))
    v = verify(s, compact_text(tamper_signature(token)).replace("EL1:", "EL1:", 1))
    check(v.get("result") == "invalid_signature", "a tampered compact text: invalid_signature")


def another_key_is_unknown():
    foreign = Workdir("ES256")          # another certsvc with its own key
    foreign.settings[foreign.settings.index("--public-url") + 1] = "https://lic.example.gov.cn"
    foreign.client("bureau", "issuer", T_HAZ, ENV, "广东省生态环境厅")
    path = foreign.write("req.json", request_for(T_HAZ, "FOREIGN-1"))
    flic = json.loads(foreign.cli("issue", "--client", "bureau", path).stdout)
    v = verify(s, flic["qr_text"])
    check(v.get("result") == "unknown_key" and v.get("certificate") is None,
          "a token signed by a key of another directory: unknown_key (%s)" % v.get("result"))
    foreign.cleanup()


def the_same_key_in_another_library_is_not_found():
    twin = Workdir(keygen=False)        # the same key, another library
    twin.settings[twin.settings.index("--keys") + 1] = d.work.keys
    twin.client("bureau", "issuer", T_HAZ, ENV, "广东省生态环境厅")
    path = twin.write("req.json", request_for(T_HAZ, "TWIN-1"))
    tlic = json.loads(twin.cli("issue", "--client", "bureau", path).stdout)
    v = verify(s, tlic["qr_text"])
    check(v.get("result") == "not_found" and v.get("certificate", {}).get("id") == tlic["id"],
          "signed by a trusted key but not in this library: not_found, with what the token says (%s)"
          % v.get("result"))
    twin.cleanup()


def garbage_is_malformed():
    token = g["token"]
    for name, text in (("words", "hello world"), ("an empty body", ""),
                       ("a bad compact text", "EL1:%%%"),
                       ("a url without a token", "https://lic.example.gov.cn/v/"),
                       ("valid base64url, not zlib", "QUJDREVGR0hJSktMTU5PUA"),
                       ("a truncated token", token[:len(token) // 2]),
                       ("HC1 text", "HC1:NCFOXN%TS3DH")):
        v = verify(s, text)
        check(v.get("result") == "malformed" and v.get("certificate") is None,
              "verify %s: malformed (%s)" % (name, v.get("result")))
    r = call(s, "POST", "/api/v1/verify", b"\xff\xfe\x00garbage", ctype="text/plain")
    check(r.status == 200 and (r.doc or {}).get("result") == "malformed",
          "binary garbage: malformed (%r)" % r)
    # SPEC §5: "Always 200" for a body under 4 KiB, whatever JSON it holds.
    for what, body in (("{\"qr\": 5}", {"qr": 5}),
                       ("a JSON body that is neither form", {"something": "else"}),
                       ("JSON that does not parse", b'{"qr": "'), ("a JSON array", b"[]")):
        r = call(s, "POST", "/api/v1/verify", body, ctype="application/json")
        if is_json(r, 200, what):
            check(r.doc.get("result") == "malformed" and r.doc.get("certificate", 0) is None and
                  isinstance(r.doc.get("reason"), str) and r.doc.get("reason") and
                  isinstance(r.doc.get("checked_at"), str),
                  "%s: malformed, with a reason, no certificate, the time (%s)" % (what, r.doc))


# --- the audit log: purpose headers, raw UTF-8 and percent-encoded ----------------------

def purpose_headers_reach_the_audit_record():
    cases = [
        ("raw UTF-8", {"X-Purpose": "办理辐射安全许可证延续",
                       "X-Service-Item": "11440000006939756B4442117003000",
                       "X-Case-Ref": "粤环审〔2026〕第0001号"}),
        ("percent-encoded", {"X-Purpose": urllib.parse.quote("核验培训合格证书：张三"),
                             "X-Service-Item": urllib.parse.quote("事项-001"),
                             "X-Case-Ref": urllib.parse.quote("案号 2026/07 #3")}),
        ("purpose only", {"X-Purpose": "inspection 100%"}),
    ]
    for name, headers in cases:
        r = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_all"], headers=headers)
        is_json(r, 200, "holder lookup with %s headers" % name)
        rid_ = r.headers.get("x-request-id")
        r = call(s, "GET", "/api/v1/audit?action=holder_lookup&client=rd_all&limit=1000",
                 token=T["admin"])
        is_json(r, 200, "audit query")
        rec = next((x for x in (r.doc or {}).get("records", []) if x.get("request_id") == rid_), None)
        if not check(rec is not None, "%s: the lookup has an audit record" % name):
            continue
        want = {k: urllib.parse.unquote(v) for k, v in headers.items()}
        if name == "purpose only":
            want = {"X-Purpose": "inspection 100%"}
        check(rec.get("purpose") == want["X-Purpose"], "%s: the record carries the purpose decoded: %r"
              % (name, rec.get("purpose")))
        check(rec.get("service_item") == want.get("X-Service-Item") and
              rec.get("case_ref") == want.get("X-Case-Ref"),
              "%s: service item and case reference: %r %r" % (name, rec.get("service_item"),
                                                              rec.get("case_ref")))
        check(rec.get("client") == "rd_all" and rec.get("target") == H and rec.get("holder") == H and
              rec.get("result_count") == 1 and rec.get("remote") == "127.0.0.1",
              "%s: client, target, holder, result count, remote: %s" % (name, rec))


def lookup_sees_a_change_made_after_it():
    """A holder's page read (which keeps each record's scan as a note on
    the cached row, licence_view.c), then one of its licences suspended
    and reinstated: each next page has the change, and each licence on it
    is the bytes GET answers for it, read after the change (issue 20:
    nothing of a view but the record's own offsets is kept)."""
    h = org_code(9001)
    a, b = licence(holder=h), licence(holder=h)

    def page(what):
        r = call(s, "GET", "/api/v1/holders/%s/certificates" % h, token=T["rd_all"],
                 headers={"X-Purpose": "核验"})
        is_json(r, 200, what)
        return r

    def same_as_get(r, what):
        for x in (a, b):
            g = call(s, "GET", "/api/v1/certificates/" + x["id"], token=T["admin"])
            check(g.status == 200 and g.body in r.body,
                  "%s: the page holds %s as GET answers it" % (what, x["id"]))

    first = page("the first lookup")
    check([c.get("status") for c in (first.doc or {}).get("certificates", [])] == ["valid", "valid"],
          "the first lookup: both valid")
    same_as_get(first, "the first lookup")
    page("the second lookup, from the noted scans")
    act(a, "suspend", {"reason": "查验"}, 200)
    after = page("the lookup after the suspension")
    got = {c.get("id"): c for c in (after.doc or {}).get("certificates", [])}
    check(got.get(a["id"], {}).get("status") == "suspended" and
          got.get(a["id"], {}).get("status_detail", {}).get("action") == "suspend" and
          got.get(b["id"], {}).get("status") == "valid",
          "the lookup after the suspension has it: %s" % {k: v.get("status") for k, v in got.items()})
    same_as_get(after, "the lookup after the suspension")
    act(a, "reinstate", {"reason": "查验"}, 200)
    again = page("the lookup after the reinstatement")
    check([c.get("status") for c in (again.doc or {}).get("certificates", [])] == ["valid", "valid"],
          "the lookup after the reinstatement: both valid again")
    same_as_get(again, "the lookup after the reinstatement")


AUDITED = {}


def audited():
    """What the audit tests look for, made once: a licence issued, read,
    suspended, reinstated and revoked, another amended, a holder lookup,
    and the request ids of the suspension and the amendment."""
    if not AUDITED:
        x = licence()
        read(x)
        r = call(s, "POST", "/api/v1/certificates/%s/suspend" % x["id"], {"reason": "审计"},
                 token=T["env"])
        is_json(r, 200, "suspend, to be audited")
        AUDITED["suspend"] = r.headers.get("x-request-id")
        act(x, "reinstate", {"reason": "审计"}, 200)
        act(x, "revoke", {"reason": "审计", "kind": "cancelled"}, 200)
        y = licence()
        r = call(s, "POST", "/api/v1/certificates/%s/amend" % y["id"],
                 {"approval_ref": "LC-AM-AUDIT", "fields": {"remarks": "审计"}}, token=T["env"])
        is_json(r, 201, "amend, to be audited")
        AUDITED["amend"] = r.headers.get("x-request-id")
        r = call(s, "GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_all"],
                 headers={"X-Purpose": "审计"})
        is_json(r, 200, "a holder lookup, to be audited")
        AUDITED["target"] = x["id"]
    return AUDITED


def audit_log_records_each_action():
    request_ids = audited()
    r = call(s, "GET", "/api/v1/audit?limit=1000", token=T["admin"])
    recs = (r.doc or {}).get("records", [])
    actions = {x.get("action") for x in recs}
    check({"issue", "read", "suspend", "reinstate", "revoke", "amend", "holder_lookup"} <= actions,
          "the audit log has issuance, reads, each status change and lookups: %s" % sorted(actions))
    by_req = {x.get("request_id"): x for x in recs}
    for action in ("suspend", "amend"):
        rid_ = request_ids[action]
        rec = by_req.get(rid_)
        if rid_:
            check(rec is not None and rec.get("action") == action and rec.get("client") == "env",
                  "the %s request is audited under its request id: %s" % (action, rec))
    seqs = [x.get("seq") for x in recs]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "audit records in order, each once")


def audit_filters_and_pages():
    target = audited()["target"]
    seqs = [x.get("seq") for x in (call(s, "GET", "/api/v1/audit?limit=1000",
                                        token=T["admin"]).doc or {}).get("records", [])]
    r = call(s, "GET", "/api/v1/audit?action=suspend&limit=1000", token=T["admin"])
    check(all(x.get("action") == "suspend" for x in (r.doc or {}).get("records", [])) and
          (r.doc or {}).get("records"), "?action= filters")
    r = call(s, "GET", "/api/v1/audit?holder=%s&limit=1000" % H, token=T["admin"])
    check(all(x.get("holder") == H for x in (r.doc or {}).get("records", [])) and
          (r.doc or {}).get("records"), "?holder= filters")
    r = call(s, "GET", "/api/v1/audit?target=%s" % target, token=T["admin"])
    check({x.get("action") for x in (r.doc or {}).get("records", [])} >= {"issue", "read"},
          "?target= filters to one licence's records")
    r = call(s, "GET", "/api/v1/audit?limit=2", token=T["admin"])
    page = r.doc or {}
    r2 = call(s, "GET", "/api/v1/audit?limit=2&after=%d" % page.get("next_after", 0),
              token=T["admin"])
    check(len(page.get("records", [])) == 2 and
          [x["seq"] for x in (r2.doc or {}).get("records", [])] == seqs[2:4],
          "?limit= and ?after= page through the log")
    r = call(s, "GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z",
             token=T["admin"])
    check(r.status == 200 and (r.doc or {}).get("records") == [], "?since= and ?until= filter by time")
    r = call(s, "GET", "/api/v1/audit?limit=0", token=T["admin"])
    is_problem(r, 400, "limit", "?limit=0")
    # An exporter resumes from next_after: an empty page must not send it
    # back to the start.
    last = seqs[-1]
    r = call(s, "GET", "/api/v1/audit?after=%d" % (last + 1000), token=T["admin"])
    check(r.status == 200 and (r.doc or {}).get("records") == [] and
          (r.doc or {}).get("next_after") == last + 1000,
          "an empty page's next_after is the after it was asked with: %s" % r.doc)
    r = call(s, "GET", "/api/v1/audit?action=bogus", token=T["admin"])
    is_problem(r, 400, "action", "?action= that no record can have")
    check("holder_lookup" in (r.doc or {}).get("detail", ""), "the 400 lists the actions")


# --- the test clock: expiry and validity start ----------------------------------------------

def not_yet_valid_until_its_start():
    today = datetime.date.fromisoformat(g["valid_from"])
    later = licence(T_HAZ, valid_from=(today + datetime.timedelta(days=30)).isoformat())
    check(result(later) == "not_yet_valid", "now: not yet valid")
    check(read(later).get("status") == "not_yet_valid", "GET says not_yet_valid")
    susp = act(later, "suspend", {"reason": "未开始即暂扣"}, 200, what="suspend a licence not yet valid")
    check(susp.get("status") == "suspended", "a licence not yet valid can be suspended")
    back = act(later, "reinstate", {"reason": "恢复"}, 200)
    check(back.get("status") == "not_yet_valid",
          "reinstated, it is not yet valid again: %s" % back.get("status"))
    early = licence(T_HAZ, valid_from=(today + datetime.timedelta(days=30)).isoformat())
    moved = act(early, "amend", {"approval_ref": "LC-AM-EARLY",
                                 "fields": {"address": "东莞市麻涌镇新沙工业园5号"}},
                201, what="amend a licence not yet valid")
    check(moved.get("status") == "not_yet_valid" and moved.get("valid_from") == early["valid_from"],
          "a changed address does not put a licence in force early: %s from %s"
          % (moved.get("status"), moved.get("valid_from")))
    check(result(early) == "superseded" and result(moved) == "not_yet_valid",
          "verify: the old one superseded, the new one not yet valid")


CLOCK = {}


def clock_licences():
    """The licences the test clock looks at, issued on the main server the
    first time a test of the clock asks; the main server then stops (the
    servers with a clock of their own use the same database)."""
    if not CLOCK:
        # The histories of the licences the tests above change: revoked
        # after a suspension; suspended and reinstated before its start;
        # amended, renewed to 2035, and renamed.
        gone = licence()
        today = datetime.date.fromisoformat(gone["valid_from"])
        act(gone, "suspend", {"reason": "第二次"}, 200)
        act(gone, "revoke", {"reason": "违法经营"}, 200)
        soon = licence(T_HAZ, valid_until=(today + datetime.timedelta(days=2)).isoformat())
        later = licence(T_HAZ, valid_from=(today + datetime.timedelta(days=30)).isoformat())
        forever = licence(T_EIA)
        revoked_soon = licence(T_HAZ, valid_until=(today + datetime.timedelta(days=2)).isoformat())
        act(revoked_soon, "revoke", {"reason": "x", "kind": "cancelled"}, 200)
        check(result(soon) == "valid" and result(later) == "not_yet_valid",
              "now: valid, and not yet valid")
        act(later, "suspend", {"reason": "未开始即暂扣"}, 200)
        act(later, "reinstate", {"reason": "恢复"}, 200)
        amended = act(licence(), "amend", {"approval_ref": "LC-AM-CLOCK-1",
                                           "fields": {"remarks": "增加机房一间"}}, 201)
        renewed = act(amended, "amend", {"approval_ref": "LC-AM-CLOCK-2",
                                         "valid_until": "2035-12-31", "reason": "延续"}, 201,
                      what="renew a licence to 2035")
        renamed = act(renewed, "amend", {"approval_ref": "LC-AM-CLOCK-3",
                                         "holder": {"name": "深圳市第一人民医院（更名）"}}, 201,
                      what="amend the renewed licence's holder name")
        CLOCK.update(today=today, gone=gone, soon=soon, later=later, forever=forever,
                     revoked_soon=revoked_soon, renewed=renewed, renamed=renamed)
        stop_main_server()
    return CLOCK


def stop_main_server():
    if d.server is not None:
        s.stop_clean("the server")
        d.stop()


def at(day, hh, mm, ss):
    """Unix seconds of a wall-clock time in Asia/Shanghai (UTC+8)."""
    t = datetime.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=datetime.timezone.utc)
    return str(int(t.timestamp()) - 8 * 3600)


def expiry_at_the_end_of_the_last_day():
    c = clock_licences()
    last = c["today"] + datetime.timedelta(days=2)
    for when, want in (((last, 23, 59, 0), "valid"),
                       ((last + datetime.timedelta(days=1), 0, 0, 30), "expired")):
        clock = Server(d.work, "--rate-limit", "0", env={"CERTSVC_NOW": at(*when)})
        v = verify(clock, c["soon"]["qr_text"])
        check(v.get("result") == want, "valid_until %s, at %s %02d:%02d (UTC+8): %s (got %s)"
              % (last, when[0], when[1], when[2], want, v.get("result")))
        check(verify(clock, c["revoked_soon"]["qr_text"]).get("result") == "revoked",
              "revoked stays revoked at %s" % when[0])
        clock.stop_clean("the server at %s" % when[0])


def a_month_on():
    c = clock_licences()
    soon = c["soon"]
    clock = Server(d.work, "--rate-limit", "0",
                   env={"CERTSVC_NOW": at(c["today"] + datetime.timedelta(days=31), 9, 0, 0)})
    check(result(c["later"], clock) == "valid",
          "a month on, the licence that was not yet valid is valid")
    check(result(soon, clock) == "expired", "a month on, the short one is expired")
    r = call(clock, "GET", "/api/v1/holders/%s/certificates?status=expired" % soon["holder"]["code"],
             token=T["rd_all"], headers={"X-Purpose": "到期检查"})
    check([x.get("id") for x in (r.doc or {}).get("certificates", [])] == [soon["id"]],
          "?status=expired finds it")
    r = call(clock, "POST", "/api/v1/certificates/%s/suspend" % soon["id"], {"reason": "x"},
             token=T["env"])
    is_problem(r, 409, what="suspend an expired licence")
    r = call(clock, "POST", "/api/v1/certificates/%s/amend" % soon["id"],
             {"approval_ref": "LC-AM-EXP", "valid_until": "2040-01-01"}, token=T["env"])
    is_problem(r, 409, what="amend an expired licence")
    clock.stop_clean("the server with a test clock")


def six_years_on():
    c = clock_licences()
    today = c["today"]
    clock = Server(d.work, "--rate-limit", "0",
                   env={"CERTSVC_NOW": at(today.replace(year=today.year + 6), 12, 0, 0)})
    check(result(c["gone"], clock) == "revoked" and result(c["later"], clock) == "expired" and
          result(c["forever"], clock) == "valid",
          "six years on: revoked stays revoked, a 5-year licence expired, one without expiry valid")
    check(result(c["renewed"], clock) == "superseded" and result(c["renamed"], clock) == "valid",
          "six years on: the renewal to 2035 (renamed since) is valid, its older version superseded")
    clock.stop_clean("the server with a test clock")


run_tests([
    suspend_and_reinstate,
    revoked_licence_stays_revoked,
    each_kind_of_revocation,
    refused_transitions_change_nothing,
    amendment_supersedes_the_old,
    renewal_is_the_next_version,
    amendment_without_expiry_has_none,
    every_qr_form_verifies,
    tampered_tokens_are_invalid,
    another_key_is_unknown,
    the_same_key_in_another_library_is_not_found,
    garbage_is_malformed,
    purpose_headers_reach_the_audit_record,
    lookup_sees_a_change_made_after_it,
    audit_log_records_each_action,
    audit_filters_and_pages,
    not_yet_valid_until_its_start,
    expiry_at_the_end_of_the_last_day,
    a_month_on,
    six_years_on,
])

stop_main_server()
d.cleanup()
done()
