"""A full disk, end to end (issue 13, items 2 and 3; docs/design.md, "A full
disk").

The database lives on a 3 MiB tmpfs that the test fills with dd while the
server runs, then empties again.  What must hold:

1. Writes (an issuance, a status change) answer 503 with Retry-After and an
   RFC 9457 problem, never 500 and never 201: the caller did nothing wrong
   and should retry.
2. /healthz answers 503 with a problem naming the cause (disk full), not
   200.
3. Reads are answered only while the oldest audit record not yet committed
   is younger than audit_max_lag_ms (1,000 by default): every read sent
   after that answers 503 with Retry-After, so no read is served while its
   record can only wait in memory.  The audit log (GET /api/v1/audit,
   which waits for the writer) answers 503 too.
4. Space returns (the filler is removed): without a restart /healthz says
   ok, an issuance answers 201, reads 200, and every read answered while
   the disk was full has its audit record.

Needs root to mount the tmpfs; exits 77 (ctest: skipped) only when the
mount is impossible, and always unmounts.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, is_json, is_problem, org_code, request_for  # noqa: E402
from cstest import check, done, wait_for  # noqa: E402

SKIPPED = 77
MAX_LAG_S = 1.0    # audit_max_lag_ms, the default
SLACK_S = 0.3      # a request's own time on a loaded machine
READ_FOR_S = 3.0   # how long reads are sent while the disk is full

d = Deployment(clients=False)
disk = os.path.join(d.work.dir, "disk")
os.mkdir(disk)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk],
                  capture_output=True).returncode != 0:
    print("skipped: cannot mount a tmpfs here (not root?)")
    d.cleanup()
    sys.exit(SKIPPED)
filler = os.path.join(disk, "filler")


def fill_disk():
    subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], capture_output=True)


def retry_after(r):
    """Whether r carries a Retry-After of a whole number of seconds > 0."""
    v = r.headers.get("retry-after", "")
    return v.isdigit() and int(v) > 0


def unavailable(r, what):
    """r is a 503 problem with Retry-After."""
    ok = is_problem(r, 503, what=what)
    return check(retry_after(r), "%s: Retry-After (got %r)" % (what, r.headers.get("retry-after"))) and ok


def audited(request_ids):
    """The request ids among these that the audit log holds."""
    r = call(s, "GET", "/api/v1/audit?action=read&limit=1000", token=T["admin"])
    return {x.get("request_id") for x in (r.doc or {}).get("records", [])} & set(request_ids)


try:
    d.work.db = os.path.join(disk, "certsvc.db")
    d.work.settings[d.work.settings.index("--db") + 1] = d.work.db
    for name, role, types, auth in d.CLIENTS:
        if name in ("env", "rd_all", "admin"):
            d.add_client(name, role, types, auth)
    T = d.tokens
    s = d.start("--rate-limit", "0")
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "full-1", org_code(1)), token=T["env"])
    is_json(r, 201, "an issuance before the disk fills")
    lic = (r.doc or {}).get("id", "none")
    check(call(s, "GET", "/healthz").status == 200, "/healthz is 200 before the disk fills")

    fill_disk()

    # --- 1, 2: writes, and /healthz ------------------------------------------
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "full-2", org_code(2)), token=T["env"])
    unavailable(r, "1: an issuance on a full disk")
    r = call(s, "POST", "/api/v1/certificates/%s/suspend" % lic, {"reason": "disk full test"},
             token=T["env"])
    unavailable(r, "1: a suspension on a full disk")
    r = call(s, "GET", "/healthz")
    is_problem(r, 503, what="2: /healthz on a full disk")
    check("disk full" in ((r.doc or {}).get("detail") or "").lower(),
          "2: /healthz names the cause, disk full (got %r)" % (r.doc,))

    # --- 3: reads stop once the oldest record waits too long -----------------
    reads = []  # (sent, answered, response)
    start = time.time()
    while time.time() < start + READ_FOR_S:
        sent = time.time()
        r = call(s, "GET", "/api/v1/certificates/" + lic, token=T["rd_all"])
        reads.append((sent, time.time(), r))
        time.sleep(0.02)
    first = reads[0]
    check(first[2].status == 200, "3: the first read on a full disk is answered (%r)" % first[2])
    late = [(round(sent - first[1], 2), r.status) for sent, _, r in reads
            if sent > first[1] + MAX_LAG_S + SLACK_S and r.status != 503]
    check(not late, "3: every read sent %.1f s after the first unwritten record is refused "
          "(answered otherwise, at s after it: %s)" % (MAX_LAG_S + SLACK_S, late[:5]))
    refused = [r for _, _, r in reads if r.status == 503]
    check(refused and unavailable(refused[-1], "3: a read refused while its record cannot be written"),
          "3: some reads were refused (%d of %d)" % (len(refused), len(reads)))
    check(all(r.status in (200, 503) for _, _, r in reads),
          "3: no read answers anything but 200 or 503 (%s)" % sorted({r.status for _, _, r in reads}))
    served = [r.headers.get("x-request-id") for _, _, r in reads if r.status == 200]
    r = call(s, "GET", "/api/v1/audit?action=read", token=T["admin"])
    unavailable(r, "3: the audit log while read records cannot be written")

    # --- 4: space returns, no restart ------------------------------------------
    os.unlink(filler)
    check(wait_for(lambda: call(s, "GET", "/healthz").status == 200, timeout=10),
          "4: /healthz is 200 again once space returns")
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "full-3", org_code(3)), token=T["env"])
    is_json(r, 201, "4: an issuance once space returns")
    # The read audit writer tries again every 200 ms; until its records
    # are written, reads stay refused.
    check(wait_for(lambda: call(s, "GET", "/api/v1/certificates/" + lic, token=T["rd_all"]).status == 200,
                   timeout=5), "4: reads are answered again once the audit writer catches up")
    missing = set(served) - audited(served)
    check(not missing, "4: every read answered on the full disk is in the audit log (%d of %d missing)"
          % (len(missing), len(served)))
    d.server.stop_clean("the server after a full disk")
    d.server = None
finally:
    d.stop()
    subprocess.run(["umount", "-l", disk])
    d.cleanup()
done()
