/*
 * store_cases_tx: the conformance suite's cases of transactions, threads
 * and durability: begin/commit/rollback and what other threads see,
 * nesting, a thread that dies inside its transaction, writers and readers
 * at once, failing transactions among concurrent ones, a commit seen by
 * another handle at once, and a process killed right after commit().
 * Included by test_store.c (one binary), not built alone; its stores come
 * from the fixture, like every case of the suite.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* --- transactions ------------------------------------------------------- */

struct peek {
	cs_store *s;
	const char *id;
	int get_rc;
	int64_t count;
};

static void *
peek_main(void *arg)
{
	struct peek *p = arg;
	cs_licence_row *r = NULL;

	p->get_rc = cs_store_licence_get(p->s, p->id, &r);
	cs_licence_row_free(r);
	cs_store_licence_count(p->s, &p->count);
	return NULL;
}

/* What a backend keeps of rows it has read (SQLite: its licence cache,
 * store_sqlite.c) is committed rows only: a row read inside a transaction
 * that rolls back is gone with it, and its id may be written again with
 * another record, which is what every later read answers. */
TEST(licence_cache)
{
	cs_licence_row *got = NULL, **rows = NULL;
	struct lic l, again;
	size_t n = 0;
	int i;
	cs_store *s = fx_open("cache");

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	cs_licence_row_free(got);
	CHECK_INT_EQ(by_holder(s, "91350100M000100Y43", NULL,
	    &rows, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_licence_rows_free(rows, n);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), CS_ENOTFOUND);

	lic_make(&again, TYPE_A, 1, "91350100M000200Y43", "ems", 2000, NULL);
	snprintf(again.record, sizeof(again.record), "{\"id\":\"%s\",\"v\":2}",
	    again.id);
	CHECK_INT_EQ(cs_store_licence_put(s, &again.r), 0);
	/* The second read of each is answered from the cache: the same. */
	for (i = 0; i < 2; i++) {
		CHECK_INT_EQ(cs_store_licence_get(s, again.id, &got), 0);
		CHECK_STR_EQ(got ? got->record : NULL, again.record);
		CHECK_STR_EQ(got ? got->holder_code : NULL, "91350100M000200Y43");
		CHECK_STR_EQ(got ? got->request_hash : NULL, HASH_HEX);
		cs_licence_row_free(got);
		CHECK_INT_EQ(by_holder(s, "91350100M000200Y43",
		    NULL, &rows, &n), 0);
		CHECK_INT_EQ(n, 1);
		CHECK_STR_EQ(n ? rows[0]->record : NULL, again.record);
		cs_licence_rows_free(rows, n);
		CHECK_INT_EQ(by_holder(s, "91350100M000100Y43",
		    NULL, &rows, &n), 0);
		CHECK_INT_EQ(n, 0);
		cs_licence_rows_free(rows, n);
	}
	cs_store_close(s);
}

TEST(transactions)
{
	cs_licence_row *got = NULL;
	cs_audit_rec a;
	cs_event e;
	struct lic l;
	struct peek p;
	pthread_t t;
	cs_store *s = fx_open("tx");
	int64_t v = -1;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);
	cs_err_set(CS_EIO, "earlier failure");
	CHECK_INT_EQ(cs_store_rollback(s), 0); /* nothing to roll back */
	CHECK_STR_EQ(cs_err_msg(), "earlier failure");

	CHECK_INT_EQ(cs_store_begin(s), 0);
	/* A begin inside a transaction opens a nested level (see nesting). */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	memset(&a, 0, sizeof(a));
	a.action = "issue";
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	/* The transaction sees its own writes... */
	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), 0);
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 2);
	/* ...a conflict inside it fails that call only... */
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), CS_ECONFLICT);
	/* ...and another thread sees none of them. */
	p.s = s;
	p.id = l.id;
	p.count = -1;
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, CS_ENOTFOUND);
	CHECK_INT_EQ(p.count, 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);

	CHECK_INT_EQ(cs_store_licence_get(s, l.id, &got), CS_ENOTFOUND);
	CHECK_INT_EQ(cs_store_licence_count(s, &v), 0);
	CHECK_INT_EQ(v, 0);
	CHECK_INT_EQ(audit_n(s, &(cs_audit_filter){ 0 }, NULL), 0);
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);

	/* Committed, the other thread sees it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, 0);
	CHECK_INT_EQ(p.count, 1);
	cs_store_close(s);
}

/* A thread that dies inside its transaction. */
static void *
abandon_main(void *arg)
{
	cs_store *s = arg;
	struct lic l;

	lic_make(&l, TYPE_B, 1, "91350100M000100Y43", "ems", 1, NULL);
	if (cs_store_begin(s) == 0)
		cs_store_licence_put(s, &l.r);
	return NULL;
}

