/*
 * test_store_postgres: what only the PostgreSQL backend (store_pg.c)
 * promises, beside what every backend does (the conformance suite,
 * test_store.c, which runs on PostgreSQL as ctest's store_pg): nodes
 * starting at once migrate the schema once; the database itself refuses
 * any rewrite of history and a taken number, whoever asks; two nodes
 * (two handles, each with its own connections) numbering the same type
 * and issuer at once never hand out one serial twice, and the same
 * approval_ref sent to both gives one licence; a status change committed
 * by another node is seen within 1 s however its seq and its commit were
 * ordered (the status cache); a connection the server
 * dropped is replaced by the next call; a transaction whose connection
 * died fails (CS_EUNAVAIL) and never commits; the URI's password never
 * appears in a message; a full disk is CS_EFULL and ping says so; backup
 * names pg_dump.
 *
 * Its stores come from the fixture (store_fixture.h) with
 * CS_TEST_STORE=postgresql, as the ctest fixture "pg" runs it; anywhere
 * else it is skipped (exit 77).  It looks into the database with a libpq
 * connection of its own, as an operator's psql would.
 */
#include "check.h"
#include "cs_err.h"
#include "store.h"
#include "store_data.h"
#include "store_fixture.h"
#include "testutil.h"
#include "timeutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

/* A raw connection to store name's database. */
static PGconn *
raw_open(const char *name)
{
	char uri[FX_DB_MAX];
	PGconn *pg;

	fx_current->db(name, uri, sizeof(uri));
	pg = PQconnectdb(uri);
	if (PQstatus(pg) != CONNECTION_OK)
		fprintf(stderr, "raw open %s: %s", name, PQerrorMessage(pg));
	PQsetNoticeProcessor(pg, fx_pg_quiet, NULL);
	return pg;
}

