/*
 * store_pg_internal: what the files of the PostgreSQL store backend
 * (store_pg.c and the pg_*.c beside it) share, and nothing outside them
 * may use: the store and connection structures, the statement table's
 * ids, statement parameters, and the helpers every file calls to run
 * statements, read their columns and map their errors.  Each function is
 * described at its definition.
 */
#ifndef CS_STORE_PG_INTERNAL_H
#define CS_STORE_PG_INTERNAL_H

/* Private to certsvc/store/postgres: its library is built with
 * CS_LAYER_STORE; anyone else gets this error (white-box tests define it
 * on purpose). */
#ifndef CS_LAYER_STORE
#error "store_pg_internal.h is private to certsvc/store/postgres: include store.h"
#endif

#include "store_backend.h"

#include "lcache.h"
#include "zrecord.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The longest record stored (request bodies are <= 64 KiB); a stored one
 * inflating beyond it is corrupt. */
#define RECORD_MAX (1 << 20)

/* Parameters of one statement, at most. */
#define PQ_MAXP 16

/* The statements of the table in pg_stmt.c. */
enum pst_id {
	PS_LIC_PUT,
	PS_LIC_GET,
	PS_LIC_BY_REF,
	PS_LIC_BY_HOLDER,
	PS_LIC_POS_AT,
	PS_LIC_BY_NUMBER,
	PS_LIC_BY_CLIENT,
	PS_NUMBER_TAKEN,
	PS_LIC_BY_BUNDLE,
	PS_NEXT_SEQ,
	PS_NEXT_SEQ_LOCK,
	PS_LIC_COUNT,
	PS_EV_PUT,
	PS_EV_FOR,
	PS_EV_FOR_MANY,
	PS_EV_SINCE,
	PS_EV_MAX,
	PS_CHG_PUT,
	PS_CHG_PAGE,
	PS_SUB_PUT,
	PS_SUB_IMPORT,
	PS_SUB_PAGE,
	PS_SUB_ATTEMPT,
	PS_SUB_PROGRESS,
	PS_SUB_LEASE,
	PS_BUN_PUT,
	PS_BUN_BY_REF,
	PS_COPY_PUT,
	PS_COPY_GET,
	PS_COPY_PAGE,
	PS_HACT_PUT,
	PS_HACT_GET,
	PS_HACT_PAGE,
	PS_PEER_PUT,
	PS_PEER_PAGE,
	PS_CLI_ADD,
	PS_CLI_GET,
	PS_CLI_BY_HASH,
	PS_CLI_LIST,
	PS_CLI_REVOKE,
	PS_CLI_ROTATE,
	PS_CLI_TOK_PAGE,
	PS_CLI_TOK_IMPORT,
	PS_GRANTS,
	PS_GRANT_ADD,
	PS_AUDIT_PUT,
	PS_AUDIT_PUT_MANY,
	PS_LIC_PAGE,
	PS_EV_PAGE,
	PS_STATUS_PAGE,
	PS_STATUS_MARK,
	PS_EV_IMPORT,
	PS_BUN_PAGE,
	PS_CLI_IMPORT,
	PS_AUDIT_IMPORT,
	PS_CHG_IMPORT,
	PS_IMPORT_DONE,
	PS_SEQ_RAISE,
	PS_PING,
	PS__N
};

/* The audit query has one statement per set of filters in use, so that
 * each can use its index (as in the SQLite backend). */
enum {
	AF_CLIENT = 1 << 0,
	AF_ACTION = 1 << 1,
	AF_HOLDER = 1 << 2,
	AF_TARGET = 1 << 3,
	AF_SINCE = 1 << 4,
	AF_UNTIL = 1 << 5,
	AF_OK = 1 << 6,
	AF_DENIED = 1 << 7,
	AF_DESC = 1 << 8,    /* newest first: seq < before_seq */
	AF__N = 1 << 9
};

/* Prepared-statement slots of a connection: the table's, then one per set
 * of audit filters. */
#define PS_SLOTS (PS__N + AF__N)

