/*
 * sqlite_conn: the connections of the SQLite store: opening one (the
 * writer's durable pragmas, WAL, a reader's query_only and small cache),
 * closing one, and each thread's slot of a store with its own reader
 * connection (store_sqlite.c says why).
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"

#include <stdlib.h>
#include <string.h>

#define CS_STR_(x) #x
#define CS_STR(x) CS_STR_(x)

/* Long enough for another process's write transaction (a CLI command) to
 * finish; a server thread never waits on it for its own threads. */
#define BUSY_TIMEOUT_MS 10000

/* Each reader connection's page cache, in KiB (see conn_open). */
#define READER_CACHE_KIB 512

/* Set on a new database only: an existing file keeps its page size (a
 * VACUUM in rollback-journal mode would change it). */
#define PAGE_SIZE 16384

/* --- connections ---------------------------------------------------- */

int
sq_exec_sql(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;
	int rc = 0;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: %s: %s", what,
		    err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return rc;
}

/* WAL is what lets readers run beside the writer; a file system that
 * cannot do it (no shared memory) is refused rather than run slowly and
 * differently. */
static int
set_wal(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st = NULL;
	const char *mode = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL)
		rc = cs_err_set(CS_ESTORE, "store: %s: journal mode: %s", path,
		    sqlite3_errmsg(db));
	else if (strcmp(mode, "wal") != 0)
		rc = cs_err_set(CS_ESTORE, "store: %s: cannot use WAL "
		    "(journal mode stays %s)", path, mode);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Open a connection to path.  The writer gets the durable settings:
 * synchronous=FULL syncs the WAL at every commit, so commit() returning
 * means the licence survives a power cut; recursive_triggers makes a
 * REPLACE conflict resolution fire the delete triggers too, closing that
 * way around append-only; temp_store=MEMORY keeps the journals of the
 * savepoints of group commit in memory (a few pages per transaction).  A
 * reader is query_only, so a bug cannot write through it outside the
 * writer token.
 */
int
sq_conn_open(const char *path, int is_writer, struct conn *c)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    (is_writer ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		rc = cs_err_set(CS_ESTORE, "store: open %s: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	if (!is_writer) {
		/* A reader's page cache is emptied whenever another
		 * connection commits, which the read audit writer does every
		 * audit_flush_ms: SQLite's default of 2 MB a connection, times
		 * one per worker thread, was resident memory that little more
		 * than the b-trees' upper pages could use. */
		rc = sq_exec_sql(c->db, "PRAGMA query_only = ON;"
		    "PRAGMA cache_size = -" CS_STR(READER_CACHE_KIB),
		    "open reader");
		goto out;
	}
	/* Before WAL and the schema: a no-op on an existing database. */
	if ((rc = sq_exec_sql(c->db, "PRAGMA page_size = " CS_STR(PAGE_SIZE),
	    "open writer")) != 0 || (rc = set_wal(c->db, path)) != 0)
		goto out;
	rc = sq_exec_sql(c->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA recursive_triggers = ON;"
	    "PRAGMA temp_store = MEMORY", "open writer");
out:
	if (rc != 0) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
	return rc;
}

void
sq_conn_close(struct conn *c)
{
	size_t i;

	for (i = 0; i < ST__N; i++)
		sqlite3_finalize(c->st[i]);
	for (i = 0; i < AF__N; i++)
		sqlite3_finalize(c->audit[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

/* Thread exit: the slot and its reader go to the next new thread.  A
 * transaction the thread left open is rolled back here, on that thread,
 * which holds the writer token and so may give it back; otherwise every
 * writer would wait forever on a dead thread. */
void
sq_slot_vacate(void *p)
{
	struct slot *sl = p;

	while (sl->depth > 0)
		(void)sq_tx_end(sl->store, sl, 0);
	atomic_store(&sl->vacant, 1);
}

/* The calling thread's slot of s, made (or reclaimed) on first use. */
int
sq_slot_get(struct sstore *s, struct slot **out)
{
	struct slot *sl;
	int rc = 0;

	if ((sl = pthread_getspecific(s->key)) != NULL)
		goto out;
	pthread_mutex_lock(&s->reglock);
	for (sl = s->slots; sl != NULL; sl = sl->next)
		if (atomic_exchange(&sl->vacant, 0))
			break;
	if (sl == NULL && (sl = calloc(1, sizeof(*sl))) != NULL) {
		sl->store = s;
		sl->next = s->slots;
		s->slots = sl;
	}
	pthread_mutex_unlock(&s->reglock);
	if (sl == NULL)
		rc = sq_nomem();
	else if (pthread_setspecific(s->key, sl) != 0) {
		atomic_store(&sl->vacant, 1);
		sl = NULL;
		rc = sq_nomem();
	}
out:
	*out = sl;
	return rc;
}

/* The connection for a read: the writer when this thread holds it (so it
 * sees its own uncommitted writes), else its own reader. */
int
sq_read_conn(struct sstore *s, struct conn **out)
{
	struct slot *sl;
	int rc;

	*out = NULL;
	if ((rc = sq_slot_get(s, &sl)) != 0)
		goto out;
	if (sl->depth > 0)
		*out = &s->writer;
	else if (sl->reader.db != NULL ||
	    (rc = sq_conn_open(s->path, 0, &sl->reader)) == 0)
		*out = &sl->reader;
out:
	return rc;
}

int
sq_read_stmt(struct sstore *s, enum stmt_id id, sqlite3_stmt **out)
{
	struct conn *c;
	int rc;

	*out = NULL;
	if ((rc = sq_read_conn(s, &c)) == 0)
		rc = sq_prep(c, id, out);
	return rc;
}

