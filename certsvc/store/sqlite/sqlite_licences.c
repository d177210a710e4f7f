/*
 * sqlite_licences: licence rows in the SQLite store (records packed by
 * zrecord.h, committed rows through the licence cache, pages by holder,
 * numbers, sequence numbers), their status events, and bundles.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"
#include "lcache.h"
#include "zrecord.h"

#include <stdlib.h>
#include <string.h>

/* --- row mappers ---------------------------------------------------- */

/* The licence cache of the store whose committed rows this thread maps
 * now (sq_licences_by_holder), else NULL: map_licence then copies a row
 * the cache holds instead of inflating its record again, and keeps the
 * rows it does inflate. */
static _Thread_local cs_lcache *map_cache;

static int
map_licence(sqlite3_stmt *st, void *elem)
{
	cs_licence_row row = {0}, *r = NULL;
	char *hash, *record = NULL;
	int bad = 0, rc;

	row.id = (char *)sq_col_text(st, 0, &bad);
	if (map_cache != NULL && row.id != NULL &&
	    cs_lcache_get(map_cache, row.id, &r)) {
		*(cs_licence_row **)elem = r;
		return 0;
	}
	/* The columns as SQLite holds them, copied with the record into
	 * one allocation (store.h). */
	row.type = (char *)sq_col_text(st, 1, &bad);
	row.issuer_code = (char *)sq_col_text(st, 2, &bad);
	row.seq = sqlite3_column_int64(st, 3);
	row.holder_code = (char *)sq_col_text(st, 4, &bad);
	row.number = (char *)sq_col_text(st, 5, &bad);
	row.client = (char *)sq_col_text(st, 6, &bad);
	row.approval_ref = (char *)sq_col_text(st, 7, &bad);
	row.request_hash = hash = sq_col_hash(st, 8, &bad);
	row.bundle = (char *)sq_col_text(st, 9, &bad);
	row.supersedes = (char *)sq_col_text(st, 10, &bad);
	row.issued_at = sqlite3_column_int64(st, 11);
	rc = sq_col_record(st, 12, &record);
	row.record = record;
	if (rc == 0 && (bad || (r = cs_licence_row_copy(&row)) == NULL))
		rc = sq_nomem();
	if (rc == 0 && map_cache != NULL)
		cs_lcache_put(map_cache, r);
	free(hash);
	free(record);
	*(cs_licence_row **)elem = r;
	return rc;
}

static int
map_event(sqlite3_stmt *st, void *elem)
{
	cs_event *e;
	int bad = 0, rc = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	e->seq = sqlite3_column_int64(st, 0);
	e->licence_id = sq_col_dup(st, 1, &bad);
	e->at = sqlite3_column_int64(st, 2);
	e->actor = sq_col_dup(st, 3, &bad);
	e->action = sq_col_dup(st, 4, &bad);
	e->kind = sq_col_dup(st, 5, &bad);
	e->reason = sq_col_dup(st, 6, &bad);
	e->ref = sq_col_dup(st, 7, &bad);
	if (bad) {
		cs_event_free(e);
		e = NULL;
		rc = sq_nomem();
	}
out:
	*(cs_event **)elem = e;
	return rc;
}

static int
map_bundle(sqlite3_stmt *st, void *elem)
{
	cs_bundle_row *b;
	int bad = 0, rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	b->id = sq_col_dup(st, 0, &bad);
	b->client = sq_col_dup(st, 1, &bad);
	b->approval_ref = sq_col_dup(st, 2, &bad);
	b->request_hash = sq_col_hash(st, 3, &bad);
	b->created_at = sqlite3_column_int64(st, 4);
	if (bad) {
		cs_bundle_row_free(b);
		b = NULL;
		rc = sq_nomem();
	}
out:
	*(cs_bundle_row **)elem = b;
	return rc;
}

/* free_all of each kind: the public array free functions, typed. */
static void
free_licences(void *arr, size_t n)
{
	cs_licence_rows_free(arr, n);
}

static void
free_events(void *arr, size_t n)
{
	cs_events_free(arr, n);
}

static void
free_bundles(void *arr, size_t n)
{
	cs_bundle_rows_free(arr, n);
}

