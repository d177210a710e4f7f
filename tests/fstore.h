/*
 * fstore: a store that fails on purpose, for the unit tests of the writer
 * threads (test_audit_queue.c, test_tx_queue.c).
 */
#ifndef CS_TEST_FSTORE_H
#define CS_TEST_FSTORE_H

#include <stdatomic.h>
#include <string.h>

#include "cs_err.h"
/* White-box: a backend of its own (a store that fails on cue). */
#define CS_LAYER_STORE
#include "store_backend.h"
#include "testutil.h"

/*
 * The real store (store_fixture.h) behind a struct cs_store whose
 * audit_append (or audit_append_many) and commit fail a given number of
 * times (after commit_pass successful commits).  The queues (audit_queue,
 * tx_queue) call begin, audit_append(_many), commit and rollback only; those forward to the real store
 * (whose ops find their state from the handle they are given, so they
 * must get the real handle, never this one).  Every other op is NULL, so
 * a call to one would crash the test rather than reach the real store
 * with the wrong handle.  Reads go to the real store directly.
 *
 * A failure is a failure the way store.h describes one: a failing
 * audit_append writes nothing and leaves the transaction to the caller,
 * who rolls it back (write_group, cs_tx_run do); a failing commit ends the
 * transaction with nothing written, so it rolls the real one back itself
 * and the caller's rollback, if any, is a no-op.
 */
struct fstore {
	cs_store base;           /* what the queue is given */
	struct cs_store_ops ops;
	cs_store *real;
	atomic_int append_fail;  /* audit_append calls left to fail */
	atomic_int commit_pass;  /* commit calls to let through first */
	atomic_int commit_fail;  /* commit calls left to fail, after those */
	atomic_int appends_failed, commits_failed, commits_ok;
	atomic_int depth;        /* open transactions, to see none leaks */
	atomic_int hold;         /* while set, begin waits: a slow disk */
	atomic_int begins;       /* begin calls entered */
};

static inline struct fstore *
F(cs_store *s)
{
	return (struct fstore *)s;
}

static inline int
f_begin(cs_store *s)
{
	int rc;

	atomic_fetch_add(&F(s)->begins, 1);
	while (atomic_load(&F(s)->hold))
		sleep_ms(1);
	if ((rc = cs_store_begin(F(s)->real)) == 0)
		atomic_fetch_add(&F(s)->depth, 1);
	return rc;
}

static inline int
f_rollback(cs_store *s)
{
	/* After a failed commit the level is already over (store.h). */
	if (atomic_load(&F(s)->depth) == 0)
		return 0;
	atomic_fetch_sub(&F(s)->depth, 1);
	return cs_store_rollback(F(s)->real);
}

static inline int
f_commit(cs_store *s)
{
	int rc;

	if (atomic_load(&F(s)->commit_pass) > 0)
		atomic_fetch_sub(&F(s)->commit_pass, 1);
	else if (atomic_load(&F(s)->commit_fail) > 0) {
		atomic_fetch_sub(&F(s)->commit_fail, 1);
		atomic_fetch_add(&F(s)->commits_failed, 1);
		atomic_fetch_sub(&F(s)->depth, 1);
		(void)cs_store_rollback(F(s)->real);
		return cs_err_set(CS_ESTORE, "store: commit: injected failure");
	}
	atomic_fetch_sub(&F(s)->depth, 1);
	if ((rc = cs_store_commit(F(s)->real)) == 0)
		atomic_fetch_add(&F(s)->commits_ok, 1);
	return rc;
}

static inline int
f_audit_append(cs_store *s, const cs_audit_rec *rec)
{
	if (atomic_load(&F(s)->append_fail) > 0) {
		atomic_fetch_sub(&F(s)->append_fail, 1);
		atomic_fetch_add(&F(s)->appends_failed, 1);
		return cs_err_set(CS_ESTORE, "store: append audit: injected "
		    "failure");
	}
	return cs_store_audit_append(F(s)->real, rec);
}

