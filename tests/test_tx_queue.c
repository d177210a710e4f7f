/*
 * test_tx_queue: the issuance writer's batches (tx_queue.c) on a real
 * store (store_fixture.h: SQLite unless CS_TEST_STORE says otherwise),
 * behind fstore (fstore.h) for a slow disk and injected failures.  A job
 * appends one audit record (its target names it) and succeeds, or appends
 * and then refuses, which must undo its record only.
 */
#include "check.h"
#include "cs_err.h"
#include "fstore.h"
#include "store.h"
#include "store_fixture.h"
#include "testutil.h"
#include "tx_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

struct job {
	cs_store *st;          /* the store the queue writes (fstore's base) */
	char target[64];
	int refuse;            /* append, then fail */
	int rc;
	char msg[200];
	int done_calls;
	atomic_int *done_count;
};

static int
job_fn(void *arg)
{
	struct job *j = arg;
	cs_audit_rec r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.at_ms = 1700000000000LL;
	r.action = "issue";
	r.target = j->target;
	r.request_id = j->target;
	if ((rc = cs_store_audit_append(j->st, &r)) != 0)
		return rc;
	return j->refuse ? cs_err_set(CS_EVALIDATION, "job %s refuses",
	    j->target) : 0;
}

static void
job_done(void *arg, int rc)
{
	struct job *j = arg;

	j->rc = rc;
	if (rc != 0)
		snprintf(j->msg, sizeof(j->msg), "%s", cs_err_msg());
	j->done_calls++;
	atomic_fetch_add(j->done_count, 1);
}

static void
job_init(struct job *j, cs_store *st, const char *tag, int i, int refuse,
    atomic_int *done_count)
{
	memset(j, 0, sizeof(*j));
	j->st = st;
	snprintf(j->target, sizeof(j->target), "%s-%04d", tag, i);
	j->refuse = refuse;
	j->done_count = done_count;
}

/* Records of the real store whose target is this one. */
static long
stored(cs_store *real, const char *target)
{
	cs_audit_filter f;
	cs_audit_rec **recs = NULL;
	size_t n = 0;

	memset(&f, 0, sizeof(f));
	f.target = target;
	f.limit = 10;
	if (cs_store_audit_query(real, &f, &recs, &n) != 0)
		return -1;
	cs_audit_recs_free(recs, n);
	return (long)n;
}

static int
wait_count(atomic_int *c, int want)
{
	int waited;

	for (waited = 0; atomic_load(c) < want && waited < 10000; waited++)
		sleep_ms(1);
	return atomic_load(c);
}

/*
 * A queue on f (around real) whose first batch is held in its begin (a
 * slow disk) until f->hold is cleared; first is that batch's one job, so
 * what is submitted next waits and makes the next batch.  NULL on failure.
 */
static cs_tx_queue *
start_held(struct fstore *f, cs_store *real, struct job *first)
{
	cs_tx_queue *q = NULL;

	fstore_init(f, real, 0, 0);
	atomic_store(&f->hold, 1);
	if (cs_tx_queue_start(&f->base, &q) != 0)
		return NULL;
	if (cs_tx_queue_submit(q, job_fn, job_done, first) != 0) {
		atomic_store(&f->hold, 0);
		cs_tx_queue_stop(q);
		return NULL;
	}
	while (atomic_load(&f->begins) == 0)
		sleep_ms(1);
	return q;
}

#define BURST 40

/*
 * The first job's batch is held in begin (a slow disk) while 40 more are
 * queued: they make one batch of their own.  Two of them refuse: each
 * loses its own record, with its own message, and the other 38 keep
 * theirs.
 */
