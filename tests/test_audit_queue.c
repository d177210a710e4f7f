/*
 * test_audit_queue: the read audit writer (audit_queue.h) against its
 * promises, on a real store (store_fixture.h): records put from many
 * threads are committed exactly once, every field as put (NULLs, UTF-8, a
 * long purpose), each thread's in the order it put them; put() copies the
 * record; sync() makes everything put before it visible at once, even
 * inside a long flush window, and without sync the window is honoured (not
 * sooner, not much later), while a full group is written without waiting
 * for it; stop() drains what waits in memory, every group of it; a store
 * that fails for a while (audit_append, then commit) loses and duplicates
 * nothing, and sync() still returns 0 once the failures stop; a store that
 * never recovers makes sync() fail after max_lag_ms and stop() give up
 * instead of hanging; once the oldest record not yet committed is older
 * than max_lag_ms, put() and sync() refuse at once (CS_EUNAVAIL) however
 * much room the queue has, and put() works again when the store recovers;
 * past four groups waiting, put() blocks until the writer goes on;
 * the stats and the commit times; stop(NULL).  Each run works in a fresh directory under /tmp,
 * removed at the end.
 */
#include "check.h"
#include "audit_queue.h"
#include "cs_err.h"
#include "fstore.h"
#include "store.h"
#include "store_fixture.h"
#include "testutil.h"
#include "timeutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8
#define PER_THREAD 2000
/* Every so many puts a thread syncs and looks for its last record. */
#define SYNC_EVERY 500
/* audit_max_lag_ms for the tests that are not about it: long enough that
 * a loaded machine never decides them. */
#define NO_LAG_MS 60000
/* ... and for those that are. */
#define LAG_MS 400

/*
 * The record number i of thread t, with its own string storage.  Every
 * field is a function of (t, i), so a record read back can be checked
 * field by field against the one put.  The optional fields are NULL for
 * some i and not others (and case_ref is sometimes "", which must not
 * come back as NULL); every seventh purpose is long, so records of very
 * different sizes share a queue and a group.
 */
struct recbuf {
	char client[64], target[96], holder[32], purpose[1700];
	char service_item[32], case_ref[48], remote[48], request_id[48];
	cs_audit_rec r;
};

static void
rec_fill(struct recbuf *b, int t, int i)
{
	size_t k;

	memset(&b->r, 0, sizeof(b->r));
	b->r.seq = 424242;  /* ignored: the store assigns it */
	b->r.at_ms = 1700000000000LL + (int64_t)t * 100000 + i;
	snprintf(b->client, sizeof(b->client), "客户端-%d", t);
	b->r.client = i % 3 == 0 ? NULL : b->client;
	b->r.action = i % 4 == 0 ? "holder_lookup" : "read";
	snprintf(b->target, sizeof(b->target),
	    "1.2.156.3005.2.11100000000013338W032.T%d.%06d.001.X", t, i);
	b->r.target = b->target;
	snprintf(b->holder, sizeof(b->holder), "H%02d%08d", t, i);
	b->r.holder = i % 2 ? NULL : b->holder;
	if (i % 7 == 0) {
		/* 1,600 bytes, the record's own numbers at both ends. */
		k = (size_t)snprintf(b->purpose, sizeof(b->purpose),
		    "<%d.%d>", t, i);
		while (k < 1600) {
			b->purpose[k] = (char)('a' + (k * 7 + (size_t)t +
			    (size_t)i) % 26);
			k++;
		}
		snprintf(b->purpose + k, sizeof(b->purpose) - k, "</%d.%d>",
		    t, i);
		b->r.purpose = b->purpose;
	} else if (i % 5 == 1) {
		b->r.purpose = NULL;
	} else {
		snprintf(b->purpose, sizeof(b->purpose), "审批 %d.%d", t, i);
		b->r.purpose = b->purpose;
	}
	snprintf(b->service_item, sizeof(b->service_item), "SI-%d", i % 17);
	b->r.service_item = i % 5 == 0 ? NULL : b->service_item;
	snprintf(b->case_ref, sizeof(b->case_ref), "CASE-%d-%d", t, i);
	b->r.case_ref = i % 11 == 0 ? "" : i % 2 ? b->case_ref : NULL;
	/* Past 32 bits, so a truncation would show. */
	b->r.result_count = ((int64_t)t << 33) + i;
	snprintf(b->remote, sizeof(b->remote), "10.%d.%d.%d", t, i / 256,
	    i % 256);
	b->r.remote = b->remote;
	snprintf(b->request_id, sizeof(b->request_id), "r%d.%d", t, i);
	b->r.request_id = b->request_id;
}

