/*
 * sqlite_audit: the audit trail in the SQLite store: appending records,
 * keying full chunks by holder and target (schema version 4), and the
 * filtered queries, one prepared statement per set of filters.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

#define AUDIT_COLS                                                           \
	"seq, at_ms, client, action, target, holder, purpose, service_item, " \
	"case_ref, result_count, remote, request_id, result"

static int
map_audit(sqlite3_stmt *st, void *elem)
{
	cs_audit_rec *a;
	int bad = 0, rc = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	a->seq = sqlite3_column_int64(st, 0);
	a->at_ms = sqlite3_column_int64(st, 1);
	a->client = sq_col_dup(st, 2, &bad);
	a->action = sq_col_dup(st, 3, &bad);
	a->target = sq_col_dup(st, 4, &bad);
	a->holder = sq_col_dup(st, 5, &bad);
	a->purpose = sq_col_dup(st, 6, &bad);
	a->service_item = sq_col_dup(st, 7, &bad);
	a->case_ref = sq_col_dup(st, 8, &bad);
	a->result_count = sqlite3_column_int64(st, 9);
	a->remote = sq_col_dup(st, 10, &bad);
	a->request_id = sq_col_dup(st, 11, &bad);
	a->result = sq_col_dup(st, 12, &bad);
	if (bad) {
		cs_audit_rec_free(a);
		a = NULL;
		rc = sq_nomem();
	}
out:
	*(cs_audit_rec **)elem = a;
	return rc;
}

static void
free_audit(void *arr, size_t n)
{
	cs_audit_recs_free(arr, n);
}

static const struct rowkind audit_kind = {
	sizeof(cs_audit_rec *), map_audit, free_audit
};

/* Key every full audit chunk not keyed yet, in order, inside the caller's
 * transaction (schema version 4).  A chunk is full once a record of the
 * next one exists; sequence numbers are never reused for committed
 * records (the table is append-only), so a full chunk never changes. */
int
sq_index_audit_chunks(struct conn *c)
{
	sqlite3_stmt *st;
	int64_t done = 0, filling = 0;
	int rc;

	if ((rc = sq_prep(c, ST_AUDIT_CHUNKS, &st)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		done = sqlite3_column_int64(st, 0);
		filling = sqlite3_column_int64(st, 1);
	} else
		rc = sq_db_fail(st, "audit chunks");
	sq_finish(st);
	while (rc == 0 && ++done < filling)
		if ((rc = sq_prep(c, ST_AUDIT_KEYS_PUT, &st)) == 0 &&
		    (rc = sq_run(st, sqlite3_bind_int64(st, 1, done),
		    "key audit chunk")) == 0 &&
		    (rc = sq_prep(c, ST_AUDIT_CHUNK_PUT, &st)) == 0)
			rc = sq_run(st, sqlite3_bind_int64(st, 1, done),
			    "audit chunk done");
	return rc;
}

/* --- audit ---------------------------------------------------------- */

/* Insert a with statement id: ST_AUDIT_PUT numbers it, ST_AUDIT_IMPORT
 * keeps its seq (and leaves keying chunks to sq_import_done). */
static int
put_audit(cs_store *cs, const cs_audit_rec *a, enum stmt_id id)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, id, &st)) == 0)
		rc = sq_run(st, sqlite3_bind_int64(st, 1, a->at_ms) ||
		    sq_bind_text(st, 2, a->client) || sq_bind_text(st, 3, a->action) ||
		    sq_bind_text(st, 4, a->target) || sq_bind_text(st, 5, a->holder) ||
		    sq_bind_text(st, 6, a->purpose) ||
		    sq_bind_text(st, 7, a->service_item) ||
		    sq_bind_text(st, 8, a->case_ref) ||
		    sqlite3_bind_int64(st, 9, a->result_count) ||
		    sq_bind_text(st, 10, a->remote) ||
		    sq_bind_text(st, 11, a->request_id) ||
		    sq_bind_text(st, 12, a->result) ||
		    (id == ST_AUDIT_IMPORT && sqlite3_bind_int64(st, 13, a->seq)),
		    "append audit");
	/* The first record of a chunk: the one before it is full. */
	if (rc == 0 && id == ST_AUDIT_PUT && (sqlite3_last_insert_rowid(c->db) &
	    ((1 << AUDIT_CHUNK_SHIFT) - 1)) == 0)
		rc = sq_index_audit_chunks(c);
	rc = sq_write_leave(S(cs), own, rc);
out:
	return rc;
}

