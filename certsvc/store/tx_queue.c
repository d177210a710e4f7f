/*
 * tx_queue.c: one thread running other threads' store transactions in
 * batches (tx_queue.h).
 *
 * One mutex guards a FIFO list of jobs.  A caller wakes the thread only
 * when the list was empty and the thread idle; the thread calls the
 * completions outside the mutex, in the order the jobs came.
 */
#include "tx_queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "thread.h"

/* Functions in one batch at most: its COMMIT answers them all, and a
 * larger one would only keep the first callers waiting longer. */
#define BATCH_MAX 64

struct job {
	struct job *next;
	cs_tx_fn fn;
	cs_tx_done done;
	void *arg;
	int rc;
	char msg[512];      /* cs_err_msg() of a failure, for its completion */
	int cause;          /* and its cs_err_cause() */
};

struct cs_tx_queue {
	cs_store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;   /* the thread: jobs or stop */
	struct job *head, *tail;
	int busy;                 /* the thread is running a batch */
	int stopping;
	uint64_t batches, runs;
};

static void
fail(struct job *j, int rc)
{
	j->rc = rc;
	snprintf(j->msg, sizeof(j->msg), "%s", cs_err_msg());
	j->cause = cs_err_cause();
}

int
cs_tx_run(cs_store *st, cs_tx_fn fn, void *arg)
{
	int rc;

	if ((rc = cs_store_begin(st)) != 0)
		return rc;
	if ((rc = fn(arg)) != 0) {
		(void)cs_store_rollback(st);
		return rc;
	}
	return cs_store_commit(st);
}

/* The batch in one transaction; every job's rc and msg set. */
static void
run_batch(cs_tx_queue *q, struct job *batch)
{
	cs_store *st = q->store;
	struct job *j;
	int rc;

	if ((rc = cs_store_begin(st)) != 0) {
		for (j = batch; j != NULL; j = j->next)
			fail(j, rc);
		return;
	}
	for (j = batch; j != NULL; j = j->next)
		if ((j->rc = cs_tx_run(st, j->fn, j->arg)) != 0)
			fail(j, j->rc);
	/* Returns once the batch is on disk (or has failed): no job is
	 * answered 0 for writes that are not. */
	if ((rc = cs_store_commit(st)) != 0)
		for (j = batch; j != NULL; j = j->next)
			if (j->rc == 0)
				fail(j, rc);
}

/* With mu held: take up to BATCH_MAX jobs off the list. */
static struct job *
detach_batch(cs_tx_queue *q, size_t *n)
{
	struct job *b = q->head, *last = q->head;

	for (*n = 1; *n < BATCH_MAX && last->next != NULL; (*n)++)
		last = last->next;
	q->head = last->next;
	if (q->head == NULL)
		q->tail = NULL;
	last->next = NULL;
	return b;
}

/* The batch's completions, each with its message; the jobs freed. */
static void
complete(struct job *b)
{
	struct job *next;

	for (; b != NULL; b = next) {
		next = b->next;
		if (b->rc != 0)
			cs_err_setc(b->rc, b->cause, "%s", b->msg);
		b->done(b->arg, b->rc);
		free(b);
	}
}

static void *
tx_main(void *arg)
{
	cs_tx_queue *q = arg;
	struct job *b;
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->work_cv, &q->mu);
		if (q->head == NULL)
			break;
		b = detach_batch(q, &n);
		q->busy = 1;
		pthread_mutex_unlock(&q->mu);
		run_batch(q, b);
		/* Counted before anyone is answered: what a caller sees in
		 * /metrics after its answer includes its batch. */
		pthread_mutex_lock(&q->mu);
		q->batches++;
		q->runs += n;
		pthread_mutex_unlock(&q->mu);
		complete(b);
		pthread_mutex_lock(&q->mu);
		q->busy = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int
cs_tx_queue_start(cs_store *store, cs_tx_queue **out)
{
	cs_tx_queue *q;
	int rc;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	q->store = store;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work_cv, NULL);
	if ((rc = cs_thread_start(&q->thread, tx_main, q)) != 0) {
		pthread_cond_destroy(&q->work_cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return cs_err_set(CS_ENOMEM, "issuance writer: cannot start a "
		    "thread");
	}
	*out = q;
	return 0;
}

int
cs_tx_queue_submit(cs_tx_queue *q, cs_tx_fn fn, cs_tx_done done, void *arg)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		pthread_mutex_unlock(&q->mu);
		free(j);
		return cs_err_set(CS_ESTORE, "the issuance writer is stopping");
	}
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	if (!q->busy && q->head == j)
		pthread_cond_signal(&q->work_cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void
cs_tx_queue_stats(cs_tx_queue *q, uint64_t *batches, uint64_t *runs)
{
	pthread_mutex_lock(&q->mu);
	*batches = q->batches;
	*runs = q->runs;
	pthread_mutex_unlock(&q->mu);
}

void
cs_tx_queue_stop(cs_tx_queue *q)
{
	if (q == NULL)
		return;
	cs_thread_stop(q->thread, &q->mu, &q->work_cv, &q->stopping);
	pthread_cond_destroy(&q->work_cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
