/*
 * pg_peers: the PostgreSQL store's peer libraries (SPEC §11), as
 * sqlite_peers: a row appended each time one is added, updated or
 * removed, and the rows in seq order.
 */
#include "store_pg_internal.h"

#include <stdlib.h>

static int
map_peer(const PGresult *r, int row, void *elem)
{
	cs_peer_row *p;
	int bad = 0, rc = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	p->seq = pg_col_i64(r, row, 0);
	p->name = pg_col_dup(r, row, 1, &bad);
	p->trust_list = pg_col_dup(r, row, 2, &bad);
	p->status_list = pg_col_dup(r, row, 3, &bad);
	p->actor = pg_col_dup(r, row, 4, &bad);
	p->at = pg_col_i64(r, row, 5);
	if (bad) {
		cs_peer_row_free(p);
		p = NULL;
		rc = pg_nomem();
	}
out:
	*(cs_peer_row **)elem = p;
	return rc;
}

static void
free_peers(void *arr, size_t n)
{
	cs_peer_rows_free(arr, n);
}

static const struct rowkind peer_kind = {
	sizeof(cs_peer_row *), map_peer, free_peers
};

int
pg_peer_put(cs_store *cs, const cs_peer_row *p)
{
	struct pgq q;
	PGresult *r;
	int rc;

	pq_init(&q);
	pq_i64(&q, p->seq);
	pq_text(&q, p->name);
	pq_text(&q, p->trust_list);
	pq_text(&q, p->status_list);
	pq_text(&q, p->actor);
	pq_i64(&q, p->at);
	rc = pg_write(P(cs), pg_st(PS_PEER_PUT), &q, &r, "insert peer");
	PQclear(r);
	return rc;
}

int
pg_peers_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n)
{
	void *arr = NULL;
	int rc = pg_seq_page(P(cs), PS_PEER_PAGE, after_seq, limit,
	    &peer_kind, &arr, n, "peers page");

	*out = arr;
	return rc;
}
