/*
 * test_store_sqlite: what only the SQLite backend (store_sqlite.c)
 * promises, beside what every backend does (the conformance suite,
 * test_store.c, which runs on SQLite too): its schema, the migrations from
 * every older version and the refusal of a newer one, records as they lie
 * in the file (compressed, and every older form still read), the database
 * itself refusing a taken number and any UPDATE or DELETE (triggers), the
 * audit keys in chunks, group commit (its counters and window), the
 * background checkpoint (never inside a commit), the WAL synced before commit() returns, and the
 * pages a lookup reads.  It opens its files with cs_store_open_sqlite()
 * and looks into them with a connection of its own, as an operator's
 * sqlite3 shell would.  Each run works in a fresh directory under /tmp,
 * removed at the end.
 */
#include "check.h"
#include "cs_err.h"
#include "record_dicts.h"
#include "sqlite_shim.h"
#include "store.h"
#include "store_data.h"
#include "store_sqlite.h"
#include "testutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/* The SQLite store on file name of the scratch directory; NULL (said on
 * stderr) when it cannot be opened. */
static cs_store *
open_store(const char *name)
{
	cs_store *s = NULL;
	int rc = cs_store_open_sqlite(tpath(name), &s);

	if (rc != 0)
		fprintf(stderr, "open %s: %s: %s\n", name, cs_errname(rc),
		    cs_err_msg());
	return s;
}

/* --- schema ------------------------------------------------------------- */

/* --db names the backend (store.c), seen from the SQLite side: a
 * PostgreSQL URI is not made into a SQLite file but goes to that backend
 * (nothing answers on port 1: refused, the URI's password not repeated);
 * a file whose name merely begins like a scheme is SQLite's.  (What holds
 * for every build is open_dispatches_on_db, in test_store.c.) */
TEST(open_path_like_scheme)
{
	const char *uris[] = {"postgresql://certsvc:s3cret@127.0.0.1:1/certsvc",
	    "postgres://127.0.0.1:1/certsvc", "PostgreSQL://127.0.0.1:1/certsvc"};
	cs_store *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		s = (cs_store *)1;
		CHECK_INT_EQ(cs_store_open(uris[i], 20, &s), CS_EUNAVAIL);
		CHECK(s == NULL);
		CHECK_CONTAINS(cs_err_msg(), "cannot connect to PostgreSQL");
		CHECK(strstr(cs_err_msg(), "s3cret") == NULL);
	}
	CHECK(access("postgresql:", F_OK) != 0 && access("postgres:", F_OK) != 0);
	CHECK_INT_EQ(cs_store_open(tpath("postgres.db"), 0, &s), 0);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	CHECK(access(tpath("postgres.db"), F_OK) == 0);
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
	/* Opened again, it stays as it is. */
	s = open_store("schema.db");
	CHECK(s != NULL);
	CHECK_INT_EQ(s != NULL ? cs_store_ping(s) : -1, 0);
	cs_store_close(s);
	db = raw_open("schema.db");
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 14);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name IN ('licences', 'status_events', "
	    "'bundles', 'clients', 'client_revocations', 'grants', 'audit', "
	    "'audit_keys', 'audit_chunks', 'copies', 'change_events', "
	    "'holder_acts', 'peers', 'subscriptions', 'sub_attempts', "
	    "'client_tokens')"), 16);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'trigger'"), 33);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND name IN ('licences_number', "
	    "'licences_status')"), 2);
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

/* Today's schema back to version 13: licences_seq instead of the index
 * the status list's scan reads alone (schema_status_index). */
#define UNDO_STATUS_INDEX "DROP INDEX licences_status; " \
    "CREATE INDEX licences_seq ON licences (type, issuer_code, seq);"

/* Back to version 12: no token rotations (schema_client_tokens). */
#define UNDO_CLIENT_TOKENS UNDO_STATUS_INDEX "DROP TABLE client_tokens;"

/* Back to version 11: no index of a client's licences by time
 * (schema_reconcile). */
#define UNDO_RECONCILE UNDO_CLIENT_TOKENS "DROP INDEX licences_client_issued;"

/* Back to version 10: no subscriptions. */
#define UNDO_SUBS UNDO_RECONCILE "DROP TABLE sub_attempts; DROP TABLE subscriptions;"

/* Back to version 9: no peers (schema_peers). */
#define UNDO_PEERS UNDO_SUBS "DROP TABLE peers;"

/* Back to version 8: no holder acts, and the clients' CHECK without the
 * role portal (schema_holder_acts). */
