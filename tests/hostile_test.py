"""Hostile input, end to end: a table of requests no client should send.

Each row is one request to the real server with the status it must get and,
for answers certsvc makes itself, the RFC 9457 problem it must carry (type,
title, status, detail, and errors[].field where a field is to blame).  The
forged tokens are built here with cbor2 and python3-cryptography, some
signed with the server's own key so that the parser's deeper layers are
reached.  Nothing may answer 5xx or crash the server; after the table the
server still answers /healthz, its log holds no internal error, and the
database is exactly as before except for the audit records of the reads
the table is allowed to make.

Values that are hostile but legal (SQL and path-traversal text in a
holder's name, an address, an approval reference) are issued first, before
the table, and must come back byte for byte.

SQL and path-traversal strings go into every member of every request body
(issuance, bundle members, amendment, suspend/reinstate/revoke, the paper
copy check), every path segment, the query strings and the purpose
headers.  Which members accept them as text is worked out here from the
catalog's template (a text field without a pattern takes any text); those
are issued before the table and must come back byte for byte, the others
are table rows that must be refused with a 422 naming the member.  Each row
says the status it expects and so the problem type and title (SPEC §5,
http_problem.c: one per status), and the errors[].field where a member is
to blame.  Each row is sent from its own loopback address (127.0.x.y), so
the per-address limits (the public rate limit, the failure budget for wrong
tokens and unmatched paper copies) never decide a row: abuse_test covers
them.

The script is a list of tests (run_tests, tests/lib/cstest.py): the legal
values first, then the table in groups of rows, each group a test of its
own that builds what it needs and must leave the database as it found it,
and last a look at the server after them all.  One failure hides nothing
else, and `python3 tests/hostile_test.py issue13_numbers` runs one group.

This file is the fixture (the server, its clients, the licences the table
attacks, the forged tokens), the tests of legal values, the sending and
checking of rows, and the run; the rows themselves, group by group, are in
tests/lib/hostile_rows.py.
"""
import json
import re
import os
import sys
import time
import types
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import cbor2  # noqa: E402
import csraw  # noqa: E402
import hostile_rows as rows  # noqa: E402
from cshttp import ENV, OTHER, T_RAD, audit_synced, leak_scan_text  # noqa: E402
from hostile_rows import (BADSIG, ENC_TRAVERSAL, HOSTILE, MAL, ROWS, SECOND, SQLI,  # noqa: E402
                          TRAVERSAL, as_json, base_request, nested, set_path, zero_bomb)
import independent  # noqa: E402
from cstest import (SOURCE, Server, Workdir, catalog, check, done, run_tests,  # noqa: E402
                    sample_request)
from cstoken import (b64url_encode, base45, cose, cose_parts, es256, sign1,  # noqa: E402
                     signing_key, token_of)

# The problem types of http_problem.c's catalogue (docs/problems.md): each
# answer's "type" must be one whose status is the answer's, with its title.
PROBLEMS = {m[3]: (int(m[2]), m[4]) for m in re.finditer(
    r'\{(0|CS_CAUSE_[A-Z_]+), (\d{3}), "([a-z-]+)",\s*"([^"]+)"',
    open(os.path.join(SOURCE, "certsvc/http/http_problem.c"), encoding="utf-8").read())}
PROBLEM_BASE = "https://certsvc.example/problems/"
LEAKS = [b"sqlite", b"SQLITE", b"syntax error", b"constraint failed", b"/tmp/",
         b"certsvc-test-", b".c:", b"Traceback"]

# --- the fixture: one server, its clients, the licences the table attacks ---

w = Workdir()
issuer = w.client("env", "issuer", "*", ENV, "广东省生态环境厅")
other_issuer = w.client("other", "issuer", "*", OTHER, "深圳市生态环境局")
reader = w.client("reader", "reader", "*")
admin = w.client("admin", "admin", "*")
gone = w.client("gone", "issuer", "*", ENV, "广东省生态环境厅")
w.cli("client revoke", "gone")
# The table is one client at one address: the public endpoints' limit
# would answer 429 to the verification rows.  The abuse test covers it.
srv = Server(w, "--rate-limit", "0")
TOKENS = {"issuer": issuer, "other": other_issuer, "reader": reader, "admin": admin,
          "gone": gone}


def send(method, path, body=None, auth=None, ctype=None, headers=None, early=False):
    return csraw.send(srv.base, method, path, body, TOKENS.get(auth), ctype, headers,
                      timeout=20, early_answer=early)


