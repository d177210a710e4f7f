/*
 * pg_licences: licence rows in the PostgreSQL store (records packed by
 * zrecord.h, committed rows through the licence cache, pages by holder,
 * numbers, sequence numbers), their status events, and bundles.
 */
#include "store_pg_internal.h"

#include "cs_err.h"
#include "lcache.h"
#include "zrecord.h"

#include <stdlib.h>
#include <string.h>

/* --- row mappers ---------------------------------------------------- */

/* Row row of r (LICENCE_COLS) as one allocation (store.h). */
static int
map_licence(const PGresult *r, int row, void *elem)
{
	cs_licence_row lr = {0}, *out = NULL;
	char *record = NULL;
	int rc;

	lr.id = (char *)pg_col_text(r, row, 0);
	lr.type = (char *)pg_col_text(r, row, 1);
	lr.issuer_code = (char *)pg_col_text(r, row, 2);
	lr.seq = pg_col_i64(r, row, 3);
	lr.holder_code = (char *)pg_col_text(r, row, 4);
	lr.number = (char *)pg_col_text(r, row, 5);
	lr.client = (char *)pg_col_text(r, row, 6);
	lr.approval_ref = (char *)pg_col_text(r, row, 7);
	lr.request_hash = (char *)pg_col_text(r, row, 8);
	lr.bundle = (char *)pg_col_text(r, row, 9);
	lr.supersedes = (char *)pg_col_text(r, row, 10);
	lr.issued_at = pg_col_i64(r, row, 11);
	if ((rc = pg_col_record(r, row, 12, &record)) == 0) {
		lr.record = record;
		if ((out = cs_licence_row_copy(&lr)) == NULL)
			rc = pg_nomem();
	}
	free(record);
	*(cs_licence_row **)elem = out;
	return rc;
}

static int
map_event(const PGresult *r, int row, void *elem)
{
	cs_event *e;
	int bad = 0, rc = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	e->seq = pg_col_i64(r, row, 0);
	e->licence_id = pg_col_dup(r, row, 1, &bad);
	e->at = pg_col_i64(r, row, 2);
	e->actor = pg_col_dup(r, row, 3, &bad);
	e->action = pg_col_dup(r, row, 4, &bad);
	e->kind = pg_col_dup(r, row, 5, &bad);
	e->reason = pg_col_dup(r, row, 6, &bad);
	e->ref = pg_col_dup(r, row, 7, &bad);
	if (bad) {
		cs_event_free(e);
		e = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_event **)elem = e;
	return rc;
}

static int
map_bundle(const PGresult *r, int row, void *elem)
{
	cs_bundle_row *b;
	int bad = 0, rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	b->id = pg_col_dup(r, row, 0, &bad);
	b->client = pg_col_dup(r, row, 1, &bad);
	b->approval_ref = pg_col_dup(r, row, 2, &bad);
	b->request_hash = pg_col_dup(r, row, 3, &bad);
	b->created_at = pg_col_i64(r, row, 4);
	if (bad) {
		cs_bundle_row_free(b);
		b = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_bundle_row **)elem = b;
	return rc;
}

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

/*
 * The first n rows of r as licences into a new array.  Committed rows
 * (read outside a transaction) go through the licence cache: a row it
 * holds is copied instead of inflating its record again, and the rows
 * inflated are kept.  A row read inside a transaction may still be rolled
 * back: never cached.  r is left to the caller.
 */
static int
map_licences(struct pgstore *s, const PGresult *r, int n, int committed,
    cs_licence_row ***out)
{
	cs_licence_row **rows = NULL;
	int i, rc = 0;

	*out = NULL;
	if (n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL)
		return pg_nomem();
	for (i = 0; i < n && rc == 0; i++) {
		if (committed && cs_lcache_get(s->lc, pg_col_text(r, i, 0),
		    &rows[i]))
			continue;
		if ((rc = map_licence(r, i, &rows[i])) == 0 && committed)
			cs_lcache_put(s->lc, rows[i]);
	}
	if (rc != 0) {
		cs_licence_rows_free(rows, (size_t)n);
		rows = NULL;
	}
	*out = rows;
	return rc;
}

/* --- licences ------------------------------------------------------- */

/*
 * The record as stored: packed (zrecord.h) into the packer's buffer (*z
 * set, *zlen its length), or the text itself when that would not be
 * smaller.  Called under the writer token, which owns the packer.
 */