#define UNDO_HOLDER UNDO_PEERS "DROP TABLE holder_acts; " \
    "PRAGMA writable_schema = ON; " \
    "UPDATE sqlite_master SET sql = replace(sql, ', ''portal''', '') " \
    "WHERE type = 'table' AND name = 'clients'; " \
    "PRAGMA writable_schema = RESET;"

/* Back to version 7: no change feed (version 8). */
#define UNDO_V8 UNDO_HOLDER "DROP TABLE change_events;"

/* Back to version 6: no copies table (version 7). */
#define UNDO_V7 UNDO_V8 "DROP TABLE copies;"

/* Back to version 5: no number index or trigger (version 6). */
#define UNDO_V6 UNDO_V7 "DROP TRIGGER licences_number_unique; " \
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
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 14);
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

/* A conflict's message is SQLite's, naming the key found taken (the codes,
 * which every backend returns, are checked by licences in test_store.c). */
TEST(licence_conflict_messages)
{
	struct lic a, dup;
	cs_store *s = open_store("conflicts.db");

	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	/* Same id, other approval_ref: conflict on the id. */
	lic_make(&dup, TYPE_A, 1, HOLDER_1, "ems", 5000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "REF-other");
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), "store: insert licence: UNIQUE constraint "
	    "failed");
	/* Other id, same (client, approval_ref). */
	lic_make(&dup, TYPE_A, 99, HOLDER_1, "ems", 5000, NULL);
	snprintf(dup.ref, sizeof(dup.ref), "%s", a.ref);
	CHECK_INT_EQ(cs_store_licence_put(s, &dup.r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), "approval_ref");
	cs_store_close(s);
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

/* A change event's body as events.c writes one. */
static const char change_body[] =
    "{\"event_id\":\"evt-new\",\"type\":\"licence.issued\",\"at\":"
    "\"2026-12-06T00:41:13Z\",\"licence\":{\"id\":\"1.2.156.3005.2."
    "11100000000013338W041.11440000006939756B.2612060001.001.X\",\"type\":"
    "\"11100000000013338W041\",\"type_name\":\"排污许可证\",\"number\":"
    "\"91350100M000123Y43001P\",\"issuer\":{\"name\":\"生态环境部\",\"code\":"
    "\"11100000000013338W\"},\"issued_at\":\"2026-12-06T00:41:13Z\","
    "\"valid_from\":\"2026-12-06\",\"valid_until\":\"2031-12-05\","
    "\"supersedes\":null,\"bundle\":null,\"holder\":{\"name\":"
    "\"广州市绿源化工有限公司\",\"code_type\":\"USCC\",\"code\":"
    "\"91350100M000123Y43\",\"code_type_code\":\"001\"},\"status\":"
    "\"valid\"}}";

