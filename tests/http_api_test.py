"""The HTTP API of SPEC §5 against the real `certsvc serve`: every endpoint's
success path and shape, every status code §5 lists (each asserted on
status, content type and body), QR images decoded by zbarimg, the licence
face, holder lookups with filters, the trust list across a key rotation,
/metrics, the masked public view, and the request log (one line per
request, with its id, and no tokens or personal codes).

The script is a list of tests (run_tests, tests/lib/cstest.py) on one
server: each builds what it needs beyond the fixture (the deployment, the
catalog as GET /api/v1/types gives it, and one licence issued to look at),
so that one failure hides nothing else, and any runs alone:
`python3 tests/http_api_test.py holder_lookup_filters`.  The last three
stop the server (draining a request in flight), read its request log, and
start it again after a key rotation."""
import base64
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
import csraw  # noqa: E402
from cshttp import (ALL_TYPES, example_bundle, ENV, HEALTH, PROBLEM_CT, T_DIAG, T_EIA,  # noqa: E402
                    T_HAZ, T_PDP, T_RAD, T_TRAIN, Deployment, call, connection,
                    id_is_valid, id_parts, is_json, is_problem, issue, licence_id, metrics,
                    leak_scan_text, org_code, parse_metrics, person_code, raw_socket,
                    request_for)
from cstest import CERTSVC, Server, check, done, run_tests, wait_for, zbar  # noqa: E402
from cstoken import b64url_decode  # noqa: E402

PUBLIC_URL = "https://lic.example.gov.cn"
LICENCE_KEYS = {"id", "type", "type_name", "number", "holder", "issuer", "issued_at",
                "valid_from", "valid_until", "fields", "approval_ref", "bundle", "related",
                "supersedes", "status", "kid", "alg", "token", "qr_text"}
PRIVATE_JWK = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
HOLDER_PATH = "/api/v1/holders/91440300708461136T/certificates"
H = org_code(500)     # the holder of holder_lookup_filters
P = person_code(3)    # the person of public_view_masks_personal_codes

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
seen_ids = []       # X-Request-Id of every answer, for the log check
secrets = set()     # what must never reach the log
issued_201 = [0]    # issuances answered 201 so far, and /healthz answered 200
healthz_200 = [0]   # (metrics_count_requests)
ISSUED_201 = 'certsvc_http_requests_total{route="/api/v1/certificates",status="201"}'
HEALTHZ_200 = 'certsvc_http_requests_total{route="/healthz",status="200"}'
drained = {}        # the licence finished while the server drained


def answered(method, path, r):
    """Every answer: no path or SQL in it, and its X-Request-Id (kept for
    the request log's check)."""
    low = leak_scan_text(path, r.body).lower()
    if d.work.dir.encode() in r.body or any(x in low for x in (b"sqlite", b"insert into", b" from licences",
                                                               b" from audit", b"constraint failed")):
        check(False, "%s %s: no path or SQL in the answer: %r" % (method, path, r.body[:200]))
    if "x-request-id" in r.headers:
        seen_ids.append(r.headers["x-request-id"])
    else:
        check(False, "%s %s: the answer carries X-Request-Id" % (method, path))
    if method == "POST" and path == "/api/v1/certificates" and r.status == 201:
        issued_201[0] += 1
    if method == "GET" and path == "/healthz" and r.status == 200:
        healthz_200[0] += 1
    return r


def api(method, path, body=None, token=None, **kw):
    return answered(method, path, call(s, method, path, body, token=token, **kw))


def issued(req, who="env", expect=201, what="issue"):
    """A licence issued by who (through cshttp.issue): its secrets noted."""
    lic = answered("POST", "/api/v1/certificates", issue(s, req, T[who], expect, what)).doc or {}
    if "token" in lic:
        secrets.update([lic["token"], lic["id"], lic["holder"]["code"]])
    return lic


def local_date(rfc3339, tz_minutes=480):
    t = datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")
    return (t + datetime.timedelta(minutes=tz_minutes)).date()


for name in ("env", "onewin", "rd_rad", "admin"):
    secrets.add(T[name])

# The fixture: the catalog as the API gives it, and a licence to look at.
TYPES = api("GET", "/api/v1/types")
REQ = request_for(T_RAD, "API-1")
FIRST = api("POST", "/api/v1/certificates", REQ, T["env"])
lic = FIRST.doc or {}
secrets.update([lic.get("token", "?"), lic.get("id", "?")])
good = lic.get("id", "?")


# --- /healthz, /api/v1/types --------------------------------------------------

def healthz_says_ok():
    r = api("GET", "/healthz")
    is_json(r, 200, "healthz")
    version = subprocess.run([CERTSVC, "--version"], capture_output=True, text=True).stdout.split()
    check(len(version) == 2 and version[0] == "certsvc" and re.fullmatch(r"\d+\.\d+\.\d+", version[1]),
          "certsvc --version prints its name and a version number: %s" % version)
    check(r.doc == {"status": "ok", "backend": csdb.BACKEND, "version": version[-1]},
          "healthz says ok, which backend (SPEC §8) and the version --version prints: %s" % r.doc)


def types_list_the_catalog():
    r = TYPES
    is_json(r, 200, "types")
    types = (r.doc or {}).get("types", [])
    check({t.get("code") for t in types} == set(ALL_TYPES), "types: the six catalog types")
    for t in types:
        what = "types %s" % t.get("code")
        check(isinstance(t.get("name"), str) and isinstance(t.get("name_en"), str) and
              set(t.get("holder_code_types", [])) <= {"USCC", "RID"} and t.get("holder_code_types") and
              isinstance(t.get("validity_years"), int) and isinstance(t.get("fields"), list),
              "%s: code, name, name_en, holder_code_types, validity_years, fields" % what)
        check("face" not in t, "%s: the face layout file is not served" % what)
        for f in t.get("fields", []):
            check(isinstance(f.get("name"), str) and isinstance(f.get("label"), str) and
                  f.get("kind") in ("text", "date", "integer", "enum") and
                  isinstance(f.get("required"), bool) and isinstance(f.get("in_qr"), bool),
                  "%s field %s: name, label, kind, required, in_qr" % (what, f.get("name")))
            if f.get("kind") == "enum":
                check(isinstance(f.get("options"), list) and f["options"],
                      "%s field %s: an enum lists its options" % (what, f.get("name")))


