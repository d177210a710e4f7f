/*
 * store_cases_copy: the conformance suite's cases of what copying a
 * library between stores uses (store.h, "Copying a library"): every
 * table read in pages in the order stored, imports that keep the numbers
 * they are given, refuse a number taken, and leave the store numbering on
 * after the largest.  Included by test_store.c (one binary).
 */

/* --- pages ---------------------------------------------------------------- */

TEST(copy_pages)
{
	static const int64_t order[] = { 5, 2, 9, 1, 7 };
	cs_licence_row **rows = NULL;
	cs_bundle_row b, **bs = NULL;
	cs_event e, **evs = NULL;
	struct lic l;
	cs_store *s = fx_open("copy_pages");
	int64_t pos = 0, seq2 = 0;
	size_t i, n = 0, seen = 0;

	if (s == NULL)
		return;
	/* Licences come back in the order stored, not by id or seq. */
	for (i = 0; i < 5; i++) {
		lic_make(&l, TYPE_A, order[i], HOLDER_1, "ems", 1000, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	do {
		CHECK_INT_EQ(cs_store_licences_page(s, &pos, 2, &rows, &n), 0);
		for (i = 0; i < n && seen + i < 5; i++)
			CHECK_INT_EQ(rows[i]->seq, order[seen + i]);
		seen += n;
		cs_licence_rows_free(rows, n);
	} while (n == 2 && seen < 10);
	CHECK_INT_EQ(seen, 5);
	/* Past the last one: an empty page, the position kept. */
	CHECK_INT_EQ(cs_store_licences_page(s, &pos, 2, &rows, &n), 0);
	CHECK(n == 0);
	cs_licence_rows_free(rows, n);

	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	for (i = 0; i < 3; i++) {
		e.at = 10 + (int64_t)i;
		CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	}
	CHECK_INT_EQ(cs_store_events_page(s, 0, 2, &evs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK(evs[0]->at == 10 && evs[1]->at == 11);
		CHECK_STR_EQ(evs[1]->licence_id, l.id);
		seq2 = evs[1]->seq;
	}
	cs_events_free(evs, n);
	CHECK_INT_EQ(cs_store_events_page(s, seq2, 2, &evs, &n), 0);
	CHECK(n == 1 && evs[0]->at == 12);
	cs_events_free(evs, n);

	/* Bundles by id, bytewise. */
	memset(&b, 0, sizeof(b));
	b.client = "onewindow";
	b.request_hash = HASH_HEX;
	b.created_at = 5;
	b.id = "B-2", b.approval_ref = "R2";
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	b.id = "B-1", b.approval_ref = "R1";
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	b.id = "B-3", b.approval_ref = "R3";
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	CHECK_INT_EQ(cs_store_bundles_page(s, NULL, 2, &bs, &n), 0);
	CHECK(n == 2 && strcmp(bs[0]->id, "B-1") == 0 &&
	    strcmp(bs[1]->id, "B-2") == 0 && strcmp(bs[1]->approval_ref, "R2") == 0);
	cs_bundle_rows_free(bs, n);
	CHECK_INT_EQ(cs_store_bundles_page(s, "B-2", 2, &bs, &n), 0);
	CHECK(n == 1 && strcmp(bs[0]->id, "B-3") == 0);
	cs_bundle_rows_free(bs, n);
	cs_store_close(s);
}

/* --- imports -------------------------------------------------------------- */

static void
import_events(cs_store *s, const char *licence_id)
{
	cs_event e, *one = &e, **evs = NULL;
	size_t n = 0;

	memset(&e, 0, sizeof(e));
	e.licence_id = (char *)licence_id;
	e.actor = "ems";
	e.action = "revoke";
	e.kind = "revoked";
	e.at = 77;
	e.seq = 50;
	/* Batches are written inside a transaction only. */
	CHECK_INT_EQ(cs_store_events_import(s, &one, 1), CS_EINVAL);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_events_import(s, &one, 1), 0);
	/* The seq is a key: a second row of it is refused. */
	CHECK_INT_EQ(cs_store_events_import(s, &one, 1), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	e.action = "suspend";
	e.kind = NULL;
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_events_for(s, licence_id, &evs, &n), 0);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_INT_EQ(evs[0]->seq, 50);
		CHECK_STR_EQ(evs[0]->kind, "revoked");
		CHECK_INT_EQ(evs[0]->at, 77);
		CHECK_INT_EQ(evs[1]->seq, 51);
	}
	cs_events_free(evs, n);
}

static void
import_clients(cs_store *s)
{
	cs_client c, *got = NULL;

	client_make(&c, "ems", "issuer", 0xa1);
	c.id = 7;
	CHECK_INT_EQ(cs_store_client_import(s, &c), 0);
	client_make(&c, "other", "reader", 0xb2);
	c.id = 7;
	CHECK_INT_EQ(cs_store_client_import(s, &c), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);
	CHECK_INT_EQ(cs_store_client_get(s, "ems", &got), 0);
	CHECK(got != NULL && got->id == 7 && got->created_at == 100 + 0xa1);
	cs_client_free(got);
	got = NULL;
	CHECK_INT_EQ(cs_store_client_get(s, "other", &got), 0);
	CHECK(got != NULL && got->id == 8);
	cs_client_free(got);
}

/* Records imported on both sides of an audit chunk (SQLite keys 16,384
 * seqs at a time) are found by holder afterwards, and the next record
 * appended follows the largest. */
static void
import_audit(cs_store *s)
{
	static const int64_t seqs[] = { 5, 16390 };
	cs_audit_rec a[2], *batch[2] = { &a[0], &a[1] }, **recs = NULL;
	cs_audit_filter f;
	size_t i, n = 0;

	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 0; i < 2; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].seq = seqs[i];
		a[i].at_ms = 1000 + seqs[i];
		a[i].action = "read";
		a[i].client = "ems";
		a[i].holder = HOLDER_1;
		a[i].target = "L-1";
		a[i].result = i ? "denied" : NULL;
		a[i].result_count = 1;
	}
	CHECK_INT_EQ(cs_store_audit_import(s, batch, 2), 0);
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_audit_import(s, batch + 1, 1), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	a[1].holder = NULL;
	a[1].result = NULL;
	CHECK_INT_EQ(cs_store_audit_append(s, &a[1]), 0);

	memset(&f, 0, sizeof(f));
	f.holder = HOLDER_1;
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK(n == 2 && recs[0]->seq == 5 && recs[1]->seq == 16390 &&
	    recs[0]->result == NULL && strcmp(recs[1]->result, "denied") == 0 &&
	    recs[1]->at_ms == 1000 + 16390);
	cs_audit_recs_free(recs, n);
	memset(&f, 0, sizeof(f));
	f.after_seq = 16390;
	CHECK_INT_EQ(cs_store_audit_query(s, &f, &recs, &n), 0);
	CHECK(n == 1 && recs[0]->seq == 16391);
	cs_audit_recs_free(recs, n);
}