/* Whether got is record (t, i) as rec_fill made it, seq aside. */
static int
rec_matches(const cs_audit_rec *got, int t, int i)
{
	struct recbuf *want = malloc(sizeof(*want));
	int ok;

	if (want == NULL)
		return 0;
	rec_fill(want, t, i);
	ok = got->at_ms == want->r.at_ms &&
	    str_same(got->client, want->r.client) &&
	    str_same(got->action, want->r.action) &&
	    str_same(got->target, want->r.target) &&
	    str_same(got->holder, want->r.holder) &&
	    str_same(got->purpose, want->r.purpose) &&
	    str_same(got->service_item, want->r.service_item) &&
	    str_same(got->case_ref, want->r.case_ref) &&
	    got->result_count == want->r.result_count &&
	    str_same(got->remote, want->r.remote) &&
	    str_same(got->request_id, want->r.request_id);
	free(want);
	return ok;
}

/* What a walk over the whole audit table found. */
struct tally {
	int nthreads, per;
	int *seen;        /* [t * per + i]: times record (t, i) was found */
	long rows;        /* rows read */
	long foreign;     /* rows that are no record (t, i) of ours */
	long bad;         /* records whose fields differ from what was put */
	long disorder;    /* a thread's record before one it put earlier */
	int errors;       /* failed queries */
};

static void
tally_init(struct tally *ta, int nthreads, int per)
{
	memset(ta, 0, sizeof(*ta));
	ta->nthreads = nthreads;
	ta->per = per;
	ta->seen = calloc((size_t)nthreads * (size_t)per, sizeof(int));
}

/*
 * Read the whole audit table, oldest first, 1000 rows a page (the store's
 * cap), and account for every row.  Order is checked on the index a thread
 * gave its records: seq increases along the table, so each thread's i must
 * too.
 */
static void
tally_scan(cs_store *s, struct tally *ta)
{
	cs_audit_filter f;
	cs_audit_rec **recs;
	int *last_i = malloc((size_t)ta->nthreads * sizeof(int));
	size_t n, k;
	int t, i, end, shown = 0;

	for (t = 0; t < ta->nthreads; t++)
		last_i[t] = -1;
	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	for (;;) {
		recs = NULL;
		n = 0;
		if (cs_store_audit_query(s, &f, &recs, &n) != 0) {
			fprintf(stderr, "audit_query: %s\n", cs_err_msg());
			ta->errors++;
			break;
		}
		for (k = 0; k < n; k++) {
			const cs_audit_rec *a = recs[k];

			ta->rows++;
			if (a->seq <= f.after_seq)
				ta->disorder++;
			f.after_seq = a->seq;
			end = -1;
			if (a->request_id == NULL || sscanf(a->request_id,
			    "r%d.%d%n", &t, &i, &end) != 2 ||
			    end != (int)strlen(a->request_id) || t < 0 ||
			    t >= ta->nthreads || i < 0 || i >= ta->per) {
				ta->foreign++;
				continue;
			}
			ta->seen[t * ta->per + i]++;
			if (!rec_matches(a, t, i)) {
				ta->bad++;
				if (shown++ < 5)
					fprintf(stderr, "record r%d.%d (seq "
					    "%lld) differs from what was put\n",
					    t, i, (long long)a->seq);
			}
			if (i <= last_i[t]) {
				ta->disorder++;
				if (shown++ < 5)
					fprintf(stderr, "r%d.%d stored after "
					    "r%d.%d\n", t, i, t, last_i[t]);
			}
			last_i[t] = i;
		}
		cs_audit_recs_free(recs, n);
		if (n == 0)
			break;
	}
	free(last_i);
}

