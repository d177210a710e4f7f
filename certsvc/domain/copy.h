/*
 * copy: a whole library (licences, status events, bundles, clients with
 * their grants and revocations, the audit log) copied from one store to
 * another, either backend to either, then verified (SPEC §8, `certsvc
 * copy`).  Every row keeps what identifies it: licence ids and serials,
 * event and audit sequence numbers, client ids, timestamps, token hashes,
 * records.
 *
 * Re-runnable: a row the target already holds with the same content is
 * skipped, so a second run copies what the first did not (an interrupted
 * one, or rows added to the source since); a row the target holds with
 * other content is a conflict naming the table and the row's key, and
 * the batch it was in leaves the target unchanged.  Rows go in batches,
 * one transaction each, so a copy killed at any moment leaves whole
 * batches behind.
 *
 * Nothing may write to the target while it runs: a store numbering its
 * own rows meanwhile could take a number the copy keeps.
 */
#ifndef CS_COPY_H
#define CS_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The tables, in the order copied (copy.c's table list). */
#define CS_COPY_TABLES_MAX 12

typedef struct cs_copy_table_count {
	const char *table;    /* static: "licences", "audit records", ... */
	int64_t copied;       /* rows written to the target */
	int64_t present;      /* rows the target held already, identical */
	int64_t verified;     /* rows both hold, compared equal */
} cs_copy_table_count;

typedef struct cs_copy_report {
	cs_copy_table_count t[CS_COPY_TABLES_MAX];
	size_t n;
	char digest[65];      /* hex SHA-256 over every row verified */
} cs_copy_report;

typedef struct cs_copy_opts {
	size_t batch;         /* rows per transaction; 0: 1,000 */
	int verify_only;      /* compare, copy nothing */
	FILE *progress;       /* a line per table and now and then; NULL: quiet */
} cs_copy_opts;

/*
 * Copy the store from names into the store to names (the --db syntax:
 * a PostgreSQL URI or a SQLite path); both are opened, the target
 * created and migrated when new.  Then verify: table by table, every row
 * of each side read back and compared, in order.  0 when the target
 * holds exactly the source's rows; CS_ECONFLICT when a row differs, the
 * message naming the table and key (copying) or the first difference
 * (verifying); a store's error otherwise.  *out is filled as far as the
 * copy went.
 */
int cs_copy_run(const char *from, const char *to, const cs_copy_opts *o,
    cs_copy_report *out);

#endif