TEST(batch_with_refusals)
{
	struct job jobs[BURST + 1];
	struct fstore f;
	atomic_int done = 0;
	cs_tx_queue *q = NULL;
	cs_store *real = fx_open("batch");
	uint64_t batches, runs;
	int i;

	CHECK(real != NULL);
	if (real == NULL)
		return;
	job_init(&jobs[0], &f.base, "b", 0, 0, &done);
	CHECK((q = start_held(&f, real, &jobs[0])) != NULL);
	if (q == NULL)
		return;
	for (i = 1; i <= BURST; i++) {
		job_init(&jobs[i], &f.base, "b", i, i == 7 || i == 23, &done);
		CHECK_INT_EQ(cs_tx_queue_submit(q, job_fn, job_done, &jobs[i]), 0);
	}
	atomic_store(&f.hold, 0);
	CHECK_INT_EQ(wait_count(&done, BURST + 1), BURST + 1);
	for (i = 0; i <= BURST; i++) {
		CHECK_INT_EQ(jobs[i].done_calls, 1);
		if (jobs[i].refuse) {
			CHECK_INT_EQ(jobs[i].rc, CS_EVALIDATION);
			CHECK(strstr(jobs[i].msg, jobs[i].target) != NULL);
			CHECK_INT_EQ(stored(real, jobs[i].target), 0);
		} else {
			CHECK_INT_EQ(jobs[i].rc, 0);
			CHECK_INT_EQ(stored(real, jobs[i].target), 1);
		}
	}
	cs_tx_queue_stats(q, &batches, &runs);
	CHECK_INT_EQ((long)batches, 2);
	CHECK_INT_EQ((long)runs, BURST + 1);
	CHECK_INT_EQ(atomic_load(&f.commits_ok), 0 + (BURST + 1 - 2) + 2);
	cs_tx_queue_stop(q);
	CHECK_INT_EQ(atomic_load(&f.depth), 0);
	cs_store_close(real);
}

/*
 * A batch's own COMMIT fails after its three savepoints were released:
 * every job of the batch is told so, none is told 0, and nothing of the
 * batch is stored.  A blocker job holds the first batch (a slow disk)
 * while the three queue, so they make the second batch.  The batch after
 * is written as usual.
 */
TEST(commit_failure_fails_batch)
{
	struct job blocker, jobs[4];
	struct fstore f;
	atomic_int done = 0;
	cs_tx_queue *q = NULL;
	cs_store *real = fx_open("commit");
	int i;

	CHECK(real != NULL);
	if (real == NULL)
		return;
	job_init(&blocker, &f.base, "c-blocker", 0, 0, &done);
	CHECK((q = start_held(&f, real, &blocker)) != NULL);
	if (q == NULL)
		return;
	for (i = 0; i < 3; i++) {
		job_init(&jobs[i], &f.base, "c", i, 0, &done);
		CHECK_INT_EQ(cs_tx_queue_submit(q, job_fn, job_done, &jobs[i]), 0);
	}
	/* The blocker's savepoint and batch, then the three savepoints. */
	atomic_store(&f.commit_pass, 2 + 3);
	atomic_store(&f.commit_fail, 1);
	atomic_store(&f.hold, 0);
	CHECK_INT_EQ(wait_count(&done, 4), 4);
	CHECK_INT_EQ(blocker.rc, 0);
	CHECK_INT_EQ(stored(real, blocker.target), 1);
	for (i = 0; i < 3; i++) {
		CHECK_INT_EQ(jobs[i].done_calls, 1);
		CHECK_INT_EQ(jobs[i].rc, CS_ESTORE);
		CHECK(strstr(jobs[i].msg, "injected failure") != NULL);
		CHECK_INT_EQ(stored(real, jobs[i].target), 0);
	}
	job_init(&jobs[3], &f.base, "c", 3, 0, &done);
	CHECK_INT_EQ(cs_tx_queue_submit(q, job_fn, job_done, &jobs[3]), 0);
	CHECK_INT_EQ(wait_count(&done, 5), 5);
	CHECK_INT_EQ(jobs[3].rc, 0);
	CHECK_INT_EQ(stored(real, jobs[3].target), 1);
	cs_tx_queue_stop(q);
	CHECK_INT_EQ(atomic_load(&f.depth), 0);
	cs_store_close(real);
}

static void *
release_later(void *arg)
{
	sleep_ms(50);
	atomic_store(&((struct fstore *)arg)->hold, 0);
	return NULL;
}

/* stop() while jobs wait behind a slow batch: every one is written and
 * told, before stop() returns. */
