/*
 * pg_status: the status cache of the PostgreSQL store.  A licence's status
 * events are kept beside its row in the licence cache (lcache.h), so that
 * a fetch or a holder's page usually reads them without a round trip; this
 * file says when they may answer a read, and which a change makes stale,
 * so that no node serves a status more than 1 s older than the database's
 * (SPEC §8; issue 15).
 *
 * - Changes this node makes: the licences a transaction appended events to
 *   are dropped from the cache when it ends, before its commit() returns
 *   (pg_tx.c), and an append outside a transaction drops its licence once
 *   it is done: a change is seen by this node's next read.
 * - Changes other nodes make: a refresh reads, in one statement, the
 *   events whose seq is above the node's high-water mark (and the gaps
 *   under it, below), and drops the licences they touch.  A read that
 *   finds the last refresh REFRESH_MS old makes one (one thread at a time;
 *   the others go on).  The cache answers only while the last completed
 *   refresh was sent less than SERVE_MS ago; past that (a refresh failed,
 *   the database is slow) reads go to the database.  So what the cache
 *   answers was the database's less than SERVE_MS ago: the same rule,
 *   checked by tests/http_nodes_test.py, as the clients' auth_cache_ms.
 * - Gaps.  A seq is taken when its row is inserted, and transactions
 *   commit in another order, so an event under the mark may still appear
 *   when its transaction commits.  Every seq a refresh finds missing under
 *   the newest it read is a gap, asked for again (seq = ANY) by each
 *   refresh until it appears, or until GAP_WAIT_MS has passed: a rolled
 *   back transaction or a failed insert leaves a seq that never will.
 * - Resets.  At the first refresh, and when a page of events is not
 *   enough (a node idle while others worked) or the gaps are too many,
 *   every cached status is dropped and the mark starts RESET_WINDOW seqs
 *   under the newest, so that the gaps of transactions in flight are
 *   seen.
 * - A backstop: a status cached MAX_AGE_MS ago is read again whatever the
 *   refreshes say.  It bounds what the rules above cannot see: a
 *   transaction that commits an event more than GAP_WAIT_MS after taking
 *   its seq, or more than RESET_WINDOW events in flight at a reset.
 *
 * Inside a transaction nothing here is used: its reads see its own writes,
 * on the writer's connection.
 */
#include "store_pg_internal.h"

#include "cs_err.h"
#include "lcache.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

#define REFRESH_MS 250
#define SERVE_MS 750
#define GAP_WAIT_MS 30000
#define MAX_AGE_MS 60000
#define RESET_WINDOW 256
/* Events a refresh reads at most; more and the cache is reset. */
#define PAGE 1000

void
pg_status_init(struct pgstore *s)
{
	pthread_mutex_init(&s->st.mu, NULL);
	s->st.mark = -1;
}

static void
touched_clear(struct pgstatus *st)
{
	size_t i;

	for (i = 0; i < st->n_touched; i++)
		free(st->touched[i]);
	st->n_touched = 0;
	st->touched_all = 0;
}

void
pg_status_free(struct pgstore *s)
{
	touched_clear(&s->st);
	free(s->st.touched);
	pthread_mutex_destroy(&s->st.mu);
}

/* --- a change made on this node --------------------------------------- */

/* The writer token's holder appended an event to id in its transaction. */
void
pg_status_touch(struct pgstore *s, const char *id)
{
	struct pgstatus *st = &s->st;
	char **more;
	size_t cap;

	if (st->touched_all)
		return;
	if (st->n_touched == st->cap_touched) {
		cap = st->cap_touched ? 2 * st->cap_touched : 8;
		if ((more = realloc(st->touched, cap * sizeof(*more))) == NULL) {
			st->touched_all = 1;  /* dropping all is never wrong */
			return;
		}
		st->touched = more;
		st->cap_touched = cap;
	}
	if ((st->touched[st->n_touched] = strdup(id)) == NULL)
		st->touched_all = 1;
	else
		st->n_touched++;
}

/* Events of many licences (an import): all are dropped at the end. */
void
pg_status_touch_all(struct pgstore *s)
{
	s->st.touched_all = 1;
}

/* The holder's outermost transaction ended, committed, rolled back or
 * lost: what it touched is dropped (a rollback needed nothing, and an
 * unknown outcome may be either). */
void
pg_status_tx_end(struct pgstore *s)
{
	struct pgstatus *st = &s->st;
	size_t i;

	if (st->touched_all)
		cs_lcache_events_clear(s->lc);
	else
		for (i = 0; i < st->n_touched; i++)
			cs_lcache_events_drop(s->lc, st->touched[i]);
	touched_clear(st);
}

/* --- refreshing ------------------------------------------------------- */

static int
gap_add(struct pgstatus *st, int64_t seq, int64_t now)
{
	if (st->n_gaps == PG_GAPS_MAX)
		return -1;
	st->gaps[st->n_gaps].seq = seq;
	st->gaps[st->n_gaps].since_ms = now;
	st->n_gaps++;
	return 0;
}

/* seq has appeared (or waited long enough): no longer a gap. */
static void
gap_remove(struct pgstatus *st, size_t i)
{
	st->gaps[i] = st->gaps[--st->n_gaps];
}

static void
gap_seen(struct pgstatus *st, int64_t seq)
{
	size_t i;

	for (i = 0; i < st->n_gaps; i++)
		if (st->gaps[i].seq == seq) {
			gap_remove(st, i);
			return;
		}
}