def a_request_from_the_catalog_alone_issues():
    types = (TYPES.doc or {}).get("types", [])
    rad_type = next((t for t in types if t.get("code") == T_RAD), {"fields": []})

    # A request built from the catalog alone (required fields, first enum
    # option, short text) is a valid one: the shape is enough to fill a form.
    fields = {}
    for f in rad_type["fields"]:
        if f["required"]:
            fields[f["name"]] = f["options"][0] if f["kind"] == "enum" else "测试"
    issued({"type": T_RAD, "approval_ref": "API-CAT", "fields": fields,
            "holder": {"name": "某公司", "code_type": "USCC", "code": org_code(1)}},
           what="a request built from GET /api/v1/types")

    # Every type, from the catalog alone: its number member says whether the
    # caller gives the number (排污许可证 has no numbering rule), and the
    # conventions say how patterns read.  A pattern field takes a sample
    # checked against the served pattern here first.
    conv = (TYPES.doc or {}).get("conventions", {})
    check("POSIX extended" in conv.get("pattern", "") and "characters" in conv.get("max_length", ""),
          "the catalog says how lengths count and which regex dialect patterns are: %s" % conv)
    samples = ["处置", "HW08", "废气", "A1", "核医学", "90"]
    who = {T_DIAG: "health"}
    for t in types:
        num = t.get("number", {})
        check(isinstance(num.get("required"), bool) and num.get("max_length") == 64,
              "%s: the catalog says who gives the number: %s" % (t.get("code"), num))
        check(num.get("required") == ("rule" not in num) and
              (num.get("required") or "{seq" in num.get("rule", "")),
              "%s: a type the service numbers serves its rule: %s" % (t.get("code"), num))
        fields = {}
        for f in t["fields"]:
            if not f["required"]:
                continue
            if f["kind"] == "enum":
                fields[f["name"]] = f["options"][0]
            elif f["kind"] == "date":
                fields[f["name"]] = "2026-01-01"
            elif f["kind"] == "integer":
                fields[f["name"]] = 100
            elif "pattern" in f:
                fields[f["name"]] = next((v for v in samples if re.fullmatch(f["pattern"], v)), "?")
            else:
                fields[f["name"]] = "测试"
        rid = t.get("holder_code_types") == ["RID"]
        req = {"type": t["code"], "approval_ref": "API-CAT-" + t["code"], "fields": fields,
               "holder": {"name": "某人" if rid else "某公司", "code_type": "RID" if rid else "USCC",
                          "code": person_code(77) if rid else org_code(77)}}
        if num.get("required"):
            req["number"] = "测试第0001号"
        issued(req, who.get(t["code"], "env"), what="a request for %s built from the catalog alone" % t["code"])


# --- issuance ----------------------------------------------------------------

def issue_answers_every_member():
    r, lic, req = FIRST, FIRST.doc or {}, REQ
    is_json(r, 201, "issue")
    check(set(lic) >= LICENCE_KEYS, "issue: every §1 member (missing %s)" % (LICENCE_KEYS - set(lic)))
    check(r.headers.get("location") == "/api/v1/certificates/" + lic.get("id", "?"),
          "issue: Location names the licence (%s)" % r.headers.get("location"))
    check(id_is_valid(lic.get("id", "")), "issue: the id is a §2a identifier with a correct "
          "check character: %s" % lic.get("id"))
    tp, ip, serial, ver, _ = id_parts(lic["id"])
    check((tp, ip, ver) == (T_RAD, ENV, 1) and re.fullmatch("[0-9A-Z]{1,32}", serial),
          "issue: the id carries the type, the authority, a serial and version 001")
    check(lic["issuer"] == {"name": "广东省生态环境厅", "code": ENV}, "issue: issuer %s" % lic["issuer"])
    check(lic["holder"] == req["holder"], "issue: holder as sent")
    check(lic["type_name"] == "辐射安全许可证" and lic["status"] == "valid" and
          lic["approval_ref"] == "API-1" and lic["bundle"] is None and lic["related"] == [] and
          lic["supersedes"] is None and lic["fields"] == req["fields"], "issue: type name, status, "
          "approval_ref, bundle, related, supersedes, fields")
    check(re.fullmatch(r"粤环辐证\[\d{5}\]", lic["number"]), "issue: number by the type's rule: %s"
          % lic["number"])
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lic["issued_at"]), "issue: issued_at RFC 3339 UTC")
    start = local_date(lic["issued_at"])
    check(lic["valid_from"] == start.isoformat(), "issue: valid_from defaults to the issue date "
          "(%s, issued %s)" % (lic["valid_from"], lic["issued_at"]))
    check(lic["valid_until"] == (start.replace(year=start.year + 5) - datetime.timedelta(days=1)).isoformat(),
          "issue: valid_until defaults to 5 years less a day: %s" % lic["valid_until"])
    check(lic["alg"] == "ES256" and re.fullmatch("[A-Za-z0-9_-]{11}", lic["kid"]), "issue: alg and kid")
    check(lic["qr_text"] == PUBLIC_URL + "/v/" + lic["token"], "issue: qr_text is {public_url}/v/{token}")

    r = api("GET", r.headers.get("location", "/x"), token=T["env"])
    is_json(r, 200, "GET Location")
    check(r.doc == lic, "GET Location returns the licence as issued")


def same_approval_ref_is_idempotent():
    req = REQ
    r = api("POST", "/api/v1/certificates", req, T["env"])
    is_json(r, 200, "the same approval_ref and request again")
    check((r.doc or {}).get("id") == lic["id"], "the repeat returns the same licence")
    check("location" not in r.headers, "a repeat (200) has no Location")
    check(r.headers.get("idempotent-replayed") == "true", "a repeat is marked Idempotent-Replayed")
    changed = dict(req, fields=dict(req["fields"], remarks="另一份"))
    r = api("POST", "/api/v1/certificates", changed, T["env"])
    is_problem(r, 409, what="the same approval_ref with other content")
    check(lic["id"] in (r.doc or {}).get("detail", ""), "409 names the licence already issued")
    r = api("POST", "/api/v1/certificates", request_for(T_RAD, "API-1"), T["env_rad"])
    is_json(r, 201, "the same approval_ref from another client is its own licence")
    check("idempotent-replayed" not in r.headers, "a new licence is not marked as a replay")
    check((r.doc or {}).get("id") != lic["id"], "another client's approval_ref is another licence")


def issue_keeps_what_was_given():
    given = issued(request_for(T_PDP, "API-PDP"), what="a type with a given number")
    check(given.get("number") == "91350100M000100Y43001P", "number given by the caller is kept")
    eia = issued(request_for(T_EIA, "API-EIA"), what="a licence without expiry")
    check("valid_until" in eia and eia["valid_until"] is None, "valid_until null for a type without expiry")
    lower = request_for(T_HAZ, "API-LOWER", "91350100m000100y43")
    low = issued(lower, what="a lower-case holder code")
    check(low.get("holder", {}).get("code") == "91350100M000100Y43", "holder code normalised to upper case")
    dated = issued(request_for(T_HAZ, "API-DATED", valid_from="2026-01-01", valid_until="2027-06-30"),
                  what="explicit validity")
    check((dated.get("valid_from"), dated.get("valid_until")) == ("2026-01-01", "2027-06-30"),
          "explicit valid_from and valid_until kept")
    pilot = request_for(T_RAD, "API-PILOT", "91350100M000100Y44")
    pilot["holder"]["unchecked"] = True
    p = issued(pilot, what="holder.unchecked accepts a code failing only its check character")
    check(p.get("holder", {}).get("unchecked") is True, "the licence records holder.unchecked")


# --- bundles ("一件事") ---------------------------------------------------------