TEST(copy_imports)
{
	struct lic l;
	cs_store *s = fx_open("copy_imports");
	int64_t next = 0;

	if (s == NULL)
		return;
	/* A licence keeps its seq with the ordinary put; the next one
	 * numbered follows it. */
	lic_make(&l, TYPE_A, 41, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &next), 0);
	CHECK_INT_EQ(next, 42);
	import_events(s, l.id);
	import_clients(s);
	import_audit(s);
	cs_store_close(s);
}

/* A batch is all or none, however many round trips it takes: a conflict
 * in its last row leaves none of it, and the transaction goes on as it
 * was (600 rows: more than one pipeline on PostgreSQL). */
TEST(copy_batch_all_or_none)
{
	enum { N = 600 };
	static struct lic ls[N];
	static cs_licence_row *rows[N];
	cs_store *s = fx_open("copy_batch");
	int64_t count = -1;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < N; i++) {
		lic_make(&ls[i], TYPE_A, (int64_t)i + 1, HOLDER_1, "ems", 1000,
		    NULL);
		rows[i] = &ls[i].r;
	}
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, rows[N - 1]), 0);
	CHECK_INT_EQ(cs_store_licences_import(s, rows, N), CS_ECONFLICT);
	CHECK_INT_EQ(cs_store_licence_count(s, &count), 0);
	CHECK_INT_EQ(count, 1);
	CHECK_INT_EQ(cs_store_licences_import(s, rows, N - 1), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &count), 0);
	CHECK_INT_EQ(count, N);
	cs_store_close(s);
}