static const struct rowkind licence_kind = {
	sizeof(cs_licence_row *), map_licence, free_licences
};
static const struct rowkind event_kind = {
	sizeof(cs_event *), map_event, free_events
};
static const struct rowkind bundle_kind = {
	sizeof(cs_bundle_row *), map_bundle, free_bundles
};
/* --- licences ------------------------------------------------------- */

/*
 * The record as stored: packed (zrecord.h) into the packer's buffer (*z
 * set, *zlen its length), or *z NULL when that would not be smaller and
 * the text is stored as it is.  Called under the writer, which owns the
 * packer.
 */
static int
pack_record(struct sstore *s, const char *text, const void **z,
    size_t *zlen)
{
	size_t n = strlen(text);

	*z = NULL;
	*zlen = 0;
	if (n > RECORD_MAX)
		return cs_err_set(CS_ETOOBIG, "store: record of %zu bytes is "
		    "over the limit of %d", n, RECORD_MAX);
	return s->packer != NULL ? cs_zrecord_pack(s->packer, text, n, z, zlen)
	    : 0;
}

/* Parameters 1-13 of ST_LIC_PUT; the record as pack_record left it. */
static int
bind_licence(sqlite3_stmt *st, const cs_licence_row *r, const void *z,
    size_t zlen)
{
	return sq_bind_text(st, 1, r->id) || sq_bind_text(st, 2, r->type) ||
	    sq_bind_text(st, 3, r->issuer_code) ||
	    sqlite3_bind_int64(st, 4, r->seq) ||
	    sq_bind_text(st, 5, r->holder_code) || sq_bind_text(st, 6, r->number) ||
	    sq_bind_text(st, 7, r->client) || sq_bind_text(st, 8, r->approval_ref) ||
	    sq_bind_hash(st, 9, r->request_hash) || sq_bind_text(st, 10, r->bundle) ||
	    sq_bind_text(st, 11, r->supersedes) ||
	    sqlite3_bind_int64(st, 12, r->issued_at) ||
	    (z != NULL ? sqlite3_bind_blob(st, 13, z, (int)zlen, SQLITE_STATIC) :
	    sq_bind_text(st, 13, r->record));
}

int
sq_licence_put(cs_store *cs, const cs_licence_row *r)
{
	struct conn *c;
	sqlite3_stmt *st;
	const void *z = NULL;
	size_t zlen = 0;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if (r->record != NULL)
		rc = pack_record(S(cs), r->record, &z, &zlen);
	if (rc == 0 && (rc = sq_prep(c, ST_LIC_PUT, &st)) == 0)
		rc = sq_run(st, bind_licence(st, r, z, zlen), "insert licence");
	rc = sq_write_leave(S(cs), own, rc);
out:
	return rc;
}

int
sq_licence_get(cs_store *cs, const char *id, cs_licence_row **out)
{
	struct sstore *s = S(cs);
	struct slot *sl;
	sqlite3_stmt *st;
	int rc, committed;

	*out = NULL;
	if ((rc = sq_slot_get(s, &sl)) != 0)
		return rc;
	/* Outside a transaction a read sees committed rows only: those may
	 * be cached (the licence cache). */
	committed = sl->depth == 0;
	if (committed && cs_lcache_get(s->lc, id, out))
		return 0;
	if ((rc = sq_read_stmt(s, ST_LIC_GET, &st)) == 0)
		rc = sq_fetch_one(st, sq_bind_text(st, 1, id), &licence_kind, out,
		    "get licence");
	if (rc == 0 && committed)
		cs_lcache_put(s->lc, *out);
	return rc;
}

cs_lcache *
sq_licence_cache(cs_store *cs)
{
	return S(cs)->lc;
}

int
sq_licence_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_licence_row **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = sq_read_stmt(S(cs), ST_LIC_BY_REF, &st)) == 0)
		rc = sq_fetch_one(st, sq_bind_text(st, 1, client) ||
		    sq_bind_text(st, 2, approval_ref), &licence_kind, out,
		    "licence by approval_ref");
	return rc;
}

/* The licence rows of statement st (bound: its binding's result), through
 * the licence cache when they are committed (sq_licence_get). */
static int
fetch_licences(struct sstore *s, sqlite3_stmt *st, int bound,
    cs_licence_row ***out, size_t *n, const char *what)
{
	struct slot *sl;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_slot_get(s, &sl)) == 0) {
		map_cache = sl->depth == 0 ? s->lc : NULL;
		rc = sq_fetch_all(st, bound, &licence_kind, &arr, n, what);
		map_cache = NULL;
	}
	*out = arr;
	return rc;
}

