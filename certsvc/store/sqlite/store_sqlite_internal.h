/*
 * store_sqlite_internal: what the files of the SQLite store backend
 * (store_sqlite.c and the sqlite_*.c beside it) share, and nothing outside
 * them may use: the store, slot and connection structures, the ids of the
 * statement table, and the helpers every file calls to prepare, bind, run
 * and map statements.  Each function is described at its definition.
 */
#ifndef CS_STORE_SQLITE_INTERNAL_H
#define CS_STORE_SQLITE_INTERNAL_H

/* Private to certsvc/store/sqlite: its library is built with CS_LAYER_STORE;
 * anyone else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_STORE
#error "store_sqlite_internal.h is private to certsvc/store/sqlite: include store.h"
#endif

#include "store_backend.h"

#include "lcache.h"
#include "zrecord.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The longest record stored (request bodies are <= 64 KiB); a stored one
 * inflating beyond it is corrupt. */
#define RECORD_MAX (1 << 20)

/* Audit records are keyed by holder and target in chunks of 2^14 sequence
 * numbers (schema version 4).  A string for the SQL, a number for C. */
#define AUDIT_CHUNK "16384"
#define AUDIT_CHUNK_SHIFT 14
/* The licences ST_EV_FOR_MANY asks for at once (its ?1 .. ?16). */
#define EV_FOR_MANY 16

/* The serial of licence row r (SQL): its identifier, "1.2.156.3005.2."
 * TYPE "." ISSUER "." SERIAL "." VERSION(3) "." CHECK(1), between the
 * issuer and the version. */
#define SERIAL_OF(r)                                                         \
	"substr(" r ".id, length(" r ".type) + length(" r ".issuer_code) + "  \
	"18, length(" r ".id) - length(" r ".type) - "                       \
	"length(" r ".issuer_code) - 23)"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_VERSION,
	ST_LIC_PUT,
	ST_LIC_GET,
	ST_LIC_BY_REF,
	ST_LIC_BY_HOLDER,
	ST_LIC_POS_AT,
	ST_LIC_POS_OF,
	ST_LIC_BY_NUMBER,
	ST_LIC_BY_CLIENT,
	ST_NUMBER_TAKEN,
	ST_LIC_BY_BUNDLE,
	ST_LIC_NEXT_SEQ,
	ST_LIC_COUNT,
	ST_LIC_PAGE,
	ST_EV_PUT,
	ST_EV_IMPORT,
	ST_EV_PAGE,
	ST_EV_FOR,
	ST_EV_FOR_MANY,
	ST_CHG_PUT,
	ST_CHG_IMPORT,
	ST_CHG_PAGE,
	ST_SUB_PUT,
	ST_SUB_IMPORT,
	ST_SUB_PAGE,
	ST_SUB_ATTEMPT,
	ST_SUB_PROGRESS,
	ST_BUN_PUT,
	ST_BUN_BY_REF,
	ST_BUN_PAGE,
	ST_COPY_PUT,
	ST_COPY_GET,
	ST_COPY_PAGE,
	ST_HACT_PUT,
	ST_HACT_GET,
	ST_HACT_PAGE,
	ST_PEER_PUT,
	ST_PEER_PAGE,
	ST_CLI_ADD,
	ST_CLI_IMPORT,
	ST_CLI_GET,
	ST_CLI_BY_HASH,
	ST_CLI_LIST,
	ST_CLI_REVOKE,
	ST_CLI_ROTATE,
	ST_CLI_TOK_PAGE,
	ST_CLI_TOK_IMPORT,
	ST_GRANTS,
	ST_GRANT_ADD,
	ST_AUDIT_PUT,
	ST_AUDIT_IMPORT,
	ST_AUDIT_CHUNKS,
	ST_AUDIT_KEYS_PUT,
	ST_AUDIT_CHUNK_PUT,
	ST_AUDIT_KEYED,
	ST_STATUS_SCAN,
	ST_STATUS_EVENTS,
	ST_STATUS_MARK,
	ST__N
};

