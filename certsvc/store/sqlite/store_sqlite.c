/*
 * store_sqlite: the embedded SQLite implementation of cs_store (store.h,
 * SPEC §7).
 *
 * Connections.  One writer connection, used only by the holder of the
 * writer token, from the outermost begin() to its commit() or rollback():
 * the process competes with itself for SQLite's write lock only when the
 * checkpointer thread starts the WAL over (sqlite_maint.c: briefly, between
 * two transactions), which busy_timeout waits out, as it does for other
 * processes (the CLI beside a running server).  Commits of
 * concurrent threads are grouped into one SQLite COMMIT (one fsync), and
 * commit() still returns only once its writes are on disk: see "threads
 * and transactions" below.  Reads outside a transaction run on a reader
 * connection of the calling thread: WAL lets readers run beside the writer
 * and each other, and a connection used by one thread at a time needs no
 * SQLite mutex.
 *
 * A thread finds its state (its reader and whether it holds the writer) in
 * a slot reached through a pthread key of the store, so two stores in one
 * process stay apart.  Slots live in a registry owned by the store, which
 * close() walks to close every connection; a slot whose thread has exited
 * is handed, connection and all, to the next new thread.
 *
 * Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * and reset after every use: a statement left un-reset would hold its read
 * snapshot open and stall WAL checkpoints.
 *
 * Append-only is enforced by the database itself (triggers), so not even a
 * bug in certsvc or a hand-run sqlite3 shell can rewrite history.
 *
 * Space: a licence must cost under 1.5 KiB on disk with its indexes.  Its
 * record JSON is most of that, so the record is stored compressed (zrecord.h),
 * and pages are 16 KiB: 1,420 bytes a licence at a million, against 1,493
 * with 4 KiB pages.  Smaller pages would write less per random index
 * insert, but measured side by side (bench/README.md, "Page size") they
 * issued no faster and read slower.
 *
 * The files: store_sqlite.c (open, close, the ops table), sqlite_schema.c
 * (schema and migrations), sqlite_conn.c (connections, thread slots),
 * sqlite_tx.c (writer token, group commit), sqlite_stmt.c (statements and
 * row mapping), sqlite_licences.c, sqlite_clients.c, sqlite_audit.c (the
 * records), sqlite_maint.c (checkpoints, ping, backup); what they share
 * is in store_sqlite_internal.h.
 */
#include "store_sqlite_internal.h"
#include "store_sqlite.h"

#include "cs_err.h"
#include "lcache.h"
#include "timeutil.h"
#include "zrecord.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* How long the leader of a group commit waits, at most, for writers
 * queued for the token to join its group (cs_store_sqlite_set_window). */
#define GROUP_WINDOW_MS 20

/*
 * Before SQLite's first use in the process: no memory statistics.  With
 * them every allocation SQLite makes takes one process-wide mutex, and
 * reader threads queued on it in futex calls (bench/README.md).  certsvc
 * reads none of them.  Too late (SQLITE_MISUSE) when something used SQLite
 * first; then they stay on.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The licence cache's bound (lcache.h). */
#define LCACHE_BYTES (32 << 20)

/*
 * Close every connection; the last one to close checkpoints the WAL into
 * the database file and removes it.  No other thread may be using the
 * store (or be exiting after using it) by now.  A transaction the calling
 * thread left open is rolled back.
 */
static void
sq_close(cs_store *cs)
{
	struct sstore *s = S(cs);
	struct slot *sl, *next;

	if (s != NULL) {
		if (s->has_key) {
			sl = pthread_getspecific(s->key);
			while (sl != NULL && sl->depth > 0)
				(void)sq_tx_end(s, sl, 0);
			pthread_key_delete(s->key);
		}
		if (s->ckpt_started) {
			sq_ckpt_end(s);
			pthread_mutex_destroy(&s->ckpt_mu);
			pthread_cond_destroy(&s->ckpt_cv);
		}
		for (sl = s->slots; sl != NULL; sl = next) {
			next = sl->next;
			sq_conn_close(&sl->reader);
			free(sl);
		}
		sq_conn_close(&s->writer);
		cs_zrecord_packer_free(s->packer);
		cs_zrecord_packer_free(s->evpacker);
		cs_lcache_free(s->lc);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->tok_cv);
		pthread_cond_destroy(&s->lead_cv);
		pthread_mutex_destroy(&s->reglock);
		free(s->path);
		free(s);
	}
}

