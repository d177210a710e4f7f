/*
 * test_store: the SQLite store (store.h) against its contract: schema and
 * migration, every query, the conflicts store.h promises, append-only in
 * the database itself, transactions (nested ones too) and the writer under
 * threads, group commit, durable commits (a process killed right after
 * commit() returned keeps its rows), and backup.  Each run works in a fresh directory under
 * /tmp, removed at the end.
 */
#include "check.h"
#include "cs_err.h"
#include "record_dicts.h"
#include "store.h"
#include "store_sqlite.h"
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define TYPE_A "11100000000013338W032"
#define TYPE_B "11100000000013338W009"
#define ISSUER "11220000013544541J"
#define HASH_HEX                                                             \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* A licence row with its own string storage. */
struct lic {
	char id[96], ref[64], record[160], number[64];
	cs_licence_row r;
};

static void
lic_make(struct lic *l, const char *type, int64_t seq, const char *holder,
    const char *client, int64_t issued_at, const char *bundle)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "1.2.156.3005.2.%s.%s.%lld.001.X", type,
	    ISSUER, (long long)seq);
	snprintf(l->ref, sizeof(l->ref), "REF-%s-%lld", type, (long long)seq);
	snprintf(l->record, sizeof(l->record), "{\"id\":\"%s\"}", l->id);
	l->r.id = l->id;
	l->r.type = (char *)type;
	l->r.issuer_code = ISSUER;
	l->r.seq = seq;
	l->r.holder_code = (char *)holder;
	/* Numbers are unique per type and issuer, like ids. */
	snprintf(l->number, sizeof(l->number), "粤环辐证[%05lld]",
	    (long long)seq);
	l->r.number = l->number;
	l->r.client = (char *)client;
	l->r.approval_ref = l->ref;
	l->r.request_hash = HASH_HEX;
	l->r.bundle = (char *)bundle;
	l->r.issued_at = issued_at;
	l->r.record = l->record;
}

/* A raw connection, as an operator's sqlite3 shell would have. */
static sqlite3 *
raw_open(const char *name)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(tpath(name), &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		fprintf(stderr, "raw open %s failed\n", name);
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *
raw_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Every licence of a holder, newest first: one page as long as needed. */
static int
by_holder(cs_store *s, const char *holder, const char *type,
    cs_licence_row ***rows, size_t *n)
{
	int64_t pos = 0;

	return cs_store_licences_by_holder(s, holder, type, &pos, 1000000, rows,
	    n);
}

/* --- schema ------------------------------------------------------------- */

/* --db names the backend: a PostgreSQL URI is refused with the reason
 * (not made into a SQLite file, and the URI's password is not repeated);
 * anything else is a SQLite file. */
TEST(open_dispatches_on_db)
{
	const char *uris[] = {"postgresql://certsvc:s3cret@db/certsvc",
	    "postgres://db/certsvc", "PostgreSQL://db/certsvc"};
	cs_store *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		s = (cs_store *)1;
		CHECK_INT_EQ(cs_store_open(uris[i], 20, &s), CS_EUNSUPPORTED);
		CHECK(s == NULL);
		CHECK_CONTAINS(cs_err_msg(), "PostgreSQL is not built in yet");
		CHECK(strstr(cs_err_msg(), "s3cret") == NULL);
	}
	CHECK(access("postgresql:", F_OK) != 0 && access("postgres:", F_OK) != 0);
	/* A file whose name merely begins like a scheme is SQLite's. */
	CHECK_INT_EQ(cs_store_open(tpath("postgres.db"), 0, &s), 0);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	CHECK(access(tpath("postgres.db"), F_OK) == 0);
	cs_store_close(NULL);
}

TEST(open_creates_schema)
{
	cs_store *s = open_store("schema.db");
	sqlite3 *db;
	char *mode;

	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	db = raw_open("schema.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name IN ('licences', 'status_events', "
	    "'bundles', 'clients', 'client_revocations', 'grants', 'audit', "
	    "'audit_keys', 'audit_chunks')"), 9);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'trigger'"), 19);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND name = 'licences_number'"), 1);
	/* No index on the audit table has random keys (schema version 4). */
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('audit_holder', 'audit_target', 'audit_target_tail')"), 0);
	/* journal_mode is stored in the file: WAL stays after close. */
	mode = raw_text(db, "PRAGMA journal_mode");
	CHECK_STR_EQ(mode, "wal");
	free(mode);
	CHECK_INT_EQ(raw_int(db, "PRAGMA page_size"), 16384);
	sqlite3_close(db);
}

