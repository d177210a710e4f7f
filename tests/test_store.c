/*
 * test_store: the store conformance suite: what store.h promises, checked
 * through store.h alone, so that it holds for every backend: every query,
 * the conflicts store.h promises, nothing stored ever changed, data kept
 * across a reopen, transactions (nested ones too) and the writer under
 * threads, failing transactions among concurrent ones, durable commits (a
 * process killed right after commit() returned keeps its rows), paging a
 * holder's licences, and backup.  What only the SQLite backend promises
 * (schema, migrations, records on disk, the database's own triggers, group
 * commit counters, checkpoints, the pages a lookup reads) is tested beside
 * it, in test_store_sqlite.c.
 *
 * Every case gets its stores from the fixture (store_fixture.h), by name:
 * fx_open("x") makes store x anew and opens it, fx_reopen("x") opens it
 * again (after a close, beside an open handle, or in a child process).  No
 * case knows its backend: CS_TEST_STORE picks it, SQLite when unset.
 *
 * Adding a backend to the suite: one entry in fx_backends[]
 * (store_fixture.h): its CS_TEST_STORE name and its hooks: setup and
 * teardown (a place for the stores, made once per run and removed), db
 * (the --db string for a store name, the same for the same name), fresh
 * (empty that store before a case), backup_db (the --db string that opens
 * a copy cs_store_backup() wrote at a path; NULL for a backend that makes
 * no such copies, whose backup case is then skipped).  Then
 * `CS_TEST_STORE=<name> build/tests/test_store` runs every case on it.
 *
 * The cases of transactions, threads and durability are in
 * store_cases_tx.c, those of copying a library in store_cases_copy.c,
 * which this file includes: one binary.
 */
#include "check.h"
#include "cs_err.h"
#include "store.h"
#include "store_data.h"
#include "store_fixture.h"
#include "testutil.h"
#include "timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- opening ------------------------------------------------------------ */

/* --db names the backend (store.c): a PostgreSQL URI, whatever the case
 * of its scheme, goes to the PostgreSQL backend, never into a SQLite file;
 * where nothing answers (port 1) the refusal is CS_EUNAVAIL, names the
 * host, and never repeats the URI's password.  The fixture's db string
 * opens a store that answers; closing NULL is a no-op.  (The SQLite side
 * of the dispatch is open_path_like_scheme, in test_store_sqlite.c.) */
TEST(open_dispatches_on_db)
{
	const char *uris[] = {"postgresql://certsvc:s3cret@127.0.0.1:1/certsvc",
	    "postgres://certsvc:s3cret@127.0.0.1:1/certsvc",
	    "PostgreSQL://certsvc:s3cret@127.0.0.1:1/certsvc"};
	cs_store *s = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		s = (cs_store *)1;
		rc = cs_store_open(uris[i], 20, &s);
		CHECK(rc != 0);
		CHECK(s == NULL);
		CHECK(strstr(cs_err_msg(), "s3cret") == NULL);
		CHECK_INT_EQ(rc, CS_EUNAVAIL);
		CHECK_CONTAINS(cs_err_msg(), "127.0.0.1");
	}
	s = fx_open("dispatch");
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	cs_store_close(NULL);
}

TEST(reopen_keeps_data)
{
	cs_licence_row *got = NULL;
	struct lic l;
	cs_store *s = fx_open("reopen");
	int64_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	cs_store_close(s);
	s = fx_reopen("reopen");
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, l.record);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_licence_row_free(got);
	cs_store_close(s);
}

/* --- licences ----------------------------------------------------------- */

TEST(licences)
{
	const char *h = "91350100M000100Y43", *h2 = "91440300708461136T";
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic a, b, c, d, dup;
	cs_store *s = fx_open("lic");
	int64_t v = 0;
	size_t n = 0;

	if (s == NULL)
		return;
	lic_make(&a, TYPE_A, 1, h, "ems", 1000, NULL);
	lic_make(&b, TYPE_B, 1, h, "ems", 3000, "B-1");
	lic_make(&c, TYPE_A, 2, h, "ems", 2000, "B-1");
	lic_make(&d, TYPE_A, 3, h2, "ems", 4000, NULL);
	b.r.supersedes = a.id;
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &c.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &d.r), 0);

	CHECK_INT_EQ(cs_store_licence_get(s, b.id, &got), 0);
	if (got != NULL) {
		CHECK_STR_EQ(got->id, b.id);
		CHECK_STR_EQ(got->type, TYPE_B);
		CHECK_STR_EQ(got->issuer_code, ISSUER);
		CHECK_INT_EQ(got->seq, 1);
		CHECK_STR_EQ(got->holder_code, h);
		CHECK_STR_EQ(got->number, "粤环辐证[00001]");
		CHECK_STR_EQ(got->client, "ems");
		CHECK_STR_EQ(got->approval_ref, b.ref);
		CHECK_STR_EQ(got->request_hash, HASH_HEX);
		CHECK_STR_EQ(got->bundle, "B-1");
		CHECK_STR_EQ(got->supersedes, a.id);
		CHECK_INT_EQ(got->issued_at, 3000);
		CHECK_STR_EQ(got->record, b.record);
	}
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_get(s, a.id, &got), 0);
	CHECK(got != NULL && got->bundle == NULL && got->supersedes == NULL);
	cs_licence_row_free(got);

	CHECK_INT_EQ(cs_store_licence_get(s, "1.2.156.3005.2.nope", &got),
	    CS_ENOTFOUND);
	CHECK(got == NULL);

	CHECK_INT_EQ(cs_store_licence_by_ref(s, "ems", c.ref, &got), 0);
	CHECK_STR_EQ(got ? got->id : NULL, c.id);
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_by_ref(s, "other", c.ref, &got),
	    CS_ENOTFOUND);

	/* Newest first, across types; then one type only. */
	CHECK_INT_EQ(by_holder(s, h, NULL, &rows, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_STR_EQ(rows[0]->id, b.id);
		CHECK_STR_EQ(rows[1]->id, c.id);
		CHECK_STR_EQ(rows[2]->id, a.id);
	}
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(by_holder(s, h, TYPE_A, &rows, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(rows[0]->id, c.id);
		CHECK_STR_EQ(rows[1]->id, a.id);
	}
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(by_holder(s, "110105194912310021",
	    NULL, &rows, &n), 0);
	CHECK_INT_EQ(n, 0);
	cs_licence_rows_free(rows, n);

	/* A bundle's licences in the order issued. */
	CHECK_INT_EQ(cs_store_licences_by_bundle(s, "B-1", &rows, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(rows[0]->id, b.id);
		CHECK_STR_EQ(rows[1]->id, c.id);
	}
	cs_licence_rows_free(rows, n);

	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 4);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_B, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_B, "91440300708461136T",
	    &v), 0);
	CHECK_INT_EQ(v, 1);
	CHECK_INT_EQ(cs_store_licence_count(s, &v), 0);
	CHECK_INT_EQ(v, 4);

	/* Same id, other approval_ref: conflict on the id. */
	lic_make(&dup, TYPE_A, 1, h, "ems", 5000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "REF-other");
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	/* Other id, same (client, approval_ref): conflict too. */
	lic_make(&dup, TYPE_A, 99, h, "ems", 5000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "%s", a.ref);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	/* The same approval_ref from another client is fine. */
	dup.r.client = "other";
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), 0);
	/* A missing required column is a storage error, not a conflict. */
	lic_make(&dup, TYPE_A, 100, h, "ems", 5000, NULL);
	dup.r.record = NULL;
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ESTORE);
	CHECK_INT_EQ(cs_store_licence_count(s, &v), 0);
	CHECK_INT_EQ(v, 5);

	/* Bundle members carry no approval_ref of their own (their bundle
	 * holds it): several from one client are fine. */
	lic_make(&dup, TYPE_B, 10, h2, "ems", 6000, "B-2");
	dup.r.approval_ref = NULL;
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), 0);
	lic_make(&dup, TYPE_B, 11, h2, "ems", 6000, "B-2");
	dup.r.approval_ref = NULL;
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), 0);
	CHECK_INT_EQ(cs_store_licences_by_bundle(s, "B-2", &rows, &n), 0);
	CHECK_INT_EQ(n, 2);
	CHECK(n == 2 && rows[1]->approval_ref == NULL);
	cs_licence_rows_free(rows, n);
	cs_store_close(s);
}

/* A record comes back exactly as it was put, whatever the backend makes
 * of it on the way (SQLite compresses one of real size): one shaped like
 * the domain's, a tiny one, and one of escapes, NULs written as \u0000,
 * and characters of every UTF-8 length; by id, and in a holder's list.
 * (How SQLite stores them, and reads every older form, is records, in
 * test_store_sqlite.c.) */
TEST(record_round_trip)
{
	static char big[2048];
	static const char odd[] = "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\","
	    "\"u\":\"é€粤😀\",\"n\":[1e-7,-0.0,1.7976931348623157e308]}";
	const char *records[3];
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic l[3];
	cs_store *s = fx_open("records");
	size_t i, n = 0;

	if (s == NULL)
		return;
	for (i = 0; i < 3; i++)
		lic_make(&l[i], TYPE_A, (int64_t)i + 1, HOLDER_1, "ems",
		    1000 + (int64_t)i, NULL);
	record_make(big, sizeof(big), l[0].id);
	records[0] = big;
	records[1] = "{}";
	records[2] = odd;
	for (i = 0; i < 3; i++) {
		l[i].r.record = (char *)records[i];
		CHECK_INT_EQ(cs_store_licence_put(s, &l[i].r), 0);
	}
	for (i = 0; i < 3; i++) {
		CHECK_INT_EQ(cs_store_licence_get(s, l[i].id, &got), 0);
		CHECK_STR_EQ(got ? got->record : NULL, records[i]);
		cs_licence_row_free(got);
		got = NULL;
	}
	CHECK_INT_EQ(by_holder(s, HOLDER_1, NULL, &rows, &n), 0);
	CHECK_INT_EQ(n, 3);
	for (i = 0; i < n && n == 3; i++)
		CHECK_STR_EQ(rows[i]->record, records[2 - i]);
	cs_licence_rows_free(rows, n);
	cs_store_close(s);
}

/* --- licence numbers ---------------------------------------------------- */