/* The integer sql answers (-1 when it fails). */
static int64_t
raw_int(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	int64_t v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* Run sql; 0 when it succeeds, else -1 with the server's message in msg
 * and its SQLSTATE in state. */
static int
raw_exec(PGconn *pg, const char *sql, char *msg, size_t len, char *state)
{
	PGresult *r = PQexec(pg, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;

	snprintf(msg, len, "%s", rc ? PQresultErrorMessage(r) : "");
	snprintf(state, 6, "%s", rc && PQresultErrorField(r, PG_DIAG_SQLSTATE)
	    ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "");
	PQclear(r);
	return rc;
}

/* What a restart, a failover or an administrator does to a node: every
 * connection to store name's database is ended by the server.  Waits
 * until they are gone. */
static void
drop_connections(const char *name)
{
	const char *vals[1];
	char dbname[64];
	PGresult *r;
	int i;

	fx_pg_dbname(name, dbname, sizeof(dbname));
	vals[0] = dbname;
	r = PQexecParams(fx_pg_admin, "SELECT count(pg_terminate_backend(pid)) "
	    "FROM pg_stat_activity WHERE datname = $1", 1, NULL, vals, NULL,
	    NULL, 0);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	for (i = 0; i < 100; i++) {
		r = PQexecParams(fx_pg_admin, "SELECT count(*) FROM "
		    "pg_stat_activity WHERE datname = $1", 1, NULL, vals, NULL,
		    NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK &&
		    strcmp(PQgetvalue(r, 0, 0), "0") == 0)
			i = 1000;
		PQclear(r);
		sleep_ms(10);
	}
}

/* --- the schema --------------------------------------------------------- */

#define OPENERS 6

static atomic_int openers_ok;

static void *
opener_main(void *arg)
{
	cs_store *s = NULL;
	char uri[FX_DB_MAX];

	fx_current->db("migrate", uri, sizeof(uri));
	if (cs_store_open(uri, 0, &s) == 0 && cs_store_ping(s) == 0)
		atomic_fetch_add(&openers_ok, 1);
	else
		fprintf(stderr, "opener: %s\n", cs_err_msg());
	cs_store_close(s);
	return NULL;
}

/* Nodes starting at once on a new database: each opens, one migrates
 * (the advisory lock), the others find the schema made. */
TEST(migrate_concurrently)
{
	pthread_t t[OPENERS];
	PGconn *pg;
	int i;

	fx_current->fresh("migrate");
	atomic_store(&openers_ok, 0);
	for (i = 0; i < OPENERS; i++)
		pthread_create(&t[i], NULL, opener_main, NULL);
	for (i = 0; i < OPENERS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT_EQ(atomic_load(&openers_ok), OPENERS);
	pg = raw_open("migrate");
	CHECK_INT_EQ(raw_int(pg, "SELECT count(*) FROM schema_version"), 10);
	CHECK_INT_EQ(raw_int(pg, "SELECT max(version) FROM schema_version"),
	    10);
	PQfinish(pg);
}

/* Every table but the numbering counter is history: the database refuses
 * UPDATE, DELETE and TRUNCATE of it from any connection, even of no row. */
TEST(append_only_in_database)
{
	static const char *const tables[] = {"licences", "status_events",
		"bundles", "clients", "client_revocations", "grants", "audit",
		"schema_version", "copies", "change_events", "holder_acts", "peers",
		"client_tokens"};
	static const char *const verbs[] = {"UPDATE %s SET %s = %s",
		"DELETE FROM %s WHERE %s IS NOT NULL", "TRUNCATE %s CASCADE"};
	static const char *const cols[] = {"seq", "at", "created_at", "name",
		"at", "types", "action", "version", "purpose", "body", "body",
		"name", "supersedes"};
	cs_bundle_row b = { "B-1", "ems", "R", HASH_HEX, 1 };
	cs_grant g = { "*", NULL, NULL };
	cs_audit_rec a;
	cs_client c;
	cs_event e;
	struct lic l;
	char sql[200], msg[512], state[6];
	uint8_t h[32];
	cs_store *s = fx_open("append");
	PGconn *pg;
	size_t i, v;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	memset(&e, 0, sizeof(e));
	e.licence_id = l.id;
	e.actor = "ems";
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	CHECK_INT_EQ(cs_store_bundle_put(s, &b), 0);
	client_make(&c, "ems", "issuer", 1);
	CHECK_INT_EQ(cs_store_client_add(s, &c), 0);
	CHECK_INT_EQ(cs_store_grant_add(s, "ems", &g), 0);
	memset(h, 0x77, sizeof(h));
	CHECK_INT_EQ(cs_store_client_rotate(s, "ems", h, 4), 0);
	CHECK_INT_EQ(cs_store_client_revoke(s, "ems", 5), 0);
	memset(&a, 0, sizeof(a));
	a.action = "read";
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	pg = raw_open("append");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
			if (v == 2)
				snprintf(sql, sizeof(sql), verbs[v], tables[i]);
			else
				snprintf(sql, sizeof(sql), verbs[v], tables[i],
				    cols[i], cols[i]);
			CHECK_INT_EQ(raw_exec(pg, sql, msg, sizeof(msg), state),
			    -1);
			CHECK_CONTAINS(msg, "is append-only");
		}
	/* Nothing changed. */
	CHECK_INT_EQ(raw_int(pg, "SELECT count(*) FROM licences"), 1);
	CHECK_INT_EQ(raw_int(pg, "SELECT count(*) FROM audit"), 1);
	CHECK(has_licence(s, l.id));
	PQfinish(pg);
	cs_store_close(s);
}

/* A number another licence of the type and issuer carries is refused by
 * the database itself, as a duplicate key (what the store maps to
 * CS_ECONFLICT); a version of the same serial may keep it. */
TEST(number_refused_by_database)
{
	char msg[512], state[6];
	struct lic l;
	cs_store *s = fx_open("number");
	PGconn *pg;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	pg = raw_open("number");
	CHECK_INT_EQ(raw_exec(pg, "INSERT INTO licences (id, type, "
	    "issuer_code, seq, holder_code, number, client, request_hash, "
	    "issued_at, record) SELECT replace(id, '.1.001.', '.2.001.'), "
	    "type, issuer_code, 2, holder_code, number, client, request_hash, "
	    "issued_at, record FROM licences", msg, sizeof(msg), state), -1);
	CHECK_CONTAINS(msg, "licence number taken");
	CHECK_STR_EQ(state, "23505");
	CHECK_INT_EQ(raw_exec(pg, "INSERT INTO licences (id, type, "
	    "issuer_code, seq, holder_code, number, client, request_hash, "
	    "issued_at, record) SELECT replace(id, '.1.001.', '.1.002.'), "
	    "type, issuer_code, 1, holder_code, number, client, request_hash, "
	    "issued_at, record FROM licences", msg, sizeof(msg), state), 0);
	CHECK_INT_EQ(raw_int(pg, "SELECT count(*) FROM licences"), 2);
	PQfinish(pg);
	cs_store_close(s);
}

/* The numbering reads its counter alone (no index for max(seq) since
 * schema_issue_cost): a licence stored by any hand raises it, through
 * the insert trigger, so the next number follows it inside and outside
 * a transaction; a version keeping its serial's seq lowers nothing. */
TEST(numbering_follows_counter)
{
	char msg[512], state[6];
	struct lic l;
	cs_store *s = fx_open("counter");
	PGconn *pg;
	int64_t v = 0;

	if (s == NULL)
		return;
	lic_make(&l, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l.r), 0);
	pg = raw_open("counter");
	CHECK_INT_EQ(raw_int(pg, "SELECT count(*) FROM pg_class WHERE relname "
	    "= 'licences_seq'"), 0);
	CHECK_INT_EQ(raw_exec(pg, "INSERT INTO licences (id, type, "
	    "issuer_code, seq, holder_code, number, client, request_hash, "
	    "issued_at, record) SELECT replace(id, '.1.001.', '.40.001.'), "
	    "type, issuer_code, 40, holder_code, number || '-40', client, "
	    "request_hash, issued_at, record FROM licences", msg, sizeof(msg),
	    state), 0);
	CHECK_INT_EQ(raw_int(pg, "SELECT last FROM licence_seqs"), 40);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 41);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 41);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	CHECK_INT_EQ(raw_exec(pg, "INSERT INTO licences (id, type, "
	    "issuer_code, seq, holder_code, number, client, request_hash, "
	    "issued_at, record) SELECT replace(id, '.1.001.', '.1.002.'), "
	    "type, issuer_code, 1, holder_code, number, client, request_hash, "
	    "issued_at, record FROM licences WHERE seq = 1", msg, sizeof(msg),
	    state), 0);
	CHECK_INT_EQ(raw_int(pg, "SELECT last FROM licence_seqs"), 40);
	CHECK_INT_EQ(cs_store_licence_next_seq(s, TYPE_A, ISSUER, &v), 0);
	CHECK_INT_EQ(v, 41);
	PQfinish(pg);
	cs_store_close(s);
}

