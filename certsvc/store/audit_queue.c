/*
 * audit_queue.c: the read audit writer (audit_queue.h).
 *
 * One mutex guards a FIFO list of records.  Request threads append and
 * wake the writer only when the list was empty (it may be idle) or holds a
 * full group; the writer otherwise sleeps out its flush window, so under
 * load a read costs its thread no wake-up and no context switch.
 */
#include "audit_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cs_err.h"
#include "thread.h"
#include "timeutil.h"
#include "log.h"
#include "strpack.h"

/* Records in one transaction.  Bigger groups share their commit among more
 * reads but hold the writer token longer (an issuance waits behind it). */
#define GROUP_MAX 512
/* Records waiting at most, four groups; past it, reads wait for room.
 * This is the backpressure that keeps a busy server answering: request
 * threads that wait here leave the core to the writer, which a dozen of
 * them running would starve (a group's few ms of CPU then took 200-500 ms,
 * and the lag refused reads with 503; bench/README.md).  At any rate the
 * writer can serve, four groups are far less than audit_max_lag_ms of
 * reads, so reads slow down before any is refused. */
#define QUEUE_MAX (4 * GROUP_MAX)
/* Pause between attempts at a group whose commit failed. */
#define RETRY_MS 200
/* A group commit at least this slow is logged (with what it carried and
 * how long its oldest record had waited): a fifth of the default
 * audit_max_lag_ms, early warning of the 503s one slower still causes. */
#define SLOW_COMMIT_MS 200
/* Attempts at what is left once stopping, before giving up on it. */
#define STOP_ATTEMPTS 3

struct qrec {
	struct qrec *next;
	int64_t queued_ms;  /* monotonic: when it joined the queue */
	cs_audit_rec r;     /* strings point into data */
	char data[];
};

struct cs_audit_queue {
	cs_store *store;
	long flush_ms;
	long max_lag_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;   /* the writer: records, a sync or stop */
	pthread_cond_t done_cv;   /* put() and sync(): a group committed */
	struct qrec *head, *tail;
	size_t waiting;
	size_t writing;           /* records of the group being written */
	int64_t writing_since;    /* queued_ms of its first (oldest) record */
	uint64_t queued;          /* records put since start */
	uint64_t committed;       /* records committed since start */
	int syncs;                /* sync() calls waiting: flush at once */
	cs_audit_commit_stats times;  /* of the groups written */
	int stopping;
};

/* One allocation holding the record and copies of its strings. */
static struct qrec *
qrec_new(const cs_audit_rec *r)
{
	const char *src[] = {r->client, r->action, r->target, r->holder,
	    r->purpose, r->service_item, r->case_ref, r->remote, r->request_id,
	    r->result};
	const size_t n = sizeof(src) / sizeof(src[0]);
	struct qrec *q;

	if ((q = malloc(sizeof(*q) + cs_strpack_size(src, n))) == NULL)
		return NULL;
	q->next = NULL;
	q->r = *r;
	cs_strpack(src, (char **const[]){&q->r.client, &q->r.action,
	    &q->r.target, &q->r.holder, &q->r.purpose, &q->r.service_item,
	    &q->r.case_ref, &q->r.remote, &q->r.request_id, &q->r.result}, n,
	    q->data);
	return q;
}

