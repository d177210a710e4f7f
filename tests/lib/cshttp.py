"""Helpers for the HTTP end-to-end tests (tests/http_*_test.py): the
authorities and licence types of the shipped catalog, a deployment with the
clients of the authorisation matrix, requests over http.client (bytes
headers, keep-alive, partial bodies), problem+json assertions, identifiers
computed here (not by certsvc), counts read from the database file, and
the requests every test makes (issue, verify, the audit log, /metrics).
Raw sockets: csraw.py; token encodings: cstoken.py."""
import http.client
import json
import os
import re
import threading

import csraw
from cstest import (SOURCE, Server, Workdir, check, fits_contract, rid,  # noqa: F401
                    sample_request, uscc)

# Issuing authorities (their USCCs carry correct GB 32100 check characters).
ENV = "11440000006939756B"      # 广东省生态环境厅
HEALTH = "114400000069400645"   # 广东省卫生健康委员会
OTHER = uscc("11440300MB2C93651")  # 深圳市生态环境局: same types, other authority

# Licence types of the shipped catalog.
T_RAD = "11100000000013338W032"     # 辐射安全许可证 (ENV, USCC)
T_PDP = "11100000000013338W041"     # 排污许可证 (number given by the caller)
T_HAZ = "11100000000013338W042"     # 危险废物经营许可证
T_EIA = "11100000000013338W043"     # 环评批复 (no expiry)
T_TRAIN = "11100000000013338W044"   # 培训合格证书 (a person: RID)
T_DIAG = "11100000MB0143391C011"    # 放射诊疗许可证 (HEALTH)
ENV_TYPES = [T_RAD, T_PDP, T_HAZ, T_EIA, T_TRAIN]
ALL_TYPES = ENV_TYPES + [T_DIAG]

JSON_CT = "application/json; charset=utf-8"
PROBLEM_CT = "application/problem+json"

ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def id_check(s):
    """ISO/IEC 7064 MOD 37,36 (GB/T 17710) over TYPE+ISSUER+SERIAL+VERSION."""
    p = 36
    for c in s:
        t = (p + ID_ALPHABET.index(c)) % 36
        p = (2 * (t or 36)) % 37
    return ID_ALPHABET[(37 - p) % 36]


def licence_id(type_code, issuer, serial, version=1):
    v = "%03d" % version
    return "1.2.156.3005.2.%s.%s.%s.%s.%s" % (type_code, issuer, serial, v,
                                            id_check(type_code + issuer + serial + v))


def id_parts(lid):
    """(type, issuer, serial, version, check) of a licence identifier."""
    parts = lid[len("1.2.156.3005.2."):].split(".")
    return parts[0], parts[1], parts[2], int(parts[3]), parts[4]


def id_is_valid(lid):
    if not lid.startswith("1.2.156.3005.2."):
        return False
    t, i, s, v, c = id_parts(lid)
    return len(t) == 21 and len(i) == 18 and 1 <= len(s) <= 32 and \
        c == id_check(t + i + s + "%03d" % v)


def request_for(type_code, ref, holder_code=None, issuer=None, **extra):
    """The sample issuance request of a type, with its own approval_ref."""
    req = sample_request(type_code, ref, holder_code)
    if issuer:
        req["issuer"] = {"code": issuer}
    req.update(extra)
    return req


def org_code(i):
    """A distinct valid USCC per i (a company's credit code)."""
    return uscc("914403007%08d" % i)


