/*
 * store_fixture: where the tests that need a real store get one: the store
 * conformance suite (test_store.c) and the writer queues' tests
 * (test_tx_queue.c, test_audit_queue.c).  Every store is opened through
 * cs_store_open() with a db string the fixture makes (the --db setting),
 * so those tests never know which backend they have; the SQLite backend's
 * own tests (test_store_sqlite.c) open their files themselves.
 *
 * CS_TEST_STORE picks the backend, once per test binary (fx_setup):
 *   unset, "" or "sqlite"  a fresh SQLite file per store, in the scratch
 *                          directory (testutil.h);
 *   "postgresql"           a fresh database per store, on the server
 *                          whose admin URI (database "postgres") is in
 *                          $CS_TEST_PG_DIR/uri, as tests/lib/cspg.py
 *                          start writes it (the ctest fixture "pg" of
 *                          tests/CMakeLists.txt); without it the test
 *                          fails, it does not skip;
 *   anything else          a mistake, said on stderr: the test fails
 *                          (exit 2), so a typo never passes for a skip.
 *
 * A store is named by the case (fx_open("licences")): fx_open makes that
 * store anew, empty, and opens it; fx_reopen opens the same store again,
 * after it was closed, beside a handle still open, or in another process.
 * A backend's entry in fx_backends[] below says how (see struct
 * fx_backend): adding a backend to the suite is one entry there.
 * Include check.h first: a store that does not open is a failed check.
 */
#ifndef CS_TEST_STORE_FIXTURE_H
#define CS_TEST_STORE_FIXTURE_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cs_err.h"
#include "store.h"
#include "testutil.h"

/* The commit window the stores are opened with: audit_flush_ms's
 * default (config.c), so the suite runs the way the service does. */
#define FX_WINDOW_MS 20

#define FX_DB_MAX 512

struct fx_backend {
	const char *name;       /* the value of CS_TEST_STORE */
	/* Non-NULL while the backend cannot run here: why (the test is
	 * skipped, exit 77).  The hooks below are then unused. */
	const char *not_built;
	/* Once, before the first store: make what the stores live in (the
	 * scratch directory exists already); 0, or non-zero said on stderr. */
	int (*setup)(void);
	/* The db string of the store the case calls name: the same for the
	 * same name, another for every other name. */
	void (*db)(const char *name, char *buf, size_t len);
	/* Make the store name empty (drop what an earlier run left). */
	void (*fresh)(const char *name);
	/* The db string of a store holding the copy cs_store_backup() wrote
	 * at path (a file of the scratch directory).  NULL: the backend makes
	 * no such copies (cs_store_backup says what to use instead), and
	 * the backup case is skipped, said as such. */
	void (*backup_db)(const char *path, char *buf, size_t len);
	/* Once, at the end: remove what setup made. */
	void (*teardown)(void);
};

/* --- SQLite: a file per store in the scratch directory --------------- */

static int
fx_sqlite_setup(void)
{
	return 0;
}

static void
fx_sqlite_db(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.db", test_dir, name);
}

static void
fx_sqlite_fresh(const char *name)
{
	static const char *const tails[] = {"", "-wal", "-shm", "-journal"};
	char path[FX_DB_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.db%s", test_dir, name,
		    tails[i]);
		unlink(path);
	}
}

/* The copy is a SQLite database file itself. */
static void
fx_sqlite_backup_db(const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s", path);
}

static void
fx_sqlite_teardown(void)
{
}

/* --- PostgreSQL: a database per store on one server ------------------ */

/*
 * The server is the one CS_TEST_PG_DIR/uri names (tests/lib/cspg.py), with
 * the admin URI of its database "postgres"; fx_pg_admin is a connection to
 * it, made once.  A store's database is cs_<pid>_<name> (pid: this test
 * binary's, so binaries running at once share the server without meeting,
 * and a forked child names the same databases as its parent), made anew by
 * fresh and dropped by teardown.
 */
#define FX_PG_MAX 64

