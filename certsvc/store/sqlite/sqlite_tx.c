/*
 * sqlite_tx: transactions of the SQLite store: the writer token, group
 * commit (one COMMIT, one fsync, for the transactions of many threads),
 * nested levels as savepoints, and the begin/commit/rollback ops.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* --- threads and transactions --------------------------------------- */

/*
 * The writer token.  One thread at a time writes on the writer connection:
 * the holder of the token, taken at the outermost begin() (or by a write
 * call outside a transaction) and given back when that level ends.
 *
 * Group commit.  commit() must return only once the transaction is on
 * disk, and one fsync per transaction caps a durable store near the disk's
 * sync rate (NOTES.md: about 5k commits/s).  So transactions of different
 * threads share SQLite transactions:
 *
 *   - The first writer after a COMMIT opens a SQLite transaction (BEGIN
 *     IMMEDIATE).  A writer that finds one open, holding the writes of
 *     members that already finished, runs its own writes inside a SAVEPOINT
 *     of it (joined), so that its rollback() undoes its own writes only.
 *   - The outermost commit() releases its savepoint, adds its thread to the
 *     open group as a member, gives the token back and waits.  It does not
 *     return until the group's COMMIT has returned (synchronous=FULL: the
 *     WAL is synced) and hands back that COMMIT's result.
 *   - One member leads: it waits until no thread holds the token and none is
 *     queued for it, or until window_ms after the group's first member
 *     joined (then it takes the token next, ahead of the queue), takes the
 *     token itself, seals the group, runs the COMMIT and wakes every member
 *     with its result.  Writers that arrive during the COMMIT wait for the
 *     token and form the next group while the disk syncs.
 *
 * With one writer at a time this is exactly one COMMIT per transaction, as
 * before; with n writers at once it is one fsync for n transactions.
 *
 * What a crash can lose: only transactions whose commit() had not
 * returned, whose callers had answered nobody (no 201, no audited read was
 * served).  What it cannot lose: anything whose commit() returned 0.  A
 * COMMIT that fails fails every member of its group; an error that makes
 * SQLite roll back the whole transaction (I/O error, full disk, out of
 * memory) is noticed when the holder's level ends and fails every member
 * still waiting.  No member is ever told 0 for writes that are not on disk.
 *
 * A rollback() that joined a transaction others wrote to has seen their
 * writes (a replayed issuance answers with a licence still in the group),
 * so it too waits for the group and returns its result.
 *
 * Nesting.  begin() inside a transaction opens a SAVEPOINT level; its
 * commit() releases the level (nothing is durable until the outermost
 * commit()), its rollback() undoes that level only.  A bulk loader wraps
 * many issuances, each with its own begin()/commit(), in one outer
 * transaction.
 */

/* Run one of the transaction statements on the writer. */
static int
wstep(struct sstore *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(&s->writer, id, &st)) == 0)
		rc = sq_run(st, SQLITE_OK, what);
	return rc;
}

/* The writer's transaction is gone: SQLite rolled it back on an earlier
 * error (I/O, full disk, out of memory).  A full disk stays CS_EFULL for
 * every member it fails, not only for the writer that met it. */
static int
tx_gone(struct sstore *s)
{
	int full = atomic_load(&s->disk_full);

	return cs_err_set(full ? CS_EFULL : CS_ESTORE, "store: the transaction "
	    "was rolled back by an earlier error%s",
	    full ? " (the disk is full)" : "");
}

/* Remember a write that found the disk full (rc CS_EFULL), for ping() and
 * tx_gone(s); a COMMIT that reached the disk (committed) forgets it.
 * Returns rc. */
static int
note_space(struct sstore *s, int rc, int committed)
{
	if (rc == CS_EFULL)
		atomic_store(&s->disk_full, 1);
	else if (rc == 0 && committed)
		atomic_store(&s->disk_full, 0);
	return rc;
}

static void
token_take(struct sstore *s)
{
	pthread_mutex_lock(&s->mu);
	s->queued++;
	while (s->busy || s->urgent)
		pthread_cond_wait(&s->tok_cv, &s->mu);
	s->queued--;
	s->busy = 1;
	pthread_mutex_unlock(&s->mu);
}

/* With mu held.  Each wake-up is aimed: one queued writer (unless the
 * leader has claimed the token), and the leader when it waits.  On this
 * kind of virtual machine a wake-up costs several microseconds of kernel
 * time, and broadcasting to a dozen threads of which one can go was 11% of
 * an issuance's CPU. */
static void
token_give_locked(struct sstore *s)
{
	s->busy = 0;
	if (s->queued > 0 && !s->urgent)
		pthread_cond_signal(&s->tok_cv);
	if (s->lead_waits)
		pthread_cond_signal(&s->lead_cv);
}