def person_code(i):
    """A distinct valid resident ID per i (born 1980-01-01 + i days' worth)."""
    return rid("4405241980%02d%02d%03d" % (1 + i // 28 % 12, 1 + i % 28, i % 1000))


def example_bundle(ref):
    """docs/examples/bundle.json (two licences of two departments for one
    holder) under approval_ref ref."""
    with open(os.path.join(SOURCE, "docs", "examples", "bundle.json")) as f:
        bundle = json.load(f)
    bundle["approval_ref"] = ref
    return bundle


class Deployment:
    """A work directory, the clients of the matrix and (once started) a
    server.  Every client is named after what it may do."""

    CLIENTS = [
        # name, role, types, authority
        ("env", "issuer", ",".join(ENV_TYPES), (ENV, "广东省生态环境厅")),
        ("env_rad", "issuer", T_RAD, (ENV, "广东省生态环境厅")),
        ("health", "issuer", T_DIAG, (HEALTH, "广东省卫生健康委员会")),
        ("other", "issuer", T_RAD, (OTHER, "深圳市生态环境局")),
        ("rd_rad", "reader", T_RAD, None),
        ("rd_diag", "reader", T_DIAG, None),
        ("rd_all", "reader", "*", None),
        ("admin", "admin", "*", None),
    ]

    def __init__(self, alg="ES256", clients=True):
        self.work = Workdir(alg)
        self.tokens = {}
        self.server = None
        if clients:
            for name, role, types, auth in self.CLIENTS:
                self.add_client(name, role, types, auth)
            # A one-window platform: one client acting for two departments.
            self.add_client("onewin", "issuer", T_RAD, (ENV, "广东省生态环境厅"))
            self.work.cli("client grant", "onewin", "--types", T_DIAG,
                          "--issuer-code", HEALTH, "--issuer-name", "广东省卫生健康委员会")
            self.add_client("gone", "reader", "*", None)
            self.work.cli("client revoke", "gone")

    def add_client(self, name, role, types, auth=None):
        code, aname = auth if auth else (None, None)
        self.tokens[name] = self.work.client(name, role, types, code, aname)
        return self.tokens[name]

    def start(self, *extra, env=None):
        self.server = Server(self.work, *extra, env=env)
        return self.server

    def restart(self, *extra, env=None):
        self.stop()
        return self.start(*extra, env=env)

    def stop(self):
        rc = None
        if self.server is not None:
            rc = self.server.stop()
            self.server = None
        return rc

    def count(self, table="licences"):
        return db_count(self.work.db, table)

    def cleanup(self):
        self.stop()
        self.work.cleanup()


def db_count(path, table="licences"):
    """Rows of a table, read from the database file itself (read-only)."""
    db = csraw.open_ro(path, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    finally:
        db.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers   # lower-cased names
        self.body = body
        self._doc = False

    @property
    def ctype(self):
        return self.headers.get("content-type")

    @property
    def doc(self):
        if self._doc is False:
            try:
                self._doc = json.loads(self.body) if self.body else None
            except ValueError:
                self._doc = None
        return self._doc

    def __repr__(self):
        return "%d %s %s" % (self.status, self.ctype, self.body[:300])


def leak_scan_text(path, body):
    """An answer's body as the leak checks read it: /healthz and
    certsvc_build_info in /metrics name the backend ("sqlite") on purpose
    (SPEC §8), so that member and that label are left out."""
    if isinstance(path, bytes):
        path = path.decode("latin-1")
    if path.split("?")[0] == "/healthz":
        return body.replace(b'"backend":"sqlite"', b"")
    if path.split("?")[0] == "/metrics":
        return body.replace(b'backend="sqlite"', b"")
    return body


def call(server, method, path, body=None, token=None, headers=None, ctype=None,
         conn=None, timeout=60):
    """One request over http.client: header values may be bytes (sent as
    they are: raw UTF-8), dict/list bodies are JSON.  conn: a kept-alive
    HTTPConnection to reuse.  Returns a Response."""
    c = conn or connection(server, timeout)
    h = {}
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
        h["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    if ctype is not None:
        h["Content-Type"] = ctype
    if token is not None:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v.encode() if isinstance(v, str) else v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        fits_contract(method, path, resp.status, resp.ctype, data)
        return resp
    finally:
        if conn is None:
            c.close()


def connection(server, timeout=60):
    """An HTTPConnection to a Server (or to a base URL)."""
    host, port = csraw.address(server if isinstance(server, str) else server.base)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def race(server, make, n):
    """make(i, conn) in n threads released together, each on its own
    connection to server opened beforehand (so the requests arrive at
    once, not as the connections do): the results in thread order, an
    exception being its thread's result; a transport failure fails the
    test."""
    from cstest import in_parallel
    barrier = threading.Barrier(n)
    conns = [connection(server) for _ in range(n)]
    for c in conns:
        c.connect()

    def worker(i):
        try:
            barrier.wait(timeout=30)
            return make(i, conns[i])
        finally:
            conns[i].close()

    out = in_parallel(n, worker)
    errors = [x for x in out if isinstance(x, Exception)]
    check(not errors, "no request failed at the transport: %s" % errors[:3])
    return out


def raw_socket(server, timeout=30):
    """A plain TCP connection to the server (csraw.read_response reads its
    answers)."""
    return csraw.connect(server.base, timeout=timeout)


def is_problem(r, status, field=None, what=""):
    """Check r is an RFC 9457 problem of this status (and names field)."""
    doc = r.doc or {}
    ok = check(r.status == status, "%s: status %d (got %r)" % (what, status, r))
    ok = check(r.ctype == PROBLEM_CT, "%s: %s (got %s)" % (what, PROBLEM_CT, r.ctype)) and ok
    ok = check(doc.get("status") == status and isinstance(doc.get("title"), str) and
               isinstance(doc.get("type"), str) and isinstance(doc.get("detail"), str),
               "%s: problem has type, title, status, detail (%s)" % (what, doc)) and ok
    if field is not None:
        fields = [e.get("field") for e in doc.get("errors", [])]
        ok = check(field in fields, "%s: errors name %s (got %s)" % (what, field, fields)) and ok
    return ok


def is_json(r, status, what=""):
    ok = check(r.status == status, "%s: status %d (got %r)" % (what, status, r))
    ok = check(r.ctype == JSON_CT, "%s: %s (got %s)" % (what, JSON_CT, r.ctype)) and ok
    return check(r.doc is not None, "%s: a JSON body" % what) and ok


# --- the requests every test makes ------------------------------------------

def issue(server, req, token, expect=201, what="issue", conn=None):
    """POST /api/v1/certificates: the Response, checked to be a JSON answer
    of status expect (not checked when expect is None)."""
    r = call(server, "POST", "/api/v1/certificates", req, token=token, conn=conn)
    if expect is not None:
        is_json(r, expect, what)
    return r


def verify(server, text, what="verify", **kw):
    """POST /api/v1/verify of a QR text or token (text/plain) or of a dict
    (JSON): the verdict, checked to be a 200 JSON answer."""
    r = call(server, "POST", "/api/v1/verify", text,
             ctype=None if isinstance(text, dict) else "text/plain", **kw)
    is_json(r, 200, what)
    return r.doc or {}


def audit_records(server, token, query="", reads_of_the_log=False):
    """Every audit record a query matches (paged with after=).  The
    records of reads of the audit log itself (action audit_read, result
    ok: these very requests make them) are left out unless
    reads_of_the_log or the query asks for that action."""
    keep = reads_of_the_log or "action=audit_read" in query
    return [x for x in _audit_pages(server, token, query)
            if keep or not (x.get("action") == "audit_read" and x.get("result") == "ok")]


def _audit_pages(server, token, query):
    recs, after = [], 0
    while True:
        sep = "&" if query else ""
        r = call(server, "GET", "/api/v1/audit?%s%safter=%d&limit=1000" % (query, sep, after),
                 token=token)
        if not is_json(r, 200, "GET /api/v1/audit?" + query):
            return recs
        page = r.doc.get("records", [])
        recs += page
        if not page:
            return recs
        after = page[-1]["seq"]


def audit_synced(server, token):
    """Wait until the audit record of every request answered so far is in
    the database file: the records of reads and refusals are committed in
    groups (audit_flush_ms), and GET /api/v1/audit first has the writer
    commit everything queued before it (docs/design.md, "The read audit
    writer").  token: an admin's."""
    r = call(server, "GET", "/api/v1/audit?limit=1", token=token)
    check(r.status == 200, "GET /api/v1/audit to sync the audit writer: %r" % r)


METRIC = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """Prometheus text: {name or name{labels}: value}."""
    out = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def metrics(server):
    """One scrape of /metrics (values of two scrapes could straddle a
    commit), parsed."""
    r = call(server, "GET", "/metrics")
    check(r.status == 200 and (r.ctype or "").startswith("text/plain"), "GET /metrics: %r" % r)
    return parse_metrics(r.body.decode())