/* Records of the first nthreads x per seen exactly once; how many not. */
static long
tally_not_once(const struct tally *ta, int nthreads, int per)
{
	long off = 0;
	int t, i, shown = 0;

	for (t = 0; t < nthreads; t++)
		for (i = 0; i < per; i++)
			if (ta->seen[t * ta->per + i] != 1) {
				off++;
				if (shown++ < 5)
					fprintf(stderr, "r%d.%d stored %d "
					    "time(s)\n", t, i,
					    ta->seen[t * ta->per + i]);
			}
	return off;
}

/* Check that the store holds exactly the nthreads × per records put, each
 * once, intact and in each thread's order. */
static void
expect_all(cs_store *s, int nthreads, int per)
{
	struct tally ta;

	tally_init(&ta, nthreads, per);
	tally_scan(s, &ta);
	CHECK_INT_EQ(ta.errors, 0);
	CHECK_INT_EQ(ta.rows, (long)nthreads * per);
	CHECK_INT_EQ(ta.foreign, 0);
	CHECK_INT_EQ(ta.bad, 0);
	CHECK_INT_EQ(ta.disorder, 0);
	CHECK_INT_EQ(tally_not_once(&ta, nthreads, per), 0);
	free(ta.seen);
}

/* The same for the one thread's n records, read from a fresh handle on the
 * store (what the next start of the server would see). */
static void
expect_all_reopened(const char *name, int n)
{
	cs_store *s = fx_reopen(name);

	if (s != NULL) {
		expect_all(s, 1, n);
		cs_store_close(s);
	}
}

/* Rows in the audit table. */
static long
count_rows(cs_store *s)
{
	struct tally ta;
	long n;

	tally_init(&ta, 1, 1);
	tally_scan(s, &ta);
	n = ta.errors ? -1 : ta.rows;
	free(ta.seen);
	return n;
}

/* How many rows name target (the query an auditor would make). */
static long
count_target(cs_store *s, const char *target, const char *request_id)
{
	cs_audit_filter f;
	cs_audit_rec **recs = NULL;
	size_t n = 0;
	long got;

	memset(&f, 0, sizeof(f));
	f.target = target;
	f.limit = 10;
	if (cs_store_audit_query(s, &f, &recs, &n) != 0)
		return -1;
	got = (long)n;
	if (n == 1 && !str_same(recs[0]->request_id, request_id))
		got = -2;
	cs_audit_recs_free(recs, n);
	return got;
}

/* --- many threads ------------------------------------------------------ */

struct putter {
	cs_audit_queue *q;
	cs_store *s;
	int t, n;
	int put_errors;
	int sync_errors;
	int not_visible;  /* a record missing right after a sync */
};

/*
 * Put n records through one reused buffer: rewriting it for the next
 * record while the previous one still waits in the queue would show if
 * put() kept pointers instead of copies.  Every SYNC_EVERY records, sync()
 * from this thread must make the one just put visible to this thread's
 * own reads at once (what the audit log's readers rely on), while the
 * other threads keep putting.
 */
static void *
putter_main(void *arg)
{
	struct putter *p = arg;
	struct recbuf *b = malloc(sizeof(*b));
	int i;

	if (b == NULL) {
		p->put_errors = p->n;
		return NULL;
	}
	for (i = 0; i < p->n; i++) {
		rec_fill(b, p->t, i);
		if (cs_audit_queue_put(p->q, &b->r) != 0)
			p->put_errors++;
		if ((i + 1) % SYNC_EVERY == 0) {
			if (cs_audit_queue_sync(p->q) != 0)
				p->sync_errors++;
			if (count_target(p->s, b->target, b->request_id) != 1)
				p->not_visible++;
		}
	}
	free(b);
	return NULL;
}

