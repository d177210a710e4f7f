"""A full disk under PostgreSQL, end to end (issue 15; docs/design.md, "A
full disk on PostgreSQL").

A cluster of its own (tests/lib/cspg.py: the shared "pg" fixture's cluster
must never be filled) with a tablespace on a small tmpfs; certsvc's
database lives in that tablespace, so every table and index of certsvc is
on the small disk, while the WAL and PostgreSQL's own catalogs stay on the
big one.  That is a deployment whose data volume fills up, and what
PostgreSQL does then is an ERROR for the statement that cannot extend its
file ("could not extend file ...: No space left on device", SQLSTATE
53100): the server stays up, reads go on.  (A full pg_wal is another
matter, a PANIC: docs/design.md says what that costs.)

Two certsvc nodes serve on it; several clients issue licences and
bundles, suspend licences and look up holders while the test fills the
disk with dd, then removes the filler.  certsvc is never restarted; nor is
PostgreSQL.  What must hold:

1. Every answer is what it should be (201, 200) or a 503 with Retry-After
   and an RFC 9457 problem; never a 500, never anything else.  Once the
   disk is full, issuances are refused (the 503s come).
2. /healthz is 503 naming the cause (disk full) on a node whose writes
   found the disk full.
3. Nothing is half-written: every licence has its issue audit record and
   every record its licence, every bundle both its licences, every status
   event its licence (csdb.half_written).
4. Every licence that got a 201 is in the database and verifies valid (or
   suspended, if its suspension got a 200).
5. Space returns: without a restart, /healthz is 200 again and issuances
   and bundles answer 201 on both nodes.

It prints the time from the fill to the first 503 and from the filler's
removal to the first 201 after it.  Needs root to mount the tmpfs: exits
77 (ctest: skipped) when it cannot, and always unmounts.
"""
import atexit
import copy
import os
import pwd
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
import csload  # noqa: E402
import cspg  # noqa: E402
from cshttp import (T_RAD, Deployment, call, connection, is_problem, org_code,  # noqa: E402
                    request_for)
from cstest import Server, check, done, run_tests, wait_for  # noqa: E402

SKIPPED = 77
DISK_MB = 24         # the tablespace's tmpfs: an empty database takes ~8 MiB
ISSUERS_PER_NODE = 2
WARM_S = 1.5         # load before the fill
FULL_S = 4.0         # load while the disk is full
HTTP_TIMEOUT = 30

if os.geteuid() != 0:
    print("skipped: mounting a tmpfs needs root")
    sys.exit(SKIPPED)

cluster = cspg.Cluster().start()
disk = os.path.join(cluster.root, "disk")
os.mkdir(disk)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % DISK_MB, "tmpfs", disk],
                         capture_output=True).returncode == 0


@atexit.register
def _cleanup():
    cluster.stop(remove=False)
    if mounted:
        subprocess.run(["umount", "-l", disk])
    cluster.stop()


if not mounted:
    print("skipped: cannot mount a tmpfs here")
    sys.exit(SKIPPED)
pw = pwd.getpwnam("postgres")
os.chown(disk, pw.pw_uid, pw.pw_gid)
filler = os.path.join(disk, "filler")
cluster.psql("CREATE TABLESPACE small LOCATION '%s'" % disk)

# The Workdir's database is made on this cluster (csdb.new_db reads the
# admin URI from CS_TEST_PG_DIR/uri), with its clients, then moved into
# the tablespace whole (no session uses it yet).
with open(os.path.join(cluster.root, "uri"), "w") as f:
    f.write(cluster.uri() + "\n")
os.environ["CS_TEST_BACKEND"] = "postgresql"
os.environ["CS_TEST_PG_DIR"] = cluster.root
csdb.BACKEND = "postgresql"
d = Deployment()
DBNAME = d.work.db.rsplit("/", 1)[1]
cluster.psql('ALTER DATABASE "%s" SET TABLESPACE small' % DBNAME)
T = d.tokens
work_b = copy.copy(d.work)
work_b.dir = tempfile.mkdtemp(prefix="certsvc-node-b-")
# The new database's files are written out before the fill, so that the
# filler takes all that is left.
cluster.psql("CHECKPOINT")
a = d.start("--rate-limit", "0")
b = Server(work_b, "--rate-limit", "0")
NODES = (a, b)
NAMES = {a: "A", b: "B"}
print("certsvc's database %s in a tablespace on a %d MiB tmpfs" % (DBNAME, DISK_MB), flush=True)

load = csload.Load(NODES, T, issuers_per_node=ISSUERS_PER_NODE, tag="DF")
marks = {}            # "fill", "free": time.monotonic()


