/*
 * pg_tx: transactions of the PostgreSQL store: the writer token (this
 * process's single writer), nested levels as savepoints, each write call
 * inside a transaction made atomic on its own, what a lost connection
 * does to a transaction, and the begin/commit/rollback ops.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

#include <string.h>

/*
 * The writer token.  One thread at a time writes on the writer
 * connection: the holder of the token, taken at the outermost begin() (or
 * by a write call outside a transaction, for that call) and given back
 * when that level ends.  The holder's thread-specific value of s->key is
 * s, so a thread knows without a lock whether it holds the token, and a
 * thread that exits holding it has its transaction rolled back
 * (pg_thread_exit) instead of leaving every other writer waiting.
 *
 * No group commit here: commit_window_ms is not used.  A COMMIT is one
 * round trip to a server that syncs its own WAL, and the service already
 * groups issuances into one transaction above the store (tx_queue.c); the
 * token is held through the COMMIT, so commits of one node are in order.
 * Other nodes write beside this one: what keeps them apart is in the
 * database (keys, the number trigger, the numbering counter's row lock;
 * pg_schema.c).
 *
 * Statement errors.  PostgreSQL aborts a whole transaction at the first
 * failed statement, where SQLite fails that statement only, and store.h
 * promises the latter ("a conflict inside it fails that call only").  So
 * a write call inside a transaction runs inside a savepoint of its own:
 * SAVEPOINT, the statement and RELEASE go in one pipeline (one round
 * trip), and a failure rolls back to the savepoint, leaving the
 * transaction as it was before the call.
 *
 * Levels without round trips.  An inner level's SAVEPOINT cs (begin)
 * and RELEASE SAVEPOINT cs (commit) are not sent on their own: they wait
 * (pend_rel, pend_sp) and go first in the round trip of the next
 * statement on the writer, whatever it is; a level that ends before any
 * statement sends neither, and the outermost COMMIT or ROLLBACK ends
 * every savepoint, so RELEASEs waiting then are dropped.  Such a RELEASE
 * can fail only with the connection (its savepoint exists: this file
 * made it), so an inner commit has nothing to report; what the deferred
 * statements would have reported, the next one does.  A write call's own
 * savepoint is not released either (up to CALLS_KEPT a level): a later
 * SAVEPOINT of the same name nests inside it, a ROLLBACK TO names the
 * newest, and the level's RELEASE, ROLLBACK TO or the COMMIT ends all of
 * them, so each call saves its RELEASE statement.  The server's
 * subtransaction nesting grows by at most CALLS_KEPT a level.
 *
 * Writes not waited for.  An audit record or a change event appended
 * inside a transaction (store.h: neither has a key its caller can hit)
 * goes into the writer's pipeline with neither a savepoint nor a sync,
 * and nothing waits for it (pg_write_deferred): its result is read at
 * the next statement that waits anyway, in that statement's round trip
 * (in_tx, the COMMIT), or on its own before a statement that cannot share
 * it (pg_deferred_settle: a ROLLBACK TO, a batch, a first PREPARE).  One
 * that failed dooms the transaction (doomed): PostgreSQL skips the rest
 * of the pipeline up to its sync, so the statement waiting fails too;
 * every call that follows fails as after a lost connection (pg_doomed),
 * a level's rollback does nothing, and the outermost commit() rolls back
 * and fails, even when a ROLLBACK TO would have cleared the server's
 * aborted state: a licence never commits without its audit record and
 * its change event.
 *
 * A lost connection.  When the writer's connection dies inside a
 * transaction, PostgreSQL rolls that transaction back; every call that
 * follows in it fails with CS_EUNAVAIL, its commit() too, and its
 * rollback() succeeds.  The next begin() connects again.  A connection
 * lost while COMMIT was on its way leaves the outcome unknown: that
 * commit() returns CS_EUNAVAIL, never 0 (SPEC §8: 503, not 201).
 */

/* Call savepoints a level leaves unreleased, at most (see above). */
#define CALLS_KEPT 16

/* Writes not waited for, at most, before their results are read: their
 * answers must fit in the socket's buffer while more are being sent, or
 * the server and this side would each wait for the other to read
 * (pg_batch.c's CHUNK: the same reason). */
#define DEFERRED_MAX 256