/* A row of change_events written by hand: seq, event id, body SQL. */
static int
raw_change(sqlite3 *db, int seq, const char *id, const char *body_sql)
{
	char sql[2048];

	snprintf(sql, sizeof(sql), "INSERT INTO change_events VALUES (%d, "
	    "'%s', 'licence.issued', 't', (SELECT id FROM licences LIMIT 1), "
	    "1, %s)", seq, id, body_sql);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Change event bodies are stored packed (a zstd frame with the event
 * dictionary, zrecord.h) under the column's TEXT type; bodies stored as
 * text before that still read as they were; a damaged blob is refused,
 * never read as something else. */
TEST(change_bodies)
{
	cs_change c, **cs = NULL;
	struct lic l;
	char sql[1200];
	cs_store *s = open_store("change_bodies.db");
	sqlite3 *db;
	size_t n = 0;

	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&c, 0, sizeof(c));
	c.event_id = "evt-new";
	c.type = "licence.issued";
	c.licence_type = TYPE_A;
	c.licence_id = l.id;
	c.body = (char *)change_body;
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	db = raw_open("change_bodies.db");
	CHECK_INT_EQ(raw_int(db, "SELECT typeof(body) = 'blob' AND "
	    "hex(substr(body, 1, 4)) = '28B52FFD' FROM change_events"), 1);
	CHECK(raw_int(db, "SELECT length(body) FROM change_events") <
	    (int64_t)strlen(change_body) * 2 / 5);
	/* The old form, text, and a blob that is not a frame. */
	snprintf(sql, sizeof(sql), "'%s'", change_body);
	CHECK_INT_EQ(raw_change(db, 5, "evt-old", sql), SQLITE_OK);
	CHECK_INT_EQ(raw_change(db, 9, "evt-bad", "x'28b52ffd0102'"),
	    SQLITE_OK);
	sqlite3_close(db);
	CHECK_INT_EQ(cs_store_changes_page(s, 0, 2, &cs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(cs[0]->event_id, "evt-new");
		CHECK_STR_EQ(cs[0]->body, change_body);
		CHECK_STR_EQ(cs[1]->event_id, "evt-old");
		CHECK_STR_EQ(cs[1]->body, change_body);
	}
	cs_changes_free(cs, n);
	cs = NULL;
	CHECK_INT_EQ(cs_store_changes_page(s, 5, 2, &cs, &n), CS_ESTORE);
	CHECK(strstr(cs_err_msg(), "change event does not inflate") != NULL);
	cs_changes_free(cs, n);
	cs_store_close(s);
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

/* The database itself refuses a number another licence of the type and
 * issuer carries, to a row inserted by hand too (schema version 6; what
 * every backend does through the interface is licence_numbers, in
 * test_store.c). */
TEST(number_refused_by_database)
{
	struct lic a;
	cs_store *s = open_store("numbers.db");
	sqlite3 *db;

	lic_make(&a, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &a.r), 0);
	db = raw_open("numbers.db");
	CHECK_INT_EQ(sqlite3_exec(db, "INSERT INTO licences VALUES ('1.2.156."
	    "3005.2." TYPE_A "." ISSUER ".9.001.X', '" TYPE_A "', '" ISSUER "', "
	    "9, 'h', '粤环辐证[00001]', 'raw', NULL, 'x', NULL, NULL, 1, '{}')",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_int(db, "SELECT count(*) FROM licences"), 1);
	sqlite3_close(db);
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
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 14);
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

/* --- clients ------------------------------------------------------------ */

/*
 * A version 2 database (clients without append-only triggers) is migrated
 * on open and keeps its clients, grants and revocations.  Version 3 only
 * adds the two triggers, so a version 2 file is today's schema back at
 * version 3 without them, at user_version 2; a raw UPDATE succeeding on it
 * shows that it really is the old schema.
 */
/* A version 8 database (before the holder in the loop) takes the role
 * portal once migrated: the clients' CHECK is widened in place, for the
 * migrating connection too, and the holder acts' table is made. */
TEST(migrate_holder_acts)
{
	cs_client a;
	cs_hact_row r = {"Pk", 0, "presentation", HOLDER_1, 1, "{}"};
	cs_store *s = open_store("v8.db");

	client_make(&a, "window", "portal", 0x61);
	CHECK(cs_store_client_add(s, &a) == 0);
	client_make(&a, "window2", "portal", 0x62);
	s = reopen_at(s, "v8.db", UNDO_HOLDER, 8);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_client_add(s, &a), 0);
	client_make(&a, "nobody", "king", 0x63);
	CHECK(cs_store_client_add(s, &a) != 0);
	CHECK_INT_EQ(cs_store_hact_put(s, &r), 0);
	cs_store_close(s);
}

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
	CHECK_INT_EQ(raw_int(db, "PRAGMA user_version"), 14);
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

/* Page through f 1000 at a time: every record once, in order (newest
 * first, by before_seq, when desc: the holder's record), and each one
 * matching (record i is seq i + 1).  Returns how many. */
static int
chunk_pages(cs_store *s, cs_audit_filter f, int hk, int tk, int desc)
{
	cs_audit_rec **r = NULL;
	size_t n = 0, j;
	int64_t last = desc ? INT64_MAX : 0, i;
	int total = 0, bad = 0;

	f.limit = 1000;
	do {
		if (desc)
			f.before_seq = last;
		else
			f.after_seq = last;
		if (cs_store_audit_query(s, &f, &r, &n) != 0)
			return -1;
		for (j = 0; j < n; j++) {
			i = r[j]->seq - 1;
			bad += (desc ? r[j]->seq >= last : r[j]->seq <= last) ||
			    (hk >= 0 && (i % 7 != hk || i % 13 == 0)) ||
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

static int
chunk_count(cs_store *s, cs_audit_filter f, int hk, int tk)
{
	return chunk_pages(s, f, hk, tk, 0);
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
		CHECK_INT_EQ(chunk_pages(s, f, k % 7, -1, 1),
		    chunk_expect(n, k % 7, -1, 0));
		f.client = "ems";
		CHECK_INT_EQ(chunk_count(s, f, k % 7, -1),
		    chunk_expect(n, k % 7, -1, 1));
		CHECK_INT_EQ(chunk_pages(s, f, k % 7, -1, 1),
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

/* The database itself refuses an UPDATE or DELETE of every table
 * (triggers), from an operator's shell beside the open store.  (That the
 * interface changes nothing stored is append_only_interface, in
 * test_store.c.) */
TEST(append_only)
{
	static const char *const tables[] = { "licences", "status_events",
		"bundles", "clients", "client_revocations", "grants", "audit",
		"client_tokens" };
	static const char *const sets[] = { "number = 'x'", "actor = 'x'",
		"client = 'x'", "token_hash = zeroblob(32)", "at = 0",
		"types = '*'", "result_count = 0", "supersedes = 7" };
	uint8_t h[32];
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
	memset(h, 0x77, sizeof(h));
	CHECK_INT_EQ(cs_store_client_rotate(s, "ems", h, 8), 0);
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

/* --- group commit ------------------------------------------------------- */

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
	int i, committed;

	/* Many threads at once, some failing (gc_many, store_data.h; the
	 * same as concurrent_commits in test_store.c): every transaction
	 * that committed, and every write outside one, was a member of a
	 * group, and groups were shared. */
	gc_lic(&l, 0, 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	cs_store_sqlite_stats(s, &g0, &m0);
	committed = gc_many(s);
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

/* --- checkpoints ------------------------------------------------------- */

/* Fill rec (n bytes, the last left alone) with letters of a xorshift
 * stream at *x: ~12 KB of them deflate to ~7 KB. */
static void
random_letters(char *rec, size_t n, unsigned long long *x)
{
	size_t j;

	for (j = 0; j + 1 < n; j++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		rec[j] = (char)('a' + *x % 26);
	}
}

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
	int i, waited;

	CHECK(stat(tpath("ckpt.db"), &st) == 0);
	before = st.st_size;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 0; i < 3000; i++) {
		/* ~12 KB of letters that deflate to ~7 KB: 1,300 pages in all */
		random_letters(rec, sizeof(rec), &x);
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

/*
 * A commit never checkpoints (copies the WAL and syncs the database file)
 * below the hard limit: the thread does, and starts the WAL over itself.
 * Small transactions take the WAL past 1,000 pages several times, with
 * pauses in which the thread catches up (the writer used to copy the last
 * few pages itself in the next commit then); the committing thread, this
 * one, must never have synced the database file, and the WAL file must
 * have started over instead of growing past what was written between two
 * restarts.  The shim (sqlite_shim.h) counts the syncs per thread.
 */
TEST(commit_leaves_checkpoint_to_thread)
{
	static char rec[12000];
	struct lic l;
	struct stat st;
	cs_store *s;
	unsigned long long x = 88172645463325252ULL;
	int i, t, syncs;

	shim_install();
	s = open_store("ckptwal.db");
	db_syncs_here = 0;
	for (t = 0; t < 240; t++) {
		CHECK_INT_EQ(cs_store_begin(s), 0);
		for (i = 0; i < 25; i++) {
			random_letters(rec, sizeof(rec), &x);
			lic_make(&l, TYPE_A, 10 + t * 25 + i,
			    "91350100M000100Y43", "ems", 1, NULL);
			l.r.record = rec;
			CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		}
		CHECK_INT_EQ(cs_store_commit(s), 0);
		if (t % 10 == 9)
			usleep(150 * 1000);  /* the thread catches up */
	}
	syncs = db_syncs_here;
	CHECK_INT_EQ(syncs, 0);
	/* 6,000 records of ~7 KB: about 2,600 pages of 16 KiB went through
	 * the WAL; started over near 1,000, it never held 2,000. */
	CHECK(stat(tpath("ckptwal.db-wal"), &st) == 0);
	CHECK(st.st_size < 2000LL * 16384);
	cs_store_close(s);
	shim_remove();
}

/* --- durability --------------------------------------------------------- */

/*
 * synchronous=FULL is a setting of the store's own connection, which no
 * other connection can read; what it buys is observable, though: the WAL
 * is synced before a commit returns.  A pass-through VFS (sqlite_shim.h),
 * made the default for this test, counts the syncs of WAL files.
 */
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

/* --- the pages a lookup reads ------------------------------------------ */

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

	s = open_store("reads.db");
	many_licences(s, 3000);
	cs_store_close(s);
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

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	if (test_dir_make("test_store_sqlite") != 0)
		return 1;
	RUN(open_path_like_scheme);
	RUN(open_creates_schema);
	RUN(newer_schema_refused);
	RUN(migrate_v1);
	RUN(migrate_v4_denied);
	RUN(licence_conflict_messages);
	RUN(number_refused_by_database);
	RUN(migrate_v4_duplicate_numbers);
	RUN(records);
	RUN(change_bodies);
	RUN(migrate_v2);
	RUN(migrate_holder_acts);
	RUN(audit_chunks);
	RUN(append_only);
	RUN(group_commit);
	RUN(commit_leaves_checkpoint_to_thread);
	RUN(background_checkpoint);
	RUN(durable_commit);
	RUN(lookups_read_pages);
	rm_tree(test_dir);
	return check_summary();
}