def healthz(node):
    try:
        return call(node, "GET", "/healthz", timeout=HTTP_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - recorded, and a failure
        return "%s: %s" % (type(e).__name__, e)


health_full = {}      # node: the /healthz answers while the disk is full


def fill_and_free():
    load.start()
    try:
        time.sleep(WARM_S)
        marks["fill"] = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], capture_output=True)
        print("disk filled in %.2f s" % (time.monotonic() - marks["fill"]), flush=True)
        wait_for(lambda: load.first({("issue", 503)}, marks["fill"]) is not None, timeout=10)
        end = time.monotonic() + FULL_S
        while time.monotonic() < end:
            for n in NODES:
                health_full.setdefault(n, []).append(healthz(n))
            time.sleep(0.2)
        marks["free"] = time.monotonic()
        os.unlink(filler)
        wait_for(lambda: load.first({("issue", 201)}, marks["free"]) is not None, timeout=20)
        wait_for(lambda: load.first({("bundle", 201)}, marks["free"]) is not None, timeout=10)
        time.sleep(1.0)
    finally:
        load.stop()
    t503 = load.first({("issue", 503)}, marks["fill"])
    t201 = load.first({("issue", 201)}, marks["free"])
    check(t503 is not None, "1: issuances answer 503 once the disk is full")
    check(t201 is not None, "5: an issuance answers 201 once space returns")
    if t503 is not None and t201 is not None:
        print("fill -> first 503: %.3f s; filler removed -> first 201: %.3f s" % (
            t503 - marks["fill"], t201 - marks["free"]), flush=True)


def every_answer_allowed():
    # load.stop() checked that each is a success or a 503.
    answers = load.answers
    check(not [x for x in answers if x["status"] == 500], "1: no 500 anywhere")
    unavailable = [x for x in answers if x["status"] == 503]
    for x in unavailable[:1] + unavailable[-1:]:
        r = x["r"]
        is_problem(r, 503, what="1: a %s refused on a full disk" % x["kind"])
        ra = r.headers.get("retry-after", "")
        check(ra.isdigit() and int(ra) > 0, "1: a %s's 503 carries Retry-After (got %r)" % (
            x["kind"], ra))
    check(all(x["r"].headers.get("retry-after") for x in unavailable),
          "1: every 503 carries Retry-After")
    # The disk stays full from the first refused issuance to the removal:
    # no issuance sent in that time can find room for its licence.
    t503 = load.first({("issue", 503)}, marks["fill"])
    late = [x for x in answers if x["kind"] in ("issue", "bundle") and x["status"] == 201 and
            t503 is not None and x["t0"] > t503 + 0.5 and x["t1"] < marks["free"]]
    check(not late, "1: no issuance sent after the first 503 gets a 201 while the disk is full "
          "(%d did)" % len(late))


def healthz_while_full():
    for n in NODES:
        got = health_full.get(n, [])
        full = [r for r in got if not isinstance(r, str) and r.status == 503]
        check(full, "2: node %s: /healthz 503 while its writes find the disk full (%s)" % (
            NAMES[n], Counter(r.status if not isinstance(r, str) else r for r in got)))
        if full:
            is_problem(full[-1], 503, what="2: node %s: /healthz on a full disk" % NAMES[n])
            check("disk full" in ((full[-1].doc or {}).get("detail") or "").lower(),
                  "2: node %s: /healthz names the cause (%r)" % (NAMES[n], full[-1].doc))


def nothing_half_written():
    bad = csdb.half_written(d.work.db)
    check(not bad, "3: nothing half-written: %s" % bad)


def acknowledged_all_there():
    con = csdb.open_ro(d.work.db)
    try:
        stored = {r[0] for r in con.execute("SELECT id FROM licences")}
    finally:
        con.close()
    docs = {x: doc for x, (_, doc) in load.acked.items()}
    lost = [x for x in docs if x not in stored]
    check(not lost, "4: every licence answered 201 (%d) is stored: %d lost, e.g. %s" % (
        len(docs), len(lost), lost[:3]))
    bad = []
    conn = connection(a, HTTP_TIMEOUT)
    for lid, doc in docs.items():
        r = call(a, "POST", "/api/v1/verify", doc["qr_text"], ctype="text/plain", conn=conn)
        want = "suspended" if lid in load.suspended else "valid"
        if r.status != 200 or (r.doc or {}).get("result") != want:
            bad.append((lid, want, r))
    conn.close()
    check(not bad, "4: every acknowledged licence verifies: %d do not, e.g. %s" % (
        len(bad), bad[:3]))


def serve_again_without_restart():
    for n in NODES:
        check(n.alive(), "5: node %s still runs (never restarted)" % NAMES[n])
        r = healthz(n)
        check(not isinstance(r, str) and r.status == 200,
              "5: node %s: /healthz 200 once space returns (%r)" % (NAMES[n], r))
        req = request_for(T_RAD, "DF-AFTER-%s" % NAMES[n], org_code(8000 + (n is b)))
        r = call(n, "POST", "/api/v1/certificates", req, token=T["env"])
        check(r.status == 201, "5: node %s: an issuance after the fill gives 201 (%r)" % (
            NAMES[n], r))


run_tests([
    ("fill_and_free", fill_and_free),
    ("every_answer_allowed", every_answer_allowed),
    ("healthz_while_full", healthz_while_full),
    ("serve_again_without_restart", serve_again_without_restart),
    ("nothing_half_written", nothing_half_written),
    ("acknowledged_all_there", acknowledged_all_there),
])
for node in NODES:
    node.stop_clean("node %s" % NAMES[node])
d.cleanup()
work_b.cleanup()
done()