static void
token_take(struct pgstore *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->busy)
		pthread_cond_wait(&s->tok_cv, &s->mu);
	s->busy = 1;
	pthread_mutex_unlock(&s->mu);
}

static void
token_give(struct pgstore *s)
{
	pthread_mutex_lock(&s->mu);
	s->busy = 0;
	pthread_cond_signal(&s->tok_cv);
	pthread_mutex_unlock(&s->mu);
}

/* Whether the calling thread holds the writer token. */
int
pg_holds(struct pgstore *s)
{
	return pthread_getspecific(s->key) != NULL;
}

/* 0, or why the holder's transaction cannot commit: CS_EUNAVAIL when it
 * died with its connection, the failure of a write not waited for. */
int
pg_doomed(struct pgstore *s)
{
	if (s->lost)
		return cs_err_set(CS_EUNAVAIL, "store: the connection to "
		    "PostgreSQL was lost: the transaction was rolled back");
	if (s->doomed)
		return cs_err_set(s->doomed, "store: the transaction cannot "
		    "commit: %s", s->doomed_msg);
	return 0;
}

void
pg_writer_broken(struct pgstore *s)
{
	pg_conn_close(&s->writer);
	s->lost = 1;
	s->deferred = 0;
	pg_num_forget(s);
}

/* A write not waited for failed with r: the transaction is doomed (the
 * first failure says why). */
static void
doom(struct pgstore *s, PGconn *pg, const PGresult *r)
{
	int rc = pg_fail(s, pg, r, "an audit record or change event not "
	    "waited for");

	if (!s->doomed) {
		s->doomed = rc;
		snprintf(s->doomed_msg, sizeof(s->doomed_msg), "%s",
		    cs_err_msg());
	}
}

/*
 * Read the writer's pipeline up to its sync (store_pg_internal.h says
 * what goes where).  Each result is followed by NULL; after a failure
 * the rest are PGRES_PIPELINE_ABORTED.  0 also when the pipeline never
 * ended (the guard).
 */
int
pg_pipe_read(struct pgstore *s, PGconn *pg, size_t at, PGresult **mine,
    PGresult **bad)
{
	PGresult *r;
	size_t k = 0, guard, ndef = (size_t)s->deferred;

	s->deferred = 0;
	for (guard = 0; guard < 64 + 2 * (at + ndef); guard++) {
		if ((r = PQgetResult(pg)) == NULL) {
			if (PQstatus(pg) == CONNECTION_BAD)
				return 0;
			k++;
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			return 1;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			if (mine != NULL && k == at && *mine == NULL) {
				*mine = r;
				r = NULL;
			}
			break;
		case PGRES_PIPELINE_ABORTED:
			break;
		default:
			if (k < ndef)
				doom(s, pg, r);
			else if (*bad == NULL) {
				*bad = r;
				r = NULL;
			}
		}
		PQclear(r);
	}
	return 0;
}

int
pg_deferred_settle(struct pgstore *s)
{
	PGconn *pg = s->writer.pg;
	PGresult *bad = NULL;
	int synced;

	if (s->deferred == 0)
		return pg_doomed(s);
	synced = PQpipelineSync(pg) == 1 && pg_pipe_read(s, pg, 0, NULL, &bad);
	PQclear(bad);  /* none: only writes not waited for were sent */
	if (!synced) {
		(void)pg_fail(s, pg, NULL, "a write not waited for");
		pg_writer_broken(s);
	} else
		(void)PQexitPipelineMode(pg);
	return pg_doomed(s);
}

/* Run a statement without parameters on the writer (transaction
 * control).  quietly: leave this thread's message alone (clean-up after
 * an error whose message matters). */
