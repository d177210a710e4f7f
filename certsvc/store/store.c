/*
 * store.c: the store's front door.  The cs_store_* functions forward each
 * call to the backend's op, so no code above the store touches a
 * backend's vtable.  cs_store_open(), which picks the backend, is in
 * store_open.c.
 */
#include "store_backend.h"

#include "cs_err.h"
#include "lcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The change feed's wake-up (cs_store_changes_wait).  The front door
 * counts each thread's transaction levels and whether the transaction
 * appended a change event; when its outermost commit succeeds (the
 * events are on disk and visible to readers) the counter goes up and
 * every waiter wakes.  A rollback of the outermost level forgets the
 * events; that of a nested level keeps the flag (an event of an outer
 * level may remain), at worst a waiter wakes for nothing and waits again.
 */
static pthread_mutex_t feed_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t feed_cv;
static pthread_once_t feed_once = PTHREAD_ONCE_INIT;
static uint64_t feed_gen;
static _Thread_local int tx_depth;
static _Thread_local int tx_changes;
static _Thread_local int tx_stray;

/* The condition waits on the monotonic clock: a wall clock stepped back
 * must not stretch a long poll. */
static void
feed_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&feed_cv, &a);
	pthread_condattr_destroy(&a);
}

static void
feed_wake(void)
{
	pthread_once(&feed_once, feed_init);
	pthread_mutex_lock(&feed_mu);
	feed_gen++;
	pthread_cond_broadcast(&feed_cv);
	pthread_mutex_unlock(&feed_mu);
}

uint64_t
cs_store_changes_wait(uint64_t seen, long timeout_ms)
{
	struct timespec ts;
	uint64_t gen;

	pthread_once(&feed_once, feed_init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&feed_mu);
	while (feed_gen == seen &&
	    pthread_cond_timedwait(&feed_cv, &feed_mu, &ts) == 0)
		;
	gen = feed_gen;
	pthread_mutex_unlock(&feed_mu);
	return gen;
}

void
cs_store_close(cs_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

/* --- calls ------------------------------------------------------------ */

int
cs_store_begin(cs_store *s)
{
	int rc = s->ops->begin(s);

	tx_stray = 0;
	if (rc == 0)
		tx_depth++;
	return rc;
}

/* A failed commit ends its level too, and the rollback that may follow
 * it is a no-op (store.h "Nesting"): stray remembers that. */
int
cs_store_commit(cs_store *s)
{
	int rc = s->ops->commit(s);

	tx_stray = rc != 0;
	if (tx_depth > 0 && --tx_depth == 0) {
		if (rc == 0 && tx_changes)
			feed_wake();
		tx_changes = 0;
	}
	return rc;
}

int
cs_store_rollback(cs_store *s)
{
	int rc = s->ops->rollback(s);

	if (tx_stray)
		tx_stray = 0;
	else if (tx_depth > 0 && --tx_depth == 0)
		tx_changes = 0;
	return rc;
}

int
cs_store_change_append(cs_store *s, const cs_change *ch)
{
	int rc = s->ops->change_append(s, ch);

	if (rc == 0 && tx_depth == 0)
		feed_wake();  /* a transaction of its own, committed */
	else if (rc == 0)
		tx_changes = 1;
	return rc;
}

int
cs_store_changes_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n)
{
	return s->ops->changes_page(s, after_seq, limit, out, n);
}

int
cs_store_sub_put(cs_store *s, const cs_sub_row *row)
{
	return s->ops->sub_put(s, row);
}

int
cs_store_subs_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n)
{
	return s->ops->subs_page(s, after_seq, limit, out, n);
}

int
cs_store_subs_import(cs_store *s, cs_sub_row *const *rows, size_t n)
{
	return s->ops->subs_import(s, rows, n);
}

int
cs_store_sub_attempt_append(cs_store *s, const cs_sub_attempt *a,
    size_t n)
{
	return s->ops->sub_attempt_append(s, a, n);
}

int
cs_store_sub_progress(cs_store *s, int64_t sub, cs_sub_progress *out)
{
	return s->ops->sub_progress(s, sub, out);
}

int
cs_store_sub_lease(cs_store *s, int64_t sub, const char *node,
    int64_t ttl_ms, int *held)
{
	return s->ops->sub_lease(s, sub, node, ttl_ms, held);
}

int
cs_store_changes_import(cs_store *s, cs_change *const *chs, size_t n)
{
	return s->ops->changes_import(s, chs, n);
}

int
cs_store_licence_put(cs_store *s, const cs_licence_row *row)
{
	return s->ops->licence_put(s, row);
}