TEST(many_threads)
{
	struct putter p[NTHREADS];
	pthread_t th[NTHREADS];
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("threads");
	uint64_t waiting = 1, committed = 0;
	int t;

	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_audit_queue_start(s, 20, NO_LAG_MS, &q), 0);
	for (t = 0; t < NTHREADS; t++) {
		memset(&p[t], 0, sizeof(p[t]));
		p[t].q = q;
		p[t].s = s;
		p[t].t = t;
		p[t].n = PER_THREAD;
		CHECK_INT_EQ(pthread_create(&th[t], NULL, putter_main, &p[t]),
		    0);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		CHECK_INT_EQ(p[t].put_errors, 0);
		CHECK_INT_EQ(p[t].sync_errors, 0);
		CHECK_INT_EQ(p[t].not_visible, 0);
	}
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	/* After a sync nothing waits and every record counts as committed. */
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, 0);
	CHECK_INT_EQ(committed, NTHREADS * PER_THREAD);

	/* Read while the queue still runs: sync alone must be enough. */
	expect_all(s, NTHREADS, PER_THREAD);

	cs_audit_queue_stop(q);
	cs_store_close(s);
}

/* --- the flush window, sync and stop -------------------------------- */

/*
 * With a 10 s window and fewer records than a group, nothing reaches the
 * store before stop(): the records really wait in memory.  stop() must
 * write them all, and a fresh handle on the store (what the next start of
 * the service sees) finds each once.
 */
TEST(stop_drains)
{
	enum { N = 500 };  /* under GROUP_MAX: no full group forces a write */
	struct recbuf *b = malloc(sizeof(*b));
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("drain");
	uint64_t waiting = 0, committed = 1;
	int i, put_errors = 0;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	CHECK_INT_EQ(cs_audit_queue_start(s, 10000, NO_LAG_MS, &q), 0);
	for (i = 0; i < N; i++) {
		rec_fill(b, 0, i);
		if (cs_audit_queue_put(q, &b->r) != 0)
			put_errors++;
	}
	CHECK_INT_EQ(put_errors, 0);
	sleep_ms(100);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, N);
	CHECK_INT_EQ(committed, 0);
	CHECK_INT_EQ(count_rows(s), 0);

	cs_audit_queue_stop(q);
	cs_store_close(s);
	expect_all_reopened("drain", N);
out:
	free(b);
}

/*
 * A record put with a 10 s window is not in the store a moment later, and
 * sync() writes it at once (not at the end of the window).  The buffer it
 * was put from is overwritten before the write: what is stored must be the
 * copy put() took.
 */
TEST(sync_flushes_now)
{
	struct recbuf *b = malloc(sizeof(*b));
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("sync");
	uint64_t waiting = 0, committed = 1;
	struct tally ta;
	int64_t t0, elapsed;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	CHECK_INT_EQ(cs_audit_queue_start(s, 10000, NO_LAG_MS, &q), 0);
	rec_fill(b, 0, 7);  /* the long purpose */
	CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	memset(b, 'Z', sizeof(*b));
	sleep_ms(200);
	CHECK_INT_EQ(count_rows(s), 0);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, 1);
	CHECK_INT_EQ(committed, 0);

	t0 = cs_mono_ms();
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	elapsed = cs_mono_ms() - t0;
	CHECK(elapsed < 2000);
	/* Visible as soon as sync() returned, not later. */
	tally_init(&ta, 1, 8);
	tally_scan(s, &ta);
	CHECK_INT_EQ(ta.rows, 1);
	CHECK_INT_EQ(ta.seen[7], 1);
	CHECK_INT_EQ(ta.bad, 0);
	free(ta.seen);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, 0);
	CHECK_INT_EQ(committed, 1);

	/* A sync with nothing waiting returns at once. */
	t0 = cs_mono_ms();
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	CHECK(cs_mono_ms() - t0 < 1000);
	cs_audit_queue_stop(q);
	cs_store_close(s);
out:
	free(b);
}

/*
 * Without a sync, a record appears once its window (50 ms) is over: not
 * before it (the writer does wait to gather a group) and well within 2 s
 * (it does not wait for more records or for stop).
 */
