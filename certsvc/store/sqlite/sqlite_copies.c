/*
 * sqlite_copies: the SQLite store's annotated copies (加注件, SPEC §12):
 * a copy's row put and found by its id (schema version 7), and the copies
 * in pages by id for certsvc copy.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>

static int
map_copy(sqlite3_stmt *st, void *elem)
{
	cs_copy_row *c;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	c->id = sq_col_dup(st, 0, &bad);
	c->licence_id = sq_col_dup(st, 1, &bad);
	c->client = sq_col_dup(st, 2, &bad);
	c->purpose = sq_col_dup(st, 3, &bad);
	c->used_by_name = sq_col_dup(st, 4, &bad);
	c->used_by_code = sq_col_dup(st, 5, &bad);
	c->created_at = sqlite3_column_int64(st, 6);
	c->expires_at = sqlite3_column_int64(st, 7);
	if (bad) {
		cs_copy_row_free(c);
		c = NULL;
		rc = sq_nomem();
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
sq_copy_put(cs_store *cs, const cs_copy_row *c)
{
	struct conn *w;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	if ((rc = sq_prep(w, ST_COPY_PUT, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, c->id) ||
		    sq_bind_text(st, 2, c->licence_id) ||
		    sq_bind_text(st, 3, c->client) ||
		    sq_bind_text(st, 4, c->purpose) ||
		    sq_bind_text(st, 5, c->used_by_name) ||
		    sq_bind_text(st, 6, c->used_by_code) ||
		    sqlite3_bind_int64(st, 7, c->created_at) ||
		    sqlite3_bind_int64(st, 8, c->expires_at), "insert copy");
	return sq_write_leave(S(cs), own, rc);
}

int
sq_copy_get(cs_store *cs, const char *id, cs_copy_row **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = sq_read_stmt(S(cs), ST_COPY_GET, &st)) == 0)
		rc = sq_fetch_one(st, sq_bind_text(st, 1, id), &copy_kind, out,
		    "copy");
	return rc;
}

int
sq_copies_page(cs_store *cs, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_COPY_PAGE, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, after_id ? after_id : "") ||
		    sqlite3_bind_int64(st, 2, (int64_t)limit), &copy_kind, &arr, n,
		    "copies page");
	*out = arr;
	return rc;
}
