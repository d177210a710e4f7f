"""A full disk, end to end (issue 13, item 3; docs/design.md, "A full
disk").

The database lives on a 3 MiB tmpfs that the test fills with dd while the
server runs, then empties again.  What must hold:

1. Writes (an issuance, a status change) answer 503 with Retry-After and an
   RFC 9457 problem, never 500 and never 201: the caller did nothing wrong
   and should retry.
2. /healthz answers 503 with a problem naming the cause (disk full), not
   200.
3. (reads: see below, issue 13 item 2)
4. Space returns (the filler is removed): without a restart /healthz says
   ok, an issuance answers 201, reads 200.

Needs root to mount the tmpfs; exits 77 (ctest: skipped) only when the
mount is impossible, and always unmounts.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, is_json, is_problem, org_code, request_for, wait_for  # noqa: E402
from cstest import check, done  # noqa: E402

SKIPPED = 77

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

    # --- 4: space returns, no restart ------------------------------------------
    os.unlink(filler)
    check(wait_for(lambda: call(s, "GET", "/healthz").status == 200, timeout=10),
          "4: /healthz is 200 again once space returns")
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "full-3", org_code(3)), token=T["env"])
    is_json(r, 201, "4: an issuance once space returns")
    r = call(s, "GET", "/api/v1/certificates/" + lic, token=T["rd_all"])
    is_json(r, 200, "4: a read once space returns")
    d.server.stop_clean("the server after a full disk")
    d.server = None
finally:
    d.stop()
    subprocess.run(["umount", "-l", disk])
    d.cleanup()
done()