TEST(window_honoured)
{
	struct recbuf *b = malloc(sizeof(*b));
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("window");
	int64_t t0, seen_at = -1;
	long n;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	CHECK_INT_EQ(cs_audit_queue_start(s, 50, NO_LAG_MS, &q), 0);
	rec_fill(b, 0, 1);
	t0 = cs_mono_ms();
	CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	while (cs_mono_ms() - t0 < 2000) {
		if ((n = count_rows(s)) != 0) {
			CHECK_INT_EQ(n, 1);
			seen_at = cs_mono_ms() - t0;
			break;
		}
		sleep_ms(5);
	}
	CHECK(seen_at >= 0);
	/* 50 ms, less a millisecond lost to rounding the put's clock. */
	CHECK(seen_at >= 48);
	CHECK_INT_EQ(count_target(s, b->target, b->request_id), 1);
	cs_audit_queue_stop(q);
	cs_store_close(s);
out:
	free(b);
}

/* --- a failing store (fstore.h) -------------------------------------- */

#define FAIL_THREADS 4
#define FAIL_PER SYNC_EVERY  /* each putter syncs once, at its end */

/*
 * Three failed appends, then three failed commits: six attempts of the
 * first group fail, 200 ms apart (RETRY_MS), about 1.2 s in all, under
 * the max_lag_ms after which sync() would give up (NO_LAG_MS here).
 * Meanwhile four threads put 2,000 records, about four groups, so later groups queue behind the
 * failing one (and the retried group goes back in front of them), and each
 * thread then syncs while the store still fails.  Then every record is in
 * the store exactly once, each thread's in order, and every sync()
 * returned 0.
 */
TEST(failure_retry)
{
	struct putter p[FAIL_THREADS];
	pthread_t th[FAIL_THREADS];
	struct recbuf *b = malloc(sizeof(*b));
	struct fstore f;
	struct tally ta;
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("retry");
	uint64_t waiting = 0, committed = 1;
	int64_t t0;
	int t;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	fstore_init(&f, s, 3, 3);
	CHECK_INT_EQ(cs_audit_queue_start(&f.base, 20, NO_LAG_MS, &q), 0);

	/* One record first, and wait for its first attempt to fail, so the
	 * rest are put while the store fails. */
	rec_fill(b, FAIL_THREADS, 0);
	CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	t0 = cs_mono_ms();
	while (atomic_load(&f.appends_failed) == 0 && cs_mono_ms() - t0 < 3000)
		sleep_ms(2);
	CHECK_INT_EQ(atomic_load(&f.appends_failed), 1);
	/* While that group fails nothing counts as committed, and its one
	 * record counts as waiting, queued or being tried again. */
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(committed, 0);
	CHECK_INT_EQ(waiting, 1);

	for (t = 0; t < FAIL_THREADS; t++) {
		memset(&p[t], 0, sizeof(p[t]));
		p[t].q = q;
		p[t].s = s;
		p[t].t = t;
		p[t].n = FAIL_PER;
		CHECK_INT_EQ(pthread_create(&th[t], NULL, putter_main, &p[t]),
		    0);
	}
	for (t = 0; t < FAIL_THREADS; t++) {
		pthread_join(th[t], NULL);
		CHECK_INT_EQ(p[t].put_errors, 0);
		CHECK_INT_EQ(p[t].sync_errors, 0);
		CHECK_INT_EQ(p[t].not_visible, 0);
	}
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	/* Every injected failure happened: the retries were exercised. */
	CHECK_INT_EQ(atomic_load(&f.appends_failed), 3);
	CHECK_INT_EQ(atomic_load(&f.commits_failed), 3);
	CHECK_INT_EQ(atomic_load(&f.depth), 0);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, 0);
	CHECK_INT_EQ(committed, FAIL_THREADS * FAIL_PER + 1);

	tally_init(&ta, FAIL_THREADS + 1, FAIL_PER);
	tally_scan(s, &ta);
	CHECK_INT_EQ(ta.errors, 0);
	CHECK_INT_EQ(ta.rows, FAIL_THREADS * FAIL_PER + 1);
	CHECK_INT_EQ(ta.foreign, 0);
	CHECK_INT_EQ(ta.bad, 0);
	CHECK_INT_EQ(ta.disorder, 0);
	CHECK_INT_EQ(tally_not_once(&ta, FAIL_THREADS, FAIL_PER), 0);
	CHECK_INT_EQ(ta.seen[FAIL_THREADS * FAIL_PER + 0], 1);
	free(ta.seen);
	cs_audit_queue_stop(q);
	CHECK_INT_EQ(atomic_load(&f.depth), 0);
	cs_store_close(s);