def bundle_for_two_departments():
    bundle = example_bundle("API-B1")
    r = api("POST", "/api/v1/bundles", bundle, T["onewin"])
    is_json(r, 201, "bundle for two departments from one one-window client")
    b = r.doc or {}
    certs = b.get("certificates", [])
    check(b.get("approval_ref") == "API-B1" and isinstance(b.get("id"), str) and len(certs) == 2,
          "bundle: id, approval_ref, two licences")
    check(r.headers.get("location") == "/api/v1/bundles/%s" % b.get("id"),
          "bundle: Location names the bundle (%s)" % r.headers.get("location"))
    check([c.get("issuer", {}).get("code") for c in certs] == [ENV, HEALTH],
          "bundle: each licence under its own department")
    for i, c in enumerate(certs):
        secrets.update([c.get("token", "?"), c.get("id", "?")])
        check(c.get("bundle") == b.get("id") and c.get("related") == [certs[1 - i]["id"]] and
              c.get("status") == "valid", "bundle: licence %d names the bundle and the other" % i)
        r = api("GET", "/api/v1/certificates/" + c["id"], token=T["admin"])
        is_json(r, 200, "GET a bundle member")
        check((r.doc or {}).get("related") == [certs[1 - i]["id"]],
              "a bundle member read later names the other")
    r = api("POST", "/api/v1/bundles", bundle, T["onewin"])
    is_json(r, 200, "the same bundle again")
    check([c.get("id") for c in (r.doc or {}).get("certificates", [])] == [c["id"] for c in certs],
          "the repeated bundle returns the same licences")
    check(r.headers.get("idempotent-replayed") == "true", "a repeated bundle is marked Idempotent-Replayed")
    check(r.headers.get("location") is None, "a repeated bundle (200) has no Location")
    # The bundle has its own address, as a licence has.
    loc = "/api/v1/bundles/" + str(b.get("id"))
    r = api("GET", loc, token=T["onewin"])
    is_json(r, 200, "GET the bundle at its Location")
    got = r.doc or {}
    check((got.get("id"), got.get("approval_ref")) == (b.get("id"), "API-B1") and
          [c.get("id") for c in got.get("certificates", [])] == [c["id"] for c in certs],
          "GET /api/v1/bundles/{id}: the bundle as issued: %s" % {k: got.get(k) for k in ("id", "approval_ref")})
    is_json(api("GET", loc, token=T["admin"]), 200, "an admin reads a bundle")
    is_problem(api("GET", loc, token=T["rd_rad"]), 403, what="a reader granted one of the two types")
    is_problem(api("GET", "/api/v1/bundles/B00000000", token=T["admin"]), 404, what="an unknown bundle")
    is_problem(api("GET", "/api/v1/bundles/b1", token=T["admin"]), 400, what="a malformed bundle id")


def refused_bundle_stores_nothing():
    bundle = example_bundle("API-B1")
    before = d.count()
    bad = json.loads(json.dumps(bundle))
    bad["approval_ref"] = "API-B2"
    bad["certificates"][1]["holder"]["code"] = "91440300708461136X"
    r = api("POST", "/api/v1/bundles", bad, T["onewin"])
    is_problem(r, 422, "certificates.1.holder.code", "a bundle whose second licence is invalid")
    fields_named = [e.get("field") for e in (r.doc or {}).get("errors", [])]
    check(all(f.startswith("certificates.1.") for f in fields_named), "only the second licence is blamed: %s"
          % fields_named)
    bad["certificates"][1] = request_for(T_DIAG, "x", issuer=HEALTH)
    del bad["certificates"][1]["approval_ref"]
    bad["certificates"][1]["fields"]["institution_category"] = "不存在的类别"
    r = api("POST", "/api/v1/bundles", bad, T["onewin"])
    is_problem(r, 422, "certificates.1.fields.institution_category", "a bundle member's enum field")
    check(d.count() == before, "a refused bundle stores nothing (%d → %d)" % (before, d.count()))
    r = api("POST", "/api/v1/bundles", dict(bundle, approval_ref="API-B2"), T["onewin"])
    is_json(r, 201, "the refused bundle's approval_ref is free afterwards")
    check(d.count() == before + 2, "the corrected bundle stores its two licences")
    r = api("POST", "/api/v1/bundles", dict(bundle, approval_ref="API-B3"), T["env"])
    is_problem(r, 403, what="a bundle naming a department the client does not act for")
    r = api("POST", "/api/v1/bundles", {"approval_ref": "API-B4", "certificates": [bundle["certificates"][0]]},
            T["onewin"])
    is_problem(r, 422, "certificates", "a bundle of one licence")


# --- 400 ------------------------------------------------------------------

def malformed_bodies_are_400():
    r = api("POST", "/api/v1/certificates", "{\"type\": \"x\", secret-holder-91440300708461136T",
            T["env"], ctype="application/json")
    is_problem(r, 400, what="malformed JSON")
    check("91440300708461136T" not in r.body.decode(), "a JSON error does not echo the body")
    r = api("POST", "/api/v1/certificates", "[1, 2]", T["env"], ctype="application/json")
    is_problem(r, 400, what="JSON that is not an object")
    r = api("POST", "/api/v1/certificates", "", T["env"], ctype="application/json")
    is_problem(r, 400, what="an empty body")
    r = api("POST", "/api/v1/certificates", b"{\"type\": \"\xff\xfe\"}", T["env"], ctype="application/json")
    is_problem(r, 400, what="JSON that is not UTF-8")


def bad_lookup_headers_are_400():
    r = api("GET", HOLDER_PATH, token=T["rd_all"])
    is_problem(r, 400, "X-Purpose", "a holder lookup without X-Purpose")
    r = api("GET", HOLDER_PATH, token=T["rd_all"], headers={"X-Purpose": b"\xff\xfe bad"})
    is_problem(r, 400, "X-Purpose", "X-Purpose that is not UTF-8")
    r = api("GET", HOLDER_PATH, token=T["rd_all"], headers={"X-Purpose": "%0Aforged"})
    is_problem(r, 400, "X-Purpose", "X-Purpose decoding to a control character")
    r = api("GET", HOLDER_PATH, token=T["rd_all"], headers={"X-Purpose": "事" * 201})
    is_problem(r, 400, "X-Purpose", "X-Purpose over 200 characters")
    r = api("GET", HOLDER_PATH, token=T["rd_all"], headers={"X-Purpose": "事" * 200})
    is_json(r, 200, "X-Purpose of exactly 200 characters")
    r = api("GET", HOLDER_PATH, token=T["rd_all"],
            headers={"X-Purpose": "ok", "X-Case-Ref": b"\xc3"})
    is_problem(r, 400, "X-Case-Ref", "X-Case-Ref that is not UTF-8")
    r = api("GET", HOLDER_PATH + "?status=lost", token=T["rd_all"], headers={"X-Purpose": "ok"})
    is_problem(r, 400, "status", "an unknown ?status=")
    r = api("GET", HOLDER_PATH + "?type=nope", token=T["rd_all"], headers={"X-Purpose": "ok"})
    is_problem(r, 400, "type", "an unknown ?type=")
    r = api("GET", "/api/v1/holders/12345/certificates", token=T["rd_all"], headers={"X-Purpose": "ok"})
    is_problem(r, 400, "code", "a holder code of the wrong length")
    check("18" in (r.doc or {}).get("detail", ""), "the 400 says the length a holder code has: %s"
          % (r.doc or {}).get("detail"))
    r = api("GET", "/api/v1/holders/12345/certificates?status=lost&type=nope", token=T["rd_all"],
            headers={"X-Purpose": "ok"})
    is_problem(r, 400, what="a lookup with three bad parameters")
    check(sorted(e.get("field") for e in (r.doc or {}).get("errors", [])) == ["code", "status", "type"],
          "every bad parameter of a lookup is named at once: %s" % (r.doc or {}).get("errors"))


