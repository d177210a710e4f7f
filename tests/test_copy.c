/*
 * test_copy: the copy of a library between stores (domain copy.h) on the
 * stores of the suite's fixture (store_fixture.h: SQLite, or PostgreSQL
 * as copy_pg): a copy run again skips the rows already there and copies
 * the rest; a row the target holds with other content stops it, named,
 * its batch leaving the target as it was; verifying names the first
 * difference.  The end-to-end copy between backends through the CLI is
 * tests/cli_copy_test.py.
 */
#include "check.h"
#include "copy.h"
#include "cs_err.h"
#include "store.h"
#include "store_data.h"
#include "store_fixture.h"
#include "testutil.h"

#include <string.h>

/* A fresh store name, with licences of seqs [from, to) of type TYPE_A;
 * odd: their records differ from those of the same seq elsewhere. */
static void
fill(const char *name, int64_t from, int64_t to, int odd)
{
	struct lic l;
	cs_store *s = fx_open(name);
	int64_t i;

	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = from; i < to; i++) {
		lic_make(&l, TYPE_A, i, HOLDER_1, "ems", 1000 + i, NULL);
		if (odd)
			snprintf(l.record, sizeof(l.record), "{\"id\":\"%s\","
			    "\"odd\":1}", l.id);
		CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	}
	CHECK_INT_EQ(cs_store_commit(s), 0);
	cs_store_close(s);
}

static int64_t
licences_in(const char *name)
{
	cs_store *s = fx_reopen(name);
	int64_t n = -1;

	if (s != NULL)
		CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	cs_store_close(s);
	return n;
}

static int
copy(const char *from, const char *to, int verify_only, cs_copy_report *r)
{
	char a[FX_DB_MAX], b[FX_DB_MAX];
	cs_copy_opts o = {0};

	fx_current->db(from, a, sizeof(a));
	fx_current->db(to, b, sizeof(b));
	o.batch = 4;
	o.verify_only = verify_only;
	return cs_copy_run(a, b, &o, r);
}

/* The counts of table name in report r. */
static const cs_copy_table_count *
table_count(const cs_copy_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->t[i].table, name) == 0)
			return &r->t[i];
	return &r->t[0];
}
#define lic_count(r) table_count((r), "licences")
#define audit_count(r) table_count((r), "audit records")

TEST(copy_again_completes)
{
	cs_copy_report r;

	fill("cp_src", 1, 11, 0);
	fill("cp_dst", 1, 6, 0);   /* a copy interrupted halfway */
	CHECK_INT_EQ(copy("cp_src", "cp_dst", 0, &r), 0);
	CHECK_INT_EQ(lic_count(&r)->copied, 5);
	CHECK_INT_EQ(lic_count(&r)->present, 5);
	CHECK_INT_EQ(lic_count(&r)->verified, 10);
	CHECK_INT_EQ(strlen(r.digest), 64);
	CHECK_INT_EQ(licences_in("cp_dst"), 10);
	CHECK_INT_EQ(copy("cp_src", "cp_dst", 0, &r), 0);
	CHECK_INT_EQ(lic_count(&r)->copied, 0);
	CHECK_INT_EQ(copy("cp_src", "cp_dst", 1, &r), 0);
}

TEST(copy_conflict_named)
{
	cs_copy_report r;
	char id[128];

	fill("cp_src2", 1, 11, 0);
	fill("cp_bad", 7, 8, 1);   /* seq 7, other content */
	snprintf(id, sizeof(id), "licences 1.2.156.3005.2.%s.%s.7.001.X",
	    TYPE_A, ISSUER);
	CHECK_INT_EQ(copy("cp_src2", "cp_bad", 0, &r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), id);
	/* Batches of 4: 1-4 copied, 5-8 (holding 7) left as it was. */
	CHECK_INT_EQ(licences_in("cp_bad"), 5);
	CHECK_INT_EQ(lic_count(&r)->copied, 4);
}

TEST(verify_names_difference)
{
	cs_copy_report r;

	fill("cp_src3", 1, 6, 0);
	fill("cp_more", 1, 7, 0);
	CHECK_INT_EQ(copy("cp_src3", "cp_more", 1, &r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), ".6.001.X is in the target only");
	CHECK_INT_EQ(copy("cp_more", "cp_src3", 1, &r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), ".6.001.X is missing from the target");
}

/* A fresh store name with audit records of seqs [from, to), as they
 * would be copied; odd: of other content. */
static void
fill_audit(const char *name, int64_t from, int64_t to, int odd)
{
	cs_audit_rec a, *one = &a;
	cs_store *s = fx_open(name);
	int64_t i;

	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_begin(s), 0);
	for (i = from; i < to; i++) {
		memset(&a, 0, sizeof(a));
		a.seq = i;
		a.at_ms = 5000 + i;
		a.action = odd ? "issue" : "read";
		a.target = "L-1";
		CHECK_INT_EQ(cs_store_audit_import(s, &one, 1), 0);
	}
	CHECK_INT_EQ(cs_store_import_done(s), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	cs_store_close(s);
}

/* Tables that go by seq are compared a page at a time (put_by_seq): the
 * rows there are skipped, the rest copied, one of other content named. */
TEST(copy_by_seq)
{
	cs_copy_report r;

	fill_audit("cp_asrc", 1, 11, 0);
	fill_audit("cp_adst", 1, 7, 0);
	CHECK_INT_EQ(copy("cp_asrc", "cp_adst", 0, &r), 0);
	CHECK_STR_EQ(audit_count(&r)->table, "audit records");
	CHECK_INT_EQ(audit_count(&r)->present, 6);
	CHECK_INT_EQ(audit_count(&r)->copied, 4);
	CHECK_INT_EQ(audit_count(&r)->verified, 10);
	fill_audit("cp_abad", 7, 8, 1);
	CHECK_INT_EQ(copy("cp_asrc", "cp_abad", 0, &r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), "audit records seq 7:");
	CHECK_INT_EQ(audit_count(&r)->copied, 4);
}

/* A client whose id another client holds in the target: refused, named. */
TEST(client_refused_named)
{
	cs_copy_report r;
	cs_client c;
	cs_store *s;

	memset(&c, 0, sizeof(c));
	c.role = "reader";
	c.created_at = 100;
	if ((s = fx_open("cp_csrc")) == NULL)
		return;
	c.name = "ems";
	memset(c.token_hash, 0xa1, sizeof(c.token_hash));
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);
	cs_store_close(s);
	if ((s = fx_open("cp_cdst")) == NULL)
		return;
	c.name = "partner";
	memset(c.token_hash, 0xb2, sizeof(c.token_hash));
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);   /* id 1 too */
	cs_store_close(s);
	CHECK_INT_EQ(copy("cp_csrc", "cp_cdst", 0, &r), CS_ECONFLICT);
	CHECK_CONTAINS(cs_err_msg(), "copy: clients ems: the target refuses it");
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	fx_setup("test_copy");
	printf("backend: %s\n", fx_backend_name());
	RUN(copy_again_completes);
	RUN(copy_conflict_named);
	RUN(verify_names_difference);
	RUN(copy_by_seq);
	RUN(client_refused_named);
	fx_teardown();
	return check_summary();
}