# Legal but hostile values (legal_values_come_back reads them back).
legal = base_request("'; DROP TABLE licences;--")
legal["holder"]["name"] = SQLI + " <script>alert(1)</script>"
legal["fields"]["address"] = TRAVERSAL
legal["fields"]["legal_representative"] = ENC_TRAVERSAL
legal["fields"]["remarks"] = "עברית RTL \U0001F600 ${jndi:ldap://x} %s%n"
LEGAL_ISSUED = send("POST", "/api/v1/certificates", legal, "issuer", "application/json")
LID = (as_json(LEGAL_ISSUED) or {}).get("id", "")
# The licence the table attacks: to amend, suspend and revoke against.
r = send("POST", "/api/v1/certificates", base_request("H-BASE"), "issuer", "application/json")
L = (as_json(r) or {}).get("id", "")
TOKEN = (as_json(r) or {}).get("token", "")
check(r.status == 201, "a licence to attack")
L_NUMBER = (as_json(r) or {}).get("number", "")
L_HOLDER = (as_json(r) or {}).get("holder", {}).get("code", "")


# --- SQL and traversal in every member: the legal ones -----------------------

RAD = [t for t in catalog() if t["code"] == T_RAD][0]


def text_ok(f, value):
    """Whether face field f takes value as text: a text field without a
    pattern takes any text up to its length (SPEC §3; from the template)."""
    return f["kind"] == "text" and "pattern" not in f and \
        len(value) <= f.get("max_length", 1 << 30)


def issue_members(value):
    """(member path, refused) of every member of a T_RAD issuance request
    (SPEC §5) with value in it: free text is legal, a code, a date, a
    type, a code type, a boolean or an enum holding it is not."""
    return [("type", True), ("approval_ref", False), ("number", False),
            ("valid_from", True), ("valid_until", True), ("holder.name", False),
            ("holder.code_type", True), ("holder.code", True), ("holder.unchecked", True),
            ("issuer.code", True)] + \
        [("fields." + f["name"], not text_ok(f, value)) for f in RAD["fields"]]


def amend_members(value):
    """The same for an amendment: only the holder's name may change, and
    type is not a member of an amendment at all (422 naming it)."""
    return [(m, refused) for m, refused in issue_members(value)
            if m != "issuer.code"] + [("reason", False)]




def get_path(d, path):
    for k in path.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def issued_back(what, r, members, value):
    """A 201 whose licence, read back by id, holds value at every member."""
    lic = as_json(r) or {}
    if not check(r.status == 201, "%s: issued (%s %s)" % (what, r.status, r.body[:300])):
        return lic
    back = as_json(send("GET", "/api/v1/certificates/" + lic.get("id", ""), auth="reader")) or {}
    for m in members:
        check(get_path(lic, m) == value and get_path(back, m) == value,
              "%s: %s comes back as sent (%r, read back %r)" % (what, m, get_path(lic, m),
                                                                get_path(back, m)))
    v = as_json(send("POST", "/api/v1/verify", lic.get("token", ""), ctype="text/plain")) or {}
    check(v.get("result") == "valid", "%s: the licence verifies (%s)" % (what, v.get("result")))
    return lic


# --- forged tokens ------------------------------------------------------------

key = signing_key(w.keys)
PROT, _, PAYLOAD, SIG = cose_parts(TOKEN)
KID = cbor2.loads(PROT)[4]
CLAIMS = cbor2.loads(PAYLOAD)


def forged(prot=None, claims=None, unprot=None, der=False, tag=18, payload=None, prot_b=None):
    """A COSE_Sign1 signed by the server's key: whatever the headers and
    claims say, the signature over them is genuine."""
    pb = prot_b if prot_b is not None else cbor2.dumps({1: -7, 4: KID} if prot is None else prot)
    pl = payload if payload is not None else cbor2.dumps(CLAIMS if claims is None else claims)
    return sign1(key, pb, pl, unprot, der, tag)


def claims_with(**lic_over):
    c = dict(CLAIMS)
    c[-65537] = dict(CLAIMS[-65537])
    for k, v in lic_over.items():
        if isinstance(k, str) and k.startswith("c"):
            c[int(k[1:])] = v
        else:
            c[-65537][k] = v
    return c


SIG_OK = es256(key, PROT, PAYLOAD)
indefinite = b"\xd2\x9f" + cbor2.dumps(PROT) + b"\xa0" + cbor2.dumps(PAYLOAD) + \
    cbor2.dumps(SIG_OK) + b"\xff"
