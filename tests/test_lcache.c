/*
 * test_lcache: the licence cache (lcache.c) and the one-allocation licence
 * row it hands out (licence_row.c): copies equal to what was put, a bound in
 * bytes that holds, the recently read kept over the untouched, status
 * events beside the rows (the status cache), and many threads at once.
 */
#include "check.h"
#include "lcache.h"
#include "store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lic {
	cs_licence_row r;
	char id[40], number[40], record[1024];
};

/* A row of about 1.2 KB (the record ~1,000 bytes), bundle and supersedes
 * NULL, as a licence without them is. */
static void
lic_make(struct lic *l, int i)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "L-%08d", i);
	snprintf(l->number, sizeof(l->number), "No.%d", i);
	memset(l->record, 'x', 1000);
	snprintf(l->record, 40, "{\"id\":\"%s\",\"n\":%d}", l->id, i);
	l->record[strlen(l->record)] = ' ';
	l->r.id = l->id;
	l->r.type = "T001";
	l->r.issuer_code = "11350100MB0000001X";
	l->r.seq = i;
	l->r.holder_code = "91350100M000100Y43";
	l->r.number = l->number;
	l->r.client = "ems";
	l->r.approval_ref = "A-1";
	l->r.request_hash = "00ff";
	l->r.issued_at = 1700000000 + i;
	l->r.record = l->record;
}

static int
row_equal(const cs_licence_row *a, const cs_licence_row *b)
{
#define SAME(f) ((a->f == NULL && b->f == NULL) || \
	(a->f != NULL && b->f != NULL && strcmp(a->f, b->f) == 0))
	return SAME(id) && SAME(type) && SAME(issuer_code) && SAME(holder_code) &&
	    SAME(number) && SAME(client) && SAME(approval_ref) &&
	    SAME(request_hash) && SAME(bundle) && SAME(supersedes) &&
	    SAME(record) && a->seq == b->seq && a->issued_at == b->issued_at;
#undef SAME
}

/* The copy is one allocation that owns its strings: equal, NULLs kept, and
 * still whole after the source is overwritten. */
TEST(row_copy)
{
	struct lic l;
	cs_licence_row *c;
	size_t size;

	lic_make(&l, 7);
	l.r.bundle = "B-1";
	size = cs_licence_row_size(&l.r);
	CHECK_INT_EQ(size, sizeof(cs_licence_row) + strlen(l.id) + 1 + 5 + 19 +
	    19 + strlen(l.number) + 1 + 4 + 4 + 5 + 4 + strlen(l.record) + 1);
	c = cs_licence_row_copy(&l.r);
	CHECK(c != NULL && row_equal(c, &l.r));
	CHECK(c != NULL && c->supersedes == NULL);
	CHECK(c != NULL && (char *)c->record > (char *)c &&
	    (char *)c->record < (char *)c + size);
	memset(l.record, 'y', 10);
	CHECK_STR_EQ(c ? c->id : NULL, "L-00000007");
	CHECK(c != NULL && c->record[0] == '{');
	cs_licence_row_free(c);
	cs_licence_row_free(NULL);
	cs_licence_rows_free(NULL, 3);
}

TEST(get_after_put)
{
	cs_lcache *c = cs_lcache_new(1 << 20);
	cs_licence_row *got = NULL;
	struct lic l;

	lic_make(&l, 1);
	CHECK_INT_EQ(cs_lcache_get(c, l.id, &got), 0);
	CHECK(got == NULL);
	cs_lcache_put(c, &l.r);
	cs_lcache_put(c, &l.r);  /* again: kept once */
	CHECK_INT_EQ(cs_lcache_get(c, l.id, &got), 1);
	CHECK(got != NULL && got != &l.r && row_equal(got, &l.r));
	cs_licence_row_free(got);
	CHECK_INT_EQ(cs_lcache_get(c, "L-00000002", &got), 0);
	cs_lcache_free(c);
	cs_lcache_free(NULL);
}

/* The status cache: events kept beside a cached row only, copies handed
 * back, none when read before since_ms, and a drop (or clear) that came
 * after a reader took the epoch makes its put a no-op: events read from
 * the database before a change are never put back after its drop. */
TEST(events_beside_rows)
{
	cs_lcache *c = cs_lcache_new(1 << 20);
	cs_event e = {0}, *one[1] = {&e}, **got = NULL;
	struct lic l;
	uint64_t epoch;
	cs_licence_row *got_row = NULL;
	size_t n = 9;

	lic_make(&l, 1);
	e.seq = 5;
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	e.reason = "inspection";
	epoch = cs_lcache_epoch(c);
	cs_lcache_events_put(c, l.id, one, 1, epoch, 100);  /* no row: not kept */
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	cs_lcache_put(c, &l.r);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	cs_lcache_events_put(c, l.id, one, 1, epoch, 100);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 100, &got, &n), 1);
	CHECK_INT_EQ(n, 1);
	if (n == 1 && got != NULL) {
		CHECK(got[0] != &e);
		CHECK_STR_EQ(got[0]->action, "suspend");
		CHECK_STR_EQ(got[0]->reason, "inspection");
		CHECK(got[0]->kind == NULL);
		CHECK_INT_EQ(got[0]->seq, 5);
	}
	cs_events_free(got, n);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 101, &got, &n), 0);
	/* No events is an answer too. */
	epoch = cs_lcache_epoch(c);
	cs_lcache_events_put(c, l.id, NULL, 0, epoch, 200);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 1);
	CHECK(n == 0 && got == NULL);
	/* Dropped: gone, and a put of what was read before is refused. */
	epoch = cs_lcache_epoch(c);
	cs_lcache_events_drop(c, l.id);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	cs_lcache_events_put(c, l.id, one, 1, epoch, 300);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	epoch = cs_lcache_epoch(c);
	cs_lcache_events_put(c, l.id, one, 1, epoch, 300);
	cs_lcache_events_clear(c);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	cs_lcache_events_put(c, l.id, one, 1, epoch, 300);
	CHECK_INT_EQ(cs_lcache_events_get(c, l.id, 0, &got, &n), 0);
	/* The row itself stays through drops and clears. */
	CHECK_INT_EQ(cs_lcache_get(c, l.id, &got_row), 1);
	cs_licence_row_free(got_row);
	cs_lcache_free(c);
}