static int
pack_record(struct pgstore *s, const char *text, const void **z,
    size_t *zlen)
{
	size_t n = strlen(text);
	int rc = 0;

	if (n > RECORD_MAX)
		return cs_err_set(CS_ETOOBIG, "store: record of %zu bytes is "
		    "over the limit of %d", n, RECORD_MAX);
	*z = NULL;
	if (s->packer != NULL)
		rc = cs_zrecord_pack(s->packer, text, n, z, zlen);
	if (rc == 0 && *z == NULL) {
		*z = text;
		*zlen = n;
	}
	return rc;
}

/* A licence row; the record is packed under the writer token, whose
 * holder owns the packer. */
/* The parameters of PS_LIC_PUT for lr into q; the packed record stays
 * in the packer's buffer until the next pack (the caller holds the
 * writer token, which owns the packer). */
static int
licence_params(struct pgstore *s, const cs_licence_row *lr, struct pgq *q)
{
	const void *z = NULL;
	size_t zlen = 0;
	int rc = 0;

	if (lr->record != NULL)
		rc = pack_record(s, lr->record, &z, &zlen);
	pq_init(q);
	pq_text(q, lr->id);
	pq_text(q, lr->type);
	pq_text(q, lr->issuer_code);
	pq_i64(q, lr->seq);
	pq_text(q, lr->holder_code);
	pq_text(q, lr->number);
	pq_text(q, lr->client);
	pq_text(q, lr->approval_ref);
	pq_text(q, lr->request_hash);
	pq_text(q, lr->bundle);
	pq_text(q, lr->supersedes);
	pq_i64(q, lr->issued_at);
	if (z != NULL)
		pq_bin(q, z, zlen);
	else
		pq_text(q, NULL);
	return rc;
}

int
pg_licence_put(cs_store *cs, const cs_licence_row *lr)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r = NULL;
	int rc, own;

	if ((rc = pg_write_enter(s, &own)) != 0)
		return rc;
	if ((rc = licence_params(s, lr, &q)) == 0)
		rc = pg_write_run(s, own, pg_st(PS_LIC_PUT), &q, &r,
		    "insert licence");
	/* The trigger moved the counter (pg_numbering.c). */
	if (rc == 0 && !own)
		pg_num_stored(s, lr->type, lr->issuer_code, lr->seq);
	PQclear(r);
	pg_write_leave(s, own);
	return rc;
}

static int
fill_licence(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	return licence_params(s, ((cs_licence_row *const *)ctx)[i], q);
}

/* The largest seq of each (type, issuer) in an import's batch, as
 * licence rows (only those three members are read). */
#define RAISE_MAX 64
struct raise {
	const cs_licence_row *top[RAISE_MAX];
	size_t n;
};

static void
raise_note(struct raise *rs, const cs_licence_row *lr)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->top[i]->type, lr->type) == 0 &&
		    strcmp(rs->top[i]->issuer_code, lr->issuer_code) == 0) {
			if (lr->seq > rs->top[i]->seq)
				rs->top[i] = lr;
			return;
		}
	/* More pairs than that in one batch: the trigger raises the rest,
	 * a rewrite a licence, as before. */
	if (rs->n < RAISE_MAX)
		rs->top[rs->n++] = lr;
}

static int
fill_raise(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	const cs_licence_row *lr = ((struct raise *)ctx)->top[i];

	(void)s;
	pq_init(q);
	pq_text(q, lr->type);
	pq_text(q, lr->issuer_code);
	pq_i64(q, lr->seq);
	return 0;
}

/*
 * A batch of licences keeping their numbers.  First the numbering
 * counters go to the batch's largest seq of each type and issuer, one
 * statement a pair: otherwise the trigger rewrites the counter row with
 * each licence, and each rewrite leaves a version that the next one
 * walks past, O(n^2) in a batch (pg_schema.c, "Numbering"): half the
 * time of copying a million licences.  Should the licences then be
 * refused, the counter stays ahead of them, which only skips numbers (as
 * PS_IMPORT_DONE's setval does).
 */