int
cs_store_licence_get(cs_store *s, const char *id, cs_licence_row **out)
{
	return s->ops->licence_get(s, id, out);
}

int
cs_store_licence_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_licence_row **out)
{
	return s->ops->licence_by_ref(s, client, approval_ref, out);
}

void
cs_store_licence_note(cs_store *s, const cs_licence_row *row)
{
	cs_lcache *lc = s->ops->licence_cache != NULL ?
	    s->ops->licence_cache(s) : NULL;

	if (lc != NULL && row->id != NULL)
		cs_lcache_note(lc, row->id, row->note);
}

int
cs_store_licences_by_holder(cs_store *s, const char *holder_code,
    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
    size_t *n)
{
	return s->ops->licences_by_holder(s, holder_code, type, pos, limit, out,
	    n);
}

int
cs_store_licences_by_client(cs_store *s, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_by_client(s, f, out, n);
}

int
cs_store_licences_by_number(cs_store *s, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_by_number(s, number, holder_code, out, n);
}

int
cs_store_licences_by_bundle(cs_store *s, const char *bundle_id,
    cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_by_bundle(s, bundle_id, out, n);
}

int
cs_store_licence_next_seq(cs_store *s, const char *type,
    const char *issuer_code, int64_t *out)
{
	return s->ops->licence_next_seq(s, type, issuer_code, out);
}

int
cs_store_licence_number_taken(cs_store *s, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken)
{
	return s->ops->licence_number_taken(s, type, issuer_code, number, serial,
	    taken);
}

int
cs_store_licence_count(cs_store *s, int64_t *out)
{
	return s->ops->licence_count(s, out);
}

int
cs_store_event_append(cs_store *s, const cs_event *ev)
{
	return s->ops->event_append(s, ev);
}

int
cs_store_events_for(cs_store *s, const char *licence_id, cs_event ***out,
    size_t *n)
{
	return s->ops->events_for(s, licence_id, out, n);
}

/* The fallback for backends whose reads cost no round trip (SQLite):
 * one events_for a licence, the arrays joined. */
static int
events_each(cs_store *s, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t *counts, size_t *total)
{
	cs_event **evs = NULL, **all = NULL, **more;
	size_t i, n = 0;
	int rc = 0;

	for (i = 0; i < n_ids && rc == 0; i++) {
		if ((rc = s->ops->events_for(s, ids[i], &evs, &n)) != 0)
			break;
		if (n > 0 && (more = realloc(all, (*total + n) *
		    sizeof(*all))) == NULL) {
			cs_events_free(evs, n);
			rc = cs_err_set(CS_ENOMEM, "store: out of memory");
			break;
		}
		if (n > 0) {
			all = more;
			memcpy(all + *total, evs, n * sizeof(*all));
		}
		free(evs);  /* its events moved into all */
		counts[i] = n;
		*total += n;
	}
	if (rc != 0) {
		cs_events_free(all, *total);
		all = NULL;
		*total = 0;
	}
	*out = all;
	return rc;
}

int
cs_store_events_for_many(cs_store *s, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t **counts, size_t *total)
{
	size_t *cnt;
	int rc;

	*out = NULL;
	*counts = NULL;
	*total = 0;
	if (s->ops->events_for_many != NULL)
		return s->ops->events_for_many(s, ids, n_ids, out, counts, total);
	if ((cnt = calloc(n_ids ? n_ids : 1, sizeof(*cnt))) == NULL)
		return cs_err_set(CS_ENOMEM, "store: out of memory");
	if ((rc = events_each(s, ids, n_ids, out, cnt, total)) != 0) {
		free(cnt);
		return rc;
	}
	*counts = cnt;
	return 0;
}

int
cs_store_bundle_put(cs_store *s, const cs_bundle_row *b)
{
	return s->ops->bundle_put(s, b);
}

int
cs_store_bundle_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_bundle_row **out)
{
	return s->ops->bundle_by_ref(s, client, approval_ref, out);
}

int
cs_store_client_add(cs_store *s, const cs_client *c)
{
	return s->ops->client_add(s, c);
}

int
cs_store_client_get(cs_store *s, const char *name, cs_client **out)
{
	return s->ops->client_get(s, name, out);
}

int
cs_store_client_by_token_hash(cs_store *s, const uint8_t hash[32],
    cs_client **out)
{
	return s->ops->client_by_token_hash(s, hash, out);
}

int
cs_store_client_list(cs_store *s, cs_client ***out, size_t *n)
{
	return s->ops->client_list(s, out, n);
}