unterminated = b"\xd2\x9f" + cbor2.dumps(PROT) + b"\xa0" + cbor2.dumps(PAYLOAD) + \
    cbor2.dumps(SIG_OK)
indef_deep = b"\xd2" + b"\x9f" * 10000 + b"\xff" * 10000


def forged_tokens():
    """(name, QR text or token (bytes or str), acceptable results)"""
    return [
        ("genuine token, for reference", TOKEN, {"valid"}),
        ("empty body", b"", MAL),
        ("plain words", "hello, world", MAL),
        ("alg 'none' as text", token_of(forged({1: "none", 4: KID})), MAL),
        ("alg 0 (reserved)", token_of(forged({1: 0, 4: KID})), MAL | BADSIG),
        ("alg absent", token_of(forged({4: KID})), MAL | BADSIG),
        ("unknown alg ES384", token_of(forged({1: -35, 4: KID})), BADSIG),
        ("unknown alg 999999", token_of(forged({1: 999999, 4: KID})), BADSIG),
        ("alg EdDSA on an ES256 key", token_of(forged({1: -8, 4: KID})), BADSIG),
        ("alg SM2 on an ES256 key", token_of(forged({1: -65537, 4: KID})), BADSIG),
        ("DER signature instead of r||s", token_of(forged(der=True)), BADSIG),
        ("signature of 63 bytes", token_of(cose([PROT, {}, PAYLOAD, SIG_OK[:63]])),
         BADSIG),
        ("signature of zeros", token_of(cose([PROT, {}, PAYLOAD, b"\0" * 64])),
         BADSIG),
        ("signature is text", token_of(cose([PROT, {}, PAYLOAD, "sig"])), MAL),
        ("payload flipped", token_of(cose([PROT, {}, PAYLOAD[:-1] + bytes([PAYLOAD[-1] ^ 1]),
                                           SIG_OK])), BADSIG | MAL),
        ("truncated base64url", TOKEN[:len(TOKEN) // 2], MAL),
        ("truncated COSE", token_of(forged()[:-5]), MAL),
        ("trailing byte after COSE", token_of(forged() + b"\x00"), MAL),
        ("trailing CBOR item after COSE", token_of(forged() + cbor2.dumps({"x": 1})), MAL),
        ("trailing bytes after zlib stream", b64url_encode(
            zlib.compress(forged(), 9) + b"junk"), MAL),
        ("zlib bomb: 1 MiB of zeros", b64url_encode(zero_bomb), MAL),
        ("COSE padded past 16 KiB", token_of(forged() + b"\0" * 17000), MAL),
        ("compact form bomb", "EL1:" + base45(zero_bomb), MAL),
        ("CBOR arrays nested 10,000 deep", token_of(nested(10000)), MAL),
        ("tag 18 around 10,000 nested arrays", token_of(b"\xd2" + nested(10000)), MAL),
        ("10,000 nested tags", token_of(b"\xd2" * 10000 + b"\x00"), MAL),
        ("signed claims nested 20 deep", token_of(forged(claims=claims_with(f={"c": json.loads(
            "[" * 20 + "0" + "]" * 20)}))), MAL),
        ("indefinite-length arrays 10,000 deep", token_of(indef_deep), MAL),
        ("indefinite-length array, no break", token_of(unterminated), MAL),
        ("indefinite-length genuine message (RFC 9052 allows it)", token_of(indefinite), {"valid"}),
        ("no tag", token_of(forged(tag=None)), MAL),
        ("tag 98 (COSE_Sign)", token_of(forged(tag=98)), MAL),
        ("tag 17 (COSE_Mac0)", token_of(forged(tag=17)), MAL),
        ("tag 61 alone", token_of(cose([PROT, {}, PAYLOAD, SIG_OK], 61)), MAL),
        ("tag 61 of tag 61", token_of(cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(
            61, [PROT, {}, PAYLOAD, SIG_OK])))), MAL),
        ("kid absent", token_of(forged({1: -7})), {"unknown_key"} | MAL),
        ("kid of 5000 bytes", token_of(forged({1: -7, 4: b"\x01" * 5000})), MAL | {"unknown_key"}),
        ("kid as text", token_of(forged({1: -7, 4: "kid"})), MAL),
        ("kid unknown", token_of(forged({1: -7, 4: b"12345678"})), {"unknown_key"}),
        ("kid in both headers", token_of(forged({1: -7, 4: KID}, unprot={4: b"12345678"})), MAL),
        ("protected header not a map", token_of(forged(prot_b=cbor2.dumps([1, 2]))), MAL),
        ("protected header garbage", token_of(forged(prot_b=b"\xff\xfe")), MAL),
        ("protected header duplicate label",
         token_of(forged(prot_b=b"\xa3\x01\x26\x04\x48" + KID + b"\x01\x26")),
         MAL),
        ("array of 5 items", token_of(cose([PROT, {}, PAYLOAD, SIG_OK, 0])), MAL),
        ("detached payload (nil)", token_of(cose([PROT, {}, None, SIG_OK])), MAL),
        ("signed claims not a map", token_of(forged(claims=[1, 2, 3])), MAL),
        ("signed claims garbage", token_of(forged(payload=b"\xff\xff")), MAL),
        ("signed claims: duplicate key", token_of(forged(payload=b"\xa2\x06\x01\x06\x02")), MAL),
        ("signed claims: iat of 2^64-1", token_of(forged(claims=claims_with(c6=2 ** 64 - 1))), MAL),
        ("signed claims: iat of -2^64", token_of(forged(claims=claims_with(c6=-2 ** 64))), MAL),
        ("signed claims: iat a float", token_of(forged(claims=claims_with(c6=1.5))), MAL),
        ("signed claims: iat a year ahead",
         token_of(forged(claims=claims_with(c6=int(time.time()) + 365 * 86400))),
         MAL),
        ("signed claims: bytes as a map key", token_of(forged(claims={**CLAIMS, b"k": 1})), MAL),
        ("signed claims: 6 and \"6\" both", token_of(forged(claims={**CLAIMS, "6": 0})), MAL),
        ("signed claims: a NUL in a key", token_of(forged(claims=claims_with(**{"id\0x": "y"}))),
         MAL),
        ("signed claims: a key twice, once chunked", token_of(forged(payload=bytes(
            [0xa0 + len(CLAIMS) + 2]) + cbor2.dumps(CLAIMS)[1:] + b"\x61x\x00\x7f\x61x\xff\x01")),
            MAL),
        ("signed claims: SQL as the id", token_of(forged(claims=claims_with(id=SQLI))),
         {"not_found"}),
        ("signed claims: traversal as the id", token_of(forged(claims=claims_with(id=TRAVERSAL))),
         {"not_found"}),
        ("QR text of another site", "https://evil.example/v/" + TOKEN[:-4], MAL | BADSIG),
        ("base64 padding", TOKEN + "==", MAL),
        ("NUL in the text", b"EL1:ABC\0DEF", MAL),
        ("invalid UTF-8", b"\xff\xfe\xfd" + TOKEN.encode(), MAL),
        ("bare COSE binary", forged(), MAL),
        ("SQL as the QR text", SQLI, MAL),
        ("path traversal as the QR text", "https://x/v/" + TRAVERSAL, MAL),
    ]