int
pg_licences_import(cs_store *cs, cs_licence_row *const *rows, size_t n)
{
	struct pgstore *s = P(cs);
	struct raise rs;
	size_t i;
	int rc;

	/* Numbers kept by the source, not under this side's locks. */
	pg_num_forget(s);
	rs.n = 0;
	for (i = 0; i < n; i++)
		raise_note(&rs, rows[i]);
	if ((rc = pg_write_batch(s, pg_st(PS_SEQ_RAISE), rs.n, fill_raise, &rs,
	    "raise numbering")) != 0)
		return rc;
	return pg_write_batch(s, pg_st(PS_LIC_PUT), n, fill_licence,
	    (void *)rows, "insert licences");
}

cs_lcache *
pg_licence_cache(cs_store *cs)
{
	return P(cs)->lc;
}

int
pg_licence_get(cs_store *cs, const char *id, cs_licence_row **out)
{
	struct pgstore *s = P(cs);
	cs_licence_row **rows = NULL;
	struct pgq q;
	PGresult *r;
	int rc, committed = !pg_holds(s);

	*out = NULL;
	/* Outside a transaction a read sees committed rows only: those may
	 * be cached, and a committed licence never changes. */
	if (committed && cs_lcache_get(s->lc, id, out))
		return 0;
	pq_init(&q);
	pq_text(&q, id);
	if ((rc = pg_read(s, pg_st(PS_LIC_GET), &q, &r, "get licence")) != 0)
		return rc;
	if (PQntuples(r) < 1)
		rc = cs_err_set(CS_ENOTFOUND, "store: get licence: not found");
	else if ((rc = map_licences(s, r, 1, committed, &rows)) == 0) {
		*out = rows[0];
		free(rows);
	}
	PQclear(r);
	return rc;
}

int
pg_licence_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_licence_row **out)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*out = NULL;
	pq_init(&q);
	pq_text(&q, client);
	pq_text(&q, approval_ref);
	if ((rc = pg_read(P(cs), pg_st(PS_LIC_BY_REF), &q, &r,
	    "licence by approval_ref")) == 0)
		rc = pg_fetch_one(r, &licence_kind, out,
		    "licence by approval_ref");
	return rc;
}

/* The licence rows of a statement, through the licence cache when they
 * are committed. */
static int
read_licences(struct pgstore *s, enum pst_id id, const struct pgq *q,
    cs_licence_row ***out, size_t *n, const char *what)
{
	PGresult *r;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_read(s, pg_st(id), q, &r, what)) != 0)
		return rc;
	if ((rc = map_licences(s, r, PQntuples(r), !pg_holds(s), out)) == 0)
		*n = (size_t)PQntuples(r);
	PQclear(r);
	return rc;
}

/* Where a page starting at position pos begins in the holder index: its
 * issued_at.  CS_EINVAL when pos is no licence of the holder's (a cursor
 * the caller made up). */
static int
page_start(struct pgstore *s, const char *holder_code, int64_t pos,
    int64_t *issued_at)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*issued_at = INT64_MAX;
	if (pos == 0)
		return 0;
	pq_init(&q);
	pq_i64(&q, pos);
	pq_text(&q, holder_code);
	if ((rc = pg_read(s, pg_st(PS_LIC_POS_AT), &q, &r, "page start")) != 0)
		return rc;
	if (PQntuples(r) < 1)
		rc = cs_err_set(CS_EINVAL, "store: %lld is not a position of "
		    "this holder's licences", (long long)pos);
	else
		*issued_at = pg_col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

/* One row more than the page is read: its position (the last column) is
 * where the next page starts. */
int
pg_licences_by_holder(cs_store *cs, const char *holder_code, const char *type,
    int64_t *pos, size_t limit, cs_licence_row ***out, size_t *n)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int64_t at;
	int rc, rows;

	*out = NULL;
	*n = 0;
	if ((rc = page_start(s, holder_code, *pos, &at)) != 0)
		return rc;
	pq_init(&q);
	pq_text(&q, holder_code);
	pq_text(&q, type);
	pq_i64(&q, at);
	pq_i64(&q, *pos ? *pos : INT64_MAX);
	pq_i64(&q, limit < INT64_MAX ? (int64_t)limit + 1 : INT64_MAX);
	if ((rc = pg_read(s, pg_st(PS_LIC_BY_HOLDER), &q, &r,
	    "licences by holder")) != 0)
		return rc;
	rows = PQntuples(r);
	*pos = 0;
	if ((size_t)rows > limit) {
		*pos = pg_col_i64(r, (int)limit, 13);
		rows = (int)limit;
	}
	if ((rc = map_licences(s, r, rows, !pg_holds(s), out)) == 0)
		*n = (size_t)rows;
	else
		*pos = 0;
	PQclear(r);
	return rc;
}