static char fx_pg_uri[FX_DB_MAX];
static PGconn *fx_pg_admin;
static long fx_pg_pid;
static char fx_pg_made[FX_PG_MAX][64];
static int fx_pg_n;

static void
fx_pg_quiet(void *arg, const char *message)
{
}

static int
fx_pg_setup(void)
{
	const char *dir = getenv("CS_TEST_PG_DIR");
	char path[FX_DB_MAX];
	FILE *f;

	if (dir == NULL || dir[0] == '\0') {
		fprintf(stderr, "CS_TEST_STORE=postgresql needs "
		    "CS_TEST_PG_DIR: a directory where `python3 "
		    "tests/lib/cspg.py start DIR` wrote uri\n");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/uri", dir);
	if ((f = fopen(path, "r")) == NULL ||
	    fgets(fx_pg_uri, sizeof(fx_pg_uri), f) == NULL) {
		fprintf(stderr, "%s: cannot read the server's URI\n", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	fx_pg_uri[strcspn(fx_pg_uri, "\r\n")] = '\0';
	fx_pg_pid = (long)getpid();
	fx_pg_admin = PQconnectdb(fx_pg_uri);
	if (PQstatus(fx_pg_admin) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", path, PQerrorMessage(fx_pg_admin));
		return -1;
	}
	/* DROP DATABASE IF EXISTS of a database not there says so. */
	PQsetNoticeProcessor(fx_pg_admin, fx_pg_quiet, NULL);
	return 0;
}

/* The database of store name: cs_<pid>_<name>, its name's letters and
 * digits only (lower case), so it needs no quoting anywhere. */
static void
fx_pg_dbname(const char *name, char *buf, size_t len)
{
	size_t o;

	o = (size_t)snprintf(buf, len, "cs_%ld_", fx_pg_pid);
	for (; *name != '\0' && o + 1 < len; name++)
		buf[o++] = isalnum((unsigned char)*name) ?
		    (char)tolower((unsigned char)*name) : '_';
	buf[o] = '\0';
}

/* The admin URI with the store's database in place of "postgres": the
 * last path segment, before any ?query. */
static void
fx_pg_db(const char *name, char *buf, size_t len)
{
	char dbname[64];
	const char *q = strchr(fx_pg_uri, '?');
	size_t end = q != NULL ? (size_t)(q - fx_pg_uri) : strlen(fx_pg_uri);
	size_t slash = end;

	while (slash > 0 && fx_pg_uri[slash - 1] != '/')
		slash--;
	fx_pg_dbname(name, dbname, sizeof(dbname));
	snprintf(buf, len, "%.*s%s%s", (int)slash, fx_pg_uri, dbname,
	    fx_pg_uri + end);
}

/* Run one statement of the fixture's own (DDL, which takes no
 * parameters: the names come from fx_pg_dbname); 0 or -1, said. */
static int
fx_pg_exec(const char *sql)
{
	PGresult *r = PQexec(fx_pg_admin, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc != 0)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(fx_pg_admin));
	PQclear(r);
	return rc;
}

static void
fx_pg_fresh(const char *name)
{
	char dbname[64], sql[200];
	int i, known = 0;

	fx_pg_dbname(name, dbname, sizeof(dbname));
	/* FORCE: a handle of an earlier case (or a killed child's) may
	 * still be connected. */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    dbname);
	(void)fx_pg_exec(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	(void)fx_pg_exec(sql);
	for (i = 0; i < fx_pg_n; i++)
		known |= strcmp(fx_pg_made[i], dbname) == 0;
	if (!known && fx_pg_n < FX_PG_MAX)
		snprintf(fx_pg_made[fx_pg_n++], sizeof(fx_pg_made[0]), "%s",
		    dbname);
}

static void
fx_pg_teardown(void)
{
	char sql[200];
	int i;

	for (i = 0; i < fx_pg_n; i++) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH "
		    "(FORCE)", fx_pg_made[i]);
		(void)fx_pg_exec(sql);
	}
	PQfinish(fx_pg_admin);
	fx_pg_admin = NULL;
}

/* --- the backends ----------------------------------------------------- */