TEST(abandoned_transaction)
{
	cs_licence_row *got = NULL;
	cs_store *s = fx_open("abandon");
	pthread_t t;
	int64_t n = -1;

	if (s == NULL)
		return;
	pthread_create(&t, NULL, abandon_main, s);
	pthread_join(t, NULL);
	/* Rolled back at its exit, and the writer is free again. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* Its slot (and reader) serve the next thread without confusion. */
	pthread_create(&t, NULL, abandon_main, s);
	pthread_join(t, NULL);
	CHECK_INT_EQ(cs_store_licence_get(s, "1.2.156.3005.2." TYPE_B "."
	    ISSUER ".1.001.X", &got), CS_ENOTFOUND);
	cs_store_close(s);
}

/* --- threads ------------------------------------------------------------ */

#define WRITERS 8
#define PER_WRITER 200
#define READERS 2
#define AUDITS 100

struct worker {
	cs_store *s;
	int idx;
	int64_t seqs[PER_WRITER];
	int errors;
	long reads;
};

static atomic_int writers_done;

static void *
writer_main(void *arg)
{
	struct worker *w = arg;
	struct lic l;
	char holder[32];
	int64_t seq;
	int i, rc;

	snprintf(holder, sizeof(holder), "HOLDER-%d", w->idx);
	for (i = 0; i < PER_WRITER; i++) {
		seq = 0;
		if ((rc = cs_store_begin(w->s)) == 0 &&
		    (rc = cs_store_licence_next_seq(w->s, TYPE_A, ISSUER,
		    &seq)) == 0) {
			lic_make(&l, TYPE_A, seq, holder, "ems", 1000 + i, NULL);
			rc = cs_store_licence_put(w->s, &l.r);
		}
		if (rc == 0)
			rc = cs_store_commit(w->s);
		else
			cs_store_rollback(w->s);
		if (rc != 0) {
			fprintf(stderr, "writer %d: %s\n", w->idx, cs_err_msg());
			w->errors++;
		} else
			w->seqs[i] = seq;
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/* Reads outside any transaction while the writers run: never an error,
 * and a count that only grows. */
static void *
reader_main(void *arg)
{
	struct worker *w = arg;
	cs_licence_row *r = NULL, **rows = NULL;
	int64_t n, prev = 0;
	size_t k = 0;

	while (atomic_load(&writers_done) < WRITERS) {
		if (cs_store_licence_count(w->s, &n) != 0 || n < prev)
			w->errors++;
		prev = n;
		if (by_holder(w->s, "HOLDER-3", NULL, &rows,
		    &k) != 0)
			w->errors++;
		cs_licence_rows_free(rows, k);
		if (n > 0 && cs_store_licence_get(w->s,
		    "1.2.156.3005.2." TYPE_A "." ISSUER ".1.001.X", &r) != 0)
			w->errors++;
		cs_licence_row_free(r);
		r = NULL;
		w->reads++;
	}
	return NULL;
}

/* Writes outside a transaction: each is its own, queued on the writer. */
static void *
auditor_main(void *arg)
{
	struct worker *w = arg;
	cs_audit_rec a;
	int i;

	memset(&a, 0, sizeof(a));
	a.action = "read";
	for (i = 0; i < AUDITS; i++)
		if (cs_store_audit_append(w->s, &a) != 0)
			w->errors++;
	return NULL;
}

TEST(threads)
{
	static struct worker w[WRITERS + READERS + 1];
	static unsigned char seen[WRITERS * PER_WRITER + 1];
	pthread_t t[WRITERS + READERS + 1];
	cs_audit_filter f;
	cs_store *s = fx_open("threads");
	int64_t n = 0;
	int i, j, dups = 0, errors = 0;

	if (s == NULL)
		return;
	atomic_store(&writers_done, 0);
	for (i = 0; i < WRITERS + READERS + 1; i++) {
		w[i].s = s;
		w[i].idx = i;
		pthread_create(&t[i], NULL, i < WRITERS ? writer_main :
		    i < WRITERS + READERS ? reader_main : auditor_main, &w[i]);
	}
	for (i = 0; i < WRITERS + READERS + 1; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	CHECK_INT_EQ(errors, 0);
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < PER_WRITER; j++) {
			n = w[i].seqs[j];
			if (n < 1 || n > WRITERS * PER_WRITER || seen[n]++)
				dups++;
		}
	CHECK_INT_EQ(dups, 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, WRITERS * PER_WRITER);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &n), 0);
	CHECK_INT_EQ(n, WRITERS * PER_WRITER + 1);
	CHECK(w[WRITERS].reads > 0 && w[WRITERS + 1].reads > 0);
	memset(&f, 0, sizeof(f));
	f.limit = 1000;
	CHECK_INT_EQ(audit_n(s, &f, NULL), AUDITS);
	cs_store_close(s);
}