/* Where a page starting at rowid pos begins in the holder index: its
 * issued_at.  CS_EINVAL when pos is no licence of the holder's (a cursor
 * the caller made up). */
static int
page_start(struct sstore *s, const char *holder_code, int64_t pos,
    int64_t *issued_at)
{
	sqlite3_stmt *st;
	int rc;

	*issued_at = INT64_MAX;
	if (pos == 0)
		return 0;
	if ((rc = sq_read_stmt(s, ST_LIC_POS_AT, &st)) == 0)
		rc = sq_fetch_int(st, sqlite3_bind_int64(st, 1, pos) ||
		    sq_bind_text(st, 2, holder_code), issued_at, "page start");
	if (rc == 0 && *issued_at < 0)
		rc = cs_err_set(CS_EINVAL, "store: %lld is not a position of "
		    "this holder's licences", (long long)pos);
	return rc;
}

/* The position of row r: where the page that starts with it starts. */
static int
row_pos(struct sstore *s, const cs_licence_row *r, int64_t *pos)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_read_stmt(s, ST_LIC_POS_OF, &st)) == 0)
		rc = sq_fetch_int(st, sq_bind_text(st, 1, r->id), pos, "page end");
	return rc;
}

/* One row more than the page is read: it is where the next page starts. */
int
sq_licences_by_holder(cs_store *cs, const char *holder_code, const char *type,
    int64_t *pos, size_t limit, cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	int64_t at;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = page_start(s, holder_code, *pos, &at)) != 0 ||
	    (rc = sq_read_stmt(s, ST_LIC_BY_HOLDER, &st)) != 0)
		return rc;
	rc = fetch_licences(s, st, sq_bind_text(st, 1, holder_code) ||
	    sq_bind_text(st, 2, type) || sqlite3_bind_int64(st, 3, at) ||
	    sqlite3_bind_int64(st, 4, *pos ? *pos : INT64_MAX) ||
	    sqlite3_bind_int64(st, 5, (int64_t)limit + 1), out, n,
	    "licences by holder");
	*pos = 0;
	if (rc == 0 && *n > limit) {
		rc = row_pos(s, (*out)[limit], pos);
		cs_licence_row_free((*out)[limit]);
		*n = limit;
	}
	if (rc != 0) {
		cs_licence_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
sq_licences_by_client(cs_store *cs, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = sq_read_stmt(s, ST_LIC_BY_CLIENT, &st)) == 0)
		rc = fetch_licences(s, st, sq_bind_text(st, 1, f->client) ||
		    sq_bind_text(st, 2, f->approval_ref) ||
		    sqlite3_bind_int64(st, 3, f->from ? f->from : INT64_MIN) ||
		    sqlite3_bind_int64(st, 4, f->until ? f->until : INT64_MAX) ||
		    sqlite3_bind_int64(st, 5, f->after_id ? f->after_at : INT64_MIN) ||
		    sq_bind_text(st, 6, f->after_id ? f->after_id : "") ||
		    sqlite3_bind_int64(st, 7, (int64_t)f->limit), out, n,
		    "licences by client");
	return rc;
}

int
sq_licences_by_number(cs_store *cs, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = sq_read_stmt(s, ST_LIC_BY_NUMBER, &st)) == 0)
		rc = fetch_licences(s, st, sq_bind_text(st, 1, number) ||
		    sq_bind_text(st, 2, holder_code), out, n, "licences by number");
	return rc;
}

int
sq_licence_number_taken(cs_store *cs, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if ((rc = sq_read_stmt(S(cs), ST_NUMBER_TAKEN, &st)) == 0)
		rc = sq_fetch_int(st, sq_bind_text(st, 1, number) ||
		    sq_bind_text(st, 2, type) || sq_bind_text(st, 3, issuer_code) ||
		    sq_bind_text(st, 4, serial), &v, "number taken");
	*taken = v != 0;
	return rc;
}

int
sq_licences_by_bundle(cs_store *cs, const char *bundle_id,
    cs_licence_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_LIC_BY_BUNDLE, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, bundle_id), &licence_kind,
		    &arr, n, "licences by bundle");
	*out = arr;
	return rc;
}

