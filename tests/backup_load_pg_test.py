"""A PostgreSQL database backed up with pg_dump under load, and the restore
drill with pg_restore (issue 15; docs/design.md, "Deploying on
PostgreSQL", "Backup and restore").

Two certsvc nodes share a database on the "pg" fixture's cluster; several
clients issue licences and bundles, suspend licences and look up holders
on both (tests/lib/csbackup.py Load) while

    pg_dump --format=custom --file=DUMP 'postgresql://...'

runs DUMPS times.  pg_dump reads one snapshot (a repeatable-read
transaction) and takes no lock that stops certsvc's writes.  Then, for
each dump, restored into a database of its own with

    createdb NEW; pg_restore --exit-on-error --no-owner --dbname=NEW DUMP

and served by a node started on it: nothing is half-written, every
licence and suspension acknowledged before the dump began is in it, every
licence in it reads and verifies with the status its events give.  The
last one is the drill: both nodes stopped, started again on the restored
database (nothing else changes: the key directory is the same), and new
issuances take serials above every serial in the dump.

PostgreSQL only (CS_TEST_BACKEND=postgresql, ctest -L pg): exits 77
otherwise.
"""
import copy
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csbackup  # noqa: E402
import csload  # noqa: E402
import csdb  # noqa: E402
import cspg  # noqa: E402
from cshttp import Deployment  # noqa: E402
from cstest import Server, check, done, run_tests  # noqa: E402

if not csdb.is_postgres():
    print("skipped: pg_dump needs PostgreSQL (CS_TEST_BACKEND=postgresql)")
    sys.exit(77)

DUMPS = 2
BETWEEN_S = 1.5       # load between two dumps

d = Deployment()
T = d.tokens
ADMIN_URI = d.work.db.rsplit("/", 1)[0] + "/postgres"
work_b = copy.copy(d.work)
work_b.dir = tempfile.mkdtemp(prefix="certsvc-node-b-")
a = d.start("--rate-limit", "0")
b = Server(work_b, "--rate-limit", "0")
load = csload.Load([a, b], T, issuers_per_node=2, tag="PGBK")
dumps = []            # (path, load mark when it began, seconds it took)


def pg(tool, *args):
    r = subprocess.run([os.path.join(cspg.BIN, tool)] + list(args), capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "%s exits 0 (%d: %s)" % (tool, r.returncode, r.stderr[-800:]))
    return r


def restored(path, name):
    """A new database restored from the dump at path; its URI."""
    uri = ADMIN_URI.rsplit("/", 1)[0] + "/" + name
    pg("createdb", "--maintenance-db=" + ADMIN_URI, name)
    t0 = time.monotonic()
    pg("pg_restore", "--exit-on-error", "--no-owner", "--dbname=" + uri, path)
    print("%s: restored in %.3f s" % (name, time.monotonic() - t0), flush=True)
    return uri


def dumps_under_load():
    def take(k):
        path = os.path.join(d.work.dir, "dump-%d.pgdump" % k)
        pg("pg_dump", "--format=custom", "--file=" + path, d.work.db)
        return path
    dumps.extend(csbackup.under_load(load, take, DUMPS, BETWEEN_S))


def serve_on(db):
    """The settings of this deployment with another database."""
    work = copy.copy(d.work)
    work.settings = list(d.work.settings)
    work.settings[work.settings.index("--db") + 1] = db
    work.db = db
    return work


def each_dump_whole():
    for k, (path, began, _) in enumerate(dumps[:-1]):
        db = restored(path, "%s_r%d" % (d.work.db.rsplit("/", 1)[1], k))
        srv = Server(serve_on(db), "--rate-limit", "0")
        try:
            csbackup.check_copy(srv, db, load.acked_before(began), load.suspended_before(began),
                                T["admin"], os.path.basename(path))
        finally:
            srv.stop_clean("the node on a restore of " + os.path.basename(path))


def restore_drill():
    path, began, _ = dumps[-1]
    a.stop_clean("node A before the restore")
    b.stop_clean("node B before the restore")
    ids_live, _ = csbackup.stored(d.work.db)
    db = restored(path, d.work.db.rsplit("/", 1)[1] + "_restored")
    work = serve_on(db)
    d.work = work
    na = d.start("--rate-limit", "0")
    nb = Server(serve_on(db), "--rate-limit", "0")
    try:
        ids = csbackup.check_copy(na, db, load.acked_before(began), load.suspended_before(began),
                                  T["admin"], "the restored dump")
        print("restore: %d licences in the dump; %d stored after it began are not (lost by "
              "the restore)" % (len(ids), len(ids_live - ids)), flush=True)
        new = csbackup.check_serials_after_restore(na, ids, T, "the restored dump (node A)")
        csbackup.check_serials_after_restore(nb, ids | set(new), T,
                                             "the restored dump (node B)", tag="AFTER-RESTORE-B")
    finally:
        nb.stop_clean("node B on the restored database")


run_tests([
    ("dumps_under_load", dumps_under_load),
    ("each_dump_whole", each_dump_whole),
    ("restore_drill", restore_drill),
])
for srv in (a, b, d.server):
    if srv is not None and srv.alive():
        srv.stop_clean("a node")
d.server = None
d.cleanup()
work_b.cleanup()
done()
