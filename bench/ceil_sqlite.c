/*
 * ceil_sqlite: the storage ceiling of the benchmark (bench/README.md).  Raw
 * SQLite inserts as certsvc's store makes them durable: WAL,
 * synchronous=FULL, 16 KiB pages, a row shaped like a licence (a random
 * 40-character text key, an indexed holder code, a 900-byte blob), with
 * prepared statements and nothing else.  Two rates: one insert per
 * transaction (one fsync each: what a naive commit per request can reach)
 * and 100 inserts per transaction.
 *
 * Usage: ceil_sqlite DB-PATH [SECONDS-PER-RATE [PREFILL-ROWS [1]]]
 * (a last argument 1: the one-per-transaction rate only)
 * The file is created afresh (and removed at the end); it must sit on the
 * file system the benchmark's database is on.
 * Output: "insert_1 4900.0" and "insert_100 11000.0" (rows per second).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;
static sqlite3_stmt *ins, *begin, *commit;
static unsigned long long rng = 88172645463325252ULL;
static long row_no;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check(int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "ceil_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

static unsigned long long
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
insert_one(void)
{
	static unsigned char blob[900];
	char id[48], holder[24];
	size_t i;

	for (i = 0; i < sizeof(blob); i += 8) {
		unsigned long long r = next();
		memcpy(blob + i, &r, sizeof(blob) - i < 8 ? sizeof(blob) - i : 8);
	}
	snprintf(id, sizeof(id), "1.2.156.3005.2.%016llx.%08lx", next(), row_no);
	snprintf(holder, sizeof(holder), "91%016llx", next() % 100000000000ULL);
	row_no++;
	sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(ins, 2, holder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(ins, 3, blob, sizeof(blob), SQLITE_STATIC);
	check(sqlite3_step(ins), "insert");
	sqlite3_reset(ins);
}

static void
run_tx(int per)
{
	int i;

	check(sqlite3_step(begin), "begin");
	sqlite3_reset(begin);
	for (i = 0; i < per; i++)
		insert_one();
	check(sqlite3_step(commit), "commit");
	sqlite3_reset(commit);
}

static void
rate(int per, double secs)
{
	double t0 = now(), t;
	long n = 0;

	while ((t = now()) - t0 < secs) {
		run_tx(per);
		n += per;
	}
	printf("insert_%d %.1f\n", per, (double)n / (t - t0));
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *path;
	double secs;
	long prefill, i;
	int only_one;
	char aux[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: ceil_sqlite DB-PATH [SECONDS [PREFILL]]\n");
		return 2;
	}
	path = argv[1];
	secs = argc > 2 ? atof(argv[2]) : 2.0;
	prefill = argc > 3 ? atol(argv[3]) : 20000;
	only_one = argc > 4 && strcmp(argv[4], "1") == 0;
	unlink(path);
	check(sqlite3_open(path, &db), "open");
	check(sqlite3_exec(db, "PRAGMA page_size = 16384;"
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "CREATE TABLE t (id TEXT NOT NULL PRIMARY KEY, holder TEXT NOT NULL,"
	    " record BLOB NOT NULL);"
	    "CREATE INDEX t_holder ON t (holder);", NULL, NULL, NULL), "schema");
	check(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2, ?3)", -1,
	    &ins, NULL), "prepare");
	check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), "prep");
	check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), "prep");
	/* A table that is not empty: index inserts touch real pages. */
	for (i = 0; i < prefill; i += 1000)
		run_tx(1000);
	rate(1, secs);
	if (!only_one)
		rate(100, secs);
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(db);
	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	return 0;
}