# --- sending rows and checking their answers --------------------------------

SOURCES = iter(range(250 * 250))


def next_source():
    """A loopback address of a row's own: 127.0.1.1, 127.0.1.2, ..."""
    i = next(SOURCES)
    return "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)


def raw_request(row, source=None):
    h = []
    for name, value in row.headers or []:
        h.append((name, value))
    if row.auth in TOKENS:
        h.append(("Authorization", "Bearer " + TOKENS[row.auth]))
    if row.ctype:
        h.append(("Content-Type", row.ctype))
    body = row.body
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
    elif isinstance(body, str):
        body = body.encode()
    if any(n == "Host" and v is None for n, v in h):
        # HTTP/1.1 requires Host: send a request without one.
        s = csraw.connect(srv.base, source)
        try:
            s.sendall(b"GET %s HTTP/1.1\r\nConnection: close\r\n\r\n" % row.path.encode())
            return csraw.read_response(s)
        finally:
            s.close()
    if any(n == "Transfer-Encoding" for n, _ in h) and body is not None and \
            not body.endswith(b"0\r\n\r\n"):
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                        for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    return csraw.request(srv.base, row.method, row.path, h, body, source=source, timeout=20,
                         early_answer=row.early)


def db_state():
    c = csraw.counts(w.db)
    c["licences_hash"] = csraw.table_hash(w.db, "licences", "id")
    c["events_hash"] = csraw.table_hash(w.db, "status_events", "seq")
    c["bundles_hash"] = csraw.table_hash(w.db, "bundles", "id")
    c["clients_hash"] = csraw.table_hash(w.db, "clients", "id")
    return c