static const struct fx_backend fx_backends[] = {
	{"sqlite", NULL, fx_sqlite_setup, fx_sqlite_db, fx_sqlite_fresh,
	    fx_sqlite_backup_db, fx_sqlite_teardown},
	/* A server database is copied with the server's tools (pg_dump):
	 * no backup_db. */
	{"postgresql", NULL, fx_pg_setup, fx_pg_db, fx_pg_fresh, NULL,
	    fx_pg_teardown},
};

static const struct fx_backend *fx_current;

/* The backend CS_TEST_STORE names. */
static inline const char *
fx_backend_name(void)
{
	return fx_current != NULL ? fx_current->name : "(none)";
}

/*
 * Before the first store: make the scratch directory /tmp/SUITE.XXXXXX and
 * ready the backend CS_TEST_STORE names.  0; or the process exits: 77
 * when that backend cannot run here, 2 when CS_TEST_STORE names none,
 * 1 when the backend cannot be readied.
 */
static inline int
fx_setup(const char *suite)
{
	const char *want = getenv("CS_TEST_STORE");
	size_t i;

	if (want == NULL || want[0] == '\0')
		want = "sqlite";
	for (i = 0; i < sizeof(fx_backends) / sizeof(fx_backends[0]); i++)
		if (strcmp(fx_backends[i].name, want) == 0)
			fx_current = &fx_backends[i];
	if (fx_current == NULL) {
		fprintf(stderr, "%s: CS_TEST_STORE=%s names no backend (one of:",
		    suite, want);
		for (i = 0; i < sizeof(fx_backends) / sizeof(fx_backends[0]); i++)
			fprintf(stderr, " %s", fx_backends[i].name);
		fprintf(stderr, ")\n");
		exit(2);
	}
	if (fx_current->not_built != NULL) {
		fprintf(stderr, "%s: skipped: CS_TEST_STORE=%s: %s\n", suite,
		    want, fx_current->not_built);
		exit(77);
	}
	if (test_dir_make(suite) != 0)
		exit(1);
	if (fx_current->setup() != 0) {
		fprintf(stderr, "%s: the %s stores cannot be readied\n", suite,
		    want);
		rm_tree(test_dir);
		exit(1);
	}
	return 0;
}

/* After the last store is closed: undo fx_setup. */
static inline void
fx_teardown(void)
{
	fx_current->teardown();
	rm_tree(test_dir);
}

static inline cs_store *
fx_open_db(const char *db, const char *name)
{
	cs_store *s = NULL;
	int rc = cs_store_open(db, FX_WINDOW_MS, &s);

	if (rc != 0)
		fprintf(stderr, "open the %s store %s: %s: %s\n",
		    fx_current->name, name, cs_errname(rc), cs_err_msg());
	CHECK(s != NULL);
	return s;
}

/* The store name, made anew (empty) and opened; NULL when it cannot be,
 * which is a failed check of the test that asked (said on stderr). */
static inline cs_store *
fx_open(const char *name)
{
	char db[FX_DB_MAX];

	fx_current->fresh(name);
	fx_current->db(name, db, sizeof(db));
	return fx_open_db(db, name);
}

/* The store name as it is (after fx_open made it), opened again. */
static inline cs_store *
fx_reopen(const char *name)
{
	char db[FX_DB_MAX];

	fx_current->db(name, db, sizeof(db));
	return fx_open_db(db, name);
}

/* A file of the scratch directory (that need not exist), for what the
 * interface takes as a path: cs_store_backup().  One static buffer per
 * slot, 4 slots (tpath). */
static inline const char *
fx_file(const char *name)
{
	return tpath(name);
}

/* Whether the backend copies a store to a file (fx_open_backup opens
 * the copy). */
static inline int
fx_offers_backup(void)
{
	return fx_current->backup_db != NULL;
}

/* The copy cs_store_backup() wrote at path, opened as a store. */
static inline cs_store *
fx_open_backup(const char *path)
{
	char db[FX_DB_MAX];

	fx_current->backup_db(path, db, sizeof(db));
	return fx_open_db(db, path);
}

#endif
