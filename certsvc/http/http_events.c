/*
 * http_events: GET /api/v1/events, the change feed (SPEC §9), and its
 * long poll.  A request whose page is empty and that asked to wait
 * (wait=S, at most 30 s) does not hold its worker thread: its connection
 * is suspended (cs_req_suspend) and joins the waiters, which one thread
 * per server (cs_http_feed_start) answers.  That thread wakes when a
 * transaction of this process that appended events commits
 * (cs_events_wait) and at least every POLL_MS besides, since other
 * processes and, on PostgreSQL, other nodes write the feed too; each
 * time it reads each waiter's page again and answers those that have
 * events, or whose wait is over, or all of them once the server drains.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_problem.h"
#include "timeutil.h"

#define WAIT_MAX_S 30
/* How often the waiters look at the store besides the wake-ups: the
 * delay, at most, before an event another node or process committed is
 * answered. */
#define POLL_MS 50

/* One request of the feed, from its first read to its answer. */
struct feed_req {
	struct feed_req *next;
	cs_req *r;
	int64_t after;
	int limit;
	int64_t deadline_ms;   /* cs_mono_ms */
	int rc;                /* the answer: the page, or rc's problem */
	char msg[256];
	json_t *page;
	size_t count;
};

struct cs_http_feed {
	pthread_mutex_t mu;
	struct feed_req *head;  /* waiting */
	pthread_t thread;
	int stop;               /* under mu */
};

static void
feed_req_free(struct feed_req *f)
{
	if (f != NULL) {
		json_decref(f->page);
		free(f);
	}
}

/* Read f's page again (any earlier one dropped); its outcome is kept. */
static void
feed_read(struct feed_req *f)
{
	json_decref(f->page);
	f->page = NULL;
	f->count = 0;
	f->rc = cs_events_read(f->r->srv->svc, &f->r->actor, f->after, f->limit,
	    &f->page, &f->count);
	if (f->rc != 0)
		snprintf(f->msg, sizeof(f->msg), "%s", cs_err_msg());
}

/* The answer to f, on its connection's thread: the request's one audit
 * record, then the page. */
static void
feed_answer(cs_req *r, struct feed_req *f)
{
	int rc = f->rc;

	if (rc != 0)
		cs_err_set(rc, "%s", f->msg);
	else
		rc = cs_events_audit(r->srv->svc, &r->actor, f->after, f->count);
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, f->page);
}

static void
feed_finish(cs_req *r)
{
	struct feed_req *f = r->async;

	r->async = NULL;
	feed_answer(r, f);
	feed_req_free(f);
}

/* One round of the waiter thread over the waiters in list: those it
 * answers are resumed, the others returned. */
static struct feed_req *
feed_round(struct feed_req *list, int draining)
{
	struct feed_req *keep = NULL, *f, *next;
	int64_t now = cs_mono_ms();

	for (f = list; f != NULL; f = next) {
		next = f->next;
		if (!draining)
			feed_read(f);
		if (draining || f->rc != 0 || f->count > 0 ||
		    now >= f->deadline_ms) {
			f->r->async = f;
			cs_req_resume(f->r, feed_finish);
		} else {
			f->next = keep;
			keep = f;
		}
	}
	return keep;
}

static void *
feed_thread(void *arg)
{
	cs_http_server *s = arg;
	struct cs_http_feed *fd = s->feed;
	struct feed_req *list, *keep, *last;
	uint64_t gen = 0;
	int stop = 0;

	while (!stop) {
		gen = cs_events_wait(gen, POLL_MS);
		pthread_mutex_lock(&fd->mu);
		list = fd->head;
		fd->head = NULL;
		stop = fd->stop;
		pthread_mutex_unlock(&fd->mu);
		keep = feed_round(list, stop || atomic_load(&s->draining));
		if (keep == NULL)
			continue;
		for (last = keep; last->next != NULL; last = last->next)
			;
		pthread_mutex_lock(&fd->mu);
		last->next = fd->head;
		fd->head = keep;
		pthread_mutex_unlock(&fd->mu);
	}
	return NULL;
}

int
cs_http_feed_start(cs_http_server *s)
{
	struct cs_http_feed *fd = calloc(1, sizeof(*fd));

	if (fd == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	pthread_mutex_init(&fd->mu, NULL);
	s->feed = fd;
	if (pthread_create(&fd->thread, NULL, feed_thread, s) != 0) {
		pthread_mutex_destroy(&fd->mu);
		free(fd);
		s->feed = NULL;
		return cs_err_set(CS_EIO, "cannot start the change feed's "
		    "thread");
	}
	return 0;
}

void
cs_http_feed_stop(cs_http_server *s)
{
	struct cs_http_feed *fd = s->feed;

	if (fd == NULL)
		return;
	pthread_mutex_lock(&fd->mu);
	fd->stop = 1;
	pthread_mutex_unlock(&fd->mu);
	/* Its last round answers whoever still waits (none: the drain waited
	 * for every suspended request). */
	pthread_join(fd->thread, NULL);
	pthread_mutex_destroy(&fd->mu);
	free(fd);
	s->feed = NULL;
}

/* wait: a whole number of seconds, 0 to WAIT_MAX_S. */
static int
parse_wait(const char *v, int *out, cs_problems *p)
{
	char *end;
	long n;

	*out = 0;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || strlen(v) > 4 ||
	    n > WAIT_MAX_S) {
		cs_problems_addc(p, "wait", CS_FC_RANGE, "must be a whole number of seconds "
		    "from 0 to %d", WAIT_MAX_S);
		return CS_EINVAL;
	}
	*out = (int)n;
	return 0;
}

void
cs_h_events(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	struct feed_req *f = NULL;
	int wait = 0, rc;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	f->r = r;
	rc = cs_events_parse(cs_req_query(r, "after"), cs_req_query(r, "limit"),
	    &f->after, &f->limit, &p);
	if (parse_wait(cs_req_query(r, "wait"), &wait, &p) != 0 && rc == 0)
		rc = cs_err_set(CS_EINVAL, "wait must be a whole number of "
		    "seconds from 0 to %d", WAIT_MAX_S);
	if (rc != 0) {
		cs_http_problem_err(r, rc, &p);
		goto out;
	}
	feed_read(f);
	if (f->rc != 0 || f->count > 0 || wait == 0 || r->srv->feed == NULL ||
	    atomic_load(&r->srv->draining)) {
		feed_answer(r, f);
		goto out;
	}
	/* Nothing yet: the waiter thread answers, as soon as there is. */
	f->deadline_ms = cs_mono_ms() + (int64_t)wait * 1000;
	cs_req_suspend(r);
	pthread_mutex_lock(&r->srv->feed->mu);
	f->next = r->srv->feed->head;
	r->srv->feed->head = f;
	pthread_mutex_unlock(&r->srv->feed->mu);
	f = NULL;
out:
	feed_req_free(f);
	cs_problems_reset(&p);
}