def bad_query_values_are_400():
    r = api("GET", "/api/v1/audit?since=yesterday", token=T["admin"])
    is_problem(r, 400, "since", "an audit filter that is not a time")
    r = api("GET", "/api/v1/audit?client=%FF", token=T["admin"])
    is_problem(r, 400, "client", "a query value that is not UTF-8")
    r = api("GET", "/api/v1/audit?%FF%FE=1", token=T["admin"])
    is_problem(r, 400, "query", "a query name that is not UTF-8")
    # A misspelt or unknown parameter is named, never silently ignored: an
    # ignored "?stauts=revoked" would answer every licence as if filtered.
    r = api("GET", "/api/v1/holders/%s/certificates?stauts=revoked" % H, token=T["rd_all"],
            headers={"X-Purpose": "x"})
    is_problem(r, 400, "stauts", "a misspelt lookup filter")
    check("status" in (r.doc or {}).get("detail", ""), "the 400 lists the parameters the lookup takes")
    r = api("GET", "/api/v1/holders/%s/certificates?status=valid&status=revoked" % H,
            token=T["rd_all"], headers={"X-Purpose": "x"})
    is_problem(r, 400, "status", "a filter given twice")
    r = api("GET", "/api/v1/audit?acton=issue", token=T["admin"])
    is_problem(r, 400, "acton", "a misspelt audit filter")
    r = api("GET", "/api/v1/types?lang=zh", token=None)
    is_problem(r, 400, "lang", "a query parameter on an endpoint that takes none")
    r = api("GET", "/api/v1/certificates/%s/face.png?scale=2&form=compact" % good, token=T["admin"])
    check(r.status == 200, "face.png takes scale and form together: %d" % r.status)


# --- identifiers in paths: 400, 404 ------------------------------------------

def bad_ids_are_400_unknown_ones_404():
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = api("GET", "/api/v1/certificates/" + typo, token=T["admin"])
    is_problem(r, 400, what="an id failing its check character")
    check("check" in (r.doc or {}).get("detail", "").lower(), "the 400 says the check character fails: %s"
          % (r.doc or {}).get("detail"))
    for bad_id in ("not-an-id", "1.2.156.3005.2.X.Y.Z.001.0", good + ".9", good.replace(".001.", ".1.")):
        r = api("GET", "/api/v1/certificates/" + bad_id, token=T["admin"])
        is_problem(r, 400, what="a malformed id %s" % bad_id)
    unknown = licence_id(T_RAD, ENV, "NOSUCH01")
    for suffix in ("", "/qr.png", "/qr.svg", "/face.svg"):
        r = api("GET", "/api/v1/certificates/" + unknown + suffix, token=T["admin"])
        is_problem(r, 404, what="an unknown well-formed id%s" % suffix)
    # SPEC §2a: another library's identifier with a 6-digit division code
    # as its issuer is well-formed: unknown here, never malformed.
    elsewhere = licence_id(T_RAD, "440300", "2430599")
    r = api("GET", "/api/v1/certificates/" + elsewhere, token=T["admin"])
    is_problem(r, 404, what="an identifier with a division-code issuer (%s)" % elsewhere)
    r = api("GET", "/api/v1/certificates/" + elsewhere[:-1] + ("0" if elsewhere[-1] != "0" else "1"),
            token=T["admin"])
    is_problem(r, 400, what="a division-code identifier failing its check character")
    for action in ("suspend", "revoke", "reinstate"):
        r = api("POST", "/api/v1/certificates/%s/%s" % (unknown, action), {"reason": "x"}, T["env"])
        is_problem(r, 404, what="%s of an unknown id" % action)
        r = api("POST", "/api/v1/certificates/%s/%s" % (typo, action), {"reason": "x"}, T["env"])
        is_problem(r, 400, what="%s of an id failing its check" % action)
    r = api("POST", "/api/v1/certificates/%s/amend" % unknown, {"approval_ref": "A-X"}, T["env"])
    is_problem(r, 404, what="amend of an unknown id")
    r = api("GET", "/api/v1/nothing-here", token=T["admin"])
    is_problem(r, 404, what="an unknown path")
    r = api("DELETE", "/api/v1/certificates/" + good, token=T["admin"])
    is_problem(r, 405, what="DELETE of a licence")
    check("GET" in r.headers.get("allow", ""), "405 lists the allowed methods: %s" % r.headers.get("allow"))


# --- 401, 403 (the full matrix is http_authz_test.py) ----------------------------

def missing_or_bad_tokens_are_401():
    for what, headers in (("no Authorization", {}), ("an unknown token", {"Authorization": "Bearer cs_nope"}),
                          ("the Basic scheme", {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}),
                          ("an empty bearer", {"Authorization": "Bearer "}),
                          ("a revoked client", {"Authorization": "Bearer " + T["gone"]})):
        r = api("GET", "/api/v1/certificates/" + good, headers=headers)
        is_problem(r, 401, what=what)
        check(r.headers.get("www-authenticate", "").startswith("Bearer"), "%s: WWW-Authenticate Bearer" % what)
    r = api("POST", "/api/v1/certificates", request_for(T_RAD, "API-R"), T["rd_all"])
    is_problem(r, 403, what="a reader issuing")


# --- 413, 415 ------------------------------------------------------------------

def oversized_bodies_are_413():
    big = request_for(T_RAD, "API-BIG")
    big["fields"]["remarks"] = "x" * (70 * 1024)
    before = d.count()
    r = api("POST", "/api/v1/certificates", big, T["env"])
    is_problem(r, 413, what="a body over 64 KiB")
    conn = connection(s)
    conn.putrequest("POST", "/api/v1/certificates")
    conn.putheader("Authorization", "Bearer " + T["env"])
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    payload = json.dumps(big).encode()
    for i in range(0, len(payload), 8192):
        piece = payload[i:i + 8192]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    check(resp.status == 413 and resp.getheader("Content-Type") == PROBLEM_CT,
          "a chunked body growing over 64 KiB: 413 problem (got %d %s)" % (resp.status, body[:200]))
    check(d.count() == before, "nothing stored from an over-size body")
    r = api("POST", "/api/v1/verify", "A" * 5000, ctype="text/plain")
    is_problem(r, 413, what="a verification body over 4 KiB")
    r = api("POST", "/api/v1/verify", {"qr": "A" * 5000})
    is_problem(r, 413, what="a JSON verification body over 4 KiB")


def wrong_media_types_are_415():
    for ct in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None):
        r = call(s, "POST", "/api/v1/certificates", json.dumps(request_for(T_RAD, "API-CT")).encode(),
                 token=T["env"], ctype=ct)
        seen_ids.append(r.headers.get("x-request-id"))
        is_problem(r, 415, what="issuance sent as %s" % ct)
    r = api("POST", "/api/v1/verify", "<qr/>", ctype="application/xml")
    is_problem(r, 415, what="verification sent as application/xml")
    r = api("POST", "/api/v1/certificates", request_for(T_RAD, "API-CT2"), T["env"],
            ctype="Application/JSON; charset=\"UTF-8\"")
    is_json(r, 201, "media type and charset are case-insensitive")


