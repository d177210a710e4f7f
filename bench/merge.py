#!/usr/bin/env python3
"""Join the databases of a parallel seeding into the first (bench/run.sh).

usage: merge.py MAIN-DB OTHER-DB...

Each OTHER-DB was seeded by bench_seed --part K/P with the same key
directory, so its licences are real licences signed by the same key; its
licences, their audit records and their change events are appended to
MAIN-DB (audit records and change events get new sequence numbers, in
their order; without the events, the database measured only the first
part's).  Its clients are not copied: MAIN-DB
has clients of the same names, which the licences name.  The other
databases are left as they were."""
import sqlite3
import sys


def columns(db, schema, table):
    return [r[1] for r in db.execute(f"PRAGMA {schema}.table_info({table})")]


def main():
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    for other in sys.argv[2:]:
        db.execute("ATTACH DATABASE ? AS p", (other,))
        lic = ", ".join(columns(db, "p", "licences"))
        aud = ", ".join(c for c in columns(db, "p", "audit") if c != "seq")
        chg = ", ".join(c for c in columns(db, "p", "change_events") if c != "seq")
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"INSERT INTO main.licences ({lic}) "
                   f"SELECT {lic} FROM p.licences ORDER BY rowid")
        db.execute(f"INSERT INTO main.audit ({aud}) "
                   f"SELECT {aud} FROM p.audit ORDER BY seq")
        if chg:
            db.execute(f"INSERT INTO main.change_events ({chg}) "
                       f"SELECT {chg} FROM p.change_events ORDER BY seq")
        db.execute("COMMIT")
        db.execute("DETACH DATABASE p")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


main()
