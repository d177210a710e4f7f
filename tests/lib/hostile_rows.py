"""The rows of tests/hostile_test.py: its table of hostile requests, in
groups, and the words the rows are written in.

Each group is a function of the fixture (fx: hostile_test.py's server, its
clients and the licences the table attacks) that appends its rows to ROWS;
hostile_test.py makes each group a test of its own (rows_test), sends the
rows, one per loopback address, and checks every answer against its Row.
The groups keep their names, which are the names of those tests
(`python3 tests/hostile_test.py issue13_numbers` runs one group).

Here, besides: the hostile strings that go into every field, path segment
and query (SQL, traversal), the paths, Row (one request and what it must
get), and the helpers that write an issuance request with one member
changed.  Nothing here starts a server or sends a request: the answers are
hostile_test.py's.
"""
import base64
import json
import urllib.parse
import zlib

from cshttp import ENV, OTHER, T_RAD, T_TRAIN, licence_id
from cstest import check, rid, sample_request, uscc
from cstoken import b64url_encode, token_of


# ENV (广东省生态环境厅) is the issuer's authority, OTHER one it does not act
# for; T_RAD holders have USCCs, T_TRAIN holders resident IDs (cshttp).
SQLI = "' OR 1=1--"
TRAVERSAL = "../../etc/passwd"
ENC_TRAVERSAL = "%2e%2e%2f%2e%2e%2fetc%2fpasswd"
ENC_SQLI = urllib.parse.quote(SQLI, safe="")
# The two hostile strings that go into every field, path segment and query.
HOSTILE = (("SQL", SQLI), ("traversal", TRAVERSAL))
# SQL of exactly 18 characters: a holder code's length, so that it reaches
# the lookup (where "OR 1=1" would find every licence) instead of being
# refused for its length.
SQL18 = "' OR '1'='1' --   "
assert len(SQL18) == 18
NOBODY = uscc("91440300MA5FXXXX0")  # a valid credit code that holds no licence
SECOND = uscc("91440300MA5FBUND1")  # a second holder, for bundles of one type
MIB = 1024 * 1024
CERT = "/api/v1/certificates/"
HOLD = "/api/v1/holders/"
PURPOSE = [("X-Purpose", "hostile input test")]
# The verdicts a forged token may get.
MAL = {"malformed"}
BADSIG = {"invalid_signature"}
# 1 MiB of zeros, compressed: a zlib bomb.
zero_bomb = zlib.compress(b"\0" * MIB, 9)


def nested(n, leaf=b"\x00"):
    """CBOR arrays nested n deep around leaf."""
    return b"\x81" * n + leaf


def as_json(r):
    return r.doc if r is not None else None


def base_request(ref, **over):
    req = sample_request(T_RAD, ref)
    for k, v in over.items():
        req[k] = v
    return req



def set_path(d, path, value):
    """d with value at a dotted member path (d itself, changed)."""
    keys = path.split(".")
    inner = d
    for k in keys[:-1]:
        inner = inner.setdefault(k, {})
    inner[keys[-1]] = value
    return d


# --- the table ----------------------------------------------------------------

class Row:
    """One hostile request and what it must get: status (one, or a tuple
    where libmicrohttpd may answer either), and for a problem (problem=True)
    the type and title of that status and errors[] naming field; for a
    verification (result) the verdicts allowed; answer: a further check of
    the answer, a function of the response returning what is wrong or None."""

    def __init__(self, name, method, path, status, body=None, auth=None, ctype=None,
                 headers=None, field=None, problem=True, early=False, result=None,
                 audits=0, allow_close=False, answer=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]


ROWS = []   # the rows of the test being built


def issue_row(name, body, status=422, field=None, **kw):
    kw.setdefault("auth", "issuer")
    kw.setdefault("ctype", "application/json")
    ROWS.append(Row(name, "POST", "/api/v1/certificates", status, body, field=field, **kw))


def mutate(ref, f):
    req = base_request(ref)
    f(req)
    return req


n = iter(range(1000))


def ref():
    return "H-%d" % next(n)


def with_holder(**kv):
    return mutate(ref(), lambda r: r["holder"].update(kv))


def with_field(**kv):
    return mutate(ref(), lambda r: r["fields"].update(kv))


def with_top(**kv):
    return mutate(ref(), lambda r: r.update(kv))


def without(*path):
    def f(r):
        d = r
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return mutate(ref(), f)


valid_json = json.dumps(base_request("H-RAW"), ensure_ascii=False).encode()
one = sample_request(T_RAD, "x")   # a bundle's member
del one["approval_ref"]


# --- the table, in groups ----------------------------------------------------