def unreadable_verify_bodies_are_malformed():
    # SPEC §5: every body under 4 KiB of an accepted type is a 200 verdict; a
    # JSON body that cannot be read is "malformed" with a reason naming why.
    for what, body, reason in (
            ("JSON that does not parse", b'{"qr": "secret-91440300708461136T', "not valid JSON"),
            ("a JSON string", b'"just text"', "JSON object"),
            ("a JSON array", b"[1, 2]", "JSON object"),
            ("qr a number", b'{"qr": 5}', "qr must be a string"),
            ("qr null", b'{"qr": null}', "qr must be a string"),
            ("an object of neither shape", b'{"token": "x"}', "expected"),
            ("an empty object", b"{}", "expected"),
            ("an empty JSON body", b"", "not valid JSON"),
            ("JSON that is not UTF-8", b'{"qr": "\xff\xfe"}', "not valid JSON"),
            ("a duplicate member", b'{"qr": "a", "qr": "b"}', "not valid JSON")):
        r = api("POST", "/api/v1/verify", body, ctype="application/json")
        doc = r.doc or {}
        is_json(r, 200, "verify %s" % what)
        check(doc.get("result") == "malformed" and doc.get("certificate", "absent") is None and
              isinstance(doc.get("checked_at"), str) and reason in (doc.get("reason") or ""),
              "verify %s: malformed, naming %r, certificate null, checked_at (%s)" % (what, reason, doc))
        check("91440300708461136T" not in r.body.decode(errors="replace"),
              "verify %s: the reason does not echo the body" % what)
    r = api("POST", "/api/v1/verify", {"id": "not-an-id", "holder_code": org_code(4)})
    check((r.doc or {}).get("result") == "malformed" and r.status == 200,
          "a paper copy with a malformed id: 200 malformed (%r)" % r)


# --- 422 -----------------------------------------------------------------------

def refused(req, field, what):
    n = d.count()
    r = api("POST", "/api/v1/certificates", req, T["env"])
    is_problem(r, 422, field, what)
    check(d.count() == n, "%s: nothing stored" % what)
    return r


def invalid_holders_are_422():
    refused(request_for(T_RAD, "API-V1", "91440300708461136X"), "holder.code", "a wrong check character")
    r = refused(request_for(T_RAD, "API-V2", "9144030070846113"), "holder.code", "a short holder code")
    check("length" in json.dumps(r.doc, ensure_ascii=False), "the reason names the length")
    refused(request_for(T_RAD, "API-V3", "91440300708461136I"), "holder.code", "a character outside GB 32100")
    refused(request_for(T_TRAIN, "API-V4", "110105194902301234"), "holder.code",
            "a resident ID with no such date")
    refused(request_for(T_TRAIN, "API-V5", "91440300708461136T"), "holder.code", "a USCC as a resident ID")
    x = request_for(T_RAD, "API-V6")
    x["holder"]["code_type"] = "RID"
    refused(x, "holder.code_type", "a person's code type for an organisations' licence")


def invalid_fields_are_422():
    x = request_for(T_RAD, "API-V7")
    del x["fields"]["licence_scope"]
    refused(x, "fields.licence_scope", "a missing required field")
    x = request_for(T_RAD, "API-V8")
    x["fields"]["address"] = "地" * 201
    refused(x, "fields.address", "an over-long field")
    x = request_for(T_RAD, "API-V9")
    x["fields"]["colour"] = "red"
    refused(x, "fields.colour", "an unknown field")
    x = request_for(T_HAZ, "API-V10")
    x["fields"]["annual_capacity"] = "很多"
    refused(x, "fields.annual_capacity", "an integer field given text")
    x = request_for(T_RAD, "API-V11")
    x["fields"]["radiation_activity_category"] = "偷"
    refused(x, "fields.radiation_activity_category", "an enum outside its options")
    refused(request_for(T_RAD, "API-V12", valid_from="2026-02-30"), "valid_from", "an impossible date")
    refused(request_for(T_RAD, "API-V13", valid_from="2027-01-01", valid_until="2026-01-01"),
            "valid_until", "valid_until before valid_from")
    refused(dict(request_for(T_RAD, "API-V14"), extra=1), "extra", "an unknown member")
    refused(dict(request_for(T_RAD, "API-V15"), type="11100000000013338W999"), "type",
            "a type outside the catalog")
    x = request_for(T_RAD, "API-V16")
    del x["approval_ref"]
    refused(x, "approval_ref", "a missing approval_ref")


def issuer_codes_are_checked():
    r = api("POST", "/api/v1/certificates", request_for(T_RAD, "API-V17", issuer=HEALTH), T["env"])
    is_problem(r, 403, what="an issuer.code the client does not act for")
    refused(request_for(T_RAD, "API-V19", issuer="bogus"), "issuer.code", "an issuer.code that is no USCC")
    refused(request_for(T_RAD, "API-V20", issuer=ENV[:-1] + "C"), "issuer.code",
            "an issuer.code failing its check character")
    low_issuer = issued(request_for(T_RAD, "API-V21", issuer=ENV.lower()), what="a lower-case issuer.code")
    check(low_issuer.get("issuer", {}).get("code") == ENV, "a lower-case issuer.code names the same authority")
    r = api("POST", "/api/v1/certificates", request_for(T_RAD, "API-V18"), T["onewin"])
    check(r.status in (201, 422), "onewin has one authority for T_RAD: %r" % r)


# --- QR images and the face ------------------------------------------------------

def qr_images_decode_to_the_qr_text():
    png_path = os.path.join(d.work.dir, "qr.png")
    r = api("GET", "/api/v1/certificates/%s/qr.png" % good, token=T["rd_rad"])
    check(r.status == 200 and r.ctype == "image/png" and r.body[:8] == b"\x89PNG\r\n\x1a\n",
          "qr.png: 200 image/png (%s)" % r.ctype)
    with open(png_path, "wb") as f:
        f.write(r.body)
    check(zbar(png_path) == lic["qr_text"], "qr.png decodes with zbarimg to the qr_text")
    r = api("GET", "/api/v1/certificates/%s/qr.png?form=compact" % good, token=T["rd_rad"])
    with open(png_path, "wb") as f:
        f.write(r.body)
    compact = zbar(png_path) or ""
    check(r.status == 200 and compact.startswith("EL1:"), "qr.png?form=compact decodes to EL1:...")
    r = api("POST", "/api/v1/verify", compact, ctype="text/plain")
    check((r.doc or {}).get("result") == "valid", "the compact QR text verifies: %s" % r.doc)
    r = api("GET", "/api/v1/certificates/%s/qr.svg" % good, token=T["rd_rad"])
    check(r.status == 200 and r.ctype == "image/svg+xml; charset=utf-8",
          "qr.svg: 200 image/svg+xml (%s)" % r.ctype)
    try:
        root = ET.fromstring(r.body)
        check(root.tag.endswith("svg"), "qr.svg is an SVG document")
    except ET.ParseError as e:
        check(False, "qr.svg is well-formed XML: %s" % e)
    r = api("GET", "/api/v1/certificates/%s/qr.png?form=big" % good, token=T["rd_rad"])
    is_problem(r, 400, "form", "an unknown ?form=")


