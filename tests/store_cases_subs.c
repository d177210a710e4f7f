/*
 * store_cases_subs: the conformance suite's cases of subscriptions
 * (store.h, cs_sub_row): rows appended (a removal is a row), a creation
 * starting after the feed's last event, delivery attempts and the
 * progress read back from them, and the sending lease (one node at a
 * time on PostgreSQL, always held on SQLite).  Included by test_store.c.
 */

static void
sub_make(cs_sub_row *r, const char *name, int removed)
{
	memset(r, 0, sizeof(*r));
	r->name = (char *)name;
	r->at = 2000;
	r->removed = removed;
	if (!removed) {
		r->url = "https://example.org/hook";
		r->types = "*";
		r->events = "licence.issued,licence.revoked";
		r->secret = "whsec_AAAA";
	}
}

static void
attempt_add(cs_store *s, int64_t sub, int64_t ev, int64_t at_ms,
    const char *result, int64_t status)
{
	cs_sub_attempt a;

	memset(&a, 0, sizeof(a));
	a.sub = sub;
	a.event_seq = ev;
	a.at_ms = at_ms;
	a.result = (char *)result;
	a.status = status;
	CHECK_INT_EQ(cs_store_sub_attempt_append(s, &a, 1), 0);
}

/* A delivery at last + 7 and a timeout at last + 8 in one call in a
 * transaction, then a connection failure at last + 8 alone. */
static void
attempts_add_many(cs_store *s, int64_t sub, int64_t last)
{
	static const struct { int64_t ev, at, status; const char *res; } in[] = {
		{7, 9100, 204, "delivered"}, {8, 9200, 0, "timeout"},
		{8, 9300, 0, "connect"},
	};
	cs_sub_attempt a[3];
	size_t i;

	memset(a, 0, sizeof(a));
	for (i = 0; i < 3; i++) {
		a[i].sub = sub;
		a[i].event_seq = last + in[i].ev;
		a[i].at_ms = in[i].at;
		a[i].status = in[i].status;
		a[i].result = (char *)in[i].res;
	}
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_sub_attempt_append(s, a, 2), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_sub_attempt_append(s, a + 2, 1), 0);
	CHECK_INT_EQ(cs_store_sub_attempt_append(s, a, 0), 0);
}

TEST(subscriptions)
{
	cs_change c, **cs = NULL;
	cs_sub_row r, **rows = NULL;
	cs_sub_progress pr;
	struct lic l;
	char id[32];
	cs_store *s = fx_open("subs"), *s2 = NULL;
	size_t n = 0, m = 0;
	int64_t sub, last;
	int held = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	change_make(&c, id, sizeof(id), "s1", &l);
	CHECK_INT_EQ(cs_store_change_append(s, &c), 0);
	CHECK_INT_EQ(cs_store_changes_page(s, 0, 10, &cs, &m), 0);
	CHECK_INT_EQ(m, 1);
	last = m > 0 ? cs[0]->seq : -1;
	cs_changes_free(cs, m);
	/* A creation starts after the feed's last event; a removal is a row. */
	sub_make(&r, "lib", 0);
	CHECK_INT_EQ(cs_store_sub_put(s, &r), 0);
	sub_make(&r, "lib", 1);
	CHECK_INT_EQ(cs_store_sub_put(s, &r), 0);
	sub_make(&r, "lib", 0);
	CHECK_INT_EQ(cs_store_sub_put(s, &r), 0);
	CHECK_INT_EQ(cs_store_subs_page(s, 0, 10, &rows, &n), 0);
	CHECK_INT_EQ(n, 3);
	if (n != 3)
		goto out;
	CHECK(rows[0]->seq < rows[1]->seq && rows[1]->seq < rows[2]->seq);
	CHECK_INT_EQ(rows[0]->after_seq, last);
	CHECK_STR_EQ(rows[0]->url, "https://example.org/hook");
	CHECK_STR_EQ(rows[0]->events, "licence.issued,licence.revoked");
	CHECK_STR_EQ(rows[0]->secret, "whsec_AAAA");
	CHECK_INT_EQ(rows[0]->removed, 0);
	CHECK_INT_EQ(rows[1]->removed, 1);
	CHECK(rows[1]->url == NULL && rows[1]->secret == NULL);
	sub = rows[2]->seq;
	/* No attempt yet. */
	CHECK_INT_EQ(cs_store_sub_progress(s, sub, &pr), 0);
	CHECK_INT_EQ(pr.delivered, 0);
	CHECK_INT_EQ(pr.head_attempts, 0);
	CHECK_INT_EQ(pr.last.seq, 0);
	cs_sub_progress_clear(&pr);
	/* A failure, a delivery, two failures at the next event. */
	attempt_add(s, sub, last, 5000, "http_status", 500);
	attempt_add(s, sub, last, 6000, "delivered", 204);
	attempt_add(s, sub, last + 7, 7000, "timeout", 0);
	attempt_add(s, sub, last + 7, 9000, "connect", 0);
	attempt_add(s, rows[0]->seq, last + 9, 9500, "delivered", 200);
	CHECK_INT_EQ(cs_store_sub_progress(s, sub, &pr), 0);
	CHECK_INT_EQ(pr.delivered, last);
	CHECK_INT_EQ(pr.head_attempts, 2);
	CHECK_INT_EQ(pr.head_first_ms, 7000);
	CHECK_INT_EQ(pr.last.event_seq, last + 7);
	CHECK_INT_EQ(pr.last.at_ms, 9000);
	CHECK_STR_EQ(pr.last.result, "connect");
	cs_sub_progress_clear(&pr);
	/* Several in one call, as the sender's flush does: inside the
	 * caller's transaction, then alone (in one of its own). */
	attempts_add_many(s, sub, last);
	CHECK_INT_EQ(cs_store_sub_progress(s, sub, &pr), 0);
	CHECK_INT_EQ(pr.delivered, last + 7);
	CHECK_INT_EQ(pr.head_attempts, 2);
	CHECK_INT_EQ(pr.head_first_ms, 9200);
	CHECK_INT_EQ(pr.last.at_ms, 9300);
	CHECK_STR_EQ(pr.last.result, "connect");
	cs_sub_progress_clear(&pr);
	/* The lease: one node at a time on PostgreSQL, until it expires. */
	CHECK_INT_EQ(cs_store_sub_lease(s, sub, "node-a", 60000, &held), 0);
	CHECK_INT_EQ(held, 1);
	if (strcmp(cs_store_backend(s), "postgresql") == 0) {
		s2 = fx_reopen("subs");
		CHECK(s2 != NULL);
		if (s2 == NULL)
			goto out;
		CHECK_INT_EQ(cs_store_sub_lease(s2, sub, "node-b", 60000, &held), 0);
		CHECK_INT_EQ(held, 0);
		CHECK_INT_EQ(cs_store_sub_lease(s, sub, "node-a", 1, &held), 0);
		CHECK_INT_EQ(held, 1);
		usleep(20 * 1000);
		CHECK_INT_EQ(cs_store_sub_lease(s2, sub, "node-b", 60000, &held), 0);
		CHECK_INT_EQ(held, 1);
		CHECK_INT_EQ(cs_store_sub_lease(s, sub, "node-a", 60000, &held), 0);
		CHECK_INT_EQ(held, 0);
	}
out:
	cs_sub_rows_free(rows, n);
	cs_store_close(s2);
	cs_store_close(s);
}