TEST(reopen_keeps_data)
{
	cs_licence_row *got = NULL;
	struct lic l;
	cs_store *s = open_store("reopen.db");
	sqlite3 *db;
	int64_t n = 0;

	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	cs_store_close(s);
	s = open_store("reopen.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, l.record);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_licence_row_free(got);
	cs_store_close(s);
	db = raw_open("reopen.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	sqlite3_close(db);
}

/* Today's schema back to version 5: no number index or trigger
 * (version 6). */
#define UNDO_V6 "DROP TRIGGER licences_number_unique; " \
    "DROP INDEX licences_number;"

/* Back to version 4: no audit result column either (version 5). */
#define UNDO_V5 UNDO_V6 \
    "DROP INDEX audit_denied; ALTER TABLE audit DROP COLUMN result;"
static const char undo_v5[] = UNDO_V5;

/* Today's schema back to version 3: the audit table's holder and
 * target-tail indexes instead of audit_keys (version 4). */
static const char undo_v4[] = UNDO_V5
    "DROP TABLE audit_keys; DROP TABLE audit_chunks;"
    "CREATE INDEX audit_holder ON audit (holder) WHERE holder IS NOT NULL;"
    "CREATE INDEX audit_target_tail ON audit (substr(target, -12))"
    "  WHERE target IS NOT NULL;";

/* Close s, wind database name back to an older schema version with undo,
 * and open it again: the store migrates it (NULL when it cannot). */
static cs_store *
reopen_at(cs_store *s, const char *name, const char *undo, int version)
{
	char pragma[64];
	sqlite3 *db;

	cs_store_close(s);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version);
	db = raw_open(name);
	CHECK_INT_EQ(sqlite3_exec(db, undo, NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store(name);
	CHECK(s != NULL);
	return s;
}

/* Append the audit record of a read of target, result NULL (done) or
 * "denied". */
static void
append_read(cs_store *s, const char *target, const char *result)
{
	cs_audit_rec a;

	memset(&a, 0, sizeof(a));
	a.action = "read";
	a.target = (char *)target;
	a.result = (char *)result;
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
}

#define V4_TARGET "1.2.156.3005.2." TYPE_A "." ISSUER ".1.001.X"

/* A version 4 database is migrated on open: its records read as done
 * (result NULL), ?result=ok finds them, and a denied record appended
 * after is found by ?result=denied alone. */
TEST(migrate_v4_denied)
{
	cs_store *s = open_store("v4.db");
	cs_audit_rec **recs = NULL;
	cs_audit_filter f;
	size_t n = 0;

	append_read(s, V4_TARGET, NULL);
	if ((s = reopen_at(s, "v4.db", undo_v5, 4)) == NULL)
		return;
	append_read(s, V4_TARGET, "denied");
	memset(&f, 0, sizeof(f));
	f.result = "ok";
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK(recs[0]->result == NULL && recs[0]->seq == 1);
	cs_audit_recs_free(recs, n);
	f.result = "denied";
	f.target = V4_TARGET;
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK_STR_EQ(recs[0]->result, "denied");
	cs_audit_recs_free(recs, n);
	cs_store_close(s);
}

/* A version 1 database (its audit index on the whole target) is migrated
 * on open through every later version, its rows kept; the audit query by
 * target finds its record by the whole target. */
TEST(migrate_v1)
{
	cs_audit_rec **recs = NULL;
	cs_audit_filter f;
	cs_store *s = open_store("v1.db");
	sqlite3 *db;
	size_t n = 0;

	append_read(s, "1.2.156.3005.2." TYPE_A "." ISSUER ".ABCDEFGH.001.X", NULL);
	append_read(s, "1.2.156.3005.2." TYPE_A "." ISSUER ".ABCDEFGH.002.X", NULL);
	cs_store_close(s);
	db = raw_open("v1.db");
	/* Back to version 1: undo versions 5 and 4, 3 (the clients
	 * triggers), 2. */
	CHECK_INT_EQ(sqlite3_exec(db, undo_v4, NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(db, "DROP TRIGGER clients_no_update;"
	    "DROP TRIGGER clients_no_delete;"
	    "DROP INDEX audit_target_tail;"
	    "CREATE INDEX audit_target ON audit (target) WHERE target IS NOT NULL;"
	    "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_store("v1.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	db = raw_open("v1.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'trigger' AND tbl_name = 'clients'"), 2);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('audit_target', 'audit_target_tail', 'audit_holder')"), 0);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'audit_keys'"), 1);
	sqlite3_close(db);
	/* The two targets share their last 12 characters but one: the tail
	 * narrows, the whole comparison decides. */
	memset(&f, 0, sizeof(f));
	f.target = "1.2.156.3005.2." TYPE_A "." ISSUER ".ABCDEFGH.002.X";
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK_STR_EQ(recs[0]->target, f.target);
	cs_audit_recs_free(recs, n);
	cs_store_close(s);
}

TEST(newer_schema_refused)
{
	cs_store *s = open_store("newer.db");
	sqlite3 *db;
	int rc;

	cs_store_close(s);
	db = raw_open("newer.db");
	CHECK_INT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	rc = cs_store_open_sqlite(tpath("newer.db"), &s);
	CHECK_INT_EQ(rc, CS_ESTORE);
	CHECK(s == NULL);
	CHECK_CONTAINS(cs_err_msg(), "newer");
}

/* --- licences ----------------------------------------------------------- */

TEST(licences)
{
	const char *h = "91350100M000100Y43", *h2 = "91440300708461136T";
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic a, b, c, d, dup;
	cs_store *s = open_store("lic.db");
	int64_t v = 0;
	size_t n = 0;

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
	CHECK_CONTAINS(cs_err_msg(), "store: insert licence: UNIQUE constraint "
	    "failed");
	/* Other id, same (client, approval_ref): conflict too. */
	lic_make(&dup, TYPE_A, 99, h, "ems", 5000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "%s", a.ref);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), "approval_ref");
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

/* A record shaped like the domain's (SPEC §1, as issue.c writes it). */
static void
record_make(char *buf, size_t len, const char *id)
{
	char token[481];

	token_like(token);
	snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"" TYPE_A "\","
	    "\"type_name\":\"辐射安全许可证\",\"number\":\"粤环辐证[00123]\","
	    "\"holder\":{\"name\":\"深圳市某某医疗器械有限公司\",\"code_type\":"
	    "\"USCC\",\"code\":\"91350100M000100Y43\"},\"issuer\":{\"name\":"
	    "\"广东省生态环境厅\",\"code\":\"" ISSUER "\"},\"issued_at\":"
	    "\"2025-05-22T08:30:00Z\",\"valid_from\":\"2025-05-22\","
	    "\"valid_until\":\"2030-05-21\",\"fields\":{\"address\":"
	    "\"深圳市南山区科技园南区某某路123号\",\"scope\":\"使用II类、III类射线装置\"},"
	    "\"approval_ref\":\"SP-1\",\"bundle\":null,\"supersedes\":null,"
	    "\"kid\":\"abababababababab\",\"alg\":\"ES256\",\"token\":\"%s\"}",
	    id, token);
}

/* Insert a licence row by hand with the given record value (SQL). */
static int
raw_put(sqlite3 *db, const char *id, const char *record_sql)
{
	char sql[512];

	/* Its own number: numbers are unique per type and issuer. */
	snprintf(sql, sizeof(sql), "INSERT INTO licences VALUES ('%s', 't', "
	    "'i', 1, 'h', '%s', 'raw', NULL, 'x', NULL, NULL, 1, %s)", id, id,
	    record_sql);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}


/* A zlib stream of text deflated with dictionary dict, as SQL blob
 * literal. */
static void
dict_blob(const char *dict, const char *text, char *sql, size_t len)
{
	unsigned char out[256];
	z_stream z;
	size_t i, n;

	memset(&z, 0, sizeof(z));
	deflateInit(&z, 6);
	deflateSetDictionary(&z, (const Bytef *)dict, (uInt)strlen(dict));
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = out;
	z.avail_out = sizeof(out);
	deflate(&z, Z_FINISH);
	n = z.total_out;
	deflateEnd(&z);
	snprintf(sql, len, "x'");
	for (i = 0; i < n; i++)
		snprintf(sql + 2 + 2 * i, len - 2 - 2 * i, "%02x", out[i]);
	snprintf(sql + 2 + 2 * n, len - 2 - 2 * n, "'");
}

/* The same with a dictionary the store does not know. */
static void
foreign_dict_blob(const char *text, char *sql, size_t len)
{
	dict_blob("some other dictionary", text, sql, len);
}

TEST(records)
{
	static char big[2048];
	cs_licence_row *got = NULL;
	struct lic l, tiny;
	char blob[600];
	cs_store *s = open_store("records.db");
	sqlite3 *db;

	/* A real-sized record is stored compressed (a zstd frame,
	 * zrecord.h), and comes back exact. */
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	record_make(big, sizeof(big), l.id);
	l.r.record = big;
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, big);
	cs_licence_row_free(got);
	/* One that would not shrink is stored as it is. */
	lic_make(&tiny, TYPE_A, 2, "91350100M000100Y43", "ems", 1000, NULL);
	tiny.r.record = "{}";
	CHECK_INT_EQ(cs_store_licence_put(s, &tiny.r), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, tiny.id, &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, "{}");
	cs_licence_row_free(got);

	db = raw_open("records.db");
	CHECK_INT_EQ(raw_int(db, "SELECT typeof(record) = 'blob' AND "
	    "length(record) < 850 FROM licences WHERE seq = 1"), 1);
	CHECK_INT_EQ(raw_int(db, "SELECT hex(substr(record, 1, 4)) = "
	    "'28B52FFD' FROM licences WHERE seq = 1"), 1);
	CHECK(strlen(big) > 1100);
	CHECK_INT_EQ(raw_int(db, "SELECT typeof(record) = 'text' FROM "
	    "licences WHERE seq = 2"), 1);
	/* The request hash is kept as its 32 bytes; older hex text and
	 * anything else read back as written (T-1 below: "x"). */
	CHECK_INT_EQ(raw_int(db, "SELECT typeof(request_hash) = 'blob' AND "
	    "length(request_hash) = 32 FROM licences WHERE seq = 1"), 1);
	CHECK_INT_EQ(sqlite3_exec(db, "INSERT INTO licences VALUES ('T-0', 't', "
	    "'i', 1, 'h', 'n', 'raw', NULL, '" HASH_HEX "', NULL, NULL, 1, '{}')",
	    NULL, NULL, NULL), SQLITE_OK);
	/* Text written by hand reads back; so does a plain zlib stream. */
	CHECK_INT_EQ(raw_put(db, "T-1", "'{\"hand\":1}'"), SQLITE_OK);
	CHECK_INT_EQ(raw_put(db, "T-2", "x'789ccb48cc4b0700040a019f'"),
	    SQLITE_OK);
	/* Corrupt, truncated, or deflated with an unknown dictionary. */
	CHECK_INT_EQ(raw_put(db, "T-3", "x'789c0102030405'"), SQLITE_OK);
	CHECK_INT_EQ(raw_put(db, "T-4", "x'789ccb48cc4b'"), SQLITE_OK);
	foreign_dict_blob("{\"x\":1}", blob, sizeof(blob));
	CHECK_INT_EQ(raw_put(db, "T-5", blob), SQLITE_OK);
	/* A record written with the first dictionary. */
	dict_blob(frozen_dict_v1, "{\"id\":\"1.2.156.3005.2.X\",\"type\":\"\"}",
	    blob, sizeof(blob));
	CHECK_INT_EQ(raw_put(db, "T-6", blob), SQLITE_OK);
	sqlite3_close(db);
	CHECK_INT_EQ(cs_store_licence_get(s, "T-6", &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL,
	    "{\"id\":\"1.2.156.3005.2.X\",\"type\":\"\"}");
	cs_licence_row_free(got);

	CHECK_INT_EQ(cs_store_licence_get(s, "T-0", &got), 0);
	CHECK_STR_EQ(got ? got->request_hash : NULL, HASH_HEX);
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_get(s, "T-1", &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, "{\"hand\":1}");
	CHECK_STR_EQ(got ? got->request_hash : NULL, "x");
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_get(s, "T-2", &got), 0);
	CHECK_STR_EQ(got ? got->record : NULL, "hang");
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_get(s, "T-3", &got), CS_ESTORE);
	CHECK_CONTAINS(cs_err_msg(), "does not inflate");
	CHECK_INT_EQ(cs_store_licence_get(s, "T-4", &got), CS_ESTORE);
	CHECK_INT_EQ(cs_store_licence_get(s, "T-5", &got), CS_ESTORE);
	CHECK_CONTAINS(cs_err_msg(), "unknown dictionary");
	CHECK(got == NULL);

	/* Nothing is written that could not be read back. */
	lic_make(&tiny, TYPE_A, 3, "91350100M000100Y43", "ems", 1000, NULL);
	if ((tiny.r.record = malloc((1 << 20) + 2)) != NULL) {
		memset(tiny.r.record, ' ', (1 << 20) + 1);
		tiny.r.record[(1 << 20) + 1] = '\0';
		CHECK_INT_EQ(cs_store_licence_put(s, &tiny.r), CS_ETOOBIG);
		free(tiny.r.record);
	}
	cs_store_close(s);
}

