/*
 * store_cases_changes: the conformance suite's cases of the change feed's
 * outbox (store.h, cs_change): appended in the caller's transaction (a
 * rollback leaves none), numbered in commit order across handles (nodes),
 * read in pages by seq, copied keeping seq, and the wake-up a long poll
 * waits on.  Included by test_store.c (one binary).
 */

/* A change event of licence l, event id "evt-<tag>". */
static void
change_make(cs_change *c, char *idbuf, size_t n, const char *tag,
    struct lic *l)
{
	memset(c, 0, sizeof(*c));
	snprintf(idbuf, n, "evt-%s", tag);
	c->event_id = idbuf;
	c->type = "licence.issued";
	c->licence_type = TYPE_A;
	c->licence_id = l->id;
	c->at = 1000;
	c->body = "{\"type\":\"licence.issued\"}";
}

/* The event ids of the feed after after, joined by spaces, into out. */
static void
feed_ids(cs_store *s, int64_t after, char *out, size_t n)
{
	cs_change **cs = NULL;
	size_t i, k = 0, m = 0;

	out[0] = '\0';
	CHECK_INT_EQ(cs_store_changes_page(s, after, 100, &cs, &m), 0);
	for (i = 0; i < m; i++) {
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? " " : "",
		    cs[i]->event_id);
		if (i > 0)
			CHECK(cs[i]->seq > cs[i - 1]->seq);
	}
	cs_changes_free(cs, m);
}