/* --- nesting ------------------------------------------------------------ */


TEST(nesting)
{
	struct lic l[7];
	struct peek p;
	pthread_t t;
	cs_store *s = fx_open("nest");
	int64_t n = -1;
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < 7; i++)
		lic_make(&l[i], TYPE_A, i + 1, "91350100M000100Y43", "ems",
		    1000 + i, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[0].r), 0);
	/* An inner level committed stays in the outer transaction... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[1].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* ...an inner level rolled back is undone alone... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[2].r), 0);
	CHECK(has_licence(s, l[2].id));
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[2].id));
	CHECK(has_licence(s, l[0].id) && has_licence(s, l[1].id));
	/* ...with everything inside it, three levels deep... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[3].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[3].id));
	/* ...a conflict in an inner level leaves the outer one usable... */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[0].r), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[4].r), 0);
	/* ...and nothing is visible elsewhere before the outermost commit. */
	p.s = s;
	p.id = l[0].id;
	p.count = -1;
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, CS_ENOTFOUND);
	CHECK_INT_EQ(p.count, 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	pthread_create(&t, NULL, peek_main, &p);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.get_rc, 0);
	CHECK_INT_EQ(p.count, 3);  /* l[0], l[1], l[4] */
	CHECK(has_licence(s, l[4].id) && !has_licence(s, l[3].id));

	/* The outermost rollback undoes the inner levels committed in it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[5].r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(!has_licence(s, l[5].id));
	/* A write call inside a level belongs to it. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l[6].r), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(!has_licence(s, l[6].id));
	CHECK_INT_EQ(cs_store_commit(s), CS_EINVAL);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 3);
	cs_store_close(s);
}

/* --- many writers, some failing ------------------------------------------ */

/* GC_THREADS threads at once, a quarter of them meeting a conflict every
 * third transaction and rolling it back (gc_many, store_data.h): every
 * commit that returned 0 is there, every failed transaction left nothing,
 * the others never noticed; and every audit record of those committed is
 * there, with one per loop written outside a transaction. */