/* A number once stored is its licence's: another licence of the type and
 * issuer cannot carry it; the licence's next version keeps it; the lookup
 * by number finds that newest version.  (That the SQLite database refuses
 * it to a row inserted by hand is number_refused_by_database, in
 * test_store_sqlite.c.) */
TEST(licence_numbers)
{
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic a, a2, b;
	cs_store *s = fx_open("numbers");
	size_t n = 0;
	int taken = -1;

	if (s == NULL)
		return;
	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	CHECK_INT_EQ(cs_store_licence_number_taken(s, TYPE_A, ISSUER, a.number,
	    "2", &taken), 0);
	CHECK_INT_EQ(taken, 1);
	CHECK_INT_EQ(cs_store_licence_number_taken(s, TYPE_A, ISSUER, a.number,
	    "1", &taken), 0);
	CHECK_INT_EQ(taken, 0);
	CHECK_INT_EQ(cs_store_licence_number_taken(s, TYPE_B, ISSUER, a.number,
	    "2", &taken), 0);
	CHECK_INT_EQ(taken, 0);

	/* Version 2 of the same licence (serial 1) keeps the number. */
	lic_make(&a2, TYPE_A, 5, HOLDER_1, "ems", 2000, NULL);
	snprintf(a2.id, sizeof(a2.id), "1.2.156.3005.2.%s.%s.1.002.X", TYPE_A,
	    ISSUER);
	snprintf(a2.number, sizeof(a2.number), "%s", a.number);
	a2.r.supersedes = a.id;
	CHECK_INT_EQ(cs_store_licence_put(s, &a2.r), 0);

	/* Another licence with it: a conflict, and nothing stored. */
	lic_make(&b, TYPE_A, 2, HOLDER_1, "ems", 3000, NULL);
	snprintf(b.number, sizeof(b.number), "%s", a.number);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_licence_get(s, b.id, &got), CS_ENOTFOUND);

	CHECK_INT_EQ(cs_store_licences_by_number(s, a.number, HOLDER_1, &rows,
	    &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(n ? rows[0]->id : NULL, a2.id);
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_licences_by_number(s, a.number,
	    "91440300708461136T", &rows, &n), 0);
	CHECK_INT_EQ(n, 0);
	cs_licence_rows_free(rows, n);
	cs_store_close(s);
}

/* Inside a transaction the next number follows the licences the
 * transaction stored, and forgets the ones a rolled-back level or a
 * refused write took back (the PostgreSQL store keeps the numbers it has
 * locked on its side: pg_numbering.c). */
TEST(numbering_in_transaction)
{
	struct lic a, b, c, dup;
	cs_store *s = fx_open("numbering_tx");
	int64_t v = 0;

	if (s == NULL)
		return;
	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&b, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	lic_make(&c, TYPE_A, 5, HOLDER_1, "ems", 1002, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 1);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 1);  /* nothing stored yet: the same number */
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_B, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 1);  /* another type counts on its own */
	/* A level that stored b, rolled back: 2 is free again. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 3);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	/* A refused write changes nothing. */
	lic_make(&dup, TYPE_A, 1, HOLDER_1, "ems", 1003, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "REF-dup");
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	/* A level committed keeps what it stored: numbers given past the
	 * next one move it on. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &c.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 6);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 6);
	/* A transaction rolled back whole: its numbers are free again. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 6);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	lic_make(&c, TYPE_A, 9, HOLDER_1, "ems", 1004, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &c.r), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 10);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 6);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	cs_store_close(s);
}

/* Stored or not, by id. */
static int
lic_stored(cs_store *s, const struct lic *l)
{
	cs_licence_row *got = NULL;
	int rc = cs_store_licence_get(s, l->id, &got);

	cs_licence_row_free(got);
	return rc == 0;
}

/* Levels and write calls in any number and depth (the PostgreSQL store
 * sends a level's SAVEPOINT and RELEASE with the next statement and
 * leaves up to 16 call savepoints of a level open, pg_tx.c): a refused
 * write takes back itself only, a level rolled back its own writes only,
 * an empty level nothing, and a read first in a level is no exception. */
TEST(levels_and_calls)
{
	struct lic l, dup, first, gone;
	cs_store *s = fx_open("levels_calls");
	int64_t seq = 1, want = 0, n = 0;
	int i, d;

	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	/* One level, more calls than the store keeps savepoints for, every
	 * fifth followed by a refused duplicate. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 0; i < 40; i++, want++) {
		lic_make(&l, TYPE_A, seq++, HOLDER_1, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		if (i == 0)
			first = l;
		if (i % 5 == 4) {
			lic_make(&dup, TYPE_A, seq - 1, HOLDER_1, "ems", 1000,
			    NULL);
			snprintf(dup.ref, sizeof(dup.ref), "REF-dup-%d", i);
			CHECK_INT_EQ(cs_store_licence_put(s, &dup.r),
			    CS_ECONFLICT);
		}
	}
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* Writing levels, a third rolled back, with empty levels between. */
	for (i = 0; i < 20; i++) {
		CHECK_INT_EQ(cs_store_begin(s), 0);
		if (i % 2 == 0) {
			CHECK_INT_EQ(cs_store_begin(s), 0);
			CHECK_INT_EQ(i % 4 == 0 ? cs_store_commit(s) :
			    cs_store_rollback(s), 0);
		}
		lic_make(&l, TYPE_A, seq++, HOLDER_1, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		if (i % 3 == 0) {
			CHECK_INT_EQ(cs_store_rollback(s), 0);
			gone = l;
		} else {
			CHECK_INT_EQ(cs_store_commit(s), 0);
			want++;
		}
	}
	/* Twelve levels deep, a licence in each and a refused write at the
	 * bottom; the six innermost rolled back, the rest committed. */
	for (d = 0; d < 12; d++) {
		CHECK_INT_EQ(cs_store_begin(s), 0);
		lic_make(&l, TYPE_B, seq++, HOLDER_2, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	lic_make(&dup, TYPE_B, seq - 1, HOLDER_2, "ems", 1000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "REF-dup-deep");
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	for (d = 11; d >= 0; d--)
		CHECK_INT_EQ(d >= 6 ? cs_store_rollback(s) : cs_store_commit(s),
		    0);
	want += 6;
	CHECK(!lic_stored(s, &l));
	/* A read first in a level, then a write the level takes back. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK(lic_stored(s, &first));
	lic_make(&l, TYPE_A, seq++, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, want);
	CHECK(lic_stored(s, &first));
	CHECK(!lic_stored(s, &gone));
	CHECK(!lic_stored(s, &l));
	cs_store_close(s);
}

/* --- events, bundles ---------------------------------------------------- */

TEST(events)
{
	cs_event e, **evs = NULL;
	struct lic l;
	cs_store *s = fx_open("events");
	size_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&e, 0, sizeof(e));
	e.seq = 777; /* ignored */
	e.licence_id = l.id;
	e.actor = "ems";
	e.at = 10;
	e.action = "suspend";
	e.reason = "inspection";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	e.at = 20;
	e.action = "reinstate";
	e.reason = NULL;
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	e.at = 30;
	e.action = "revoke";
	e.kind = "withdrawn";
	e.reason = "fraud";
	e.ref = "case-9";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);

	CHECK_INT_EQ(cs_store_events_for(s, l.id, &evs, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_STR_EQ(evs[0]->action, "suspend");
		CHECK_STR_EQ(evs[0]->reason, "inspection");
		CHECK(evs[0]->kind == NULL && evs[0]->ref == NULL);
		CHECK_STR_EQ(evs[1]->action, "reinstate");
		CHECK(evs[1]->reason == NULL);
		CHECK_STR_EQ(evs[2]->action, "revoke");
		CHECK_STR_EQ(evs[2]->kind, "withdrawn");
		CHECK_STR_EQ(evs[2]->ref, "case-9");
		CHECK_STR_EQ(evs[2]->actor, "ems");
		CHECK_STR_EQ(evs[2]->licence_id, l.id);
		CHECK_INT_EQ(evs[2]->at, 30);
		CHECK(evs[0]->seq < evs[1]->seq && evs[1]->seq < evs[2]->seq);
		CHECK(evs[0]->seq != 777);
	}
	cs_events_free(evs, n);
	CHECK_INT_EQ(cs_store_events_for(s, "unknown", &evs, &n), 0);
	CHECK(n == 0 && evs == NULL);

	/* An event for a licence that does not exist. */
	e.licence_id = "1.2.156.3005.2.nope";
	CHECK_INT_EQ(cs_store_event_append(s, &e), CS_ENOTFOUND);
	/* An action outside the lifecycle's vocabulary. */
	e.licence_id = l.id;
	e.action = "delete";
	CHECK_INT_EQ(cs_store_event_append(s, &e), CS_ESTORE);
	cs_store_close(s);
}

/* One event for l, at at, with action (kind for a revoke). */
static int
event_on(cs_store *s, const struct lic *l, int64_t at, const char *action)
{
	cs_event e;

	memset(&e, 0, sizeof(e));
	e.licence_id = (char *)l->id;
	e.actor = "ems";
	e.at = at;
	e.action = (char *)action;
	e.kind = strcmp(action, "revoke") == 0 ? "revoked" : NULL;
	return cs_store_event_append(s, &e);
}

/* The actions of the events many[at..at+n) of licence id, comma-joined. */
static void
actions_of(cs_event **many, size_t at, size_t n, const char *id, char *out,
    size_t len)
{
	size_t i;

	out[0] = '\0';
	for (i = at; i < at + n; i++) {
		CHECK_STR_EQ(many[i]->licence_id, id);
		snprintf(out + strlen(out), len - strlen(out), "%s%s",
		    i > at ? "," : "", many[i]->action);
	}
}

/* events_for_many: each licence's events as events_for reads them, in the
 * order of the ids asked for (a licence asked twice comes twice; one
 * without events, or unknown, counts 0), and a change made through the
 * same handle is in the next read, however the backend caches. */
TEST(events_for_many)
{
	struct lic a, b, c;
	cs_event **evs = NULL;
	size_t *counts = NULL, total = 0, at = 0, i;
	const char *ids[5];
	const char *want[5] = {"suspend,reinstate,revoke", "", "suspend", "",
	    "suspend,reinstate,revoke"};
	char got[128];
	cs_store *s = fx_open("evmany");

	if (s == NULL)
		return;
	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&b, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	lic_make(&c, TYPE_A, 3, HOLDER_1, "ems", 1002, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &c.r), 0);
	CHECK_INT_EQ(event_on(s, &a, 10, "suspend"), 0);
	CHECK_INT_EQ(event_on(s, &c, 11, "suspend"), 0);
	CHECK_INT_EQ(event_on(s, &a, 12, "reinstate"), 0);
	CHECK_INT_EQ(event_on(s, &a, 13, "revoke"), 0);
	ids[0] = a.id;
	ids[1] = b.id;
	ids[2] = c.id;
	ids[3] = "1.2.156.3005.2.unknown";
	ids[4] = a.id;
	CHECK_INT_EQ(cs_store_events_for_many(s, ids, 5, &evs, &counts, &total),
	    0);
	CHECK_INT_EQ(total, 7);
	for (i = 0; counts != NULL && total == 7 && i < 5; i++) {
		actions_of(evs, at, counts[i], ids[i], got, sizeof(got));
		CHECK_STR_EQ(got, want[i]);
		at += counts[i];
	}
	if (total == 7)
		CHECK(evs[0]->seq < evs[1]->seq && evs[1]->seq < evs[2]->seq);
	cs_events_free(evs, total);
	free(counts);
	/* None asked: nothing, and no array to free. */
	CHECK_INT_EQ(cs_store_events_for_many(s, ids, 0, &evs, &counts, &total),
	    0);
	CHECK(evs == NULL && total == 0);
	free(counts);

	/* Read (and so, maybe, cached), then changed through this handle:
	 * the next reads, one licence or many, have the change at once,
	 * outside a transaction and after one. */
	CHECK_INT_EQ(event_on(s, &b, 20, "suspend"), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(event_on(s, &c, 21, "reinstate"), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_events_for_many(s, ids + 1, 2, &evs, &counts,
	    &total), 0);
	CHECK_INT_EQ(total, 3);
	if (total == 3 && counts != NULL) {
		actions_of(evs, 0, counts[0], b.id, got, sizeof(got));
		CHECK_STR_EQ(got, "suspend");
		actions_of(evs, counts[0], counts[1], c.id, got, sizeof(got));
		CHECK_STR_EQ(got, "suspend,reinstate");
	}
	cs_events_free(evs, total);
	free(counts);
	CHECK_INT_EQ(cs_store_events_for(s, c.id, &evs, &total), 0);
	CHECK_INT_EQ(total, 2);
	cs_events_free(evs, total);
	cs_store_close(s);
}

/* events_for_many over more licences than SQLite asks for in one
 * statement (16): each licence's events in its place, a licence asked for
 * twice in different statements has its events twice, the order of seq
 * kept within each. */
TEST(events_for_many_batches)
{
	struct lic l[20];
	cs_event **evs = NULL;
	size_t *counts = NULL, total = 0, at = 0, i;
	const char *ids[21];
	char got[128];
	cs_store *s = fx_open("evbatches");

	if (s == NULL)
		return;
	for (i = 0; i < 20; i++) {
		lic_make(&l[i], TYPE_A, (int64_t)i + 1, HOLDER_1, "ems",
		    1000 + (int64_t)i, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l[i].r), 0);
		ids[i] = l[i].id;
	}
	ids[20] = l[0].id;
	CHECK_INT_EQ(event_on(s, &l[16], 10, "suspend"), 0);
	CHECK_INT_EQ(event_on(s, &l[0], 11, "suspend"), 0);
	CHECK_INT_EQ(event_on(s, &l[15], 12, "revoke"), 0);
	CHECK_INT_EQ(event_on(s, &l[0], 13, "reinstate"), 0);
	CHECK_INT_EQ(event_on(s, &l[19], 14, "suspend"), 0);
	CHECK_INT_EQ(cs_store_events_for_many(s, ids, 21, &evs, &counts,
	    &total), 0);
	CHECK_INT_EQ(total, 7);
	for (i = 0; counts != NULL && total == 7 && i < 21; i++) {
		actions_of(evs, at, counts[i], ids[i], got, sizeof(got));
		CHECK_STR_EQ(got, i == 0 || i == 20 ? "suspend,reinstate" :
		    i == 15 ? "revoke" : i == 16 || i == 19 ? "suspend" : "");
		at += counts[i];
	}
	cs_events_free(evs, total);
	free(counts);
	cs_store_close(s);
}

/* A note kept with a committed row (cs_store_licence_note) comes with the
 * next read of the row from the cache, by id and by holder; a row read
 * inside a transaction, and one never read, carry none, and a note on a
 * row the cache does not hold is nothing. */
TEST(licence_note)
{
	struct lic a, b;
	cs_licence_row *row = NULL, **rows = NULL;
	int64_t pos = 0;
	size_t n = 0;
	cs_store *s = fx_open("note");

	if (s == NULL)
		return;
	lic_make(&a, TYPE_A, 1, HOLDER_2, "ems", 1000, NULL);
	lic_make(&b, TYPE_A, 2, HOLDER_2, "ems", 1001, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	b.r.note[0] = 7;
	cs_store_licence_note(s, &b.r);  /* not cached: nothing */
	CHECK_INT_EQ(cs_store_licence_get(s, a.id, &row), 0);
	CHECK(row != NULL && row->note[0] == 0 && row->note[9] == 0);
	if (row != NULL) {
		row->note[0] = 42;
		row->note[9] = 43;
		cs_store_licence_note(s, row);
	}
	cs_licence_row_free(row);
	row = NULL;
	CHECK_INT_EQ(cs_store_licence_get(s, a.id, &row), 0);
	CHECK(row != NULL && row->note[0] == 42 && row->note[9] == 43);
	cs_licence_row_free(row);
	row = NULL;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_2, NULL, &pos, 10,
	    &rows, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(rows[1]->id, a.id);
		CHECK(rows[1]->note[0] == 42 && rows[0]->note[0] == 0);
	}
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, a.id, &row), 0);
	CHECK(row != NULL && row->note[0] == 0);
	cs_licence_row_free(row);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	cs_store_close(s);
}