static const struct cs_store_ops sqlite_ops = {
	.name = "sqlite",
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.licence_put = sq_licence_put,
	.licence_get = sq_licence_get,
	.licence_cache = sq_licence_cache,
	.licence_by_ref = sq_licence_by_ref,
	.licences_by_holder = sq_licences_by_holder,
	.licences_by_bundle = sq_licences_by_bundle,
	.licences_by_number = sq_licences_by_number,
	.licences_by_client = sq_licences_by_client,
	.licence_next_seq = sq_licence_next_seq,
	.licence_number_taken = sq_licence_number_taken,
	.licence_count = sq_licence_count,
	.status_scan = sq_status_scan,
	.status_mark = sq_status_mark,
	.event_append = sq_event_append,
	.events_for = sq_events_for,
	.events_for_many = sq_events_for_many,
	.bundle_put = sq_bundle_put,
	.bundle_by_ref = sq_bundle_by_ref,
	.change_append = sq_change_append,
	.changes_page = sq_changes_page,
	.changes_import = sq_changes_import,
	.sub_put = sq_sub_put,
	.subs_page = sq_subs_page,
	.subs_import = sq_subs_import,
	.sub_attempt_append = sq_sub_attempt_append,
	.sub_progress = sq_sub_progress,
	.sub_lease = sq_sub_lease,
	.copy_put = sq_copy_put,
	.copy_get = sq_copy_get,
	.copies_page = sq_copies_page,
	.hact_put = sq_hact_put,
	.hacts_get = sq_hacts_get,
	.hacts_page = sq_hacts_page,
	.peer_put = sq_peer_put,
	.peers_page = sq_peers_page,
	.client_add = sq_client_add,
	.client_get = sq_client_get,
	.client_by_token_hash = sq_client_by_token_hash,
	.client_list = sq_client_list,
	.client_revoke = sq_client_revoke,
	.grant_add = sq_grant_add,
	.client_rotate = sq_client_rotate,
	.client_tokens_page = sq_client_tokens_page,
	.client_tokens_import = sq_client_tokens_import,
	.audit_append = sq_audit_append,
	.audit_query = sq_audit_query,
	.licences_page = sq_licences_page,
	.events_page = sq_events_page,
	.bundles_page = sq_bundles_page,
	.licences_import = sq_licences_import,
	.events_import = sq_events_import,
	.client_import = sq_client_import,
	.audit_import = sq_audit_import,
	.import_done = sq_import_done,
	.ping = sq_ping,
	.backup = sq_backup,
	.close = sq_close,
};

/* The database holds personal data (resident ID numbers), so a new file is
 * made readable by its owner only; SQLite gives its -wal and -shm files the
 * same mode.  An existing file keeps the mode its operator chose. */
static void
create_private(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1)
		close(fd);
}

int
cs_store_open_sqlite(const char *path, cs_store **out)
{
	struct sstore *s = NULL;
	int rc = 0;

	*out = NULL;
	if (!sqlite3_threadsafe()) {
		rc = cs_err_set(CS_ESTORE, "store: SQLite is built without "
		    "thread support");
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	s->base.ops = &sqlite_ops;
	pthread_once(&sqlite_once, sqlite_init);
	pthread_mutex_init(&s->mu, NULL);
	cs_cond_init_mono(&s->tok_cv);
	cs_cond_init_mono(&s->lead_cv);
	s->window_ms = GROUP_WINDOW_MS;
	pthread_mutex_init(&s->reglock, NULL);
	if (pthread_key_create(&s->key, sq_slot_vacate) != 0) {
		rc = cs_err_set(CS_ESTORE, "store: no thread key left");
		goto out;
	}
	s->has_key = 1;
	if ((s->path = strdup(path)) == NULL ||
	    (s->lc = cs_lcache_new(LCACHE_BYTES)) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	/* Without a packer (out of memory) records and events are stored as
	 * text. */
	s->packer = cs_zrecord_packer_new();
	s->evpacker = cs_zevent_packer_new();
	create_private(path);
	if ((rc = sq_conn_open(path, 1, &s->writer)) == 0 &&
	    (rc = sq_migrate(&s->writer, path)) == 0) {
		sq_ckpt_start(s);
		s->ckpt_started = 1;
	}
out:
	if (rc == 0)
		*out = &s->base;
	else
		sq_close(s ? &s->base : NULL);
	return rc;
}

void
cs_store_sqlite_set_window(cs_store *cs, long ms)
{
	struct sstore *s = S(cs);

	pthread_mutex_lock(&s->mu);
	s->window_ms = ms < 0 ? 0 : ms;
	pthread_mutex_unlock(&s->mu);
}

void
cs_store_sqlite_stats(cs_store *cs, uint64_t *groups, uint64_t *members)
{
	struct sstore *s = S(cs);

	pthread_mutex_lock(&s->mu);
	*groups = s->n_groups;
	*members = s->n_members;
	pthread_mutex_unlock(&s->mu);
}