/* --- licence numbers ---------------------------------------------------- */

#define HOLDER_1 "91350100M000100Y43"

/* A number once stored is its licence's (the database refuses it to
 * another): another licence of the type and issuer cannot carry it, not
 * even inserted by hand; the licence's next version keeps it; the lookup by number finds
 * that newest version. */
TEST(licence_numbers)
{
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic a, a2, b;
	cs_store *s = open_store("numbers.db");
	sqlite3 *db;
	size_t n = 0;
	int taken = -1;

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
	db = raw_open("numbers.db");
	CHECK_INT_EQ(sqlite3_exec(db, "INSERT INTO licences VALUES ('1.2.156."
	    "3005.2." TYPE_A "." ISSUER ".9.001.X', '" TYPE_A "', '" ISSUER "', "
	    "9, 'h', '粤环辐证[00001]', 'raw', NULL, 'x', NULL, NULL, 1, '{}')",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	sqlite3_close(db);

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

/* A database from before version 6 that gave one number to two licences
 * opens: both keep their rows, nothing is added, the lookup by number sees
 * both (so the paper-copy check picks neither), and no new licence can
 * take the number.  Nor can a new version of either keep it (another
 * serial carries it): it needs a new number. */
TEST(migrate_v4_duplicate_numbers)
{
	cs_licence_row **rows = NULL;
	struct lic a, b, dup2;
	cs_store *s = open_store("dups.db");
	sqlite3 *db;
	size_t n = 0;
	int taken = -1;

	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	lic_make(&b, TYPE_A, 2, HOLDER_1, "ems", 2000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &b.r), 0);
	cs_store_close(s);
	db = raw_open("dups.db");
	CHECK_INT_EQ(sqlite3_exec(db, UNDO_V5 "PRAGMA user_version = 4;"
	    "INSERT INTO licences SELECT '1.2.156.3005.2.' || type || '.' || "
	    "issuer_code || '.3.001.X', type, issuer_code, 3, holder_code, "
	    "number, client, 'REF-dup', request_hash, NULL, NULL, 3000, record "
	    "FROM licences WHERE seq = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_store("dups.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	db = raw_open("dups.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM licences"), 3);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM licences WHERE "
	    "number = (SELECT number FROM licences WHERE seq = 1)"), 2);
	sqlite3_close(db);
	CHECK_INT_EQ(cs_store_licences_by_number(s, a.number, HOLDER_1, &rows,
	    &n), 0);
	CHECK_INT_EQ(n, 2);
	CHECK_STR_EQ(n == 2 ? rows[0]->id : NULL, a.id);
	CHECK_STR_EQ(n == 2 ? rows[1]->id : NULL, "1.2.156.3005.2." TYPE_A "."
	    ISSUER ".3.001.X");
	cs_licence_rows_free(rows, n);

	/* Version 2 of serial 3 keeping the number: refused, nothing stored;
	 * with a number of its own it is stored. */
	CHECK_INT_EQ(cs_store_licence_number_taken(s, TYPE_A, ISSUER, a.number,
	    "3", &taken), 0);
	CHECK_INT_EQ(taken, 1);
	lic_make(&dup2, TYPE_A, 4, HOLDER_1, "ems", 4000, NULL);
	snprintf(dup2.id, sizeof(dup2.id), "1.2.156.3005.2.%s.%s.3.002.X",
	    TYPE_A, ISSUER);
	snprintf(dup2.number, sizeof(dup2.number), "%s", a.number);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup2.r), CS_ECONFLICT);
	lic_make(&dup2, TYPE_A, 4, HOLDER_1, "ems", 4000, NULL);
	snprintf(dup2.id, sizeof(dup2.id), "1.2.156.3005.2.%s.%s.3.002.X",
	    TYPE_A, ISSUER);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup2.r), 0);

	/* A new licence with it: taken, and refused. */
	lic_make(&dup2, TYPE_A, 5, HOLDER_1, "ems", 5000, NULL);
	snprintf(dup2.number, sizeof(dup2.number), "%s", a.number);
	CHECK_INT_EQ(cs_store_licence_number_taken(s, TYPE_A, ISSUER, a.number,
	    "5", &taken), 0);
	CHECK_INT_EQ(taken, 1);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup2.r), CS_ECONFLICT);

	/* Both licences are still found by the number, serial 3 by the
	 * version that carries it. */
	CHECK_INT_EQ(cs_store_licences_by_number(s, a.number, HOLDER_1, &rows,
	    &n), 0);
	CHECK_INT_EQ(n, 2);
	cs_licence_rows_free(rows, n);
	cs_store_close(s);
}

/* --- events, bundles ---------------------------------------------------- */

TEST(events)
{
	cs_event e, **evs = NULL;
	struct lic l;
	cs_store *s = open_store("events.db");
	size_t n = 0;

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

TEST(bundles)
{
	cs_bundle_row b, *got = NULL;
	cs_store *s = open_store("bundles.db");

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

/* --- clients ------------------------------------------------------------ */

static void
client_make(cs_client *c, const char *name, const char *role, uint8_t fill)
{
	memset(c, 0, sizeof(*c));
	c->name = (char *)name;
	c->role = (char *)role;
	memset(c->token_hash, fill, sizeof(c->token_hash));
	c->created_at = 100 + fill;
}

TEST(clients)
{
	cs_client a, b, *got = NULL, **all = NULL;
	cs_grant g1 = { "*", NULL, NULL };
	cs_grant g2 = { TYPE_A "," TYPE_B, ISSUER, "生态环境厅" };
	cs_grant g3 = { TYPE_A, "91440300708461136T", "卫生健康委" };
	uint8_t h[32];
	cs_store *s = open_store("clients.db");
	size_t n = 0;

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
	cs_store *s = open_store("revoke.db");

	client_make(&a, "ems", "issuer", 0x11);
	client_make(&b, "partner", "reader", 0x22);
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &b), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got), 0);
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 7000), 0);
	cs_store_close(s);

	s = open_store("revoke.db");
	CHECK(s != NULL);
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
 * A version 2 database (clients without append-only triggers) is migrated
 * on open and keeps its clients, grants and revocations.  Version 3 only
 * adds the two triggers, so a version 2 file is today's schema back at
 * version 3 without them, at user_version 2; a raw UPDATE succeeding on it
 * shows that it really is the old schema.
 */
