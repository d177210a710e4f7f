"""Full-page drawings are bounded (issue 20, render_gate.h): with
render_concurrency = 1, six face.png requests at once all get their PNG,
and the server never drew more than one at a time
(certsvc_renders_in_flight_max, read from /metrics; before the gate, up to
one drawing per worker thread ran).  A drawing that waits past
render_wait_ms gets 503 with Retry-After as an RFC 9457 problem, an
annotated copy's PDF too, and the slot it never took is not lost: once the
drawing in front of it ends, the same requests succeed and nothing is in
flight.

Drawings are held in their slot by the test hook
CERTSVC_TEST_RENDER_DELAY_MS (builds with -DCERTSVC_TEST_HOOKS=ON), so the
waits do not depend on how fast this machine draws; every other wait polls
/metrics with a generous deadline."""
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, is_problem, issue, metrics, org_code, parse_metrics, race, request_for  # noqa: E402
from cstest import check, done, run_tests  # noqa: E402

N = 6
CERT = "/api/v1/certificates/"
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def licences(s, T, n, tag):
    return [(issue(s, request_for(T_RAD, "%s-%d" % (tag, i), org_code(100 + i)), T["env"]).doc
             or {}).get("id", "?") for i in range(n)]


def png_size(body):
    """(width, height) from a PNG's IHDR, or None when it is no PNG."""
    if not body.startswith(PNG_SIG) or body[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", body[16:24])


def wait_metric(s, name, want, deadline=60):
    """Poll /metrics until name == want; the last value seen.  A drawing
    holds its worker thread: a scrape that worker accepted just before
    (in the same turn of its loop) waits behind the drawing and would see
    it over.  So a scrape gives up after a second and the next one, on a
    new connection, goes to a worker that is free."""
    end = time.monotonic() + deadline
    v = None
    while True:
        try:
            r = call(s, "GET", "/metrics", timeout=1)
            v = parse_metrics(r.body.decode()).get(name)
        except TimeoutError:
            pass
        if v == want or time.monotonic() > end:
            return v
        time.sleep(0.05)


def face_png(s, T, lid, conn=None):
    return call(s, "GET", CERT + lid + "/face.png", token=T["rd_rad"], conn=conn)


def one_at_a_time():
    d = Deployment()
    try:
        # Eight worker threads: without the gate, six drawings would run
        # at once.  Each holds its slot 300 ms, so they overlap.
        s = d.start("--rate-limit", "0", "--threads", "8", "--render-concurrency", "1",
                    env={"CERTSVC_TEST_RENDER_DELAY_MS": "300"})
        T = d.tokens
        ids = licences(s, T, N, "RG")
        m0 = metrics(s)
        check(m0.get("certsvc_render_concurrency") == 1 and m0.get("certsvc_renders_in_flight") == 0 and
              m0.get("certsvc_renders_in_flight_max") == 0,
              "the gate's metrics before any drawing: %s" %
              {k: v for k, v in m0.items() if "render" in k})
        out = race(s, lambda i, conn: face_png(s, T, ids[i], conn=conn), N)
        bad = [r for r in out if getattr(r, "status", None) != 200 or
               r.headers.get("content-type") != "image/png"]
        check(not bad, "%d face.png requests at once all get a PNG: %s" % (N, bad[:2]))
        sizes = {png_size(r.body) for r in out if getattr(r, "status", None) == 200}
        check(sizes == {(2246, 1588)}, "each is the face at scale 2: %s" % sizes)
        m = metrics(s)
        check(m.get("certsvc_renders_in_flight_max") == 1,
              "never more than one drawing at once (max %s)" % m.get("certsvc_renders_in_flight_max"))
        check(m.get("certsvc_renders_in_flight") == 0 and m.get("certsvc_render_refusals_total") == 0,
              "none left in flight, none refused: %s" % {k: v for k, v in m.items() if "render" in k})
        check(0 <= m.get("certsvc_render_waits_total", -1) <= N - 1,
              "at most %d waited for a slot: %s" % (N - 1, m.get("certsvc_render_waits_total")))
        check(d.stop() == 0, "the server stops cleanly")
    finally:
        d.cleanup()


def refused_after_wait():
    d = Deployment()
    try:
        # The drawing in front holds the one slot 8 s; the others wait
        # 500 ms at most.
        s = d.start("--rate-limit", "0", "--threads", "4", "--render-concurrency", "1",
                    "--render-wait-ms", "500", env={"CERTSVC_TEST_RENDER_DELAY_MS": "8000"})
        T = d.tokens
        ids = licences(s, T, 2, "RW")
        cp = call(s, "POST", CERT + ids[1] + "/copies", {"purpose": "核验"}, token=T["rd_rad"])
        check(cp.status == 201, "a copy to download: %r" % cp)
        first = {}
        t = threading.Thread(target=lambda: first.update(r=face_png(s, T, ids[0])))
        t.start()
        check(wait_metric(s, "certsvc_renders_in_flight", 1) == 1, "the first drawing holds the slot")
        r = face_png(s, T, ids[1])
        is_problem(r, 503, what="face.png past render_wait_ms")
        check((r.doc or {}).get("type", "").endswith("/unavailable"), "its type is unavailable: %s" % r.doc)
        check((r.headers.get("retry-after") or "").isdigit(), "with Retry-After: %s" % r.headers)
        pdf = call(s, "GET", (cp.doc or {}).get("pdf", "/"), token=T["rd_rad"])
        is_problem(pdf, 503, what="a copy's PDF past render_wait_ms")
        check(pdf.headers.get("retry-after") is not None, "the copy's 503 has Retry-After")
        t.join(120)
        check(first.get("r") is not None and first["r"].status == 200 and png_size(first["r"].body),
              "the first drawing ends with its PNG: %r" % first.get("r"))
        m = metrics(s)
        check(m.get("certsvc_render_refusals_total") == 2 and m.get("certsvc_render_waits_total") == 2,
              "two waited and were refused: %s" % {k: v for k, v in m.items() if "render" in k})
        check(m.get("certsvc_renders_in_flight") == 0, "no slot is left taken after the refusals")
        # A refused request took no slot: the next one draws at once.
        r2 = face_png(s, T, ids[1])
        check(r2.status == 200 and png_size(r2.body) is not None, "after the wait the face draws: %r" % r2)
        check(metrics(s).get("certsvc_renders_in_flight_max") == 1, "still never two at once")
        check(d.stop() == 0, "the server stops cleanly")
    finally:
        d.cleanup()


run_tests([one_at_a_time, refused_after_wait])
done()