int
pg_licences_by_client(cs_store *cs, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, f->client);
	pq_text(&q, f->approval_ref);
	pq_i64(&q, f->from ? f->from : INT64_MIN);
	pq_i64(&q, f->until ? f->until : INT64_MAX);
	pq_i64(&q, f->after_id ? f->after_at : INT64_MIN);
	pq_text(&q, f->after_id ? f->after_id : "");
	pq_i64(&q, (int64_t)f->limit);
	return read_licences(P(cs), PS_LIC_BY_CLIENT, &q, out, n,
	    "licences by client");
}

int
pg_licences_by_number(cs_store *cs, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, number);
	pq_text(&q, holder_code);
	return read_licences(P(cs), PS_LIC_BY_NUMBER, &q, out, n,
	    "licences by number");
}

int
pg_licence_number_taken(cs_store *cs, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken)
{
	struct pgq q;
	PGresult *r;
	int64_t v = 0;
	int rc;

	pq_init(&q);
	pq_text(&q, number);
	pq_text(&q, type);
	pq_text(&q, issuer_code);
	pq_text(&q, serial);
	if ((rc = pg_read(P(cs), pg_st(PS_NUMBER_TAKEN), &q, &r,
	    "number taken")) == 0)
		rc = pg_fetch_int(r, &v, "number taken");
	*taken = v != 0;
	return rc;
}

int
pg_licences_by_bundle(cs_store *cs, const char *bundle_id,
    cs_licence_row ***out, size_t *n)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, bundle_id);
	return read_licences(P(cs), PS_LIC_BY_BUNDLE, &q, out, n,
	    "licences by bundle");
}

/*
 * Inside a transaction the number comes from the counter row, locked
 * until the transaction ends (PS_NEXT_SEQ_LOCK): another node numbering
 * the same type and issuer waits for this transaction, then counts its
 * licence.  Outside one nothing is held, so a read does.
 */
int
pg_licence_next_seq(cs_store *cs, const char *type, const char *issuer_code,
    int64_t *out)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int rc;

	*out = 0;
	pq_init(&q);
	pq_text(&q, type);
	pq_text(&q, issuer_code);
	if (pg_holds(s)) {
		/* Locked by an earlier call of this transaction: the
		 * database would answer what was kept (pg_numbering.c). */
		if (pg_doomed(s) == 0 && pg_num_get(s, type, issuer_code, out))
			return 0;
		rc = pg_write(s, pg_st(PS_NEXT_SEQ_LOCK), &q, &r, "next seq");
		if (rc == 0 && (rc = pg_fetch_int(r, out, "next seq")) == 0)
			pg_num_locked(s, type, issuer_code, *out);
		return rc;
	}
	rc = pg_read(s, pg_st(PS_NEXT_SEQ), &q, &r, "next seq");
	if (rc == 0)
		rc = pg_fetch_int(r, out, "next seq");
	return rc;
}

int
pg_licence_count(cs_store *cs, int64_t *out)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*out = 0;
	pq_init(&q);
	if ((rc = pg_read(P(cs), pg_st(PS_LIC_COUNT), &q, &r,
	    "count licences")) == 0)
		rc = pg_fetch_int(r, out, "count licences");
	return rc;
}

/* --- status events -------------------------------------------------- */

/* CS_ENOTFOUND when the licence does not exist (foreign key). */
/* The parameters of statement id for ev: PS_EV_PUT numbers it,
 * PS_EV_IMPORT keeps its seq. */
static void
event_params(const cs_event *ev, enum pst_id id, struct pgq *q)
{
	pq_init(q);
	pq_text(q, ev->licence_id);
	pq_i64(q, ev->at);
	pq_text(q, ev->actor);
	pq_text(q, ev->action);
	pq_text(q, ev->kind);
	pq_text(q, ev->reason);
	pq_text(q, ev->ref);
	if (id == PS_EV_IMPORT)
		pq_i64(q, ev->seq);
}