/* The audit query has one statement per set of filters in use, so that
 * each can use its index (a "?x IS NULL OR col = ?x" term would not). */
enum {
	AF_CLIENT = 1 << 0,
	AF_ACTION = 1 << 1,
	AF_HOLDER = 1 << 2,
	AF_TARGET = 1 << 3,
	AF_SINCE = 1 << 4,
	AF_UNTIL = 1 << 5,
	AF_OK = 1 << 6,
	AF_DENIED = 1 << 7,
	AF_KEYED = 1 << 8,   /* one keyed chunk of a holder or target filter */
	AF_DESC = 1 << 9,    /* newest first: seq < before_seq (?11) */
	AF__N = 1 << 10
};

/* --- types ---------------------------------------------------------- */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	sqlite3_stmt *audit[AF__N];
};

/* What one thread has of one store. */
struct slot {
	struct sstore *store;
	struct conn reader;  /* db NULL until the thread first reads */
	int depth;           /* transaction levels open (> 0: holds the writer) */
	int joined;          /* its outermost level is a savepoint inside a
	                      * transaction that other members wrote to */
	int stray;           /* a failed inner commit ended its level: the
	                      * caller's rollback that follows is absorbed */
	atomic_int vacant;   /* its thread has exited; free to reuse */
	struct slot *next;
};

/* A member of the open group: a transaction whose writes are in the shared
 * SQLite transaction and whose thread waits for that transaction's COMMIT.
 * It lives on the member's stack until done is set. */
struct gwait {
	struct gwait *next;
	int rc;              /* the group's outcome, set with done */
	int done;
	int carries;         /* it has writes in the group (not a rollback) */
	pthread_cond_t cv;   /* its thread waits here: one wake-up each */
	char msg[200];       /* the failure, for the member's own cs_err */
};

struct sstore {
	cs_store base;       /* first: a cs_store * is a struct sstore * */
	char *path;
	struct conn writer;
	/* The writer token and the group commit (see "threads and
	 * transactions"); mu guards every field down to window_ms. */
	pthread_mutex_t mu;
	pthread_cond_t tok_cv;    /* writers queued for the token */
	pthread_cond_t lead_cv;   /* the leader, waiting to commit */
	int busy;                 /* a thread holds the writer token */
	int queued;               /* threads waiting for the token */
	int urgent;               /* the leader's window ran out: it goes next */
	int leading;              /* a member is leading the open group */
	int lead_waits;           /* ... and waits on lead_cv */
	struct gwait *group;      /* the open group's members */
	int64_t opened_ms;        /* when its first member joined (cs_mono_ms) */
	long window_ms;
	uint64_t n_groups, n_members;  /* committed so far (statistics) */
	/* The checkpointer: a thread with a connection of its own. */
	struct conn ckpt;
	pthread_t ckpt_thread;
	int has_ckpt;
	pthread_mutex_t ckpt_mu;  /* guards ckpt_want, ckpt_stop */
	pthread_cond_t ckpt_cv;
	int ckpt_want, ckpt_stop;
	int ckpt_started;         /* ckpt_mu and ckpt_cv exist */
	atomic_int ckpt_done;     /* WAL frames the last checkpoint copied */
	pthread_mutex_t reglock;  /* guards slots */
	struct slot *slots;
	pthread_key_t key;
	int has_key;
	/* The record compressor (zrecord.h), used under the writer; its
	 * output is bound until the insert is done. */
	cs_zrecord_packer *packer;
	cs_zrecord_packer *evpacker; /* the same for change events */
	cs_lcache *lc;       /* licence rows read (lcache.h) */
	/* A write found the disk full and no COMMIT has succeeded since
	 * (note_space): what ping() and tx_gone(s) report. */
	atomic_int disk_full;
};

/* How to turn the rows of a query into an array: elements of size bytes,
 * each filled by map (which frees what it made if it fails), and freed as
 * a whole (n elements) by free_all. */
struct rowkind {
	size_t size;
	int (*map)(sqlite3_stmt *st, void *elem);
	void (*free_all)(void *arr, size_t n);
};