def face_and_page_escape_markup():
    hostile = request_for(T_RAD, "API-FACE", org_code(77))
    hostile["holder"]["name"] = "<script>alert('x')</script> & \"Co\""
    hl = issued(hostile, what="a holder named like markup")
    r = api("GET", "/api/v1/certificates/%s/face.svg" % hl.get("id"), token=T["env"])
    check(r.status == 200 and r.ctype == "image/svg+xml; charset=utf-8", "face.svg: 200 image/svg+xml")
    face = r.body.decode()
    check("<script" not in face and "&lt;script&gt;" in face, "face.svg: the holder name is XML-escaped")
    try:
        texts = "".join(ET.fromstring(r.body).itertext())
        check(hostile["holder"]["name"] in texts, "face.svg shows the holder name as those characters")
    except ET.ParseError as e:
        check(False, "face.svg is well-formed XML: %s" % e)
    check("default-src 'none'" in r.headers.get("content-security-policy", ""),
          "face.svg: a CSP that runs nothing")
    r = api("GET", "/api/v1/certificates/%s/face.svg" % good, token=T["env"])
    check(r.status == 200 and "深圳市第一人民医院" in r.body.decode(), "face.svg contains the holder name")
    r = api("GET", "/api/v1/certificates/%s/face.png" % good, token=T["env"])
    check(r.status == 200 and r.ctype == "image/png" and r.body[:8] == b"\x89PNG\r\n\x1a\n",
          "face.png: 200 image/png (%s)" % r.ctype)

    # The verification page a phone opens: HTML, the hostile name as text.
    r = api("GET", "/v/" + hl.get("token", "x"))
    page = r.body.decode()
    check(r.status == 200 and r.ctype == "text/html; charset=utf-8",
          "GET /v/{token}: 200 text/html (%s)" % r.ctype)
    check("<script>alert" not in page and "&lt;script&gt;" in page, "the page shows a markup name as text")
    r = api("GET", "/v/" + lic["token"][:-4])
    check(r.status == 200 and r.ctype == "text/html; charset=utf-8", "GET /v/ of a damaged token: still a page")


# --- holder lookup ----------------------------------------------------------------

def lookup(who, query="", code=H, **headers):
    r = api("GET", "/api/v1/holders/%s/certificates%s" % (code, query), token=T[who],
            headers=dict({"X-Purpose": "办理排污许可"}, **headers))
    is_json(r, 200, "holder lookup by %s%s" % (who, query))
    return r.doc or {}


def holder_lookup_filters():
    mine = {}
    for t, who in ((T_RAD, "env"), (T_HAZ, "env"), (T_EIA, "env"), (T_DIAG, "health")):
        mine[t] = issued(request_for(t, "API-H-" + t, H), who, what="issue %s for the holder" % t)
    r = api("POST", "/api/v1/certificates/%s/suspend" % mine[T_HAZ].get("id"), {"reason": "整改"}, T["env"])
    is_json(r, 200, "suspend one of the holder's licences")
    got = lookup("rd_all")
    check(got.get("holder_code") == H, "lookup answers holder_code")
    check(sorted(c["type"] for c in got.get("certificates", [])) == sorted(mine),
          "a reader granted every type sees the holder's four licences")
    check(all(set(c) >= LICENCE_KEYS for c in got.get("certificates", [])), "lookup: full licence objects")
    check([c["type"] for c in lookup("rd_rad").get("certificates", [])] == [T_RAD],
          "a reader granted one type sees only that type")
    check([c["type"] for c in lookup("rd_diag").get("certificates", [])] == [T_DIAG],
          "a reader granted the health type sees only it")
    check([c["type"] for c in lookup("rd_all", "?type=" + T_HAZ).get("certificates", [])] == [T_HAZ],
          "?type= filters")
    check([c["id"] for c in lookup("rd_all", "?status=suspended").get("certificates", [])] ==
          [mine[T_HAZ].get("id")], "?status=suspended filters")
    check(sorted(c["type"] for c in lookup("rd_all", "?status=valid").get("certificates", [])) ==
          sorted([T_RAD, T_EIA, T_DIAG]), "?status=valid filters")
    check(lookup("rd_rad", "?type=" + T_DIAG).get("certificates") == [],
          "?type= of a type the reader is not granted: nothing")
    check(lookup("rd_all", "?type=&status=").get("certificates") is not None, "empty filters filter nothing")
    check(len(lookup("rd_all", code=H.lower()).get("certificates", [])) == 4,
          "a lower-case holder code finds them")
    check(lookup("rd_all", code=org_code(999)).get("certificates") == [],
          "a holder without licences: empty list")
    # A typo in the code is caught: a 400 naming it, never an empty 200 that
    # reads "this company holds no licence".
    typo = H[:-1] + ("0" if H[-1] != "0" else "1")
    r = api("GET", "/api/v1/holders/%s/certificates" % typo, token=T["rd_all"], headers={"X-Purpose": "x"})
    is_problem(r, 400, "code", "a holder code failing its check character")
    check("expected '%s'" % H[-1] in (r.doc or {}).get("detail", ""),
          "the 400 says which check character was expected: %s" % (r.doc or {}).get("detail"))
    r = api("GET", "/api/v1/holders/11010519491231002Y/certificates", token=T["rd_all"],
            headers={"X-Purpose": "x"})
    is_problem(r, 400, "code", "a resident ID with a wrong check character")
    r = api("GET", "/api/v1/holders/%s/certificates?unchecked=yes" % H, token=T["rd_all"],
            headers={"X-Purpose": "x"})
    is_problem(r, 400, "unchecked", "?unchecked= neither true nor false")
    # The pilot-region holder issued with holder.unchecked is read the same way.
    r = api("GET", "/api/v1/holders/91350100M000100Y44/certificates", token=T["rd_all"],
            headers={"X-Purpose": "x"})
    is_problem(r, 400, "code", "a pilot-region code without ?unchecked=true")
    pilots = lookup("rd_all", "?unchecked=true", code="91350100M000100Y44").get("certificates", [])
    check([c.get("approval_ref") for c in pilots] == ["API-PILOT"],
          "?unchecked=true finds the pilot-region holder's licence: %s" % pilots)
    check(len(lookup("rd_all", "?unchecked=true").get("certificates", [])) == 4,
          "?unchecked=true with a code that passes its check reads as usual")
    r = api("GET", "/api/v1/holders/%s/certificates" % H, token=T["env"], headers={"X-Purpose": "x"})
    is_problem(r, 403, what="an issuer looking up a holder")
    r = api("GET", "/api/v1/holders/%s/certificates" % H, token=T["admin"], headers={"X-Purpose": "x"})
    is_problem(r, 403, what="an admin looking up a holder (SPEC §5: a reader only)")


# --- GET /api/v1/me: who the token is and what it may do ---------------------------------

def me_says_who_and_what():
    r = api("GET", "/api/v1/me", token=T["onewin"])
    is_json(r, 200, "GET /api/v1/me")
    me = r.doc or {}
    check((me.get("name"), me.get("role"), me.get("active")) == ("onewin", "issuer", True),
          "me: name, role, active: %s" % me)
    check(me.get("grants") == [{"types": [T_RAD], "issuer": {"code": ENV, "name": "广东省生态环境厅"}},
                               {"types": [T_DIAG], "issuer": {"code": HEALTH, "name": "广东省卫生健康委员会"}}]
          and me.get("warnings") == [], "me: both grants, each with its authority: %s" % me.get("grants"))
    check(T["onewin"] not in r.body.decode() and "token" not in me, "me: no token, no hash")
    me = api("GET", "/api/v1/me", token=T["rd_rad"]).doc or {}
    check(me.get("role") == "reader" and me.get("grants") == [{"types": [T_RAD]}],
          "me of a reader: its types, no authority: %s" % me)
    out = d.work.cli("client add", "--name", "rd_none", "--role", "reader")
    me = api("GET", "/api/v1/me", token=out.stdout.strip().splitlines()[-1]).doc or {}
    check(me.get("grants") == [] and any("no licence type is granted" in w for w in me.get("warnings", [])),
          "me of a reader granted nothing says why it sees nothing: %s" % me)
    is_problem(api("GET", "/api/v1/me"), 401, what="me without a token")
    is_problem(api("GET", "/api/v1/me?x=1", token=T["admin"]), 400, "x", "me takes no query parameters")