/* A status change made through one handle (another node) is what a
 * second handle reads within 1 s (SPEC §8: no cache serves a status more
 * than 1 s older than the database's), though the second had read, and
 * maybe cached, the licence's events just before; by one licence and by
 * many. */
TEST(status_seen_by_other_handle)
{
	struct lic l;
	cs_licence_row *row = NULL;
	cs_event **evs = NULL;
	size_t *counts = NULL, n = 0;
	const char *ids[1];
	int64_t t0, seen_one = -1, seen_many = -1;
	int k;
	cs_store *s = fx_open("evother"), *o = NULL;

	if (s == NULL || (o = fx_reopen("evother")) == NULL) {
		cs_store_close(s);
		return;
	}
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	ids[0] = l.id;
	/* The other handle reads the row and its (no) events, twice. */
	CHECK_INT_EQ(cs_store_licence_get(o, l.id, &row), 0);
	cs_licence_row_free(row);
	for (k = 0; k < 2; k++) {
		CHECK_INT_EQ(cs_store_events_for(o, l.id, &evs, &n), 0);
		CHECK_INT_EQ(n, 0);
		cs_events_free(evs, n);
	}
	CHECK_INT_EQ(event_on(s, &l, 10, "suspend"), 0);
	t0 = cs_mono_ms();
	while (cs_mono_ms() - t0 < 3000 && (seen_one < 0 || seen_many < 0)) {
		if (seen_one < 0 &&
		    cs_store_events_for(o, l.id, &evs, &n) == 0) {
			if (n == 1)
				seen_one = cs_mono_ms() - t0;
			cs_events_free(evs, n);
		}
		if (seen_many < 0 && cs_store_events_for_many(o, ids, 1, &evs,
		    &counts, &n) == 0) {
			if (n == 1 && counts[0] == 1)
				seen_many = cs_mono_ms() - t0;
			cs_events_free(evs, n);
			free(counts);
		}
		usleep(20000);
	}
	CHECK(seen_one >= 0 && seen_one <= 1000);
	CHECK(seen_many >= 0 && seen_many <= 1000);
	cs_store_close(o);
	cs_store_close(s);
}

/* The status list's scan (store.h): every licence once, with its type,
 * issuer, sequence number and its latest event's action (NULL without
 * one); fn's non-zero stops the scan and is returned. */
struct scan_seen {
	int n, stop_at;
	char action[4][16];  /* by seq 1..3; "-" for NULL */
	int64_t seq_sum;
};

static int
scan_one(void *ctx, const cs_status_row *row)
{
	struct scan_seen *sn = ctx;

	if (sn->stop_at && sn->n == sn->stop_at)
		return CS_ECONFLICT;
	sn->n++;
	sn->seq_sum += row->seq;
	if (row->seq >= 1 && row->seq <= 3 && strcmp(row->type, TYPE_A) == 0 &&
	    strcmp(row->issuer_code, ISSUER) == 0 && strstr(row->id, TYPE_A))
		snprintf(sn->action[row->seq], sizeof(sn->action[0]), "%s",
		    row->action ? row->action : "-");
	return 0;
}

TEST(status_scan_and_mark)
{
	struct scan_seen sn;
	int64_t m0[2], m1[2], m2[2], m3[2];
	struct lic l[3];
	cs_event e;
	cs_store *s = fx_open("status");
	int i;

	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_status_mark(s, m0), 0);
	for (i = 0; i < 3; i++) {
		lic_make(&l[i], TYPE_A, i + 1, HOLDER_1, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l[i].r), 0);
	}
	CHECK_INT_EQ(cs_store_status_mark(s, m1), 0);
	CHECK(m1[0] != m0[0] || m1[1] != m0[1]);
	memset(&e, 0, sizeof(e));
	e.actor = "ems";
	e.licence_id = l[1].id;
	e.at = 10;
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_status_mark(s, m2), 0);
	CHECK(m2[0] != m1[0] || m2[1] != m1[1]);
	e.licence_id = l[2].id;
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	e.at = 11;
	e.action = "revoke";
	e.kind = "revoked";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_status_mark(s, m3), 0);
	CHECK(m3[0] != m2[0] || m3[1] != m2[1]);
	/* Reading changes nothing. */
	CHECK_INT_EQ(cs_store_status_mark(s, m2), 0);
	CHECK(m2[0] == m3[0] && m2[1] == m3[1]);

	memset(&sn, 0, sizeof(sn));
	CHECK_INT_EQ(cs_store_status_scan(s, scan_one, &sn), 0);
	CHECK_INT_EQ(sn.n, 3);
	CHECK_INT_EQ(sn.seq_sum, 6);
	CHECK_STR_EQ(sn.action[1], "-");
	CHECK_STR_EQ(sn.action[2], "suspend");
	CHECK_STR_EQ(sn.action[3], "revoke");
	memset(&sn, 0, sizeof(sn));
	sn.stop_at = 2;
	CHECK_INT_EQ(cs_store_status_scan(s, scan_one, &sn), CS_ECONFLICT);
	CHECK_INT_EQ(sn.n, 2);
	cs_store_close(s);
}

