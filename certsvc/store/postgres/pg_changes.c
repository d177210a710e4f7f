/*
 * pg_changes: the PostgreSQL store's change feed outbox (SPEC §9, schema
 * version 3): an event appended in the change's transaction under the
 * numbering lock (pg_stmt.c, PS_CHG_PUT: why), the events in pages by
 * seq, and imports that keep the source's seq.
 */
#include "store_pg_internal.h"

#include <stdlib.h>

static int
map_change(const PGresult *r, int row, void *elem)
{
	cs_change *c;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	c->seq = pg_col_i64(r, row, 0);
	c->event_id = pg_col_dup(r, row, 1, &bad);
	c->type = pg_col_dup(r, row, 2, &bad);
	c->licence_type = pg_col_dup(r, row, 3, &bad);
	c->licence_id = pg_col_dup(r, row, 4, &bad);
	c->at = pg_col_i64(r, row, 5);
	c->body = pg_col_dup(r, row, 6, &bad);
	if (bad) {
		cs_change_free(c);
		c = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_change **)elem = c;
	return rc;
}

/* free_all of the kind: the public array free function, typed. */
static void
free_changes(void *arr, size_t n)
{
	cs_changes_free(arr, n);
}

static const struct rowkind change_kind = {
	sizeof(cs_change *), map_change, free_changes
};

static void
change_params(const cs_change *ch, enum pst_id id, struct pgq *q)
{
	pq_init(q);
	pq_text(q, ch->event_id);
	pq_text(q, ch->type);
	pq_text(q, ch->licence_type);
	pq_text(q, ch->licence_id);
	pq_i64(q, ch->at);
	pq_text(q, ch->body);
	if (id == PS_CHG_IMPORT)
		pq_i64(q, ch->seq);
}

int
pg_change_append(cs_store *cs, const cs_change *ch)
{
	struct pgq q;

	change_params(ch, PS_CHG_PUT, &q);
	return pg_write_deferred(P(cs), pg_st(PS_CHG_PUT), &q,
	    "append change event");
}

static int
fill_change(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	(void)s;
	change_params(((cs_change *const *)ctx)[i], PS_CHG_IMPORT, q);
	return 0;
}

int
pg_changes_import(cs_store *cs, cs_change *const *chs, size_t n)
{
	return pg_write_batch(P(cs), pg_st(PS_CHG_IMPORT), n, fill_change,
	    (void *)chs, "append change events");
}

int
pg_changes_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n)
{
	void *arr = NULL;
	int rc = pg_seq_page(P(cs), PS_CHG_PAGE, after_seq, limit,
	    &change_kind, &arr, n, "change events page");

	*out = arr;
	return rc;
}