/* --- two nodes ---------------------------------------------------------- */

#define NODE_THREADS 4
#define NODE_PER 60

struct node_worker {
	cs_store *s;
	int idx;
	int64_t seqs[NODE_PER];
	int errors;
};

/* Number and store licences as the issuance path does: begin, next
 * sequence number, put, commit. */
static void *
node_main(void *arg)
{
	struct node_worker *w = arg;
	struct lic l;
	char holder[32];
	int64_t seq;
	int i, rc;

	snprintf(holder, sizeof(holder), "NODE-%d", w->idx);
	for (i = 0; i < NODE_PER; i++) {
		seq = 0;
		if ((rc = cs_store_begin(w->s)) == 0 &&
		    (rc = cs_store_licence_next_seq(w->s, TYPE_A, ISSUER,
		    &seq)) == 0) {
			lic_make(&l, TYPE_A, seq, holder, "ems", 1000 + i,
			    NULL);
			rc = cs_store_licence_put(w->s, &l.r);
		}
		if (rc == 0)
			rc = cs_store_commit(w->s);
		else
			cs_store_rollback(w->s);
		if (rc != 0) {
			fprintf(stderr, "node writer %d: %s\n", w->idx,
			    cs_err_msg());
			w->errors++;
		} else
			w->seqs[i] = seq;
	}
	return NULL;
}

/* Two nodes (handles with connections of their own, as two processes
 * would have) number one type and issuer at once: every transaction
 * commits, and no serial is handed out twice (the counter's row lock). */