/* End every waiting member of the open group with rc and msg.  With mu
 * held. */
static void
group_end_locked(struct sstore *s, struct gwait *list, int rc,
    const char *msg)
{
	struct gwait *w, *next;

	for (w = list; w != NULL; w = next) {
		next = w->next;
		w->rc = rc;
		if (rc != 0)
			snprintf(w->msg, sizeof(w->msg), "%s", msg);
		w->done = 1;
		pthread_cond_signal(&w->cv);
	}
}

/* The holder found the shared transaction rolled back under it: the
 * members waiting for it have lost their writes and are told so; the token
 * is given back.  Returns the holder's own error. */
static int
tx_lost(struct sstore *s)
{
	int rc = tx_gone(s);

	pthread_mutex_lock(&s->mu);
	group_end_locked(s, s->group, rc, cs_err_msg());
	s->group = NULL;
	token_give_locked(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/*
 * Lead the open group: wait for the token (letting queued writers join
 * first, up to the window), seal the group, COMMIT, wake the members.
 * Called and returns with mu held.
 */
static void
group_lead(struct sstore *s)
{
	int64_t deadline = s->opened_ms + s->window_ms;
	struct timespec until = cs_mono_timespec(deadline);
	struct gwait *list, *w;
	char msg[200] = "";
	size_t n = 0;
	int rc = 0;

	s->lead_waits = 1;
	while (s->busy || s->queued > 0) {
		if (cs_mono_ms() >= deadline) {
			if (!s->busy)
				break;
			s->urgent = 1;
			pthread_cond_wait(&s->lead_cv, &s->mu);
		} else
			pthread_cond_timedwait(&s->lead_cv, &s->mu, &until);
	}
	s->lead_waits = 0;
	s->busy = 1;
	s->urgent = 0;
	list = s->group;
	s->group = NULL;
	pthread_mutex_unlock(&s->mu);
	if (list != NULL) {
		if (sqlite3_get_autocommit(s->writer.db))
			rc = tx_gone(s);
		else if ((rc = note_space(s, wstep(s, ST_COMMIT, "commit"),
		    1)) != 0 && !sqlite3_get_autocommit(s->writer.db))
			sqlite3_exec(s->writer.db, "ROLLBACK", NULL, NULL, NULL);
		if (rc != 0)
			snprintf(msg, sizeof(msg), "%s", cs_err_msg());
	}
	pthread_mutex_lock(&s->mu);
	for (w = list; w != NULL; w = w->next)
		n += (size_t)w->carries;
	if (n > 0 && rc == 0) {
		s->n_groups++;
		s->n_members += n;
	}
	group_end_locked(s, list, rc, msg);
	s->leading = 0;
	/* The next group, if it has members, needs one of them to lead. */
	if (s->group != NULL)
		pthread_cond_signal(&s->group->cv);
	token_give_locked(s);
}

/* Join the open group as a member (the caller holds the token and has
 * released its level), give the token back and wait for the group's
 * COMMIT, leading it when no one else does. */
static int
group_join(struct sstore *s, int carries)
{
	struct gwait w;

	memset(&w, 0, sizeof(w));
	w.carries = carries;
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&s->mu);
	if (s->group == NULL)
		s->opened_ms = cs_mono_ms();
	w.next = s->group;
	s->group = &w;
	token_give_locked(s);
	while (!w.done) {
		if (!s->leading) {
			s->leading = 1;
			group_lead(s);
		} else
			pthread_cond_wait(&w.cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&w.cv);
	if (w.rc != 0)
		cs_err_set(w.rc, "%s", w.msg);
	return w.rc;
}

/* Open a level: the outermost takes the token and opens (or joins) the
 * SQLite transaction; an inner one is a savepoint. */
static int
tx_begin(struct sstore *s, struct slot *sl)
{
	int rc;

	sl->stray = 0;
	if (sl->depth > 0) {
		if (sqlite3_get_autocommit(s->writer.db))
			rc = tx_gone(s);
		else if ((rc = wstep(s, ST_SAVEPOINT, "begin")) == 0)
			sl->depth++;
		return rc;
	}
	token_take(s);
	sl->joined = !sqlite3_get_autocommit(s->writer.db);
	if ((rc = wstep(s, sl->joined ? ST_SAVEPOINT : ST_BEGIN, "begin")) == 0) {
		sl->depth = 1;
	} else {
		pthread_mutex_lock(&s->mu);
		token_give_locked(s);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/*
 * End the current level with commit (1) or rollback (0).  The level is
 * over whatever happens.  The outermost level gives the token back: a
 * commit (and a rollback that joined others' writes) after waiting for the
 * group's COMMIT.  A rollback of a transaction SQLite already rolled back
 * succeeds.
 */
int
sq_tx_end(struct sstore *s, struct slot *sl, int commit)
{
	sqlite3 *db = s->writer.db;
	int rc = 0, grc;

	if (sl->depth > 1) {
		sl->depth--;
		if (sqlite3_get_autocommit(db)) {
			rc = commit ? tx_gone(s) : 0;
		} else if (!commit ||
		    (rc = wstep(s, ST_RELEASE, "commit")) != 0) {
			(void)wstep(s, ST_ROLLBACK_TO, "rollback");
			(void)wstep(s, ST_RELEASE, "rollback");
		}
		sl->stray = commit && rc != 0;
		return rc;
	}
	sl->depth = 0;
	if (sqlite3_get_autocommit(db)) {
		rc = tx_lost(s);
		return commit ? rc : 0;
	}
	if (!sl->joined) {
		if (commit)
			return group_join(s, 1);
		rc = wstep(s, ST_ROLLBACK, "rollback");
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		token_give_locked(s);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (!commit || (rc = wstep(s, ST_RELEASE, "commit")) != 0) {
		(void)wstep(s, ST_ROLLBACK_TO, "rollback");
		(void)wstep(s, ST_RELEASE, "rollback");
	}
	if (sqlite3_get_autocommit(db)) {
		grc = tx_lost(s);
		return commit ? grc : 0;
	}
	grc = group_join(s, commit && rc == 0);
	return rc != 0 ? rc : grc;
}

/*
 * The writer for one write call: inside the thread's own transaction when
 * it holds one, else in a transaction of the call's own (*own set), which
 * write_leave ends.  Some failures (disk full, I/O) make SQLite roll back
 * the whole transaction; writing on would then autocommit outside it, so
 * that is refused.
 */
int
sq_write_enter(struct sstore *s, struct conn **out, int *own)
{
	struct slot *sl;
	int rc;

	*out = &s->writer;
	*own = 0;
	if ((rc = sq_slot_get(s, &sl)) != 0)
		goto out;
	if (sl->depth == 0) {
		if ((rc = tx_begin(s, sl)) == 0)
			*own = 1;
	} else if (sqlite3_get_autocommit(s->writer.db))
		rc = tx_gone(s);
out:
	return rc;
}

int
sq_write_leave(struct sstore *s, int own, int rc)
{
	struct slot *sl;

	note_space(s, rc, 0);
	if (own) {
		sl = pthread_getspecific(s->key);
		if (rc == 0)
			rc = sq_tx_end(s, sl, 1);
		else
			(void)sq_tx_end(s, sl, 0);
	}
	return rc;
}

int
sq_begin(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = sq_slot_get(S(cs), &sl)) == 0)
		rc = tx_begin(S(cs), sl);
	return rc;
}

int
sq_commit(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = sq_slot_get(S(cs), &sl)) != 0)
		goto out;
	sl->stray = 0;
	if (sl->depth == 0)
		rc = cs_err_set(CS_EINVAL, "store: commit: no transaction on "
		    "this thread");
	else
		rc = sq_tx_end(S(cs), sl, 1);
out:
	return rc;
}

/* Without a transaction this does nothing and returns 0, leaving the
 * thread's message alone: error paths may call it unconditionally.  So
 * may they after a failed commit(), whose level is already over: right
 * after a failed inner commit the rollback is absorbed, so that it does not
 * undo the enclosing level. */
int
sq_rollback(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = sq_slot_get(S(cs), &sl)) == 0 && sl->stray)
		sl->stray = 0;
	else if (rc == 0 && sl->depth > 0)
		rc = sq_tx_end(S(cs), sl, 0);
	return rc;
}


/* Whether this thread is inside a transaction. */
int
sq_in_tx(struct sstore *s)
{
	struct slot *sl;

	return sq_slot_get(s, &sl) == 0 && sl->depth > 0;
}

/*
 * The batch imports (store.h, cs_store_licences_import and its kind): each
 * row put one call at a time, all in a nested level, so a failure undoes
 * the rows the call wrote and leaves the caller's transaction as it was.
 * In SQLite a call is no round trip: a batch op needs nothing more.
 */
int
sq_import_rows(cs_store *cs, void *const *rows, size_t n,
    int (*put)(cs_store *cs, const void *row))
{
	size_t i;
	int rc;

	if (!sq_in_tx(S(cs)))
		return cs_err_set(CS_EINVAL, "store: a batch is written inside "
		    "a transaction only");
	if ((rc = sq_begin(cs)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = put(cs, rows[i]);
	if (rc == 0)
		return sq_commit(cs);
	(void)sq_rollback(cs);
	return rc;
}
