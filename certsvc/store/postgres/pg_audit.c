/*
 * pg_audit: the audit trail in the PostgreSQL store: appending records,
 * and the filtered queries, one prepared statement per set of filters in
 * use, paged by sequence number.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

#define AUDIT_COLS                                                           \
	"seq, at_ms, client, action, target, holder, purpose, service_item, " \
	"case_ref, result_count, remote, request_id, result"

/* The types of an audit query's parameters ($1 after_seq, $2 client,
 * $3 action, $4 holder, $5 target, $6 since_ms, $7 until_ms, $8 limit),
 * given to the server because a query uses only some of them. */
#define INT8_OID 20
#define INT4_OID 23
#define TEXT_OID 25
static const Oid audit_types[8] = {INT8_OID, TEXT_OID, TEXT_OID, TEXT_OID,
	TEXT_OID, INT8_OID, INT8_OID, INT4_OID};

static int
map_audit(const PGresult *r, int row, void *elem)
{
	cs_audit_rec *a;
	int bad = 0, rc = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	a->seq = pg_col_i64(r, row, 0);
	a->at_ms = pg_col_i64(r, row, 1);
	a->client = pg_col_dup(r, row, 2, &bad);
	a->action = pg_col_dup(r, row, 3, &bad);
	a->target = pg_col_dup(r, row, 4, &bad);
	a->holder = pg_col_dup(r, row, 5, &bad);
	a->purpose = pg_col_dup(r, row, 6, &bad);
	a->service_item = pg_col_dup(r, row, 7, &bad);
	a->case_ref = pg_col_dup(r, row, 8, &bad);
	a->result_count = pg_col_i64(r, row, 9);
	a->remote = pg_col_dup(r, row, 10, &bad);
	a->request_id = pg_col_dup(r, row, 11, &bad);
	a->result = pg_col_dup(r, row, 12, &bad);
	if (bad) {
		cs_audit_rec_free(a);
		a = NULL;
		rc = pg_nomem();
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

/* The parameters of statement id for a: PS_AUDIT_PUT numbers it,
 * PS_AUDIT_IMPORT keeps its seq. */
static void
audit_params(const cs_audit_rec *a, enum pst_id id, struct pgq *q)
{
	pq_init(q);
	pq_i64(q, a->at_ms);
	pq_text(q, a->client);
	pq_text(q, a->action);
	pq_text(q, a->target);
	pq_text(q, a->holder);
	pq_text(q, a->purpose);
	pq_text(q, a->service_item);
	pq_text(q, a->case_ref);
	pq_i64(q, a->result_count);
	pq_text(q, a->remote);
	pq_text(q, a->request_id);
	pq_text(q, a->result);
	if (id == PS_AUDIT_IMPORT)
		pq_i64(q, a->seq);
}

int
pg_audit_append(cs_store *cs, const cs_audit_rec *a)
{
	struct pgq q;

	audit_params(a, PS_AUDIT_PUT, &q);
	return pg_write_deferred(P(cs), pg_st(PS_AUDIT_PUT), &q,
	    "append audit");
}

/* Records per statement of a group: a group of the read audit writer
 * (GROUP_MAX, audit_queue.c) is one statement; a larger one is several,
 * each well under the server's limits (1 GB a parameter) even with
 * records of a few KiB. */
#define MANY_CHUNK 1000

/* The columns of a record in the order of PS_AUDIT_PUT_MANY's
 * parameters: where each is in cs_audit_rec, and whether a number. */
static const struct {
	size_t off;
	int num;
} many_col[] = {
	{offsetof(cs_audit_rec, at_ms), 1},
	{offsetof(cs_audit_rec, client), 0},
	{offsetof(cs_audit_rec, action), 0},
	{offsetof(cs_audit_rec, target), 0},
	{offsetof(cs_audit_rec, holder), 0},
	{offsetof(cs_audit_rec, purpose), 0},
	{offsetof(cs_audit_rec, service_item), 0},
	{offsetof(cs_audit_rec, case_ref), 0},
	{offsetof(cs_audit_rec, result_count), 1},
	{offsetof(cs_audit_rec, remote), 0},
	{offsetof(cs_audit_rec, request_id), 0},
	{offsetof(cs_audit_rec, result), 0},
};
#define NCOLS (sizeof(many_col) / sizeof(many_col[0]))

/* A group being sent: the arrays of the chunk last filled, which must
 * live until pg_write_batch has sent it (libpq copies them then). */
struct many {
	const cs_audit_rec *const *recs;
	size_t n;
	char *arr[NCOLS];
};

static void
many_clear(struct many *m)
{
	size_t c;

	for (c = 0; c < NCOLS; c++) {
		free(m->arr[c]);
		m->arr[c] = NULL;
	}
}

/* Column c of records recs[0..k) as an array literal (malloc'd). */
static char *
col_array(const cs_audit_rec *const *recs, size_t k, size_t c)
{
	int64_t iv[MANY_CHUNK];
	const char *sv[MANY_CHUNK];
	const char *at;
	size_t i;

	for (i = 0; i < k; i++) {
		at = (const char *)recs[i] + many_col[c].off;
		if (many_col[c].num)
			iv[i] = *(const int64_t *)(const void *)at;
		else
			sv[i] = *(char *const *)(const void *)at;
	}
	return many_col[c].num ? pg_i64_array(iv, k, sizeof(iv[0])) :
	    pg_text_array(sv, k);
}

/* Statement i of a group: records [i * MANY_CHUNK, ...), a parameter
 * array a column. */
static int
fill_many(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	struct many *m = ctx;
	size_t from = i * MANY_CHUNK, k = m->n - from, c;

	(void)s;
	many_clear(m);
	if (k > MANY_CHUNK)
		k = MANY_CHUNK;
	pq_init(q);
	for (c = 0; c < NCOLS; c++) {
		if ((m->arr[c] = col_array(m->recs + from, k, c)) == NULL)
			return pg_nomem();
		pq_text(q, m->arr[c]);
	}
	return 0;
}

/* The read audit writer's group: one INSERT of arrays (PS_AUDIT_PUT_MANY)
 * per MANY_CHUNK records, not a statement a record (a pipeline of those
 * committed about 12,500 records/s: bench/README.md), in one savepoint
 * (pg_batch.c).  Outside a transaction it makes its own, so that the
 * group is still all or none. */
int
pg_audit_append_many(cs_store *cs, const cs_audit_rec *const *recs,
    size_t n)
{
	struct many m = { recs, n, { NULL } };
	int rc;

	rc = pg_write_batch_tx(cs, pg_st(PS_AUDIT_PUT_MANY),
	    (n + MANY_CHUNK - 1) / MANY_CHUNK, fill_many, &m, "append audit");
	many_clear(&m);
	return rc;
}

static int
fill_audit(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	(void)s;
	audit_params(((cs_audit_rec *const *)ctx)[i], PS_AUDIT_IMPORT, q);
	return 0;
}

int
pg_audit_import(cs_store *cs, cs_audit_rec *const *recs, size_t n)
{
	return pg_write_batch(P(cs), pg_st(PS_AUDIT_IMPORT), n, fill_audit,
	    (void *)recs, "append audit");
}

/* After imports: each identity sequence past the largest number stored
 * (PS_IMPORT_DONE).  setval is not transactional, which is harmless
 * here: a sequence ahead of the rows only skips numbers. */
int
pg_import_done(cs_store *cs)
{
	struct pgq q;
	PGresult *r;
	int rc;

	pq_init(&q);
	rc = pg_write(P(cs), pg_st(PS_IMPORT_DONE), &q, &r, "import: numbering");
	PQclear(r);
	return rc;
}

/*
 * The SQL of the audit query for the filters in mask, into sql: fixed
 * fragments only (the values are parameters), so each mask is one
 * prepared statement.  Each filter on a column is a range of its index
 * (column, seq), in the order of seq, so a page reads about its own rows.
 */
static void
audit_sql(unsigned mask, char *sql, size_t size)
{
	static const char *const term[] = {
		" AND client = $2", " AND action = $3", " AND holder = $4",
		" AND target = $5", " AND at_ms >= $6", " AND at_ms < $7",
		/* Literals, so that the partial index audit_denied serves
		 * the second. */
		" AND result IS NULL", " AND result = 'denied'",
	};
	size_t i, len;

	len = (size_t)snprintf(sql, size, "SELECT " AUDIT_COLS " FROM audit "
	    "WHERE seq %s $1", (mask & AF_DESC) ? "<" : ">");
	for (i = 0; i < sizeof(term) / sizeof(term[0]); i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(sql + len, size - len, "%s",
			    term[i]);
	snprintf(sql + len, size - len, " ORDER BY seq%s LIMIT $8",
	    (mask & AF_DESC) ? " DESC" : "");
}

/* since_ms is inclusive, until_ms exclusive: consecutive windows neither
 * overlap nor leave gaps.  result: "ok" for operations done (NULL in the
 * table), "denied" for refusals. */
int
pg_audit_query(cs_store *cs, const cs_audit_filter *f, cs_audit_rec ***out,
    size_t *n)
{
	struct pstmt st;
	struct pgq q;
	PGresult *r;
	char sql[1024];
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
	audit_sql(mask, sql, sizeof(sql));
	st.slot = PS__N + (int)mask;
	st.sql = sql;
	st.ntypes = 8;
	st.types = audit_types;
	pq_init(&q);
	/* $1 bounds the page from below, or newest first from above. */
	pq_i64(&q, f->before_seq > 0 ? f->before_seq : f->after_seq);
	pq_text(&q, f->client);
	pq_text(&q, f->action);
	pq_text(&q, f->holder);
	pq_text(&q, f->target);
	pq_i64(&q, f->since_ms);
	pq_i64(&q, f->until_ms);
	pq_i64(&q, limit);
	if ((rc = pg_read(P(cs), &st, &q, &r, "query audit")) == 0)
		rc = pg_fetch_all(r, &audit_kind, &arr, n);
	*out = arr;
	return rc;
}
