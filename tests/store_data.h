/*
 * store_data: the rows the store tests write and the reads they check
 * them with, shared by the conformance suite (test_store.c and the
 * store_cases_*.c it includes) and the SQLite backend's own tests
 * (test_store_sqlite.c).  Everything here goes through store.h alone.
 * Include check.h first.
 */
#ifndef CS_TEST_STORE_DATA_H
#define CS_TEST_STORE_DATA_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cs_err.h"
#include "store.h"
#include "testutil.h"

#define TYPE_A "11100000000013338W032"
#define TYPE_B "11100000000013338W009"
#define ISSUER "11220000013544541J"
#define HASH_HEX                                                             \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HOLDER_1 "91350100M000100Y43"
#define HOLDER_2 "91440300708461136T"

/* A licence row with its own string storage. */
struct lic {
	char id[96], ref[64], record[160], number[64];
	cs_licence_row r;
};

static inline void
lic_make(struct lic *l, const char *type, int64_t seq, const char *holder,
    const char *client, int64_t issued_at, const char *bundle)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "1.2.156.3005.2.%s.%s.%lld.001.X", type,
	    ISSUER, (long long)seq);
	snprintf(l->ref, sizeof(l->ref), "REF-%s-%lld", type, (long long)seq);
	snprintf(l->record, sizeof(l->record), "{\"id\":\"%s\"}", l->id);
	l->r.id = l->id;
	l->r.type = (char *)type;
	l->r.issuer_code = ISSUER;
	l->r.seq = seq;
	l->r.holder_code = (char *)holder;
	/* Numbers are unique per type and issuer, like ids. */
	snprintf(l->number, sizeof(l->number), "粤环辐证[%05lld]",
	    (long long)seq);
	l->r.number = l->number;
	l->r.client = (char *)client;
	l->r.approval_ref = l->ref;
	l->r.request_hash = HASH_HEX;
	l->r.bundle = (char *)bundle;
	l->r.issued_at = issued_at;
	l->r.record = l->record;
}

/* A record shaped like the domain's (SPEC §1, as issue.c writes it). */
static inline void
record_make(char *buf, size_t len, const char *id)
{
	char token[481];

	token_like(token);
	snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"" TYPE_A "\","
	    "\"type_name\":\"辐射安全许可证\",\"number\":\"粤环辐证[00123]\","
	    "\"holder\":{\"name\":\"深圳市某某医疗器械有限公司\",\"code_type\":"
	    "\"USCC\",\"code\":\"91350100M000100Y43\"},\"issuer\":{\"name\":"
	    "\"广东省生态环境厅\",\"code\":\"" ISSUER "\"},\"issued_at\":"
	    "\"2025-05-22T08:30:00Z\",\"valid_from\":\"2025-05-22\","
	    "\"valid_until\":\"2030-05-21\",\"fields\":{\"address\":"
	    "\"深圳市南山区科技园南区某某路123号\",\"scope\":\"使用II类、III类射线装置\"},"
	    "\"approval_ref\":\"SP-1\",\"bundle\":null,\"supersedes\":null,"
	    "\"kid\":\"abababababababab\",\"alg\":\"ES256\",\"token\":\"%s\"}",
	    id, token);
}

/* Every licence of a holder, newest first: one page as long as needed. */
static inline int
by_holder(cs_store *s, const char *holder, const char *type,
    cs_licence_row ***rows, size_t *n)
{
	int64_t pos = 0;

	return cs_store_licences_by_holder(s, holder, type, &pos, 1000000, rows,
	    n);
}

static inline int
has_licence(cs_store *s, const char *id)
{
	cs_licence_row *r = NULL;
	int rc = cs_store_licence_get(s, id, &r);

	cs_licence_row_free(r);
	return rc == 0;
}

/*
 * A holder of many licences: n licences of TYPE_A (seq 1..n, three to an
 * issue second, so positions have ties) and every fourth also one of
 * TYPE_B, for HOLDER_1; and two of HOLDER_2, after them.  In one
 * transaction.
 */
