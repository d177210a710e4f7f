"""The error catalogue (issue 18): a distinct problem "type" per cause under
the deployment's problem_base, a stable "code" on each field error, Chinese
messages when Accept-Language prefers zh.

It also holds the catalogue together: the causes of certsvc/http/
http_problem.c, the list of docs/problems.md and the enum of
docs/openapi.json name the same types, and the field codes of
certsvc/util/problems.h are the ones both documents list."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (ENV, T_DIAG, T_PDP, T_RAD, Deployment, call, is_json,  # noqa: E402
                    is_problem, org_code, request_for)
from cstest import SOURCE, check, done  # noqa: E402

BASE = "https://problems.example.gov.cn/certsvc/"


def slug(r):
    t = (r.doc or {}).get("type") or ""
    return t[len(BASE):] if t.startswith(BASE) else "(not under the base: %s)" % t


def has_type(r, status, name, what):
    if is_problem(r, status, what=what):
        check(slug(r) == name, "%s: type %s (got %s)" % (what, name, (r.doc or {}).get("type")))


def codes(r):
    return {e.get("field"): e.get("code") for e in (r.doc or {}).get("errors", [])}


# --- the three lists agree ----------------------------------------------------
src = open(os.path.join(SOURCE, "certsvc/http/http_problem.c"), encoding="utf-8").read()
table = set(re.findall(r'\{(?:0|CS_CAUSE_[A-Z_]+), \d{3}, "([a-z-]+)"', src))
doc = open(os.path.join(SOURCE, "docs/problems.md"), encoding="utf-8").read()
documented = set(re.findall(r"^\| `([a-z-]+)` \| \d{3} \|", doc, re.M))
api = json.load(open(os.path.join(SOURCE, "docs/openapi.json"), encoding="utf-8"))
pattern = api["components"]["schemas"]["Problem"]["properties"]["type"]["pattern"]
in_api = set(re.match(r"^/\((.*)\)\$$", pattern).group(1).split("|"))
check(len(table) >= 20, "http_problem.c's table has the causes (%d)" % len(table))
check(table == documented, "docs/problems.md lists every cause: missing %s, extra %s"
      % (table - documented, documented - table))
check(table == in_api, "openapi.json's Problem.type names every cause: missing %s, extra %s"
      % (table - in_api, in_api - table))
hdr = open(os.path.join(SOURCE, "certsvc/util/problems.h"), encoding="utf-8").read()
fcodes = set(re.findall(r'#define CS_FC_[A-Z_]+ "([a-z_]+)"', hdr))
doc_codes = set(re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| [^|]+ \|$", doc, re.M))
api_codes = set(api["components"]["schemas"]["FieldError"]["properties"]["code"]["enum"])
check(fcodes == doc_codes == api_codes, "field codes agree: problems.h %s, docs %s, openapi %s"
      % (sorted(fcodes), sorted(doc_codes), sorted(api_codes)))
zh_rows = set(re.findall(r'\{CS_FC_([A-Z_]+), "', src))
check(len(zh_rows) == len(fcodes), "every field code has a Chinese message (%d of %d)"
      % (len(zh_rows), len(fcodes)))

# --- distinct types for distinct causes ---------------------------------------
d = Deployment()
conf = d.work.write("problems.conf", "problem_base = %s\n" % BASE)
s = d.start("--config", conf, "--rate-limit", "0")
T = d.tokens
CERT = "/api/v1/certificates"

r = call(s, "POST", CERT, request_for(T_RAD, "PB-1", org_code(1)), token=T["env"])
is_json(r, 201, "setup: issue")
L = (r.doc or {}).get("id", "?")

# Two 409s that used to share .../conflict.
other = request_for(T_RAD, "PB-1", org_code(2))
has_type(call(s, "POST", CERT, other, token=T["env"]), 409, "approval-ref-conflict",
         "the same approval_ref with other content")
is_json(call(s, "POST", CERT + "/" + L + "/revoke", {"reason": "吊销"}, token=T["env"]), 200,
        "revoke")
has_type(call(s, "POST", CERT + "/" + L + "/suspend", {"reason": "暂停"}, token=T["env"]), 409,
         "illegal-transition", "suspending a revoked licence")

# 403s by cause.
has_type(call(s, "GET", CERT + "/" + L, token=T["rd_diag"]), 403, "grant-missing",
         "a reader without the type's grant")
has_type(call(s, "POST", CERT, request_for(T_DIAG, "PB-2", org_code(3)), token=T["env"]), 403,
         "grant-missing", "an issuer issuing a type it holds no grant for")
has_type(call(s, "POST", CERT + "/" + L + "/reinstate", {"reason": "x"}, token=T["other"]), 403,
         "not-issuer", "another authority changing the licence")
has_type(call(s, "GET", "/api/v1/audit", token=T["env"]), 403, "role-forbidden",
         "an issuer reading the audit log")

# 400s by cause.
bad = org_code(4)[:-1] + ("0" if org_code(4)[-1] != "0" else "1")
r = call(s, "GET", "/api/v1/holders/%s/certificates" % bad, token=T["rd_rad"],
         headers={"X-Purpose": "核验"})
has_type(r, 400, "invalid-code", "a holder code with a wrong check character")
check(codes(r).get("code") == "check_character", "its error is code=check_character (%s)"
      % codes(r))
r = call(s, "GET", "/api/v1/holders/%s/certificates" % org_code(4), token=T["rd_rad"])
has_type(r, 400, "purpose-required", "a lookup without X-Purpose")
check(codes(r).get("X-Purpose") == "required", "X-Purpose: code=required (%s)" % codes(r))
r = call(s, "GET", "/api/v1/holders/%s/certificates?stauts=revoked" % org_code(4),
         token=T["rd_rad"], headers={"X-Purpose": "核验"})
has_type(r, 400, "unknown-parameter", "?stauts=")
check(codes(r).get("stauts") == "unknown_parameter", "stauts: code=unknown_parameter (%s)"
      % codes(r))
r = call(s, "GET", "/api/v1/audit?action=bogus", token=T["admin"])
has_type(r, 400, "invalid-parameter", "?action=bogus")
check(codes(r).get("action") == "enum", "action: code=enum (%s)" % codes(r))
has_type(call(s, "POST", CERT, "{not json", token=T["env"], ctype="application/json"), 400,
         "malformed-json", "a body that is not JSON")
has_type(call(s, "GET", CERT + "/" + L, token="not-a-token-of-anyone"), 401, "invalid-token",
         "an unknown token")
has_type(call(s, "GET", CERT + "/" + L), 401, "unauthorized", "no token")

# --- field codes of a 422 -------------------------------------------------------
req = request_for(T_RAD, "PB-3", org_code(5))
del req["holder"]["name"]
req["holder"]["code"] = bad
req["fields"]["bogus"] = "x"
req["valid_until"] = "2030-02-30"
req["fields"]["address"] = " 前导空格"
r = call(s, "POST", CERT, req, token=T["env"])
has_type(r, 422, "validation-failed", "an invalid issuance request")
c = codes(r)
for field, code in (("holder.name", "required"), ("holder.code", "check_character"),
                    ("fields.bogus", "unknown_member"), ("valid_until", "date"),
                    ("fields.address", "charset")):
    check(c.get(field) == code, "422: %s has code %s (got %s)" % (field, code, c))
pdp = request_for(T_PDP, "PB-4", org_code(6))
pdp.pop("number", None)
r = call(s, "POST", CERT, pdp, token=T["env"])
check(codes(r).get("number") == "required",
      "排污许可证 without number: number code=required (%s)" % codes(r))

# --- Chinese beside English -------------------------------------------------------
zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
r = call(s, "POST", CERT, req, token=T["env"], headers=zh)
doc_zh = r.doc or {}
check(r.status == 422 and slug(r) == "validation-failed", "zh: same status and type (%r)" % r)
check(doc_zh.get("title") == "校验未通过", "zh: Chinese title (%s)" % doc_zh.get("title"))
check(re.search("[\u4e00-\u9fff]", doc_zh.get("detail") or "") is not None and
      "detail_en" in doc_zh, "zh: Chinese detail with the English beside it (%s)" % doc_zh)
check(r.headers.get("content-language") == "zh-CN", "zh: Content-Language: zh-CN (%s)"
      % r.headers.get("content-language"))
errs = {e.get("field"): e for e in doc_zh.get("errors", [])}
e = errs.get("holder.code", {})
check(e.get("message") == "校验位错误" and e.get("code") == "check_character" and
      "check character" in (e.get("message_en") or ""),
      "zh: holder.code message 校验位错误, code unchanged, English beside (%s)" % e)
check(errs.get("holder.name", {}).get("message") == "必填", "zh: required is 必填 (%s)" % errs)
r = call(s, "POST", CERT, other, token=T["env"], headers={"Accept-Language": "zh"})
check(slug(r) == "approval-ref-conflict" and (r.doc or {}).get("title") == "审批编号已被使用",
      "zh: a 409 has its Chinese title (%s)" % r.doc)
# Chinese messages carry the figures of the English ones: the limit and the
# size found, the allowed values, the expected length, a range's bounds.
figs = request_for(T_RAD, "PB-ZH-1", org_code(7))
figs["fields"]["licence_scope"] = "范" * 101
figs["fields"]["radiation_activity_category"] = "出租"
figs["holder"]["code"] = "91440300"
r_en = call(s, "POST", CERT, figs, token=T["env"])
r_zh = call(s, "POST", CERT, figs, token=T["env"], headers=zh)
msgs_en = {e.get("field"): e.get("message", "") for e in (r_en.doc or {}).get("errors", [])}
msgs_zh = {e.get("field"): e.get("message", "") for e in (r_zh.doc or {}).get("errors", [])}


def same_figures(field, code, figures, what):
    en, zh_msg = msgs_en.get(field, ""), msgs_zh.get(field, "")
    check(all(f in en for f in figures), "%s: the English message has %s (%r)" % (what, figures, en))
    check(all(f in zh_msg for f in figures) and re.search("[\u4e00-\u9fff]", zh_msg),
          "%s: the Chinese message has them too (%r)" % (what, zh_msg))


same_figures("fields.licence_scope", "max_length", ("101", "100"), "zh max_length")
same_figures("fields.radiation_activity_category", "enum", ("生产", "销售、使用"), "zh enum")
same_figures("holder.code", "length", ("8", "18"), "zh length")
check(msgs_zh.get("fields.licence_scope", "").startswith("超过最大长度"),
      "zh max_length keeps its code's text first (%r)" % msgs_zh.get("fields.licence_scope"))
r = call(s, "GET", "/api/v1/holders/%s/certificates?limit=0" % org_code(4), token=T["rd_rad"],
         headers=dict(zh, **{"X-Purpose": "核验"}))
m = {e.get("field"): e for e in (r.doc or {}).get("errors", [])}.get("limit", {})
nums = re.findall(r"\d+", m.get("message_en", ""))
check(len(nums) == 2 and all(n in m.get("message", "") for n in nums),
      "zh range: the bounds %s of %r are in %r" % (nums, m.get("message_en"), m.get("message")))
r = call(s, "GET", "/api/v1/audit?action=bogus", token=T["admin"], headers=zh)
m = {e.get("field"): e for e in (r.doc or {}).get("errors", [])}.get("action", {})
check("issue" in m.get("message", "") and "audit_read" in m.get("message", ""),
      "zh enum of a query parameter lists the values (%r)" % m.get("message"))

# English stays the default, and wins when preferred.
for al in (None, "en-US,zh;q=0.8", "fr"):
    r = call(s, "POST", CERT, other, token=T["env"],
             headers={"Accept-Language": al} if al else None)
    check((r.doc or {}).get("title") == "approval_ref already used with other content" and
          "detail_en" not in (r.doc or {}) and r.headers.get("content-language") == "en",
          "Accept-Language %s: English (%s)" % (al, r.doc))

d.stop()
# The default base when none is configured.
s = d.start("--rate-limit", "0")
r = call(s, "POST", CERT, other, token=T["env"])
check((r.doc or {}).get("type") == "https://certsvc.example/problems/approval-ref-conflict",
      "default problem_base (%s)" % (r.doc or {}).get("type"))
d.stop()
d.cleanup()
done()