#define S(cs) ((struct sstore *)(cs))

/* --- functions shared between the files ---------------------------- */

/* sqlite_stmt.c: the statement table, binding, columns, running. */
int sq_nomem(void);
int sq_db_fail(sqlite3_stmt *st, const char *what);
void sq_finish(sqlite3_stmt *st);
int sq_bind_text(sqlite3_stmt *st, int i, const char *s);
int sq_bind_hash(sqlite3_stmt *st, int i, const char *hex);
const char *sq_col_text(sqlite3_stmt *st, int i, int *bad);
char *sq_col_dup(sqlite3_stmt *st, int i, int *bad);
char *sq_col_hash(sqlite3_stmt *st, int i, int *bad);
int sq_col_record(sqlite3_stmt *st, int i, char **out);
int sq_col_event(sqlite3_stmt *st, int i, char **out);
int sq_prep(struct conn *c, enum stmt_id id, sqlite3_stmt **out);
int sq_run(sqlite3_stmt *st, int bound, const char *what);
int sq_fetch_int(sqlite3_stmt *st, int bound, int64_t *out, const char *what);
int sq_fetch_one(sqlite3_stmt *st, int bound, const struct rowkind *k,
    void *elem, const char *what);
int sq_fetch_append(sqlite3_stmt *st, int bound, const struct rowkind *k,
    void **out, size_t *n, size_t *cap, const char *what);
int sq_fetch_all(sqlite3_stmt *st, int bound, const struct rowkind *k,
    void **out, size_t *n, const char *what);
int sq_seq_page(struct sstore *s, enum stmt_id id, int64_t after_seq,
    size_t limit, const struct rowkind *k, void **out, size_t *n,
    const char *what);

/* sqlite_conn.c: connections and each thread's slot. */
int sq_exec_sql(sqlite3 *db, const char *sql, const char *what);
int sq_conn_open(const char *path, int is_writer, struct conn *c);
void sq_conn_close(struct conn *c);
void sq_slot_vacate(void *p);
int sq_slot_get(struct sstore *s, struct slot **out);
int sq_read_conn(struct sstore *s, struct conn **out);
int sq_read_stmt(struct sstore *s, enum stmt_id id, sqlite3_stmt **out);

/* sqlite_tx.c: the writer token, group commit, transactions. */
int sq_tx_end(struct sstore *s, struct slot *sl, int commit);
int sq_write_enter(struct sstore *s, struct conn **out, int *own);
int sq_write_leave(struct sstore *s, int own, int rc);
int sq_begin(cs_store *cs);
int sq_commit(cs_store *cs);
int sq_rollback(cs_store *cs);
int sq_in_tx(struct sstore *s);
int sq_import_rows(cs_store *cs, void *const *rows, size_t n,
    int (*put)(cs_store *cs, const void *row));

/* sqlite_schema.c: the schema and its migrations. */
extern const int sq_schema_version;
int sq_migrate(struct conn *c, const char *path);

/* sqlite_subs.c: subscriptions and their delivery attempts. */
int sq_sub_put(cs_store *cs, const cs_sub_row *row);
int sq_subs_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n);
int sq_subs_import(cs_store *cs, cs_sub_row *const *rows, size_t n);
int sq_sub_attempt_append(cs_store *cs, const cs_sub_attempt *a, size_t n);
int sq_sub_progress(cs_store *cs, int64_t sub, cs_sub_progress *out);
int sq_sub_lease(cs_store *cs, int64_t sub, const char *node,
    int64_t ttl_ms, int *held);

/* sqlite_copies.c: annotated copies. */
/* sqlite_changes.c: the change feed's outbox. */
int sq_change_append(cs_store *cs, const cs_change *ch);
int sq_changes_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n);
int sq_changes_import(cs_store *cs, cs_change *const *chs, size_t n);
int sq_copy_put(cs_store *cs, const cs_copy_row *c);
int sq_copy_get(cs_store *cs, const char *id, cs_copy_row **out);
int sq_peer_put(cs_store *cs, const cs_peer_row *p);
int sq_peers_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n);
int sq_copies_page(cs_store *cs, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n);

