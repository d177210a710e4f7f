/*
 * sqlite_hacts: the SQLite store's holder acts (SPEC §10, schema
 * schema_holder_acts): a row put, a key's rows newest first, and all rows
 * in (key, n) pages for certsvc copy.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>

static int
map_hact(sqlite3_stmt *st, void *elem)
{
	cs_hact_row *r;
	int bad = 0, rc = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	r->key = sq_col_dup(st, 0, &bad);
	r->n = sqlite3_column_int64(st, 1);
	r->kind = sq_col_dup(st, 2, &bad);
	r->holder = sq_col_dup(st, 3, &bad);
	r->at = sqlite3_column_int64(st, 4);
	r->body = sq_col_dup(st, 5, &bad);
	if (bad) {
		cs_hact_row_free(r);
		r = NULL;
		rc = sq_nomem();
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
sq_hact_put(cs_store *cs, const cs_hact_row *r)
{
	struct conn *w;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	if ((rc = sq_prep(w, ST_HACT_PUT, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, r->key) ||
		    sqlite3_bind_int64(st, 2, r->n) ||
		    sq_bind_text(st, 3, r->kind) ||
		    sq_bind_text(st, 4, r->holder) ||
		    sqlite3_bind_int64(st, 5, r->at) ||
		    sq_bind_text(st, 6, r->body), "insert holder act");
	return sq_write_leave(S(cs), own, rc);
}

int
sq_hacts_get(cs_store *cs, const char *key, int64_t n_below, size_t limit,
    cs_hact_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_HACT_GET, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, key) ||
		    sqlite3_bind_int64(st, 2, n_below) ||
		    sqlite3_bind_int64(st, 3, (int64_t)limit), &hact_kind, &arr,
		    n, "holder acts");
	*out = arr;
	return rc;
}

int
sq_hacts_page(cs_store *cs, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_HACT_PAGE, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, after_key ? after_key :
		    "") || sqlite3_bind_int64(st, 2, after_key ? after_n :
		    INT64_MIN) || sqlite3_bind_int64(st, 3, (int64_t)limit),
		    &hact_kind, &arr, n, "holder acts page");
	*out = arr;
	return rc;
}
