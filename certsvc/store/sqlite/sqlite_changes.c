/*
 * sqlite_changes: the SQLite store's change feed outbox (SPEC §9, schema
 * version 8): an event appended in the change's transaction, the events
 * in pages by seq, and imports that keep the source's seq.  Bodies are
 * stored packed (zrecord.h), and read back as the text that was written.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

static int
map_change(sqlite3_stmt *st, void *elem)
{
	cs_change *c;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	c->seq = sqlite3_column_int64(st, 0);
	c->event_id = sq_col_dup(st, 1, &bad);
	c->type = sq_col_dup(st, 2, &bad);
	c->licence_type = sq_col_dup(st, 3, &bad);
	c->licence_id = sq_col_dup(st, 4, &bad);
	c->at = sqlite3_column_int64(st, 5);
	if (bad)
		rc = sq_nomem();
	else
		rc = sq_col_event(st, 6, &c->body);
	if (rc != 0) {
		cs_change_free(c);
		c = NULL;
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

/*
 * Bind ch's body as parameter i: packed (zrecord.h) as a BLOB when that
 * is smaller, else as TEXT.  The column is declared TEXT, but a BLOB keeps
 * its type under TEXT affinity, which is how col_packed tells the forms
 * apart (as licences.record does).  A body over the size a read unpacks
 * (RECORD_MAX) stays text, so it still reads.  Under the writer, which
 * owns the packer; its buffer stays bound until the insert is done.
 */
static int
bind_body(struct sstore *s, sqlite3_stmt *st, int i, const char *body)
{
	const void *z = NULL;
	size_t zlen = 0;

	if (body != NULL && s->evpacker != NULL &&
	    strlen(body) <= RECORD_MAX &&
	    cs_zrecord_pack(s->evpacker, body, strlen(body), &z, &zlen) == 0 &&
	    z != NULL)
		return sqlite3_bind_blob(st, i, z, (int)zlen, SQLITE_STATIC);
	return sq_bind_text(st, i, body);
}

/* Insert ch with statement id: ST_CHG_PUT numbers it, ST_CHG_IMPORT keeps
 * its seq. */
static int
put_change(cs_store *cs, const cs_change *ch, enum stmt_id id)
{
	struct conn *w;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &w, &own)) != 0)
		return rc;
	if ((rc = sq_prep(w, id, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, ch->event_id) ||
		    sq_bind_text(st, 2, ch->type) ||
		    sq_bind_text(st, 3, ch->licence_type) ||
		    sq_bind_text(st, 4, ch->licence_id) ||
		    sqlite3_bind_int64(st, 5, ch->at) ||
		    bind_body(S(cs), st, 6, ch->body) ||
		    (id == ST_CHG_IMPORT && sqlite3_bind_int64(st, 7, ch->seq)),
		    "append change event");
	return sq_write_leave(S(cs), own, rc);
}

int
sq_change_append(cs_store *cs, const cs_change *ch)
{
	return put_change(cs, ch, ST_CHG_PUT);
}

static int
import_change(cs_store *cs, const void *ch)
{
	return put_change(cs, ch, ST_CHG_IMPORT);
}

int
sq_changes_import(cs_store *cs, cs_change *const *chs, size_t n)
{
	return sq_import_rows(cs, (void *const *)chs, n, import_change);
}

int
sq_changes_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n)
{
	void *arr = NULL;
	int rc = sq_seq_page(S(cs), ST_CHG_PAGE, after_seq, limit,
	    &change_kind, &arr, n, "change events page");

	*out = arr;
	return rc;
}