static void
qrecs_free(struct qrec *q)
{
	struct qrec *next;

	for (; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
}

/* Append a group of n records in one transaction, as one call to the
 * store: on PostgreSQL that is one round trip, not one a record. */
static int
write_group(cs_store *st, const struct qrec *g, size_t n)
{
	const cs_audit_rec **recs;
	size_t i;
	int rc;

	if ((recs = malloc(n * sizeof(*recs))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; g != NULL && i < n; g = g->next)
		recs[i++] = &g->r;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	if ((rc = cs_store_audit_append_many(st, recs, i)) != 0) {
		(void)cs_store_rollback(st);
		goto out;
	}
	rc = cs_store_commit(st);
out:
	free(recs);
	return rc;
}

/* With mu held: wait for the head's flush window to end, unless the group
 * is full or someone waits for it. */
static void
linger(cs_audit_queue *q)
{
	int64_t until = q->head->queued_ms + q->flush_ms;
	struct timespec ts = cs_mono_timespec(until);

	while (q->waiting < GROUP_MAX && !q->stopping && q->syncs == 0 &&
	    cs_mono_ms() < until)
		if (pthread_cond_timedwait(&q->work_cv, &q->mu, &ts) == ETIMEDOUT)
			break;
}

/* With mu held: take the first GROUP_MAX records off the queue. */
static struct qrec *
detach_group(cs_audit_queue *q, size_t *n)
{
	struct qrec *g = q->head, *last = q->head;

	for (*n = 1; *n < GROUP_MAX && last->next != NULL; (*n)++)
		last = last->next;
	q->head = last->next;
	if (q->head == NULL)
		q->tail = NULL;
	last->next = NULL;
	q->waiting -= *n;
	return g;
}

/* With mu held: put a failed group back at the front. */
static void
reattach_group(cs_audit_queue *q, struct qrec *g, size_t n)
{
	struct qrec *last = g;

	while (last->next != NULL)
		last = last->next;
	last->next = q->head;
	if (q->head == NULL)
		q->tail = last;
	q->head = g;
	q->waiting += n;
}

static const long commit_le_ms[CS_AUDIT_COMMIT_NB] = {
	5, 10, 25, 50, 100, 250, 500, 1000,
};

/* With mu held: count one group's commit that took ms. */
static void
commit_timed(cs_audit_queue *q, int64_t ms)
{
	cs_audit_commit_stats *t = &q->times;
	size_t i = 0;

	if (ms < 0)
		ms = 0;
	while (i < CS_AUDIT_COMMIT_NB && ms > commit_le_ms[i])
		i++;
	t->count[i]++;
	t->commits++;
	t->sum_ms += (uint64_t)ms;
	if ((uint64_t)ms > t->max_ms)
		t->max_ms = (uint64_t)ms;
}

/* Write the group, timing it: a slow one is counted and logged. */
static int
write_group_timed(cs_audit_queue *q, struct qrec *g, size_t n)
{
	int64_t t0 = cs_mono_ms(), ms;
	int rc = write_group(q->store, g, n);

	ms = cs_mono_ms() - t0;
	if (ms >= SLOW_COMMIT_MS)
		cs_log_msg("certsvc: audit: a group of %zu read record(s) took "
		    "%lld ms to commit (its oldest record had waited %lld ms; "
		    "audit_max_lag_ms %ld)", n, (long long)ms,
		    (long long)(cs_mono_ms() - g->queued_ms), q->max_lag_ms);
	pthread_mutex_lock(&q->mu);
	commit_timed(q, ms);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

static void *
writer_main(void *arg)
{
	cs_audit_queue *q = arg;
	struct qrec *g;
	size_t n;
	int failures = 0, rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->work_cv, &q->mu);
		if (q->head == NULL)
			break;
		linger(q);
		g = detach_group(q, &n);
		q->writing = n;
		q->writing_since = g->queued_ms;
		pthread_mutex_unlock(&q->mu);
		rc = write_group_timed(q, g, n);
		if (rc != 0)
			cs_log_msg("certsvc: audit: writing %zu read record(s) "
			    "failed (%s); retrying", n, cs_err_msg());
		pthread_mutex_lock(&q->mu);
		q->writing = 0;
		if (rc == 0) {
			q->committed += n;
			qrecs_free(g);
			failures = 0;
			pthread_cond_broadcast(&q->done_cv);
			continue;
		}
		reattach_group(q, g, n);
		if (q->stopping && ++failures >= STOP_ATTEMPTS) {
			cs_log_msg("certsvc: audit: stopping with %zu read "
			    "record(s) unwritten", q->waiting);
			break;
		}
		pthread_mutex_unlock(&q->mu);
		usleep(RETRY_MS * 1000);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int
cs_audit_queue_start(cs_store *store, long flush_ms, long max_lag_ms,
    cs_audit_queue **out)
{
	cs_audit_queue *q;
	int rc;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	q->store = store;
	q->flush_ms = flush_ms;
	q->max_lag_ms = max_lag_ms;
	pthread_mutex_init(&q->mu, NULL);
	cs_cond_init_mono(&q->work_cv);
	cs_cond_init_mono(&q->done_cv);
	if ((rc = cs_thread_start(&q->thread, writer_main, q)) != 0) {
		pthread_cond_destroy(&q->work_cv);
		pthread_cond_destroy(&q->done_cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return cs_err_set(CS_ENOMEM, "audit writer: cannot start a thread");
	}
	*out = q;
	return 0;
}

/* With mu held: when the oldest record not yet committed (the group being
 * written comes before the queue) turns max_lag_ms old, on the monotonic
 * clock; INT64_MAX when every record is committed. */
static int64_t
lag_deadline(const cs_audit_queue *q)
{
	if (q->writing > 0)
		return q->writing_since + q->max_lag_ms;
	return q->head != NULL ? q->head->queued_ms + q->max_lag_ms : INT64_MAX;
}

/*
 * With mu held: wait on done_cv until done() holds.  CS_EUNAVAIL once the
 * oldest record not yet committed is older than max_lag_ms, checked first:
 * a read is then refused, not answered with its record only in memory,
 * however much room the queue has (the caller may retry: the writer keeps
 * trying, and reads are answered again once it catches up).
 */
static int
await_writer(cs_audit_queue *q, int (*done)(const cs_audit_queue *, uint64_t),
    uint64_t arg)
{
	int64_t until, now;
	struct timespec ts;

	for (;;) {
		until = lag_deadline(q);
		if ((now = cs_mono_ms()) > until)
			return cs_err_set(CS_EUNAVAIL, "audit log: the oldest "
			    "read record not yet written has waited %lld ms "
			    "(audit_max_lag_ms %ld)",
			    (long long)(now - until + q->max_lag_ms),
			    q->max_lag_ms);
		if (done(q, arg))
			return 0;
		if (until == INT64_MAX) {
			/* Nothing uncommitted: only a commit changes that. */
			pthread_cond_wait(&q->done_cv, &q->mu);
			continue;
		}
		ts = cs_mono_timespec(until + 1);
		pthread_cond_timedwait(&q->done_cv, &q->mu, &ts);
	}
}

static int
has_room(const cs_audit_queue *q, uint64_t unused)
{
	(void)unused;
	return q->waiting < QUEUE_MAX;
}

static int
committed_to(const cs_audit_queue *q, uint64_t target)
{
	return q->committed >= target;
}

int
cs_audit_queue_put(cs_audit_queue *q, const cs_audit_rec *rec)
{
	struct qrec *r;
	int rc;

	if ((r = qrec_new(rec)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	r->queued_ms = cs_mono_ms();
	pthread_mutex_lock(&q->mu);
	if ((rc = await_writer(q, has_room, 0)) != 0) {
		pthread_mutex_unlock(&q->mu);
		free(r);
		return rc;
	}
	if (q->tail != NULL)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->waiting++;
	q->queued++;
	/* An idle writer waits for the first record; a lingering one for a
	 * full group.  Anything else would wake it for nothing. */
	if (q->waiting == 1 || q->waiting == GROUP_MAX)
		pthread_cond_signal(&q->work_cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int
cs_audit_queue_sync(cs_audit_queue *q)
{
	int rc;

	pthread_mutex_lock(&q->mu);
	q->syncs++;
	pthread_cond_signal(&q->work_cv);
	rc = await_writer(q, committed_to, q->queued);
	q->syncs--;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void
cs_audit_queue_stats(cs_audit_queue *q, uint64_t *waiting, uint64_t *committed)
{
	pthread_mutex_lock(&q->mu);
	*waiting = q->waiting + q->writing;
	*committed = q->committed;
	pthread_mutex_unlock(&q->mu);
}

void
cs_audit_queue_commit_stats(cs_audit_queue *q, cs_audit_commit_stats *out)
{
	pthread_mutex_lock(&q->mu);
	*out = q->times;
	pthread_mutex_unlock(&q->mu);
	memcpy(out->le_ms, commit_le_ms, sizeof(out->le_ms));
}

void
cs_audit_queue_stop(cs_audit_queue *q)
{
	if (q == NULL)
		return;
	cs_thread_stop(q->thread, &q->mu, &q->work_cv, &q->stopping);
	qrecs_free(q->head);
	pthread_cond_destroy(&q->work_cv);
	pthread_cond_destroy(&q->done_cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