# --- the public view: personal codes masked ------------------------------------------

def public_view_masks_personal_codes():
    person = issued(request_for(T_TRAIN, "API-P", P), what="a licence of a person")
    check(person.get("holder", {}).get("code") == P, "the issuer sees the full resident ID")
    r = api("POST", "/api/v1/verify", person.get("qr_text", ""), ctype="text/plain")
    is_json(r, 200, "verify a person's licence")
    view = (r.doc or {}).get("certificate") or {}
    check((r.doc or {}).get("result") == "valid", "a person's licence verifies")
    check(view.get("holder", {}).get("code") == P[:6] + "*" * 8 + P[-4:],
          "the public view masks the resident ID: %s" % view.get("holder"))
    check(P not in r.body.decode() and P[6:14] not in r.body.decode(),
          "the full resident ID is nowhere in the answer")
    check(not ({"token", "approval_ref", "bundle", "qr_text", "related"} & set(view)),
          "the public view has no token, approval_ref, bundle: %s" % sorted(view))
    check(set(view.get("fields", {})) == {"exam_date"}, "the public view has the QR face fields only: %s"
          % view.get("fields"))
    r = api("POST", "/api/v1/verify", {"id": person.get("id"), "holder_code": P})
    check((r.doc or {}).get("result") == "valid" and
          (r.doc.get("certificate") or {}).get("holder", {}).get("code") != P,
          "manual check by id and resident ID: valid, still masked (%s)" % r.doc)
    r = api("POST", "/api/v1/verify", {"number": lic["number"], "holder_code": lic["holder"]["code"]})
    check((r.doc or {}).get("result") == "valid", "manual check by number and holder code: %s" % r.doc)
    r = api("POST", "/api/v1/verify", {"number": lic["number"], "holder_code": org_code(4)})
    check((r.doc or {}).get("result") == "not_found" and r.doc.get("certificate") is None,
          "manual check with another holder's code: not_found, nothing shown")


# --- /metrics -------------------------------------------------------------------

def metrics_count_requests():
    # At least 10 issuances to count, when this runs alone.
    for k in range(10 - issued_201[0]):
        issued(request_for(T_RAD, "API-M-%d" % k, org_code(600 + k)), what="an issuance to count")
    for _ in range(3):
        api("GET", "/healthz")
    r = api("GET", "/metrics")
    check(r.status == 200 and r.ctype.startswith("text/plain; version=0.0.4"),
          "metrics: Prometheus text (%s)" % r.ctype)
    m = r.body.decode()
    check("# TYPE certsvc_http_requests_total counter" in m and
          "# TYPE certsvc_http_request_duration_seconds histogram" in m, "metrics: counter and histogram")
    # A request is counted when its completion callback runs, which may trail
    # the client's next request by a moment (more so under ASan): poll.
    def counted(series):
        return int(parse_metrics(api("GET", "/metrics").body.decode()).get(series, 0))

    check(wait_for(lambda: counted(HEALTHZ_200) >= healthz_200[0], timeout=10),
          "metrics count the %d /healthz requests: %d" % (healthz_200[0], counted(HEALTHZ_200)))
    check(wait_for(lambda: counted(ISSUED_201) >= issued_201[0], timeout=10),
          "metrics count the %d issuances answered 201: %d" % (issued_201[0], counted(ISSUED_201)))
    inf = re.search(r'^certsvc_http_request_duration_seconds_bucket\{route="/api/v1/certificates",le="\+Inf"\} (\d+)$',
                    m, re.M)
    cnt = re.search(r'^certsvc_http_request_duration_seconds_count\{route="/api/v1/certificates"\} (\d+)$', m,
                    re.M)
    check(inf and cnt and inf.group(1) == cnt.group(1), "histogram: the +Inf bucket equals the count")
    check(re.search(r'^certsvc_http_request_duration_seconds_sum\{route="/api/v1/certificates"\} [0-9.e+-]+$',
                    m, re.M), "histogram: a sum")
    check(re.search(r'^certsvc_build_info\{version="\d+\.\d+\.\d+",backend="%s"\} 1$' % csdb.BACKEND, m, re.M),
          "metrics: certsvc_build_info names the version and the backend")
    check(not any(x in m for x in secrets), "metrics carry no ids, tokens or codes")


# --- the trust list -------------------------------------------------------------

def trust_list_has_one_active_key():
    r = api("GET", "/api/v1/trust-list")
    is_json(r, 200, "trust list")
    keys = (r.doc or {}).get("keys", [])
    check(len(keys) == 1 and keys[0].get("status") == "active" and keys[0].get("use") == "sig" and
          keys[0].get("alg") == "ES256", "trust list: one active ES256 signing key: %s" % keys)
    check(not any(PRIVATE_JWK & set(k) for k in keys), "trust list: no private members")
    kid = b64url_decode(keys[0].get("kid", "")) if keys else b""
    check(len(kid) == 8 and keys[0].get("kid") == lic["kid"],
          "the JWK kid is the licence's kid, both base64url of 8 bytes")


# --- 429 (rate limit on the public endpoints) --------------------------------------

def public_endpoints_are_rate_limited():
    limited = Server(d.work, "--rate-limit", "2", "--log-file", os.path.join(d.work.dir, "limited.log"))
    codes = [call(limited, "GET", "/api/v1/types").status for _ in range(12)]
    check(codes[0] == 200 and 429 in codes, "a burst on a public endpoint meets 429: %s" % codes)
    r = call(limited, "POST", "/api/v1/verify", "x", ctype="text/plain")
    is_problem(r, 429, what="the rate limit")
    check(r.headers.get("retry-after", "").isdigit(), "429 carries Retry-After")
    check(all(call(limited, "GET", "/healthz").status == 200 for _ in range(8)), "/healthz is never limited")
    check(all(call(limited, "GET", "/api/v1/certificates/" + good, token=T["admin"]).status == 200
              for _ in range(8)), "authenticated endpoints are not limited per address")
    limited.stop()


# --- the request log ---------------------------------------------------------------

def request_ids_are_the_servers():
    # The request id is always the server's own: a client's X-Request-Id would
    # let it forge or repeat the ids of log lines and audit records.
    ids = []
    for sent in ("e2e-trace-0001", "e2e-trace-0001", "bad id\twith tab"):
        r = api("GET", "/api/v1/holders/%s/certificates" % H, token=T["rd_all"],
                headers={"X-Purpose": "请求标识", "X-Request-Id": sent})
        got = r.headers.get("x-request-id", "")
        check(r.status == 200 and re.fullmatch("[0-9a-f]{16}", got) is not None and got != sent,
              "a client's X-Request-Id %r is not adopted: the server's own id %r" % (sent, got))
        ids.append(got)
    check(len(set(ids)) == 3, "every request gets its own id, even when the client repeats one: %s" % ids)
    r = api("GET", "/api/v1/audit?action=holder_lookup&limit=1000", token=T["admin"])
    recs = (r.doc or {}).get("records", [])
    rec_ids = {a.get("request_id") for a in recs}
    check(set(ids) <= rec_ids, "the audit records carry the server's request ids (%s)" % ids)
    check("e2e-trace-0001" not in rec_ids, "no audit record carries the client's X-Request-Id")


