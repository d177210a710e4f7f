/*
 * sqlite_stmt: the SQL statements of the SQLite store and the helpers that
 * run them: the statement table (prepared once per connection), binding
 * parameters, reading columns (request hashes, packed records), mapping
 * result rows into arrays, and SQLite's errors as cs_err codes.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"
#include "encode.h"
#include "zrecord.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- statements ----------------------------------------------------- */

#define LICENCE_COLS                                                         \
	"id, type, issuer_code, seq, holder_code, number, client, "          \
	"approval_ref, request_hash, bundle, supersedes, issued_at, record"
#define EVENT_COLS "seq, licence_id, at, actor, action, kind, reason, ref"
#define SUB_COLS "seq, name, url, types, events, secret, after_seq, at, " \
    "removed"
#define CHANGE_COLS "seq, event_id, type, licence_type, licence_id, at, body"
#define BUNDLE_COLS "id, client, approval_ref, request_hash, created_at"
#define PEER_COLS "seq, name, trust_list, status_list, actor, at"
#define COPY_COLS "id, licence_id, client, purpose, used_by_name, " \
	"used_by_code, created_at, expires_at"
#define HACT_COLS "key, n, kind, holder, at, body"
/* With the token that authenticates the client now: its latest
 * rotation's (client_tokens), else the one it was created with. */
#define CLIENT_SELECT                                                        \
	"SELECT c.id, c.name, c.role, c.token_hash, c.created_at, "          \
	"coalesce(r.at, 0), coalesce(t.token_hash, c.token_hash), "          \
	"coalesce(t.at, 0) FROM clients c "                                  \
	"LEFT JOIN client_revocations r ON r.client_id = c.id "              \
	"LEFT JOIN client_tokens t ON t.seq = (SELECT max(seq) FROM "        \
	"client_tokens WHERE client_id = c.id) "