int
sq_audit_append(cs_store *cs, const cs_audit_rec *a)
{
	return put_audit(cs, a, ST_AUDIT_PUT);
}

static int
import_audit(cs_store *cs, const void *a)
{
	return put_audit(cs, a, ST_AUDIT_IMPORT);
}

int
sq_audit_import(cs_store *cs, cs_audit_rec *const *recs, size_t n)
{
	return sq_import_rows(cs, (void *const *)recs, n, import_audit);
}

/* After imports: the chunks the imported records filled are keyed, as
 * appending them one by one would have done.  The rest numbers itself
 * (INTEGER PRIMARY KEY takes the largest + 1). */
int
sq_import_done(cs_store *cs)
{
	struct conn *c;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) == 0)
		rc = sq_write_leave(S(cs), own, sq_index_audit_chunks(c));
	return rc;
}

/*
 * The cached audit query for the filters in mask.  Parameters keep their
 * numbers in every variant (?1 after_seq ... ?8 limit), so one binding
 * serves them all; ?8 is always used, so ?1..?8 always exist.
 *
 * A holder or target filter has no index on the audit table (schema
 * version 4): sq_audit_query reads keyed chunks one at a time through
 * audit_keys (AF_KEYED: ?9 the key, ?10 the chunk), each at most a chunk's
 * matches, then scans the records from ?10, the first sequence number not
 * keyed.  Every record is compared in full either way.
 */
static int
prep_audit(struct conn *c, unsigned mask, sqlite3_stmt **out)
{
	static const char *const term[] = {
		" AND client = ?2", " AND action = ?3", " AND holder = ?4",
		" AND target = ?5", " AND at_ms >= ?6", " AND at_ms < ?7",
		/* Literals, so that the partial index audit_denied serves
		 * the second (schema version 5). */
		" AND result IS NULL", " AND result = 'denied'",
	};
	char sql[1024];
	size_t i, len;
	int rc = 0;

	if (c->audit[mask] != NULL)
		goto out;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " AUDIT_COLS " FROM "
	    "audit WHERE %s", (mask & AF_KEYED) ? ((mask & AF_DESC) ? "seq IN "
	    "(SELECT seq FROM audit_keys WHERE chunk = ?10 AND key = ?9 AND "
	    "seq < ?11)" : "seq IN (SELECT seq FROM audit_keys WHERE chunk = "
	    "?10 AND key = ?9 AND seq > ?1)") :
	    (mask & (AF_HOLDER | AF_TARGET)) ? ((mask & AF_DESC) ?
	    "seq >= ?10 AND seq < ?11" : "seq >= max(?1 + 1, ?10)") :
	    (mask & AF_DESC) ? "seq < ?11" : "seq > ?1");
	for (i = 0; i < sizeof(term) / sizeof(term[0]); i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    "%s", term[i]);
	snprintf(sql + len, sizeof(sql) - len, " ORDER BY seq%s LIMIT ?8",
	    (mask & AF_DESC) ? " DESC" : "");
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c->audit[mask], NULL) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: prepare audit query: %s",
		    sqlite3_errmsg(c->db));
out:
	*out = c->audit[mask];
	return rc;
}

/* The last 12 characters of s (all of it when shorter), as SQLite's
 * substr(s, -12) counts them: UTF-8 characters, not bytes. */
static const char *
tail12(const char *s)
{
	const char *p = s + strlen(s);
	int n = 0;

	while (p > s && n < 12) {
		p--;
		if (((unsigned char)*p & 0xc0) != 0x80)
			n++;
	}
	return p;
}

/* ?1..?8 (and ?11, newest first) of an audit query, limit rows at most. */
static int
bind_audit(sqlite3_stmt *st, const cs_audit_filter *f, int limit)
{
	return (f->before_seq > 0 &&
	    sqlite3_bind_int64(st, 11, f->before_seq)) ||
	    sqlite3_bind_int64(st, 1, f->after_seq) ||
	    sq_bind_text(st, 2, f->client) || sq_bind_text(st, 3, f->action) ||
	    sq_bind_text(st, 4, f->holder) || sq_bind_text(st, 5, f->target) ||
	    sqlite3_bind_int64(st, 6, f->since_ms) ||
	    sqlite3_bind_int64(st, 7, f->until_ms) ||
	    sqlite3_bind_int(st, 8, limit);
}

/* Newest first (AF_DESC): the records not keyed yet, by scan, then the
 * keyed chunks from before_seq's (or the last keyed) down, until limit
 * rows.  A holder with no record in a chunk costs one probe of its keys. */