def settle():
    """Every audit record of the requests answered so far is in the
    database file (reads' and refusals' are committed in groups)."""
    audit_synced(srv, admin)


def check_row(row, r):
    label = "%-55s" % row.name[:55]
    ok = True
    want = row.status if isinstance(row.status, tuple) else (row.status,)
    if r is None:
        return check(row.allow_close, "%s: the connection was closed without an answer" % label)
    ok &= check(r.status < 500, "%s: %d is a server error: %s" % (label, r.status, r.body[:300]))
    ok &= check(r.status in want, "%s: status %d, expected %s (%s)" % (
        label, r.status, "/".join(map(str, want)), r.body[:300]))
    scanned = leak_scan_text(row.path, r.body)
    for leak in LEAKS:
        ok &= check(leak not in scanned, "%s: the answer holds %r" % (label, leak))
    problem = row.problem if row.problem is not None else \
        (r.header("content-type") or "").startswith("application/problem+json")
    if r.status >= 400 and problem:
        p = as_json(r)
        ok &= check((r.header("content-type") or "").startswith("application/problem+json"),
                    "%s: Content-Type %s" % (label, r.header("content-type")))
        ok &= check(isinstance(p, dict), "%s: the problem is JSON" % label)
        p = p if isinstance(p, dict) else {}
        slug = (p.get("type") or "")[len(PROBLEM_BASE):]
        status, title = PROBLEMS.get(slug, (None, None))
        ok &= check((p.get("type") or "").startswith(PROBLEM_BASE) and status == r.status and
                    p.get("title") == title,
                    "%s: the problem is a type of the catalogue for %d with its title "
                    "(got %s, %s)" % (label, r.status, p.get("type"), p.get("title")))
        ok &= check(p.get("status") == r.status and isinstance(p.get("detail"), str) and
                    p["detail"] != "",
                    "%s: the problem has status and detail: %s" % (label, p))
        ok &= check(r.header("x-request-id") is not None, "%s: X-Request-Id" % label)
        errs = p.get("errors", [])
        ok &= check(isinstance(errs, list) and all(
            isinstance(e, dict) and isinstance(e.get("field"), str) and
            isinstance(e.get("message"), str) for e in errs),
            "%s: each of errors[] has a field and a message" % label)
        if row.field is not None:
            ok &= check(any(e.get("field") == row.field for e in errs if isinstance(e, dict)),
                        "%s: errors[] names %s: %s" % (label, row.field, errs))
        elif r.status == 422:
            ok &= check(len(errs) > 0, "%s: a 422 names at least one field" % label)
        if r.status == 405:
            ok &= check(r.header("allow") is not None, "%s: 405 with Allow" % label)
        if r.status == 401:
            ok &= check((r.header("www-authenticate") or "").startswith("Bearer"),
                        "%s: 401 with WWW-Authenticate: Bearer" % label)
    if row.answer is not None and r.status in want:
        wrong = row.answer(r)
        ok &= check(wrong is None, "%s: %s" % (label, wrong))
    if row.result is not None and r.status == 200:
        v = as_json(r) or {}
        ok &= check(v.get("result") in row.result, "%s: result %s (%s), expected %s" % (
            label, v.get("result"), v.get("reason"), "/".join(sorted(row.result))))
        ok &= check(isinstance(v.get("reason"), str) and "checked_at" in v and
                    "certificate" in v, "%s: a whole verdict" % label)
        if v.get("result") not in ("valid", "suspended", "revoked", "superseded", "expired",
                                   "not_yet_valid"):
            ok &= check(v.get("certificate") is None or v.get("result") == "not_found",
                        "%s: no certificate with a %s verdict" % (label, v.get("result")))
    return ok


SENT = []   # (test, rows sent, rows answered as expected)


