"""Raw HTTP and read-only database helpers for the tests that speak HTTP
below a client library (tests/hostile_test.py, abuse_test.py,
crash_test.py, http_framing_test.py, ...).

Raw requests go over a plain socket so that a test can send what a polite
client library refuses to: invalid UTF-8 in the request line, oversized or
malformed headers, bodies that do not match their Content-Length, and a
source address of its own choosing (127.0.0.2 is another remote address
for the server's per-address rate limiter, while it listens on 127.0.0.1).
"""
import hashlib
import http.client
import io
import json
import select
import socket
from urllib.parse import urlsplit

import csdb


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers   # lower-case names
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def doc(self):
        """The body as JSON, or None."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "RawResponse(%s, %r)" % (self.status, self.body[:200])


def address(base):
    """(host, port) of a server's base URL."""
    u = urlsplit(base)
    return u.hostname, u.port


def connect(base, source=None, timeout=10):
    """A TCP connection to the server, optionally from a given source
    address (port chosen by the kernel)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(address(base))
    return s


class _Source:
    """A socket to http.client.HTTPResponse: it only asks for a file to
    read the response from."""

    def __init__(self, f):
        self.f = f

    def makefile(self, *a, **k):
        return self.f


def read_response(sock, method="GET"):
    """Read one HTTP response from a socket; None when the server closed
    the connection without answering."""
    resp = http.client.HTTPResponse(_Source(sock.makefile("rb")), method=method)
    try:
        resp.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return None
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    return RawResponse(resp.status, headers, body)


def responses(raw):
    """The responses in bytes read off a connection, parsed one after the
    other: [(status, headers with lower-case names, body)]."""
    out, rest = [], raw
    while rest.startswith(b"HTTP/"):
        resp = http.client.HTTPResponse(_Source(io.BytesIO(rest)))
        resp.begin()
        body = resp.read()
        out.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}, body))
        end = rest.index(b"\r\n\r\n") + 4 + len(body)
        rest = rest[end:]
    return out


def build(method, target, headers=None, body=None, host="127.0.0.1", close=True):
    """The bytes of one request.  target and header values may be bytes
    (sent as they are) or str (UTF-8).  headers: a list of (name, value);
    Content-Length is added for a body unless given (or chunked)."""
    def b(x):
        return x if isinstance(x, bytes) else str(x).encode()
    headers = list(headers or [])
    names = {b(n).lower() for n, _ in headers}
    if b"host" not in names:
        headers.insert(0, ("Host", host))
    if body is not None and b"content-length" not in names and \
            b"transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    if close and b"connection" not in names:
        headers.append(("Connection", "close"))
    out = b(method) + b" " + b(target) + b" HTTP/1.1\r\n"
    for n, v in headers:
        out += b(n) + b": " + b(v) + b"\r\n"
    out += b"\r\n"
    if body is not None:
        out += b(body)
    return out


def request(base, method, target, headers=None, body=None, source=None,
            timeout=10, early_answer=False):
    """Send one raw request and read its answer (RawResponse or None).
    early_answer: send the head first and wait a moment for an answer
    before the body (a server that refuses a Content-Length answers at
    once and closes the connection without reading the body)."""
    s = connect(base, source, timeout)
    try:
        data = build(method, target, headers, body)
        if early_answer and body:
            head = data[:len(data) - len(body)]
            s.sendall(head)
            r, _, _ = select.select([s], [], [], 2.0)
            if not r:
                try:
                    s.sendall(body if isinstance(body, bytes) else body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass
        else:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            return read_response(s, method)
        except (socket.timeout, ConnectionResetError):
            return None
    finally:
        s.close()


def send(base, method, target, body=None, token=None, ctype=None, headers=None,
         source=None, timeout=10, early_answer=False):
    """request() with a bearer token and a Content-Type: a dict or list
    body is sent as JSON (UTF-8; application/json unless ctype says
    otherwise), a str as UTF-8."""
    h = list(headers or [])
    if token:
        h.append(("Authorization", "Bearer " + token))
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
        ctype = ctype or "application/json"
    elif isinstance(body, str):
        body = body.encode()
    if ctype:
        h.append(("Content-Type", ctype))
    return request(base, method, target, h, body, source=source, timeout=timeout,
                   early_answer=early_answer)


def alive(base, timeout=5):
    """Whether GET /healthz answers 200."""
    try:
        r = request(base, "GET", "/healthz", timeout=timeout)
        return r is not None and r.status == 200
    except OSError:
        return False


# --- the database file, read-only ------------------------------------------

def open_ro(path, timeout=10):
    """A read-only connection, SQLite or PostgreSQL (csdb.py)."""
    return csdb.open_ro(path, timeout)


def counts(path):
    """Rows per table."""
    db = open_ro(path)
    try:
        return {t: db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                for t in ("licences", "status_events", "bundles", "audit",
                          "clients", "grants", "client_revocations")}
    finally:
        db.close()


def table_hash(path, table, order):
    """SHA-256 of every row of a table, in a fixed order."""
    db = open_ro(path)
    h = hashlib.sha256()
    try:
        for row in db.execute("SELECT * FROM %s ORDER BY %s" % (table, order)):
            h.update(repr(row).encode())
    finally:
        db.close()
    return h.hexdigest()