static const char *const stmt_sql[ST__N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* Every level has the same name: RELEASE and ROLLBACK TO act on the
	 * innermost savepoint of that name, which is the current level. */
	[ST_SAVEPOINT] = "SAVEPOINT cs",
	[ST_RELEASE] = "RELEASE cs",
	[ST_ROLLBACK_TO] = "ROLLBACK TO cs",
	[ST_VERSION] = "PRAGMA user_version",
	[ST_LIC_PUT] = "INSERT INTO licences (" LICENCE_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_LIC_GET] = "SELECT " LICENCE_COLS " FROM licences WHERE id = ?1",
	[ST_LIC_BY_REF] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE client = ?1 AND approval_ref = ?2",
	/* A page, newest first, ties in reverse insertion order, from the
	 * position (issued_at, rowid) = (?3, ?4) on: a range of the holder
	 * index (holder_code, issued_at, rowid) read backwards, without a
	 * sort, whatever the holder holds before it. */
	[ST_LIC_BY_HOLDER] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE holder_code = ?1 AND (?2 IS NULL OR type = ?2) AND "
	    "(issued_at, rowid) <= (?3, ?4) "
	    "ORDER BY issued_at DESC, rowid DESC LIMIT ?5",
	/* A page position is a rowid; -1 unless it is one of the holder's. */
	[ST_LIC_POS_AT] = "SELECT coalesce((SELECT issued_at FROM licences "
	    "WHERE rowid = ?1 AND holder_code = ?2), -1)",
	[ST_LIC_POS_OF] = "SELECT rowid FROM licences WHERE id = ?1",
	/* For each licence carrying the number with this holder code (its
	 * versions count as one: a serial), its newest version that does.
	 * The unary + keeps the planner on the number index rather than the
	 * holder index, which would read every licence of the holder
	 * (lookups_read_pages in test_store_sqlite): the rows read are those
	 * carrying the number, a handful. */
	/* An issuer's reconciliation page (licences_client_issued). */
	[ST_LIC_BY_CLIENT] = "SELECT " LICENCE_COLS " FROM licences WHERE "
	    "client = ?1 AND (?2 IS NULL OR approval_ref = ?2 OR bundle = "
	    "(SELECT id FROM bundles WHERE client = ?1 AND approval_ref = ?2)) "
	    "AND issued_at >= ?3 AND issued_at < ?4 AND (issued_at > ?5 OR "
	    "(issued_at = ?5 AND id > ?6)) ORDER BY issued_at, id LIMIT ?7",
	[ST_LIC_BY_NUMBER] = "SELECT " LICENCE_COLS " FROM licences WHERE id IN "
	    "(SELECT max(id) FROM licences WHERE number = ?1 AND "
	    "+holder_code = ?2 GROUP BY type, issuer_code, " SERIAL_OF("licences")
	    ") ORDER BY id",
	/* Carried by another licence (serial) of the type and issuer: what the
	 * trigger of schema version 6 refuses.  So a licence of a database
	 * from before version 6 whose number another licence carries too
	 * finds it taken for a new version.  On the number index, as there. */
	[ST_NUMBER_TAKEN] = "SELECT EXISTS (SELECT 1 FROM licences "
	    "WHERE number = ?1 AND +type = ?2 AND +issuer_code = ?3 AND "
	    SERIAL_OF("licences") " <> ?4)",
	[ST_LIC_BY_BUNDLE] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE bundle = ?1 ORDER BY rowid",
	/* One probe of the (type, issuer_code, seq) index. */
	[ST_LIC_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM licences "
	    "WHERE type = ?1 AND issuer_code = ?2",
	[ST_LIC_COUNT] = "SELECT count(*) FROM licences",
	/* Copying (cs_store_licences_page): the order stored is rowid's. */
	[ST_LIC_PAGE] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
	[ST_EV_PUT] = "INSERT INTO status_events (licence_id, at, actor, "
	    "action, kind, reason, ref) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* An event copied from another store keeps its seq (?8). */
	[ST_EV_IMPORT] = "INSERT INTO status_events (licence_id, at, actor, "
	    "action, kind, reason, ref, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7, ?8)",
	[ST_EV_PAGE] = "SELECT " EVENT_COLS " FROM status_events "
	    "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[ST_EV_FOR] = "SELECT " EVENT_COLS " FROM status_events "
	    "WHERE licence_id = ?1 ORDER BY seq",
	/* The events of up to EV_FOR_MANY licences (unused parameters NULL,
	 * which matches none): one probe of the licence index each, in one
	 * statement and one read transaction where a call a licence took
	 * one each (sq_events_for_many).  ORs, not IN (...): SQLite builds a
	 * temporary b-tree of an IN list and one more for an ORDER BY, which
	 * cost more than four statements (bench/README.md, tenth session);
	 * ORs are probes of the index one after another.  The caller sorts. */
	[ST_EV_FOR_MANY] = "SELECT " EVENT_COLS " FROM status_events WHERE "
	    "licence_id = ?1 OR licence_id = ?2 OR licence_id = ?3 OR "
	    "licence_id = ?4 OR licence_id = ?5 OR licence_id = ?6 OR "
	    "licence_id = ?7 OR licence_id = ?8 OR licence_id = ?9 OR "
	    "licence_id = ?10 OR licence_id = ?11 OR licence_id = ?12 OR "
	    "licence_id = ?13 OR licence_id = ?14 OR licence_id = ?15 OR "
	    "licence_id = ?16",
	[ST_CHG_PUT] = "INSERT INTO change_events (event_id, type, "
	    "licence_type, licence_id, at, body) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6)",
	/* An event copied from another store keeps its seq (?7). */
	[ST_CHG_IMPORT] = "INSERT INTO change_events (event_id, type, "
	    "licence_type, licence_id, at, body, seq) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7)",
	[ST_CHG_PAGE] = "SELECT " CHANGE_COLS " FROM change_events "
	    "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	/* A creation row starts after the feed's last event; a removal
	 * row's after_seq means nothing (0). */
	[ST_SUB_PUT] = "INSERT INTO subscriptions (name, url, types, events, "
	    "secret, at, removed, after_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7, CASE WHEN ?7 THEN 0 ELSE (SELECT coalesce(max(seq), 0) FROM "
	    "change_events) END)",
	[ST_SUB_IMPORT] = "INSERT INTO subscriptions (name, url, types, "
	    "events, secret, at, removed, after_seq, seq) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_SUB_PAGE] = "SELECT " SUB_COLS " FROM subscriptions "
	    "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[ST_SUB_ATTEMPT] = "INSERT INTO sub_attempts (sub, event_seq, at_ms, "
	    "status, result) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* Delivery goes in seq order, so what is delivered is everything up
	 * to the largest seq delivered; the attempts after it are the
	 * failures at the head.  Each part walks the (sub, event_seq)
	 * index. */
	[ST_SUB_PROGRESS] = "WITH d AS (SELECT coalesce(max(event_seq), 0) "
	    "AS v FROM sub_attempts WHERE sub = ?1 AND result = 'delivered') "
	    "SELECT d.v, (SELECT count(*) FROM sub_attempts WHERE sub = ?1 "
	    "AND event_seq > d.v), (SELECT coalesce(min(at_ms), 0) FROM "
	    "sub_attempts WHERE sub = ?1 AND event_seq > d.v), l.seq, "
	    "l.event_seq, l.at_ms, l.status, l.result FROM d LEFT JOIN "
	    "(SELECT * FROM sub_attempts WHERE sub = ?1 ORDER BY event_seq "
	    "DESC, seq DESC LIMIT 1) l ON 1",
	[ST_BUN_PUT] = "INSERT INTO bundles (" BUNDLE_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5)",
	[ST_BUN_BY_REF] = "SELECT " BUNDLE_COLS " FROM bundles "
	    "WHERE client = ?1 AND approval_ref = ?2",
	[ST_BUN_PAGE] = "SELECT " BUNDLE_COLS " FROM bundles "
	    "WHERE id > ?1 ORDER BY id LIMIT ?2",
	[ST_COPY_PUT] = "INSERT INTO copies (" COPY_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_COPY_GET] = "SELECT " COPY_COLS " FROM copies WHERE id = ?1",
	[ST_COPY_PAGE] = "SELECT " COPY_COLS " FROM copies WHERE id > ?1 "
	    "ORDER BY id LIMIT ?2",
	[ST_HACT_PUT] = "INSERT INTO holder_acts (" HACT_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_HACT_GET] = "SELECT " HACT_COLS " FROM holder_acts WHERE key = ?1 "
	    "AND n < ?2 ORDER BY n DESC LIMIT ?3",
	[ST_HACT_PAGE] = "SELECT " HACT_COLS " FROM holder_acts WHERE key > ?1 "
	    "OR (key = ?1 AND n > ?2) ORDER BY key, n LIMIT ?3",
	/* seq 0: the next rowid (NULL into an INTEGER PRIMARY KEY). */
	[ST_PEER_PUT] = "INSERT INTO peers (" PEER_COLS ") VALUES "
	    "(NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6)",
	[ST_PEER_PAGE] = "SELECT " PEER_COLS " FROM peers WHERE seq > ?1 "
	    "ORDER BY seq LIMIT ?2",
	[ST_CLI_ADD] = "INSERT INTO clients (name, role, token_hash, "
	    "created_at) VALUES (?1, ?2, ?3, ?4)",
	/* A client copied from another store keeps its id (?5). */
	[ST_CLI_IMPORT] = "INSERT INTO clients (name, role, token_hash, "
	    "created_at, id) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_CLI_GET] = CLIENT_SELECT "WHERE c.name = ?1",
	/* The client any row holding the hash belongs to, through either
	 * table's unique index; whether that hash is still its token is
	 * sq_client_by_token_hash's question. */
	[ST_CLI_BY_HASH] = CLIENT_SELECT "WHERE c.id = coalesce((SELECT "
	    "client_id FROM client_tokens WHERE token_hash = ?1), (SELECT id "
	    "FROM clients WHERE token_hash = ?1))",
	/* Inserts nothing when the client is unknown or revoked. */
	[ST_CLI_ROTATE] = "INSERT INTO client_tokens (client_id, token_hash, "
	    "at, supersedes) SELECT id, ?2, ?3, coalesce((SELECT max(seq) FROM "
	    "client_tokens WHERE client_id = clients.id), 0) FROM clients "
	    "WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM client_revocations "
	    "WHERE client_id = clients.id)",
	[ST_CLI_TOK_PAGE] = "SELECT t.seq, c.name, t.token_hash, t.at, "
	    "t.supersedes FROM client_tokens t JOIN clients c ON c.id = "
	    "t.client_id WHERE t.seq > ?1 ORDER BY t.seq LIMIT ?2",
	/* A row copied from another store keeps its seq (?1). */
	[ST_CLI_TOK_IMPORT] = "INSERT INTO client_tokens (seq, client_id, "
	    "token_hash, at, supersedes) SELECT ?1, id, ?3, ?4, ?5 FROM clients "
	    "WHERE name = ?2",
	[ST_CLI_LIST] = CLIENT_SELECT "ORDER BY c.id",
	/* Inserts nothing when the client is unknown or already revoked. */
	[ST_CLI_REVOKE] = "INSERT INTO client_revocations (client_id, at) "
	    "SELECT id, ?2 FROM clients WHERE name = ?1 AND NOT EXISTS "
	    "(SELECT 1 FROM client_revocations WHERE client_id = clients.id)",
	[ST_GRANTS] = "SELECT types, issuer_code, issuer_name FROM grants "
	    "WHERE client_id = ?1 ORDER BY seq",
	[ST_GRANT_ADD] = "INSERT INTO grants (client_id, types, issuer_code, "
	    "issuer_name) SELECT id, ?2, ?3, ?4 FROM clients WHERE name = ?1",
	[ST_AUDIT_PUT] = "INSERT INTO audit (at_ms, client, action, target, "
	    "holder, purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11, ?12)",
	/* A record copied from another store keeps its seq (?13). */
	[ST_AUDIT_IMPORT] = "INSERT INTO audit (at_ms, client, action, target, "
	    "holder, purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "?9, ?10, ?11, ?12, ?13)",
	/* The last chunk keyed (-1: none) and the first not yet full. */
	[ST_AUDIT_CHUNKS] = "SELECT (SELECT coalesce(max(chunk), -1) FROM "
	    "audit_chunks), (SELECT coalesce(max(seq), 0) FROM audit) / "
	    AUDIT_CHUNK,
	/* Chunk ?1's keys, sorted: "h" and the holder code, "t" and the
	 * target's last 12 characters (as the version 2 index kept them). */
	[ST_AUDIT_KEYS_PUT] = "INSERT INTO audit_keys (chunk, key, seq) "
	    "SELECT ?1, 'h' || holder, seq FROM audit WHERE seq >= ?1 * "
	    AUDIT_CHUNK " AND seq < (?1 + 1) * " AUDIT_CHUNK " AND holder IS NOT "
	    "NULL UNION ALL SELECT ?1, 't' || substr(target, -12), seq FROM audit "
	    "WHERE seq >= ?1 * " AUDIT_CHUNK " AND seq < (?1 + 1) * " AUDIT_CHUNK
	    " AND target IS NOT NULL ORDER BY 2, 3",
	[ST_AUDIT_CHUNK_PUT] = "INSERT INTO audit_chunks (chunk) VALUES (?1)",
	[ST_AUDIT_KEYED] = "SELECT coalesce(max(chunk), -1) FROM audit_chunks",
	/* The status list's input (sqlite_status.c): each licence with its
	 * latest event, one probe of the status_events_licence index per
	 * licence (its entries are in seq order within a licence). */
	/* The status list's two sides, in one order (sqlite_status.c merges
	 * them): every licence from the licences_status index alone, and
	 * the licences that have events with their events, oldest first.
	 * CROSS JOIN keeps the events outside: the planner would rather
	 * walk every licence in order, probing for its events, than sort
	 * the far fewer events. */
	[ST_STATUS_SCAN] = "SELECT type, issuer_code, seq, id FROM licences "
	    "ORDER BY type, issuer_code, seq, id",
	[ST_STATUS_EVENTS] = "SELECT l.type, l.issuer_code, l.seq, l.id, "
	    "e.action FROM status_events e CROSS JOIN licences l ON l.id = "
	    "e.licence_id ORDER BY l.type, l.issuer_code, l.seq, l.id, e.seq",
	/* Rows are never deleted and one writer numbers them: the largest
	 * rowid and event seq change with every commit that adds one. */
	[ST_STATUS_MARK] = "SELECT coalesce((SELECT max(rowid) FROM licences), "
	    "0), coalesce((SELECT max(seq) FROM status_events), 0)",
};