/* --- types ---------------------------------------------------------- */

/* A statement: prepared once per connection as "cs<slot>" on first use.
 * types: the types of its ntypes parameters, or NULL to let the server
 * infer them from the SQL. */
struct pstmt {
	int slot;
	const char *sql;
	int ntypes;
	const Oid *types;
};

/* The parameters of one call: text (NUL-terminated) or binary values, or
 * NULL; numbers are sent as decimal text. */
struct pgq {
	const char *v[PQ_MAXP];
	int len[PQ_MAXP];
	int fmt[PQ_MAXP];
	char num[PQ_MAXP][24];
	int n;
};

struct pconn {
	PGconn *pg;                     /* NULL until connected */
	unsigned char prepared[PS_SLOTS];
	struct pconn *next;             /* the pool's idle list */
};

/* The status cache's freshness (pg_status.c). */
#define PG_GAPS_MAX 1024
struct pgstatus {
	pthread_mutex_t mu;  /* guards refreshing and fresh_at_ms */
	int refreshing;      /* a thread is refreshing: mark and gaps are its */
	int fresh;           /* a refresh has completed */
	int64_t fresh_at_ms; /* when the last completed refresh was sent */
	int64_t mark;        /* the newest seq refreshed; -1: reset next */
	struct pggap {
		int64_t seq, since_ms;
	} gaps[PG_GAPS_MAX]; /* seqs under the mark not seen yet */
	size_t n_gaps;
	/* Licences the writer token's holder appended events to in its
	 * transaction (all: too many to list). */
	char **touched;
	size_t n_touched, cap_touched;
	int touched_all;
};

/* A number the writer's transaction holds the lock of (pg_numbering.c):
 * the next seq of a type and issuer. */
#define PG_NUM_MAX 8
struct pgnum {
	char type[32];
	char issuer[64];
	int64_t next;
};

/* A read of status events outside a transaction: whether the status cache
 * may answer it, and, for a put of what the database answers, the cache's
 * epoch and the time before the database was asked. */
struct pgsread {
	int cached;
	uint64_t epoch;
	int64_t at_ms;
};

/* Transaction levels whose call savepoints are counted (pg_tx.c); a
 * deeper level releases each call's at once, as before. */
#define PG_LEVELS 8

struct pgstore {
	cs_store base;       /* first: a cs_store * is a struct pgstore * */
	char *uri;           /* as given: it may hold a password */
	char *shown;         /* the URI for messages, any password masked */
	char *password;      /* masked out of libpq's messages; NULL: none */
	/* The writer: its connection, and the token that says which thread
	 * may use it (pg_tx.c).  mu guards busy; depth, stray and lost belong
	 * to the token's holder. */
	struct pconn writer;
	pthread_mutex_t mu;
	pthread_cond_t tok_cv;
	int busy;
	int depth;           /* transaction levels open */
	int stray;           /* a failed inner commit ended its level */
	int lost;            /* the writer's connection died inside the
	                      * transaction: PostgreSQL rolled it back */
	int wrote;           /* a write of the transaction succeeded */
	/* Level statements not sent yet (pg_tx.c, "Levels without round
	 * trips"): pend_rel RELEASE SAVEPOINT cs, then pend_sp SAVEPOINT
	 * cs, to go before the next statement on the writer. */
	int pend_rel;
	int pend_sp;
	/* Writes sent into the writer's pipeline and not waited for
	 * (pg_tx.c, "Writes not waited for"): deferred statements whose
	 * results are not read yet; doomed, the code of the first that
	 * failed (0: none), and its message: the transaction cannot commit. */
	int deferred;
	int doomed;
	char doomed_msg[400];
	/* Call savepoints left unreleased at each level (pg_tx.c). */
	int calls_open[PG_LEVELS];
	pthread_key_t key;   /* non-NULL for the thread holding the token */
	int has_key;
	/* The readers' pool (pg_conn.c); pool_mu guards it. */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct pconn *idle;
	int n_conns;
	/* Reconnecting (pg_conn.c); bo_mu guards it. */
	pthread_mutex_t bo_mu;
	int64_t retry_at_ms; /* no connection attempt before (cs_mono_ms) */
	long backoff_ms;
	char down_msg[400];  /* why the last attempt failed */
	/* When (cs_mono_ms) a write last found the server's disk full
	 * (SQLSTATE 53100), 0 once a write committed since; ping reads it
	 * (pg_maint.c). */
	_Atomic int64_t full_at_ms;
	/* The record compressor (zrecord.h), used under the writer token. */
	cs_zrecord_packer *packer;
	cs_lcache *lc;       /* committed licence rows read (lcache.h), and
	                      * their status events (pg_status.c) */
	struct pgstatus st;
	/* Numbers of the writer's transaction (pg_numbering.c), the token
	 * holder's. */
	struct pgnum num[PG_NUM_MAX];
	size_t n_num;
};

