/*
 * sqlite_status: what the status list (SPEC §11) is built from on SQLite:
 * every licence with its latest status event (one statement, one
 * snapshot), and the mark that tells a server its list is out of date.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"

int
sq_status_scan(cs_store *cs, cs_status_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	cs_status_row row;
	int bad = 0, rc, step;

	if ((rc = sq_read_stmt(S(cs), ST_STATUS_SCAN, &st)) != 0)
		return rc;
	/* One statement is one read transaction: the scan sees the
	 * database as it was when it began, whatever commits meanwhile. */
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		row.id = sq_col_text(st, 0, &bad);
		row.type = sq_col_text(st, 1, &bad);
		row.issuer_code = sq_col_text(st, 2, &bad);
		row.seq = sqlite3_column_int64(st, 3);
		row.action = sq_col_text(st, 4, &bad);
		if (bad || row.id == NULL || row.type == NULL ||
		    row.issuer_code == NULL) {
			rc = sq_nomem();
			break;
		}
		if ((rc = fn(ctx, &row)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = sq_db_fail(st, "status scan");
	sq_finish(st);
	return rc;
}

int
sq_status_mark(cs_store *cs, int64_t mark[2])
{
	sqlite3_stmt *st;
	int rc;

	mark[0] = mark[1] = 0;
	if ((rc = sq_read_stmt(S(cs), ST_STATUS_MARK, &st)) != 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = sq_db_fail(st, "status mark");
	} else {
		mark[0] = sqlite3_column_int64(st, 0);
		mark[1] = sqlite3_column_int64(st, 1);
	}
	sq_finish(st);
	return rc;
}