/* The scan over two types, licences stored interleaved and events
 * appended in no licence's order, several to a licence: each licence
 * gets its own latest action (SQLite merges the events into the
 * licences in index order, where a slip would hand a licence its
 * neighbour's). */
struct scan_two {
	char action[2][4][16];  /* [TYPE_A, TYPE_B][seq 1..3] */
	int n;
};

static int
scan_two_one(void *ctx, const cs_status_row *row)
{
	struct scan_two *st = ctx;
	int t = strcmp(row->type, TYPE_B) == 0;

	st->n++;
	if (row->seq >= 1 && row->seq <= 3)
		snprintf(st->action[t][row->seq], sizeof(st->action[0][0]),
		    "%s", row->action ? row->action : "-");
	return 0;
}

TEST(status_scan_merges_events)
{
	static struct {
		int t, seq;
		char action[10];
	} evs[] = {
		{0, 3, "suspend"}, {1, 1, "suspend"}, {0, 3, "reinstate"},
		{1, 2, "revoke"}, {1, 1, "reinstate"}, {0, 1, "suspend"},
		{1, 1, "suspend"},
	};
	static const char *const want[2][4] = {
		{"", "suspend", "-", "reinstate"},
		{"", "suspend", "revoke", "-"},
	};
	struct scan_two st;
	struct lic l[2][4];
	cs_event e;
	cs_store *s = fx_open("scan2");
	size_t i;
	int t, q;

	if (s == NULL)
		return;
	for (q = 1; q <= 3; q++)
		for (t = 1; t >= 0; t--) {
			lic_make(&l[t][q], t ? TYPE_B : TYPE_A, q, HOLDER_1,
			    "ems", 1000, NULL);
			CHECK_INT_EQ(cs_store_licence_put(s, &l[t][q].r), 0);
		}
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		memset(&e, 0, sizeof(e));
		e.actor = "ems";
		e.licence_id = l[evs[i].t][evs[i].seq].id;
		e.at = 10 + (int64_t)i;
		e.action = evs[i].action;
		e.kind = strcmp(e.action, "revoke") == 0 ? "revoked" : NULL;
		CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	}
	memset(&st, 0, sizeof(st));
	CHECK_INT_EQ(cs_store_status_scan(s, scan_two_one, &st), 0);
	CHECK_INT_EQ(st.n, 6);
	for (t = 0; t < 2; t++)
		for (q = 1; q <= 3; q++)
			CHECK_STR_EQ(st.action[t][q], want[t][q]);
	cs_store_close(s);
}

TEST(bundles)
{
	cs_bundle_row b, *got = NULL;
	cs_store *s = fx_open("bundles");

	if (s == NULL)
		return;
	memset(&b, 0, sizeof(b));
	b.id = "B-1";
	b.client = "onewindow";
	b.approval_ref = "CASE-1";
	b.request_hash = HASH_HEX;
	b.created_at = 1234;
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	CHECK_INT_EQ(cs_store_bundle_by_ref(s, "onewindow", "CASE-1", &got), 0);
	if (got != NULL) {
		CHECK_STR_EQ(got->id, "B-1");
		CHECK_STR_EQ(got->client, "onewindow");
		CHECK_STR_EQ(got->approval_ref, "CASE-1");
		CHECK_STR_EQ(got->request_hash, HASH_HEX);
		CHECK_INT_EQ(got->created_at, 1234);
	}
	cs_bundle_row_free(got);
	CHECK_INT_EQ(cs_store_bundle_by_ref(s, "onewindow", "CASE-2", &got),
	    CS_ENOTFOUND);
	CHECK(got == NULL);
	b.approval_ref = "CASE-2"; /* same id */
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), CS_ECONFLICT);
	b.id = "B-2";
	b.approval_ref = "CASE-1"; /* same (client, approval_ref) */
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), CS_ECONFLICT);
	cs_store_close(s);
}

/* An issuer's reconciliation (cs_store_licences_by_client): its own
 * licences only, by (issued_at, id), the window [from, until), an
 * approval_ref matching a bundle's members through the bundle, and keyset
 * pages that neither skip nor repeat a row of the same second. */