out:
	free(b);
}

/* A queue lagging after LAG_MS, on a store whose every append fails until
 * the test resets f->append_fail. */
static cs_audit_queue *
failing_queue(struct fstore *f, cs_store *s)
{
	cs_audit_queue *q = NULL;

	fstore_init(f, s, 1 << 30, 0);
	CHECK_INT_EQ(cs_audit_queue_start(&f->base, 20, LAG_MS, &q), 0);
	return q;
}

/*
 * A store that never recovers: sync() gives up with CS_EUNAVAIL once the
 * oldest record waiting is max_lag_ms old, rather than hang the audit
 * log's reader; stop() tries a few times and returns, freeing what it
 * could not write (a leak would show under ASan); and no failed attempt
 * left a row behind.
 */
TEST(store_never_recovers)
{
	struct recbuf *b = malloc(sizeof(*b));
	struct fstore f;
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("broken");
	int64_t t0, elapsed;
	int i, rc;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	q = failing_queue(&f, s);
	t0 = cs_mono_ms();
	for (i = 0; i < 3; i++) {
		rec_fill(b, 0, i);
		CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	}
	rc = cs_audit_queue_sync(q);
	elapsed = cs_mono_ms() - t0;
	CHECK_INT_EQ(rc, CS_EUNAVAIL);
	CHECK_CONTAINS(cs_err_msg(), "audit_max_lag_ms 400");
	CHECK(elapsed >= LAG_MS && elapsed < LAG_MS + 1500);
	CHECK(atomic_load(&f.appends_failed) >= 2);

	t0 = cs_mono_ms();
	cs_audit_queue_stop(q);
	CHECK(cs_mono_ms() - t0 < 3000);
	CHECK_INT_EQ(atomic_load(&f.commits_ok), 0);
	CHECK_INT_EQ(atomic_load(&f.depth), 0);
	CHECK_INT_EQ(count_rows(s), 0);
	cs_store_close(s);
out:
	free(b);
}

/*
 * The promise by time, not queue length (issue 13, item 2): while the
 * store fails, put() succeeds until the oldest record waiting is LAG_MS
 * old, with the queue nearly empty; from then on it refuses at once,
 * queueing nothing, and a refused put() does not wait.  When the store
 * recovers, the writer's next attempt commits what waited and put()
 * works again; nothing refused is stored, nothing accepted is lost.
 */
TEST(lag_refuses_puts)
{
	struct recbuf *b = malloc(sizeof(*b));
	struct fstore f;
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("lag");
	uint64_t waiting = 0, committed = 1;
	int64_t t0, first = -1, refused_at = -1, took = -1, t;
	int i, rc = 0, accepted = 0;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	q = failing_queue(&f, s);
	t0 = cs_mono_ms();
	for (i = 0; cs_mono_ms() - t0 < 3 * LAG_MS; i++) {
		rec_fill(b, 0, i);
		t = cs_mono_ms();
		rc = cs_audit_queue_put(q, &b->r);
		if (rc == 0) {
			if (first < 0)
				first = t;
			accepted++;
		} else if (refused_at < 0) {
			refused_at = t - first;
			took = cs_mono_ms() - t;
			break;
		}
		sleep_ms(10);
	}
	CHECK_INT_EQ(rc, CS_EUNAVAIL);
	CHECK(refused_at >= LAG_MS && refused_at < LAG_MS + 300);
	CHECK(took >= 0 && took < 50);
	CHECK(accepted > 10 && accepted < 100);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, accepted);
	CHECK_INT_EQ(committed, 0);

	atomic_store(&f.append_fail, 0);
	t0 = cs_mono_ms();
	while ((rc = cs_audit_queue_put(q, &b->r)) != 0 &&
	    cs_mono_ms() - t0 < 3000)
		sleep_ms(10);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(waiting, 0);
	CHECK_INT_EQ(committed, accepted + 1);
	CHECK_INT_EQ(count_rows(s), accepted + 1);
	cs_audit_queue_stop(q);
	cs_store_close(s);