def send_rows(group, rows):
    """Send each row from its own loopback address and check its answer;
    then the database must be as before but for the audit records of the
    reads and refusals the rows may make, and the server still running."""
    if not check(srv.alive(), "%s: the server is running" % group):
        return
    settle()
    before = db_state()
    passed = expected_audits = 0
    for row in rows:
        r = raw_request(row, next_source())
        if check_row(row, r):
            passed += 1
        # A row that says it audits does so when it is answered as it
        # expects (a read, a 403, a lookup refused for want of a purpose).
        if r is not None and row.audits and (r.status < 300 or r.status == 403 or
                                             r.status == row.status):
            expected_audits += row.audits
        if not srv.alive():
            check(False, "the server died at row %r" % row.name)
            break
    SENT.append((group, len(rows), passed))
    if not srv.alive():
        return
    settle()
    after = db_state()
    for k in before:
        if k == "audit":
            continue
        check(before[k] == after[k], "%s: database unchanged by the rows: %s %s → %s" % (
            group, k, before[k], after[k]))
    # Reads the rows were allowed to make (holder lookups that found
    # nothing) and refusals (403, result denied) are the only new audit
    # records, each row saying how many it leaves: nothing else rejected
    # leaves one.
    db = csraw.open_ro(w.db)
    new = db.execute("SELECT action, target, result FROM audit ORDER BY seq LIMIT -1 OFFSET ?",
                     (before["audit"],)).fetchall()
    db.close()
    # settle()'s own reads of the audit log are recorded too (audit_read).
    new = [rec for rec in new if not (rec[0] == "audit_read" and rec[2] is None)]
    check(all(a in ("read", "holder_lookup") or res == "denied" for a, _, res in new),
          "%s: only reads and refusals were audited during the rows: %s" % (group, new[:10]))
    check(len(new) == expected_audits,
          "%s: the rows' reads and refusals left their %d audit records and nothing else "
          "rejected left one (%d new: %s)" % (group, expected_audits, len(new), new[:10]))


# What the groups of rows (hostile_rows) take from the fixture.
FIXTURE = types.SimpleNamespace(
    w=w, issuer=issuer, TOKENS=TOKENS, send=send, LID=LID, L=L, TOKEN=TOKEN,
    L_NUMBER=L_NUMBER, L_HOLDER=L_HOLDER, issue_members=issue_members,
    amend_members=amend_members, forged_tokens=forged_tokens)


def rows_test(build):
    """A test of rows: build(FIXTURE), a group of hostile_rows, makes what
    they need and appends them to ROWS; they are then sent and checked
    (send_rows).  The test has the group's name."""
    def test():
        del ROWS[:]
        build(FIXTURE)
        send_rows(build.__name__, list(ROWS))
    test.__name__ = build.__name__
    return test


# --- legal but hostile values: stored and returned exactly --------------------

def legal_values_come_back():
    """SQL, traversal and markup in free text are stored and shown as sent."""
    r = LEGAL_ISSUED
    lic = as_json(r) or {}
    check(r.status == 201, "legal hostile values: issued (%s %s)" % (r.status, r.body[:300]))
    r = send("GET", "/api/v1/certificates/" + LID, auth="reader")
    back = as_json(r) or {}
    for path, want in (("approval_ref", legal["approval_ref"]),
                       ("holder.name", legal["holder"]["name"]),
                       ("fields.address", TRAVERSAL),
                       ("fields.legal_representative", ENC_TRAVERSAL),
                       ("fields.remarks", legal["fields"]["remarks"])):
        v = back
        for k in path.split("."):
            v = v.get(k, {}) if isinstance(v, dict) else None
        check(v == want, "legal hostile values: %s comes back as sent (%r)" % (path, v))
    r = send("POST", "/api/v1/verify", lic.get("token", ""), ctype="text/plain")
    check((as_json(r) or {}).get("result") == "valid", "legal hostile values: the licence verifies")
    r = send("GET", "/v/" + lic.get("token", ""))
    check(r.status == 200 and b"<script>" not in r.body and b"&lt;script&gt;" in r.body,
          "legal hostile values: the /v page escapes the holder's name")
    r = send("GET", "/api/v1/certificates/%s/face.svg" % LID, auth="reader")
    check(r.status == 200 and b"<script>" not in r.body, "the face escapes the holder's name")


def widest_dates_are_issued():
    # The widest dates a licence may carry: the token's NumericDates are the
    # start of 1970-01-01 and the end of 9999-12-31 in the deployment's time
    # zone (UTC+8: before the epoch, a negative integer).
    wide = base_request("H-WIDE", valid_from="1970-01-01", valid_until="9999-12-31")
    r = send("POST", "/api/v1/certificates", wide, "issuer", "application/json")
    wl = as_json(r) or {}
    check(r.status == 201 and wl.get("valid_from") == "1970-01-01" and
          wl.get("valid_until") == "9999-12-31", "dates from 1970-01-01 to 9999-12-31 are issued "
          "as given (%s %s)" % (r.status, r.body[:200]))
    if r.status == 201:
        wc = cbor2.loads(cose_parts(wl["token"])[2])
        check(wc.get(5) == -8 * 3600 and wc.get(4) == 253402300800 - 8 * 3600 - 1,
              "the token says so: nbf %s, exp %s" % (wc.get(5), wc.get(4)))
        ok, why, _ = independent.verify(wl["token"], json.loads(w.cli("trust-list").stdout))
        check(ok, "such a token verifies independently (%s)" % why)


