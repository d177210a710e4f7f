/*
 * ceil_pg: the PostgreSQL storage ceiling of the benchmark (bench/README.md,
 * "PostgreSQL").  Raw one-row transactions against the cluster certsvc is
 * measured on, with nothing of certsvc in between: the same row as
 * ceil_sqlite's (a random 40-character text key, an indexed holder code, a
 * 900-byte bytea, which is about a packed licence record), one INSERT per
 * transaction in autocommit, a prepared statement with binary parameters,
 * each connection waiting for its COMMIT's answer before the next, as
 * certsvc's single writer connection does.  The server's own settings
 * decide durability (run.sh starts it with synchronous_commit = on and
 * fsync = on).
 *
 * With CONNS connections (one thread each) concurrent commits share WAL
 * flushes, as PostgreSQL groups them by itself: a rate one connection
 * cannot reach, printed for comparison.
 *
 * Usage: ceil_pg CONNINFO [SECONDS [PREFILL-ROWS [CONNS]]]
 * It creates the table ceil_pg afresh in that database, and drops it at
 * the end.  Output: "pg_insert_1 2600.0" (rows a second, one connection)
 * or, with CONNS > 1, "pg_insert_1xCONNS 9000.0".
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INSERT_SQL "INSERT INTO ceil_pg VALUES ($1, $2, $3)"

static const char *conninfo;
static double secs;

struct worker {
	pthread_t th;
	unsigned long long rng;
	long rows;
	double elapsed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fail(PGconn *c, const char *what)
{
	fprintf(stderr, "ceil_pg: %s: %s", what, PQerrorMessage(c));
	exit(1);
}

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, sql);
	PQclear(r);
}

static PGconn *
connect_db(void)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		fail(c, "connect");
	return c;
}

/* The insert, prepared on connection c (the table must exist). */
static void
prepare(PGconn *c)
{
	PGresult *r = PQprepare(c, "ins", INSERT_SQL, 0, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, "prepare");
	PQclear(r);
}

static unsigned long long
next(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One row, shaped like a licence's; in autocommit it is one transaction. */
static void
insert_one(PGconn *c, unsigned long long *s, long row_no)
{
	static __thread unsigned char blob[900];
	char id[48], holder[24];
	const char *v[3] = {id, holder, (const char *)blob};
	int len[3] = {0, 0, sizeof(blob)}, fmt[3] = {0, 0, 1};
	PGresult *r;
	size_t i;

	for (i = 0; i < sizeof(blob); i += 8) {
		unsigned long long x = next(s);
		memcpy(blob + i, &x, sizeof(blob) - i < 8 ? sizeof(blob) - i : 8);
	}
	snprintf(id, sizeof(id), "1.2.156.3005.2.%016llx.%08lx", next(s), row_no);
	snprintf(holder, sizeof(holder), "91%016llx", next(s) % 100000000000ULL);
	r = PQexecPrepared(c, "ins", 3, v, len, fmt, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, "insert");
	PQclear(r);
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	PGconn *c = connect_db();
	double t0, t;

	prepare(c);
	t0 = now();

	while ((t = now()) - t0 < secs)
		insert_one(c, &w->rng, w->rows++);
	w->elapsed = t - t0;
	PQfinish(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	long prefill, i, rows = 0;
	double elapsed = 0;
	int conns, k;
	unsigned long long s = 88172645463325252ULL;
	PGconn *c;

	if (argc < 2) {
		fprintf(stderr, "usage: ceil_pg CONNINFO [SECONDS [PREFILL [CONNS]]]\n");
		return 2;
	}
	conninfo = argv[1];
	secs = argc > 2 ? atof(argv[2]) : 2.0;
	prefill = argc > 3 ? atol(argv[3]) : 20000;
	conns = argc > 4 ? atoi(argv[4]) : 1;
	if (conns < 1)
		conns = 1;
	c = connect_db();
	/* No NOTICE that the table to drop does not exist. */
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "DROP TABLE IF EXISTS ceil_pg");
	exec_ok(c, "CREATE TABLE ceil_pg (id text COLLATE \"C\" PRIMARY KEY,"
	    " holder text COLLATE \"C\" NOT NULL, record bytea NOT NULL)");
	exec_ok(c, "CREATE INDEX ceil_pg_holder ON ceil_pg (holder)");
	prepare(c);
	/* A table that is not empty: index inserts touch real pages.  One
	 * transaction: the prefill is not what is measured. */
	exec_ok(c, "BEGIN");
	for (i = 0; i < prefill; i++)
		insert_one(c, &s, -1 - i);
	exec_ok(c, "COMMIT");
	exec_ok(c, "CHECKPOINT");
	ws = calloc((size_t)conns, sizeof(*ws));
	for (k = 0; k < conns; k++) {
		ws[k].rng = 88172645463325252ULL + 7919ULL * (unsigned)(k + 1);
		ws[k].rows = (long)k << 32;
		if (pthread_create(&ws[k].th, NULL, work, &ws[k]) != 0) {
			fprintf(stderr, "ceil_pg: thread\n");
			return 1;
		}
	}
	for (k = 0; k < conns; k++) {
		pthread_join(ws[k].th, NULL);
		rows += ws[k].rows - ((long)k << 32);
		if (ws[k].elapsed > elapsed)
			elapsed = ws[k].elapsed;
	}
	if (conns == 1)
		printf("pg_insert_1 %.1f\n", (double)rows / elapsed);
	else
		printf("pg_insert_1x%d %.1f\n", conns, (double)rows / elapsed);
	exec_ok(c, "DROP TABLE ceil_pg");
	PQfinish(c);
	free(ws);
	return 0;
}