/* 16 shards of 8 KB hold about six rows each: of 400 rows put, at most the
 * bound's worth stays, the last one put is there, and one read after every
 * put stays while one never read again goes. */
TEST(bound_and_recency)
{
	enum { N = 400, BYTES = 16 * 8192 };
	cs_lcache *c = cs_lcache_new(BYTES);
	cs_licence_row *got;
	struct lic *l = calloc(N, sizeof(*l));
	size_t kept = 0, i;

	for (i = 0; i < N; i++)
		lic_make(&l[i], (int)i);
	cs_lcache_put(c, &l[0].r);  /* read after every put */
	cs_lcache_put(c, &l[1].r);  /* never read */
	for (i = 2; i < N; i++) {
		cs_lcache_put(c, &l[i].r);
		CHECK_INT_EQ(cs_lcache_get(c, l[0].id, &got), 1);
		cs_licence_row_free(got);
	}
	CHECK_INT_EQ(cs_lcache_get(c, l[1].id, &got), 0);
	CHECK_INT_EQ(cs_lcache_get(c, l[N - 1].id, &got), 1);
	CHECK(got != NULL && row_equal(got, &l[N - 1].r));
	cs_licence_row_free(got);
	for (i = 0; i < N; i++)
		if (cs_lcache_get(c, l[i].id, &got)) {
			kept++;
			cs_licence_row_free(got);
		}
	CHECK(kept >= 16 && kept * cs_licence_row_size(&l[2].r) <= BYTES);
	cs_lcache_free(c);
	free(l);
}

/* A row over a quarter of its shard is not kept. */
TEST(too_big)
{
	cs_lcache *c = cs_lcache_new(16 * 2048);
	cs_licence_row *got = NULL;
	struct lic l;

	lic_make(&l, 3);
	cs_lcache_put(c, &l.r);
	CHECK_INT_EQ(cs_lcache_get(c, l.id, &got), 0);
	cs_lcache_free(c);
}

enum { THREADS = 8, ROWS = 128, ROUNDS = 4000 };
static cs_lcache *shared;
static struct lic rows[ROWS];

/* Each thread reads and puts rows at random; a copy it gets must be the
 * row of its id. */
static void *
hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	cs_licence_row *got;
	intptr_t wrong = 0;
	int k, i;

	for (k = 0; k < ROUNDS; k++) {
		i = (int)(rand_r(&seed) % ROWS);
		if (cs_lcache_get(shared, rows[i].id, &got)) {
			wrong += !row_equal(got, &rows[i].r);
			cs_licence_row_free(got);
		} else {
			cs_lcache_put(shared, &rows[i].r);
		}
	}
	return (void *)wrong;
}

TEST(threads)
{
	pthread_t t[THREADS];
	void *wrong;
	long total = 0;
	int i;

	/* Four rows a shard, about half of them: puts evict while others
	 * read. */
	shared = cs_lcache_new(16 * 5000);
	for (i = 0; i < ROWS; i++)
		lic_make(&rows[i], i);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &wrong);
		total += (long)(intptr_t)wrong;
	}
	CHECK_INT_EQ(total, 0);
	cs_lcache_free(shared);
}

/* A note (cs_lcache_note) goes into the cached row and comes with every
 * copy after; one for an id not cached is nothing, and a row put again
 * (another thread's read of the same row) keeps the note it has. */
TEST(note_beside_row)
{
	uint32_t note[CS_ROW_NOTE_WORDS] = {0};
	cs_lcache *c = cs_lcache_new(1 << 20);
	cs_licence_row *got = NULL;
	struct lic l;

	lic_make(&l, 1);
	note[0] = 11;
	note[CS_ROW_NOTE_WORDS - 1] = 12;
	cs_lcache_note(c, l.id, note);  /* not cached: nothing */
	cs_lcache_put(c, &l.r);
	CHECK(cs_lcache_get(c, l.id, &got) && got->note[0] == 0);
	cs_licence_row_free(got);
	cs_lcache_note(c, l.id, note);
	CHECK(cs_lcache_get(c, l.id, &got) && got->note[0] == 11 &&
	    got->note[CS_ROW_NOTE_WORDS - 1] == 12 && row_equal(got, &l.r));
	cs_licence_row_free(got);
	cs_lcache_put(c, &l.r);
	CHECK(cs_lcache_get(c, l.id, &got) && got->note[0] == 11);
	cs_licence_row_free(got);
	cs_lcache_free(c);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(row_copy);
	RUN(get_after_put);
	RUN(events_beside_rows);
	RUN(note_beside_row);
	RUN(bound_and_recency);
	RUN(too_big);
	RUN(threads);
	return check_summary();
}
