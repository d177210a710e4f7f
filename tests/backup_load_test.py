"""`certsvc backup` under load, and the restore drill, on SQLite (issue 15;
docs/design.md, "Backup and restore").

A real `certsvc serve` issues licences and bundles, suspends licences and
answers holder lookups for several concurrent clients (tests/lib/
csbackup.py Load) while `certsvc backup` runs BACKUPS times, a second
process beside the server, each to a new file.  Then, for each backup:

1. it is a consistent snapshot: PRAGMA integrity_check is ok, nothing is
   half-written (every licence with its issue audit record, every bundle
   with both its licences, every status event with its licence);
2. every licence and every suspension acknowledged before the backup began
   is in it;
3. every licence in it reads and verifies (POST /api/v1/verify) with the
   status its own events give, served from a copy of the backup.

And the restore drill on the last backup, as an operator does it: stop the
server (SIGTERM), move the database and its -wal and -shm files aside, put
the backup in their place, start the server on it.  It serves what the
backup holds, and issues the next serials: none repeats a serial in the
backup.  (Licences acknowledged after the backup began are not in it: a
restore loses them; the drill prints how many, docs/design.md says what to
do about them.)

SQLite only: on PostgreSQL `certsvc backup` refuses and names pg_dump
(tests/backup_load_pg_test.py runs the drill with pg_dump / pg_restore).
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csbackup  # noqa: E402
import csload  # noqa: E402
import csdb  # noqa: E402
from cshttp import Deployment  # noqa: E402
from cstest import CERTSVC, Server, Workdir, check, done, run_tests  # noqa: E402

if csdb.is_postgres():
    print("skipped: certsvc backup copies SQLite files (backup_load_pg runs pg_dump)")
    sys.exit(77)

BACKUPS = 3
BETWEEN_S = 1.0       # load between two backups

d = Deployment()
T = d.tokens
server = d.start("--rate-limit", "0")
load = csload.Load([server], T, issuers_per_node=3)
backups = []          # (path, load mark when it began, seconds it took)


def backups_under_load():
    def take(k):
        path = os.path.join(d.work.dir, "backup-%d.db" % k)
        r = subprocess.run([CERTSVC, "backup"] + d.work.settings + [path],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "backup %d: certsvc backup exits 0 (%d: %s)" % (
            k, r.returncode, r.stderr[-500:]))
        return path
    backups.extend(csbackup.under_load(load, take, BACKUPS, BETWEEN_S))


def integrity(path):
    r = subprocess.run(["sqlite3", "file:%s?mode=ro" % path, "PRAGMA integrity_check"],
                       capture_output=True, text=True)
    check(r.stdout.strip() == "ok", "%s: PRAGMA integrity_check is ok (%s %s)" % (
        os.path.basename(path), r.stdout[:200], r.stderr[:200]))


def each_backup_whole():
    # The earlier backups are served from a copy each, by a second server
    # beside the first: what a restore of them would serve.
    for path, began, _ in backups[:-1]:
        integrity(path)
        work = Workdir(keygen=False)
        work.settings[work.settings.index("--keys") + 1] = d.work.keys
        shutil.copy(path, work.db)
        srv = Server(work, "--rate-limit", "0")
        try:
            csbackup.check_copy(srv, work.db, load.acked_before(began),
                                load.suspended_before(began), T["admin"],
                                os.path.basename(path))
        finally:
            srv.stop_clean("the server on a copy of " + os.path.basename(path))
            work.cleanup()


def restore_drill():
    global server
    path, began, _ = backups[-1]
    integrity(path)
    server.stop_clean("the server before the restore")
    ids_live, _ = csbackup.stored(d.work.db)
    aside = os.path.join(d.work.dir, "before-restore")
    os.mkdir(aside)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(d.work.db + suffix):
            shutil.move(d.work.db + suffix, aside)
    t0 = time.monotonic()
    shutil.copy(path, d.work.db)
    server = d.start("--rate-limit", "0")
    print("restore: copied and serving again in %.3f s" % (time.monotonic() - t0), flush=True)
    ids = csbackup.check_copy(server, d.work.db, load.acked_before(began),
                              load.suspended_before(began), T["admin"], "the restored backup")
    print("restore: %d licences in the backup; %d stored after it began are not (lost by "
          "the restore)" % (len(ids), len(ids_live - ids)), flush=True)
    csbackup.check_serials_after_restore(server, ids, T, "the restored backup")


run_tests([
    ("backups_under_load", backups_under_load),
    ("each_backup_whole", each_backup_whole),
    ("restore_drill", restore_drill),
])
if d.server is not None:
    d.server.stop_clean("the server on the restored backup")
    d.server = None
d.cleanup()
done()