/* --- small helpers -------------------------------------------------- */

int
sq_nomem(void)
{
	return cs_err_set(CS_ENOMEM, "store: out of memory");
}

/* Whether db's last error was a full disk: SQLITE_FULL, or an I/O error
 * whose system call failed with ENOSPC (a write to the WAL or to the
 * shared-memory file may report either). */
static int
disk_full(sqlite3 *db)
{
	int primary = sqlite3_extended_errcode(db) & 0xff;

	return primary == SQLITE_FULL ||
	    (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC);
}

/*
 * SQLite's complaint about st's connection as this thread's message.  A
 * duplicate key is a conflict (store.h promises CS_ECONFLICT for those),
 * and so is a trigger's refusal: a number another licence carries (schema
 * version 6; the append-only triggers refuse only statements the store
 * never runs).  A missing referenced row (an event for an unknown licence)
 * is not found, a full disk is CS_EFULL (the same request may succeed once
 * space returns); anything else is a storage error.
 */
int
sq_db_fail(sqlite3_stmt *st, const char *what)
{
	sqlite3 *db = sqlite3_db_handle(st);
	int code = disk_full(db) ? CS_EFULL : CS_ESTORE;

	switch (sqlite3_extended_errcode(db)) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_TRIGGER:
		code = CS_ECONFLICT;
		break;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		code = CS_ENOTFOUND;
		break;
	}
	return cs_err_set(code, "store: %s: %s", what, sqlite3_errmsg(db));
}