TEST(two_nodes_number_once)
{
	static struct node_worker w[2 * NODE_THREADS];
	static unsigned char seen[2 * NODE_THREADS * NODE_PER + 1];
	pthread_t t[2 * NODE_THREADS];
	cs_store *a = fx_open("nodes"), *b = fx_reopen("nodes");
	int64_t n = 0, v;
	int i, j, errors = 0, dups = 0;

	if (a == NULL || b == NULL) {
		cs_store_close(a);
		cs_store_close(b);
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 2 * NODE_THREADS; i++) {
		w[i].s = i % 2 ? b : a;
		w[i].idx = i;
		w[i].errors = 0;
		pthread_create(&t[i], NULL, node_main, &w[i]);
	}
	for (i = 0; i < 2 * NODE_THREADS; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	CHECK_INT_EQ(errors, 0);
	for (i = 0; i < 2 * NODE_THREADS; i++)
		for (j = 0; j < NODE_PER; j++) {
			v = w[i].seqs[j];
			if (v < 1 || v > 2 * NODE_THREADS * NODE_PER ||
			    seen[v]++)
				dups++;
		}
	CHECK_INT_EQ(dups, 0);
	CHECK_INT_EQ(cs_store_licence_count(a, &n), 0);
	CHECK_INT_EQ(n, 2 * NODE_THREADS * NODE_PER);
	CHECK_INT_EQ(cs_store_licence_next_seq(b, TYPE_A, ISSUER, &n), 0);
	CHECK_INT_EQ(n, 2 * NODE_THREADS * NODE_PER + 1);
	cs_store_close(a);
	cs_store_close(b);
}

struct ref_put {
	cs_store *s;
	struct lic *l;
	int rc;
	char msg[300];
};

static void *
ref_put_main(void *arg)
{
	struct ref_put *p = arg;

	p->rc = cs_store_licence_put(p->s, &p->l->r);
	snprintf(p->msg, sizeof(p->msg), "%s", cs_err_msg());
	return NULL;
}

/* --- the status cache (pg_status.c) ------------------------------------ */

/* How many status events o reads for id, -1 when the read fails. */
static int64_t
events_n(cs_store *o, const char *id)
{
	cs_event **evs = NULL;
	size_t n = 0;

	if (cs_store_events_for(o, id, &evs, &n) != 0)
		return -1;
	cs_events_free(evs, n);
	return (int64_t)n;
}

/* The ms until o reads want events for id (polling), -1 if not in 3 s. */
static int64_t
ms_until_events(cs_store *o, const char *id, int64_t want)
{
	int64_t t0 = cs_mono_ms();

	while (cs_mono_ms() - t0 < 3000) {
		if (events_n(o, id) == want)
			return cs_mono_ms() - t0;
		usleep(20000);
	}
	return -1;
}

/* Another node's change committed in another order than its seq was
 * taken: an event whose transaction took its seq first but commits after
 * a later seq was read (the gap the refresh asks for again) is still seen
 * within 1 s; and so is a burst of more events than a refresh reads at
 * once (the status cache starts again), and a change after a transaction
 * that rolled its event back (a gap that never fills). */
TEST(status_cache_gaps)
{
	struct lic l1, l2;
	cs_licence_row *row = NULL;
	cs_event e;
	char msg[300], state[6], sql[512];
	cs_store *s = fx_open("gaps"), *o = fx_reopen("gaps");
	PGconn *pg = raw_open("gaps");
	int64_t ms;

	if (s == NULL || o == NULL) {
		cs_store_close(s);
		cs_store_close(o);
		PQfinish(pg);
		return;
	}
	lic_make(&l1, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l2, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l1.r), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l2.r), 0);
	/* o reads the rows, and so may keep their events beside them. */
	CHECK_INT_EQ(cs_store_licence_get(o, l1.id, &row), 0);
	cs_licence_row_free(row);
	CHECK_INT_EQ(cs_store_licence_get(o, l2.id, &row), 0);
	cs_licence_row_free(row);
	CHECK_INT_EQ(events_n(o, l1.id), 0);
	CHECK_INT_EQ(events_n(o, l2.id), 0);

	/* The raw transaction takes the first seq and stays open while the
	 * store commits the next. */
	snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO status_events "
	    "(licence_id, at, actor, action) VALUES ('%s', 10, 'ems', "
	    "'suspend')", l1.id);
	CHECK_INT_EQ(raw_exec(pg, sql, msg, sizeof(msg), state), 0);
	memset(&e, 0, sizeof(e));
	e.licence_id = l2.id;
	e.actor = "ems";
	e.at = 11;
	e.action = "suspend";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	ms = ms_until_events(o, l2.id, 1);
	CHECK(ms >= 0 && ms <= 1000);
	usleep(300000);  /* a refresh past the later seq */
	CHECK_INT_EQ(events_n(o, l1.id), 0);
	CHECK_INT_EQ(raw_exec(pg, "COMMIT", msg, sizeof(msg), state), 0);
	ms = ms_until_events(o, l1.id, 1);
	CHECK(ms >= 0 && ms <= 1000);

	/* A burst past a refresh's page. */
	snprintf(sql, sizeof(sql), "INSERT INTO status_events (licence_id, "
	    "at, actor, action) SELECT '%s', 20 + i, 'ems', CASE WHEN i %% 2 = 0 "
	    "THEN 'reinstate' ELSE 'suspend' END FROM generate_series(0, 1199) "
	    "AS i", l2.id);
	CHECK_INT_EQ(raw_exec(pg, sql, msg, sizeof(msg), state), 0);
	ms = ms_until_events(o, l2.id, 1201);
	CHECK(ms >= 0 && ms <= 1000);

	/* A seq rolled back, then a change after it. */
	snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO status_events "
	    "(licence_id, at, actor, action) VALUES ('%s', 30, 'ems', "
	    "'reinstate'); ROLLBACK", l1.id);
	CHECK_INT_EQ(raw_exec(pg, sql, msg, sizeof(msg), state), 0);
	usleep(300000);
	CHECK_INT_EQ(events_n(o, l1.id), 1);
	e.licence_id = l1.id;
	e.action = "reinstate";
	CHECK_INT_EQ(cs_store_event_append(s, &e), 0);
	ms = ms_until_events(o, l1.id, 2);
	CHECK(ms >= 0 && ms <= 1000);
	PQfinish(pg);
	cs_store_close(o);
	cs_store_close(s);
}