TEST(licences_by_client)
{
	cs_licence_row **rows = NULL;
	cs_licence_filter f;
	cs_bundle_row b;
	struct lic l[6];
	cs_store *s = fx_open("by_client");
	char seen[8][64];
	size_t n = 0, i, got = 0, pages;

	if (s == NULL)
		return;
	lic_make(&l[0], TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l[1], TYPE_A, 2, HOLDER_1, "ems", 2000, NULL);
	lic_make(&l[2], TYPE_A, 3, HOLDER_2, "ems", 2000, NULL);
	lic_make(&l[3], TYPE_B, 1, HOLDER_2, "ems", 2000, "B-9");
	lic_make(&l[4], TYPE_A, 4, HOLDER_1, "other", 1500, NULL);
	lic_make(&l[5], TYPE_B, 2, HOLDER_1, "ems", 3000, NULL);
	l[3].r.approval_ref = NULL;  /* a bundle member: the bundle holds it */
	memset(&b, 0, sizeof(b));
	b.id = "B-9";
	b.client = "ems";
	b.approval_ref = "CASE-9";
	b.request_hash = HASH_HEX;
	b.created_at = 2000;
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	for (i = 0; i < 6; i++)
		CHECK_INT_EQ(cs_store_licence_put(s, &l[i].r), 0);

	/* Pages of two: 1000, then the three of 2000 by id, then 3000. */
	memset(&f, 0, sizeof(f));
	f.client = "ems";
	f.limit = 2;
	for (pages = 0; pages < 5; pages++) {
		CHECK_INT_EQ(cs_store_licences_by_client(s, &f, &rows, &n), 0);
		for (i = 0; i < n && got < 8; i++)
			snprintf(seen[got++], sizeof(seen[0]), "%s", rows[i]->id);
		if (n > 0) {
			f.after_at = rows[n - 1]->issued_at;
			f.after_id = seen[got - 1];
		}
		cs_licence_rows_free(rows, n);
		rows = NULL;
		if (n < f.limit)
			break;
	}
	CHECK_INT_EQ(got, 5);
	if (got == 5) {
		CHECK_STR_EQ(seen[0], l[0].id);
		CHECK_STR_EQ(seen[4], l[5].id);
		CHECK(strcmp(seen[1], seen[2]) < 0 && strcmp(seen[2], seen[3]) < 0);
	}

	memset(&f, 0, sizeof(f));
	f.client = "ems";
	f.limit = 10;
	f.from = 2000;
	f.until = 3000;
	CHECK_INT_EQ(cs_store_licences_by_client(s, &f, &rows, &n), 0);
	CHECK_INT_EQ(n, 3);
	cs_licence_rows_free(rows, n);
	f.from = f.until = 0;
	f.approval_ref = "CASE-9";
	CHECK_INT_EQ(cs_store_licences_by_client(s, &f, &rows, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(n == 1 ? rows[0]->id : NULL, l[3].id);
	cs_licence_rows_free(rows, n);
	f.approval_ref = l[4].ref;  /* another client's */
	CHECK_INT_EQ(cs_store_licences_by_client(s, &f, &rows, &n), 0);
	CHECK_INT_EQ(n, 0);
	cs_licence_rows_free(rows, n);
	cs_store_close(s);
}

/* --- annotated copies (SPEC §12) ----------------------------------------- */

/* A copy's row round-trips with its optional user absent or present; its
 * id is unique; it must name a stored licence. */
/* The two copies of TEST(copies), paged by id as certsvc copy reads them:
 * in id order, each page after the last id of the one before. */
static void
copies_paged(cs_store *s)
{
	cs_copy_row **cs = NULL;
	size_t n = 0;

	CHECK_INT_EQ(cs_store_copies_page(s, NULL, 1, &cs, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(n == 1 ? cs[0]->id : NULL, "0123456789ABCDEF01234567");
	cs_copy_rows_free(cs, n);
	CHECK_INT_EQ(cs_store_copies_page(s, "0123456789ABCDEF01234567", 5, &cs,
	    &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(n == 1 ? cs[0]->id : NULL, "11111111111111111111111A");
	CHECK_STR_EQ(n == 1 ? cs[0]->used_by_name : NULL, "某市市场监督管理局");
	cs_copy_rows_free(cs, n);
	CHECK_INT_EQ(cs_store_copies_page(s, "11111111111111111111111A", 5, &cs,
	    &n), 0);
	CHECK_INT_EQ(n, 0);
	cs_copy_rows_free(cs, n);
}

TEST(copies)
{
	cs_copy_row c, *got = NULL;
	struct lic l;
	cs_store *s = fx_open("copies");

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&c, 0, sizeof(c));
	c.id = "0123456789ABCDEF01234567";
	c.licence_id = l.id;
	c.client = "partner";
	c.purpose = "仅供'核查'; DROP TABLE copies;--";
	c.created_at = 2000;
	c.expires_at = 2000 + 30 * 86400;
	CHECK_INT_EQ(cs_store_copy_put(s, &c), 0);
	CHECK_INT_EQ(cs_store_copy_get(s, c.id, &got), 0);
	if (got != NULL) {
		CHECK_STR_EQ(got->licence_id, l.id);
		CHECK_STR_EQ(got->client, "partner");
		CHECK_STR_EQ(got->purpose, c.purpose);
		CHECK(got->used_by_name == NULL && got->used_by_code == NULL);
		CHECK_INT_EQ(got->created_at, 2000);
		CHECK_INT_EQ(got->expires_at, 2000 + 30 * 86400);
	}
	cs_copy_row_free(got);
	CHECK_INT_EQ(cs_store_copy_put(s, &c), CS_ECONFLICT);
	c.id = "11111111111111111111111A";
	c.used_by_name = "某市市场监督管理局";
	c.used_by_code = "11440300MB2C12345X";
	CHECK_INT_EQ(cs_store_copy_put(s, &c), 0);
	CHECK_INT_EQ(cs_store_copy_get(s, c.id, &got), 0);
	CHECK_STR_EQ(got ? got->used_by_name : NULL, "某市市场监督管理局");
	CHECK_STR_EQ(got ? got->used_by_code : NULL, "11440300MB2C12345X");
	cs_copy_row_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_copy_get(s, "NOSUCHCOPY", &got), CS_ENOTFOUND);
	CHECK(got == NULL);
	c.id = "22222222222222222222222B";
	c.licence_id = "no such licence";
	CHECK(cs_store_copy_put(s, &c) != 0);
	copies_paged(s);
	cs_store_close(s);
}

/* --- holder acts (SPEC §10) --------------------------------------------- */

static void
hact(cs_hact_row *r, const char *key, int64_t n, const char *kind)
{
	r->key = (char *)key;
	r->n = n;
	r->kind = (char *)kind;
	r->holder = "91350100M000100Y43";
	r->at = 1000 + n;
	r->body = "{\"purpose\":\"年检'; DROP TABLE holder_acts;--\"}";
}

/* A key's rows come back greatest n first and below a bound; (key, n) is
 * taken once (a use of an authorisation counts once); the pages of
 * certsvc copy go by (key, n). */
TEST(holder_acts)
{
	cs_hact_row r, **rows = NULL;
	size_t n = 0;
	cs_store *s = fx_open("holder_acts");

	if (s == NULL)
		return;
	hact(&r, "Aabc", 0, "authorisation");
	CHECK_INT_EQ(cs_store_hact_put(s, &r), 0);
	hact(&r, "Aabc", 1, "use");
	CHECK_INT_EQ(cs_store_hact_put(s, &r), 0);
	CHECK_INT_EQ(cs_store_hact_put(s, &r), CS_ECONFLICT);
	hact(&r, "Aabc", -1, "withdrawn");
	CHECK_INT_EQ(cs_store_hact_put(s, &r), 0);
	hact(&r, "B", 5, "usage");
	CHECK_INT_EQ(cs_store_hact_put(s, &r), 0);
	CHECK_INT_EQ(cs_store_hacts_get(s, "Aabc", INT64_MAX, 10, &rows, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_INT_EQ(rows[0]->n, 1);
		CHECK_STR_EQ(rows[0]->kind, "use");
		CHECK_INT_EQ(rows[2]->n, -1);
		CHECK_STR_EQ(rows[1]->body, r.body);
		CHECK_STR_EQ(rows[1]->holder, "91350100M000100Y43");
		CHECK_INT_EQ(rows[1]->at, 1000);
	}
	cs_hact_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_hacts_get(s, "Aabc", 1, 1, &rows, &n), 0);
	CHECK(n == 1 && rows[0]->n == 0);
	cs_hact_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_hacts_get(s, "Aab", INT64_MAX, 10, &rows, &n), 0);
	CHECK_INT_EQ(n, 0);
	cs_hact_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_hacts_page(s, NULL, 0, 2, &rows, &n), 0);
	CHECK(n == 2 && rows[0]->n == -1 && rows[1]->n == 0);
	cs_hact_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_hacts_page(s, "Aabc", 0, 5, &rows, &n), 0);
	CHECK(n == 2 && rows[0]->n == 1 && strcmp(rows[1]->key, "B") == 0);
	cs_hact_rows_free(rows, n);
	cs_store_close(s);
}

/* Peers: rows appended, numbered by the store or keeping a copied seq,
 * read back in seq order with NULLs kept; a seq already there refused. */
TEST(peers)
{
	cs_peer_row p, **got = NULL;
	cs_store *s = fx_open("peers");
	size_t n = 0;

	if (s == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.name = "xiamen";
	p.trust_list = "{\"keys\": []}";
	p.status_list = "0oRDoQEm";
	p.actor = "admin";
	p.at = 1000;
	CHECK_INT_EQ(cs_store_peer_put(s, &p), 0);
	p.trust_list = NULL;
	p.status_list = NULL;
	p.at = 1001;
	CHECK_INT_EQ(cs_store_peer_put(s, &p), 0);
	p.seq = 7;
	p.name = "shantou'; DROP TABLE peers;--";
	p.trust_list = "{}";
	CHECK_INT_EQ(cs_store_peer_put(s, &p), 0);
	CHECK_INT_EQ(cs_store_peer_put(s, &p), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_peers_page(s, 0, 10, &got, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_INT_EQ(got[0]->seq, 1);
		CHECK_STR_EQ(got[0]->trust_list, "{\"keys\": []}");
		CHECK_STR_EQ(got[0]->status_list, "0oRDoQEm");
		CHECK_STR_EQ(got[0]->actor, "admin");
		CHECK_INT_EQ(got[0]->at, 1000);
		CHECK_INT_EQ(got[1]->seq, 2);
		CHECK(got[1]->trust_list == NULL && got[1]->status_list == NULL);
		CHECK_INT_EQ(got[2]->seq, 7);
		CHECK_STR_EQ(got[2]->name, p.name);
	}
	cs_peer_rows_free(got, n);
	CHECK_INT_EQ(cs_store_peers_page(s, 1, 1, &got, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(n == 1 ? got[0]->seq : 0, 2);
	cs_peer_rows_free(got, n);
	/* The next numbered row follows the copied one. */
	p.seq = 0;
	CHECK_INT_EQ(cs_store_peer_put(s, &p), 0);
	CHECK_INT_EQ(cs_store_peers_page(s, 7, 10, &got, &n), 0);
	CHECK_INT_EQ(n == 1 ? got[0]->seq : 0, 8);
	cs_peer_rows_free(got, n);
	cs_store_close(s);
}

/* --- clients ------------------------------------------------------------ */

TEST(clients)
{
	cs_client a, b, *got = NULL, **all = NULL;
	cs_grant g1 = { "*", NULL, NULL };
	cs_grant g2 = { TYPE_A "," TYPE_B, ISSUER, "生态环境厅" };
	cs_grant g3 = { TYPE_A, "91440300708461136T", "卫生健康委" };
	uint8_t h[32];
	cs_store *s = fx_open("clients");
	size_t n = 0;

	if (s == NULL)
		return;
	client_make(&a, "ems", "issuer", 0xa1);
	client_make(&b, "partner", "reader", 0xb2);
	a.id = 42; /* ignored: assigned by the store */
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &b), 0);
	client_make(&b, "partner", "reader", 0xc3);
	CHECK_INT_EQ(cs_store_client_add(s, &b), CS_ECONFLICT);
	client_make(&b, "bad-role", "root", 0xd4);
	CHECK_INT_EQ(cs_store_client_add(s, &b), CS_ESTORE);

	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g2), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g3), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "partner", &g1), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "nobody", &g1), CS_ENOTFOUND);
	CHECK_CONTAINS(cs_err_msg(), "nobody");

	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	if (got != NULL) {
		CHECK(got->id > 0 && got->id != 42);
		CHECK_STR_EQ(got->name, "ems");
		CHECK_STR_EQ(got->role, "issuer");
		CHECK(memcmp(got->token_hash, a.token_hash, 32) == 0);
		CHECK_INT_EQ(got->created_at, 100 + 0xa1);
		CHECK_INT_EQ(got->revoked_at, 0);
		CHECK_INT_EQ(got->n_grants, 2);
		if (got->n_grants == 2) {
			CHECK_STR_EQ(got->grants[0].types, g2.types);
			CHECK_STR_EQ(got->grants[0].issuer_code, ISSUER);
			CHECK_STR_EQ(got->grants[0].issuer_name, "生态环境厅");
			CHECK_STR_EQ(got->grants[1].issuer_code,
			    "91440300708461136T");
		}
	}
	cs_client_free(got);
	CHECK_INT_EQ(cs_store_client_get(s, "nobody", &got), CS_ENOTFOUND);
	CHECK(got == NULL);

	/* Found by its hash; not by one that differs in the last byte. */
	memcpy(h, a.token_hash, 32);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h, &got), 0);
	CHECK_STR_EQ(got ? got->name : NULL, "ems");
	CHECK_INT_EQ(got ? got->n_grants : 0, 2);
	cs_client_free(got);
	h[31] ^= 1;
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h, &got), CS_ENOTFOUND);
	CHECK(got == NULL);

	CHECK_INT_EQ(cs_store_client_list(s, &all, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(all[0]->name, "ems");
		CHECK_STR_EQ(all[1]->name, "partner");
		CHECK_INT_EQ(all[1]->n_grants, 1);
		CHECK(all[1]->n_grants == 1 &&
		    all[1]->grants[0].issuer_code == NULL);
	}
	cs_clients_free(all, n);

	/* Revoked: its token no longer works, but it is still listed. */
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 5000), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	CHECK_INT_EQ(got ? got->revoked_at : 0, 5000);
	cs_client_free(got);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 6000), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_revoke(s, "nobody", 6000), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	CHECK_INT_EQ(got ? got->revoked_at : 0, 5000);
	cs_client_free(got);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, b.token_hash, &got),
	    CS_ENOTFOUND);
	cs_store_close(s);
}

/* A revocation is on disk: after the store is reopened (a new process, as
 * the server after `certsvc client revoke`), the revoked token is refused
 * (what the HTTP layer answers with 401) and the other client's still
 * works. */
TEST(client_revoke_persists)
{
	cs_client a, b, *got = NULL;
	cs_store *s = fx_open("revoke");

	if (s == NULL)
		return;
	client_make(&a, "ems", "issuer", 0x11);
	client_make(&b, "partner", "reader", 0x22);
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &b), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got), 0);
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 7000), 0);
	cs_store_close(s);

	s = fx_reopen("revoke");
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got),
	    CS_ENOTFOUND);
	CHECK(got == NULL);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, b.token_hash, &got), 0);
	CHECK_STR_EQ(got ? got->name : NULL, "partner");
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	CHECK_INT_EQ(got ? got->revoked_at : 0, 7000);
	cs_client_free(got);
	/* The name stays taken: a revoked client is history, not a gap. */
	client_make(&a, "ems", "issuer", 0x33);
	CHECK_INT_EQ(cs_store_client_add(s, &a), CS_ECONFLICT);
	cs_store_close(s);
}