/* sqlite_hacts.c: the holder acts (SPEC §10). */
int sq_hact_put(cs_store *cs, const cs_hact_row *r);
int sq_hacts_get(cs_store *cs, const char *key, int64_t n_below,
    size_t limit, cs_hact_row ***out, size_t *n);
int sq_hacts_page(cs_store *cs, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n);

/* sqlite_licences.c: licences, their status events, bundles. */
int sq_licence_put(cs_store *cs, const cs_licence_row *r);
int sq_licence_get(cs_store *cs, const char *id, cs_licence_row **out);
int sq_licence_by_ref(cs_store *cs, const char *client,
    const char *approval_ref, cs_licence_row **out);
int sq_licences_by_holder(cs_store *cs, const char *holder_code,
    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
    size_t *n);
int sq_licences_by_client(cs_store *cs, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n);
int sq_licences_by_number(cs_store *cs, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n);
int sq_licence_number_taken(cs_store *cs, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken);
int sq_licences_by_bundle(cs_store *cs, const char *bundle_id,
    cs_licence_row ***out, size_t *n);
int sq_licence_next_seq(cs_store *cs, const char *type,
    const char *issuer_code, int64_t *out);
int sq_licence_count(cs_store *cs, int64_t *out);
/* sqlite_status.c: what the status list is built from. */
int sq_status_scan(cs_store *cs, cs_status_fn fn, void *ctx);
int sq_status_mark(cs_store *cs, int64_t mark[2]);
int sq_event_append(cs_store *cs, const cs_event *ev);
cs_lcache *sq_licence_cache(cs_store *cs);
int sq_events_for_many(cs_store *cs, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t **counts, size_t *total);
int sq_events_for(cs_store *cs, const char *licence_id, cs_event ***out,
    size_t *n);
int sq_bundle_put(cs_store *cs, const cs_bundle_row *b);
int sq_bundle_by_ref(cs_store *cs, const char *client,
    const char *approval_ref, cs_bundle_row **out);
int sq_licences_page(cs_store *cs, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n);
int sq_events_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n);
int sq_licences_import(cs_store *cs, cs_licence_row *const *rows, size_t n);
int sq_events_import(cs_store *cs, cs_event *const *evs, size_t n);
int sq_bundles_page(cs_store *cs, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n);

/* sqlite_clients.c: API clients and their grants. */
int sq_client_add(cs_store *cs, const cs_client *cl);
int sq_client_get(cs_store *cs, const char *name, cs_client **out);
int sq_client_by_token_hash(cs_store *cs, const uint8_t hash[32],
    cs_client **out);
int sq_client_list(cs_store *cs, cs_client ***out, size_t *n);
int sq_client_revoke(cs_store *cs, const char *name, int64_t at);
int sq_grant_add(cs_store *cs, const char *client_name, const cs_grant *g);
int sq_client_import(cs_store *cs, const cs_client *cl);
int sq_client_rotate(cs_store *cs, const char *name, const uint8_t hash[32],
    int64_t at);
int sq_client_tokens_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n);
int sq_client_tokens_import(cs_store *cs, cs_client_token *const *rows,
    size_t n);

/* sqlite_audit.c: the audit trail. */
int sq_index_audit_chunks(struct conn *c);
int sq_audit_append(cs_store *cs, const cs_audit_rec *a);
int sq_audit_query(cs_store *cs, const cs_audit_filter *f,
    cs_audit_rec ***out, size_t *n);
int sq_audit_import(cs_store *cs, cs_audit_rec *const *recs, size_t n);
int sq_import_done(cs_store *cs);

/* sqlite_maint.c: the checkpointer, ping, backup. */
void sq_ckpt_start(struct sstore *s);
void sq_ckpt_end(struct sstore *s);
int sq_ping(cs_store *cs);
int sq_backup(cs_store *cs, const char *path);

#endif