TEST(concurrent_commits)
{
	cs_audit_filter f;
	struct lic l;
	cs_store *s = fx_open("concurrent");
	int committed;

	if (s == NULL)
		return;
	gc_lic(&l, 0, 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	committed = gc_many(s);
	memset(&f, 0, sizeof(f));
	CHECK_INT_EQ(audit_total(s, f), committed + GC_THREADS * GC_PER);
	cs_store_close(s);
}

/* --- durability ----------------------------------------------------------- */

/* A commit that returned is seen at once by another handle on the same
 * store (what another process, or the server after a restart, would
 * open); what a transaction wrote is not, before its commit. */
TEST(commit_visible)
{
	struct lic l1, l2;
	cs_store *s = fx_open("visible"), *o = NULL;
	int64_t n = -1;

	if (s == NULL || (o = fx_reopen("visible")) == NULL) {
		cs_store_close(s);
		return;
	}
	lic_make(&l1, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l2, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l1.r), 0);
	CHECK(has_licence(o, l1.id));
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l2.r), 0);
	CHECK(!has_licence(o, l2.id));
	CHECK_INT_EQ(cs_store_licence_count(o, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(has_licence(o, l2.id));
	CHECK_INT_EQ(cs_store_licence_count(o, &n), 0);
	CHECK_INT_EQ(n, 2);
	cs_store_close(o);
	cs_store_close(s);
}

/* --- a crash right after commit ----------------------------------------- */

#define CRASH_THREADS 8
#define CRASH_MAX 100000

/* What the child reports through shared memory: which licences' commits
 * had returned 0 when it was killed. */
struct crash_log {
	atomic_int committed[CRASH_THREADS][CRASH_MAX / CRASH_THREADS];
	atomic_int n[CRASH_THREADS];
	atomic_int first_done;
};

struct crash_arg {
	cs_store *s;
	struct crash_log *log;
	int idx;
};

static void *
crash_writer(void *arg)
{
	struct crash_arg *a = arg;
	struct lic l;
	int i;

	for (i = 0; i < CRASH_MAX / CRASH_THREADS; i++) {
		lic_make(&l, TYPE_A, 1000000 + a->idx * 100000 + i,
		    "91350100M000100Y43", "ems", 1, NULL);
		if (cs_store_licence_put(a->s, &l.r) != 0)
			break;
		atomic_store(&a->log->committed[a->idx][i], 1);
		atomic_store(&a->log->n[a->idx], i + 1);
	}
	return NULL;
}

/* How many commits the writers have seen return so far. */
static int
crash_commits(struct crash_log *log)
{
	int i, n = 0;

	for (i = 0; i < CRASH_THREADS; i++)
		n += atomic_load(&log->n[i]);
	return n;
}

/*
 * The child commits one licence and kills itself with SIGKILL the moment
 * commit() returns; then it runs eight writers and kills itself in the
 * middle of their group commits.  Every licence whose commit() had
 * returned 0 must be in the database the parent opens afterwards.  (A
 * process crash, not a power cut: the page cache survives it; the fsync
 * half of durability is the backend's own test's: for SQLite,
 * durable_commit in test_store_sqlite.c.)
 */
static void
crash_child(int concurrent, struct crash_log *log)
{
	struct crash_arg a[CRASH_THREADS];
	pthread_t t[CRASH_THREADS];
	struct lic l;
	cs_store *s = NULL;
	int i;

	if ((s = fx_reopen("crash")) == NULL)
		_exit(3);
	if (!concurrent) {
		lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1, NULL);
		if (cs_store_begin(s) != 0 || cs_store_licence_put(s, &l.r) != 0 ||
		    cs_store_commit(s) != 0)
			_exit(4);
		kill(getpid(), SIGKILL);
	}
	for (i = 0; i < CRASH_THREADS; i++) {
		a[i].s = s;
		a[i].log = log;
		a[i].idx = i;
		pthread_create(&t[i], NULL, crash_writer, &a[i]);
	}
	/* In the middle of their group commits: once some have returned (a
	 * loaded machine, or the sanitizers, may take seconds for the
	 * first), and 150 ms later. */
	for (i = 0; i < 2000 && crash_commits(log) == 0; i++)
		usleep(10 * 1000);
	usleep(150 * 1000);
	kill(getpid(), SIGKILL);
	_exit(5);
}

TEST(crash_after_commit)
{
	struct crash_log *log;
	struct lic l;
	cs_store *s;
	pid_t pid;
	int status = 0, i, j, total = 0, missing = 0, round;

	log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(log != MAP_FAILED);
	if (log == MAP_FAILED)
		return;
	memset(log, 0, sizeof(*log));
	if ((s = fx_open("crash")) == NULL)
		return;
	cs_store_close(s);
	for (round = 0; round < 2; round++) {
		fflush(NULL);
		if ((pid = fork()) == 0)
			crash_child(round, log);
		CHECK(pid > 0);
		CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	if ((s = fx_reopen("crash")) == NULL)
		return;
	lic_make(&l, TYPE_A, 1, "91350100M000100Y43", "ems", 1, NULL);
	CHECK(has_licence(s, l.id));
	for (i = 0; i < CRASH_THREADS; i++)
		for (j = 0; j < atomic_load(&log->n[i]); j++) {
			if (!atomic_load(&log->committed[i][j]))
				continue;
			total++;
			lic_make(&l, TYPE_A, 1000000 + i * 100000 + j,
			    "91350100M000100Y43", "ems", 1, NULL);
			if (!has_licence(s, l.id))
				missing++;
		}
	CHECK(total > 0);
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(cs_store_ping(s), 0);
	cs_store_close(s);
	munmap(log, sizeof(*log));
}