/*
 * Token rotation (client_tokens): after a rotation only the newest token
 * authenticates (the one the client was created with and every earlier
 * rotation's are refused), the client keeps its grants and the hash it
 * was created with, a rotation of an unknown or revoked client writes
 * nothing, a hash already used is refused, and the rows read back in
 * pages and import keeping their numbers, as certsvc copy needs.
 */
TEST(client_rotate)
{
	cs_grant g = { TYPE_A, NULL, NULL };
	cs_client a, b, *got = NULL;
	cs_client_token **t = NULL;
	uint8_t h1[32], h2[32];
	cs_store *s = fx_open("rotate"), *d = NULL;
	size_t n = 0;

	if (s == NULL)
		return;
	client_make(&a, "ems", "reader", 0x41);
	client_make(&b, "partner", "reader", 0x42);
	memset(h1, 0x51, 32);
	memset(h2, 0x52, 32);
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &b), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g), 0);
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	CHECK(got != NULL && memcmp(got->current_hash, a.token_hash, 32) == 0);
	CHECK_INT_EQ(got ? got->rotated_at : -1, 0);
	cs_client_free(got);

	CHECK_INT_EQ(cs_store_client_rotate(s, "ems", h1, 3000), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got),
	    CS_ENOTFOUND);
	CHECK(got == NULL);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h1, &got), 0);
	CHECK_STR_EQ(got ? got->name : NULL, "ems");
	CHECK_INT_EQ(got ? got->n_grants : 0, 1);
	CHECK(got != NULL && memcmp(got->token_hash, a.token_hash, 32) == 0);
	CHECK(got != NULL && memcmp(got->current_hash, h1, 32) == 0);
	CHECK_INT_EQ(got ? got->rotated_at : 0, 3000);
	cs_client_free(got);
	got = NULL;

	/* Again: the first rotation's token goes the way of the original. */
	CHECK_INT_EQ(cs_store_client_rotate(s, "ems", h2, 4000), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h1, &got), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h2, &got), 0);
	CHECK_INT_EQ(got ? got->rotated_at : 0, 4000);
	cs_client_free(got);
	got = NULL;
	/* The other client is untouched; a used hash is refused. */
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, b.token_hash, &got), 0);
	CHECK_STR_EQ(got ? got->name : NULL, "partner");
	CHECK_INT_EQ(got ? got->rotated_at : -1, 0);
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_rotate(s, "partner", h1, 4100),
	    CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_client_rotate(s, "nobody", h1, 4100),
	    CS_ENOTFOUND);
	CHECK_CONTAINS(cs_err_msg(), "nobody");
	/* A revoked client is not rotated back to life. */
	CHECK_INT_EQ(cs_store_client_revoke(s, "partner", 4200), 0);
	memset(h1, 0x53, 32);
	CHECK_INT_EQ(cs_store_client_rotate(s, "partner", h1, 4300),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, h1, &got), CS_ENOTFOUND);

	/* Pages by seq, each row naming what it supersedes. */
	CHECK_INT_EQ(cs_store_client_tokens_page(s, 0, 10, &t, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(t[0]->client, "ems");
		CHECK_INT_EQ(t[0]->supersedes, 0);
		CHECK_INT_EQ(t[1]->supersedes, t[0]->seq);
		CHECK(t[1]->seq > t[0]->seq);
		CHECK(memcmp(t[1]->token_hash, h2, 32) == 0);
		CHECK_INT_EQ(t[1]->at, 4000);
	}
	cs_client_tokens_free(t, n);
	t = NULL;
	CHECK_INT_EQ(cs_store_client_tokens_page(s, 0, 1, &t, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_client_tokens_free(t, n);
	t = NULL;

	/* Imported into another store: the same client authenticates by the
	 * same token, and a row for a client it lacks is refused. */
	d = fx_open("rotate_copy");
	if (d != NULL) {
		client_make(&a, "ems", "reader", 0x41);
		CHECK_INT_EQ(cs_store_client_import(d, &a), 0);
		CHECK_INT_EQ(cs_store_client_tokens_page(s, 0, 10, &t, &n), 0);
		CHECK_INT_EQ(cs_store_client_tokens_import(d, t, n),
		    CS_EINVAL);  /* outside a transaction */
		CHECK_INT_EQ(cs_store_begin(d), 0);
		CHECK_INT_EQ(cs_store_client_tokens_import(d, t, n), 0);
		CHECK_INT_EQ(cs_store_import_done(d), 0);
		CHECK_INT_EQ(cs_store_commit(d), 0);
		CHECK_INT_EQ(cs_store_client_by_token_hash(d, h2, &got), 0);
		CHECK_STR_EQ(got ? got->name : NULL, "ems");
		cs_client_free(got);
		got = NULL;
		CHECK_INT_EQ(cs_store_client_by_token_hash(d, a.token_hash,
		    &got), CS_ENOTFOUND);
		/* After the import the store numbers on past the rows kept. */
		memset(h1, 0x54, 32);
		CHECK_INT_EQ(cs_store_client_rotate(d, "ems", h1, 5000), 0);
		CHECK_INT_EQ(cs_store_client_by_token_hash(d, h1, &got), 0);
		cs_client_free(got);
		got = NULL;
		if (n == 2) {
			t[0]->client[0] = 'x';  /* "xms": not a client there */
			t[0]->seq += 100;
			CHECK_INT_EQ(cs_store_begin(d), 0);
			CHECK(cs_store_client_tokens_import(d, t, 1) != 0);
			CHECK_INT_EQ(cs_store_rollback(d), 0);
		}
		cs_client_tokens_free(t, n);
		cs_store_close(d);
	}
	cs_store_close(s);
}

/* --- audit -------------------------------------------------------------- */

TEST(audit)
{
	static const char *const actions[] = { "issue", "read",
		"holder_lookup" };
	cs_audit_rec a, **recs = NULL;
	cs_audit_filter f;
	cs_store *s = fx_open("audit");
	int64_t first, last = 0;
	size_t n = 0;
	int i;

	if (s == NULL)
		return;
	/* 1100 records in one transaction: 0..1099, at_ms = 1000 + i. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 0; i < 1100; i++) {
		memset(&a, 0, sizeof(a));
		a.seq = -5; /* ignored */
		a.at_ms = 1000 + i;
		a.client = i % 10 == 0 ? NULL : i % 2 ? "ems" : "partner";
		a.action = (char *)actions[i % 3];
		a.target = i == 7 ? "L-7" : "L-x";
		a.holder = i % 5 == 0 ? "91350100M000100Y43" : NULL;
		a.purpose = "审批";
		a.service_item = "SI-1";
		a.case_ref = "C-1";
		a.result_count = i;
		a.remote = "127.0.0.1";
		a.request_id = "req";
		CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	}
	CHECK_INT_EQ(cs_store_commit(s), 0);

	memset(&f, 0, sizeof(f));
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, 100); /* the default limit */
	if (n == 100) {
		CHECK_INT_EQ(recs[0]->at_ms, 1000);
		CHECK_STR_EQ(recs[1]->client, "ems");
		CHECK(recs[0]->client == NULL);
		CHECK_STR_EQ(recs[1]->action, "read");
		CHECK_STR_EQ(recs[7]->target, "L-7");
		CHECK_STR_EQ(recs[5]->holder, "91350100M000100Y43");
		CHECK(recs[6]->holder == NULL);
		CHECK_STR_EQ(recs[3]->purpose, "审批");
		CHECK_STR_EQ(recs[3]->service_item, "SI-1");
		CHECK_STR_EQ(recs[3]->case_ref, "C-1");
		CHECK_INT_EQ(recs[3]->result_count, 3);
		CHECK_STR_EQ(recs[3]->remote, "127.0.0.1");
		CHECK_STR_EQ(recs[3]->request_id, "req");
		CHECK(recs[0]->seq > 0 && recs[0]->seq < recs[99]->seq);
	}
	cs_audit_recs_free(recs, n);

	f.limit = 5000;
	CHECK_INT_EQ(audit_n(s, &f, NULL), 1000); /* capped */
	f.limit = 1000;
	f.client = "ems";
	CHECK_INT_EQ(audit_n(s, &f, NULL), 550);
	f.client = NULL;
	f.action = "holder_lookup";
	CHECK_INT_EQ(audit_n(s, &f, NULL), 366);
	f.action = NULL;
	f.holder = "91350100M000100Y43";
	CHECK_INT_EQ(audit_n(s, &f, NULL), 220);
	f.holder = NULL;
	f.target = "L-7";
	CHECK_INT_EQ(audit_n(s, &f, &first), 1);
	f.target = NULL;
	f.since_ms = 1100;
	f.until_ms = 1110; /* [since, until) */
	CHECK_INT_EQ(audit_n(s, &f, NULL), 10);
	f.until_ms = 0;
	CHECK_INT_EQ(audit_n(s, &f, NULL), 1000);
	f.since_ms = 0;
	/* Filters combine. */
	f.client = "ems";
	f.action = "read";
	f.since_ms = 1000;
	f.until_ms = 1100;
	CHECK_INT_EQ(audit_n(s, &f, NULL), 17);

	/* Paging: 3 at a time from after_seq reaches every "partner" record
	 * once, in order. */
	memset(&f, 0, sizeof(f));
	f.client = "partner";
	f.limit = 3;
	for (i = 0; i < 1000; i++) {
		CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
		if (n == 0)
			break;
		CHECK(recs[0]->seq > last);
		last = recs[n - 1]->seq;
		f.after_seq = last;
		cs_audit_recs_free(recs, n);
	}
	CHECK_INT_EQ(i, 440 / 3 + 1);

	/* Newest first (the holder's record): 7 at a time below before_seq
	 * reaches every record of the holder once, seqs falling, with the
	 * other filters ("ok": every record here is done). */
	memset(&f, 0, sizeof(f));
	f.holder = "91350100M000100Y43";
	f.result = "ok";
	f.limit = 7;
	f.before_seq = INT64_MAX;
	last = INT64_MAX;
	for (i = 0, n = 1; i < 1000 && n > 0; i++) {
		CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
		if (n > 0) {
			CHECK(recs[0]->seq < last && recs[n - 1]->seq <=
			    recs[0]->seq);
			CHECK_STR_EQ(recs[0]->holder, "91350100M000100Y43");
			CHECK_INT_EQ(recs[0]->at_ms, i == 0 ? 1000 + 1095 :
			    recs[0]->at_ms);
			last = recs[n - 1]->seq;
			f.before_seq = last;
		}
		cs_audit_recs_free(recs, n);
	}
	CHECK_INT_EQ(i, 220 / 7 + 2);
	cs_store_close(s);
}