out:
	free(b);
}

static void *
stopper_main(void *arg)
{
	cs_audit_queue_stop(arg);
	return NULL;
}

/*
 * stop() while the writer is busy and more than one group waits behind it
 * must write every group, not only the one in hand.  A full group (512)
 * sends the writer into a begin() held up as a slow disk would; 700 more
 * records queue behind it, stop() is called, then the disk goes on: the
 * fresh handle must find all 1,212 once (three groups).
 */
TEST(stop_drains_groups)
{
	enum { N = 1212 };
	struct recbuf *b = malloc(sizeof(*b));
	struct fstore f;
	pthread_t th;
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("drain2");
	int64_t t0;
	int i, put_errors = 0;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	fstore_init(&f, s, 0, 0);
	atomic_store(&f.hold, 1);
	CHECK_INT_EQ(cs_audit_queue_start(&f.base, 10000, NO_LAG_MS, &q), 0);
	for (i = 0; i < N; i++) {
		rec_fill(b, 0, i);
		if (cs_audit_queue_put(q, &b->r) != 0)
			put_errors++;
		if (i == 511) {
			/* The full group is out, its begin() held. */
			t0 = cs_mono_ms();
			while (atomic_load(&f.begins) == 0 &&
			    cs_mono_ms() - t0 < 3000)
				sleep_ms(1);
			CHECK_INT_EQ(atomic_load(&f.begins), 1);
		}
	}
	CHECK_INT_EQ(put_errors, 0);
	CHECK_INT_EQ(pthread_create(&th, NULL, stopper_main, q), 0);
	sleep_ms(100);  /* stop() has set its flag and waits for the writer */
	atomic_store(&f.hold, 0);
	pthread_join(th, NULL);
	CHECK_INT_EQ(atomic_load(&f.begins), 3);
	CHECK_INT_EQ(atomic_load(&f.commits_ok), 3);
	cs_store_close(s);
	expect_all_reopened("drain2", N);
out:
	free(b);
}

struct bound_putter {
	cs_audit_queue *q;
	int n;
	atomic_int put, errors, finished;
};

static void *
bound_putter_main(void *arg)
{
	struct bound_putter *p = arg;
	struct recbuf *b = malloc(sizeof(*b));
	int i;

	for (i = 0; b != NULL && i < p->n; i++) {
		rec_fill(b, 1, i);
		if (cs_audit_queue_put(p->q, &b->r) != 0)
			atomic_fetch_add(&p->errors, 1);
		atomic_fetch_add(&p->put, 1);
	}
	free(b);
	atomic_store(&p->finished, 1);
	return NULL;
}

/*
 * Backpressure: while the writer is held up (its begin() held, as a
 * starved or slow writer is), at most four groups (2,048 records) wait in
 * memory and put() blocks past them, neither refusing (the lag is far
 * from max_lag_ms) nor queueing more; once the writer goes on, the
 * blocked put() returns and every record is committed once.
 */