/* Ready st for its next use.  Bindings are cleared because text is bound
 * SQLITE_STATIC: the caller's strings are only borrowed for the call. */
void
sq_finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind text or NULL; the text must outlive the statement's use. */
int
sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s == NULL ? sqlite3_bind_null(st, i) :
	    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/*
 * Request hashes (store.h: hex SHA-256) are stored as their 32 bytes, half
 * the space of the hex (32 bytes a licence).  The column stays TEXT in the
 * schema, whose affinity leaves a blob a blob; rows written as hex before
 * are read as they are.  Anything that is not 64 lower-case hex digits is
 * stored as text.
 */
int
sq_bind_hash(sqlite3_stmt *st, int i, const char *hex)
{
	uint8_t raw[32];

	/* Lower case only: upper-case hex read back as lower would not be
	 * the text that was written. */
	if (hex == NULL || strlen(hex) != 64 ||
	    strspn(hex, "0123456789abcdef") != 64 ||
	    cs_hex_decode_into(hex, 64, raw) != 0)
		return sq_bind_text(st, i, hex);
	return sqlite3_bind_blob(st, i, raw, sizeof(raw), SQLITE_TRANSIENT);
}

/* Text column i as SQLite holds it until the next step (NULL for SQL
 * NULL); *bad set when out of memory, so a mapper checks once after all
 * its columns. */
