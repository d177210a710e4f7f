"""The backend the end-to-end tests run against, and read-only access to
what a test's server stored, whichever backend that is.

CS_TEST_BACKEND picks it (tests/CMakeLists.txt registers the "_pg" copies of
the behaviour tests with it):
    unset or "sqlite"   a SQLite file in the test's directory (the default);
    "postgresql"        a fresh database per Workdir on the cluster that
                        the ctest fixture "pg" started (tests/lib/cspg.py);
                        CS_TEST_PG_DIR names its directory, whose file
                        "uri" is the admin URI.
A test that checks something only one backend has (PRAGMA integrity_check,
a file on a tmpfs) asks is_postgres() and says what it skips.
"""
import os
import sqlite3
import uuid

BACKEND = os.environ.get("CS_TEST_BACKEND", "sqlite") or "sqlite"
if BACKEND not in ("sqlite", "postgresql"):
    raise SystemExit("CS_TEST_BACKEND=%r: sqlite or postgresql" % BACKEND)


def is_postgres(db=None):
    if db is not None:
        return db.startswith(("postgresql://", "postgres://"))
    return BACKEND == "postgresql"


def _admin_uri():
    d = os.environ.get("CS_TEST_PG_DIR")
    if not d:
        raise SystemExit("CS_TEST_BACKEND=postgresql needs CS_TEST_PG_DIR "
                         "(python3 tests/lib/cspg.py start DIR)")
    with open(os.path.join(d, "uri")) as f:
        return f.read().strip()


def new_db(directory):
    """The --db value of a new, empty database for one Workdir."""
    if not is_postgres():
        return os.path.join(directory, "certsvc.db")
    return new_postgres_db()


def new_postgres_db():
    """The URI of a new, empty database on the fixture's cluster, whatever
    CS_TEST_BACKEND says (a test that moves a library between backends)."""
    import psycopg2
    admin = _admin_uri()
    name = "e2e_" + uuid.uuid4().hex[:16]
    con = psycopg2.connect(admin)
    con.autocommit = True
    try:
        con.cursor().execute('CREATE DATABASE "%s"' % name)
    finally:
        con.close()
    print("backend: postgresql, database %s" % name, flush=True)
    return admin.rsplit("/", 1)[0] + "/" + name


class _PgCursor:
    """A psycopg2 cursor that answers as sqlite3's does: bytea as bytes."""

    def __init__(self, cur):
        self.cur = cur

    @staticmethod
    def _row(row):
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)

    def fetchone(self):
        row = self.cur.fetchone()
        return None if row is None else self._row(row)

    def fetchall(self):
        return [self._row(r) for r in self.cur.fetchall()]

    def __iter__(self):
        return iter(self.fetchall())


class _PgReadOnly:
    """sqlite3's execute(sql, params) over a read-only PostgreSQL session:
    '?' placeholders and LIMIT -1 are translated; the SQL the tests read
    with is otherwise common to both."""

    def __init__(self, uri):
        import psycopg2
        self.con = psycopg2.connect(uri)
        self.con.set_session(readonly=True, autocommit=True)

    def execute(self, sql, params=()):
        sql = sql.replace("%", "%%").replace("?", "%s").replace("LIMIT -1", "LIMIT ALL")
        cur = self.con.cursor()
        cur.execute(sql, tuple(params))
        return _PgCursor(cur)

    def close(self):
        self.con.close()


def open_ro(db, timeout=10):
    """A read-only connection to the database db names (never creates or
    migrates anything)."""
    if is_postgres(db):
        return _PgReadOnly(db)
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=timeout)


def half_written(db):
    """What a crash, a full disk or a backup taken mid-write must never
    leave, read from the database db names (either backend): a list of
    (what, examples), empty when all is whole.  One transaction writes a
    licence and its "issue" (or "amend") audit record, a bundle and all its
    licences, a status change and its audit record, so none may be found
    without the other, nor a status event without its licence."""
    con = open_ro(db)
    try:
        ids = {r[0] for r in con.execute("SELECT id FROM licences")}
        audited = {r[0] for r in con.execute(
            "SELECT target FROM audit WHERE action IN ('issue', 'amend')")}
        orphans = [r[0] for r in con.execute(
            "SELECT licence_id FROM status_events WHERE licence_id NOT IN "
            "(SELECT id FROM licences)")]
        sizes = dict(con.execute(
            "SELECT b.id, (SELECT count(*) FROM licences l WHERE l.bundle = b.id) "
            "FROM bundles b"))
        strays = [r[0] for r in con.execute(
            "SELECT id FROM licences WHERE bundle IS NOT NULL AND "
            "bundle NOT IN (SELECT id FROM bundles)")]
        # A status change and its audit record (result NULL: done, not
        # refused) are one transaction too.
        changes = {tuple(r) for r in con.execute(
            "SELECT licence_id, action FROM status_events "
            "WHERE action IN ('suspend', 'reinstate', 'revoke')")}
        change_recs = {tuple(r) for r in con.execute(
            "SELECT target, action FROM audit WHERE result IS NULL AND "
            "action IN ('suspend', 'reinstate', 'revoke')")}
    finally:
        con.close()
    out = []
    for what, bad in (
            ("licences without their issue audit record", sorted(ids - audited)),
            ("issue audit records without their licence", sorted(audited - ids)),
            ("status events of no stored licence", orphans),
            ("bundles holding fewer than two licences",
             sorted(b for b, n in sizes.items() if n < 2)),
            ("licences naming a bundle that was not stored", strays),
            ("status changes without their audit record", sorted(changes - change_recs)),
            ("status change audit records without their event",
             sorted(change_recs - changes))):
        if bad:
            out.append((what, bad[:5]))
    return out