/* The same approval_ref sent to two nodes at once: the second waits for
 * the first's transaction, and fails once it commits: one licence. */
TEST(same_ref_two_nodes)
{
	struct lic l1, l2;
	struct ref_put p;
	pthread_t t;
	cs_store *a = fx_open("ref"), *b = fx_reopen("ref");
	int64_t n = 0;

	if (a == NULL || b == NULL) {
		cs_store_close(a);
		cs_store_close(b);
		return;
	}
	lic_make(&l1, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l2, TYPE_A, 2, HOLDER_1, "ems", 1000, NULL);
	snprintf(l2.ref, sizeof(l2.ref), "%s", l1.ref);
	CHECK_INT_EQ(cs_store_begin(a), 0);
	CHECK_INT_EQ(cs_store_licence_put(a, &l1.r), 0);
	p.s = b;
	p.l = &l2;
	p.rc = 1;
	pthread_create(&t, NULL, ref_put_main, &p);
	sleep_ms(200);
	CHECK_INT_EQ(cs_store_commit(a), 0);
	pthread_join(t, NULL);
	CHECK_INT_EQ(p.rc, CS_ECONFLICT);
	CHECK_CONTAINS(p.msg, "approval_ref");
	CHECK_INT_EQ(cs_store_licence_count(b, &n), 0);
	CHECK_INT_EQ(n, 1);
	cs_store_close(a);
	cs_store_close(b);
}

/* --- connections -------------------------------------------------------- */

/* The server drops every connection (a restart, a failover): the next
 * read, write and ping of the store each work, on new connections. */
