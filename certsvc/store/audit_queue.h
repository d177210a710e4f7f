/*
 * audit_queue: the audit records of reads, answered at once and written by
 * one writer thread in groups (docs/design.md, "The read audit writer").
 *
 * A read's record is copied into the queue and the read is answered; the
 * writer waits up to flush_ms after the first record of a group arrives (or
 * until a group is full), then appends the whole group in one transaction.
 * One commit, one disk sync and one batch of index pages then serve
 * hundreds of reads instead of one each, and no worker thread sleeps on a
 * commit.  What a crash can lose is the records of reads answered in the
 * last flush_ms plus one commit, and never those of reads answered more
 * than max_lag_ms before it; see docs/design.md.
 *
 * Nothing is dropped, and nothing waits long: put() blocks while the queue
 * is full, and put() and sync() fail with CS_EUNAVAIL as soon as the oldest
 * record not yet committed is older than max_lag_ms (the store failing, a
 * full disk, one commit slower than that), so that read is refused (503)
 * instead of answered with its record only in memory.  A group whose
 * commit fails stays queued and is retried; once it commits, reads are
 * answered again.
 *
 * Thread-safe: put() and sync() from any thread; start() and stop() from
 * one.
 */
#ifndef CS_AUDIT_QUEUE_H
#define CS_AUDIT_QUEUE_H

#include <stdint.h>

#include "store.h"

typedef struct cs_audit_queue cs_audit_queue;

/* Start the writer thread on store (borrowed; it must outlive the queue).
 * flush_ms: how long a group gathers; max_lag_ms (more than flush_ms): the
 * oldest a record not yet committed may be while reads are answered. */
int cs_audit_queue_start(cs_store *store, long flush_ms, long max_lag_ms,
    cs_audit_queue **out);

/* Copy rec into the queue (seq is ignored and assigned by the store);
 * CS_EUNAVAIL, with nothing queued, when the writer lags (above). */
int cs_audit_queue_put(cs_audit_queue *q, const cs_audit_rec *rec);

/* Return once every record put before the call is committed: the audit
 * log's readers call it so that they see every read already answered. */
int cs_audit_queue_sync(cs_audit_queue *q);

/* Records not yet committed (waiting, or in the group being written),
 * and records committed since start. */
void cs_audit_queue_stats(cs_audit_queue *q, uint64_t *waiting,
    uint64_t *committed);

/*
 * How long the writer's groups took to commit (begin, append, COMMIT with
 * its disk sync), for the certsvc_audit_commit_seconds histogram: one
 * group slower than max_lag_ms is enough to refuse reads, so a slow disk
 * or a checkpoint in the commit shows here before it shows as 503s.
 * le_ms[i] is bucket i's bound; count[i] the commits that took at most
 * that (not cumulative); over the last bound they count in count[NB].
 */
#define CS_AUDIT_COMMIT_NB 8
typedef struct {
	long le_ms[CS_AUDIT_COMMIT_NB];
	uint64_t count[CS_AUDIT_COMMIT_NB + 1];
	uint64_t commits;   /* all of them, failed ones too */
	uint64_t sum_ms;
	uint64_t max_ms;    /* the slowest since start */
} cs_audit_commit_stats;

void cs_audit_queue_commit_stats(cs_audit_queue *q, cs_audit_commit_stats *out);

/* Write what is queued, stop the writer and free q.  NULL is a no-op. */
void cs_audit_queue_stop(cs_audit_queue *q);

#endif
