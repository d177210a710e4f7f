/*
 * status_cache.c: the server's signed status list (SPEC §11), kept in
 * memory and signed again when it is out of date: within
 * status_list_check_ms of a licence or a status change committed by any
 * process or node (the store's mark, cs_store_status_mark, differs from
 * the one the list was built from), and at least every
 * status_list_refresh_s.  Every request is answered from memory: a build
 * reads every licence, which a request must never wait for once the
 * first list exists.
 */
#include "service_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "digest.h"
#include "encode.h"
#include "log.h"
#include "thread.h"
#include "timeutil.h"

struct cs_status_cache {
	pthread_mutex_t build_mu;  /* one build at a time */
	pthread_mutex_t mu;        /* guards the list and the thread's state */
	pthread_cond_t cv;
	uint8_t *bytes;            /* the signed list, NULL before the first */
	size_t len;
	char etag[CS_ETAG_MAX];
	int64_t iat;
	int64_t mark[2];           /* the store's mark read before the build */
	int64_t built_ms;          /* cs_mono_ms of the build */
	pthread_t thread;
	int running, stopping;
	int failing;               /* the last build failed (logged once) */
	uint64_t builds, failures; /* for the metrics */
	int64_t build_us;          /* the last build's duration */
};

static int
cache_new(struct cs_status_cache **out)
{
	struct cs_status_cache *c = calloc(1, sizeof(*c));

	if ((*out = c) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	pthread_mutex_init(&c->build_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	cs_cond_init_mono(&c->cv);
	return 0;
}

void
cs_status_cache_free(struct cs_status_cache *c)
{
	if (c == NULL)
		return;
	if (c->running)
		cs_thread_stop(c->thread, &c->mu, &c->cv, &c->stopping);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->build_mu);
	free(c->bytes);
	free(c);
}

/* The cache, made on first use (cs_service_open does not know whether
 * anyone will ask). */
static struct cs_status_cache *
cache_of(cs_service *svc)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&once);
	if (svc->status_list == NULL)
		(void)cache_new(&svc->status_list);
	pthread_mutex_unlock(&once);
	return svc->status_list;
}

/* A strong ETag: the first 128 bits of the list's SHA-256, quoted. */
static void
etag_of(const uint8_t *b, size_t n, char etag[CS_ETAG_MAX])
{
	uint8_t md[CS_SHA256_LEN] = { 0 };

	(void)cs_sha256(b, n, md);  /* zeros on failure: a weak tag, not a wrong list */
	etag[0] = '"';
	cs_hex_encode_into(md, 16, etag + 1);
	memcpy(etag + 33, "\"", 2);
}

/*
 * Sign a new list when none exists, the store's mark moved, or the list
 * is status_list_refresh_s old.  The mark is read before the scan: a
 * change committed during it moves the mark again, so the next check
 * builds once more rather than keeping a list without it.
 */
static int
refresh(cs_service *svc, struct cs_status_cache *c)
{
	int64_t mark[2], now_ms = cs_mono_ms(), iat;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc, fresh;

	pthread_mutex_lock(&c->build_mu);
	if ((rc = cs_store_status_mark(svc->store, mark)) != 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	fresh = c->bytes != NULL && mark[0] == c->mark[0] &&
	    mark[1] == c->mark[1] &&
	    now_ms - c->built_ms < svc->cfg.status_list_refresh_s * 1000;
	pthread_mutex_unlock(&c->mu);
	if (fresh)
		goto out;
	iat = (int64_t)cs_now();
	if ((rc = cs_status_list_make(svc, iat, &b, &n)) != 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	c->builds++;
	c->build_us = (cs_mono_ms() - now_ms) * 1000;
	free(c->bytes);
	c->bytes = b;
	c->len = n;
	c->iat = iat;
	etag_of(b, n, c->etag);
	memcpy(c->mark, mark, sizeof(mark));
	c->built_ms = now_ms;
	pthread_mutex_unlock(&c->mu);
out:
	if (rc != 0) {
		pthread_mutex_lock(&c->mu);
		c->failures++;
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&c->build_mu);
	return rc;
}

void
cs_status_cache_stats(struct cs_status_cache *c, cs_service_stats *out)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	out->status_list = c->bytes != NULL;
	out->sl_iat = c->iat;
	out->sl_bytes = (int64_t)c->len;
	out->sl_builds = c->builds;
	out->sl_failures = c->failures;
	out->sl_build_us = c->build_us;
	pthread_mutex_unlock(&c->mu);
}

int
cs_status_list_current(cs_service *svc, uint8_t **out, size_t *len,
    char etag[CS_ETAG_MAX], int64_t *iat)
{
	struct cs_status_cache *c = cache_of(svc);
	int rc = 0, have;

	*out = NULL;
	*len = 0;
	if (c == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	pthread_mutex_lock(&c->mu);
	have = c->bytes != NULL;
	pthread_mutex_unlock(&c->mu);
	/* Only the first request (before the thread's first build ends)
	 * waits for a build. */
	if (!have && (rc = refresh(svc, c)) != 0)
		return rc;
	pthread_mutex_lock(&c->mu);
	if ((*out = malloc(c->len)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	} else {
		memcpy(*out, c->bytes, c->len);
		*len = c->len;
		memcpy(etag, c->etag, CS_ETAG_MAX);
		*iat = c->iat;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* A failed build is logged when it starts failing and when it recovers,
 * not every check: a database that is down would fill the log. */
static void
note(struct cs_status_cache *c, int rc)
{
	if (rc != 0 && !c->failing)
		cs_log_msg("certsvc: status list: %s", cs_err_msg());
	else if (rc == 0 && c->failing)
		cs_log_msg("certsvc: status list: signed again");
	c->failing = rc != 0;
}

static void *
refresher(void *arg)
{
	cs_service *svc = arg;
	struct cs_status_cache *c = svc->status_list;
	struct timespec until;
	int stop;

	for (;;) {
		note(c, refresh(svc, c));
		pthread_mutex_lock(&c->mu);
		until = cs_mono_timespec(cs_mono_ms() +
		    svc->cfg.status_list_check_ms);
		while (!c->stopping && pthread_cond_timedwait(&c->cv, &c->mu,
		    &until) == 0)
			;
		stop = c->stopping;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
	}
	return NULL;
}

int
cs_service_start_status_list(cs_service *svc)
{
	struct cs_status_cache *c = cache_of(svc);
	int rc;

	if (c == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if (c->running)
		return 0;
	if ((rc = cs_thread_start(&c->thread, refresher, svc)) != 0)
		return cs_err_set(CS_EIO, "status list: cannot start its "
		    "thread: %s", strerror(rc));
	c->running = 1;
	return 0;
}