TEST(migrate_v2)
{
	cs_grant g = { TYPE_A, ISSUER, "生态环境厅" };
	cs_client a, b, *got = NULL;
	cs_store *s = open_store("v2.db");
	sqlite3 *db;

	client_make(&a, "ems", "issuer", 0x41);
	client_make(&b, "partner", "reader", 0x52);
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &b), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g), 0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "partner", 8000), 0);
	cs_store_close(s);
	db = raw_open("v2.db");
	CHECK_INT_EQ(sqlite3_exec(db, undo_v4, NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(db, "DROP TRIGGER clients_no_update;"
	    "DROP TRIGGER clients_no_delete;"
	    "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(db, "BEGIN; UPDATE clients SET created_at = 1;"
	    "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_store("v2.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	db = raw_open("v2.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'trigger' AND tbl_name = 'clients'"), 2);
	CHECK_INT_EQ(sqlite3_exec(db, "UPDATE clients SET role = 'admin'",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	CHECK_CONTAINS(sqlite3_errmsg(db), "clients is append-only");
	CHECK_INT_EQ(sqlite3_exec(db, "DELETE FROM clients", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM clients"), 2);
	sqlite3_close(db);

	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got), 0);
	if (got != NULL) {
		CHECK_STR_EQ(got->role, "issuer");
		CHECK_INT_EQ(got->n_grants, 1);
		CHECK_STR_EQ(got->n_grants ? got->grants[0].issuer_code : NULL,
		    ISSUER);
	}
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, b.token_hash, &got),
	    CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_client_get(s, "partner", &got), 0);
	CHECK_INT_EQ(got ? got->revoked_at : 0, 8000);
	cs_client_free(got);
	/* Still writable where it should be: revocation and grants append. */
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g), 0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 9000), 0);
	CHECK_INT_EQ(cs_store_client_by_token_hash(s, a.token_hash, &got),
	    CS_ENOTFOUND);
	cs_store_close(s);
}

/* --- audit -------------------------------------------------------------- */

static int
audit_n(cs_store *s, const cs_audit_filter *f, int64_t *first)
{
	cs_audit_rec **r = NULL;
	size_t n = 0;
	int rc = cs_store_audit_query(s, f, &r, &n);

	if (rc != 0)
		return -1;
	if (first != NULL)
		*first = n ? r[0]->seq : 0;
	cs_audit_recs_free(r, n);
	return (int)n;
}

TEST(audit)
{
	static const char *const actions[] = { "issue", "read",
		"holder_lookup" };
	cs_audit_rec a, **recs = NULL;
	cs_audit_filter f;
	cs_store *s = open_store("audit.db");
	int64_t first, last = 0;
	size_t n = 0;
	int i;

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
	cs_store_close(s);
}

/*
 * Holder and target keys in chunks of 16,384 records (schema version 4).
 * Record i (seq i + 1 in a new store) has holder i % 7 and target i % 11;
 * targets 2k and 2k + 1 share their last 12 characters, so only the whole
 * comparison tells them apart.
 */
#define CHUNK_RECS 16384

static void
holder_of(int k, char out[32])
{
	snprintf(out, 32, "91350100M0001%05d", k);
}

static void
target_of(int k, char out[64])
{
	snprintf(out, 64, "%c.1.2.156.3005.2.ABCDEFGH.%03d.X", 'a' + k % 2,
	    k / 2);
}

static void
chunk_fill(cs_store *s, int from, int to)
{
	char holder[32], target[64];
	cs_audit_rec a;
	int i;

	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = from; i < to; i++) {
		holder_of(i % 7, holder);
		target_of(i % 11, target);
		memset(&a, 0, sizeof(a));
		a.at_ms = 1000 + i;
		a.client = i % 2 ? "ems" : "partner";
		a.action = "read";
		a.holder = i % 13 == 0 ? NULL : holder;
		a.target = target;
		if (cs_store_audit_append(s, &a) != 0)
			break;
	}
	CHECK_INT_EQ(i, to);
	CHECK_INT_EQ(cs_store_commit(s), 0);
}

/* Page through f 1000 at a time: every record once, in order, and each
 * one matching (record i is seq i + 1).  Returns how many. */
static int
chunk_count(cs_store *s, cs_audit_filter f, int hk, int tk)
{
	cs_audit_rec **r = NULL;
	size_t n = 0, j;
	int64_t last = 0, i;
	int total = 0, bad = 0;

	f.limit = 1000;
	do {
		f.after_seq = last;
		if (cs_store_audit_query(s, &f, &r, &n) != 0)
			return -1;
		for (j = 0; j < n; j++) {
			i = r[j]->seq - 1;
			bad += r[j]->seq <= last || (hk >= 0 &&
			    (i % 7 != hk || i % 13 == 0)) ||
			    (tk >= 0 && i % 11 != tk) ||
			    (f.client && strcmp(r[j]->client, f.client) != 0);
			last = r[j]->seq;
		}
		total += (int)n;
		cs_audit_recs_free(r, n);
	} while (n > 0);
	CHECK_INT_EQ(bad, 0);
	return total;
}

/* What chunk_count should find among records 0..n-1. */
static int
chunk_expect(int n, int hk, int tk, int odd_only)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += (hk < 0 || (i % 7 == hk && i % 13 != 0)) &&
		    (tk < 0 || i % 11 == tk) && (!odd_only || i % 2);
	return c;
}

static void
chunk_queries(cs_store *s, int n)
{
	char holder[32], target[64];
	cs_audit_filter f;
	int k;

	for (k = 0; k < 11; k++) {
		memset(&f, 0, sizeof(f));
		holder_of(k % 7, holder);
		target_of(k, target);
		f.target = target;
		CHECK_INT_EQ(chunk_count(s, f, -1, k), chunk_expect(n, -1, k, 0));
		f.holder = holder;
		CHECK_INT_EQ(chunk_count(s, f, k % 7, k),
		    chunk_expect(n, k % 7, k, 0));
		f.target = NULL;
		CHECK_INT_EQ(chunk_count(s, f, k % 7, -1),
		    chunk_expect(n, k % 7, -1, 0));
		f.client = "ems";
		CHECK_INT_EQ(chunk_count(s, f, k % 7, -1),
		    chunk_expect(n, k % 7, -1, 1));
	}
}

TEST(audit_chunks)
{
	cs_store *s = open_store("chunks.db");
	char holder[32];
	cs_audit_filter f;
	sqlite3 *db;
	int n = 2 * CHUNK_RECS + 7000;

	/* Chunks 0 and 1 fill up inside the transaction and are keyed. */
	chunk_fill(s, 0, n);
	db = raw_open("chunks.db");
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM audit_chunks"), 2);
	/* Records 0..32766: each has a target, all but every 13th a holder. */
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM audit_keys"),
	    2 * (2 * CHUNK_RECS - 1) - (2 * CHUNK_RECS - 1 + 12) / 13);
	sqlite3_close(db);
	chunk_queries(s, n);

	/* A version 3 database is keyed when it is opened. */
	if ((s = reopen_at(s, "chunks.db", undo_v4, 3)) == NULL)
		return;
	db = raw_open("chunks.db");
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM audit_chunks"), 2);
	sqlite3_close(db);
	chunk_queries(s, n);

	/* Appending past the next boundary: the append that opens chunk 3
	 * keys chunk 2. */
	chunk_fill(s, n, 3 * CHUNK_RECS + 10);
	n = 3 * CHUNK_RECS + 10;
	db = raw_open("chunks.db");
	CHECK_INT_EQ(raw_int(db, "SELECT max(chunk) FROM audit_chunks"), 2);
	CHECK_INT_EQ(sqlite3_exec(db, "DELETE FROM audit_keys", NULL, NULL,
	    NULL), SQLITE_CONSTRAINT);
	sqlite3_close(db);
	chunk_queries(s, n);

	/* The keys are what finds the records of keyed chunks: without
	 * chunk 0's, its records are no longer found, the others still are. */
	cs_store_close(s);
	db = raw_open("chunks.db");
	CHECK_INT_EQ(sqlite3_exec(db, "DROP TRIGGER audit_keys_no_delete;"
	    "DELETE FROM audit_keys WHERE chunk = 0", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	s = open_store("chunks.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	memset(&f, 0, sizeof(f));
	holder_of(3, holder);
	f.holder = holder;
	CHECK_INT_EQ(chunk_count(s, f, 3, -1), chunk_expect(n, 3, -1, 0) -
	    chunk_expect(CHUNK_RECS - 1, 3, -1, 0));
	cs_store_close(s);
}

/* --- append-only -------------------------------------------------------- */

TEST(append_only)
{
	static const char *const tables[] = { "licences", "status_events",
		"bundles", "clients", "client_revocations", "grants", "audit" };
	static const char *const sets[] = { "number = 'x'", "actor = 'x'",
		"client = 'x'", "token_hash = zeroblob(32)", "at = 0",
		"types = '*'", "result_count = 0" };
	cs_client c;
	cs_bundle_row b = { "B-1", "ems", "R", HASH_HEX, 1 };
	cs_audit_rec a;
	cs_event e;
	struct lic l;
	char sql[128];
	cs_store *s = open_store("append.db");
	sqlite3 *db;
	size_t i;

	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	client_make(&c, "ems", "issuer", 1);
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &(cs_grant){ "*", NULL, NULL }),
	    0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 9), 0);
	memset(&a, 0, sizeof(a));
	a.action = "read";
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);

	/* With the store still open, as an operator's shell would be. */
	db = raw_open("append.db");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "UPDATE %s SET %s", tables[i],
		    sets[i]);
		CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_CONSTRAINT);
		CHECK_CONTAINS(sqlite3_errmsg(db), "append-only");
		snprintf(sql, sizeof(sql), "DELETE FROM %s", tables[i]);
		CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_CONSTRAINT);
		CHECK_CONTAINS(sqlite3_errmsg(db), "append-only");
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		CHECK_INT_EQ(raw_int(db, sql), 1);
	}
	sqlite3_close(db);
	cs_store_close(s);
}

