/*
 * tx_queue: one thread that runs other threads' store transactions, many
 * to a SQLite transaction (docs/design.md, "The issuance writer").
 *
 * A caller hands over a function and a completion, and goes on (an HTTP
 * worker suspends its connection and serves others).  The queue's thread
 * takes every function queued so far as one batch: it opens one
 * transaction, runs each function inside a savepoint of its own (a
 * function that fails undoes its own writes only), commits once, and then
 * calls each completion with its function's result.  So a batch grows with
 * the requests waiting, not with the worker threads, and nobody sleeps on
 * the writer token or on a group's commit.
 *
 * Durability is the store's: a completion is told 0 only when its function
 * returned 0 and the batch's COMMIT has returned (on disk).  A COMMIT that
 * fails fails every function of the batch.
 *
 * The functions and completions run on the queue's thread: they must not
 * rely on the caller's thread (its store transaction, its error message).
 * A completion told rc != 0 finds the message in cs_err_msg().
 *
 * Thread-safe: submit() from any thread; start() and stop() from one.
 */
#ifndef CS_TX_QUEUE_H
#define CS_TX_QUEUE_H

#include "store.h"

typedef struct cs_tx_queue cs_tx_queue;

/* What runs inside the batch's transaction: 0 keeps its writes. */
typedef int (*cs_tx_fn)(void *arg);

/* Start the thread on store (borrowed; it must outlive the queue). */
int cs_tx_queue_start(cs_store *store, cs_tx_queue **out);

/* Called once fn's batch is on disk (rc: fn's result) or has failed. */
typedef void (*cs_tx_done)(void *arg, int rc);

/* Queue fn(arg) for the next batch; done(arg, rc) follows on the queue's
 * thread.  On failure (out of memory; CS_ESTORE once the queue is
 * stopping) neither runs. */
int cs_tx_queue_submit(cs_tx_queue *q, cs_tx_fn fn, cs_tx_done done,
    void *arg);

/* fn(arg) on the calling thread, in a transaction of its own (a savepoint
 * when it holds one): begin, fn, then commit when fn returned 0 and
 * rollback otherwise.  For callers without a queue, and the queue's own
 * step for each function of a batch. */
int cs_tx_run(cs_store *store, cs_tx_fn fn, void *arg);

/* Batches run since start (committed or failed), and the functions in
 * them. */
void cs_tx_queue_stats(cs_tx_queue *q, uint64_t *batches, uint64_t *runs);

/* Run what is queued (every completion is called), stop the thread and
 * free q.  NULL is a no-op. */
void cs_tx_queue_stop(cs_tx_queue *q);

#endif