static int
wexec(struct pgstore *s, const char *sql, int quietly)
{
	PGconn *pg = s->writer.pg;
	PGresult *r;
	char both[512];
	int rc = 0;

	/* Not in a pipeline: whatever the writes not waited for said is
	 * read first (a failure dooms the transaction, not this). */
	if (s->deferred > 0) {
		(void)pg_deferred_settle(s);
		if (s->lost)
			return quietly ? CS_EUNAVAIL : pg_doomed(s);
	}
	/* The deferred level statements first, in the same round trip. */
	if (s->pend_rel + s->pend_sp > 0) {
		size_t k = 0;

		both[0] = '\0';
		for (; s->pend_rel > 0 && k + 40 < sizeof(both); s->pend_rel--)
			k += (size_t)snprintf(both + k, sizeof(both) - k,
			    "RELEASE SAVEPOINT cs; ");
		for (; s->pend_sp > 0 && k + 40 < sizeof(both); s->pend_sp--)
			k += (size_t)snprintf(both + k, sizeof(both) - k,
			    "SAVEPOINT cs; ");
		if (s->pend_rel + s->pend_sp > 0 ||
		    k + strlen(sql) + 1 > sizeof(both))
			return cs_err_set(CS_ESTORE, "store: too many savepoint "
			    "statements waiting");
		memcpy(both + k, sql, strlen(sql) + 1);
		sql = both;
	}
	r = PQexec(pg, sql);

	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = quietly ? CS_ESTORE : pg_fail(s, pg, r, sql);
	if (PQstatus(pg) == CONNECTION_BAD)
		s->lost = 1;
	PQclear(r);
	return rc;
}

/* The writer connection, connected and outside any transaction, for a
 * thread that has just taken the token. */
static int
writer_ready(struct pgstore *s)
{
	int rc;

	s->lost = 0;
	s->wrote = 0;
	s->doomed = 0;
	s->deferred = 0;
	s->pend_rel = s->pend_sp = 0;
	/* A pipeline left open (never, unless a path forgot to settle):
	 * what it holds belongs to no transaction now. */
	if (s->writer.pg != NULL &&
	    PQpipelineStatus(s->writer.pg) != PQ_PIPELINE_OFF)
		pg_conn_close(&s->writer);
	memset(s->calls_open, 0, sizeof(s->calls_open));
	pg_num_forget(s);
	if ((rc = pg_conn_ensure(s, &s->writer)) == 0 &&
	    PQtransactionStatus(s->writer.pg) != PQTRANS_IDLE)
		(void)wexec(s, "ROLLBACK", 1);
	return rc;
}

int
pg_pend_send(struct pgstore *s, PGconn *pg, size_t *sent)
{
	for (; s->pend_rel > 0; s->pend_rel--, (*sent)++)
		if (PQsendQueryParams(pg, "RELEASE SAVEPOINT cs", 0, NULL, NULL,
		    NULL, NULL, 1) != 1)
			return -1;
	for (; s->pend_sp > 0; s->pend_sp--, (*sent)++)
		if (PQsendQueryParams(pg, "SAVEPOINT cs", 0, NULL, NULL, NULL,
		    NULL, 1) != 1)
			return -1;
	return 0;
}

/* The number of call savepoints left open at this level, or NULL when
 * the level is too deep to count them (each is released at once). */
static int *
calls_open(struct pgstore *s)
{
	return s->depth > 0 && s->depth < PG_LEVELS ? &s->calls_open[s->depth]
	    : NULL;
}

/*
 * One statement inside the holder's transaction, in one pipeline after
 * the results of the writes not waited for and the deferred level
 * statements (see "Levels without round trips").  A write (call set)
 * goes in a savepoint of its own (see "Statement errors"): SAVEPOINT, the
 * statement and, unless the level keeps it, RELEASE.
 */
