"""Request framing (RFC 9112 §6): a body is delimited one way only, or the
request is refused with 400 and the connection closed.

A proxy in front of certsvc that frames a request differently (the second
Content-Length, the Content-Length beside chunked, a transfer coding it
strips) would otherwise see one request where certsvc reads two: the rest
of the body becomes a request of its own, smuggled past the proxy.  So
each ambiguous head is sent on a kept-alive raw socket with a second,
harmless request pipelined after it, and the test checks what no single
request -> answer row of the hostile table can: exactly one answer comes
back (a 400 problem naming the header, with Connection: close), the server
closes the socket (recv returns b"") within a moment, not at the
connection timeout, and the pipelined request is never answered.  The
same exchange with a well-framed request answers both (the control).
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csraw  # noqa: E402
from cstest import Server, Workdir, check, done  # noqa: E402

PROBLEM = "https://certsvc.example/problems/bad-request"
NEXT = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"


def head(*fields):
    """A POST /api/v1/verify head with these fields, kept alive."""
    lines = [b"POST /api/v1/verify HTTP/1.1", b"Host: 127.0.0.1",
             b"Content-Type: text/plain", b"Connection: keep-alive"]
    lines += [n.encode() + b": " + v.encode() for n, v in fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


# (name, the request's bytes, the header its problem must name)
REFUSED = [
    ("two different Content-Lengths", head(("Content-Length", "5"), ("Content-Length", "45")) +
     b"hello" + NEXT, "Content-Length"),
    ("the same Content-Length twice", head(("Content-Length", "5"), ("Content-Length", "5")) +
     b"hello" + NEXT, "Content-Length"),
    ("Content-Length with chunked", head(("Transfer-Encoding", "chunked"),
                                         ("Content-Length", "5")) + CHUNKED_HELLO + NEXT,
     "Transfer-Encoding"),
    ("chunked with Content-Length after it", head(("Content-Length", "5"),
                                                  ("Transfer-Encoding", "chunked")) +
     CHUNKED_HELLO + NEXT, "Transfer-Encoding"),
    ("Transfer-Encoding: gzip, chunked", head(("Transfer-Encoding", "gzip, chunked")) +
     CHUNKED_HELLO + NEXT, "Transfer-Encoding"),
    ("Transfer-Encoding: chunked, gzip", head(("Transfer-Encoding", "chunked, gzip")) +
     CHUNKED_HELLO + NEXT, "Transfer-Encoding"),
    ("Transfer-Encoding: identity", head(("Transfer-Encoding", "identity"),) +
     b"hello" + NEXT, "Transfer-Encoding"),
    ("Transfer-Encoding: gzip", head(("Transfer-Encoding", "gzip"),) + b"hello" + NEXT,
     "Transfer-Encoding"),
    ("chunked twice", head(("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")) +
     CHUNKED_HELLO + NEXT, "Transfer-Encoding"),
    ("Transfer-Encoding on a GET", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n" + NEXT, "Transfer-Encoding"),
]

# Well framed: both requests answered, the connection kept.
KEPT = [
    ("one Content-Length", head(("Content-Length", "5"),) + b"hello" + NEXT),
    ("chunked alone", head(("Transfer-Encoding", "chunked"),) + CHUNKED_HELLO + NEXT),
    ("chunked in capitals (coding names are case-insensitive)",
     head(("Transfer-Encoding", "Chunked"),) + CHUNKED_HELLO + NEXT),
    ("Content-Length with leading zeros", head(("Content-Length", "005"),) + b"hello" + NEXT),
]


def exchange(data, wait=3.0):
    """Send data on a fresh socket; everything read until the server
    closes it or wait seconds pass, and whether it closed."""
    s = csraw.connect(srv.base, timeout=wait)
    s.sendall(data)
    out, closed, deadline = b"", False, time.time() + wait
    try:
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    return out, closed


w = Workdir()
srv = Server(w, "--rate-limit", "0")
try:
    for name, data, header in REFUSED:
        t0 = time.time()
        raw, closed = exchange(data)
        got = csraw.responses(raw)
        if not check(len(got) == 1, "%s: exactly one answer, the pipelined request unanswered "
                     "(got %d: %r)" % (name, len(got), raw[:400])):
            continue
        status, h, body = got[0]
        check(status == 400, "%s: 400 (got %d %r)" % (name, status, body[:200]))
        check(h.get("content-type", "").startswith("application/problem+json") and
              PROBLEM.encode() in body, "%s: a bad-request problem (%s %r)" % (
                  name, h.get("content-type"), body[:200]))
        check(('"field":"%s"' % header).encode() in body, "%s: errors[] names %s: %r" % (
            name, header, body[:300]))
        check(h.get("connection", "").lower() == "close", "%s: Connection: close (%s)" % (
            name, h.get("connection")))
        check(closed and time.time() - t0 < 2.5, "%s: the server closed the connection at once "
              "(closed=%s after %.1f s)" % (name, closed, time.time() - t0))
    for name, data in KEPT:
        raw, closed = exchange(data, wait=1.5)
        got = csraw.responses(raw)
        check([s for s, _, _ in got] == [200, 200], "%s: both requests answered 200 (%r)" % (
            name, [s for s, _, _ in got]))
        check(not closed, "%s: the connection is kept" % name)
    check(csraw.alive(srv.base), "/healthz answers after the exchanges")
finally:
    srv.stop_clean()
    w.cleanup()
done()