const char *
sq_col_text(sqlite3_stmt *st, int i, int *bad)
{
	const unsigned char *t = NULL;

	if (sqlite3_column_type(st, i) != SQLITE_NULL &&
	    (t = sqlite3_column_text(st, i)) == NULL)
		*bad = 1;
	return (const char *)t;
}

/* A copy of text column i (col_text). */
char *
sq_col_dup(sqlite3_stmt *st, int i, int *bad)
{
	const char *t = sq_col_text(st, i, bad);
	char *d = NULL;

	if (t != NULL && (d = strdup(t)) == NULL)
		*bad = 1;
	return d;
}

/* A request hash column as hex (bind_hash). */
char *
sq_col_hash(sqlite3_stmt *st, int i, int *bad)
{
	char *d;

	if (sqlite3_column_type(st, i) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, i) != 32)
		return sq_col_dup(st, i, bad);
	if ((d = malloc(65)) == NULL) {
		*bad = 1;
		return NULL;
	}
	cs_hex_encode_into(sqlite3_column_blob(st, i), 32, d);
	return d;
}

/* A packed column's text into *out: TEXT as is (what was written before
 * packing, or did not shrink), a BLOB through unpack (zrecord.h). */
static int
col_packed(sqlite3_stmt *st, int i, int (*unpack)(const void *, size_t,
    size_t, char **, size_t *), const char *what, char **out)
{
	size_t len;
	int rc, bad = 0;

	*out = NULL;
	if (sqlite3_column_type(st, i) != SQLITE_BLOB) {
		*out = sq_col_dup(st, i, &bad);
		return bad ? sq_nomem() : 0;
	}
	rc = unpack(sqlite3_column_blob(st, i),
	    (size_t)sqlite3_column_bytes(st, i), RECORD_MAX, out, &len);
	if (rc == CS_ENOMEM)
		return sq_nomem();
	if (rc != 0)
		return cs_err_wrap(CS_ESTORE, "store: a stored %s does not "
		    "inflate: ", what);
	return 0;
}