/* The licence's cached status is dropped (pg_status.c): at once when the
 * append is a transaction of its own, else when the transaction ends. */
int
pg_event_append(cs_store *cs, const cs_event *ev)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int rc, in_tx = pg_holds(s);

	event_params(ev, PS_EV_PUT, &q);
	rc = pg_write(s, pg_st(PS_EV_PUT), &q, &r, "append event");
	PQclear(r);
	if (in_tx)
		pg_status_touch(s, ev->licence_id);
	else
		cs_lcache_events_drop(s->lc, ev->licence_id);
	return rc;
}

static int
fill_event(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	(void)s;
	event_params(((cs_event *const *)ctx)[i], PS_EV_IMPORT, q);
	return 0;
}

int
pg_events_import(cs_store *cs, cs_event *const *evs, size_t n)
{
	struct pgstore *s = P(cs);

	if (pg_holds(s))
		pg_status_touch_all(s);
	return pg_write_batch(s, pg_st(PS_EV_IMPORT), n, fill_event,
	    (void *)evs, "append events");
}

/* Through the status cache outside a transaction (pg_status.c). */
int
pg_events_for(cs_store *cs, const char *licence_id, cs_event ***out,
    size_t *n)
{
	struct pgstore *s = P(cs);
	struct pgsread sr;
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	int rc;

	if (pg_status_read(s, &sr) &&
	    pg_status_get(s, &sr, licence_id, out, n))
		return 0;
	pq_init(&q);
	pq_text(&q, licence_id);
	if ((rc = pg_read(s, pg_st(PS_EV_FOR), &q, &r, "events")) == 0)
		rc = pg_fetch_all(r, &event_kind, &arr, n);
	*out = arr;
	if (rc == 0)
		pg_status_put(s, &sr, licence_id, *out, *n);
	return rc;
}

/*
 * The events of the licences ids[miss[0..m)] in one statement, grouped in
 * that order, into *evs (*ne of them), with the count of each into
 * counts[miss[k]]; each licence's are kept in the status cache.
 */