/* --- append-only -------------------------------------------------------- */

/* Nothing stored is ever changed (store.h: inserted, never updated or
 * deleted): a put or add that would overwrite is refused and what was
 * stored reads back as it was; a second revocation changes nothing;
 * events, grants and audit records only ever join the ones before them.
 * (That the SQLite database itself refuses UPDATE and DELETE is
 * append_only, in test_store_sqlite.c.) */
TEST(append_only_interface)
{
	cs_bundle_row b = { "B-1", "ems", "R", HASH_HEX, 1 }, *gb = NULL;
	cs_grant g1 = { "*", NULL, NULL }, g2 = { TYPE_A, ISSUER, "厅" };
	cs_client c, *gc = NULL;
	cs_licence_row *gl = NULL;
	cs_audit_rec a, **recs = NULL;
	cs_event e, **evs = NULL;
	cs_audit_filter f;
	struct lic l, other;
	cs_store *s = fx_open("append");
	size_t n = 0;

	if (s == NULL)
		return;
	/* A licence: the same id again, with another holder and record. */
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	lic_make(&other, TYPE_A, 1, HOLDER_2, "ems", 2000, NULL);
	snprintf(other.ref, sizeof(other.ref), "REF-other");
	snprintf(other.number, sizeof(other.number), "N-other");
	snprintf(other.record, sizeof(other.record), "{\"v\":2}");
	CHECK_INT_EQ(cs_store_licence_put(s, &other.r), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &gl), 0);
	CHECK_STR_EQ(gl ? gl->holder_code : NULL, HOLDER_1);
	CHECK_STR_EQ(gl ? gl->record : NULL, l.record);
	CHECK_INT_EQ(gl ? gl->issued_at : 0, 1000);
	cs_licence_row_free(gl);

	/* A bundle: the same id again, for another request. */
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	b.client = "partner";
	b.approval_ref = "R-2";
	b.created_at = 2;
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_bundle_by_ref(s, "partner", "R-2", &gb),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_bundle_by_ref(s, "ems", "R", &gb), 0);
	CHECK_INT_EQ(gb ? gb->created_at : 0, 1);
	cs_bundle_row_free(gb);

	/* A client: the same name again, with another role and token; then
	 * revoked twice; its grants in the order granted. */
	client_make(&c, "ems", "issuer", 1);
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);
	client_make(&c, "ems", "admin", 2);
	CHECK_INT_EQ(cs_store_client_add(s, &c), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, c.token_hash, &gc),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g1), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g2), 0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 9), 0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 10), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &gc), 0);
	if (gc != NULL) {
		CHECK_STR_EQ(gc->role, "issuer");
		CHECK_INT_EQ(gc->token_hash[0], 1);
		CHECK_INT_EQ(gc->created_at, 101);
		CHECK_INT_EQ(gc->revoked_at, 9);
		CHECK_INT_EQ(gc->n_grants, 2);
		CHECK_STR_EQ(gc->n_grants == 2 ? gc->grants[0].types : NULL, "*");
		CHECK_STR_EQ(gc->n_grants == 2 ? gc->grants[1].issuer_code :
		    NULL, ISSUER);
	}
	cs_client_free(gc);

	/* Events and audit records: a second one leaves the first as it
	 * was. */
	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.at = 10;
	e.action = "suspend";
	e.reason = "first";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	e.at = 20;
	e.action = "reinstate";
	e.reason = "second";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_events_for(s, l.id, &evs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(evs[0]->action, "suspend");
		CHECK_STR_EQ(evs[0]->reason, "first");
		CHECK_INT_EQ(evs[0]->at, 10);
	}
	cs_events_free(evs, n);
	memset(&a, 0, sizeof(a));
	a.action = "read";
	a.target = "T-1";
	a.at_ms = 1;
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	a.target = "T-2";
	a.at_ms = 2;
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	memset(&f, 0, sizeof(f));
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(recs[0]->target, "T-1");
		CHECK_INT_EQ(recs[0]->at_ms, 1);
		CHECK(recs[0]->seq < recs[1]->seq);
	}
	cs_audit_recs_free(recs, n);
	cs_store_close(s);
}

/*
 * A group of audit records in one call (what the read audit writer
 * commits): in order, numbered, all of them; a group with a bad record
 * (no action) leaves none of its records, across PostgreSQL's pipelines
 * of 256 (pg_batch.c), and the transaction goes on; outside a transaction
 * the group is its own.
 */
TEST(audit_append_many)
{
	enum { N = 300 };
	static cs_audit_rec a[N];
	const cs_audit_rec *p[N];
	cs_audit_rec **recs = NULL;
	cs_audit_filter f;
	cs_store *s = fx_open("audit_many");
	size_t i, n = 0;

	if (s == NULL)
		return;
	for (i = 0; i < N; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].at_ms = (int64_t)i;
		a[i].action = "read";
		a[i].target = "G-1";
		a[i].result_count = (int64_t)i;
		p[i] = &a[i];
	}
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_audit_append_many(s, p, N), 0);
	for (i = 0; i < N; i++)
		a[i].target = "G-bad";
	a[290].action = NULL;
	CHECK(cs_store_audit_append_many(s, p, N) != 0);
	a[290].action = "read";
	for (i = 0; i < 2; i++)
		a[i].target = "G-2";
	CHECK_INT_EQ(cs_store_audit_append_many(s, p, 2), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_audit_append_many(s, p, 2), 0);

	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, N + 4);
	if (n == N + 4) {
		for (i = 0; i < N; i++) {
			CHECK_STR_EQ(recs[i]->target, "G-1");
			CHECK_INT_EQ(recs[i]->result_count, (int64_t)i);
			CHECK(i == 0 || recs[i - 1]->seq < recs[i]->seq);
		}
		for (i = N; i < N + 4; i++) {
			CHECK_STR_EQ(recs[i]->target, "G-2");
			CHECK(recs[i - 1]->seq < recs[i]->seq);
		}
	}
	cs_audit_recs_free(recs, n);
	cs_store_close(s);
}

/* Whether two nullable strings are the same (both NULL, or equal). */
static int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* The text fields of an audit record but action and result, in order. */
static char **
audit_text(cs_audit_rec *a, size_t j)
{
	char **f[] = {&a->client, &a->target, &a->holder, &a->purpose,
	    &a->service_item, &a->case_ref, &a->remote, &a->request_id};

	return f[j];
}
#define AUDIT_TEXTS 8

/* Every record of the store in order, paged; whether they are want[0..n)
 * field for field, seq increasing. */
static void
check_audit_equal(cs_store *s, cs_audit_rec *want, size_t n)
{
	cs_audit_rec **recs = NULL;
	cs_audit_filter f;
	size_t i, j, k = 0, got;

	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	do {
		got = 0;
		CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &got), 0);
		for (i = 0; i < got && k < n; i++, k++) {
			CHECK(recs[i]->seq > f.after_seq);
			CHECK_INT_EQ(recs[i]->at_ms, want[k].at_ms);
			CHECK_INT_EQ(recs[i]->result_count, want[k].result_count);
			CHECK_STR_EQ(recs[i]->action, want[k].action);
			CHECK(same_str(recs[i]->result, want[k].result));
			for (j = 0; j < AUDIT_TEXTS; j++)
				if (!same_str(*audit_text(recs[i], j),
				    *audit_text(&want[k], j))) {
					CHECK(!"text field differs");
					fprintf(stderr, "record %zu field %zu\n",
					    k, j);
				}
			f.after_seq = recs[i]->seq;
		}
		CHECK(i == got);
		cs_audit_recs_free(recs, got);
		recs = NULL;
	} while (got > 0);
	CHECK_INT_EQ(k, n);
}

/*
 * A group of audit records with text that array literals, CSV or quoting
 * would get wrong (quotes, backslashes, braces, commas, the word NULL,
 * empty strings, NULL fields, Chinese, a long run of quotes), read back
 * identical and in order.  The group is larger than one statement of
 * PostgreSQL's (1000 records, pg_audit.c): with a bad record (no action)
 * in its last statement none of it is stored, and the transaction goes
 * on; then the same group, good, outside a transaction, all of it.
 */
TEST(audit_append_many_text)
{
	enum { N = 2100, NV = 16 };
	static cs_audit_rec a[N];
	static const cs_audit_rec *p[N];
	static char longv[3001];
	const char *vals[NV] = {"say \"hi\"", "back\\slash\\", "{braces}",
	    "a,b,c", "NULL", "", "審計記錄：中文字段", "\\\"", " spaced ",
	    "}{\",\\", "tab\tnew\nline", NULL, "null", "{\"a\",NULL}", longv,
	    "'single' and $1"};
	cs_store *s = fx_open("audit_text");
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i + 3 <= sizeof(longv) - 1; i += 3)
		memcpy(longv + i, "\"\\x", 3);
	for (i = 0; i < N; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].at_ms = (int64_t)i;
		a[i].result_count = (int64_t)i * 1000003 - 7;
		a[i].action = (char *)(vals[i % NV] ? vals[i % NV] : "read");
		a[i].result = i % 5 == 0 ? "denied" : NULL;
		for (j = 0; j < AUDIT_TEXTS; j++)
			*audit_text(&a[i], j) = (char *)vals[(i + j + 1) % NV];
		p[i] = &a[i];
	}
	CHECK_INT_EQ(cs_store_begin(s), 0);
	a[2050].action = NULL;
	CHECK(cs_store_audit_append_many(s, p, N) != 0);
	a[2050].action = "read";
	CHECK_INT_EQ(cs_store_commit(s), 0);
	check_audit_equal(s, a, 0);
	CHECK_INT_EQ(cs_store_audit_append_many(s, p, N), 0);
	check_audit_equal(s, a, N);
	cs_store_close(s);
}

/* --- a holder's licences, in pages -------------------------------------- */

/* Pages of limit rows from the newest on, until the store says nothing
 * follows: each licence of the holder (of type) exactly once, newest
 * first; returns how many. */