static void
gaps_expire(struct pgstatus *st, int64_t now)
{
	size_t i = 0;

	while (i < st->n_gaps)
		if (now - st->gaps[i].since_ms > GAP_WAIT_MS)
			gap_remove(st, i);
		else
			i++;
}

/* Forget every cached status, and start the mark RESET_WINDOW under the
 * newest seq, so the next read sees the gaps of transactions in flight. */
static int
reset(struct pgstore *s)
{
	struct pgq q;
	PGresult *r;
	int64_t newest = 0;
	int rc;

	cs_lcache_events_clear(s->lc);
	s->st.n_gaps = 0;
	s->st.mark = -1;
	pq_init(&q);
	if ((rc = pg_read(s, pg_st(PS_EV_MAX), &q, &r, "newest event")) != 0 ||
	    (rc = pg_fetch_int(r, &newest, "newest event")) != 0)
		return rc;
	s->st.mark = newest > RESET_WINDOW ? newest - RESET_WINDOW : 0;
	return 0;
}

/* Apply a refresh's rows (seq, licence_id, by seq): drop the licences,
 * note the gaps, move the mark.  -1 when the gaps are too many. */
static int
apply(struct pgstore *s, const PGresult *r, int rows, int64_t now)
{
	struct pgstatus *st = &s->st;
	int64_t seq, prev = st->mark;
	int i;

	for (i = 0; i < rows; i++) {
		seq = pg_col_i64(r, i, 0);
		cs_lcache_events_drop(s->lc, pg_col_text(r, i, 1));
		if (seq <= st->mark) {
			gap_seen(st, seq);
			continue;
		}
		while (++prev < seq)
			if (gap_add(st, prev, now) != 0)
				return -1;
	}
	if (prev > st->mark)
		st->mark = prev;
	return 0;
}

/* One refresh (the caller is the refreshing thread): the events above the
 * mark and the gaps, one statement; a reset first when the mark is
 * unknown, and again when a page was not enough. */
static int
refresh(struct pgstore *s)
{
	struct pgstatus *st = &s->st;
	struct pgq q;
	PGresult *r = NULL;
	char *gaps = NULL;
	int64_t now = cs_mono_ms();
	int rc = 0, rows, tries;

	gaps_expire(st, now);
	for (tries = 0; tries < 2; tries++) {
		if (st->mark < 0 && (rc = reset(s)) != 0)
			break;
		free(gaps);
		if ((gaps = pg_i64_array(&st->gaps[0].seq, st->n_gaps,
		    sizeof(st->gaps[0]))) == NULL) {
			rc = pg_nomem();
			break;
		}
		pq_init(&q);
		pq_i64(&q, st->mark);
		pq_text(&q, gaps);
		pq_i64(&q, PAGE + 1);
		if ((rc = pg_read(s, pg_st(PS_EV_SINCE), &q, &r,
		    "status refresh")) != 0)
			break;
		rows = PQntuples(r);
		if (rows <= PAGE && apply(s, r, rows, now) == 0)
			break;
		/* Too much to follow one by one: start again. */
		PQclear(r);
		r = NULL;
		st->mark = -1;
		rc = cs_err_set(CS_ESTORE, "store: status refresh: more "
		    "changes than a page");
	}
	PQclear(r);
	free(gaps);
	return rc;
}

/*
 * Begin a read of status events: r->cached says whether the status cache
 * may answer it (outside a transaction, and refreshed less than SERVE_MS
 * ago, refreshing first when REFRESH_MS has passed and no other thread
 * is); r's epoch and time are for pg_status_put.  Returns r->cached.
 */
int
pg_status_read(struct pgstore *s, struct pgsread *r)
{
	struct pgstatus *st = &s->st;
	int64_t now = cs_mono_ms(), sent;
	int mine = 0, rc;

	r->cached = 0;
	r->epoch = cs_lcache_epoch(s->lc);
	r->at_ms = now;
	if (pg_holds(s))
		return 0;
	pthread_mutex_lock(&st->mu);
	if ((!st->fresh || now - st->fresh_at_ms >= REFRESH_MS) &&
	    !st->refreshing)
		mine = st->refreshing = 1;
	pthread_mutex_unlock(&st->mu);
	if (mine) {
		sent = cs_mono_ms();
		rc = refresh(s);
		pthread_mutex_lock(&st->mu);
		if (rc == 0) {
			st->fresh = 1;
			st->fresh_at_ms = sent;
		}
		st->refreshing = 0;
		pthread_mutex_unlock(&st->mu);
		/* What the database answers next is at least this fresh. */
		r->epoch = cs_lcache_epoch(s->lc);
		r->at_ms = now = cs_mono_ms();
	}
	pthread_mutex_lock(&st->mu);
	r->cached = st->fresh && now - st->fresh_at_ms < SERVE_MS;
	pthread_mutex_unlock(&st->mu);
	return r->cached;
}

/* 1 and the cached events of id when the cache may answer and has them. */
int
pg_status_get(struct pgstore *s, const struct pgsread *r, const char *id,
    cs_event ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return r->cached && cs_lcache_events_get(s->lc, id,
	    cs_mono_ms() - MAX_AGE_MS, out, n);
}

/* Keep what the database answered for id, when the read may be cached. */
void
pg_status_put(struct pgstore *s, const struct pgsread *r, const char *id,
    cs_event *const *evs, size_t n)
{
	if (r->cached)
		cs_lcache_events_put(s->lc, id, evs, n, r->epoch, r->at_ms);
}