# Malformed, truncated and odd JSON: 400 before any validation.
def malformed_json_is_400(fx):
    issue_row("empty body", b"", 400)
    issue_row("truncated: a lone brace", b"{", 400)
    issue_row("truncated mid-request", valid_json[:len(valid_json) // 2], 400)
    issue_row("truncated inside a string", b'{"type": "1110000000', 400)
    issue_row("a JSON array", b"[]", 400)
    issue_row("JSON null", b"null", 400)
    issue_row("a JSON string", b'"certificate"', 400)
    issue_row("a JSON number", b"42", 400)
    issue_row("garbage after the object", valid_json + b" x", 400)
    issue_row("two objects", valid_json + valid_json, 400)
    issue_row("duplicate keys", b'{"type": "%s", "type": "%s"}' % (T_RAD.encode(), T_RAD.encode()),
              400)
    issue_row("duplicate nested keys",
              valid_json.replace(b'"holder": {', b'"holder": {"code": "x", ', 1),
              400)
    issue_row("single quotes", b"{'type': 'x'}", 400)
    issue_row("comments", b"/* hi */ " + valid_json, 400)
    issue_row("trailing comma", valid_json[:-1] + b",}", 400)
    issue_row("NaN", valid_json.replace(b'"holder"', b'"x": NaN, "holder"', 1), 400)
    issue_row("huge number 1e400", valid_json.replace(b'"holder"', b'"x": 1e400, "holder"', 1), 400)
    issue_row("integer 2^64",
              valid_json.replace(b'"holder"', b'"x": 18446744073709551616, "holder"', 1),
              400)
    issue_row("number with 5000 digits", valid_json.replace(b'"holder"', b'"x": ' + b"9" * 5000 +
                                                            b', "holder"', 1), 400)
    issue_row("invalid UTF-8 in a string", valid_json.replace("张伟".encode(), b"\xff\xfe"), 400)
    issue_row("overlong UTF-8 (C0 AF)", valid_json.replace("张伟".encode(), b"\xc0\xaf"), 400)
    issue_row("UTF-8 surrogate (ED A0 80)", valid_json.replace("张伟".encode(), b"\xed\xa0\x80"), 400)
    issue_row("lone surrogate escape", valid_json.replace("张伟".encode(), b"\\ud800"), 400)
    issue_row("raw control character in a string", valid_json.replace("张伟".encode(), b"a\x01b"),
              400)
    issue_row("BOM before the object", b"\xef\xbb\xbf" + valid_json, 400)
    issue_row("arrays nested 100,000 deep (over the body limit)", b"[" * 100000 + b"]" * 100000,
              413)
    issue_row("objects nested 10,000 deep", b'{"a":' * 10000 + b"1" + b"}" * 10000, 400)


# Wrong types and nulls where objects belong: 422 naming the field.
def wrong_json_types_are_422(fx):
    issue_row("type null", with_top(type=None), 422, "type")
    issue_row("type a number", with_top(type=2 ** 63 - 1), 422, "type")
    issue_row("type an object", with_top(type={"code": T_RAD}), 422, "type")
    issue_row("type an array", with_top(type=[T_RAD]), 422, "type")
    issue_row("type unknown", with_top(type="11100000000013338W999"), 422, "type")
    issue_row("type encoded traversal", with_top(type=ENC_TRAVERSAL), 422, "type")
    issue_row("type 1 MiB (body over the limit)", with_top(type="9" * MIB), 413, early=True)
    issue_row("holder null", with_top(holder=None), 422, "holder")
    issue_row("holder a string", with_top(holder="深圳市第一人民医院"), 422, "holder")
    issue_row("holder an array", with_top(holder=[]), 422, "holder")
    issue_row("holder absent", without("holder"), 422, "holder")
    issue_row("fields null (required fields missing)", with_top(fields=None), 422, "fields.address")
    issue_row("fields an array", with_top(fields=[]), 422, "fields")
    issue_row("fields a string", with_top(fields=SQLI), 422, "fields")
    issue_row("issuer a string", with_top(issuer=ENV), 422, "issuer")
    # A malformed authority code is the request's fault (422), not a grant's (403).
    issue_row("issuer.code lower-case SQL", with_top(issuer={"code": "x' or 1=1--"}), 422,
              "issuer.code")
    issue_row("issuer.code of another authority", with_top(issuer={"code": OTHER}), 403, audits=1)
    issue_row("approval_ref null", with_top(approval_ref=None), 422, "approval_ref")
    issue_row("approval_ref a number", with_top(approval_ref=12), 422, "approval_ref")
    issue_row("approval_ref empty", with_top(approval_ref=""), 422, "approval_ref")
    issue_row("approval_ref 129 characters", with_top(approval_ref="R" * 129), 422, "approval_ref")
    issue_row("approval_ref with a newline", with_top(approval_ref="A\nB"), 422, "approval_ref")
    issue_row("approval_ref with DEL", with_top(approval_ref="A\x7fB"), 422, "approval_ref")
    issue_row("unknown top-level field", with_top(admin=True), 422, "admin")
    issue_row("unknown field named SQL", with_top(**{SQLI: 1}), 422, SQLI)
    issue_row("3000 unknown fields", mutate(ref(), lambda r: r.update(
            {"f%d" % i: i for i in range(3000)})), 422, "f0")
    issue_row("a 60 KiB field name", with_top(**{"k" * 60000: 1}), 422)
    issue_row("status smuggled in", with_top(status="revoked"), 422, "status")
    issue_row("id smuggled in", with_top(id=fx.LID), 422, "id")


# The holder.
def hostile_holders_are_refused(fx):
    issue_row("holder.name 60 KiB (under the body limit)", with_holder(name="名" * 20000), 422,
              "holder.name")
    issue_row("holder.name 1 MiB (over the body limit)", with_holder(name="A" * MIB), 413,
              early=True)
    issue_row("holder.name empty", with_holder(name=""), 422, "holder.name")
    issue_row("holder.name a number", with_holder(name=1e308), 422, "holder.name")
    issue_row("holder.name with a newline", with_holder(name="A\r\nX-Injected: 1"), 422,
              "holder.name")
    issue_row("holder.name with ESC", with_holder(name="\x1b[31mred"), 422, "holder.name")
    issue_row("holder.code wrong check character", with_holder(code="91440300708461136U"), 422,
              "holder.code")
    issue_row("holder.code 17 characters", with_holder(code="91440300708461136"), 422,
              "holder.code")
    issue_row("holder.code 19 characters", with_holder(code="91440300708461136TT"), 422,
              "holder.code")
    issue_row("holder.code 33 characters", with_holder(code="9" * 33), 422, "holder.code")
    issue_row("holder.code letter I (not in the alphabet)", with_holder(code="9144030070846113I0"),
              422, "holder.code")
    issue_row("holder.code fullwidth digits", with_holder(code="９１４４０３００７０８４６１１３６Ｔ"), 422,
              "holder.code")
    issue_row("holder.code null", with_holder(code=None), 422, "holder.code")
    issue_row("holder.code an array", with_holder(code=["91440300708461136T"]), 422, "holder.code")
    issue_row("holder.code_type unknown", with_holder(code_type="SSN"), 422, "holder.code_type")
    issue_row("holder.code_type RID on a USCC-only type", with_holder(code_type="RID",
              code="11010519491231002X"), 422, "holder.code_type")
    issue_row("holder.unchecked a string", with_holder(unchecked="yes"), 422, "holder.unchecked")
    issue_row("holder.unchecked with a bad length",
              with_holder(unchecked=True, code="914403007084611"),
              422, "holder.code")
    issue_row("holder unknown member", with_holder(role="admin"), 422, "holder.role")
    issue_row("RID with 30 February as birth date", mutate(ref(), lambda r: r.update(
            sample_request(T_TRAIN, r["approval_ref"], rid("11010519990230001")))), 422,
            "holder.code")
    issue_row("RID with month 13", mutate(ref(), lambda r: r.update(
            sample_request(T_TRAIN, r["approval_ref"], rid("11010519991301001")))), 422,
            "holder.code")


# Dates.
def impossible_dates_are_refused(fx):
    issue_row("valid_from 30 February", with_top(valid_from="2026-02-30"), 422, "valid_from")
    issue_row("valid_from month 13", with_top(valid_from="2026-13-01"), 422, "valid_from")
    issue_row("valid_from day 0", with_top(valid_from="2026-01-00"), 422, "valid_from")
    issue_row("valid_from year 0", with_top(valid_from="0000-01-01"), 422, "valid_from")
    issue_row("valid_from 1969-12-31", with_top(valid_from="1969-12-31", valid_until="2030-01-01"),
              422, "valid_from")
    issue_row("valid_until in 1960 (before valid_from)", with_top(valid_until="1960-01-01"), 422,
              "valid_until")
    issue_row("valid_until 1969-12-31", with_top(valid_until="1969-12-31"), 422, "valid_until")
    issue_row("valid_from 9999-12-31: the default validity ends after 9999", with_top(
            valid_from="9999-12-31"), 422, "valid_until")
    issue_row("valid_from five-digit year", with_top(valid_from="99999-01-01"), 422, "valid_from")
    issue_row("valid_from a date-time", with_top(valid_from="2026-01-01T00:00:00Z"), 422,
              "valid_from")
    issue_row("valid_from without padding", with_top(valid_from="2026-1-1"), 422, "valid_from")
    issue_row("valid_from a number", with_top(valid_from=20260101), 422, "valid_from")
    issue_row("valid_until before valid_from",
              with_top(valid_from="2027-01-01", valid_until="2026-12-31"),
              422, "valid_until")
    issue_row("valid_until null on an expiring type", with_top(valid_until=None), 422,
              "valid_until")
    issue_row("valid_until 29 February of a common year", with_top(valid_until="2027-02-29"), 422,
              "valid_until")


# Face fields.
def hostile_face_fields_are_refused(fx):
    issue_row("fields unknown member", with_field(bogus="x"), 422, "fields.bogus")
    issue_row("fields.address 201 characters", with_field(address="址" * 201), 422, "fields.address")
    issue_row("fields.address a number", with_field(address=12), 422, "fields.address")
    issue_row("fields.address null (required)", with_field(address=None), 422, "fields.address")
    issue_row("fields.address an object", with_field(address={"$ne": 1}), 422, "fields.address")
    issue_row("fields enum value in the wrong script",
              with_field(radiation_activity_category="use"), 422,
              "fields.radiation_activity_category")
    issue_row("fields.remarks with a tab", with_field(remarks="a\tb"), 422, "fields.remarks")
    issue_row("number of 65 characters", with_top(number="N" * 65), 422, "number")


# Content types, sizes, authentication.
def wrong_media_type_size_or_token_is_refused(fx):
    issue_row("Content-Type text/plain", valid_json, 415, ctype="text/plain")
    issue_row("Content-Type application/xml", valid_json, 415, ctype="application/xml")
    issue_row("Content-Type multipart/form-data", valid_json, 415,
              ctype="multipart/form-data; boundary=x")
    issue_row("no Content-Type", valid_json, 415, ctype=None)
    issue_row("charset latin-1", valid_json, 415, ctype="application/json; charset=iso-8859-1")
    issue_row("application/json-patch+json", valid_json, 415, ctype="application/json-patch+json")
    issue_row("Content-Length 1 MiB", b"{" + b" " * (MIB - 2) + b"}", 413, early=True)
    issue_row("chunked body over the limit", b"[" * 100 + b" " * (100 * 1024), 413,
              headers=[("Transfer-Encoding", "chunked")])
    issue_row("no Authorization", valid_json, 401, auth=None)
    issue_row("Authorization Basic", valid_json, 401, auth=None,
              headers=[("Authorization", "Basic " + base64.b64encode(b"admin:admin").decode())])
    issue_row("Bearer garbage", valid_json, 401, auth=None,
              headers=[("Authorization", "Bearer garbage")])
    issue_row("Bearer empty", valid_json, 401, auth=None, headers=[("Authorization", "Bearer ")])
    issue_row("Bearer 1000 characters", valid_json, 401, auth=None,
              headers=[("Authorization", "Bearer " + "A" * 1000)])
    issue_row("Bearer SQL", valid_json, 401, auth=None,
              headers=[("Authorization", "Bearer " + SQLI)])
    issue_row("Bearer invalid UTF-8", valid_json, 401, auth=None,
              headers=[("Authorization", b"Bearer \xff\xfe\xfd")])
    issue_row("Bearer token then junk", valid_json, 401, auth=None,
              headers=[("Authorization", "Bearer " + fx.issuer + " x")])
    issue_row("a revoked client's token", valid_json, 401, auth="gone")
    issue_row("a reader may not issue", valid_json, 403, auth="reader", audits=1)
    issue_row("an admin may not issue", valid_json, 403, auth="admin", audits=1)


# Wrong methods.
def wrong_methods_are_405(fx):
    for method, path in (("PUT", "/api/v1/certificates"),
                         ("DELETE", "/api/v1/certificates/" + fx.L),
                         ("PATCH", "/api/v1/certificates/" + fx.L), ("GET", "/api/v1/verify"),
                         ("POST", "/api/v1/types"), ("DELETE", "/api/v1/audit"),
                         ("POST", "/healthz"), ("PUT", "/v/" + fx.TOKEN[:20])):
        ROWS.append(Row("%s %s" % (method, path[:40]), method, path, 405, auth="admin"))
    ROWS.append(Row("an unknown method", "FROB", "/api/v1/certificates", 405, auth="admin"))


# Path segments: SQL, traversal, encodings.
def hostile_path_segments_are_refused(fx):
    for name, seg, status in (
            ("%2e%2e%2f", "%2e%2e%2f", 400),
            ("id with a bad check character", fx.L[:-1] + ("0" if fx.L[-1] != "0" else "1"), 400),
            ("id with a NUL", "1.2.156%00", 400),
            ("id with invalid UTF-8", "%ff%fe", 400),
            ("id with a raw invalid UTF-8 byte", b"\xff", 400),
            ("id 4000 characters", "1" * 4000, 400),
            ("id of a well-formed unknown licence",
             "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F", 404)):
        path = CERT.encode() + seg if isinstance(seg, bytes) else CERT + seg
        ROWS.append(Row("GET " + name, "GET", path, status, auth="reader"))
    # Unencoded, the dots are path segments of their own: no route has them.
    ROWS.append(Row("GET raw traversal", "GET", CERT + "../../etc/passwd", 404, auth="reader"))
    ROWS.append(Row("GET traversal out of the API", "GET", "/api/v1/../../../etc/passwd", 404))
    ROWS.append(Row("GET encoded traversal out of the API", "GET",
                    "/api/v1/%2e%2e/%2e%2e/etc/passwd", 404))
    ROWS.append(Row("GET raw traversal after a valid id", "GET",
                    CERT + fx.L + "/../../../etc/passwd", 404, auth="reader"))
    ROWS.append(Row("GET face.png ?scale=99", "GET", CERT + fx.L + "/face.png?scale=99", 400,
                    auth="reader", field="scale"))
    ROWS.append(Row("GET with invalid UTF-8 in the query", "GET", CERT + fx.L + "?x=%ff", 400,
                    auth="reader"))
    ROWS.append(Row("GET with 30 query parameters", "GET", CERT + fx.L + "?" + "&".join(
        "p%d=1" % i for i in range(30)), 400, auth="reader"))
    ROWS.append(Row("GET a licence without a token", "GET", CERT + fx.L, 401))
    ROWS.append(Row("GET a licence with a revoked token", "GET", CERT + fx.L, 401, auth="gone"))


# Lifecycle with hostile bodies.
def hostile_lifecycle_bodies_are_refused(fx):
    for action, body, status, field in (
            ("suspend", b"[]", 400, None),
            ("suspend", b'{"reason": ', 400, None),
            ("suspend", {"reason": 12}, 422, "reason"),
            ("suspend", {"reason": "x" * 5000}, 422, "reason"),
            ("suspend", {"reason": "x" * 1001}, 422, "reason"),
            ("suspend", {"reason": "ok", "kind": "revoked"}, 422, "kind"),
            ("suspend", {"reason": "ok", "admin": True}, 422, "admin"),
            ("revoke", {"reason": "ok", "kind": "destroyed"}, 422, "kind"),
            ("revoke", {"reason": "ok", "kind": None}, 422, "kind"),
            ("reinstate", {"reason": "not suspended"}, 409, None),
            ("amend", {"approval_ref": "A-1", "holder": {"code": "91350100M000100Y43"}}, 422,
             "holder.code"),
            ("amend", {"approval_ref": "A-2", "fields": {"address": 5}}, 422, "fields.address"),
            ("amend", {"approval_ref": "A-3", "type": T_TRAIN}, 422, "type"),
            ("amend", {"approval_ref": "A-4", "valid_until": "2026-02-30"}, 422, "valid_until"),
            ("amend", [], 400, None)):
        ROWS.append(Row("%s %s" % (action,
                                   json.dumps(body)[:50] if not isinstance(body, bytes) else body),
                        "POST", CERT + fx.L + "/" + action, status, body, "issuer",
                        "application/json", field=field))
    ROWS.append(Row("suspend by another authority's issuer", "POST", CERT + fx.L + "/suspend", 403,
                    {"reason": "x"}, "other", "application/json", audits=1))
    ROWS.append(Row("suspend by a reader", "POST", CERT + fx.L + "/suspend", 403, {"reason": "x"},
                    "reader", "application/json", audits=1))
    ROWS.append(Row("revoke an unknown id", "POST",
                    CERT + licence_id(T_RAD, ENV, "ZZZZZZ") + "/revoke",
                    404, {"reason": "x"}, "issuer", "application/json"))
    ROWS.append(Row("suspend with text/plain", "POST", CERT + fx.L + "/suspend", 415, "reason",
                    "issuer", "text/plain"))


# Bundles.
def hostile_bundles_are_refused(fx):
    for name, body, status, field in (
            ("bundle: certificates an object", {"approval_ref": "B-1", "certificates": {}}, 422,
             "certificates"),
            ("bundle: one certificate", {"approval_ref": "B-2", "certificates": [one]}, 422,
             "certificates"),
            ("bundle: 17 certificates", {"approval_ref": "B-3", "certificates": [one] * 17}, 422,
             "certificates"),
            ("bundle: a bad holder code in the second", {"approval_ref": "B-4", "certificates": [
                one, dict(one, holder=dict(one["holder"], code=SQLI))]}, 422,
             "certificates.1.holder.code"),
            ("bundle: null members", {"approval_ref": "B-5", "certificates": [None, None]}, 422,
             "certificates.0"),
            ("bundle: approval_ref missing", {"certificates": [one, one]}, 422, "approval_ref"),
            ("bundle: a JSON array", [one, one], 400, None)):
        ROWS.append(Row(name, "POST", "/api/v1/bundles", status, body, "issuer", "application/json",
                        field=field))


# Holders and the audit log.
def hostile_holder_and_audit_queries_are_refused(fx):
    for name, path, status, headers, field, audits in (
            # A code failing its check is a typo until the caller says it is
            # a pilot-region code (SPEC §2): 400 before any read, nothing audited.
            ("holder code with a bad check character", HOLD + "91440300708461136U/certificates",
             400, PURPOSE, "code", 0),
            ("holder code with a bad check character, ?unchecked=true",
             HOLD + "91440300708461136U/certificates?unchecked=true", 200, PURPOSE, None, 1),
            ("holder code with a bad character, ?unchecked=true",
             HOLD + "9144030070846113IT/certificates?unchecked=true", 400, PURPOSE, "code", 0),
            ("?unchecked=1", HOLD + "91440300708461136T/certificates?unchecked=1", 400, PURPOSE,
             "unchecked", 0),
            ("?stauts= (misspelt)", HOLD + "91440300708461136T/certificates?stauts=revoked", 400,
             PURPOSE, "stauts", 0),
            ("?status= twice", HOLD + "91440300708461136T/certificates?status=valid&status=revoked",
             400, PURPOSE, "status", 0),
            # Refused without a purpose: audited as denied (issue 18).
            ("holder without X-Purpose", HOLD + "91440300708461136T/certificates", 400, [],
             "X-Purpose", 1),
            ("X-Purpose of 201 characters", HOLD + "91440300708461136T/certificates", 400,
             [("X-Purpose", "因" * 201)], "X-Purpose", 0),
            ("X-Purpose with an encoded newline", HOLD + "91440300708461136T/certificates", 400,
             [("X-Purpose", "a%0Ab")], "X-Purpose", 0),
            ("X-Purpose with invalid UTF-8", HOLD + "91440300708461136T/certificates", 400,
             [("X-Purpose", b"\xff\xfe")], "X-Purpose", 0),
            ("X-Case-Ref with an encoded NUL", HOLD + "91440300708461136T/certificates", 400,
             PURPOSE + [("X-Case-Ref", "a%00b")], "X-Case-Ref", 0),
            ("X-Purpose in SQL is only text", HOLD + "91440300708461136T/certificates", 200,
             [("X-Purpose", SQLI), ("X-Case-Ref", TRAVERSAL), ("X-Service-Item", SQLI)], None, 1),
            ("X-Service-Item traversal is only text", HOLD + "91440300708461136T/certificates", 200,
             PURPOSE + [("X-Service-Item", TRAVERSAL)], None, 1),
            ("?type= a well-formed code not in the catalog", HOLD +
             "91440300708461136T/certificates?type=11100000000013338W999", 400, PURPOSE, "type", 0),
            ("?status= upper case", HOLD + "91440300708461136T/certificates?status=VALID", 400,
             PURPOSE, "status", 0),
            ("holder code of 19 characters", HOLD + "91440300708461136TT/certificates", 400,
             PURPOSE,
             "code", 0)):
        ROWS.append(Row(name, "GET", path, status, auth="reader", headers=headers, field=field,
                        audits=audits))
    # Only a reader reads a holder's licences: an admin or an issuer is
    # refused, and the refusal audited (denied).
    for who in ("admin", "issuer"):
        ROWS.append(Row("holder lookup by an " + who, "GET",
                        HOLD + "91440300708461136T/certificates",
                        403, auth=who, headers=PURPOSE, audits=1))
    for q, field in (("after=-1", "after"), ("after=1e3", "after"), ("limit=0", "limit"),
                     ("limit=1001", "limit"), ("limit=%27", "limit"),
                     ("since=2026-02-30T00:00:00Z", "since"),
                     ("since=99999999999999999999", "since")):
        ROWS.append(Row("audit ?" + q, "GET", "/api/v1/audit?" + q, 400, auth="admin", field=field))
    ROWS.append(Row("audit by a reader", "GET", "/api/v1/audit", 403, auth="reader",
                    audits=1))
    ROWS.append(Row("audit ?bogus=1", "GET", "/api/v1/audit?bogus=1", 400, auth="admin",
                    field="bogus"))


# Verification: always 200 with a verdict for a body under 4 KiB.
def forged_tokens_do_not_verify(fx):
    for name, text, results in fx.forged_tokens():
        ROWS.append(Row("verify: " + name, "POST", "/api/v1/verify", 200, text, ctype="text/plain",
                        result=results))


# Whatever JSON arrives (under 4 KiB, as application/json), the answer is
# a verdict: "malformed", with no certificate (SPEC §5: "Always 200").
def hostile_verify_bodies_get_a_verdict(fx):
    for name, body in (("qr a number", {"qr": 12}), ("qr null", {"qr": None}), ("{}", {}),
                       ("truncated", b'{"qr": "'), ("not JSON at all", b"qr=" + fx.TOKEN.encode()),
                       ("an array", [fx.TOKEN]), ("a string", json.dumps(fx.TOKEN)),
                       ("qr an object", {"qr": {"token": fx.TOKEN}}),
                       ("neither shape", {"token": fx.TOKEN, "admin": True}),
                       ("invalid UTF-8", b'{"qr": "\xff\xfe"}'),
                       ("holder_code a number", {"number": "x", "holder_code": 5}),
                       ("nested 1,000 deep", b"[" * 1000 + b"]" * 1000)):
        ROWS.append(Row("verify: JSON " + name, "POST", "/api/v1/verify", 200, body,
                        ctype="application/json", result=MAL))
    ROWS.append(Row("verify: JSON qr with SQL", "POST", "/api/v1/verify", 200, {"qr": SQLI},
                    ctype="application/json", result=MAL))
    ROWS.append(Row("verify: body of 4097 bytes", "POST", "/api/v1/verify", 413, "A" * 4097,
                    ctype="text/plain"))
    ROWS.append(Row("verify: body of 1 MiB", "POST", "/api/v1/verify", 413, "A" * MIB,
                    ctype="text/plain", early=True))
    ROWS.append(Row("verify: Content-Type application/xml", "POST", "/api/v1/verify", 415, fx.TOKEN,
                    ctype="application/xml"))
    ROWS.append(Row("verify: charset latin-1", "POST", "/api/v1/verify", 415, fx.TOKEN,
                    ctype="text/plain; charset=latin-1"))
    ROWS.append(Row("/v page of a forged token", "GET", "/v/" + token_of(nested(10000)), 200,
                    problem=False))
    ROWS.append(Row("/v page of a zlib bomb", "GET", "/v/" + b64url_encode(
        zero_bomb), 200, problem=False))
    ROWS.append(Row("/v page with a NUL", "GET", "/v/%00", 400))
    ROWS.append(Row("/v form with invalid UTF-8", "POST", "/v", 400, b"licence=%ff&holder_code=x",
                    ctype="application/x-www-form-urlencoded", field="licence"))
    ROWS.append(Row("/v form of JSON", "POST", "/v", 415, b"{}", ctype="application/json"))


# What libmicrohttpd answers before certsvc sees the request: 4xx, no
# problem body of ours (problem=False), and the server stays up.  Headers
# over max_header are 431, a request line over it 414 (http.c's comment).
def library_refusals_keep_the_server_up(fx):
    ROWS.append(Row("one header of 40 KiB", "GET", "/api/v1/types", 431,
                    headers=[("X-Big", "a" * 40960)], problem=False, allow_close=True))
    ROWS.append(Row("3000 headers", "GET", "/api/v1/types", 431,
                    headers=[("X-H%d" % i, "v" * 10) for i in range(3000)], problem=False,
                    allow_close=True))
    ROWS.append(Row("request line of 40 KiB", "GET", "/v/" + "A" * 40960, 414,
                    problem=False, allow_close=True))
    ROWS.append(Row("Authorization of 40 KiB", "GET", CERT + fx.L, 431,
                    headers=[("Authorization", "Bearer " + "A" * 40960)], problem=False,
                    allow_close=True))
    ROWS.append(Row("Content-Length not a number", "POST", "/api/v1/verify", 400, None,
                    headers=[("Content-Length", "abc")], problem=False, allow_close=True))
    ROWS.append(Row("Content-Length negative", "POST", "/api/v1/verify", 400, None,
                    headers=[("Content-Length", "-5")], problem=False, allow_close=True))
    ROWS.append(Row("Content-Length 2^64", "POST", "/api/v1/verify", 413, None,
                    headers=[("Content-Length", "18446744073709551616")], problem=False,
                    allow_close=True))
    ROWS.append(Row("bad chunk size", "POST", "/api/v1/verify", 400, b"zz\r\nabc\r\n0\r\n\r\n",
                    headers=[("Transfer-Encoding", "chunked")], problem=False, allow_close=True))
    # RFC 9112 §3.2 asks for 400; libmicrohttpd 0.9.75 lets it through unless
    # pedantic, and nothing in certsvc depends on Host.
    ROWS.append(Row("HTTP/1.1 without Host", "GET", "/healthz", 200, headers=[("Host", None)],
                    problem=False, allow_close=True))


# --- issue 13, items 7, 8, 9, 11 and 12 ---

# 7: holder.unchecked accepts a pilot-region credit code whose only fault is
# its check character (SPEC §2); a resident ID is never unchecked.
def issue13_unchecked_rid_is_refused(fx):
    RID_OK = rid("11010519491231002")
    RID_BAD = RID_OK[:-1] + ("0" if RID_OK[-1] != "0" else "1")
    for name, code in (("a wrong check character", RID_BAD), ("a right one", RID_OK)):
        train = sample_request(T_TRAIN, ref(), code)
        train["holder"]["unchecked"] = True
        issue_row("RID with %s and holder.unchecked" % name, train, 422, "holder.unchecked")


# 8: a bundle issues each licence once (docs/design.md, "Bundles"): a second
# member of the same type for the same holder is refused, naming it, and a
# member carries no approval_ref of its own.
def issue13_bundle_issues_each_licence_once(fx):
    ROWS.append(Row("bundle: the same member twice", "POST", "/api/v1/bundles", 422,
                    {"approval_ref": ref(), "certificates": [one, one]}, "issuer",
                    "application/json", field="certificates.1"))
    for name, second in (
            ("its holder code in lower case", dict(one, holder=dict(
                one["holder"], code=one["holder"]["code"].lower()))),
            ("other face fields", dict(one, fields=dict(one["fields"], remarks="另一份")))):
        ROWS.append(Row("bundle: a second of one type for one holder, " + name, "POST",
                        "/api/v1/bundles", 422,
                        {"approval_ref": ref(), "certificates": [one, second]},
                        "issuer", "application/json", field="certificates.1"))
    ROWS.append(Row("bundle: a member with an approval_ref of its own", "POST", "/api/v1/bundles",
                    422, {"approval_ref": ref(), "certificates": [
                        one,
                        dict(one, holder=dict(one["holder"], code=SECOND), approval_ref="X-1")]},
                    "issuer", "application/json", field="certificates.1.approval_ref"))


# 11: idempotency compares requests after normalisation: codes in lower
# case name the same holder and authority (SPEC §2), so replaying them is
# the same request (200, the same licence), for an issuance and a bundle.
def same_id(want):
    return lambda r: None if (as_json(r) or {}).get("id") == want else \
        "another licence: %s" % r.body[:200]


def lower_codes(req):
    low = json.loads(json.dumps(req))
    for member in low.get("certificates", [low]):
        member["holder"]["code"] = member["holder"]["code"].lower()
        member["issuer"]["code"] = member["issuer"]["code"].lower()
    return low


def issue13_replay_with_lower_case_codes(fx):
    replayed = base_request("H-REPLAY", issuer={"code": ENV})
    r = fx.send("POST", "/api/v1/certificates", replayed, "issuer", "application/json")
    check(r.status == 201, "a licence to replay (%s %s)" % (r.status, r.body[:200]))
    issue_row("replay with the codes in lower case", lower_codes(replayed), 200, problem=False,
              answer=same_id((as_json(r) or {}).get("id")))
    pair = {"approval_ref": "H-REPLAY-B", "certificates": [dict(one, issuer={"code": ENV}), dict(
        one, holder=dict(one["holder"], code=SECOND), issuer={"code": ENV})]}
    r = fx.send("POST", "/api/v1/bundles", pair, "issuer", "application/json")
    check(r.status == 201, "a bundle to replay (%s %s)" % (r.status, r.body[:200]))
    ROWS.append(Row("bundle replay with the codes in lower case", "POST", "/api/v1/bundles", 200,
                    lower_codes(pair), "issuer", "application/json", problem=False,
                    answer=same_id((as_json(r) or {}).get("id"))))


# 12: text printed on a face or a page is what it shows: no C1 control, line
# or paragraph separator, BOM, zero-width or bidirectional formatting
# character, not blank, and no space at either end (refused, never trimmed).
def issue13_invisible_text_is_refused(fx):
    INVISIBLE = (("U+0085", "\u0085"), ("U+2028", "\u2028"), ("U+2029", "\u2029"),
                 ("BOM", "\ufeff"), ("U+200B", "\u200b"), ("U+200D", "\u200d"), ("LRM", "\u200e"),
                 ("U+2060", "\u2060"), ("U+202A", "\u202a"), ("U+202E", "\u202e"),
                 ("U+2066", "\u2066"), ("U+2069", "\u2069"))
    for name, c in INVISIBLE:
        issue_row("holder.name with %s" % name, with_holder(name="深圳" + c + "医院"), 422,
                  "holder.name")
    for name, value in (("only spaces", "   "), ("only U+3000", "\u3000\u3000"),
                        ("a leading space", " 深圳市第一人民医院"),
                        ("a trailing U+3000", "深圳市第一人民医院\u3000")):
        issue_row("holder.name of %s" % name, with_holder(name=value), 422, "holder.name")
    issue_row("fields.remarks with U+202E", with_field(remarks="\u202eRTL"), 422, "fields.remarks")
    issue_row("fields.address only spaces", with_field(address="   "), 422, "fields.address")
    issue_row("number with U+200B", with_top(number="粤环辐证[\u200b00001]"), 422, "number")
    ROWS.append(Row("bundle: certificates.1.holder.name with U+2028", "POST", "/api/v1/bundles",
                    422, {"approval_ref": ref(), "certificates": [one, dict(one, holder=dict(
                        one["holder"], code=SECOND, name="A\u2028B"))]}, "issuer",
                    "application/json", field="certificates.1.holder.name"))
    ROWS.append(Row("amend: holder.name with U+202E", "POST", CERT + fx.L + "/amend", 422,
                    {"approval_ref": ref(), "holder": {"name": "\u202e院医"}}, "issuer",
                    "application/json", field="holder.name"))
    ROWS.append(Row("amend: a reason with U+2066", "POST", CERT + fx.L + "/amend", 422,
                    {"approval_ref": ref(), "reason": "\u2066x"}, "issuer", "application/json",
                    field="reason"))
    for action in ("suspend", "reinstate", "revoke"):
        ROWS.append(Row("%s: a reason with U+202E" % action, "POST", CERT + fx.L + "/" + action,
                        422, {"reason": "\u202e因原"}, "issuer", "application/json",
                        field="reason"))
        ROWS.append(Row("%s: a blank reason" % action, "POST", CERT + fx.L + "/" + action, 422,
                        {"reason": " \u3000 "}, "issuer", "application/json", field="reason"))


# --- issue 13, items 2 and 3 ---
# No rows: both need a full disk under the running server (a tmpfs filled
# with dd), not one request, and this table's server must stay healthy.
# tests/http_disk_full_test.py covers them: writes 503 with Retry-After,
# /healthz 503 "disk full", reads 503 once their audit records have waited
# audit_max_lag_ms, recovery without a restart.

# --- issue 13, item 4: request framing (RFC 9112 §6) ---
# A head that frames its body more than one way is refused before the body
# is read: 400 naming the header, and the connection closed (the rows ask
# to keep it alive, so the close is the server's).  That the server really
# closes, and never answers a request pipelined after the body, takes a
# second request on the same socket: tests/http_framing_test.py.

def closes(r):
    return None if (r.header("connection") or "").lower() == "close" else \
        "the connection is kept (Connection: %s)" % r.header("connection")


def issue13_framing_refused_and_closed(fx):
    KEEP = [("Connection", "keep-alive")]
    for name, headers, body, field in (
            ("two different Content-Lengths", [("Content-Length", "5"), ("Content-Length", "45")],
             b"hello", "Content-Length"),
            ("the same Content-Length twice", [("Content-Length", "5"), ("Content-Length", "5")],
             b"hello", "Content-Length"),
            ("chunked and Content-Length both", [("Transfer-Encoding", "chunked"),
                                                 ("Content-Length", "5")],
             b"5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding"),
            ("Transfer-Encoding: gzip, chunked", [("Transfer-Encoding", "gzip, chunked")],
             b"hello", "Transfer-Encoding"),
            ("Transfer-Encoding: chunked, gzip", [("Transfer-Encoding", "chunked, gzip")],
             b"hello", "Transfer-Encoding"),
            ("Transfer-Encoding: identity", [("Transfer-Encoding", "identity")], b"hello",
             "Transfer-Encoding"),
            ("Transfer-Encoding: chunked twice", [("Transfer-Encoding", "chunked"),
                                                  ("Transfer-Encoding", "chunked")], b"hello",
             "Transfer-Encoding")):
        ROWS.append(Row(name, "POST", "/api/v1/verify", 400, body, headers=headers + KEEP,
                        ctype="text/plain", field=field, answer=closes))
    # A Content-Length that is not a plain decimal: libmicrohttpd refuses it
    # before certsvc sees the request, with its own HTML page (docs/design.md,
    # "Request framing"); "005" is a plain decimal and an OWS-padded value is
    # the same value (RFC 9110 §5.5).
    for value in ("+5", "5,5", "0x5", "5 5"):
        ROWS.append(Row("Content-Length %r" % value, "POST", "/api/v1/verify", 400, b"hello",
                        headers=[("Content-Length", value)], ctype="text/plain", problem=False,
                        allow_close=True))


# --- issue 13, item 13: error shapes ---
# Who may act is decided before the body is read: a 403 carries no errors[]
# about the body's members, however wrong they are.

def no_errors(r):
    errs = (as_json(r) or {}).get("errors")
    return None if errs is None else "a 403 lists the body's errors: %s" % errs


def issue13_403_before_the_body(fx):
    bad_body = with_top(admin=True, approval_ref=None)
    bad_one = dict(one, bogus=1)
    for name, path, who, body in (
            ("a reader issues an invalid request", "/api/v1/certificates", "reader", bad_body),
            ("an admin issues an invalid request", "/api/v1/certificates", "admin", bad_body),
            ("a reader issues an invalid bundle", "/api/v1/bundles", "reader",
             {"approval_ref": None, "admin": 1, "certificates": [bad_one, bad_one]}),
            ("an issuer without the grant of the second member", "/api/v1/bundles", "other",
             {"approval_ref": ref(), "certificates": [bad_one, dict(one, issuer={"code": ENV})]}),
            ("a reader suspends with an invalid body", CERT + fx.L + "/suspend", "reader",
             {"reason": 12, "admin": 1}),
            ("a reader revokes with an invalid kind", CERT + fx.L + "/revoke", "reader",
             {"reason": "x", "kind": "destroyed"}),
            ("another authority's issuer suspends with an invalid body", CERT + fx.L + "/suspend",
             "other", {"reason": 12}),
            ("a reader amends with an invalid body", CERT + fx.L + "/amend", "reader",
             {"approval_ref": 5, "type": T_TRAIN})):
        ROWS.append(Row(name, "POST", path, 403, body, who, "application/json", audits=1,
                        answer=no_errors))


# A NUL is answered in words, never with the JSON library's flag name: a
# "\u0000" escape is valid JSON, so a value holding it is a 422 naming its
# member (no text of certsvc takes one); a raw NUL byte is not JSON (400).

def no_library_words(r):
    text = r.body.decode(errors="replace")
    return "the answer names jansson's flag: %s" % text[:300] if "JSON_" in text else None


def issue13_nul_in_words(fx):
    NUL_IN = valid_json.replace("张伟".encode(), b"a\\u0000b")
    issue_row("escaped NUL in a face field", NUL_IN, 422, "fields.legal_representative",
              answer=no_library_words)
    issue_row("escaped NUL alone in holder.name", with_holder(name="\0"), 422, "holder.name",
              answer=no_library_words)
    issue_row("raw NUL byte in a string", valid_json.replace("张伟".encode(), b"a\x00b"), 400,
              answer=no_library_words)
    issue_row("raw NUL byte after the object", valid_json + b"\x00", 400, answer=no_library_words)
    issue_row("escaped NUL in a member's name",
              valid_json.replace(b'"holder"', b'"a\\u0000b": 1, "holder"', 1), 400,
              answer=no_library_words)
    ROWS.append(Row("suspend with an escaped NUL in the reason", "POST", CERT + fx.L + "/suspend",
                    422, b'{"reason": "a\\u0000b"}', "issuer", "application/json", field="reason",
                    answer=no_library_words))
    ROWS.append(Row("bundle with an escaped NUL in a member", "POST", "/api/v1/bundles", 422,
                    {"approval_ref": ref(), "certificates": [one, dict(one, number="N\0")]},
                    "issuer", "application/json", field="certificates.1.number",
                    answer=no_library_words))
    ROWS.append(Row("verify: JSON qr with an escaped NUL", "POST", "/api/v1/verify", 200,
                    b'{"qr": "EL1:A\\u0000B"}', ctype="application/json", result=MAL,
                    answer=no_library_words))


# A NUL in a text header is a 400 naming the header.  A raw NUL byte after
# some text is not among these rows: libmicrohttpd 0.9.75 hands the value
# to certsvc already cut at the NUL, length included (docs/design.md).
def issue13_nul_in_headers(fx):
    # A raw NUL alone arrives as an empty value: no purpose, a refusal the
    # lookup audits (denied); the others are refused as malformed headers.
    for name, value, audits in (("X-Purpose", b"\x00", 1), ("X-Purpose", b"a%00b", 0),
                                ("X-Service-Item", b"a%00b", 0)):
        headers = ([] if name == "X-Purpose" else PURPOSE) + [(name, value)]
        ROWS.append(Row("%s with %r" % (name, value), "GET",
                        HOLD + "91440300708461136T/certificates", 400, auth="reader",
                        headers=headers, field=name, audits=audits))


# --- issue 13, items 5 and 10 --------------------------------------------------
# The grant is checked on the identifier, which names the type and the
# issuing authority, before any lookup: the same 403 for a licence that
# exists (L) and for one that does not, to a reader of another type and to
# an issuer of another authority (item 5).  Each refusal leaves one audit
# record, result "denied" (item 10), which ?result= filters.
def issue13_same_403_either_way(fx):
    fx.TOKENS["rd_train"] = fx.w.client("rd_train", "reader", T_TRAIN)
    UNKNOWN_ENV = licence_id(T_RAD, ENV, "ZZZZZZ")
    for which, lid in (("exists", fx.L), ("is unknown", UNKNOWN_ENV)):
        for sub in ("", "/qr.png", "/qr.svg", "/face.svg", "/face.png"):
            ROWS.append(Row("GET %s of an ungranted type: licence %s" % (sub or "{id}", which),
                            "GET", CERT + lid + sub, 403, auth="rd_train", audits=1))
        for action, body in (("suspend", {"reason": "x"}), ("reinstate", {"reason": "x"}),
                             ("revoke", {"reason": "x"}), ("amend", {"approval_ref": ref()})):
            ROWS.append(Row("%s by another authority: licence %s" % (action, which), "POST",
                            CERT + lid + "/" + action, 403, body, "other", "application/json",
                            audits=1))
    ROWS.append(Row("bundle with a member under another authority", "POST", "/api/v1/bundles", 403,
                    {"approval_ref": ref(),
                     "certificates": [one, dict(one, issuer={"code": OTHER})]},
                    "issuer", "application/json", audits=1))
    for value in ("refused", "DENIED", SQLI):
        ROWS.append(Row("audit ?result=%s" % value, "GET",
                        "/api/v1/audit?result=" + urllib.parse.quote(value, safe=""), 400,
                        auth="admin", field="result"))


# --- issue 13, item 14 --------------------------------------------------------
# The issuer's free-text reason stays out of the public view: verification
# by QR text, by paper copy and the /v page show the kind and the date of a
# revocation, not its reason; a reader with the grant sees it.
SECRET = "item-14 reason: 举报人张三"


def reason_hidden(r):
    return "the reason is public: %s" % r.body[:300] if SECRET.encode() in r.body else None


def reason_shown(r):
    detail = (as_json(r) or {}).get("status_detail") or {}
    return None if detail.get("reason") == SECRET else "no reason for the reader: %s" % detail


def issue13_reason_not_public(fx):
    r = fx.send("POST", "/api/v1/certificates", base_request(ref()), "issuer", "application/json")
    GONE = as_json(r) or {}
    r = fx.send("POST", CERT + GONE.get("id", "?") + "/revoke",
                {"reason": SECRET, "kind": "cancelled"}, "issuer", "application/json")
    check(r.status == 200, "setup: revoke a licence with a reason (%s)" % r.status)
    ROWS.append(Row("verify a revoked licence: no reason", "POST", "/api/v1/verify", 200,
                    GONE.get("qr_text", ""), ctype="text/plain", result={"revoked"},
                    answer=reason_hidden))
    ROWS.append(Row("paper copy of a revoked licence: no reason", "POST", "/api/v1/verify", 200,
                    {"id": GONE.get("id", ""),
                     "holder_code": GONE.get("holder", {}).get("code", "")},
                    ctype="application/json", result={"revoked"}, answer=reason_hidden))
    ROWS.append(Row("/v page of a revoked licence: no reason", "GET",
                    "/v/" + GONE.get("token", ""), 200, problem=False, answer=reason_hidden))
    ROWS.append(Row("a reader reads the revoked licence: its reason", "GET",
                    CERT + GONE.get("id", "?"), 200, auth="reader", problem=False, audits=1,
                    answer=reason_shown))


# --- issue 13, item 1: licence numbers are unique per type and authority ---
# A licence whose number is given by hand; each row gives that number to
# another licence (L's amendment, a new one, a bundle's second member) and
# must get a 409 naming the member.  The numbering rule's skip and
# concurrent issuances are not one request each: http_numbers_test.
def issue13_numbers(fx):
    r = fx.send("POST", "/api/v1/certificates",
                base_request("H-NUMBER", number="粤环辐证[H0001]"), "issuer", "application/json")
    check(r.status == 201, "a licence with a given number (%s %s)" % (r.status, r.body[:200]))
    TAKEN = (as_json(r) or {}).get("number", "")
    issue_row("issue: a number another licence carries", base_request(ref(), number=TAKEN), 409,
              "number")
    issue_row("issue: the number the rule gave L", base_request(ref(), number=fx.L_NUMBER), 409,
              "number")
    ROWS.append(Row("bundle: two members giving one number", "POST", "/api/v1/bundles", 409,
                    {"approval_ref": ref(), "certificates": [
                        dict(one, number="粤环辐证[H0002]"),
                        dict(one, number="粤环辐证[H0002]",
                             holder=dict(one["holder"], code=SECOND))]},
                    "issuer", "application/json", field="certificates.1.number"))
    ROWS.append(Row("amend: to another licence's number", "POST", CERT + fx.L + "/amend", 409,
                    {"approval_ref": ref(), "number": TAKEN}, "issuer", "application/json",
                    field="number"))


# --- issue 13, item 6: holder lookups come in pages --------------------------
# A bad ?limit= or ?cursor= is a 400 naming it; a cursor of another
# holder's pages too (set-up: a holder with two licences, whose first page
# of one gives a cursor).  Paging through every licence exactly once is
# not one request: http_holder_pages_test.
def issue13_holder_pages(fx):
    PAGED = uscc("91440300MA5FPAGE0")
    for k in range(2):
        r = fx.send("POST", "/api/v1/certificates", base_request("H-PAGED-%d" % k, holder=dict(
            base_request("x")["holder"], code=PAGED)), "issuer", "application/json")
        check(r.status == 201, "a licence of a second holder (%s %s)" % (r.status, r.body[:200]))
    r = fx.send("GET", HOLD + PAGED + "/certificates?limit=1", auth="reader", headers=PURPOSE)
    OTHER_CURSOR = (as_json(r) or {}).get("next") or "?"
    check(OTHER_CURSOR != "?", "a page of one gives a cursor (%s %s)" % (r.status, r.body[:200]))
    BAD_PAGES = [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=-1", "limit"),
                 ("limit=x", "limit"), ("limit=1e3", "limit"), ("cursor=x", "cursor"),
                 ("cursor=-1", "cursor"), ("cursor=0", "cursor"), ("cursor=99999999999", "cursor"),
                 ("cursor=" + OTHER_CURSOR, "cursor")]
    BAD_PAGES += [(name + "=" + urllib.parse.quote(value, safe=""), name)
                  for _, value in HOSTILE for name in ("limit", "cursor")]
    for q, field in BAD_PAGES:
        ROWS.append(Row("holder ?" + q, "GET", HOLD + fx.L_HOLDER + "/certificates?" + q, 400,
                        auth="reader", headers=PURPOSE, field=field))


# --- SQL and path traversal in every member, segment and query ---------------
# Every member that refuses them (issue_members, amend_members; the members
# that take them as text were issued before the table), in a single
# issuance, in a bundle's second member and in an amendment; the kind of
# each lifecycle change; the paper copy's id, number and holder code; the
# id in every path that has one, the holder code, the token of /v/; every
# query parameter; the headers the server keeps (purpose, request id).

def html_page(r):
    if not (r.header("content-type") or "").startswith("text/html"):
        return "not an HTML page: %s" % r.header("content-type")
    return None


def no_records(r):
    doc = as_json(r) or {}
    return None if doc.get("records") == [] else "records found: %s" % r.body[:300]


def request_id_not(sent):
    def f(r):
        got = r.header("x-request-id")
        if not got:
            return "no X-Request-Id"
        return "the client's X-Request-Id %r was adopted" % sent if got == sent else None
    return f


def sql_and_traversal_in_refused_members(fx):
    for kind, value in HOSTILE:
        for m, refused in fx.issue_members(value):
            if not refused:
                continue
            issue_row("issue: %s in %s" % (kind, m), set_path(base_request(ref()), m, value), 422,
                      m)
            two = set_path(json.loads(json.dumps(one)), m, value)
            ROWS.append(Row("bundle: %s in certificates.1.%s" % (kind, m), "POST",
                            "/api/v1/bundles", 422,
                            {"approval_ref": ref(), "certificates": [one, two]}, "issuer",
                            "application/json", field="certificates.1." + m))
        for m, refused in fx.amend_members(value):
            if refused:
                ROWS.append(Row("amend: %s in %s" % (kind, m), "POST", CERT + fx.L + "/amend", 422,
                                set_path({"approval_ref": ref()}, m, value), "issuer",
                                "application/json", field=m))
        # revoke's kind is one of three words; suspend and reinstate take none.
        for action in ("suspend", "reinstate", "revoke"):
            ROWS.append(Row("%s: %s as the reason and the kind" % (action, kind), "POST",
                            CERT + fx.L + "/" + action, 422, {"reason": value, "kind": value},
                            "issuer", "application/json", field="kind"))


def sql_and_traversal_in_paper_copies_and_paths(fx):
    for kind, value in HOSTILE:
        # The paper copy: a malformed id or holder code is "malformed"; a number
        # no licence of that holder has is "not_found".
        for body, want in (({"id": value, "holder_code": fx.L_HOLDER}, MAL),
                           ({"id": fx.L, "holder_code": value}, MAL),
                           ({"number": fx.L_NUMBER, "holder_code": value}, MAL),
                           ({"number": value, "holder_code": NOBODY}, {"not_found"})):
            ROWS.append(Row("paper copy: %s in %s" % (kind, "/".join(sorted(body))), "POST",
                            "/api/v1/verify", 200, body, ctype="application/json", result=want))
        # Path segments, percent-encoded as a client library sends them.
        seg = urllib.parse.quote(value, safe="")
        for sub in ("", "/qr.png", "/qr.svg", "/face.svg", "/face.png"):
            ROWS.append(Row("GET a %s id%s" % (kind, sub), "GET", CERT + seg + sub, 400,
                            auth="reader"))
        for action, body in (("suspend", {"reason": "x"}), ("reinstate", {"reason": "x"}),
                             ("revoke", {"reason": "x"}), ("amend", {"approval_ref": ref()})):
            ROWS.append(Row("%s a %s id" % (action, kind), "POST", CERT + seg + "/" + action, 400,
                            body, "issuer", "application/json"))
        ROWS.append(Row("holder code %s" % kind, "GET", HOLD + seg + "/certificates", 400,
                        auth="reader", headers=PURPOSE, field="code"))
        ROWS.append(Row("/v page of %s" % kind, "GET", "/v/" + seg, 200, problem=False,
                        answer=html_page))
        ROWS.append(Row("/v?qr=%s" % kind, "GET", "/v?qr=" + seg, 200, problem=False,
                        answer=html_page))


def sql_and_traversal_in_queries_and_headers(fx):
    for kind, value in HOSTILE:
        seg = urllib.parse.quote(value, safe="")
        # Query strings.
        held = HOLD + fx.L_HOLDER + "/certificates?"
        for name in ("type", "status"):
            ROWS.append(Row("holder ?%s=%s" % (name, kind), "GET", held + name + "=" + seg, 400,
                            auth="reader", headers=PURPOSE, field=name))
        for name in ("client", "holder", "target"):
            ROWS.append(Row("audit ?%s=%s finds nothing" % (name, kind), "GET",
                            "/api/v1/audit?%s=%s" % (name, seg), 200, auth="admin", problem=False,
                            answer=no_records))
        # An action is one of a fixed list: anything else is named.
        ROWS.append(Row("audit ?action=%s is refused" % kind, "GET", "/api/v1/audit?action=" + seg,
                        400, auth="admin", field="action"))
        for name in ("since", "until", "after", "limit"):
            ROWS.append(Row("audit ?%s=%s" % (name, kind), "GET",
                            "/api/v1/audit?%s=%s" % (name, seg), 400, auth="admin", field=name))
        ROWS.append(Row("qr.svg ?form=%s" % kind, "GET", CERT + fx.L + "/qr.svg?form=" + seg, 400,
                        auth="reader", field="form"))
        ROWS.append(Row("face.png ?scale=%s" % kind, "GET", CERT + fx.L + "/face.png?scale=" + seg,
                        400, auth="reader", field="scale"))
        # Headers: the server's request id is its own, whatever the client says.
        ROWS.append(Row("X-Request-Id %s" % kind, "GET", "/api/v1/types", 200, problem=False,
                        headers=[("X-Request-Id", value)], answer=request_id_not(value)))
    ROWS.append(Row("X-Request-Id a well-formed one of the client's", "GET", "/api/v1/types", 200,
                    problem=False, headers=[("X-Request-Id", "client-chosen-0001")],
                    answer=request_id_not("client-chosen-0001")))
    ROWS.append(Row("X-Request-Id on a refused request", "POST", "/api/v1/certificates", 401,
                    valid_json, ctype="application/json", headers=[("X-Request-Id", "abc-123")],
                    answer=request_id_not("abc-123")))


# SQL of a holder code's length reaches the lookups, and matches nothing.
def sql_of_a_holder_codes_length_finds_nothing(fx):
    ROWS.append(Row("paper copy: the id with an 18-character SQL holder code", "POST",
                    "/api/v1/verify", 200, {"id": fx.L, "holder_code": SQL18},
                    ctype="application/json", result={"not_found"}))
    ROWS.append(Row("paper copy: the number with an 18-character SQL holder code", "POST",
                    "/api/v1/verify", 200, {"number": fx.L_NUMBER, "holder_code": SQL18},
                    ctype="application/json", result={"not_found"}))
    ROWS.append(Row("paper copy: a SQL number with the holder's code", "POST", "/api/v1/verify",
                    200, {"number": "' OR '1'='1", "holder_code": fx.L_HOLDER},
                    ctype="application/json", result={"not_found"}))
    ROWS.append(Row("holder code: 18 characters of SQL is refused before any read", "GET",
                    HOLD + urllib.parse.quote(SQL18, safe="") + "/certificates", 400, auth="reader",
                    headers=PURPOSE, field="code", audits=0))