/* How to turn the rows of a result into an array: elements of size bytes,
 * each filled by map (which frees what it made if it fails), freed as a
 * whole (n elements) by free_all. */
struct rowkind {
	size_t size;
	int (*map)(const PGresult *r, int row, void *elem);
	void (*free_all)(void *arr, size_t n);
};

#define P(cs) ((struct pgstore *)(cs))

/* --- functions shared between the files ---------------------------- */

/* pg_stmt.c: the statement table, parameters, columns, errors. */
const struct pstmt *pg_st(enum pst_id id);
void pq_init(struct pgq *q);
void pq_text(struct pgq *q, const char *s);
void pq_i64(struct pgq *q, int64_t v);
void pq_bin(struct pgq *q, const void *p, size_t n);
char *pg_text_array(const char *const *v, size_t n);
char *pg_i64_array(const int64_t *v, size_t n, size_t stride);
int pg_nomem(void);
int pg_fail(struct pgstore *s, PGconn *pg, const PGresult *r,
    const char *what);
void pg_note_space(struct pgstore *s, int rc);
const char *pg_col_text(const PGresult *r, int row, int col);
char *pg_col_dup(const PGresult *r, int row, int col, int *bad);
int64_t pg_col_i64(const PGresult *r, int row, int col);
int pg_col_record(const PGresult *r, int row, int col, char **out);
int pg_fetch_int(PGresult *r, int64_t *out, const char *what);
int pg_fetch_one(PGresult *r, const struct rowkind *k, void *elem,
    const char *what);
int pg_fetch_all(PGresult *r, const struct rowkind *k, void **out,
    size_t *n);
int pg_seq_page(struct pgstore *s, enum pst_id id, int64_t after_seq,
    size_t limit, const struct rowkind *k, void **out, size_t *n,
    const char *what);

/* pg_conn.c: connections, the pool, reconnecting, messages. */
void pg_mask(const struct pgstore *s, const char *in, char *out,
    size_t len);
int pg_uri_parse(struct pgstore *s);
int pg_conn_ensure(struct pgstore *s, struct pconn *c);
void pg_conn_close(struct pconn *c);
int pg_prepare(struct pgstore *s, struct pconn *c, const struct pstmt *st);
int pg_exec_on(struct pgstore *s, struct pconn *c, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what);
int pg_read(struct pgstore *s, const struct pstmt *st, const struct pgq *q,
    PGresult **out, const char *what);
int pg_pool_take(struct pgstore *s, struct pconn **out);
void pg_pool_give(struct pgstore *s, struct pconn *c);
void pg_pool_close(struct pgstore *s);

/* pg_tx.c: the writer token, transactions, writes. */
int pg_holds(struct pgstore *s);
int pg_doomed(struct pgstore *s);
/* The writer's connection broken inside the holder's transaction: closed,
 * and the transaction gone with it. */
void pg_writer_broken(struct pgstore *s);
/* Read the writer's pipeline up to its sync: the first s->deferred
 * results are the writes not waited for (a failure dooms the
 * transaction), the result after `at` statements goes to *mine (mine not
 * NULL), the first other failure to *bad.  1 when the sync came, 0 when
 * the connection died first. */