TEST(reconnect)
{
	struct lic l1, l2;
	cs_audit_rec a;
	cs_store *s = fx_open("reconnect");
	int64_t n = 0;

	if (s == NULL)
		return;
	lic_make(&l1, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l2, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	CHECK_INT_EQ(cs_store_licence_put(s, &l1.r), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	drop_connections("reconnect");
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(cs_store_licence_put(s, &l2.r), 0);
	drop_connections("reconnect");
	memset(&a, 0, sizeof(a));
	a.action = "read";
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	CHECK_INT_EQ(cs_store_ping(s), 0);
	drop_connections("reconnect");
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_count(s, &n), 0);
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	cs_store_close(s);
}

/* The connection dies inside a transaction: PostgreSQL rolled it back,
 * so every call after fails with CS_EUNAVAIL (a 503, try again), the
 * commit too, never 0; the rollback succeeds, nothing is stored, and the
 * next transaction works on a new connection. */
TEST(lost_in_transaction)
{
	struct lic l1, l2, l3;
	cs_store *s = fx_open("lost");

	if (s == NULL)
		return;
	lic_make(&l1, TYPE_A, 1, HOLDER_1, "ems", 1000, NULL);
	lic_make(&l2, TYPE_A, 2, HOLDER_1, "ems", 1001, NULL);
	lic_make(&l3, TYPE_A, 3, HOLDER_1, "ems", 1002, NULL);
	/* Lost between two writes. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l1.r), 0);
	drop_connections("lost");
	CHECK_INT_EQ(cs_store_licence_put(s, &l2.r), CS_EUNAVAIL);
	CHECK_INT_EQ(cs_store_begin(s), CS_EUNAVAIL);
	CHECK_INT_EQ(cs_store_commit(s), CS_EUNAVAIL);
	CHECK_INT_EQ(cs_store_rollback(s), 0);
	/* Lost before the COMMIT reached the server. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l2.r), 0);
	drop_connections("lost");
	CHECK_INT_EQ(cs_store_commit(s), CS_EUNAVAIL);
	CHECK_CONTAINS(cs_err_msg(), "COMMIT");
	CHECK(!has_licence(s, l1.id) && !has_licence(s, l2.id));
	/* And on a new connection, the next one commits. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_licence_put(s, &l3.r), 0);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK(has_licence(s, l3.id));
	cs_store_close(s);
}

/* A URI's password never reaches a message, wherever it is written, and
 * the message names the host and what failed. */
TEST(password_masked)
{
	char uri[FX_DB_MAX], bad[FX_DB_MAX + 64], *at;
	const char *uris[3];
	cs_store *s = NULL;
	size_t i;

	/* The test server's own URI with the wrong password. */
	fx_current->db("masked", uri, sizeof(uri));
	at = strchr(uri, '@');
	CHECK(at != NULL);
	if (at == NULL)
		return;
	snprintf(bad, sizeof(bad), "postgresql://certsvc:Wr0ng-s3cret%s", at);
	uris[0] = bad;
	uris[1] = "postgresql://certsvc@127.0.0.1:1/x?password=Wr0ng-s3cret";
	uris[2] = "postgresql://certsvc:Wr0ng-s3cret@127.0.0.1:1/x?port=zz";
	for (i = 0; i < 3; i++) {
		CHECK(cs_store_open(uris[i], 0, &s) != 0);
		CHECK(s == NULL);
		CHECK(strstr(cs_err_msg(), "Wr0ng-s3cret") == NULL);
		CHECK(strstr(cs_err_msg(), "s3cret") == NULL);
	}
	CHECK_INT_EQ(cs_store_open(uris[0], 0, &s), CS_EUNAVAIL);
	CHECK_CONTAINS(cs_err_msg(), "127.0.0.1");
	CHECK_CONTAINS(cs_err_msg(), "certsvc:****@");
	CHECK_CONTAINS(cs_err_msg(), "password authentication failed");
}

/* A write the server refuses for a full disk (SQLSTATE 53100, as
 * "could not extend file" is) is CS_EFULL, in a transaction or not, and
 * ping says so (/healthz 503, "disk full") until a write commits, or
 * for at most 5 s without one: a client cannot see the server's free
 * space, and a node must not stay out of its load balancer for good.  A
 * trigger stands in for the full disk (http_disk_full_pg fills a real
 * one). */
TEST(disk_full_in_ping)
{
	char msg[256], state[6];
	cs_audit_rec a;
	cs_store *s = fx_open("full");
	PGconn *pg;

	if (s == NULL)
		return;
	pg = raw_open("full");
	CHECK_INT_EQ(raw_exec(pg, "CREATE FUNCTION full_disk() RETURNS trigger "
	    "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'could not extend "
	    "file: No space left on device' USING ERRCODE = 'disk_full'; "
	    "END$$; CREATE TRIGGER full_disk BEFORE INSERT ON audit FOR EACH "
	    "ROW EXECUTE FUNCTION full_disk()", msg, sizeof(msg), state), 0);
	memset(&a, 0, sizeof(a));
	a.action = "read";
	CHECK_INT_EQ(cs_store_ping(s), 0);
	CHECK_INT_EQ(cs_store_audit_append(s, &a), CS_EFULL);
	CHECK_INT_EQ(cs_store_ping(s), CS_EFULL);
	CHECK_CONTAINS(cs_err_msg(), "full");
	/* Inside a transaction the append is not waited for (store.h):
	 * its failure comes with the commit, which rolls back and says
	 * why. */
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	CHECK_INT_EQ(cs_store_commit(s), CS_EFULL);
	CHECK_CONTAINS(cs_err_msg(), "No space left on device");
	CHECK_INT_EQ(cs_store_ping(s), CS_EFULL);
	/* Space returns: the next write commits, and ping is content. */
	CHECK_INT_EQ(raw_exec(pg, "DROP TRIGGER full_disk ON audit", msg,
	    sizeof(msg), state), 0);
	CHECK_INT_EQ(cs_store_begin(s), 0);
	CHECK_INT_EQ(cs_store_audit_append(s, &a), 0);
	CHECK_INT_EQ(cs_store_ping(s), CS_EFULL);
	CHECK_INT_EQ(cs_store_commit(s), 0);
	CHECK_INT_EQ(cs_store_ping(s), 0);
	/* Without a write after the failure, the memory fades. */
	CHECK_INT_EQ(raw_exec(pg, "CREATE TRIGGER full_disk BEFORE INSERT ON "
	    "audit FOR EACH ROW EXECUTE FUNCTION full_disk()", msg, sizeof(msg),
	    state), 0);
	CHECK_INT_EQ(cs_store_audit_append(s, &a), CS_EFULL);
	CHECK_INT_EQ(cs_store_ping(s), CS_EFULL);
	sleep_ms(5100);
	CHECK_INT_EQ(cs_store_ping(s), 0);
	PQfinish(pg);
	cs_store_close(s);
}

/* What a write refused by the server becomes, by SQLSTATE: a full disk
 * CS_EFULL, a shortage or a timeout CS_EUNAVAIL (503: the same request
 * may succeed in a moment), an I/O error a storage error (500). */
TEST(refusals_by_sqlstate)
{
	static const struct {
		const char *state;
		int code;
	} cases[] = {
		{"53100", CS_EFULL}, {"53200", CS_EUNAVAIL},
		{"53000", CS_EUNAVAIL}, {"57014", CS_EUNAVAIL},
		{"55P03", CS_EUNAVAIL}, {"40P01", CS_EUNAVAIL},
		{"58030", CS_ESTORE},
	};
	char msg[256], state[6], sql[512];
	cs_audit_rec a;
	cs_store *s = fx_open("refusals");
	PGconn *pg;
	size_t i;
	int rc;

	if (s == NULL)
		return;
	pg = raw_open("refusals");
	memset(&a, 0, sizeof(a));
	a.action = "read";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(sql, sizeof(sql), "CREATE OR REPLACE FUNCTION refuse() "
		    "RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE "
		    "EXCEPTION 'refused' USING ERRCODE = '%s'; END$$; "
		    "CREATE OR REPLACE TRIGGER refuse BEFORE INSERT ON audit "
		    "FOR EACH ROW EXECUTE FUNCTION refuse()", cases[i].state);
		CHECK_INT_EQ(raw_exec(pg, sql, msg, sizeof(msg), state), 0);
		if ((rc = cs_store_audit_append(s, &a)) != cases[i].code)
			fprintf(stderr, "SQLSTATE %s: %s\n", cases[i].state,
			    cs_err_msg());
		CHECK_STR_EQ(cs_errname(rc), cs_errname(cases[i].code));
	}
	PQfinish(pg);
	cs_store_close(s);
}

/* A server database is copied with its own tools. */
TEST(backup_names_pg_dump)
{
	cs_store *s = fx_open("backup");

	if (s == NULL)
		return;
	CHECK_INT_EQ(cs_store_backup(s, fx_file("copy")), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "pg_dump");
	CHECK(access(fx_file("copy"), F_OK) != 0);
	cs_store_close(s);
}

int
main(int argc, char **argv)
{
	const char *want = getenv("CS_TEST_STORE");

	check_args(argc, argv);
	if (want == NULL || strcmp(want, "postgresql") != 0) {
		fprintf(stderr, "test_store_postgres: skipped: it runs with "
		    "CS_TEST_STORE=postgresql (ctest's fixture pg)\n");
		return 77;
	}
	fx_setup("test_store_postgres");
	RUN(migrate_concurrently);
	RUN(append_only_in_database);
	RUN(number_refused_by_database);
	RUN(numbering_follows_counter);
	RUN(two_nodes_number_once);
	RUN(same_ref_two_nodes);
	RUN(status_cache_gaps);
	RUN(reconnect);
	RUN(lost_in_transaction);
	RUN(password_masked);
	RUN(disk_full_in_ping);
	RUN(refusals_by_sqlstate);
	RUN(backup_names_pg_dump);
	fx_teardown();
	return check_summary();
}
