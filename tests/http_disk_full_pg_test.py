"""A full disk under PostgreSQL, end to end (issue 15; docs/design.md, "A
full disk on PostgreSQL").

A cluster of its own (tests/lib/cspg.py: the shared "pg" fixture's cluster
must never be filled) with two small tmpfs disks: a tablespace holding
certsvc's database (every table and index of certsvc; PostgreSQL's own
catalogs stay on the big disk), and pg_wal (initdb --waldir, 1 MiB
segments so that certsvc's own writes soon need a new one).  Two certsvc
nodes serve on it; several clients issue licences and bundles, suspend
licences and look up holders (tests/lib/csload.py) while the test fills
one disk with dd, then removes the filler.  certsvc is never restarted.

The data disk ("tablespace"): PostgreSQL answers the statement that cannot
extend its file with an ERROR ("could not extend file ...: No space left
on device", SQLSTATE 53100); the server stays up, reads go on.

1. Every answer is what it should be (201, 200) or a 503 with Retry-After
   and an RFC 9457 problem; never a 500, never anything else.  Once the
   disk is full, issuances are refused (the 503s come), and none sent
   after the first 503 gets a 201 until space returns.
2. /healthz is 503 naming the cause (disk full) on both nodes.
5. Space returns: without a restart of anything, /healthz is 200 again
   and issuances and bundles answer 201 on both nodes.

The WAL disk ("wal"): PostgreSQL cannot make a new WAL segment and PANICs;
it ends every session and restarts into crash recovery, again and again
while the disk is full.  (A batch job of another user of the server
writes a few MiB of WAL right after the fill, so that the recycled
segments PostgreSQL keeps ahead are used up at once.)

1. Every answer is a success or a 503 with Retry-After; never a 500.
   (201s come between the PANICs, while a segment made before has room:
   each is a commit PostgreSQL confirmed.)
2. /healthz is 503 on both nodes at times (no writable primary).
5. Space returns: issuances answer 201 on both nodes again without a
   restart of certsvc; PostgreSQL finishes its recovery by itself (the
   test starts it only if it stopped, and says so).

After both, for everything the load was told:
3. Nothing is half-written: every licence has its issue audit record and
   every record its licence, every bundle both its licences, every status
   event its licence (csdb.half_written).
4. Every licence that got a 201 is in the database and verifies valid (or
   suspended, if its suspension got a 200).

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
DATA_MB = 24         # the tablespace's tmpfs: an empty database takes ~8 MiB
WAL_MB = 24          # pg_wal's: checkpoints every few MiB keep it to a few segments
ISSUERS_PER_NODE = 2
WARM_S = 1.5         # load before the fill
FULL_S = 4.0         # load while the disk is full
HTTP_TIMEOUT = 30

if os.geteuid() != 0:
    print("skipped: mounting a tmpfs needs root")
    sys.exit(SKIPPED)

cluster = cspg.Cluster()
os.makedirs(cluster.root, exist_ok=True)
DISKS = {"tablespace": (os.path.join(cluster.root, "disk"), DATA_MB),
         "wal": (os.path.join(cluster.root, "wal"), WAL_MB)}
mounted = []


@atexit.register
def _cleanup():
    cluster.stop(remove=False)
    for path in mounted:
        subprocess.run(["umount", "-l", path])
    cluster.stop()


pw = pwd.getpwnam("postgres")
for path, mb in DISKS.values():
    os.mkdir(path)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % mb, "tmpfs", path],
                      capture_output=True).returncode != 0:
        print("skipped: cannot mount a tmpfs here")
        sys.exit(SKIPPED)
    mounted.append(path)
    os.chown(path, pw.pw_uid, pw.pw_gid)
cluster.start(settings=["max_wal_size = 4MB", "min_wal_size = 2MB"],
              initdb_args=["--waldir", DISKS["wal"][0], "--wal-segsize", "1"])
cluster.psql("CREATE TABLESPACE small LOCATION '%s'" % DISKS["tablespace"][0])

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
print("certsvc's database %s in a tablespace on a %d MiB tmpfs, pg_wal on a %d MiB one" % (
    DBNAME, DATA_MB, WAL_MB), flush=True)

loads = {}            # disk: its csload.Load
marks = {}            # (disk, "fill" or "free"): time.monotonic()
health_full = {}      # (disk, node): the /healthz answers while the disk is full
pg_restarted = []     # disks after whose filling the test had to start PostgreSQL


def healthz(node):
    try:
        return call(node, "GET", "/healthz", timeout=HTTP_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - recorded, and a failure
        return "%s: %s" % (type(e).__name__, e)


def fill_and_free(disk):
    """Load on both nodes; the disk filled, FULL_S of load, the filler
    removed, load until issuances and bundles answer 201 again."""
    path = DISKS[disk][0]
    filler = os.path.join(path, "filler")
    load = loads[disk] = csload.Load(NODES, T, issuers_per_node=ISSUERS_PER_NODE,
                                     tag="DF" + disk[0].upper())
    load.start()
    try:
        time.sleep(WARM_S)
        fill = marks[disk, "fill"] = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], capture_output=True)
        if disk == "wal":
            # PostgreSQL keeps a few recycled segments ahead: certsvc's
            # load alone would take seconds to use them up, so another
            # user of the server writes a few MiB of WAL at once.
            try:
                cluster.psql("CREATE TABLE batch AS SELECT repeat(md5(g::text), 40) "
                             "FROM generate_series(1, 10000) g")
            except subprocess.CalledProcessError as e:
                print("wal: the batch job: %s" % e.stderr.strip().splitlines()[0], flush=True)
        print("%s: filled in %.2f s" % (disk, time.monotonic() - fill), flush=True)
        wait_for(lambda: load.first({("issue", 503)}, fill) is not None, timeout=10)
        end = time.monotonic() + FULL_S
        while time.monotonic() < end:
            for n in NODES:
                health_full.setdefault((disk, n), []).append(healthz(n))
            time.sleep(0.2)
        free = marks[disk, "free"] = time.monotonic()
        os.unlink(filler)
        wait_for(lambda: load.first({("issue", 201)}, free) is not None or
                 not cluster.running(), timeout=20)
        if not cluster.running():
            # Crash recovery gave up while the disk was full: the
            # operator's part, once there is room again.
            pg_restarted.append(disk)
            cluster._pg_ctl_start()
            wait_for(lambda: load.first({("issue", 201)}, free) is not None, timeout=20)
        wait_for(lambda: load.first({("bundle", 201)}, free) is not None, timeout=10)
        time.sleep(1.0)
    finally:
        load.stop()
    t503 = load.first({("issue", 503)}, fill)
    t201 = load.first({("issue", 201)}, free)
    check(t503 is not None, "%s 1: issuances answer 503 once the disk is full" % disk)
    check(t201 is not None, "%s 5: an issuance answers 201 once space returns" % disk)
    if t503 is not None and t201 is not None:
        print("%s: fill -> first 503: %.3f s; filler removed -> first 201: %.3f s%s" % (
            disk, t503 - fill, t201 - free,
            " (PostgreSQL started again by the test)" if disk in pg_restarted else ""),
            flush=True)


def every_answer_allowed(disk):
    # load.stop() checked that each is a success or a 503.
    load = loads[disk]
    answers = load.answers
    check(not [x for x in answers if x["status"] == 500], "%s 1: no 500 anywhere" % disk)
    unavailable = [x for x in answers if x["status"] == 503]
    for x in unavailable[:1] + unavailable[-1:]:
        is_problem(x["r"], 503, what="%s 1: a %s refused" % (disk, x["kind"]))
    bare = [x for x in unavailable if not x["r"].headers.get("retry-after", "").isdigit()]
    check(not bare, "%s 1: every 503 carries Retry-After (%d do not)" % (disk, len(bare)))
    if disk != "tablespace":
        return
    # The disk stays full from the first refused issuance to the removal:
    # no issuance sent in that time can find room for its licence.
    t503 = load.first({("issue", 503)}, marks[disk, "fill"])
    late = [x for x in answers if x["kind"] in ("issue", "bundle") and x["status"] == 201 and
            t503 is not None and x["t0"] > t503 + 0.5 and x["t1"] < marks[disk, "free"]]
    check(not late, "%s 1: no issuance sent after the first 503 gets a 201 while the disk "
          "is full (%d did)" % (disk, len(late)))


def healthz_while_full(disk):
    for n in NODES:
        got = health_full.get((disk, n), [])
        full = [r for r in got if not isinstance(r, str) and r.status == 503]
        check(full, "%s 2: node %s: /healthz 503 while the disk is full (%s)" % (
            disk, NAMES[n], Counter(r.status if not isinstance(r, str) else r for r in got)))
        if full:
            is_problem(full[-1], 503, what="%s 2: node %s: /healthz" % (disk, NAMES[n]))
        if full and disk == "tablespace":
            check("disk full" in ((full[-1].doc or {}).get("detail") or "").lower(),
                  "%s 2: node %s: /healthz names the cause (%r)" % (disk, NAMES[n],
                                                                     full[-1].doc))


def serve_again_without_restart(disk):
    for n in NODES:
        check(n.alive(), "%s 5: node %s still runs (never restarted)" % (disk, NAMES[n]))
        check(wait_for(lambda: not isinstance(healthz(n), str) and healthz(n).status == 200,
                       timeout=10),
              "%s 5: node %s: /healthz 200 once space returns (%r)" % (disk, NAMES[n],
                                                                        healthz(n)))
        req = request_for(T_RAD, "DF-AFTER-%s-%s" % (disk, NAMES[n]),
                          org_code(8000 + (n is b) + 2 * len(disk)))
        r = call(n, "POST", "/api/v1/certificates", req, token=T["env"])
        check(r.status == 201, "%s 5: node %s: an issuance after the fill gives 201 (%r)" % (
            disk, NAMES[n], r))


def nothing_half_written():
    bad = csdb.half_written(d.work.db)
    check(not bad, "3: nothing half-written: %s" % bad)


def acknowledged_all_there():
    con = csdb.open_ro(d.work.db)
    try:
        stored = {r[0] for r in con.execute("SELECT id FROM licences")}
    finally:
        con.close()
    docs, suspended = {}, set()
    for load in loads.values():
        docs.update({x: doc for x, (_, doc) in load.acked.items()})
        suspended |= set(load.suspended)
    lost = [x for x in docs if x not in stored]
    check(not lost, "4: every licence answered 201 (%d) is stored: %d lost, e.g. %s" % (
        len(docs), len(lost), lost[:3]))
    bad = []
    conn = connection(a, HTTP_TIMEOUT)
    for lid, doc in docs.items():
        r = call(a, "POST", "/api/v1/verify", doc["qr_text"], ctype="text/plain", conn=conn)
        want = "suspended" if lid in suspended else "valid"
        if r.status != 200 or (r.doc or {}).get("result") != want:
            bad.append((lid, want, r))
    conn.close()
    check(not bad, "4: every acknowledged licence verifies: %d do not, e.g. %s" % (
        len(bad), bad[:3]))


tests = []
for disk in DISKS:
    tests += [("%s_%s" % (fn.__name__, disk), (lambda fn=fn, disk=disk: fn(disk)))
              for fn in (fill_and_free, every_answer_allowed, healthz_while_full,
                         serve_again_without_restart)]
run_tests(tests + [
    ("nothing_half_written", nothing_half_written),
    ("acknowledged_all_there", acknowledged_all_there),
])
for node in NODES:
    node.stop_clean("node %s" % NAMES[node])
d.cleanup()
work_b.cleanup()
done()