static int
in_tx(struct pgstore *s, int call, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what)
{
	PGconn *pg;
	PGresult *mine = NULL, *bad = NULL;
	char name[16];
	int rc, *open = call ? calls_open(s) : NULL;
	int keep = open != NULL && *open < CALLS_KEPT;
	size_t at = (size_t)s->deferred;

	/* A first PREPARE waits for its answer, which a pipeline cannot. */
	if ((!s->writer.prepared[st->slot] && at > 0 &&
	    (rc = pg_deferred_settle(s)) != 0) ||
	    (rc = pg_prepare(s, &s->writer, st)) != 0)
		goto out;
	pg = s->writer.pg;
	at = (size_t)s->deferred;
	snprintf(name, sizeof(name), "cs%d", st->slot);
	if (PQenterPipelineMode(pg) != 1 || pg_pend_send(s, pg, &at) != 0 ||
	    (call && PQsendQueryParams(pg, "SAVEPOINT cs_call", 0, NULL, NULL,
	    NULL, NULL, 1) != 1) ||
	    PQsendQueryPrepared(pg, name, q->n, q->v, q->len, q->fmt, 1) != 1 ||
	    (call && !keep && PQsendQueryParams(pg, "RELEASE SAVEPOINT cs_call",
	    0, NULL, NULL, NULL, NULL, 1) != 1) || PQpipelineSync(pg) != 1) {
		/* Half a pipeline sent: the connection is of no further use,
		 * and its transaction is gone with it. */
		rc = pg_fail(s, pg, NULL, what);
		pg_writer_broken(s);
		return rc;
	}
	at += (size_t)call;  /* mine: the result after this many */
	if (!pg_pipe_read(s, pg, at, &mine, &bad)) {
		/* Still in the pipeline (its connection died, or it never
		 * ended): of no further use, and its transaction gone. */
		rc = pg_fail(s, pg, bad, what);
		PQclear(bad);
		PQclear(mine);
		pg_writer_broken(s);
		return rc;
	}
	(void)PQexitPipelineMode(pg);
	if (s->doomed)
		rc = pg_doomed(s);  /* the rest of the pipeline was skipped */
	else if (bad != NULL || mine == NULL)
		rc = pg_fail(s, pg, bad, what);
	PQclear(bad);
	if (keep && !s->doomed)
		(*open)++;
	if (rc != 0 && call && !s->doomed && PQstatus(pg) == CONNECTION_OK)
		(void)wexec(s, keep ? "ROLLBACK TO SAVEPOINT cs_call" :
		    "ROLLBACK TO SAVEPOINT cs_call; RELEASE SAVEPOINT cs_call",
		    1);
out:
	if (s->writer.pg != NULL && PQstatus(s->writer.pg) == CONNECTION_BAD)
		s->lost = 1;
	if (rc != 0 && call)
		pg_num_forget(s);  /* rolled back to cs_call: ask again */
	if (rc == 0) {
		s->wrote |= call;
		*out = mine;
	} else
		PQclear(mine);
	return rc;
}

static int
write_in_tx(struct pgstore *s, const struct pstmt *st, const struct pgq *q,
    PGresult **out, const char *what)
{
	return in_tx(s, 1, st, q, out, what);
}

int
pg_writer_read(struct pgstore *s, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what)
{
	int rc;

	*out = NULL;
	if ((rc = pg_doomed(s)) != 0)
		return rc;
	if (s->pend_rel + s->pend_sp + s->deferred == 0)
		rc = pg_exec_on(s, &s->writer, st, q, out, what);
	else
		rc = in_tx(s, 0, st, q, out, what);
	if (rc != 0 && PQstatus(s->writer.pg) == CONNECTION_BAD)
		s->lost = 1;
	return rc;
}

/*
 * A write call: inside the calling thread's transaction when it holds one
 * (write_in_tx), else a transaction of its own, *own set: the token for
 * the call (pg_write_leave gives it back), the statement in autocommit,
 * which PostgreSQL commits before it answers.
 */
int
pg_write_enter(struct pgstore *s, int *own)
{
	int rc;

	*own = 0;
	if (pg_holds(s))
		return pg_doomed(s);
	token_take(s);
	if ((rc = writer_ready(s)) != 0) {
		token_give(s);
		return rc;
	}
	*own = 1;
	return 0;
}

/* Run a write statement entered with pg_write_enter.  A connection lost
 * on the way leaves an autocommit's outcome unknown: CS_EUNAVAIL.  *out:
 * the statement's result, for the caller to clear. */
int
pg_write_run(struct pgstore *s, int own, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what)
{
	int rc;

	*out = NULL;
	if (!own)
		return write_in_tx(s, st, q, out, what);
	if ((rc = pg_exec_on(s, &s->writer, st, q, out, what)) != 0 &&
	    PQstatus(s->writer.pg) == CONNECTION_BAD)
		rc = cs_err_set(CS_EUNAVAIL, "store: %s: the connection to "
		    "PostgreSQL was lost before it answered: whether the write "
		    "was stored is unknown", what);
	else if (rc == 0)
		pg_note_space(s, 0);  /* committed: autocommit */
	return rc;
}

void
pg_write_leave(struct pgstore *s, int own)
{
	if (own)
		token_give(s);
}