/* The audit writer's group (cs_store_audit_append_many): one injected
 * failure fails the whole group, as the real op does. */
static inline int
f_audit_append_many(cs_store *s, const cs_audit_rec *const *recs, size_t n)
{
	if (atomic_load(&F(s)->append_fail) > 0) {
		atomic_fetch_sub(&F(s)->append_fail, 1);
		atomic_fetch_add(&F(s)->appends_failed, 1);
		return cs_err_set(CS_ESTORE, "store: append audit: injected "
		    "failure");
	}
	return cs_store_audit_append_many(F(s)->real, recs, n);
}

/* A change event of a job's transaction goes to the real store. */
static inline int
f_change_append(cs_store *s, const cs_change *ch)
{
	return cs_store_change_append(F(s)->real, ch);
}

/* Subscriptions and their progress go to the real store. */
static inline int
f_sub_put(cs_store *s, const cs_sub_row *row)
{
	return cs_store_sub_put(F(s)->real, row);
}

static inline int
f_subs_page(cs_store *s, int64_t after_seq, size_t limit, cs_sub_row ***out,
    size_t *n)
{
	return cs_store_subs_page(F(s)->real, after_seq, limit, out, n);
}

static inline int
f_sub_progress(cs_store *s, int64_t sub, cs_sub_progress *out)
{
	return cs_store_sub_progress(F(s)->real, sub, out);
}

/* The status list's reads (status_list.c) go to the real store: a
 * service built on an fstore may build its list. */
static inline int
f_status_scan(cs_store *s, cs_status_fn fn, void *ctx)
{
	return cs_store_status_scan(F(s)->real, fn, ctx);
}

static inline int
f_status_mark(cs_store *s, int64_t mark[2])
{
	return cs_store_status_mark(F(s)->real, mark);
}

static inline int
f_peers_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n)
{
	return cs_store_peers_page(F(s)->real, after_seq, limit, out, n);
}

static inline int
f_client_rotate(cs_store *s, const char *name, const uint8_t hash[32],
    int64_t at)
{
	return cs_store_client_rotate(F(s)->real, name, hash, at);
}

static inline int
f_client_tokens_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n)
{
	return cs_store_client_tokens_page(F(s)->real, after_seq, limit, out, n);
}

static inline int
f_client_tokens_import(cs_store *s, cs_client_token *const *rows, size_t n)
{
	return cs_store_client_tokens_import(F(s)->real, rows, n);
}

/* The real store's licence cache: a note kept through this handle
 * (cs_store_licence_note) is the real store's. */
static inline struct cs_lcache *
f_licence_cache(cs_store *s)
{
	cs_store *real = F(s)->real;

	return real->ops->licence_cache != NULL ?
	    real->ops->licence_cache(real) : NULL;
}

static inline void
fstore_init(struct fstore *f, cs_store *real, int append_fail,
    int commit_fail)
{
	memset(f, 0, sizeof(*f));
	f->ops.begin = f_begin;
	f->ops.commit = f_commit;
	f->ops.rollback = f_rollback;
	f->ops.audit_append = f_audit_append;
	f->ops.audit_append_many = f_audit_append_many;
	f->ops.change_append = f_change_append;
	f->ops.sub_put = f_sub_put;
	f->ops.subs_page = f_subs_page;
	f->ops.sub_progress = f_sub_progress;
	f->ops.status_scan = f_status_scan;
	f->ops.status_mark = f_status_mark;
	f->ops.peers_page = f_peers_page;
	f->ops.client_rotate = f_client_rotate;
	f->ops.client_tokens_page = f_client_tokens_page;
	f->ops.client_tokens_import = f_client_tokens_import;
	f->ops.licence_cache = f_licence_cache;
	f->base.ops = &f->ops;
	f->real = real;
	atomic_store(&f->append_fail, append_fail);
	atomic_store(&f->commit_fail, commit_fail);
}

#endif