int pg_pipe_read(struct pgstore *s, PGconn *pg, size_t at, PGresult **mine,
    PGresult **bad);
/* The results of the writes not waited for, read now (one round trip when
 * there are any); the transaction's doom when one failed. */
int pg_deferred_settle(struct pgstore *s);
/* A write inside the holder's transaction whose result is not waited for
 * (pg_tx.c, "Writes not waited for"); outside one, pg_write. */
int pg_write_deferred(struct pgstore *s, const struct pstmt *st,
    const struct pgq *q, const char *what);
/* Send the level statements deferred (pg_tx.c) into the pipeline open on
 * the writer, counting each in *sent; -1 when the connection refused. */
int pg_pend_send(struct pgstore *s, PGconn *pg, size_t *sent);
/* A read inside the token holder's transaction, on the writer, with the
 * deferred level statements in its round trip. */
int pg_writer_read(struct pgstore *s, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what);
int pg_write_enter(struct pgstore *s, int *own);
int pg_write_run(struct pgstore *s, int own, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what);
void pg_write_leave(struct pgstore *s, int own);
int pg_write(struct pgstore *s, const struct pstmt *st, const struct pgq *q,
    PGresult **out, const char *what);
int pg_tx_end(struct pgstore *s, int commit);
void pg_thread_exit(void *p);
int pg_begin(cs_store *cs);
int pg_commit(cs_store *cs);
int pg_rollback(cs_store *cs);

/* pg_batch.c: many rows of one statement, one savepoint, few round trips.
 * A fill function sets the parameters of row i (q is empty). */
typedef int (*pg_fill_fn)(struct pgstore *s, void *ctx, size_t i,
    struct pgq *q);
int pg_write_batch(struct pgstore *s, const struct pstmt *st, size_t n,
    pg_fill_fn fill, void *ctx, const char *what);
int pg_write_batch_tx(cs_store *cs, const struct pstmt *st, size_t n,
    pg_fill_fn fill, void *ctx, const char *what);

/* pg_status.c: when the status cache may answer, and what a change drops. */
void pg_status_init(struct pgstore *s);
void pg_status_free(struct pgstore *s);
int pg_status_read(struct pgstore *s, struct pgsread *r);
int pg_status_get(struct pgstore *s, const struct pgsread *r, const char *id,
    cs_event ***out, size_t *n);
void pg_status_put(struct pgstore *s, const struct pgsread *r,
    const char *id, cs_event *const *evs, size_t n);
void pg_status_touch(struct pgstore *s, const char *id);
void pg_status_touch_all(struct pgstore *s);
void pg_status_tx_end(struct pgstore *s);

/* pg_numbering.c: the numbers the writer's transaction has locked. */
int pg_num_get(struct pgstore *s, const char *type, const char *issuer_code,
    int64_t *next);
void pg_num_locked(struct pgstore *s, const char *type,
    const char *issuer_code, int64_t next);
void pg_num_stored(struct pgstore *s, const char *type,
    const char *issuer_code, int64_t seq);
void pg_num_forget(struct pgstore *s);

/* pg_schema.c: the schema and its migrations. */
extern const int pg_schema_version;
int pg_migrate(struct pgstore *s, PGconn *pg);

/* pg_licences.c: licences, their status events, bundles. */
int pg_licence_put(cs_store *cs, const cs_licence_row *r);
int pg_licence_get(cs_store *cs, const char *id, cs_licence_row **out);
cs_lcache *pg_licence_cache(cs_store *cs);
int pg_licence_by_ref(cs_store *cs, const char *client,
    const char *approval_ref, cs_licence_row **out);
int pg_licences_by_holder(cs_store *cs, const char *holder_code,
    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
    size_t *n);
int pg_licences_by_client(cs_store *cs, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n);
int pg_licences_by_number(cs_store *cs, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n);
int pg_licence_number_taken(cs_store *cs, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken);
int pg_licences_by_bundle(cs_store *cs, const char *bundle_id,
    cs_licence_row ***out, size_t *n);
