/*
 * pg_subs: the PostgreSQL store's subscriptions (SPEC §9), as
 * sqlite_subs.c, and the sending lease that lets one node at a time
 * deliver a subscription's events (§8): a row per subscription naming
 * the node and when its lease expires, by the database's clock.
 */
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

static int
map_sub(const PGresult *r, int row, void *elem)
{
	cs_sub_row *s;
	int bad = 0, rc = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	s->seq = pg_col_i64(r, row, 0);
	s->name = pg_col_dup(r, row, 1, &bad);
	s->url = pg_col_dup(r, row, 2, &bad);
	s->types = pg_col_dup(r, row, 3, &bad);
	s->events = pg_col_dup(r, row, 4, &bad);
	s->secret = pg_col_dup(r, row, 5, &bad);
	s->after_seq = pg_col_i64(r, row, 6);
	s->at = pg_col_i64(r, row, 7);
	s->removed = pg_col_i64(r, row, 8) != 0;
	if (bad) {
		cs_sub_row_free(s);
		s = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_sub_row **)elem = s;
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

static void
sub_params(const cs_sub_row *s, enum pst_id id, struct pgq *q)
{
	pq_init(q);
	pq_text(q, s->name);
	pq_text(q, s->url);
	pq_text(q, s->types);
	pq_text(q, s->events);
	pq_text(q, s->secret);
	pq_i64(q, s->at);
	pq_text(q, s->removed ? "true" : "false");
	if (id == PS_SUB_IMPORT) {
		pq_i64(q, s->after_seq);
		pq_i64(q, s->seq);
	}
}

int
pg_sub_put(cs_store *cs, const cs_sub_row *row)
{
	struct pgq q;
	PGresult *r;
	int rc;

	sub_params(row, PS_SUB_PUT, &q);
	rc = pg_write(P(cs), pg_st(PS_SUB_PUT), &q, &r, "append subscription");
	PQclear(r);
	return rc;
}

static int
fill_sub(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	(void)s;
	sub_params(((cs_sub_row *const *)ctx)[i], PS_SUB_IMPORT, q);
	return 0;
}

int
pg_subs_import(cs_store *cs, cs_sub_row *const *rows, size_t n)
{
	return pg_write_batch(P(cs), pg_st(PS_SUB_IMPORT), n, fill_sub,
	    (void *)rows, "append subscriptions");
}

int
pg_subs_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n)
{
	void *arr = NULL;
	int rc = pg_seq_page(P(cs), PS_SUB_PAGE, after_seq, limit,
	    &sub_kind, &arr, n, "subscriptions page");

	*out = arr;
	return rc;
}

static int
fill_attempt(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	const cs_sub_attempt *a = (const cs_sub_attempt *)ctx + i;

	(void)s;
	pq_init(q);
	pq_i64(q, a->sub);
	pq_i64(q, a->event_seq);
	pq_i64(q, a->at_ms);
	pq_i64(q, a->status);
	pq_text(q, a->result);
	return 0;
}

/* One pipeline (pg_batch.c) for all n, not a round trip each: the
 * sender records a turn's attempts of every subscription while it holds
 * the writer, which issuance waits for (a turn with eight subscriptions
 * at a few hundred events a second is thousands of rows). */
int
pg_sub_attempt_append(cs_store *cs, const cs_sub_attempt *a, size_t n)
{
	if (n == 0)
		return 0;
	return pg_write_batch_tx(cs, pg_st(PS_SUB_ATTEMPT), n, fill_attempt,
	    (void *)a, "append delivery attempts");
}

static int
map_progress(const PGresult *r, int row, void *elem)
{
	cs_sub_progress *p = elem;
	int bad = 0;

	p->delivered = pg_col_i64(r, row, 0);
	p->head_attempts = pg_col_i64(r, row, 1);
	p->head_first_ms = pg_col_i64(r, row, 2);
	p->last.seq = pg_col_i64(r, row, 3);
	p->last.event_seq = pg_col_i64(r, row, 4);
	p->last.at_ms = pg_col_i64(r, row, 5);
	p->last.status = pg_col_i64(r, row, 6);
	p->last.result = pg_col_dup(r, row, 7, &bad);
	return bad ? pg_nomem() : 0;
}

static const struct rowkind progress_kind = {
	sizeof(cs_sub_progress), map_progress, NULL
};

int
pg_sub_progress(cs_store *cs, int64_t sub, cs_sub_progress *out)
{
	struct pgq q;
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	pq_init(&q);
	pq_i64(&q, sub);
	if ((rc = pg_read(P(cs), pg_st(PS_SUB_PROGRESS), &q, &r,
	    "delivery progress")) == 0)
		rc = pg_fetch_one(r, &progress_kind, out, "delivery progress");
	out->last.sub = sub;
	return rc;
}

int
pg_sub_lease(cs_store *cs, int64_t sub, const char *node, int64_t ttl_ms,
    int *held)
{
	struct pgq q;
	PGresult *r = NULL;
	int rc;

	*held = 0;
	pq_init(&q);
	pq_i64(&q, sub);
	pq_text(&q, node);
	pq_i64(&q, ttl_ms);
	rc = pg_write(P(cs), pg_st(PS_SUB_LEASE), &q, &r, "sending lease");
	if (rc == 0)
		*held = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}