int
sq_licence_next_seq(cs_store *cs, const char *type, const char *issuer_code,
    int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = sq_read_stmt(S(cs), ST_LIC_NEXT_SEQ, &st)) == 0)
		rc = sq_fetch_int(st, sq_bind_text(st, 1, type) ||
		    sq_bind_text(st, 2, issuer_code), out, "next seq");
	return rc;
}

int
sq_licence_count(cs_store *cs, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = sq_read_stmt(S(cs), ST_LIC_COUNT, &st)) == 0)
		rc = sq_fetch_int(st, SQLITE_OK, out, "count licences");
	return rc;
}

/* --- status events -------------------------------------------------- */

/* Insert ev with statement id: ST_EV_PUT numbers it, ST_EV_IMPORT keeps
 * its seq.  CS_ENOTFOUND when the licence does not exist (foreign key). */
static int
put_event(cs_store *cs, const cs_event *ev, enum stmt_id id)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, id, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, ev->licence_id) ||
		    sqlite3_bind_int64(st, 2, ev->at) ||
		    sq_bind_text(st, 3, ev->actor) || sq_bind_text(st, 4, ev->action) ||
		    sq_bind_text(st, 5, ev->kind) || sq_bind_text(st, 6, ev->reason) ||
		    sq_bind_text(st, 7, ev->ref) ||
		    (id == ST_EV_IMPORT && sqlite3_bind_int64(st, 8, ev->seq)),
		    "append event");
	rc = sq_write_leave(S(cs), own, rc);
out:
	return rc;
}

int
sq_event_append(cs_store *cs, const cs_event *ev)
{
	return put_event(cs, ev, ST_EV_PUT);
}

static int
import_event(cs_store *cs, const void *ev)
{
	return put_event(cs, ev, ST_EV_IMPORT);
}

int
sq_events_import(cs_store *cs, cs_event *const *evs, size_t n)
{
	return sq_import_rows(cs, (void *const *)evs, n, import_event);
}

static int
import_licence(cs_store *cs, const void *r)
{
	return sq_licence_put(cs, r);
}

int
sq_licences_import(cs_store *cs, cs_licence_row *const *rows, size_t n)
{
	return sq_import_rows(cs, (void *const *)rows, n, import_licence);
}

int
sq_events_for(cs_store *cs, const char *licence_id, cs_event ***out,
    size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_EV_FOR, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, licence_id), &event_kind,
		    &arr, n, "events");
	*out = arr;
	return rc;
}

static int
by_seq(const void *a, const void *b)
{
	const cs_event *x = *(cs_event *const *)a, *y = *(cs_event *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * m events evs of one batch (any order, sorted here by seq) moved onto
 * the end of *all, grouped by licence in the order of
 * ids[0..n), counts[i] each.  An event of a licence ids names twice goes
 * to the first and a copy to the other, as events_for would give both.
 */
static int
events_grouped(const char *const *ids, size_t n, cs_event **evs, size_t m,
    cs_event ***all, size_t *total, size_t *counts)
{
	cs_event **grown;
	size_t i, j, want = 0, at = *total;
	char *taken;
	int rc = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < m; j++)
			want += strcmp(evs[j]->licence_id, ids[i]) == 0;
	if (want == 0)
		return 0;
	qsort(evs, m, sizeof(*evs), by_seq);  /* m > 0: want is */
	if ((taken = calloc(m, 1)) == NULL ||
	    (grown = realloc(*all, (at + want) * sizeof(*grown))) == NULL) {
		free(taken);
		return sq_nomem();
	}
	*all = grown;
	for (i = 0; i < n && rc == 0; i++)
		for (j = 0; j < m && rc == 0; j++) {
			if (strcmp(evs[j]->licence_id, ids[i]) != 0)
				continue;
			if ((grown[at] = taken[j] ? cs_event_dup(evs[j]) :
			    evs[j]) == NULL)
				rc = sq_nomem();
			else {
				taken[j] = 1;
				at++;
				counts[i]++;
			}
		}
	/* Moved events are grown's now; the others (none, or the copies'
	 * originals when a copy failed) are freed here. */
	for (j = 0; j < m; j++)
		if (taken[j])
			evs[j] = NULL;
	*total = at;
	free(taken);
	return rc;
}

/* The events of ids[0..n), n at most EV_FOR_MANY, in one statement,
 * appended to *all as events_grouped says. */
static int
events_batch(struct sstore *s, const char *const *ids, size_t n,
    cs_event ***all, size_t *total, size_t *counts)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	size_t i, m = 0;
	int rc, bound = SQLITE_OK;

	if ((rc = sq_read_stmt(s, ST_EV_FOR_MANY, &st)) != 0)
		return rc;
	for (i = 0; i < EV_FOR_MANY && bound == SQLITE_OK; i++)
		bound = sq_bind_text(st, (int)i + 1, i < n ? ids[i] : NULL);
	if ((rc = sq_fetch_all(st, bound, &event_kind, &arr, &m,
	    "events of licences")) != 0)
		return rc;
	rc = events_grouped(ids, n, arr, m, all, total, counts);
	cs_events_free(arr, m);
	return rc;
}

