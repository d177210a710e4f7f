/*
 * sqlite_peers: the SQLite store's peer libraries (SPEC §11): a row
 * appended each time one is added, updated or removed, and the rows in
 * seq order (what the domain folds into the current peers, and what
 * certsvc copy pages through).
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>

static int
map_peer(sqlite3_stmt *st, void *elem)
{
	cs_peer_row *p;
	int bad = 0, rc = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	p->seq = sqlite3_column_int64(st, 0);
	p->name = sq_col_dup(st, 1, &bad);
	p->trust_list = sq_col_dup(st, 2, &bad);
	p->status_list = sq_col_dup(st, 3, &bad);
	p->actor = sq_col_dup(st, 4, &bad);
	p->at = sqlite3_column_int64(st, 5);
	if (bad) {
		cs_peer_row_free(p);
		p = NULL;
		rc = sq_nomem();
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
sq_peer_put(cs_store *cs, const cs_peer_row *p)
{
	struct conn *w;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	if ((rc = sq_prep(w, ST_PEER_PUT, &st)) == 0)
		rc = sq_run(st, sqlite3_bind_int64(st, 1, p->seq) ||
		    sq_bind_text(st, 2, p->name) ||
		    sq_bind_text(st, 3, p->trust_list) ||
		    sq_bind_text(st, 4, p->status_list) ||
		    sq_bind_text(st, 5, p->actor) ||
		    sqlite3_bind_int64(st, 6, p->at), "insert peer");
	return sq_write_leave(S(cs), own, rc);
}

int
sq_peers_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n)
{
	void *arr = NULL;
	int rc = sq_seq_page(S(cs), ST_PEER_PAGE, after_seq, limit,
	    &peer_kind, &arr, n, "peers page");

	*out = arr;
	return rc;
}
