/*
 * sqlite_subs: the SQLite store's subscriptions (SPEC §9): their rows,
 * appended (a removal is a row), read in pages by seq and imported
 * keeping their seq; the delivery attempts the sender appends and the
 * progress read back from them.  One process writes a SQLite file, so
 * its sender always holds the lease.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

static int
map_sub(sqlite3_stmt *st, void *elem)
{
	cs_sub_row *r;
	int bad = 0, rc = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	r->seq = sqlite3_column_int64(st, 0);
	r->name = sq_col_dup(st, 1, &bad);
	r->url = sq_col_dup(st, 2, &bad);
	r->types = sq_col_dup(st, 3, &bad);
	r->events = sq_col_dup(st, 4, &bad);
	r->secret = sq_col_dup(st, 5, &bad);
	r->after_seq = sqlite3_column_int64(st, 6);
	r->at = sqlite3_column_int64(st, 7);
	r->removed = sqlite3_column_int(st, 8) != 0;
	if (bad) {
		cs_sub_row_free(r);
		r = NULL;
		rc = sq_nomem();
	}
out:
	*(cs_sub_row **)elem = r;
	return rc;
}

/* free_all of the kind: the public array free function, typed. */
static void
free_subs(void *arr, size_t n)
{
	cs_sub_rows_free(arr, n);
}

static const struct rowkind sub_kind = {
	sizeof(cs_sub_row *), map_sub, free_subs
};

/* Insert row with statement id: ST_SUB_PUT numbers it, ST_SUB_IMPORT
 * keeps its seq and after_seq. */
static int
put_sub(cs_store *cs, const cs_sub_row *r, enum stmt_id id)
{
	struct conn *w;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	if ((rc = sq_prep(w, id, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, r->name) ||
		    sq_bind_text(st, 2, r->url) ||
		    sq_bind_text(st, 3, r->types) ||
		    sq_bind_text(st, 4, r->events) ||
		    sq_bind_text(st, 5, r->secret) ||
		    sqlite3_bind_int64(st, 6, r->at) ||
		    sqlite3_bind_int(st, 7, r->removed != 0) ||
		    (id == ST_SUB_IMPORT &&
		    (sqlite3_bind_int64(st, 8, r->after_seq) ||
		    sqlite3_bind_int64(st, 9, r->seq))), "append subscription");
	return sq_write_leave(S(cs), own, rc);
}

int
sq_sub_put(cs_store *cs, const cs_sub_row *row)
{
	return put_sub(cs, row, ST_SUB_PUT);
}

static int
import_sub(cs_store *cs, const void *row)
{
	return put_sub(cs, row, ST_SUB_IMPORT);
}

int
sq_subs_import(cs_store *cs, cs_sub_row *const *rows, size_t n)
{
	return sq_import_rows(cs, (void *const *)rows, n, import_sub);
}

int
sq_subs_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n)
{
	void *arr = NULL;
	int rc = sq_seq_page(S(cs), ST_SUB_PAGE, after_seq, limit,
	    &sub_kind, &arr, n, "subscriptions page");

	*out = arr;
	return rc;
}

/* The writer entered once for all n: one transaction when the caller
 * has none. */
int
sq_sub_attempt_append(cs_store *cs, const cs_sub_attempt *a, size_t n)
{
	struct conn *w;
	sqlite3_stmt *st;
	size_t i;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = sq_prep(w, ST_SUB_ATTEMPT, &st)) == 0)
			rc = sq_run(st, sqlite3_bind_int64(st, 1, a[i].sub) ||
			    sqlite3_bind_int64(st, 2, a[i].event_seq) ||
			    sqlite3_bind_int64(st, 3, a[i].at_ms) ||
			    sqlite3_bind_int64(st, 4, a[i].status) ||
			    sq_bind_text(st, 5, a[i].result),
			    "append delivery attempt");
	return sq_write_leave(S(cs), own, rc);
}

static int
map_progress(sqlite3_stmt *st, void *elem)
{
	cs_sub_progress *p = elem;
	int bad = 0;

	p->delivered = sqlite3_column_int64(st, 0);
	p->head_attempts = sqlite3_column_int64(st, 1);
	p->head_first_ms = sqlite3_column_int64(st, 2);
	p->last.seq = sqlite3_column_int64(st, 3);
	p->last.event_seq = sqlite3_column_int64(st, 4);
	p->last.at_ms = sqlite3_column_int64(st, 5);
	p->last.status = sqlite3_column_int64(st, 6);
	p->last.result = sq_col_dup(st, 7, &bad);
	return bad ? sq_nomem() : 0;
}

static const struct rowkind progress_kind = {
	sizeof(cs_sub_progress), map_progress, NULL
};

int
sq_sub_progress(cs_store *cs, int64_t sub, cs_sub_progress *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_read_stmt(S(cs), ST_SUB_PROGRESS, &st)) == 0)
		rc = sq_fetch_one(st, sqlite3_bind_int64(st, 1, sub),
		    &progress_kind, out, "delivery progress");
	out->last.sub = sub;
	return rc;
}

int
sq_sub_lease(cs_store *cs, int64_t sub, const char *node, int64_t ttl_ms,
    int *held)
{
	(void)cs;
	(void)sub;
	(void)node;
	(void)ttl_ms;
	*held = 1;
	return 0;
}