# --- 503 while shutting down ----------------------------------------------------------

def in_flight():
    return int(metrics(s).get("certsvc_http_requests_in_flight", 0))


def shutdown_drains_in_flight():
    keep = connection(s)
    keep.request("GET", "/healthz")
    keep.getresponse().read()
    slow = raw_socket(s)
    body = json.dumps(request_for(T_RAD, "API-SLOW")).encode()
    head = csraw.build("POST", "/api/v1/certificates", [("Authorization", "Bearer " + T["env"]),
                       ("Content-Type", "application/json")], body, host="t", close=False)
    slow.sendall(head[:len(head) - len(body) + 40])    # the head and 40 bytes of the body

    # The slow request is in flight once the server has its head: the /metrics
    # request asking is the other one.
    check(wait_for(lambda: in_flight() >= 2, timeout=30), "the slow request is in flight before SIGTERM")
    s.proc.send_signal(signal.SIGTERM)
    check(wait_for(lambda: b"SIGTERM received" in open(s.log_path, "rb").read()), "the server notes SIGTERM")
    log_now = open(s.log_path, "rb").read().decode()
    # At least the slow one: the /metrics request that saw it may not have been
    # counted out yet when the signal is logged (slower under ASan).
    m = re.search(r"(\d+) request\(s\) in flight", log_now)
    check(m is not None and int(m.group(1)) >= 1, "the slow request is counted in flight (%s)"
          % (m.group(0) if m else "no count logged"))
    keep.request("GET", "/healthz")
    resp = keep.getresponse()
    body503 = resp.read()
    check(resp.status == 503 and resp.getheader("Content-Type") == PROBLEM_CT and
          json.loads(body503 or b"{}").get("status") == 503, "a new request while draining: 503 problem (%d %s)"
          % (resp.status, body503[:200]))
    check((resp.getheader("Connection") or "").lower() == "close", "the 503 closes the connection")
    seen_ids.append(resp.getheader("X-Request-Id"))
    slow.sendall(body[40:])
    got = csraw.read_response(slow, "POST")
    st, hdrs, got_body = (got.status, got.headers, got.body) if got else (None, {}, b"")
    slow.close()
    check(st == 201, "the request in flight at SIGTERM is finished: %s %s" % (st, got_body[:200]))
    check(hdrs.get("connection", "").lower() == "close", "an answer finished while draining closes its "
          "connection, so no client sends another request on it (%s)" % hdrs.get("connection"))
    seen_ids.append(hdrs.get("x-request-id"))
    try:
        rc = s.proc.wait(timeout=15)
    except Exception:
        rc = None
    check(rc == 0, "the server exits 0 after draining (%s)" % rc)
    drained["id"] = json.loads(got_body or b"{}").get("id", "?")
    secrets.update([drained["id"]])


def request_log_one_line_per_request():
    if s.alive():     # the drain above did not run: stop the server here
        d.stop()
    log_text = open(s.log_path, "rb").read().decode()
    check("certsvc: stopped" in log_text, "the server logs that it stopped")

    # One line per request, each with its request id; nothing secret in the log.
    lines = [l for l in log_text.splitlines() if " req=" in l]
    for rid_ in seen_ids:
        n = sum(1 for l in lines if " req=%s " % rid_ in l)
        if not check(n == 1, "exactly one log line for request %s (got %d)" % (rid_, n)):
            break
    fmt = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z req=\S+ client=\S+ method=[A-Z]+ route=\S+ "
                     r"status=\d{3} ms=[0-9.]+ remote=127\.0\.0\.1$")
    bad_lines = [l for l in lines if not fmt.match(l)]
    check(not bad_lines, "every request line has the documented format: %s" % bad_lines[:3])
    check(len(lines) >= len(seen_ids),
          "as many request lines as requests (%d ≥ %d)" % (len(lines), len(seen_ids)))
    leaked = [x for x in secrets if x and x in log_text]
    check(not leaked, "no token, bearer, licence id or holder code in the log: %s" % [x[:24] for x in leaked])
    check(P not in log_text and "Bearer" not in log_text, "no resident ID and no Authorization in the log")
    check("e2e-trace-0001" not in log_text, "a client's X-Request-Id reaches no log line")


# --- the trust list across a key rotation (after a restart) ------------------------------

def key_rotation_keeps_old_licences_valid():
    global s
    d.stop()
    d.work.run("keygen", "--alg", "EdDSA", "--keys", d.work.keys)
    s = d.start("--rate-limit", "0")
    r = api("GET", "/api/v1/trust-list")
    keys = (r.doc or {}).get("keys", [])
    check(sorted(k.get("status") for k in keys) == ["active", "verify-only"], "two keys: one active, one "
          "verify-only: %s" % [(k.get("alg"), k.get("status")) for k in keys])
    check(any(k.get("alg") == "EdDSA" and k.get("status") == "active" for k in keys), "the newest key signs")
    check(not any(PRIVATE_JWK & set(k) for k in keys), "trust list: still no private members")
    r = api("POST", "/api/v1/verify", {"qr": lic["qr_text"]})
    check((r.doc or {}).get("result") == "valid", "a licence signed by the older key still verifies: %s"
          % (r.doc or {}).get("result"))
    new = issued(request_for(T_RAD, "API-ROT"), what="issue after the rotation")
    check(new.get("alg") == "EdDSA" and new.get("kid") != lic["kid"], "a new licence is signed by the new key")
    if drained:     # shutdown_drains_in_flight ran before
        r = api("GET", "/api/v1/certificates/" + drained["id"], token=T["env"])
        is_json(r, 200, "the licence finished during the drain is stored")


run_tests([
    healthz_says_ok,
    types_list_the_catalog,
    a_request_from_the_catalog_alone_issues,
    issue_answers_every_member,
    same_approval_ref_is_idempotent,
    issue_keeps_what_was_given,
    bundle_for_two_departments,
    refused_bundle_stores_nothing,
    malformed_bodies_are_400,
    bad_lookup_headers_are_400,
    bad_query_values_are_400,
    bad_ids_are_400_unknown_ones_404,
    missing_or_bad_tokens_are_401,
    oversized_bodies_are_413,
    wrong_media_types_are_415,
    unreadable_verify_bodies_are_malformed,
    invalid_holders_are_422,
    invalid_fields_are_422,
    issuer_codes_are_checked,
    qr_images_decode_to_the_qr_text,
    face_and_page_escape_markup,
    holder_lookup_filters,
    me_says_who_and_what,
    public_view_masks_personal_codes,
    metrics_count_requests,
    trust_list_has_one_active_key,
    public_endpoints_are_rate_limited,
    request_ids_are_the_servers,
    shutdown_drains_in_flight,
    request_log_one_line_per_request,
    key_rotation_keeps_old_licences_valid,
])

d.cleanup()
done()