/* A holder's page asks for the events of all its licences at once: one
 * statement (one read transaction, whose start and end cost SQLite more
 * than the probe) for EV_FOR_MANY licences instead of one each. */
int
sq_events_for_many(cs_store *cs, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t **counts, size_t *total)
{
	cs_event **all = NULL;
	size_t *cnt, at, k;
	int rc = 0;

	*out = NULL;
	*counts = NULL;
	*total = 0;
	if ((cnt = calloc(n_ids ? n_ids : 1, sizeof(*cnt))) == NULL)
		return sq_nomem();
	for (at = 0; at < n_ids && rc == 0; at += k) {
		k = n_ids - at < EV_FOR_MANY ? n_ids - at : EV_FOR_MANY;
		rc = events_batch(S(cs), ids + at, k, &all, total, cnt + at);
	}
	if (rc != 0) {
		cs_events_free(all, *total);
		free(cnt);
		*total = 0;
		return rc;
	}
	*out = all;
	*counts = cnt;
	return 0;
}

/* --- bundles -------------------------------------------------------- */

int
sq_bundle_put(cs_store *cs, const cs_bundle_row *b)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, ST_BUN_PUT, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, b->id) ||
		    sq_bind_text(st, 2, b->client) ||
		    sq_bind_text(st, 3, b->approval_ref) ||
		    sq_bind_hash(st, 4, b->request_hash) ||
		    sqlite3_bind_int64(st, 5, b->created_at), "insert bundle");
	rc = sq_write_leave(S(cs), own, rc);
out:
	return rc;
}

int
sq_bundle_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_bundle_row **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = sq_read_stmt(S(cs), ST_BUN_BY_REF, &st)) == 0)
		rc = sq_fetch_one(st, sq_bind_text(st, 1, client) ||
		    sq_bind_text(st, 2, approval_ref), &bundle_kind, out,
		    "bundle by approval_ref");
	return rc;
}


/* --- pages, for copying a library ----------------------------------- */

/* Pages are read past the licence cache: a copy reads each row once, and
 * would only push out the rows the service reads again. */
int
sq_licences_page(cs_store *cs, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(s, ST_LIC_PAGE, &st)) == 0)
		rc = sq_fetch_all(st, sqlite3_bind_int64(st, 1, *pos) ||
		    sqlite3_bind_int64(st, 2, (int64_t)limit), &licence_kind, &arr,
		    n, "licences page");
	*out = arr;
	if (rc == 0 && *n > 0 && (rc = row_pos(s, (*out)[*n - 1], pos)) != 0) {
		cs_licence_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
sq_events_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_EV_PAGE, &st)) == 0)
		rc = sq_fetch_all(st, sqlite3_bind_int64(st, 1, after_seq) ||
		    sqlite3_bind_int64(st, 2, (int64_t)limit), &event_kind, &arr, n,
		    "events page");
	*out = arr;
	return rc;
}

int
sq_bundles_page(cs_store *cs, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = sq_read_stmt(S(cs), ST_BUN_PAGE, &st)) == 0)
		rc = sq_fetch_all(st, sq_bind_text(st, 1, after_id ? after_id : "") ||
		    sqlite3_bind_int64(st, 2, (int64_t)limit), &bundle_kind, &arr, n,
		    "bundles page");
	*out = arr;
	return rc;
}