static int
audit_by_key_desc(struct conn *c, const cs_audit_filter *f, unsigned mask,
    const char *key, int64_t keyed, int limit, void **arr, size_t *n)
{
	sqlite3_stmt *st;
	int64_t ch = (f->before_seq - 1) >> AUDIT_CHUNK_SHIFT;
	size_t cap = 0;
	int rc = 0;

	if (ch > keyed && (rc = prep_audit(c, mask, &st)) == 0)
		rc = sq_fetch_append(st, bind_audit(st, f, limit) ||
		    sqlite3_bind_int64(st, 10, (keyed + 1) << AUDIT_CHUNK_SHIFT),
		    &audit_kind, arr, n, &cap, "query audit");
	for (ch = ch < keyed ? ch : keyed; rc == 0 && ch >= 0 &&
	    *n < (size_t)limit; ch--)
		if ((rc = prep_audit(c, mask | AF_KEYED, &st)) == 0)
			rc = sq_fetch_append(st, bind_audit(st, f, limit - (int)*n) ||
			    sq_bind_text(st, 9, key) || sqlite3_bind_int64(st, 10, ch),
			    &audit_kind, arr, n, &cap, "query audit");
	return rc;
}

/* A holder or target filter (prep_audit): the keyed chunks from
 * after_seq's on, in order, until limit rows; then the rest by scan. */
static int
audit_by_key(struct conn *c, const cs_audit_filter *f, unsigned mask,
    int limit, void **arr, size_t *n)
{
	sqlite3_stmt *st;
	char *key = f->holder != NULL ? sqlite3_mprintf("h%s", f->holder) :
	    sqlite3_mprintf("t%s", tail12(f->target));
	int64_t keyed = -1, ch;
	size_t cap = 0;
	int rc;

	if (key == NULL)
		return sq_nomem();
	if ((rc = sq_prep(c, ST_AUDIT_KEYED, &st)) == 0)
		rc = sq_fetch_int(st, SQLITE_OK, &keyed, "audit chunks");
	if (rc == 0 && (mask & AF_DESC)) {
		rc = audit_by_key_desc(c, f, mask, key, keyed, limit, arr, n);
		goto out;
	}
	for (ch = f->after_seq >> AUDIT_CHUNK_SHIFT; rc == 0 && ch <= keyed &&
	    *n < (size_t)limit; ch++)
		if ((rc = prep_audit(c, mask | AF_KEYED, &st)) == 0)
			rc = sq_fetch_append(st, bind_audit(st, f, limit - (int)*n) ||
			    sq_bind_text(st, 9, key) || sqlite3_bind_int64(st, 10, ch),
			    &audit_kind, arr, n, &cap, "query audit");
	if (rc == 0 && *n < (size_t)limit &&
	    (rc = prep_audit(c, mask, &st)) == 0)
		rc = sq_fetch_append(st, bind_audit(st, f, limit - (int)*n) ||
		    sqlite3_bind_int64(st, 10, (keyed + 1) << AUDIT_CHUNK_SHIFT),
		    &audit_kind, arr, n, &cap, "query audit");
out:
	sqlite3_free(key);
	return rc;
}

/* since_ms is inclusive, until_ms exclusive: consecutive windows neither
 * overlap nor leave gaps. */
int
sq_audit_query(cs_store *cs, const cs_audit_filter *f, cs_audit_rec ***out,
    size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	void *arr = NULL;
	unsigned mask;
	int rc, limit;

	*n = 0;
	limit = f->limit <= 0 ? AUDIT_LIMIT_DEFAULT :
	    f->limit > AUDIT_LIMIT_MAX ? AUDIT_LIMIT_MAX : f->limit;
	mask = (f->client ? AF_CLIENT : 0) | (f->action ? AF_ACTION : 0) |
	    (f->holder ? AF_HOLDER : 0) | (f->target ? AF_TARGET : 0) |
	    (f->since_ms ? AF_SINCE : 0) | (f->until_ms ? AF_UNTIL : 0) |
	    (f->result == NULL ? 0 : strcmp(f->result, "ok") == 0 ? AF_OK :
	    AF_DENIED) | (f->before_seq > 0 ? AF_DESC : 0);
	if ((rc = sq_read_conn(S(cs), &c)) != 0)
		goto out;
	if (mask & (AF_HOLDER | AF_TARGET))
		rc = audit_by_key(c, f, mask, limit, &arr, n);
	else if ((rc = prep_audit(c, mask, &st)) == 0)
		rc = sq_fetch_all(st, bind_audit(st, f, limit), &audit_kind, &arr,
		    n, "query audit");
out:
	*out = arr;
	return rc;
}