/* --- transactions ------------------------------------------------------- */

struct peek {
	cs_store *s;
	const char *id;
	int get_rc;
	int64_t count;
};

static void *
peek_main(void *arg)
{
	struct peek *p = arg;
	cs_licence_row *r = NULL;

	p->get_rc = cs_store_licence_get(p->s, p->id, &r);
	cs_licence_row_free(r);
	cs_store_licence_count(p->s, &p->count);
	return NULL;
}

/* The licence cache (store_sqlite.c) keeps committed rows only: a row
 * read inside a transaction that rolls back is gone with it, and its id
 * may be written again with another record. */
TEST(licence_cache)
{
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic l, again;
	size_t n = 0;
	int i;
	cs_store *s = open_store("cache.db");

	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	cs_licence_row_free(got);
	CHECK_INT_EQ(by_holder(s, "91350100M000100Y43", NULL,
	    &rows, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), CS_ENOTFOUND);

	lic_make(&again, TYPE_A, 1, "91350100M000200Y43", "ems", 2000, NULL);
	snprintf(again.record, sizeof(again.record), "{\"id\":\"%s\",\"v\":2}",
	    again.id);
	CHECK_INT_EQ(cs_store_licence_put(s, &again.r), 0);
	/* The second read of each is answered from the cache: the same. */
	for (i = 0; i < 2; i++) {
		CHECK_INT_EQ(cs_store_licence_get(s, again.id, &got), 0);
		CHECK_STR_EQ(got ? got->record : NULL, again.record);
		CHECK_STR_EQ(got ? got->holder_code : NULL, "91350100M000200Y43");
		CHECK_STR_EQ(got ? got->request_hash : NULL, HASH_HEX);
		cs_licence_row_free(got);
		CHECK_INT_EQ(by_holder(s, "91350100M000200Y43",
		    NULL, &rows, &n), 0);
		CHECK_INT_EQ(n, 1);
		CHECK_STR_EQ(n ? rows[0]->record : NULL, again.record);
		cs_licence_rows_free(rows, n);
		CHECK_INT_EQ(by_holder(s, "91350100M000100Y43",
		    NULL, &rows, &n), 0);
		CHECK_INT_EQ(n, 0);
		cs_licence_rows_free(rows, n);
	}
	cs_store_close(s);
}

TEST(transactions)
{
	cs_licence_row *got = NULL;
	cs_audit_rec a;
	cs_event e;
	struct lic l;
	struct peek p;
	pthread_t t;
	cs_store *s = open_store("tx.db");
	int64_t v = -1;

	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);
	cs_err_set(CS_EIO, "earlier failure");
	CHECK_INT_EQ(cs_store_rollback(s), 0); /* nothing to roll back */
	CHECK_STR_EQ(cs_err_msg(), "earlier failure");

	CHECK_INT_EQ(cs_store_begin(s), 0);
	/* A begin inside a transaction opens a nested level (see nesting). */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	memset(&a, 0, sizeof(a));
	a.action = "issue";
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	/* The transaction sees its own writes... */
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	/* ...a conflict inside it fails that call only... */
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), CS_ECONFLICT);
	/* ...and another thread sees none of them. */
	p.s = s;
	p.id = l.id;
	p.count = -1;
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, CS_ENOTFOUND);
	CHECK_INT_EQ(p.count, 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);

	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_licence_count(s, &v), 0);
	CHECK_INT_EQ(v, 0);
	CHECK_INT_EQ(audit_n(s, &(cs_audit_filter){ 0 }, NULL), 0);
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);

	/* Committed, the other thread sees it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, 0);
	CHECK_INT_EQ(p.count, 1);
	cs_store_close(s);
}

/* A thread that dies inside its transaction. */
static void *
abandon_main(void *arg)
{
	cs_store *s = arg;
	struct lic l;

	lic_make(&l, TYPE_B, 1, "91350100M000100Y43", "ems", 1, NULL);
	if (cs_store_begin(s) == 0)
		cs_store_licence_put(s, &l.r);
	return NULL;
}

TEST(abandoned_transaction)
{
	cs_licence_row *got = NULL;
	cs_store *s = open_store("abandon.db");
	pthread_t t;
	int64_t n = -1;

	pthread_create(&t, NULL, abandon_main, s);
	pthread_join(t, NULL);
	/* Rolled back at its exit, and the writer is free again. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* Its slot (and reader) serve the next thread without confusion. */
	pthread_create(&t, NULL, abandon_main, s);
	pthread_join(t, NULL);
	CHECK_INT_EQ(cs_store_licence_get(s, "1.2.156.3005.2." TYPE_B "."
	    ISSUER ".1.001.X", &got), CS_ENOTFOUND);
	cs_store_close(s);
}

/* --- threads ------------------------------------------------------------ */

#define WRITERS 8
#define PER_WRITER 200
#define READERS 2
#define AUDITS 100

struct worker {
	cs_store *s;
	int idx;
	int64_t seqs[PER_WRITER];
	int errors;
	long reads;
};

static atomic_int writers_done;

static void *
writer_main(void *arg)
{
	struct worker *w = arg;
	struct lic l;
	char holder[32];
	int64_t seq;
	int i, rc;

	snprintf(holder, sizeof(holder), "HOLDER-%d", w->idx);
	for (i = 0; i < PER_WRITER; i++) {
		seq = 0;
		if ((rc = cs_store_begin(w->s)) == 0 &&
		    (rc = cs_store_licence_next_seq(w->s, TYPE_A, ISSUER,
		    &seq)) == 0) {
			lic_make(&l, TYPE_A, seq, holder, "ems", 1000 + i, NULL);
			rc = cs_store_licence_put(w->s, &l.r);
		}
		if (rc == 0)
			rc = cs_store_commit(w->s);
		else
			cs_store_rollback(w->s);
		if (rc != 0) {
			fprintf(stderr, "writer %d: %s\n", w->idx, cs_err_msg());
			w->errors++;
		} else
			w->seqs[i] = seq;
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/* Reads outside any transaction while the writers run: never an error,
 * and a count that only grows. */
static void *
reader_main(void *arg)
{
	struct worker *w = arg;
	cs_licence_row *r = NULL, **rows = NULL;
	int64_t n, prev = 0;
	size_t k = 0;

	while (atomic_load(&writers_done) < WRITERS) {
		if (cs_store_licence_count(w->s, &n) != 0 || n < prev)
			w->errors++;
		prev = n;
		if (by_holder(w->s, "HOLDER-3", NULL, &rows,
		    &k) != 0)
			w->errors++;
		cs_licence_rows_free(rows, k);
		if (n > 0 && cs_store_licence_get(w->s,
		    "1.2.156.3005.2." TYPE_A "." ISSUER ".1.001.X", &r) != 0)
			w->errors++;
		cs_licence_row_free(r);
		r = NULL;
		w->reads++;
	}
	return NULL;
}

/* Writes outside a transaction: each is its own, queued on the writer. */
static void *
auditor_main(void *arg)
{
	struct worker *w = arg;
	cs_audit_rec a;
	int i;

	memset(&a, 0, sizeof(a));
	a.action = "read";
	for (i = 0; i < AUDITS; i++)
		if (cs_store_audit_append(w->s, &a) != 0)
			w->errors++;
	return NULL;
}

TEST(threads)
{
	static struct worker w[WRITERS + READERS + 1];
	static unsigned char seen[WRITERS * PER_WRITER + 1];
	pthread_t t[WRITERS + READERS + 1];
	cs_audit_filter f;
	cs_store *s = open_store("threads.db");
	int64_t n = 0;
	int i, j, dups = 0, errors = 0;

	atomic_store(&writers_done, 0);
	for (i = 0; i < WRITERS + READERS + 1; i++) {
		w[i].s = s;
		w[i].idx = i;
		pthread_create(&t[i], NULL, i < WRITERS ? writer_main :
		    i < WRITERS + READERS ? reader_main : auditor_main, &w[i]);
	}
	for (i = 0; i < WRITERS + READERS + 1; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	CHECK_INT_EQ(errors, 0);
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < PER_WRITER; j++) {
			n = w[i].seqs[j];
			if (n < 1 || n > WRITERS * PER_WRITER || seen[n]++)
				dups++;
		}
	CHECK_INT_EQ(dups, 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, WRITERS * PER_WRITER);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &n), 0);
	CHECK_INT_EQ(n, WRITERS * PER_WRITER + 1);
	CHECK(w[WRITERS].reads > 0 && w[WRITERS + 1].reads > 0);
	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	CHECK_INT_EQ(audit_n(s, &f, NULL), AUDITS);
	cs_store_close(s);
}