int
pg_write_deferred(struct pgstore *s, const struct pstmt *st,
    const struct pgq *q, const char *what)
{
	PGconn *pg;
	PGresult *r = NULL;
	char name[16];
	size_t sent = 0;
	int rc;

	if (!pg_holds(s)) {
		rc = pg_write(s, st, q, &r, what);
		PQclear(r);
		return rc;
	}
	/* A first PREPARE waits for its answer, which a pipeline cannot;
	 * and not too many unread (DEFERRED_MAX). */
	if ((rc = pg_doomed(s)) != 0 || ((!s->writer.prepared[st->slot] ||
	    s->deferred >= DEFERRED_MAX) &&
	    ((rc = pg_deferred_settle(s)) != 0 ||
	    (rc = pg_prepare(s, &s->writer, st)) != 0)))
		return rc;
	pg = s->writer.pg;
	snprintf(name, sizeof(name), "cs%d", st->slot);
	if (PQenterPipelineMode(pg) != 1 || pg_pend_send(s, pg, &sent) != 0 ||
	    PQsendQueryPrepared(pg, name, q->n, q->v, q->len, q->fmt, 1) != 1) {
		rc = pg_fail(s, pg, NULL, what);
		pg_writer_broken(s);
		return rc;
	}
	/* The level statements sent with it are read with it. */
	s->deferred += (int)sent + 1;
	s->wrote = 1;
	return 0;
}

/* One write statement: enter, run, leave. */
int
pg_write(struct pgstore *s, const struct pstmt *st, const struct pgq *q,
    PGresult **out, const char *what)
{
	int own, rc;

	*out = NULL;
	if ((rc = pg_write_enter(s, &own)) == 0) {
		rc = pg_write_run(s, own, st, q, out, what);
		pg_write_leave(s, own);
	}
	return rc;
}

/* COMMIT in the pipeline of the writes not waited for, read with them:
 * its result, or NULL when the connection died on the way (*rc then the
 * error: the outcome is unknown). */
static PGresult *
commit_piped(struct pgstore *s, int *rc)
{
	PGconn *pg = s->writer.pg;
	PGresult *mine = NULL, *bad = NULL;
	size_t at = (size_t)s->deferred;

	if (PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL,
	    1) == 1 && PQpipelineSync(pg) == 1 &&
	    pg_pipe_read(s, pg, at, &mine, &bad)) {
		(void)PQexitPipelineMode(pg);
		if (mine == NULL) {
			mine = bad;  /* the COMMIT's failure, or NULL: doomed */
			bad = NULL;
		}
		PQclear(bad);
		return mine;
	}
	PQclear(mine);
	PQclear(bad);
	*rc = cs_err_set(CS_EUNAVAIL, "store: commit: the connection to "
	    "PostgreSQL was lost before it confirmed the COMMIT: the "
	    "transaction may or may not be stored");
	pg_writer_broken(s);
	return NULL;
}

/* The outermost COMMIT.  A transaction in which a statement failed
 * outside any savepoint (a read), or a write not waited for, cannot
 * commit: PostgreSQL would answer COMMIT with ROLLBACK, or skip it. */
static int
tx_commit(struct pgstore *s)
{
	PGconn *pg = s->writer.pg;
	PGresult *r = NULL;
	char masked[400];
	int rc = 0;

	if (!s->doomed && PQtransactionStatus(pg) == PQTRANS_INERROR) {
		(void)wexec(s, "ROLLBACK", 1);
		return cs_err_set(CS_ESTORE, "store: commit: a statement of "
		    "the transaction failed, so it was rolled back");
	}
	if (!s->doomed && s->deferred > 0 &&
	    (r = commit_piped(s, &rc)) == NULL && rc != 0)
		return rc;
	if (s->doomed) {
		PQclear(r);
		(void)wexec(s, "ROLLBACK", 1);
		return pg_doomed(s);
	}
	if (r == NULL)
		r = PQexec(pg, "COMMIT");
	if (r == NULL || PQstatus(pg) == CONNECTION_BAD) {
		pg_mask(s, PQerrorMessage(pg), masked, sizeof(masked));
		rc = cs_err_set(CS_EUNAVAIL, "store: commit: the connection to "
		    "PostgreSQL was lost before it confirmed the COMMIT: the "
		    "transaction may or may not be stored (%s)", masked);
	} else if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(s, pg, r, "commit");
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = cs_err_set(CS_ESTORE, "store: commit: PostgreSQL rolled "
		    "the transaction back");
	else if (s->wrote)
		pg_note_space(s, 0);  /* a write found room, and committed */
	PQclear(r);
	return rc;
}

