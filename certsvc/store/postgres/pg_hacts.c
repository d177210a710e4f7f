/*
 * pg_hacts: the PostgreSQL store's holder acts (SPEC §10), as
 * sqlite_hacts.c: a row put, a key's rows newest first, and all rows in
 * (key, n) pages for certsvc copy.
 */
#include "store_pg_internal.h"

#include <stdlib.h>

static int
map_hact(const PGresult *res, int row, void *elem)
{
	cs_hact_row *r;
	int bad = 0, rc = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	r->key = pg_col_dup(res, row, 0, &bad);
	r->n = pg_col_i64(res, row, 1);
	r->kind = pg_col_dup(res, row, 2, &bad);
	r->holder = pg_col_dup(res, row, 3, &bad);
	r->at = pg_col_i64(res, row, 4);
	r->body = pg_col_dup(res, row, 5, &bad);
	if (bad) {
		cs_hact_row_free(r);
		r = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_hact_row **)elem = r;
	return rc;
}

static void
free_hacts(void *arr, size_t n)
{
	cs_hact_rows_free(arr, n);
}

static const struct rowkind hact_kind = {
	sizeof(cs_hact_row *), map_hact, free_hacts
};

int
pg_hact_put(cs_store *cs, const cs_hact_row *r)
{
	struct pgq q;
	PGresult *res;
	int rc;

	pq_init(&q);
	pq_text(&q, r->key);
	pq_i64(&q, r->n);
	pq_text(&q, r->kind);
	pq_text(&q, r->holder);
	pq_i64(&q, r->at);
	pq_text(&q, r->body);
	rc = pg_write(P(cs), pg_st(PS_HACT_PUT), &q, &res, "insert holder act");
	PQclear(res);
	return rc;
}

static int
fetch(cs_store *cs, enum pst_id id, struct pgq *q, cs_hact_row ***out, size_t *n)
{
	PGresult *res;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = pg_read(P(cs), pg_st(id), q, &res, "holder acts")) == 0)
		rc = pg_fetch_all(res, &hact_kind, &arr, n);
	*out = arr;
	return rc;
}

int
pg_hacts_get(cs_store *cs, const char *key, int64_t n_below, size_t limit,
    cs_hact_row ***out, size_t *n)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, key);
	pq_i64(&q, n_below);
	pq_i64(&q, (int64_t)limit);
	return fetch(cs, PS_HACT_GET, &q, out, n);
}

int
pg_hacts_page(cs_store *cs, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, after_key != NULL ? after_key : "");
	pq_i64(&q, after_key != NULL ? after_n : INT64_MIN);
	pq_i64(&q, (int64_t)limit);
	return fetch(cs, PS_HACT_PAGE, &q, out, n);
}