static inline void
many_licences(cs_store *s, int n)
{
	struct lic l;
	int i;

	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = 1; i <= n; i++) {
		lic_make(&l, TYPE_A, i, HOLDER_1, "ems", 1000 + i / 3, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
		if (i % 4 != 0)
			continue;
		lic_make(&l, TYPE_B, i, HOLDER_1, "ems", 1000 + i / 3, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	for (i = 1; i <= 2; i++) {
		lic_make(&l, TYPE_A, n + i, HOLDER_2, "ems", 5000 + i, NULL);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	CHECK_INT_EQ(cs_store_commit(s), 0);
}

static inline void
client_make(cs_client *c, const char *name, const char *role, uint8_t fill)
{
	memset(c, 0, sizeof(*c));
	c->name = (char *)name;
	c->role = (char *)role;
	memset(c->token_hash, fill, sizeof(c->token_hash));
	c->created_at = 100 + fill;
}

/* How many audit records one query with f answers (-1 when it fails);
 * *first, if asked, the seq of the first. */
static inline int
audit_n(cs_store *s, const cs_audit_filter *f, int64_t *first)
{
	cs_audit_rec **r = NULL;
	size_t n = 0;
	int rc = cs_store_audit_query(s, f, &r, &n);

	if (rc != 0)
		return -1;
	if (first != NULL)
		*first = n ? r[0]->seq : 0;
	cs_audit_recs_free(r, n);
	return (int)n;
}

/* Every audit record f matches, paged 1000 at a time (-1 on failure). */
static inline long
audit_total(cs_store *s, cs_audit_filter f)
{
	cs_audit_rec **r = NULL;
	size_t n = 0;
	long total = 0;

	f.limit = 1000;
	f.after_seq = 0;
	do {
		if (cs_store_audit_query(s, &f, &r, &n) != 0)
			return -1;
		if (n > 0)
			f.after_seq = r[n - 1]->seq;
		total += (long)n;
		cs_audit_recs_free(r, n);
	} while (n > 0);
	return total;
}

/* --- many writers, some failing ----------------------------------------- */

#define GC_THREADS 16
#define GC_PER 40

struct gc_worker {
	cs_store *s;
	int idx;
	int fail_every;      /* every n-th transaction fails and rolls back */
	int committed, failed, errors;
};

static inline void
gc_lic(struct lic *l, int idx, int i)
{
	lic_make(l, TYPE_A, 100000 + idx * 1000 + i, HOLDER_1, "ems", 1, NULL);
}

/* Transactions of a licence and an audit record; every fail_every-th one
 * also meets a conflict and is rolled back, while the others go on. */
static inline void *
gc_main(void *arg)
{
	struct gc_worker *w = arg;
	cs_store *s = w->s;
	struct lic l, dup;
	cs_audit_rec a;
	int i, rc, fail;

	memset(&a, 0, sizeof(a));
	a.action = "issue";
	for (i = 0; i < GC_PER; i++) {
		gc_lic(&l, w->idx, i);
		fail = w->fail_every > 0 && i % w->fail_every == 0;
		if ((rc = cs_store_begin(s)) != 0) {
			w->errors++;
			continue;
		}
		rc = cs_store_licence_put(s, &l.r);
		if (rc == 0)
			rc = cs_store_audit_append(s, &a);
		if (rc == 0 && fail) {
			gc_lic(&dup, 0, 0);  /* committed before the threads ran */
			rc = cs_store_licence_put(s, &dup.r) == CS_ECONFLICT ?
			    CS_ECONFLICT : -1;
		}
		if (rc == 0)
			rc = cs_store_commit(s);
		else
			cs_store_rollback(s);
		if (rc == 0)
			w->committed++;
		else if (rc == CS_ECONFLICT && fail)
			w->failed++;
		else {
			fprintf(stderr, "group writer %d: %s\n", w->idx,
			    cs_err_msg());
			w->errors++;
		}
		/* An audited read: one write outside a transaction. */
		if (cs_store_audit_append(s, &a) != 0)
			w->errors++;
	}
	return NULL;
}

/*
 * GC_THREADS threads run gc_main at once on s, which holds gc_lic(0, 0)
 * already: every commit that returned 0 is there, every failed
 * transaction left nothing, and the others never noticed.  Returns the
 * transactions committed.
 */
static inline int
gc_many(cs_store *s)
{
	struct gc_worker w[GC_THREADS];
	pthread_t t[GC_THREADS];
	struct lic l;
	int64_t n = -1;
	int i, j, committed = 0, failed = 0, errors = 0, missing = 0;

	memset(w, 0, sizeof(w));
	for (i = 0; i < GC_THREADS; i++) {
		w[i].s = s;
		w[i].idx = i + 1;
		w[i].fail_every = i % 4 == 0 ? 3 : 0;
		pthread_create(&t[i], NULL, gc_main, &w[i]);
	}
	for (i = 0; i < GC_THREADS; i++) {
		pthread_join(t[i], NULL);
		committed += w[i].committed;
		failed += w[i].failed;
		errors += w[i].errors;
	}
	CHECK_INT_EQ(errors, 0);
	CHECK_INT_EQ(committed + failed, GC_THREADS * GC_PER);
	CHECK(failed > 0);
	for (i = 0; i < GC_THREADS; i++)
		for (j = 0; j < GC_PER; j++) {
			gc_lic(&l, i + 1, j);
			if (has_licence(s, l.id) != (w[i].fail_every == 0 ||
			    j % w[i].fail_every != 0))
				missing++;
		}
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, committed + 1);
	return committed;
}

#endif