/* --- nesting ------------------------------------------------------------ */

static int
has_licence(cs_store *s, const char *id)
{
	cs_licence_row *r = NULL;
	int rc = cs_store_licence_get(s, id, &r);

	cs_licence_row_free(r);
	return rc == 0;
}

TEST(nesting)
{
	struct lic l[7];
	struct peek p;
	pthread_t t;
	cs_store *s = open_store("nest.db");
	int64_t n = -1;
	int i;

	for (i = 0; i < 7; i++)
		lic_make(&l[i], TYPE_A, i + 1, "91350100M000100Y43", "ems",
		    1000 + i, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[0].r), 0);
	/* An inner level committed stays in the outer transaction... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[1].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* ...an inner level rolled back is undone alone... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[2].r), 0);
	CHECK(has_licence(s, l[2].id));
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[2].id));
	CHECK(has_licence(s, l[0].id) && has_licence(s, l[1].id));
	/* ...with everything inside it, three levels deep... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[3].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[3].id));
	/* ...a conflict in an inner level leaves the outer one usable... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[0].r), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[4].r), 0);
	/* ...and nothing is visible elsewhere before the outermost commit. */
	p.s = s;
	p.id = l[0].id;
	p.count = -1;
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, CS_ENOTFOUND);
	CHECK_INT_EQ(p.count, 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, 0);
	CHECK_INT_EQ(p.count, 3);  /* l[0], l[1], l[4] */
	CHECK(has_licence(s, l[4].id) && !has_licence(s, l[3].id));

	/* The outermost rollback undoes the inner levels committed in it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[5].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[5].id));
	/* A write call inside a level belongs to it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[6].r), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(!has_licence(s, l[6].id));
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 3);
	cs_store_close(s);
}

/* --- group commit ------------------------------------------------------- */

#define GC_THREADS 16
#define GC_PER 40

struct gc_worker {
	cs_store *s;
	int idx;
	int fail_every;      /* every n-th transaction fails and rolls back */
	int committed, failed, errors;
};

static void
gc_lic(struct lic *l, int idx, int i)
{
	lic_make(l, TYPE_A, 100000 + idx * 1000 + i, "91350100M000100Y43",
	    "ems", 1, NULL);
}

/* Transactions of a licence and an audit record; every fail_every-th one
 * also meets a conflict and is rolled back, while the others go on. */
static void *
gc_main(void *arg)
{
	struct gc_worker *w = arg;
	cs_store *s = w->s;
	struct lic l, dup;
	cs_audit_rec a;
	int i, rc, fail;

	memset(&a, 0, sizeof(a));
	a.action = "issue";
	for (i = 0; i < GC_PER; i++) {
		gc_lic(&l, w->idx, i);
		fail = w->fail_every > 0 && i % w->fail_every == 0;
		if ((rc = cs_store_begin(s)) != 0) {
			w->errors++;
			continue;
		}
		rc = cs_store_licence_put(s, &l.r);
		if (rc == 0)
			rc = cs_store_audit_append(s, &a);
		if (rc == 0 && fail) {
			gc_lic(&dup, 0, 0);  /* committed before the threads ran */
			rc = cs_store_licence_put(s, &dup.r) == CS_ECONFLICT ?
			    CS_ECONFLICT : -1;
		}
		if (rc == 0)
			rc = cs_store_commit(s);
		else
			cs_store_rollback(s);
		if (rc == 0)
			w->committed++;
		else if (rc == CS_ECONFLICT && fail)
			w->failed++;
		else {
			fprintf(stderr, "group writer %d: %s\n", w->idx,
			    cs_err_msg());
			w->errors++;
		}
		/* An audited read: one write outside a transaction. */
		if (cs_store_audit_append(s, &a) != 0)
			w->errors++;
	}
	return NULL;
}

/* One audited read (a write outside a transaction); *arg is its rc. */
static void *
gc_audit_main(void *arg)
{
	struct gc_worker *w = arg;
	cs_audit_rec a;

	memset(&a, 0, sizeof(a));
	a.action = "read";
	w->errors = cs_store_audit_append(w->s, &a);
	return NULL;
}

/* A writer whose transaction fails inside a group of others. */
static void *
gc_failing_main(void *arg)
{
	struct gc_worker *w = arg;
	struct lic l, dup;

	gc_lic(&l, 99, 0);
	gc_lic(&dup, 0, 0);
	w->errors = 1;
	if (cs_store_begin(w->s) == 0 &&
	    cs_store_licence_put(w->s, &l.r) == 0 &&
	    cs_store_licence_put(w->s, &dup.r) == CS_ECONFLICT &&
	    cs_store_rollback(w->s) == 0)
		w->errors = 0;
	return NULL;
}

TEST(group_commit)
{
	static struct gc_worker w[GC_THREADS];
	pthread_t t[GC_THREADS];
	cs_audit_filter f;
	struct lic l;
	cs_store *s = open_store("group.db");
	sqlite3 *db;
	uint64_t g0, m0, g1, m1;
	int64_t n = -1;
	int i, j, committed = 0, failed = 0, errors = 0, missing = 0;

	/* Many threads at once: every commit that returned 0 is there, every
	 * failed transaction left nothing, and the others never noticed. */
	gc_lic(&l, 0, 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	cs_store_sqlite_stats(s, &g0, &m0);
	for (i = 0; i < GC_THREADS; i++) {
		w[i].s = s;
		w[i].idx = i + 1;
		w[i].fail_every = i % 4 == 0 ? 3 : 0;
		pthread_create(&t[i], NULL, gc_main, &w[i]);
	}
	for (i = 0; i < GC_THREADS; i++) {
		pthread_join(t[i], NULL);
		committed += w[i].committed;
		failed += w[i].failed;
		errors += w[i].errors;
	}
	CHECK_INT_EQ(errors, 0);
	CHECK_INT_EQ(committed + failed, GC_THREADS * GC_PER);
	CHECK(failed > 0);
	for (i = 0; i < GC_THREADS; i++)
		for (j = 0; j < GC_PER; j++) {
			gc_lic(&l, i + 1, j);
			if (has_licence(s, l.id) != (w[i].fail_every == 0 ||
			    j % w[i].fail_every != 0))
				missing++;
		}
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, committed + 1);
	/* One record in each committed transaction, one per loop outside. */
	db = raw_open("group.db");
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM audit"),
	    committed + GC_THREADS * GC_PER);
	sqlite3_close(db);
	cs_store_sqlite_stats(s, &g1, &m1);
	CHECK_INT_EQ(m1 - m0, (uint64_t)(committed + GC_THREADS * GC_PER));
	CHECK(g1 - g0 <= m1 - m0);

	/*
	 * Deterministic grouping: while this thread holds the writer, readers
	 * queue their audit records and one writer queues a transaction that
	 * fails.  Its commit then waits for all of them and carries them in
	 * one group; the failing writer rolls back its own writes only.
	 */
	cs_store_sqlite_set_window(s, 5000);
	memset(w, 0, sizeof(w));
	CHECK_INT_EQ(cs_store_begin(s), 0);
	gc_lic(&l, 98, 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	for (i = 0; i < 8; i++) {
		w[i].s = s;
		pthread_create(&t[i], NULL, i == 3 ? gc_failing_main :
		    gc_audit_main, &w[i]);
	}
	usleep(300 * 1000);  /* all eight are queued for the writer by now */
	cs_store_sqlite_stats(s, &g0, &m0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT_EQ(w[i].errors, 0);
	}
	cs_store_sqlite_stats(s, &g1, &m1);
	CHECK_INT_EQ(m1 - m0, 8);  /* this one and seven readers */
	CHECK_INT_EQ(g1 - g0, 1);
	CHECK(has_licence(s, l.id));
	gc_lic(&l, 99, 0);
	CHECK(!has_licence(s, l.id));
	memset(&f, 0, sizeof(f));
	f.action = "read";
	CHECK_INT_EQ(audit_n(s, &f, NULL), 7);
	cs_store_close(s);
}