def hostile_text_in_legal_members_is_kept():
    """SQL and traversal in each member that takes free text (one issuance
    each, so that a refusal names its member), and the paper copy
    numbered with SQL found by its number."""
    LEGAL = {}   # (string name, member) -> the licence issued with it
    for kind, value in HOSTILE:
        # One issuance per legal member, so that a refusal names its member.
        for m, refused in issue_members(value):
            if refused:
                continue
            req = set_path(base_request("H-LEGAL-%s-%s" % (kind, m)), m, value)
            LEGAL[kind, m] = issued_back("%s as %s" % (kind, m), send(
                "POST", "/api/v1/certificates", req, "issuer", "application/json"), [m], value)
    # A paper copy's number is matched as text: the licence numbered with SQL
    # is found by it (and only with its holder's code, in the table below).
    r = send("POST", "/api/v1/verify", {"number": SQLI, "holder_code": L_HOLDER},
             ctype="application/json")
    v = as_json(r) or {}
    check(v.get("result") == "valid" and (v.get("certificate") or {}).get("number") == SQLI,
          "the paper copy numbered %r is found: %s %s" % (SQLI, v.get("result"), r.body[:200]))


def hostile_text_in_a_bundle_member_is_kept():
    for kind, value in HOSTILE:
        # A bundle under that approval_ref whose second member holds the string
        # in every legal member; its number with a suffix, as a number is one
        # licence's (issue 13, item 1).
        one = sample_request(T_RAD, "x")
        del one["approval_ref"]
        two = json.loads(json.dumps(one))
        two["holder"]["code"] = SECOND  # a bundle holds one licence of a type per holder
        # A member shares the bundle's approval_ref: one of its own is refused.
        legal_members = [m for m, refused in issue_members(value)
                         if not refused and m != "approval_ref"]
        want = dict((m, value) for m in legal_members)
        want["number"] = value + " (bundle)"
        for m in legal_members:
            set_path(two, m, want[m])
        r = send("POST", "/api/v1/bundles", {"approval_ref": value, "certificates": [one, two]},
                 "issuer", "application/json")
        b = as_json(r) or {}
        if check(r.status == 201 and b.get("approval_ref") == value and
                 len(b.get("certificates", [])) == 2,
                 "a bundle with %s in its approval_ref: issued (%s %s)" % (kind, r.status,
                                                                       r.body[:300])):
            # The response need not keep the request's order: the member whose
            # holder is named with the string is the second one.
            second = [c for c in b["certificates"] if c.get("holder", {}).get("name") == value]
            check(len(second) == 1,
                  "bundle with %s: one member holds it (%d)" % (kind, len(second)))
            back = as_json(send("GET", "/api/v1/certificates/" + (second or [{}])[0].get("id", "?"),
                                auth="reader")) or {}
            for m in legal_members:
                check(get_path(back, m) == want[m], "bundle member with %s: %s comes back as sent "
                      "(%r)" % (kind, m, get_path(back, m)))


def hostile_text_in_an_amendment_is_kept():
    for kind, value in HOSTILE:
        # An amendment with the string in every member an amendment may change.
        r = send("POST", "/api/v1/certificates", base_request("H-AMEND-" + kind), "issuer",
                 "application/json")
        old = as_json(r) or {}
        body = {}
        for m, refused in amend_members(value):
            if not refused:
                set_path(body, m, value)
        body["approval_ref"] = value + " (amend)"
        body["number"] = value + " (amend)"
        r = send("POST", "/api/v1/certificates/%s/amend" % old.get("id"), body, "issuer",
                 "application/json")
        issued_back("an amendment with %s" % kind, r, [m for m, refused in amend_members(value)
                                                       if not refused and m not in
                                                       ("approval_ref", "reason", "number")], value)
        for m in ("approval_ref", "number"):
            check((as_json(r) or {}).get(m) == body[m],
                  "an amendment with %s: its %s comes back as sent" % (kind, m))


