/*
 * pg_copies: the PostgreSQL store's annotated copies (加注件, SPEC §12):
 * a copy's row put and found by its id (schema version 2), and the copies
 * in pages by id for certsvc copy.
 */
#include "store_pg_internal.h"

#include <stdlib.h>

static int
map_copy(const PGresult *r, int row, void *elem)
{
	cs_copy_row *c;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	c->id = pg_col_dup(r, row, 0, &bad);
	c->licence_id = pg_col_dup(r, row, 1, &bad);
	c->client = pg_col_dup(r, row, 2, &bad);
	c->purpose = pg_col_dup(r, row, 3, &bad);
	c->used_by_name = pg_col_dup(r, row, 4, &bad);
	c->used_by_code = pg_col_dup(r, row, 5, &bad);
	c->created_at = pg_col_i64(r, row, 6);
	c->expires_at = pg_col_i64(r, row, 7);
	if (bad) {
		cs_copy_row_free(c);
		c = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_copy_row **)elem = c;
	return rc;
}

/* free_all of the kind: the public array free function, typed. */
static void
free_copies(void *arr, size_t n)
{
	cs_copy_rows_free(arr, n);
}

static const struct rowkind copy_kind = {
	sizeof(cs_copy_row *), map_copy, free_copies
};

int
pg_copy_put(cs_store *cs, const cs_copy_row *c)
{
	struct pgq q;
	PGresult *r;
	int rc;

	pq_init(&q);
	pq_text(&q, c->id);
	pq_text(&q, c->licence_id);
	pq_text(&q, c->client);
	pq_text(&q, c->purpose);
	pq_text(&q, c->used_by_name);
	pq_text(&q, c->used_by_code);
	pq_i64(&q, c->created_at);
	pq_i64(&q, c->expires_at);
	rc = pg_write(P(cs), pg_st(PS_COPY_PUT), &q, &r, "insert copy");
	PQclear(r);
	return rc;
}

int
pg_copy_get(cs_store *cs, const char *id, cs_copy_row **out)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*out = NULL;
	pq_init(&q);
	pq_text(&q, id);
	if ((rc = pg_read(P(cs), pg_st(PS_COPY_GET), &q, &r, "copy")) == 0)
		rc = pg_fetch_one(r, &copy_kind, out, "copy");
	return rc;
}

int
pg_copies_page(cs_store *cs, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n)
{
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	int rc;

	*n = 0;
	pq_init(&q);
	pq_text(&q, after_id != NULL ? after_id : "");
	pq_i64(&q, (int64_t)limit);
	if ((rc = pg_read(P(cs), pg_st(PS_COPY_PAGE), &q, &r,
	    "copies page")) == 0)
		rc = pg_fetch_all(r, &copy_kind, &arr, n);
	*out = arr;
	return rc;
}