/* A stored record's JSON text into *out. */
int
sq_col_record(sqlite3_stmt *st, int i, char **out)
{
	return col_packed(st, i, cs_zrecord_unpack, "record", out);
}

/* A stored change event's body into *out. */
int
sq_col_event(sqlite3_stmt *st, int i, char **out)
{
	return col_packed(st, i, cs_zevent_unpack, "change event", out);
}

/* The cached statement id of connection c, prepared on first use. */
int
sq_prep(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
	int rc = 0;

	if (c->st[id] == NULL && sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: prepare: %s",
		    sqlite3_errmsg(c->db));
	*out = c->st[id];
	return rc;
}

/* Run a statement that returns no rows.  bound: the result of binding
 * its parameters (non-zero: fail with SQLite's message). */
int
sq_run(sqlite3_stmt *st, int bound, const char *what)
{
	int rc = 0;

	if (bound != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = sq_db_fail(st, what);
	sq_finish(st);
	return rc;
}

/* The single integer a statement returns. */
int
sq_fetch_int(sqlite3_stmt *st, int bound, int64_t *out, const char *what)
{
	int rc = 0;

	*out = 0;
	if (bound != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		rc = sq_db_fail(st, what);
	else
		*out = sqlite3_column_int64(st, 0);
	sq_finish(st);
	return rc;
}

/* The first row mapped into *elem; CS_ENOTFOUND when there is none. */
int
sq_fetch_one(sqlite3_stmt *st, int bound, const struct rowkind *k, void *elem,
    const char *what)
{
	int rc = 0, step = SQLITE_ERROR;

	if (bound == SQLITE_OK)
		step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = k->map(st, elem);
	else if (step == SQLITE_DONE)
		rc = cs_err_set(CS_ENOTFOUND, "store: %s: not found", what);
	else
		rc = sq_db_fail(st, what);
	sq_finish(st);
	return rc;
}

/* Every row, mapped onto the end of *out (*n rows of room for *cap);
 * on failure the whole array is freed and emptied. */
int
sq_fetch_append(sqlite3_stmt *st, int bound, const struct rowkind *k,
    void **out, size_t *n, size_t *cap, const char *what)
{
	char *arr = *out, *grown;
	size_t i = *n;
	int rc = 0, step = SQLITE_ERROR;

	if (bound == SQLITE_OK)
		step = sqlite3_step(st);
	while (step == SQLITE_ROW && rc == 0) {
		if (i == *cap) {
			*cap = *cap ? *cap * 2 : 8;
			if ((grown = realloc(arr, *cap * k->size)) == NULL) {
				rc = sq_nomem();
				break;
			}
			arr = grown;
		}
		if ((rc = k->map(st, arr + i * k->size)) == 0) {
			i++;
			step = sqlite3_step(st);
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = sq_db_fail(st, what);
	if (rc != 0) {
		k->free_all(arr, i);
		arr = NULL;
		i = 0;
		*cap = 0;
	}
	sq_finish(st);
	*out = arr;
	*n = i;
	return rc;
}

/* Every row, mapped into a new array (NULL when there are none). */
int
sq_fetch_all(sqlite3_stmt *st, int bound, const struct rowkind *k, void **out,
    size_t *n, const char *what)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	return sq_fetch_append(st, bound, k, out, n, &cap, what);
}

/* A page of a table read by seq: statement id with (?1 after_seq, ?2
 * limit), every row mapped (the pages certsvc copy and the feed read). */
int
sq_seq_page(struct sstore *s, enum stmt_id id, int64_t after_seq,
    size_t limit, const struct rowkind *k, void **out, size_t *n,
    const char *what)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = sq_read_stmt(s, id, &st)) == 0)
		rc = sq_fetch_all(st, sqlite3_bind_int64(st, 1, after_seq) ||
		    sqlite3_bind_int64(st, 2, (int64_t)limit), k, out, n, what);
	return rc;
}

