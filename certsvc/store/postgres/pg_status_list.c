/*
 * pg_status_list: what the status list (SPEC §11) is built from on PostgreSQL:
 * every licence with its latest status event, read in pages in the order
 * stored (a million licences in one result would hold them all in
 * memory at once), and the mark that tells a node its list is out of date.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

/* Licences a page: about 1.5 MB of result at 150 bytes a row. */
#define STATUS_PAGE 10000

/* fn over the rows of one page; *pos is then the page's last position. */
static int
page_rows(PGresult *r, cs_status_fn fn, void *ctx, int64_t *pos)
{
	cs_status_row row;
	int i, rows = PQntuples(r), rc = 0;

	for (i = 0; i < rows && rc == 0; i++) {
		*pos = pg_col_i64(r, i, 0);
		row.id = pg_col_text(r, i, 1);
		row.type = pg_col_text(r, i, 2);
		row.issuer_code = pg_col_text(r, i, 3);
		row.seq = pg_col_i64(r, i, 4);
		row.action = pg_col_text(r, i, 5);
		rc = fn(ctx, &row);
	}
	return rc;
}

int
pg_status_scan(cs_store *cs, cs_status_fn fn, void *ctx)
{
	struct pgq q;
	PGresult *r;
	int64_t pos = 0;
	int rc, rows;

	do {
		pq_init(&q);
		pq_i64(&q, pos);
		pq_i64(&q, STATUS_PAGE);
		if ((rc = pg_read(P(cs), pg_st(PS_STATUS_PAGE), &q, &r,
		    "status scan")) != 0)
			break;
		rows = PQntuples(r);
		rc = page_rows(r, fn, ctx, &pos);
		PQclear(r);
	} while (rc == 0 && rows == STATUS_PAGE);
	return rc;
}

int
pg_status_mark(cs_store *cs, int64_t mark[2])
{
	struct pgq q;
	PGresult *r;
	int rc;

	mark[0] = mark[1] = 0;
	pq_init(&q);
	if ((rc = pg_read(P(cs), pg_st(PS_STATUS_MARK), &q, &r,
	    "status mark")) != 0)
		return rc;
	if (PQntuples(r) < 1 || PQnfields(r) < 2) {
		rc = cs_err_set(CS_ESTORE, "store: status mark: no row");
	} else {
		mark[0] = pg_col_i64(r, 0, 0);
		mark[1] = pg_col_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}