def lifecycle_reasons_are_stored_as_sent():
    """Lifecycle reasons are free text: stored as sent in the status events."""
    r = send("POST", "/api/v1/certificates", base_request("H-LIFE"), "issuer", "application/json")
    LIFE = (as_json(r) or {}).get("id", "")
    steps = [("suspend", SQLI), ("reinstate", TRAVERSAL), ("suspend", TRAVERSAL),
             ("reinstate", SQLI), ("revoke", SQLI)]
    for action, reason in steps:
        r = send("POST", "/api/v1/certificates/%s/%s" % (LIFE, action), {"reason": reason},
                 "issuer", "application/json")
        check(r.status == 200, "%s with the reason %r: %s %s" % (action, reason, r.status,
                                                                 r.body[:200]))
    db = csraw.open_ro(w.db)
    events = db.execute("SELECT action, reason FROM status_events WHERE licence_id = ? ORDER BY seq",
                        (LIFE,)).fetchall()
    db.close()
    check(events == [(a, why) for a, why in steps],
          "the reasons are stored byte for byte: %s" % events)

# 9: the default validity from 29 February ends the day before the same
# date five years on, which a common year lacks: 28 February (a licence
# issued first, so not a row: the table writes nothing).
def issue13_leap_day_validity():
    r = send("POST", "/api/v1/certificates", base_request("H-LEAP", valid_from="2028-02-29"),
             "issuer", "application/json")
    check(r.status == 201 and (as_json(r) or {}).get("valid_until") == "2033-02-28",
          "5 years from 2028-02-29 run to 2033-02-28 (%s %s)" % (r.status, r.body[:200]))

# --- after the table ------------------------------------------------------------

def server_survives_the_table():
    check(srv.alive(), "the server is still running")
    check(csraw.alive(srv.base), "/healthz answers 200 after the table")
    r = send("POST", "/api/v1/verify", TOKEN, ctype="text/plain")
    check((as_json(r) or {}).get("result") == "valid",
          "a genuine token still verifies after the table")
    with open(srv.log_path, "rb") as f:
        log = f.read()
    check(b"error req=" not in log, "the server logged no internal error")


TESTS = [
    legal_values_come_back,
    widest_dates_are_issued,
    hostile_text_in_legal_members_is_kept,
    hostile_text_in_a_bundle_member_is_kept,
    hostile_text_in_an_amendment_is_kept,
    lifecycle_reasons_are_stored_as_sent,
    rows_test(rows.malformed_json_is_400),
    rows_test(rows.wrong_json_types_are_422),
    rows_test(rows.hostile_holders_are_refused),
    rows_test(rows.impossible_dates_are_refused),
    rows_test(rows.hostile_face_fields_are_refused),
    rows_test(rows.wrong_media_type_size_or_token_is_refused),
    rows_test(rows.wrong_methods_are_405),
    rows_test(rows.hostile_path_segments_are_refused),
    rows_test(rows.hostile_lifecycle_bodies_are_refused),
    rows_test(rows.hostile_bundles_are_refused),
    rows_test(rows.hostile_holder_and_audit_queries_are_refused),
    rows_test(rows.forged_tokens_do_not_verify),
    rows_test(rows.hostile_verify_bodies_get_a_verdict),
    rows_test(rows.library_refusals_keep_the_server_up),
    rows_test(rows.issue13_unchecked_rid_is_refused),
    rows_test(rows.issue13_bundle_issues_each_licence_once),
    issue13_leap_day_validity,
    rows_test(rows.issue13_replay_with_lower_case_codes),
    rows_test(rows.issue13_invisible_text_is_refused),
    rows_test(rows.issue13_framing_refused_and_closed),
    rows_test(rows.issue13_403_before_the_body),
    rows_test(rows.issue13_nul_in_words),
    rows_test(rows.issue13_nul_in_headers),
    rows_test(rows.issue13_same_403_either_way),
    rows_test(rows.issue13_reason_not_public),
    rows_test(rows.issue13_numbers),
    rows_test(rows.issue13_holder_pages),
    rows_test(rows.sql_and_traversal_in_refused_members),
    rows_test(rows.sql_and_traversal_in_paper_copies_and_paths),
    rows_test(rows.sql_and_traversal_in_queries_and_headers),
    rows_test(rows.sql_of_a_holder_codes_length_finds_nothing),
    server_survives_the_table,
]
t0 = time.time()
ran = run_tests(TESTS)
rows, passed = sum(n for _, n, _ in SENT), sum(p for _, _, p in SENT)
print("hostile table: %d rows in %d groups, %d as expected, in %.1f s" % (
    rows, len(SENT), passed, time.time() - t0))
if len(ran) == len(TESTS):
    check(rows >= 60, "at least 60 hostile rows (%d)" % rows)
srv.stop_clean("the server, after the table")
w.cleanup()
done()