int pg_licence_next_seq(cs_store *cs, const char *type,
    const char *issuer_code, int64_t *out);
int pg_licence_count(cs_store *cs, int64_t *out);
/* pg_status.c: what the status list is built from. */
int pg_status_scan(cs_store *cs, cs_status_fn fn, void *ctx);
int pg_status_mark(cs_store *cs, int64_t mark[2]);
int pg_event_append(cs_store *cs, const cs_event *ev);
int pg_events_for(cs_store *cs, const char *licence_id, cs_event ***out,
    size_t *n);
int pg_events_for_many(cs_store *cs, const char *const *ids, size_t n_ids,
    cs_event ***out, size_t **counts, size_t *total);
int pg_bundle_put(cs_store *cs, const cs_bundle_row *b);
/* pg_subs.c: subscriptions, delivery attempts, the sending lease. */
int pg_sub_put(cs_store *cs, const cs_sub_row *row);
int pg_subs_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n);
int pg_subs_import(cs_store *cs, cs_sub_row *const *rows, size_t n);
int pg_sub_attempt_append(cs_store *cs, const cs_sub_attempt *a, size_t n);
int pg_sub_progress(cs_store *cs, int64_t sub, cs_sub_progress *out);
int pg_sub_lease(cs_store *cs, int64_t sub, const char *node,
    int64_t ttl_ms, int *held);

/* pg_changes.c: the change feed's outbox. */
int pg_change_append(cs_store *cs, const cs_change *ch);
int pg_changes_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n);
int pg_changes_import(cs_store *cs, cs_change *const *chs, size_t n);
int pg_copy_put(cs_store *cs, const cs_copy_row *c);
int pg_copy_get(cs_store *cs, const char *id, cs_copy_row **out);
int pg_hact_put(cs_store *cs, const cs_hact_row *r);
int pg_hacts_get(cs_store *cs, const char *key, int64_t n_below,
    size_t limit, cs_hact_row ***out, size_t *n);
int pg_hacts_page(cs_store *cs, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n);
int pg_peer_put(cs_store *cs, const cs_peer_row *p);
int pg_peers_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n);
int pg_copies_page(cs_store *cs, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n);
int pg_bundle_by_ref(cs_store *cs, const char *client,
    const char *approval_ref, cs_bundle_row **out);
int pg_licences_page(cs_store *cs, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n);
int pg_events_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n);
int pg_licences_import(cs_store *cs, cs_licence_row *const *rows, size_t n);
int pg_events_import(cs_store *cs, cs_event *const *evs, size_t n);
int pg_bundles_page(cs_store *cs, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n);

/* pg_clients.c: API clients and their grants. */
int pg_client_add(cs_store *cs, const cs_client *cl);
int pg_client_get(cs_store *cs, const char *name, cs_client **out);
int pg_client_by_token_hash(cs_store *cs, const uint8_t hash[32],
    cs_client **out);
int pg_client_list(cs_store *cs, cs_client ***out, size_t *n);
int pg_client_revoke(cs_store *cs, const char *name, int64_t at);
int pg_grant_add(cs_store *cs, const char *client_name, const cs_grant *g);
int pg_client_import(cs_store *cs, const cs_client *cl);
int pg_client_rotate(cs_store *cs, const char *name, const uint8_t hash[32],
    int64_t at);
int pg_client_tokens_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n);
int pg_client_tokens_import(cs_store *cs, cs_client_token *const *rows,
    size_t n);

/* pg_audit.c: the audit trail. */
int pg_audit_append(cs_store *cs, const cs_audit_rec *a);
int pg_audit_append_many(cs_store *cs, const cs_audit_rec *const *recs,
    size_t n);
int pg_audit_query(cs_store *cs, const cs_audit_filter *f,
    cs_audit_rec ***out, size_t *n);
int pg_audit_import(cs_store *cs, cs_audit_rec *const *recs, size_t n);
int pg_import_done(cs_store *cs);

/* pg_maint.c: ping, backup. */
int pg_ping(cs_store *cs);
int pg_backup(cs_store *cs, const char *path);

#endif
