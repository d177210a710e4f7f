/*
 * sqlite_status: what the status list (SPEC §11) is built from on SQLite:
 * every licence with its latest status event (two statements merged, one
 * snapshot), and the mark that tells a server its list is out of date.
 */
#include "store_sqlite_internal.h"

#include <string.h>

#include "cs_err.h"

/* One row of either side of the scan: the order both are read in. */
struct scan_key {
	const char *type, *issuer, *id;
	int64_t seq;
};

/* The events' side: its current row, valid until the next step. */
struct ev_side {
	sqlite3_stmt *st;
	int more;
	struct scan_key k;
	const char *action;  /* one of the constants below */
};

/* SQLite's BINARY collation compares as memcmp does, which is strcmp's
 * order for text without NULs: the ORDER BY and this agree. */
static int
key_cmp(const struct scan_key *a, const struct scan_key *b)
{
	int c;

	if ((c = strcmp(a->type, b->type)) != 0 ||
	    (c = strcmp(a->issuer, b->issuer)) != 0)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* The action as a constant, so it outlives the row it was read from
 * (the schema's CHECK allows no other). */
static const char *
action_const(const char *a)
{
	static const char *const actions[] = {"suspend", "reinstate",
		"revoke", "supersede"};
	size_t i;

	for (i = 0; a != NULL && i < sizeof(actions) / sizeof(*actions); i++)
		if (strcmp(a, actions[i]) == 0)
			return actions[i];
	return NULL;
}

static int
key_read(sqlite3_stmt *st, struct scan_key *k)
{
	int bad = 0;

	k->type = sq_col_text(st, 0, &bad);
	k->issuer = sq_col_text(st, 1, &bad);
	k->seq = sqlite3_column_int64(st, 2);
	k->id = sq_col_text(st, 3, &bad);
	return bad || k->type == NULL || k->issuer == NULL || k->id == NULL ?
	    sq_nomem() : 0;
}

static int
ev_step(struct ev_side *e)
{
	int bad = 0, rc, step = sqlite3_step(e->st);

	e->more = step == SQLITE_ROW;
	if (!e->more)
		return step == SQLITE_DONE ? 0 :
		    sq_db_fail(e->st, "status scan");
	if ((rc = key_read(e->st, &e->k)) != 0)
		return rc;
	if ((e->action = action_const(sq_col_text(e->st, 4, &bad))) == NULL)
		return bad ? sq_nomem() : cs_err_set(CS_ESTORE,
		    "store: status scan: unknown status action");
	return 0;
}

/*
 * Every licence from the licences_status index, merged with the far
 * fewer licences that have status events, both read in one order: a
 * correlated subquery instead (each licence's latest event) cost an
 * index probe a licence, half the build's CPU at 1M licences.  Both
 * statements run on this thread's connection, and the events' starts
 * while the licences' is active: one read transaction, one snapshot,
 * whatever commits meanwhile.
 */
int
sq_status_scan(cs_store *cs, cs_status_fn fn, void *ctx)
{
	struct ev_side ev = {NULL, 0, {NULL, NULL, NULL, 0}, NULL};
	sqlite3_stmt *st = NULL;
	struct scan_key k;
	cs_status_row row;
	int rc, step;

	if ((rc = sq_read_stmt(S(cs), ST_STATUS_SCAN, &st)) != 0)
		goto out;
	if ((step = sqlite3_step(st)) != SQLITE_ROW)
		goto done;
	if ((rc = sq_read_stmt(S(cs), ST_STATUS_EVENTS, &ev.st)) != 0 ||
	    (rc = ev_step(&ev)) != 0)
		goto out;
	for (; step == SQLITE_ROW; step = sqlite3_step(st)) {
		if ((rc = key_read(st, &k)) != 0)
			goto out;
		row.action = NULL;
		while (rc == 0 && ev.more && key_cmp(&ev.k, &k) < 0)
			rc = ev_step(&ev);  /* no such licence: cannot be */
		/* Oldest first: the last one read is the latest. */
		while (rc == 0 && ev.more && key_cmp(&ev.k, &k) == 0) {
			row.action = ev.action;
			rc = ev_step(&ev);
		}
		if (rc != 0)
			goto out;
		row.id = k.id;
		row.type = k.type;
		row.issuer_code = k.issuer;
		row.seq = k.seq;
		if ((rc = fn(ctx, &row)) != 0)
			goto out;
	}
done:
	if (step != SQLITE_DONE)
		rc = sq_db_fail(st, "status scan");
out:
	if (ev.st != NULL)
		sq_finish(ev.st);
	if (st != NULL)
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
