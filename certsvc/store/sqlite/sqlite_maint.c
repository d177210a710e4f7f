/*
 * sqlite_maint: keeping the SQLite store healthy: the checkpointer thread
 * that copies the WAL into the database beside the writer, the health
 * check (ping: schema version, a full disk), and online backup.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"
#include "log.h"
#include "timeutil.h"


#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* WAL pages (16 KiB) after which the checkpointer thread copies the WAL
 * into the database, waking whenever CKPT_WAKE_PAGES more were written;
 * once a pass leaves at most CKPT_RESTART_PAGES uncopied it starts the WAL
 * over itself.  Past the hard limit the committing thread checkpoints
 * itself, so a checkpointer that cannot keep up never lets the WAL grow
 * without bound. */
#define CKPT_PAGES 1000
#define CKPT_WAKE_PAGES 64
#define CKPT_RESTART_PAGES 256
#define CKPT_HARD_PAGES 8000
/* How long the thread's restart waits for the writer's transaction to end
 * and for readers of old frames, before it gives up until its next pass:
 * the writer waits for the restart, so it must be short. */
#define CKPT_BUSY_MS 20
/* A checkpoint inside a commit at least this slow is logged. */
#define SLOW_CKPT_MS 200

/* Free bytes at which a store whose last write found the disk full counts
 * as having room again (sq_ping): a few commits' worth. */
#define ROOM_AGAIN_BYTES (1 << 20)

/* --- checkpoints ---------------------------------------------------- */

/*
 * SQLite checkpoints the WAL into the database (writing every page again,
 * then syncing the database file) inside the COMMIT that takes the WAL past
 * 1,000 pages, with the writer held.  Under group commit that COMMIT is the
 * leader's, so every writer and every audited read waited for it: at a
 * million licences, where each audit record dirties two random index pages,
 * reads saw p50 latencies of 200 ms.  Instead the writer's WAL hook wakes a
 * thread that checkpoints PASSIVE on its own connection, beside the writer
 * (WAL allows a checkpoint and a write transaction at once).
 *
 * SQLite starts the WAL over only when a write transaction begins with
 * every frame copied, which a background checkpoint chasing a busy writer
 * rarely leaves it.  The thread therefore finishes the job itself: once a
 * pass leaves at most CKPT_RESTART_PAGES uncopied, it checkpoints RESTART,
 * which takes the write lock between two of the writer's transactions
 * (waiting at most CKPT_BUSY_MS for it), copies that tail, and waits as
 * briefly for readers of old frames; the writer's next transaction starts
 * the WAL over.  The writer waits for that, a few hundred pages at most,
 * in its BEGIN (busy_timeout), never in a COMMIT, so a commit's cost is its
 * own frames and the WAL's sync.  (It used to copy the tail itself inside
 * the commit, two syncs more for that commit's group, and at a million
 * licences, where one group adds more frames than the tail, the WAL only
 * started over at the hard limit, in a commit copying a whole group's
 * random pages: stalls of over a second, audited reads refused.)  Past
 * CKPT_HARD_PAGES (128 MiB) the commit still checkpoints itself whatever
 * the thread is doing: the bound on the WAL comes first.
 */
static void
commit_ckpt(struct sstore *s, sqlite3 *db, const char *name, int pages)
{
	int64_t t0 = cs_mono_ms(), ms;
	int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);

	if (rc == SQLITE_OK)
		atomic_store(&s->ckpt_done, pages);
	if ((ms = cs_mono_ms() - t0) >= SLOW_CKPT_MS)
		cs_log_msg("certsvc: store: a commit checkpointed the WAL "
		    "(%d pages) itself in %lld ms%s", pages, (long long)ms,
		    s->has_ckpt ? ": the checkpointer falls behind" : "");
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sstore *s = arg;
	int done = atomic_load(&s->ckpt_done);

	if (pages < done)  /* the WAL started over */
		atomic_store(&s->ckpt_done, done = 0);
	if (pages < CKPT_PAGES)
		return SQLITE_OK;
	if (!s->has_ckpt || pages >= CKPT_HARD_PAGES) {
		commit_ckpt(s, db, name, pages);
	} else if (pages - done >= CKPT_WAKE_PAGES) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_want = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
	}
	return SQLITE_OK;
}

/* One pass of the thread: copy what it can beside the writer, then, with
 * little left, copy the rest and start the WAL over (above). */
static void
ckpt_pass(struct sstore *s)
{
	int log = 0, done = 0, rc;

	rc = sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK)
		return;
	atomic_store(&s->ckpt_done, done);
	if (log - done > CKPT_RESTART_PAGES)
		return;
	/* SQLITE_BUSY: the writer or a reader held on; as far as it got. */
	rc = sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL,
	    SQLITE_CHECKPOINT_RESTART, &log, &done);
	if ((rc == SQLITE_OK || rc == SQLITE_BUSY) && done >= 0)
		atomic_store(&s->ckpt_done, done);
}