static size_t
page_all(cs_store *s, const char *type, size_t limit)
{
	cs_licence_row **rows = NULL;
	char seen[4000] = {0};
	int64_t pos = 0, last_at = INT64_MAX;
	size_t i, n = 0, total = 0, pages = 0;

	do {
		CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, type, &pos,
		    limit, &rows, &n), 0);
		CHECK(n <= limit);
		CHECK(n == limit || pos == 0);
		for (i = 0; i < n; i++) {
			int k = (int)rows[i]->seq + (strcmp(rows[i]->type,
			    TYPE_B) == 0 ? 2000 : 0);

			CHECK(k < 4000 && !seen[k]);
			seen[k] = 1;
			CHECK(rows[i]->issued_at <= last_at);
			last_at = rows[i]->issued_at;
		}
		total += n;
		cs_licence_rows_free(rows, n);
	} while (pos != 0 && ++pages < 10000);
	return total;
}

/* n licences of HOLDER_1 (many_licences, store_data.h) in pages of every
 * size; a position of another holder's (HOLDER_2 has two licences, so
 * its first page of one ends at one), or of nobody's, is refused. */
TEST(holder_pages)
{
	cs_licence_row **rows = NULL;
	cs_store *s = fx_open("pages");
	int64_t pos = 0;
	size_t n = 0;

	if (s == NULL)
		return;
	many_licences(s, 1000);
	cs_store_close(s);
	if ((s = fx_reopen("pages")) == NULL)
		return;
	CHECK_INT_EQ(page_all(s, NULL, 7), 1250);
	CHECK_INT_EQ(page_all(s, NULL, 1000), 1250);
	CHECK_INT_EQ(page_all(s, NULL, 1250), 1250);
	CHECK_INT_EQ(page_all(s, TYPE_B, 33), 250);
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_2, NULL, &pos, 1,
	    &rows, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK(pos != 0);
	cs_licence_rows_free(rows, n);
	rows = NULL;
	n = 0;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, NULL, &pos, 10,
	    &rows, &n), CS_EINVAL);
	CHECK(rows == NULL && n == 0);
	pos = INT64_MAX;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, NULL, &pos, 10,
	    &rows, &n), CS_EINVAL);
	pos = -1;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, NULL, &pos, 10,
	    &rows, &n), CS_EINVAL);
	cs_store_close(s);
}

/* --- backup ------------------------------------------------------------- */

/* An online copy, opened as a store of its own (the fixture says how:
 * fx_open_backup), holds what was committed when it was made and nothing
 * after; a backup never overwrites a file, and says which it refused.  A
 * backend that makes no such copies (a server database, copied with the
 * server's own tools) refuses with CS_EUNSUPPORTED, and the case is
 * skipped. */
TEST(backup)
{
	cs_licence_row *got = NULL;
	struct lic l;
	cs_store *s = fx_open("src"), *b;
	int64_t n = 0;
	char copy[256], *before, *after;
	size_t blen = 0, alen = 0;
	int i;

	if (s == NULL)
		return;
	if (!fx_offers_backup()) {
		CHECK_INT_EQ(cs_store_backup(s, fx_file("copy")),
		    CS_EUNSUPPORTED);
		CHECK(access(fx_file("copy"), F_OK) != 0);
		SKIP("the backend makes no file copies (cs_store_backup "
		    "refuses, naming the tool to use)");
		cs_store_close(s);
		return;
	}
	snprintf(copy, sizeof(copy), "%s", fx_file("copy"));
	for (i = 1; i <= 20; i++) {
		lic_make(&l, TYPE_A, i, HOLDER_1, "ems", i, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	CHECK_INT_EQ(cs_store_backup(s, copy), 0);
	/* The source goes on after the copy; the copy does not change. */
	lic_make(&l, TYPE_A, 21, HOLDER_1, "ems", 21, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);

	if ((b = fx_open_backup(copy)) != NULL) {
		CHECK_INT_EQ(cs_store_licence_count(b, &n), 0);
		CHECK_INT_EQ(n, 20);
		CHECK_INT_EQ(cs_store_licence_get(b, "1.2.156.3005.2." TYPE_A
		    "." ISSUER ".20.001.X", &got), 0);
		cs_licence_row_free(got);
		CHECK_INT_EQ(cs_store_ping(b), 0);
		cs_store_close(b);
	}

	/* Never onto an existing file, which stays as it was. */
	before = check_slurp(copy, &blen);
	CHECK_INT_EQ(cs_store_backup(s, copy), CS_EIO);
	CHECK_CONTAINS(cs_err_msg(), copy);
	after = check_slurp(copy, &alen);
	CHECK(before != NULL && after != NULL && blen > 0 && blen == alen &&
	    memcmp(before, after, blen) == 0);
	free(before);
	free(after);
	/* Nor into a directory that is not there. */
	CHECK_INT_EQ(cs_store_backup(s, fx_file("no-such-dir/copy")), CS_EIO);
	cs_store_close(s);
}

#include "store_cases_tx.c"
#include "store_cases_copy.c"
#include "store_cases_changes.c"
#include "store_cases_subs.c"

/* --- writes whose failure may come late --------------------------------- */

/*
 * An audit record or a change event appended inside a transaction may
 * report its failure late (store.h, "Writes whose failure may come
 * late"): at a later call or at commit(), which then fails.  A record
 * without an action and an event without a body are refused by every
 * backend (NOT NULL): SQLite at the call, PostgreSQL at the commit.
 * Either way the licence put before it is not stored.
 */

/* Append what the server refuses: an audit record (event 0) or a change
 * event of l (event 1). */
static int
late_refused(cs_store *s, struct lic *l, int event)
{
	cs_audit_rec a;
	cs_change c;
	char id[32];

	if (event) {
		change_make(&c, id, sizeof(id), "refused", l);
		c.body = NULL;
		return cs_store_change_append(s, &c);
	}
	memset(&a, 0, sizeof(a));
	a.target = l->id;
	return cs_store_audit_append(s, &a);
}

/* What a caller does after a write that failed at once (rc): roll back.
 * A write that said nothing must fail the commit instead. */
static void
late_end(cs_store *s, int rc)
{
	if (rc != 0)
		CHECK_INT_EQ(cs_store_rollback(s), 0);
	else
		CHECK(cs_store_commit(s) != 0);
}

/* cs_store_licence_get's answer for id, the row dropped. */
static int
late_get(cs_store *s, const char *id)
{
	cs_licence_row *row = NULL;
	int rc = cs_store_licence_get(s, id, &row);

	cs_licence_row_free(row);
	return rc;
}

/* An audit record every backend takes. */
static void
late_good(cs_audit_rec *a)
{
	memset(a, 0, sizeof(*a));
	a->action = "issue";
}

/* A licence and a refused audit record (or change event) in one
 * transaction: the licence is not stored; the next transaction is not
 * hurt. */
TEST(late_failure_fails_transaction)
{
	cs_audit_rec a;
	struct lic l;
	cs_store *s = fx_open("late_failure");
	int event;

	if (s == NULL)
		return;
	late_good(&a);
	for (event = 0; event < 2; event++) {
		lic_make(&l, TYPE_A, 1 + event, HOLDER_1, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_begin(s), 0);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		late_end(s, late_refused(s, &l, event));
		CHECK_INT_EQ(late_get(s, l.id), CS_ENOTFOUND);
		/* The same licence, audited as it should be, commits. */
		CHECK_INT_EQ(cs_store_begin(s), 0);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
		CHECK_INT_EQ(cs_store_commit(s), 0);
		CHECK_INT_EQ(late_get(s, l.id), 0);
	}
	cs_store_close(s);
}

/*
 * Levels rolled back around a refused audit record.  (a) Refused in the
 * outer level, then a nested level with a write of its own rolled back:
 * the licence is not stored.  (b) Refused inside a nested level that is
 * rolled back: a failure at once (SQLite) fails that call only, as any
 * write's, and the caller's rollback of its level takes it back; one
 * reported late (PostgreSQL) dooms the whole transaction: the outermost
 * commit fails even though ROLLBACK TO SAVEPOINT cleared the server's
 * aborted state, and the licence is not stored.
 */
TEST(late_failure_outlives_savepoint)
{
	cs_audit_rec a;
	struct lic l;
	cs_store *s = fx_open("late_savepoint");
	int rc;

	if (s == NULL)
		return;
	late_good(&a);
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	/* (a) */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	rc = late_refused(s, &l, 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	/* Sent after the refusal: it may fail, at once or with the level. */
	(void)cs_store_audit_append(s, &a);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	late_end(s, rc);
	CHECK_INT_EQ(late_get(s, l.id), CS_ENOTFOUND);
	/* (b) */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	rc = late_refused(s, &l, 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	if (rc != 0) {
		CHECK_INT_EQ(cs_store_commit(s), 0);
		CHECK_INT_EQ(late_get(s, l.id), 0);
	} else {
		CHECK(cs_store_commit(s) != 0);
		CHECK_INT_EQ(late_get(s, l.id), CS_ENOTFOUND);
	}
	cs_store_close(s);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	fx_setup("test_store");
	printf("backend: %s\n", fx_backend_name());
	RUN(open_dispatches_on_db);
	RUN(reopen_keeps_data);
	RUN(licences);
	RUN(record_round_trip);
	RUN(licence_numbers);
	RUN(numbering_in_transaction);
	RUN(levels_and_calls);
	RUN(events);
	RUN(events_for_many);
	RUN(events_for_many_batches);
	RUN(licence_note);
	RUN(status_seen_by_other_handle);
	RUN(status_scan_and_mark);
	RUN(status_scan_merges_events);
	RUN(bundles);
	RUN(licences_by_client);
	RUN(copies);
	RUN(peers);
	RUN(clients);
	RUN(client_revoke_persists);
	RUN(client_rotate);
	RUN(audit);
	RUN(audit_append_many);
	RUN(audit_append_many_text);
	RUN(append_only_interface);
	RUN(transactions);
	RUN(licence_cache);
	RUN(abandoned_transaction);
	RUN(threads);
	RUN(nesting);
	RUN(concurrent_commits);
	RUN(commit_visible);
	RUN(crash_after_commit);
	RUN(holder_pages);
	RUN(backup);
	RUN(holder_acts);
	RUN(copy_pages);
	RUN(copy_imports);
	RUN(copy_batch_all_or_none);
	RUN(changes);
	RUN(changes_wake);
	RUN(changes_commit_order);
	RUN(changes_import);
	RUN(changes_body_bytes);
	RUN(late_failure_fails_transaction);
	RUN(late_failure_outlives_savepoint);
	RUN(subscriptions);
	fx_teardown();
	return check_summary();
}