TEST(changes)
{
	cs_change c, **cs = NULL;
	struct lic l;
	char id[32], ids[512];
	cs_store *s = fx_open("changes");
	size_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	/* Its own transaction, then one in a transaction. */
	change_make(&c, id, sizeof(id), "a", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "b", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	/* Rolled back: none. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "gone", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	/* A nested level rolled back takes its event, the outer keeps its. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "c", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "inner", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	feed_ids(s, 0, ids, sizeof(ids));
	CHECK_STR_EQ(ids, "evt-a evt-b evt-c");
	/* An event id is unique. */
	change_make(&c, id, sizeof(id), "a", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), CS_ECONFLICT);
	/* Pages by seq, with their columns. */
	CHECK_INT_EQ(cs_store_changes_page(s, 0, 2, &cs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(cs[1]->event_id, "evt-b");
		CHECK_STR_EQ(cs[1]->type, "licence.issued");
		CHECK_STR_EQ(cs[1]->licence_type, TYPE_A);
		CHECK_STR_EQ(cs[1]->licence_id, l.id);
		CHECK_STR_EQ(cs[1]->body, "{\"type\":\"licence.issued\"}");
		CHECK(cs[1]->at == 1000);
		feed_ids(s, cs[1]->seq, ids, sizeof(ids));
		CHECK_STR_EQ(ids, "evt-c");
	}
	cs_changes_free(cs, n);
	cs_store_close(s);
}

/* A commit of a transaction that appended an event wakes the waiters; a
 * rollback, or a commit without events, does not. */
TEST(changes_wake)
{
	cs_change c;
	struct lic l;
	char id[32];
	cs_store *s = fx_open("changes_wake");
	uint64_t g0, g1;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	g0 = cs_store_changes_wait(0, 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "rolled", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK(cs_store_changes_wait(g0, 10) == g0);
	lic_make(&l, TYPE_A, 2, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(cs_store_changes_wait(g0, 10) == g0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	change_make(&c, id, sizeof(id), "kept", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);  /* nested: not yet */
	CHECK(cs_store_changes_wait(g0, 10) == g0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	g1 = cs_store_changes_wait(g0, 1000);
	CHECK(g1 != g0);
	cs_store_close(s);
}

struct order_writer {
	cs_store *s;
	struct lic *l;
	atomic_int done;
	int rc;
};

static void *
order_main(void *arg)
{
	struct order_writer *w = arg;
	cs_change c;
	char id[32];

	change_make(&c, id, sizeof(id), "second", w->l);
	w->rc = cs_store_change_append(w->s, &c);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Many nodes: a transaction that appended an event and has not committed
 * holds back every later one, on any handle, so a reader that has seen
 * seq N never finds a later commit below N. */
TEST(changes_commit_order)
{
	struct order_writer w;
	cs_change c, **cs = NULL;
	struct lic l;
	pthread_t t;
	char id[32], ids[256];
	int64_t count;
	cs_store *a = fx_open("changes_order"), *b = fx_reopen("changes_order");
	size_t n = 0;

	if (a == NULL || b == NULL) {
		cs_store_close(a);
		cs_store_close(b);
		return;
	}
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(a, &l.r), 0);
	CHECK_INT_EQ(cs_store_begin(a), 0);
	change_make(&c, id, sizeof(id), "first", &l);
	CHECK_INT_EQ(cs_store_change_append(a, &c), 0);
	/* An append inside a transaction may reach the server with the
	 * transaction's next statement that waits (store.h): a read. */
	CHECK_INT_EQ(cs_store_licence_count(a, &count), 0);
	memset(&w, 0, sizeof(w));
	w.s = b;
	w.l = &l;
	pthread_create(&t, NULL, order_main, &w);
	sleep_ms(300);
	/* The second waits for the first, which is not visible yet. */
	CHECK_INT_EQ(atomic_load(&w.done), 0);
	feed_ids(b, 0, ids, sizeof(ids));
	CHECK_STR_EQ(ids, "");
	CHECK_INT_EQ(cs_store_commit(a), 0);
	pthread_join(t, NULL);
	CHECK_INT_EQ(w.rc, 0);
	feed_ids(a, 0, ids, sizeof(ids));
	CHECK_STR_EQ(ids, "evt-first evt-second");
	CHECK_INT_EQ(cs_store_changes_page(b, 0, 10, &cs, &n), 0);
	CHECK(n == 2 && cs[0]->seq < cs[1]->seq);
	cs_changes_free(cs, n);
	cs_store_close(b);
	cs_store_close(a);
}

/* Copying keeps each seq; the store numbers on after the largest. */
TEST(changes_import)
{
	cs_change c1, c2, c3, **cs = NULL;
	cs_change *rows[2];
	struct lic l;
	char id1[32], id2[32], id3[32];
	cs_store *s = fx_open("changes_import");
	size_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	change_make(&c1, id1, sizeof(id1), "x", &l);
	change_make(&c2, id2, sizeof(id2), "y", &l);
	c1.seq = 7;
	c2.seq = 40;
	rows[0] = &c1;
	rows[1] = &c2;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_changes_import(s, rows, 2), 0);
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	change_make(&c3, id3, sizeof(id3), "z", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c3), 0);
	CHECK_INT_EQ(cs_store_changes_page(s, 0, 10, &cs, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3)
		CHECK(cs[0]->seq == 7 && cs[1]->seq == 40 && cs[2]->seq > 40);
	cs_changes_free(cs, n);
	/* A seq taken is refused, and the batch with it. */
	c3.seq = 7;
	c3.event_id = "evt-again";
	rows[0] = &c3;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK(cs_store_changes_import(s, rows, 1) != 0);
	(void)cs_store_rollback(s);
	cs_store_close(s);
}

/* A body as the domain writes one (events.c): Chinese text, escapes,
 * about 600 bytes.  The SQLite store keeps it packed (zrecord.h). */
static const char change_body_real[] =
    "{\"event_id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
    "\"licence.revoked\",\"at\":\"2026-12-06T00:41:13Z\",\"licence\":{\"id\":"
    "\"1.2.156.3005.2.11100000000013338W041.11440000006939756B.2612060001."
    "001.X\",\"type\":\"11100000000013338W041\",\"type_name\":\"排污许可证\","
    "\"number\":\"91350100M000123Y43001P\",\"issuer\":{\"name\":\"生态环境部\","
    "\"code\":\"11100000000013338W\"},\"issued_at\":\"2026-12-06T00:41:13Z\","
    "\"valid_from\":\"2026-12-06\",\"valid_until\":\"2031-12-05\","
    "\"supersedes\":null,\"bundle\":null,\"holder\":{\"name\":"
    "\"广州市\\\"绿源\\\"化工有限公司\\u00e9\",\"code_type\":\"USCC\",\"code\":"
    "\"91350100M000123Y43\",\"code_type_code\":\"001\"},\"status\":"
    "\"revoked\"},\"reason\":\"吊销\",\"kind\":\"revocation\"}";

/* The feed gives back each body byte for byte as it was appended or
 * copied in (webhook signatures are over it), whatever form the store
 * keeps it in: a real-sized one, and a tiny one that would not shrink. */
TEST(changes_body_bytes)
{
	cs_change c, d, *rows[1], **cs = NULL;
	struct lic l;
	char id[32], id2[32];
	cs_store *s = fx_open("changes_body_bytes");
	size_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	change_make(&c, id, sizeof(id), "real", &l);
	c.body = (char *)change_body_real;
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	change_make(&c, id, sizeof(id), "tiny", &l);
	c.body = "{}";
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	change_make(&d, id2, sizeof(id2), "copied", &l);
	d.body = (char *)change_body_real;
	d.seq = 10;
	rows[0] = &d;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_changes_import(s, rows, 1), 0);
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_changes_page(s, 0, 10, &cs, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_INT_EQ(strlen(cs[0]->body), sizeof(change_body_real) - 1);
		CHECK_STR_EQ(cs[0]->body, change_body_real);
		CHECK_STR_EQ(cs[1]->body, "{}");
		CHECK_STR_EQ(cs[2]->event_id, "evt-copied");
		CHECK_STR_EQ(cs[2]->body, change_body_real);
	}
	cs_changes_free(cs, n);
	cs_store_close(s);
}