static void *
ckpt_main(void *arg)
{
	struct sstore *s = arg;

	pthread_mutex_lock(&s->ckpt_mu);
	for (;;) {
		while (!s->ckpt_want && !s->ckpt_stop)
			pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
		if (s->ckpt_stop)
			break;
		s->ckpt_want = 0;
		pthread_mutex_unlock(&s->ckpt_mu);
		ckpt_pass(s);
		pthread_mutex_lock(&s->ckpt_mu);
	}
	pthread_mutex_unlock(&s->ckpt_mu);
	return NULL;
}

/* Start the checkpointer.  Without it (no thread, no connection) the hook
 * checkpoints on the writer, as SQLite would. */
void
sq_ckpt_start(struct sstore *s)
{
	pthread_mutex_init(&s->ckpt_mu, NULL);
	pthread_cond_init(&s->ckpt_cv, NULL);
	if (sq_conn_open(s->path, 0, &s->ckpt) == 0 &&
	    sq_exec_sql(s->ckpt.db, "PRAGMA query_only = OFF;"
	    "PRAGMA synchronous = FULL", "open checkpointer") == 0 &&
	    sqlite3_busy_timeout(s->ckpt.db, CKPT_BUSY_MS) == SQLITE_OK &&
	    pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) == 0)
		s->has_ckpt = 1;
	else
		sq_conn_close(&s->ckpt);
	sqlite3_wal_hook(s->writer.db, wal_hook, s);
}

void
sq_ckpt_end(struct sstore *s)
{
	if (s->has_ckpt) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_stop = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
		pthread_join(s->ckpt_thread, NULL);
		s->has_ckpt = 0;
	}
	sq_conn_close(&s->ckpt);
}

/* --- maintenance ---------------------------------------------------- */

/*
 * Whether writes still find the disk full: the last one did, and the
 * database's file system has not got ROOM_AGAIN_BYTES free since.  Space
 * that returns with no write to notice it counts too, so /healthz recovers
 * by itself; a write that fails again says full again.
 */
static int
out_of_space(struct sstore *s)
{
	struct statvfs fs;

	return atomic_load(&s->disk_full) && (statvfs(s->path, &fs) != 0 ||
	    (uint64_t)fs.f_bavail * fs.f_frsize < ROOM_AGAIN_BYTES);
}

/* Reads the schema version from the file itself, so it proves the
 * database can be read and is the one this binary migrated; then says
 * whether the disk is still full. */
int
sq_ping(cs_store *cs)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if ((rc = sq_read_stmt(S(cs), ST_VERSION, &st)) == 0 &&
	    (rc = sq_fetch_int(st, SQLITE_OK, &v, "ping")) == 0 &&
	    v != sq_schema_version)
		rc = cs_err_set(CS_ESTORE, "store: ping: schema version is %lld, "
		    "expected %d", (long long)v, sq_schema_version);
	if (rc == 0 && out_of_space(S(cs)))
		rc = cs_err_set(CS_EFULL, "store: the disk is full: the last "
		    "write found no space, and less than %d KiB is free",
		    ROOM_AGAIN_BYTES / 1024);
	return rc;
}

/*
 * Copy the database page by page (sqlite3_backup) in one step, which reads
 * one WAL snapshot: consistent, and writers go on meanwhile.  The source is
 * a connection of its own so a backup never disturbs a thread's reader or
 * sees a transaction in progress.  O_EXCL refuses an existing file
 * atomically: a backup never overwrites anything; the copy holds personal
 * data, so only its owner may read it.  A failed copy is removed.
 */
int
sq_backup(cs_store *cs, const char *path)
{
	struct conn src;
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int fd, rc = 0, created = 0, step = SQLITE_ERROR;

	memset(&src, 0, sizeof(src));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rc = cs_err_set(CS_EIO, "store: backup: %s: %s", path,
		    strerror(errno));
		goto out;
	}
	close(fd);
	created = 1;
	if ((rc = sq_conn_open(S(cs)->path, 0, &src)) != 0)
		goto out;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
	    (b = sqlite3_backup_init(dst, "main", src.db, "main")) != NULL) {
		step = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
	}
	if (step != SQLITE_DONE)
		rc = cs_err_set(CS_ESTORE, "store: backup to %s: %s", path,
		    dst ? sqlite3_errmsg(dst) : "out of memory");
out:
	sqlite3_close(dst);
	sq_conn_close(&src);
	if (rc != 0 && created)
		unlink(path);
	return rc;
}