static int
events_of_missed(struct pgstore *s, const struct pgsread *sr,
    const char *const *ids, const size_t *miss, size_t m, size_t *counts,
    cs_event ***evs, size_t *ne)
{
	const char **want = NULL;
	char *arr = NULL;
	struct pgq q;
	PGresult *r = NULL;
	void *got = NULL;
	size_t k, at, i;
	int rc = 0, row;

	*evs = NULL;
	*ne = 0;
	if ((want = calloc(m, sizeof(*want))) == NULL)
		return pg_nomem();
	for (k = 0; k < m; k++)
		want[k] = ids[miss[k]];
	if ((arr = pg_text_array(want, m)) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	pq_init(&q);
	pq_text(&q, arr);
	if ((rc = pg_read(s, pg_st(PS_EV_FOR_MANY), &q, &r,
	    "events of licences")) != 0)
		goto out;
	/* The last column is each row's place in want, from 1. */
	for (row = 0; row < PQntuples(r); row++) {
		k = (size_t)pg_col_i64(r, row, 8) - 1;
		if (k < m)
			counts[miss[k]]++;
	}
	rc = pg_fetch_all(r, &event_kind, &got, ne);
	r = NULL;
	if (rc != 0)
		goto out;
	*evs = got;
	for (k = 0, at = 0; k < m; at += counts[miss[k]], k++) {
		i = miss[k];
		pg_status_put(s, sr, ids[i], counts[i] ? *evs + at : NULL,
		    counts[i]);
	}
out:
	PQclear(r);
	free(arr);
	free(want);
	return rc;
}

/* The cached licences' events from the cache, the others' from one
 * statement, put together in the order of ids. */
int
pg_events_for_many(cs_store *cs, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t **counts, size_t *total)
{
	struct pgstore *s = P(cs);
	struct pgsread sr;
	cs_event ***hit = NULL, **missed = NULL, **all = NULL, **src;
	size_t *miss = NULL, *cnt = NULL, i, k = 0, m = 0, nm = 0, sum = 0;
	size_t at = 0, size = n_ids ? n_ids : 1;
	int rc = 0;

	*out = NULL;
	*counts = NULL;
	*total = 0;
	if ((cnt = calloc(size, sizeof(*cnt))) == NULL ||
	    (hit = calloc(size, sizeof(*hit))) == NULL ||
	    (miss = calloc(size, sizeof(*miss))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	pg_status_read(s, &sr);
	for (i = 0; i < n_ids; i++)
		if (!pg_status_get(s, &sr, ids[i], &hit[i], &cnt[i]))
			miss[m++] = i;
	if (m > 0 && (rc = events_of_missed(s, &sr, ids, miss, m, cnt,
	    &missed, &nm)) != 0)
		goto out;
	for (i = 0; i < n_ids; i++)
		sum += cnt[i];
	if (sum > 0 && (all = calloc(sum, sizeof(*all))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	/* The missed licences' events are in the order of miss, which is
	 * the order of ids: taken from the front as they come.  Every event
	 * moves into all, and the arrays that held them go. */
	for (i = 0; i < n_ids; i++) {
		if (k < m && miss[k] == i) {
			src = cnt[i] > 0 ? missed + at : NULL;
			at += cnt[i];
			k++;
		} else
			src = hit[i];
		if (cnt[i] > 0)
			memcpy(all + *total, src, cnt[i] * sizeof(*all));
		*total += cnt[i];
		free(hit[i]);
		hit[i] = NULL;
	}
	free(missed);
	missed = NULL;
	nm = 0;
	*out = all;
	*counts = cnt;
	cnt = NULL;
out:
	for (i = 0; hit != NULL && i < n_ids; i++)
		if (hit[i] != NULL)
			cs_events_free(hit[i], cnt[i]);
	cs_events_free(missed, nm);
	free(hit);
	free(miss);
	free(cnt);
	return rc;
}

/* --- bundles -------------------------------------------------------- */

int
pg_bundle_put(cs_store *cs, const cs_bundle_row *b)
{
	struct pgq q;
	PGresult *r;
	int rc;

	pq_init(&q);
	pq_text(&q, b->id);
	pq_text(&q, b->client);
	pq_text(&q, b->approval_ref);
	pq_text(&q, b->request_hash);
	pq_i64(&q, b->created_at);
	rc = pg_write(P(cs), pg_st(PS_BUN_PUT), &q, &r, "insert bundle");
	PQclear(r);
	return rc;
}

int
pg_bundle_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_bundle_row **out)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*out = NULL;
	pq_init(&q);
	pq_text(&q, client);
	pq_text(&q, approval_ref);
	if ((rc = pg_read(P(cs), pg_st(PS_BUN_BY_REF), &q, &r,
	    "bundle by approval_ref")) == 0)
		rc = pg_fetch_one(r, &bundle_kind, out,
		    "bundle by approval_ref");
	return rc;
}

/* --- pages, for copying a library ----------------------------------- */

/* Past the licence cache: a copy reads each row once, and would only push
 * out the rows the service reads again. */
int
pg_licences_page(cs_store *cs, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int rc, rows;

	*out = NULL;
	*n = 0;
	pq_init(&q);
	pq_i64(&q, *pos);
	pq_i64(&q, (int64_t)limit);
	if ((rc = pg_read(s, pg_st(PS_LIC_PAGE), &q, &r, "licences page")) != 0)
		return rc;
	rows = PQntuples(r);
	if ((rc = map_licences(s, r, rows, 0, out)) == 0) {
		*n = (size_t)rows;
		if (rows > 0)
			*pos = pg_col_i64(r, rows - 1, 13);
	}
	PQclear(r);
	return rc;
}

int
pg_events_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n)
{
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	int rc;

	*n = 0;
	pq_init(&q);
	pq_i64(&q, after_seq);
	pq_i64(&q, (int64_t)limit);
	if ((rc = pg_read(P(cs), pg_st(PS_EV_PAGE), &q, &r, "events page")) == 0)
		rc = pg_fetch_all(r, &event_kind, &arr, n);
	*out = arr;
	return rc;
}

int
pg_bundles_page(cs_store *cs, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n)
{
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	int rc;

	*n = 0;
	pq_init(&q);
	pq_text(&q, after_id != NULL ? after_id : "");
	pq_i64(&q, (int64_t)limit);
	if ((rc = pg_read(P(cs), pg_st(PS_BUN_PAGE), &q, &r,
	    "bundles page")) == 0)
		rc = pg_fetch_all(r, &bundle_kind, &arr, n);
	*out = arr;
	return rc;
}