/*
 * End the current level with commit (1) or rollback (0).  The level is
 * over whatever happens; the outermost gives the token back.  A failed
 * inner commit rolls its level back and marks the caller's rollback that
 * follows as absorbed (stray), so that it does not undo the enclosing
 * level.
 */
int
pg_tx_end(struct pgstore *s, int commit)
{
	int rc = 0;

	/* A level rolled back may have taken the numbering locks with it;
	 * the outermost end releases them (pg_numbering.c). */
	if (!commit || s->depth <= 1 || s->lost)
		pg_num_forget(s);
	if (s->depth > 1) {
		s->depth--;
		/* Before a ROLLBACK TO, which would clear the server's
		 * aborted state: a failure there dooms the transaction. */
		if (!commit && s->pend_sp == 0 && s->deferred > 0)
			(void)pg_deferred_settle(s);
		if (s->lost || s->doomed)
			rc = commit ? pg_doomed(s) : 0;
		else if (s->pend_sp > 0)
			s->pend_sp--;  /* no statement since its begin */
		else if (commit)
			s->pend_rel++;  /* see "Levels without round trips" */
		else if (wexec(s, "ROLLBACK TO SAVEPOINT cs", 1) == 0)
			(void)wexec(s, "RELEASE SAVEPOINT cs", 1);
		s->stray = commit && rc != 0;
		if (rc != 0)
			pg_num_forget(s);
		return rc;
	}
	s->depth = 0;
	/* The COMMIT or ROLLBACK ends every savepoint. */
	s->pend_rel = s->pend_sp = 0;
	if (s->lost)
		rc = commit ? pg_doomed(s) : 0;
	else if (commit)
		rc = tx_commit(s);
	else if ((rc = wexec(s, "ROLLBACK", 0)) != 0 && s->lost)
		rc = 0;  /* the server rolls back what it loses */
	/* Before commit() returns: this node's next read sees the change. */
	pg_status_tx_end(s);
	pthread_setspecific(s->key, NULL);
	token_give(s);
	return rc;
}

/* Thread exit (the key's destructor): a transaction the thread left open
 * is rolled back, and the token given back. */
void
pg_thread_exit(void *p)
{
	struct pgstore *s = p;

	pthread_setspecific(s->key, s);
	while (s->depth > 0)
		(void)pg_tx_end(s, 0);
	pthread_setspecific(s->key, NULL);
}

/* Open a level: the outermost takes the token and begins a transaction on
 * the writer (connecting it again if it was lost); an inner one is a
 * savepoint. */
int
pg_begin(cs_store *cs)
{
	struct pgstore *s = P(cs);
	int rc;

	if (pg_holds(s)) {
		s->stray = 0;
		if ((rc = pg_doomed(s)) == 0) {
			s->depth++;
			s->pend_sp++;  /* see "Levels without round trips" */
			if (s->depth < PG_LEVELS)
				s->calls_open[s->depth] = 0;
		}
		return rc;
	}
	token_take(s);
	s->stray = 0;
	if ((rc = writer_ready(s)) == 0 && (rc = wexec(s, "BEGIN", 0)) == 0) {
		s->depth = 1;
		s->calls_open[1] = 0;
		pthread_setspecific(s->key, s);
	} else
		token_give(s);
	return rc;
}

int
pg_commit(cs_store *cs)
{
	struct pgstore *s = P(cs);

	if (!pg_holds(s))
		return cs_err_set(CS_EINVAL, "store: commit: no transaction on "
		    "this thread");
	s->stray = 0;
	return pg_tx_end(s, 1);
}

/* Without a transaction this does nothing and returns 0, leaving the
 * thread's message alone: error paths may call it unconditionally; so may
 * they after a failed commit(), whose level is already over. */
int
pg_rollback(cs_store *cs)
{
	struct pgstore *s = P(cs);

	if (!pg_holds(s))
		return 0;
	if (s->stray) {
		s->stray = 0;
		return 0;
	}
	return pg_tx_end(s, 0);
}
