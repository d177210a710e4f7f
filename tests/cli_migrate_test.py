"""certsvc migrate (SPEC §8): creates the schema, is safe to run again,
leaves what serve needs, refuses what it cannot open with the reason and a
non-zero exit, and never prints a password of a --db URI (neither does
serve --check)."""
import os
import sqlite3
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import csdb  # noqa: E402
from cstest import Workdir, check, done, run_tests  # noqa: E402

w = Workdir("ES256")
SECRET = "s3cret-pw"


def schema_version(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def creates_then_again():
    db = os.path.join(w.dir, "fresh.db")
    r = w.run("migrate", "--db", db, check_rc=False)
    check(r.returncode == 0, "migrate on a new file exits 0 (%d: %s)" % (r.returncode, r.stderr))
    check("up to date" in r.stdout and db in r.stdout, "it says which database: %r" % r.stdout)
    first = schema_version(db)
    check(first >= 6, "the schema is this version's (user_version %d)" % first)
    r = w.run("migrate", "--db", db, check_rc=False)
    check(r.returncode == 0, "migrate again exits 0 (%d: %s)" % (r.returncode, r.stderr))
    check(schema_version(db) == first, "and leaves the version as it was")


def serves_what_it_made():
    """A database made by migrate is one the other commands use as is."""
    db = os.path.join(w.dir, "served.db")
    w.run("migrate", "--db", db)
    settings = [a if a != w.db else db for a in w.settings]
    r = w.run("client", "add", *settings, "--name", "ops", "--role", "admin", check_rc=False)
    check(r.returncode == 0, "client add on the migrated database (%d: %s)" % (r.returncode, r.stderr))
    r = w.run("client", "list", *settings, check_rc=False)
    check("ops" in r.stdout, "and client list finds it: %r" % r.stdout)


def refuses_with_reason():
    bad = "/nonexistent-dir/certsvc.db"
    r = w.run("migrate", "--db", bad, check_rc=False)
    check(r.returncode == 1, "an unopenable path exits 1 (got %d)" % r.returncode)
    check(bad in r.stderr, "naming the path: %r" % r.stderr)
    r = w.run("migrate", "extra", check_rc=False)
    check(r.returncode == 2, "an argument is a usage error, exit 2 (got %d)" % r.returncode)
    r = w.run("migrate", "--help", check_rc=False)
    check(r.returncode == 0 and "usage: certsvc migrate" in r.stdout, "--help says how")


def password_never_shown():
    uri = "postgresql://certsvc:%s@127.0.0.1:1/lib" % SECRET
    r = w.run("migrate", "--db", uri, check_rc=False)
    check(r.returncode != 0, "an unreachable server is a failure (exit %d)" % r.returncode)
    check(SECRET not in r.stdout + r.stderr, "the password is not printed: %r" % r.stderr)
    check("127.0.0.1" in r.stderr and "port 1" in r.stderr and "certsvc:****@" in r.stderr,
          "the error names the host, the port and what failed, the URI masked: %r" % r.stderr)
    r = w.cli("serve", "--check", check_rc=False)
    check(r.returncode == 0, "serve --check passes (%d: %s)" % (r.returncode, r.stderr))
    if csdb.is_postgres(w.db):
        secret = urlsplit(w.db).password
        check(secret not in r.stdout + r.stderr and ":****@" in r.stdout,
              "serve --check shows the URI with its password masked: %r" % r.stdout)
    else:
        check(w.db in r.stdout, "serve --check names a SQLite path as is")


def migrates_the_test_backend():
    """On whichever backend the run uses (CS_TEST_BACKEND): the schema is
    made by migrate, found by a second migrate, and used by serve."""
    os.makedirs(os.path.join(w.dir, "again"))
    db = csdb.new_db(os.path.join(w.dir, "again"))
    for n in (1, 2):
        r = w.run("migrate", "--db", db, check_rc=False)
        check(r.returncode == 0, "migrate #%d on %s exits 0 (%d: %s)" % (
            n, csdb.BACKEND, r.returncode, r.stderr))
    con = csdb.open_ro(db)
    try:
        n = con.execute("SELECT count(*) FROM licences").fetchone()[0]
    finally:
        con.close()
    check(n == 0, "the licences table is there, empty (%d rows)" % n)


run_tests([
    ("creates_then_again", creates_then_again),
    ("serves_what_it_made", serves_what_it_made),
    ("refuses_with_reason", refuses_with_reason),
    ("password_never_shown", password_never_shown),
    ("migrates_the_test_backend", migrates_the_test_backend),
])
w.cleanup()
done()
