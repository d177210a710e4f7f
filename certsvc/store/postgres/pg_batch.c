/*
 * pg_batch: many rows of one statement written inside the caller's
 * transaction as one savepoint, in pipelines of CHUNK statements, one
 * round trip each, instead of a savepoint and a round trip per row
 * (write_in_tx, pg_tx.c): what copying a library writes (store.h,
 * "Copying a library"), all of a batch or none of it.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

#include <stdio.h>

/* Statements per pipeline.  Each answers about 30 bytes: a chunk's
 * answers fit in the socket's buffer while the chunk is still being sent,
 * so the server never waits for this side to read. */
#define CHUNK 256

/* Send statements [*i, end) of the batch; *sent counts them.  A fill
 * that fails stops the sending with its code. */
static int
send_chunk(struct pgstore *s, PGconn *pg, const char *name, pg_fill_fn fill,
    void *ctx, size_t *i, size_t end, size_t *sent)
{
	struct pgq q;
	int rc;

	for (; *i < end; (*i)++) {
		pq_init(&q);
		if ((rc = fill(s, ctx, *i, &q)) != 0)
			return rc;
		/* libpq copies the values into its buffer: q and what it
		 * points to may go once this returns. */
		if (PQsendQueryPrepared(pg, name, q.n, q.v, q.len, q.fmt, 1) != 1)
			return CS_EUNAVAIL;
		(*sent)++;
	}
	return 0;
}

static int
send_plain(PGconn *pg, const char *sql, size_t *sent)
{
	if (PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1) != 1)
		return CS_EUNAVAIL;
	(*sent)++;
	return 0;
}

int
pg_write_batch(struct pgstore *s, const struct pstmt *st, size_t n,
    pg_fill_fn fill, void *ctx, const char *what)
{
	PGconn *pg;
	PGresult *bad = NULL;
	char name[16];
	size_t i = 0, sent;
	int rc, fill_rc = 0, broken = 0;

	if (!pg_holds(s))
		return cs_err_set(CS_EINVAL, "store: %s: a batch is written "
		    "inside a transaction only", what);
	/* The writes not waited for are read first: the batch's failure
	 * must be its own (its savepoint takes it back). */
	if ((rc = pg_doomed(s)) != 0 || n == 0 ||
	    (rc = pg_deferred_settle(s)) != 0 ||
	    (rc = pg_prepare(s, &s->writer, st)) != 0)
		return rc;
	pg = s->writer.pg;
	snprintf(name, sizeof(name), "cs%d", st->slot);
	if (PQenterPipelineMode(pg) != 1)
		return pg_fail(s, pg, NULL, what);
	while (!broken && fill_rc == 0 && bad == NULL && i < n) {
		sent = 0;
		broken = (i == 0 && (pg_pend_send(s, pg, &sent) != 0 ||
		    send_plain(pg, "SAVEPOINT cs_batch", &sent) != 0));
		if (!broken) {
			fill_rc = send_chunk(s, pg, name, fill, ctx, &i,
			    i + CHUNK < n ? i + CHUNK : n, &sent);
			broken = fill_rc == CS_EUNAVAIL;
		}
		if (!broken && fill_rc == 0 && i == n)
			broken = send_plain(pg, "RELEASE SAVEPOINT cs_batch",
			    &sent) != 0;
		broken = broken || PQpipelineSync(pg) != 1 ||
		    !pg_pipe_read(s, pg, sent, NULL, &bad);
	}
	if (broken) {
		/* Half a pipeline, or no answer: the connection is of no
		 * further use, and its transaction is gone with it. */
		rc = pg_fail(s, pg, bad, what);
		PQclear(bad);
		pg_writer_broken(s);
		return rc;
	}
	(void)PQexitPipelineMode(pg);
	if (bad != NULL)
		rc = pg_fail(s, pg, bad, what);
	else
		rc = fill_rc;
	PQclear(bad);
	if (rc != 0) {
		pg_num_forget(s);  /* pg_numbering.c */
		PQclear(PQexec(pg, "ROLLBACK TO SAVEPOINT cs_batch; "
		    "RELEASE SAVEPOINT cs_batch"));
	}
	return rc;
}

/* pg_write_batch, in a transaction of its own when the caller has none,
 * so that the rows are still all or none (appends of a group of records
 * that may come with or without the caller's transaction). */
int
pg_write_batch_tx(cs_store *cs, const struct pstmt *st, size_t n,
    pg_fill_fn fill, void *ctx, const char *what)
{
	struct pgstore *s = P(cs);
	int rc, own = !pg_holds(s);

	if (own && (rc = pg_begin(cs)) != 0)
		return rc;
	rc = pg_write_batch(s, st, n, fill, ctx, what);
	if (!own)
		return rc;
	if (rc != 0) {
		(void)pg_rollback(cs);
		return rc;
	}
	return pg_commit(cs);
}