TEST(queue_bound_blocks_puts)
{
	enum { BOUND = 2048, MORE = 100 };
	struct recbuf *b = malloc(sizeof(*b));
	struct bound_putter p = {0};
	struct fstore f;
	pthread_t th;
	cs_audit_queue *q = NULL;
	cs_store *s = fx_open("bound");
	uint64_t waiting = 0, committed = 0;
	int64_t t0;
	int i;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	fstore_init(&f, s, 0, 0);
	atomic_store(&f.hold, 1);
	CHECK_INT_EQ(cs_audit_queue_start(&f.base, 10000, NO_LAG_MS, &q), 0);
	for (i = 0; i < 512; i++) {  /* the writer's group, held */
		rec_fill(b, 0, i);
		CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	}
	t0 = cs_mono_ms();
	while (atomic_load(&f.begins) == 0 && cs_mono_ms() - t0 < 3000)
		sleep_ms(1);
	CHECK_INT_EQ(atomic_load(&f.begins), 1);
	p.q = q;
	p.n = BOUND + MORE;
	CHECK_INT_EQ(pthread_create(&th, NULL, bound_putter_main, &p), 0);
	t0 = cs_mono_ms();
	while (atomic_load(&p.put) < BOUND && cs_mono_ms() - t0 < 10000)
		sleep_ms(5);
	sleep_ms(200);  /* room for puts past the bound, were they allowed */
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(atomic_load(&p.put), BOUND);
	CHECK_INT_EQ(waiting, 512 + BOUND);  /* the group in hand counts too */
	CHECK_INT_EQ(atomic_load(&p.finished), 0);
	atomic_store(&f.hold, 0);
	pthread_join(th, NULL);
	CHECK_INT_EQ(atomic_load(&p.errors), 0);
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	cs_audit_queue_stats(q, &waiting, &committed);
	CHECK_INT_EQ(committed, 512 + BOUND + MORE);
	CHECK_INT_EQ(count_rows(s), 512 + BOUND + MORE);
	cs_audit_queue_stop(q);
	cs_store_close(s);
out:
	free(b);
}

/*
 * The commit times (cs_audit_queue_commit_stats): a group whose begin() is
 * held up 300 ms, as a slow disk or a checkpoint inside the commit would,
 * counts once, in no bucket of 250 ms or less, and is the slowest and
 * the whole sum; one more commit makes two, the slowest unchanged.
 */
TEST(commit_times)
{
	struct recbuf *b = malloc(sizeof(*b));
	struct fstore f;
	cs_audit_queue *q = NULL;
	cs_audit_commit_stats t;
	cs_store *s = fx_open("ctimes");
	int64_t t0;
	size_t i;
	uint64_t fast = 0;

	CHECK(s != NULL && b != NULL);
	if (s == NULL || b == NULL)
		goto out;
	fstore_init(&f, s, 0, 0);
	atomic_store(&f.hold, 1);
	CHECK_INT_EQ(cs_audit_queue_start(&f.base, 1, NO_LAG_MS, &q), 0);
	rec_fill(b, 0, 0);
	CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	t0 = cs_mono_ms();
	while (atomic_load(&f.begins) == 0 && cs_mono_ms() - t0 < 5000)
		sleep_ms(1);
	sleep_ms(300);
	atomic_store(&f.hold, 0);
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	cs_audit_queue_commit_stats(q, &t);
	CHECK_INT_EQ(t.commits, 1);
	CHECK(t.max_ms >= 300);
	CHECK(t.sum_ms == t.max_ms);
	CHECK_INT_EQ(t.le_ms[6], 500);
	for (i = 0; i < 6; i++)
		CHECK_INT_EQ(t.count[i], 0);
	CHECK_INT_EQ(t.count[6] + t.count[7] + t.count[8], 1);
	rec_fill(b, 0, 1);
	CHECK_INT_EQ(cs_audit_queue_put(q, &b->r), 0);
	CHECK_INT_EQ(cs_audit_queue_sync(q), 0);
	cs_audit_queue_commit_stats(q, &t);
	CHECK_INT_EQ(t.commits, 2);
	CHECK(t.max_ms >= 300 && t.sum_ms >= t.max_ms);
	for (i = 0; i <= CS_AUDIT_COMMIT_NB; i++)
		fast += t.count[i];
	CHECK_INT_EQ(fast, 2);
	cs_audit_queue_stop(q);
	cs_store_close(s);
out:
	free(b);
}

TEST(stop_null)
{
	/* Error paths stop whatever they have, started or not. */
	cs_audit_queue_stop(NULL);
	CHECK(1);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	fx_setup("test_audit_queue");
	RUN(many_threads);
	RUN(stop_drains);
	RUN(sync_flushes_now);
	RUN(window_honoured);
	RUN(failure_retry);
	RUN(store_never_recovers);
	RUN(lag_refuses_puts);
	RUN(stop_drains_groups);
	RUN(queue_bound_blocks_puts);
	RUN(commit_times);
	RUN(stop_null);
	fx_teardown();
	return check_summary();
}