/* --- a crash right after commit ----------------------------------------- */

#define CRASH_THREADS 8
#define CRASH_MAX 100000

/* What the child reports through shared memory: which licences' commits
 * had returned 0 when it was killed. */
struct crash_log {
	atomic_int committed[CRASH_THREADS][CRASH_MAX / CRASH_THREADS];
	atomic_int n[CRASH_THREADS];
	atomic_int first_done;
};

struct crash_arg {
	cs_store *s;
	struct crash_log *log;
	int idx;
};

static void *
crash_writer(void *arg)
{
	struct crash_arg *a = arg;
	struct lic l;
	int i;

	for (i = 0; i < CRASH_MAX / CRASH_THREADS; i++) {
		lic_make(&l, TYPE_A, 1000000 + a->idx * 100000 + i,
		    "91350100M000100Y43", "ems", 1, NULL);
		if (cs_store_licence_put(a->s, &l.r) != 0)
			break;
		atomic_store(&a->log->committed[a->idx][i], 1);
		atomic_store(&a->log->n[a->idx], i + 1);
	}
	return NULL;
}

/*
 * The child commits one licence and kills itself with SIGKILL the moment
 * commit() returns; then it runs eight writers and kills itself in the
 * middle of their group commits.  Every licence whose commit() had
 * returned 0 must be in the database the parent opens afterwards.  (A
 * process crash, not a power cut: the page cache survives it; the fsync
 * half of durability is what durable_commit checks.)
 */
static void
crash_child(int concurrent, struct crash_log *log)
{
	struct crash_arg a[CRASH_THREADS];
	pthread_t t[CRASH_THREADS];
	struct lic l;
	cs_store *s = NULL;
	int i;

	if (cs_store_open_sqlite(tpath("crash.db"), &s) != 0)
		_exit(3);
	if (!concurrent) {
		lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1, NULL);
		if (cs_store_begin(s) != 0 || cs_store_licence_put(s, &l.r) != 0 ||
		    cs_store_commit(s) != 0)
			_exit(4);
		kill(getpid(), SIGKILL);
	}
	for (i = 0; i < CRASH_THREADS; i++) {
		a[i].s = s;
		a[i].log = log;
		a[i].idx = i;
		pthread_create(&t[i], NULL, crash_writer, &a[i]);
	}
	usleep(150 * 1000);
	kill(getpid(), SIGKILL);
	_exit(5);
}

TEST(crash_after_commit)
{
	struct crash_log *log;
	struct lic l;
	cs_store *s;
	pid_t pid;
	int status = 0, i, j, total = 0, missing = 0, round;

	log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(log != MAP_FAILED);
	if (log == MAP_FAILED)
		return;
	memset(log, 0, sizeof(*log));
	for (round = 0; round < 2; round++) {
		fflush(NULL);
		if ((pid = fork()) == 0)
			crash_child(round, log);
		CHECK(pid > 0);
		CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	s = open_store("crash.db");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1, NULL);
	CHECK(has_licence(s, l.id));
	for (i = 0; i < CRASH_THREADS; i++)
		for (j = 0; j < atomic_load(&log->n[i]); j++) {
			if (!atomic_load(&log->committed[i][j]))
				continue;
			total++;
			lic_make(&l, TYPE_A, 1000000 + i * 100000 + j,
			    "91350100M000100Y43", "ems", 1, NULL);
			if (!has_licence(s, l.id))
				missing++;
		}
	CHECK(total > 0);
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	munmap(log, sizeof(*log));
}

/* --- checkpoints ------------------------------------------------------- */

/* Past 1,000 WAL pages the store's own thread copies the WAL into the
 * database while the store stays open and the writer is free. */
TEST(background_checkpoint)
{
	static char rec[12000];
	struct lic l;
	struct stat st;
	cs_store *s = open_store("ckpt.db");
	unsigned long long x = 88172645463325252ULL;
	off_t before;
	int i, j, waited;

	CHECK(stat(tpath("ckpt.db"), &st) == 0);
	before = st.st_size;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 0; i < 3000; i++) {
		/* ~12 KB of letters that deflate to ~7 KB: 1,300 pages in all */
		for (j = 0; j < (int)sizeof(rec) - 1; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			rec[j] = (char)('a' + x % 26);
		}
		lic_make(&l, TYPE_A, 10 + i, "91350100M000100Y43", "ems", 1, NULL);
		l.r.record = rec;
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	CHECK_INT_EQ(cs_store_commit(s), 0);
	for (waited = 0; waited < 100; waited++) {
		CHECK(stat(tpath("ckpt.db"), &st) == 0);
		if (st.st_size > before + 8 * 1024 * 1024)
			break;
		usleep(50 * 1000);
	}
	CHECK(st.st_size > before + 8 * 1024 * 1024);
	/* and the writer goes on meanwhile */
	lic_make(&l, TYPE_A, 5, "91350100M000100Y43", "ems", 1, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	cs_store_close(s);
}

/* --- durability --------------------------------------------------------- */

/*
 * synchronous=FULL is a setting of the store's own connection, which no
 * other connection can read; what it buys is observable, though: the WAL
 * is synced before a commit returns.  A pass-through VFS, made the default
 * for this test, counts the syncs of WAL files.
 */
struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
	int is_wal;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static atomic_int wal_syncs;
static atomic_int file_reads;  /* xRead calls, of every file */

#define REAL(f) (((struct shim_file *)(f))->real)
#define FWD(f, m) REAL(f)->pMethods->m

static int
shim_close(sqlite3_file *f)
{
	return FWD(f, xClose)(REAL(f));
}

static int
shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	atomic_fetch_add(&file_reads, 1);
	return FWD(f, xRead)(REAL(f), b, n, o);
}

static int
shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return FWD(f, xWrite)(REAL(f), b, n, o);
}

static int
shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return FWD(f, xTruncate)(REAL(f), size);
}

static int
shim_sync(sqlite3_file *f, int flags)
{
	if (((struct shim_file *)f)->is_wal)
		atomic_fetch_add(&wal_syncs, 1);
	return FWD(f, xSync)(REAL(f), flags);
}

static int
shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return FWD(f, xFileSize)(REAL(f), size);
}

static int
shim_lock(sqlite3_file *f, int l)
{
	return FWD(f, xLock)(REAL(f), l);
}

static int
shim_unlock(sqlite3_file *f, int l)
{
	return FWD(f, xUnlock)(REAL(f), l);
}

static int
shim_reserved(sqlite3_file *f, int *out)
{
	return FWD(f, xCheckReservedLock)(REAL(f), out);
}

static int
shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return FWD(f, xFileControl)(REAL(f), op, arg);
}

static int
shim_sector(sqlite3_file *f)
{
	return FWD(f, xSectorSize)(REAL(f));
}

static int
shim_devchar(sqlite3_file *f)
{
	return FWD(f, xDeviceCharacteristics)(REAL(f));
}

static int
shim_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return FWD(f, xShmMap)(REAL(f), pg, sz, ext, pp);
}

static int
shim_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return FWD(f, xShmLock)(REAL(f), off, n, flags);
}

static void
shim_shmbarrier(sqlite3_file *f)
{
	FWD(f, xShmBarrier)(REAL(f));
}

static int
shim_shmunmap(sqlite3_file *f, int del)
{
	return FWD(f, xShmUnmap)(REAL(f), del);
}