int
cs_store_client_revoke(cs_store *s, const char *name, int64_t at)
{
	return s->ops->client_revoke(s, name, at);
}

int
cs_store_grant_add(cs_store *s, const char *client_name, const cs_grant *g)
{
	return s->ops->grant_add(s, client_name, g);
}

int
cs_store_client_rotate(cs_store *s, const char *name, const uint8_t hash[32],
    int64_t at)
{
	return s->ops->client_rotate(s, name, hash, at);
}

int
cs_store_client_tokens_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n)
{
	return s->ops->client_tokens_page(s, after_seq, limit, out, n);
}

int
cs_store_client_tokens_import(cs_store *s, cs_client_token *const *rows,
    size_t n)
{
	return s->ops->client_tokens_import(s, rows, n);
}

int
cs_store_copy_put(cs_store *s, const cs_copy_row *c)
{
	return s->ops->copy_put(s, c);
}

int
cs_store_copy_get(cs_store *s, const char *id, cs_copy_row **out)
{
	return s->ops->copy_get(s, id, out);
}

int
cs_store_audit_append(cs_store *s, const cs_audit_rec *rec)
{
	return s->ops->audit_append(s, rec);
}

/* The fallback for backends whose appends cost no round trip (SQLite):
 * the loop, in a level of its own (nested in the caller's) so that a failure leaves none of them. */
static int
append_each(cs_store *s, const cs_audit_rec *const *recs, size_t n)
{
	size_t i;
	int rc;

	if ((rc = cs_store_begin(s)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = s->ops->audit_append(s, recs[i]);
	if (rc != 0) {
		(void)cs_store_rollback(s);
		return rc;
	}
	return cs_store_commit(s);
}

int
cs_store_audit_append_many(cs_store *s, const cs_audit_rec *const *recs,
    size_t n)
{
	if (s->ops->audit_append_many == NULL)
		return append_each(s, recs, n);
	return s->ops->audit_append_many(s, recs, n);
}

int
cs_store_audit_query(cs_store *s, const cs_audit_filter *f,
    cs_audit_rec ***out, size_t *n)
{
	return s->ops->audit_query(s, f, out, n);
}

int
cs_store_licences_page(cs_store *s, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_page(s, pos, limit, out, n);
}

int
cs_store_events_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n)
{
	return s->ops->events_page(s, after_seq, limit, out, n);
}

int
cs_store_bundles_page(cs_store *s, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n)
{
	return s->ops->bundles_page(s, after_id, limit, out, n);
}

int
cs_store_hact_put(cs_store *s, const cs_hact_row *r)
{
	return s->ops->hact_put(s, r);
}

int
cs_store_hacts_get(cs_store *s, const char *key, int64_t n_below,
    size_t limit, cs_hact_row ***out, size_t *n)
{
	return s->ops->hacts_get(s, key, n_below, limit, out, n);
}

int
cs_store_hacts_page(cs_store *s, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n)
{
	return s->ops->hacts_page(s, after_key, after_n, limit, out, n);
}

int
cs_store_peer_put(cs_store *s, const cs_peer_row *p)
{
	return s->ops->peer_put(s, p);
}

int
cs_store_peers_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n)
{
	return s->ops->peers_page(s, after_seq, limit, out, n);
}

int
cs_store_copies_page(cs_store *s, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n)
{
	return s->ops->copies_page(s, after_id, limit, out, n);
}

int
cs_store_licences_import(cs_store *s, cs_licence_row *const *rows, size_t n)
{
	return s->ops->licences_import(s, rows, n);
}

int
cs_store_events_import(cs_store *s, cs_event *const *evs, size_t n)
{
	return s->ops->events_import(s, evs, n);
}

int
cs_store_client_import(cs_store *s, const cs_client *c)
{
	return s->ops->client_import(s, c);
}

int
cs_store_audit_import(cs_store *s, cs_audit_rec *const *recs, size_t n)
{
	return s->ops->audit_import(s, recs, n);
}

int
cs_store_import_done(cs_store *s)
{
	return s->ops->import_done(s);
}

int
cs_store_status_scan(cs_store *s, cs_status_fn fn, void *ctx)
{
	return s->ops->status_scan(s, fn, ctx);
}

int
cs_store_status_mark(cs_store *s, int64_t mark[2])
{
	return s->ops->status_mark(s, mark);
}

int
cs_store_ping(cs_store *s)
{
	return s->ops->ping(s);
}

int
cs_store_backup(cs_store *s, const char *path)
{
	return s->ops->backup(s, path);
}

const char *
cs_store_backend(const cs_store *s)
{
	return s->ops->name;
}