TEST(stop_completes_queued)
{
	struct job jobs[10];
	struct fstore f;
	atomic_int done = 0;
	cs_tx_queue *q = NULL;
	cs_store *real = fx_open("stop");
	pthread_t t;
	int i;

	CHECK(real != NULL);
	if (real == NULL)
		return;
	fstore_init(&f, real, 0, 0);
	atomic_store(&f.hold, 1);
	CHECK_INT_EQ(cs_tx_queue_start(&f.base, &q), 0);
	for (i = 0; i < 10; i++) {
		job_init(&jobs[i], &f.base, "s", i, 0, &done);
		CHECK_INT_EQ(cs_tx_queue_submit(q, job_fn, job_done, &jobs[i]), 0);
	}
	pthread_create(&t, NULL, release_later, &f);
	cs_tx_queue_stop(q);
	pthread_join(t, NULL);
	CHECK_INT_EQ(atomic_load(&done), 10);
	for (i = 0; i < 10; i++) {
		CHECK_INT_EQ(jobs[i].rc, 0);
		CHECK_INT_EQ(stored(real, jobs[i].target), 1);
	}
	cs_store_close(real);
}

#define SUBMITTERS 8
#define EACH 200

struct submitter {
	cs_tx_queue *q;
	cs_store *st;
	int t;
	atomic_int *done;
	struct job jobs[EACH];
	int submit_errors;
};

static void *
submit_all(void *arg)
{
	struct submitter *sb = arg;
	char tag[16];
	int i;

	snprintf(tag, sizeof(tag), "m%d", sb->t);
	for (i = 0; i < EACH; i++) {
		job_init(&sb->jobs[i], sb->st, tag, i, 0, sb->done);
		if (cs_tx_queue_submit(sb->q, job_fn, job_done, &sb->jobs[i]) != 0)
			sb->submit_errors++;
	}
	return NULL;
}

/* Eight threads submit 200 jobs each at once: each is run and told once,
 * and stored once. */
TEST(many_submitters)
{
	static struct submitter sb[SUBMITTERS];
	pthread_t th[SUBMITTERS];
	atomic_int done = 0;
	cs_tx_queue *q = NULL;
	cs_store *real = fx_open("many");
	uint64_t batches, runs;
	long missing = 0, wrong = 0;
	int t, i;

	CHECK(real != NULL);
	if (real == NULL)
		return;
	CHECK_INT_EQ(cs_tx_queue_start(real, &q), 0);
	for (t = 0; t < SUBMITTERS; t++) {
		memset(&sb[t], 0, sizeof(sb[t]));
		sb[t].q = q;
		sb[t].st = real;
		sb[t].t = t;
		sb[t].done = &done;
		pthread_create(&th[t], NULL, submit_all, &sb[t]);
	}
	for (t = 0; t < SUBMITTERS; t++)
		pthread_join(th[t], NULL);
	CHECK_INT_EQ(wait_count(&done, SUBMITTERS * EACH), SUBMITTERS * EACH);
	for (t = 0; t < SUBMITTERS; t++) {
		CHECK_INT_EQ(sb[t].submit_errors, 0);
		for (i = 0; i < EACH; i++) {
			wrong += sb[t].jobs[i].rc != 0 ||
			    sb[t].jobs[i].done_calls != 1;
			missing += stored(real, sb[t].jobs[i].target) != 1;
		}
	}
	CHECK_INT_EQ(wrong, 0);
	CHECK_INT_EQ(missing, 0);
	cs_tx_queue_stats(q, &batches, &runs);
	CHECK_INT_EQ((long)runs, SUBMITTERS * EACH);
	CHECK(batches >= 1 && batches <= runs);
	cs_tx_queue_stop(q);
	cs_store_close(real);
}

TEST(stop_null)
{
	cs_tx_queue_stop(NULL);
	CHECK(1);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	fx_setup("test_tx_queue");
	RUN(batch_with_refusals);
	RUN(commit_failure_fails_batch);
	RUN(stop_completes_queued);
	RUN(many_submitters);
	RUN(stop_null);
	fx_teardown();
	return check_summary();
}