static int
shim_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
	return FWD(f, xFetch)(REAL(f), o, n, pp);
}

static int
shim_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return FWD(f, xUnfetch)(REAL(f), o, p);
}

static const sqlite3_io_methods shim_io = {
	3, shim_close, shim_read, shim_write, shim_truncate, shim_sync,
	shim_size, shim_lock, shim_unlock, shim_reserved, shim_fcntl,
	shim_sector, shim_devchar, shim_shmmap, shim_shmlock, shim_shmbarrier,
	shim_shmunmap, shim_fetch, shim_unfetch,
};

static int
shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	sf->real = (sqlite3_file *)(sf + 1);
	sf->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
	sf->base.pMethods = sf->real->pMethods != NULL ? &shim_io : NULL;
	return rc;
}

/* The shim becomes the default VFS, for the stores opened until
 * shim_remove(). */
static void
shim_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	CHECK(real_vfs != NULL && real_vfs->iVersion >= 1);
	shim_vfs = *real_vfs;
	shim_vfs.zName = "test-shim";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pNext = NULL;
	CHECK_INT_EQ(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void
shim_remove(void)
{
	CHECK_INT_EQ(sqlite3_vfs_unregister(&shim_vfs), SQLITE_OK);
	CHECK(sqlite3_vfs_find(NULL) == real_vfs);
}

TEST(durable_commit)
{
	struct lic l;
	cs_store *s;
	sqlite3 *db;
	int before;

	shim_install();

	s = open_store("durable.db");
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	before = atomic_load(&wal_syncs);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK(atomic_load(&wal_syncs) > before);
	before = atomic_load(&wal_syncs);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	l.r.seq = 2;
	snprintf(l.id, sizeof(l.id), "L-2");
	snprintf(l.ref, sizeof(l.ref), "R-2");
	snprintf(l.number, sizeof(l.number), "N-2");
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(atomic_load(&wal_syncs), before); /* not before commit */
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(atomic_load(&wal_syncs) > before);
	/* Committed means visible to any other connection at once. */
	db = raw_open("durable.db");
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM licences"), 2);
	sqlite3_close(db);
	cs_store_close(s);
	shim_remove();
}

/* A holder of many licences, for the two tests below: n licences of
 * TYPE_A (seq 1..n, three to an issue second, so positions have ties)
 * and every fourth also one of TYPE_B, and one licence of another holder.
 * The store is closed. */
static void
many_licences(const char *name, int n)
{
	cs_store *s = open_store(name);
	struct lic l;
	int i;

	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 1; i <= n; i++) {
		lic_make(&l, TYPE_A, i, HOLDER_1, "ems", 1000 + i / 3, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		if (i % 4 != 0)
			continue;
		lic_make(&l, TYPE_B, i, HOLDER_1, "ems", 1000 + i / 3, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	lic_make(&l, TYPE_A, n + 1, "91440300708461136T", "ems", 5000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	cs_store_close(s);
}

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

TEST(holder_pages)
{
	cs_licence_row **rows = NULL;
	cs_store *s;
	int64_t pos;
	size_t n = 0;

	many_licences("pages.db", 1000);
	s = open_store("pages.db");
	CHECK_INT_EQ(page_all(s, NULL, 7), 1250);
	CHECK_INT_EQ(page_all(s, NULL, 1000), 1250);
	CHECK_INT_EQ(page_all(s, NULL, 1250), 1250);
	CHECK_INT_EQ(page_all(s, TYPE_B, 33), 250);
	/* A position of another holder's, or none at all. */
	pos = 1001 + 250 + 1;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, NULL, &pos, 10,
	    &rows, &n), CS_EINVAL);
	CHECK(rows == NULL && n == 0);
	pos = 99999;
	CHECK_INT_EQ(cs_store_licences_by_holder(s, HOLDER_1, NULL, &pos, 10,
	    &rows, &n), CS_EINVAL);
	cs_store_close(s);
}

/*
 * The paper-copy check's lookups (a licence by id, by number with its
 * holder code) read a handful of pages however many licences the holder
 * has; a listing of them all reads every page they fill.  Counted as the
 * reads SQLite asks of the files, on a store opened afresh: no clock.
 */
TEST(lookups_read_pages)
{
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic l;
	cs_store *s;
	size_t n = 0;
	int before, lookups, listing;

	many_licences("reads.db", 3000);
	shim_install();
	s = open_store("reads.db");
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 0, NULL);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);  /* the schema */
	cs_licence_row_free(got);

	before = atomic_load(&file_reads);
	lic_make(&l, TYPE_A, 1501, HOLDER_1, "ems", 0, NULL);
	CHECK_INT_EQ(cs_store_licences_by_number(s, l.number, HOLDER_1, &rows,
	    &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_licence_rows_free(rows, n);
	lic_make(&l, TYPE_B, 2400, HOLDER_1, "ems", 0, NULL);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	cs_licence_row_free(got);
	lookups = atomic_load(&file_reads) - before;

	before = atomic_load(&file_reads);
	CHECK_INT_EQ(by_holder(s, HOLDER_1, NULL, &rows, &n), 0);
	CHECK_INT_EQ(n, 3750);
	cs_licence_rows_free(rows, n);
	listing = atomic_load(&file_reads) - before;
	printf("  page reads: by number and by id %d, the holder's listing %d\n",
	    lookups, listing);
	CHECK(lookups <= 16);
	CHECK(listing >= 10 * lookups);
	cs_store_close(s);
	shim_remove();
}

/* --- backup ------------------------------------------------------------- */

TEST(backup)
{
	cs_licence_row *got = NULL;
	struct lic l;
	cs_store *s = open_store("src.db"), *b;
	int64_t n = 0;
	char *before, *after;
	size_t blen = 0, alen = 0;
	int i;

	for (i = 1; i <= 20; i++) {
		lic_make(&l, TYPE_A, i, "91350100M000100Y43", "ems", i, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	CHECK_INT_EQ(cs_store_backup(s, tpath("copy.db")), 0);
	/* The source goes on after the copy; the copy does not change. */
	lic_make(&l, TYPE_A, 21, "91350100M000100Y43", "ems", 21, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);

	b = open_store("copy.db");
	CHECK(b != NULL);
	if (b != NULL) {
		CHECK_INT_EQ(cs_store_licence_count(b, &n), 0);
		CHECK_INT_EQ(n, 20);
		CHECK_INT_EQ(cs_store_licence_get(b, "1.2.156.3005.2." TYPE_A
		    "." ISSUER ".20.001.X", &got), 0);
		cs_licence_row_free(got);
		CHECK_INT_EQ(cs_store_ping(b), 0);
		cs_store_close(b);
	}

	/* Never onto an existing file, which stays as it was. */
	before = check_slurp(tpath("copy.db"), &blen);
	CHECK_INT_EQ(cs_store_backup(s, tpath("copy.db")), CS_EIO);
	CHECK_CONTAINS(cs_err_msg(), tpath("copy.db"));
	after = check_slurp(tpath("copy.db"), &alen);
	CHECK(before != NULL && after != NULL && blen > 0 && blen == alen &&
	    memcmp(before, after, blen) == 0);
	free(before);
	free(after);
	CHECK_INT_EQ(cs_store_backup(s, "/nonexistent-dir/x.db"), CS_EIO);
	cs_store_close(s);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	if (test_dir_make("test_store") != 0) {
		return 1;
	}
	RUN(open_dispatches_on_db);
	RUN(open_creates_schema);
	RUN(reopen_keeps_data);
	RUN(newer_schema_refused);
	RUN(migrate_v1);
	RUN(migrate_v4_denied);
	RUN(licences);
	RUN(licence_numbers);
	RUN(migrate_v4_duplicate_numbers);
	RUN(records);
	RUN(events);
	RUN(bundles);
	RUN(clients);
	RUN(client_revoke_persists);
	RUN(migrate_v2);
	RUN(audit);
	RUN(audit_chunks);
	RUN(append_only);
	RUN(transactions);
	RUN(licence_cache);
	RUN(abandoned_transaction);
	RUN(threads);
	RUN(nesting);
	RUN(group_commit);
	RUN(crash_after_commit);
	RUN(background_checkpoint);
	RUN(durable_commit);
	RUN(holder_pages);
	RUN(lookups_read_pages);
	RUN(backup);
	rm_tree(test_dir);
	return check_summary();
}
