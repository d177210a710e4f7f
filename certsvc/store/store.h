/*
 * store: where licences, status events, clients, bundles and the audit log
 * live (SPEC §7).  Everything above the store reaches it through the
 * cs_store_* functions below, never a backend's own: a backend
 * (store_backend.h: SQLite, store_sqlite.c, or PostgreSQL, store_pg.c) is
 * chosen once, by cs_store_open(), so a server database replaces the
 * embedded one without touching domain code.
 *
 * Everything is append-only: licences, status events, copies, audit records,
 * clients, client revocations and grants are inserted, never updated or
 * deleted; a client's state (revoked, its grants) is derived when read.
 *
 * Threads: a store handle is shared by every thread of a process.  Writes
 * happen inside begin()/commit() (or rollback()), which take the single
 * writer and hold it until commit or rollback; every call made by that
 * thread in between sees the transaction's own writes (and those of
 * concurrent transactions whose commit() is still waiting for the disk).
 * Reads outside a transaction run concurrently on per-thread connections
 * and see only what is on disk.  A write call outside a transaction is its
 * own transaction.
 *
 * Nesting: begin() inside a transaction opens a nested level; its commit()
 * ends the level (nothing is durable before the outermost commit()), its
 * rollback() undoes that level only.  After a failed commit() the level is
 * over, and a rollback() that follows it is a no-op.
 *
 * Writes whose failure may come late: inside a transaction,
 * cs_store_audit_append and cs_store_change_append may return 0 before the
 * backend knows whether the row was stored, and report a failure late:
 * at a later call of the same transaction (which fails, whatever it was)
 * or at the outermost commit().  Such a failure dooms the whole
 * transaction, at whatever level the write was made: every call after it
 * fails, a nested rollback() does not clear it, and the outermost
 * commit() fails and rolls back, so nothing of the transaction is stored
 * without the audit records and change events appended in it.  Neither
 * row has a key its caller can hit: only a broken store or server
 * refuses one (CS_ECONFLICT of a change's event_id included).  A backend
 * may report at the call instead (SQLite does, and PostgreSQL outside a
 * transaction): that call fails alone, as any write, and the caller rolls
 * back.  Either way a commit() that returns 0 stored every one of these
 * appends that returned 0 in it (and not in a level rolled back).
 * PostgreSQL reads their results in the round trip of the next
 * statement that waits, or the COMMIT's (docs/design.md, "The PostgreSQL
 * backend").
 *
 * Durability: the outermost commit() returns only once the transaction is
 * on disk (SQLite WAL with synchronous=FULL; PostgreSQL: once the server
 * confirmed the COMMIT, with synchronous_commit as it has it).  On SQLite,
 * commits of concurrent threads share one disk sync (group commit,
 * store_sqlite.c); a failure of that sync fails each of them, so no
 * commit() ever returns 0 for writes that are not on disk.  rollback() of
 * a transaction that saw such waiting writes waits for them too and
 * returns their outcome.  On PostgreSQL a commit whose outcome is unknown
 * (the connection lost during the COMMIT) is CS_EUNAVAIL, never 0.
 *
 * Ownership: every *out struct or array is allocated by the store and freed
 * by the matching cs_*_free function; every const char * argument is
 * borrowed for the call only.
 */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <stddef.h>
#include <stdint.h>

/* One licence as stored: the immutable record plus the columns it is found
 * by.  record is the JSON text of the SPEC §1 object without the derived
 * "status" (and without "related" for bundles, which are found by bundle). */
#define CS_ROW_NOTE_WORDS 10
typedef struct cs_licence_row {
	char *id;
	char *type;
	char *issuer_code;
	int64_t seq;          /* numbering sequence per (type, issuer_code) */
	char *holder_code;
	char *number;
	char *client;         /* name of the issuing client */
	char *approval_ref;   /* NULL for a bundle member: the bundle holds it */
	char *request_hash;   /* hex SHA-256 of the canonical request */
	char *bundle;         /* NULL when none */
	char *supersedes;     /* NULL when none */
	int64_t issued_at;    /* Unix seconds */
	char *record;         /* JSON text */
	/* What a reader learnt from record, kept with the cached row
	 * (cs_store_licence_note): all 0 until then.  Never in the
	 * database: the store only copies it with the row. */
	uint32_t note[CS_ROW_NOTE_WORDS];
} cs_licence_row;

/* A status event.  action: "suspend", "reinstate", "revoke", "supersede".
 * kind (revoke only): "revoked", "withdrawn", "cancelled".  ref: for
 * "supersede", the id of the new licence. */
typedef struct cs_event {
	int64_t seq;          /* assigned by the store; ordering of events */
	char *licence_id;
	int64_t at;           /* Unix seconds */
	char *actor;          /* client name */
	char *action;
	char *kind;           /* NULL unless revoke */
	char *reason;         /* may be NULL */
	char *ref;            /* may be NULL */
} cs_event;

typedef struct cs_grant {
	char *types;          /* comma-separated type codes, or "*" */
	char *issuer_code;    /* NULL for readers */
	char *issuer_name;
} cs_grant;

typedef struct cs_client {
	int64_t id;
	char *name;
	char *role;           /* "issuer" | "reader" | "admin" */
	uint8_t token_hash[32];  /* SHA-256 of the token it was created with */
	int64_t created_at;
	int64_t revoked_at;   /* 0 while active */
	/* The token that authenticates it now: token_hash until its first
	 * rotation, then its latest client_tokens row's (cs_client_token). */
	uint8_t current_hash[32];
	int64_t rotated_at;   /* that row's time; 0: never rotated */
	cs_grant *grants;     /* in the order granted */
	size_t n_grants;
} cs_client;

/* A client's token rotation (certsvc client rotate): one append-only row
 * each.  The row that no later row of the client supersedes holds the
 * client's token; every older token, and the one it was created with, no
 * longer authenticates.  supersedes is the seq of the row it replaces, 0
 * for the client's first rotation: (client, supersedes) is unique, so of
 * two rotations racing from the same state one fails (CS_ECONFLICT). */
typedef struct cs_client_token {
	int64_t seq;          /* assigned by the store; kept by an import */
	char *client;         /* the client's name */
	uint8_t token_hash[32];
	int64_t at;           /* Unix seconds */
	int64_t supersedes;
} cs_client_token;

typedef struct cs_bundle_row {
	char *id;
	char *client;
	char *approval_ref;
	char *request_hash;
	int64_t created_at;
} cs_bundle_row;

typedef struct cs_audit_rec {
	int64_t seq;          /* assigned by the store */
	int64_t at_ms;        /* Unix milliseconds */
	char *client;         /* NULL for anonymous (public verify) */
	char *action;         /* "issue", "read", "holder_lookup", "suspend", ... */
	char *target;         /* licence id, holder code, bundle id */
	char *holder;         /* holder code concerned, when known */
	char *purpose;        /* X-Purpose */
	char *service_item;   /* X-Service-Item */
	char *case_ref;       /* X-Case-Ref */
	int64_t result_count;
	char *remote;         /* remote address */
	char *request_id;
	char *result;         /* NULL: done; "denied": refused (403) */
} cs_audit_rec;

/* An annotated copy (加注件, SPEC §12): who made it of which licence, for
 * what and until when.  Its PDF is drawn from this and the licence on
 * each download; the row is the record. */
typedef struct cs_copy_row {
	char *id;             /* the copy id */
	char *licence_id;
	char *client;         /* the client that made it */
	char *purpose;
	char *used_by_name;   /* NULL when not given */
	char *used_by_code;   /* NULL when not given */
	int64_t created_at;   /* Unix seconds */
	int64_t expires_at;   /* Unix seconds: the end of its last day */
} cs_copy_row;
/* A holder act (SPEC §10): one append-only row of the holder-in-the-loop
 * record, keyed (key, n).  key names what the row belongs to (a
 * presentation, a use authorisation, a holder's delegations to one
 * agent, a holder's usage record: domain holder_acts.h makes the keys);
 * n orders that key's rows, and a row's (key, n) is unique: a use
 * numbered n of an authorisation can be taken once, by one node.  body
 * is the act's JSON text. */
typedef struct cs_hact_row {
	char *key;
	int64_t n;
	char *kind;           /* "presentation", "use", "withdrawn", ... */
	char *holder;         /* the holder code */
	int64_t at;           /* Unix seconds */
	char *body;           /* JSON text, beginning with '{' */
} cs_hact_row;
/* A peer library (SPEC §11), one row each time an admin adds, updates or
 * removes it: the current peers are the latest row of each name whose
 * trust list is not NULL.  Append-only like every record here. */
typedef struct cs_peer_row {
	int64_t seq;          /* on put: 0, the store numbers it; else kept */
	char *name;
	char *trust_list;     /* its JWK Set (JSON text); NULL: removed */
	char *status_list;    /* its status list, base64url; NULL: none */
	char *actor;          /* who did it */
	int64_t at;           /* Unix seconds */
} cs_peer_row;
/* A change event (SPEC §9), the outbox row of the change feed: one per
 * issuance (each bundle member), amendment, suspension, reinstatement and
 * revocation, appended in the change's own transaction.  Not a status
 * event (cs_event): those are the licence's history, these what readers
 * and (later) subscribers are told.  body is the JSON text of the event
 * without "seq" (the store numbers it), beginning with '{'. */
typedef struct cs_change {
	int64_t seq;          /* assigned by the store: the feed's order */
	char *event_id;       /* unique */
	char *type;           /* "licence.issued", "licence.amended", ... */
	char *licence_type;   /* the licence's type code: grants filter on it */
	char *licence_id;
	int64_t at;           /* Unix seconds */
	char *body;           /* JSON text */
} cs_change;

/* A subscription row (SPEC §9).  Append-only: a subscription is its
 * creation row (removed 0); its removal is a later row of the same name
 * with removed 1 (url, types, events and secret NULL).  A subscription's
 * id is the seq of its creation row, so a name created again after a
 * removal is a new subscription with no delivery history. */
typedef struct cs_sub_row {
	int64_t seq;          /* assigned by the store */
	char *name;
	char *url;
	char *types;          /* "*" or comma-separated licence type codes */
	char *events;         /* "*" or comma-separated event types */
	char *secret;         /* "whsec_" + base64; never logged or shown twice */
	int64_t after_seq;    /* assigned on creation: the feed's last seq then;
	                       * it is sent the events after it */
	int64_t at;           /* Unix seconds */
	int removed;
} cs_sub_row;

/* One attempt to deliver an event to a subscription, appended once its
 * outcome is known: the sender's durable progress (docs/design.md
 * "Delivery"). */
typedef struct cs_sub_attempt {
	int64_t seq;          /* assigned by the store */
	int64_t sub;          /* the subscription's id (cs_sub_row.seq) */
	int64_t event_seq;    /* the change event's seq */
	int64_t at_ms;        /* Unix milliseconds */
	int64_t status;       /* the receiver's HTTP status, 0 when none */
	char *result;         /* "delivered", or why not: "http_status",
	                       * "timeout", "connect", "error" */
} cs_sub_attempt;

/* Where a subscription's deliveries stand, read back from its attempts. */
typedef struct cs_sub_progress {
	int64_t delivered;    /* the largest event seq delivered, 0: none */
	int64_t head_attempts; /* failed attempts at events after it */
	int64_t head_first_ms; /* the first of those (Unix ms), 0: none */
	cs_sub_attempt last;  /* the latest attempt; last.seq 0 when none;
	                       * last.result owned (cs_sub_progress_clear) */
} cs_sub_progress;

typedef struct cs_audit_filter {
	const char *client, *action, *holder, *target;  /* NULL = any */
	const char *result;          /* "ok" (done), "denied", NULL = any */
	int64_t since_ms, until_ms;  /* 0 = open */
	int64_t after_seq;           /* paging: records with seq > after_seq */
	int64_t before_seq;          /* > 0: newest first instead, records
	                              * with seq < before_seq (after_seq is
	                              * ignored): the holder's record pages
	                              * back from its newest use */
	int limit;                   /* <= 0: 100; capped at 1000 */
} cs_audit_filter;

/* A store: opaque outside the backends (store_backend.h). */
typedef struct cs_store cs_store;

/*
 * Open (creating and migrating) the store db names, the --db setting:
 * a postgresql:// or postgres:// URI names a PostgreSQL database
 * (store_pg.c; CS_EUNAVAIL when it does not answer, the message naming
 * the host, never the password); anything else is the path of a SQLite
 * file (store_sqlite.c).  commit_window_ms: how long, at most, a SQLite
 * group commit waits for the writers queued behind it to join
 * (audit_flush_ms; 0: never waits); the PostgreSQL backend ignores it
 * (no group commit of its own: the service groups issuances above the
 * store, tx_queue.h).
 */
int cs_store_open(const char *db, long commit_window_ms, cs_store **out);
/* Flush and close; the handle is freed.  NULL is a no-op. */
void cs_store_close(cs_store *s);

/* Transactions: the begin(), commit() and rollback() of "Threads",
 * "Nesting" and "Durability" above. */
int cs_store_begin(cs_store *s);
int cs_store_commit(cs_store *s);
int cs_store_rollback(cs_store *s);

/* CS_ECONFLICT when the id, or (client, approval_ref), exists, or when
 * another licence of the row's type and issuer carries its number
 * (cs_store_licence_number_taken): the database refuses the number. */
int cs_store_licence_put(cs_store *s, const cs_licence_row *row);
/* CS_ENOTFOUND when absent. */
int cs_store_licence_get(cs_store *s, const char *id, cs_licence_row **out);
int cs_store_licence_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_licence_row **out);
/*
 * Keep row->note with the cached copy of the committed row row->id, so
 * that the next read of that row from the cache carries it; nothing when
 * the row is not cached (or the backend has no cache).  A row never
 * changes, so neither does what its record says: the note is the
 * reader's to fill, and to check (licence_view.c).
 */
void cs_store_licence_note(cs_store *s, const cs_licence_row *row);
/* A page of a holder's licences, newest first; type NULL = all types.
 * At most limit rows from position *pos on (0: the newest); on return
 * *pos is where the next page starts, 0 when no licence follows.  A
 * position is the store's own (opaque) number: CS_EINVAL when *pos is not
 * one of this holder's.  The work is the page's, not the holder's.  *out
 * may be NULL when n is 0. */
int cs_store_licences_by_holder(cs_store *s, const char *holder_code,
    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
    size_t *n);
/* The licences carrying number whose holder code is holder_code: for each
 * licence (its versions count as one), the newest version that carries
 * the number; by id.  More than one only when licences of other types or
 * issuers, or a database from before numbers were unique, share the
 * number.  Indexed: the holder's other licences are not read. */
int cs_store_licences_by_number(cs_store *s, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n);
/*
 * An issuer's own licences, for reconciling with its approval system
 * (GET /api/v1/certificates): those client issued, oldest first by
 * (issued_at, id).  approval_ref NULL: any (a bundle's members match their
 * bundle's approval_ref); issued_at in [from, until), 0 for open ends;
 * with after_id, only rows after (after_at, after_id): the keyset of the
 * previous page's last row.  At most limit rows.  Indexed on (client,
 * issued_at, id).
 */
typedef struct cs_licence_filter {
	const char *client;
	const char *approval_ref;
	int64_t from, until;
	int64_t after_at;
	const char *after_id;
	size_t limit;
} cs_licence_filter;
int cs_store_licences_by_client(cs_store *s, const cs_licence_filter *f,
    cs_licence_row ***out, size_t *n);
int cs_store_licences_by_bundle(cs_store *s, const char *bundle_id,
    cs_licence_row ***out, size_t *n);
/* 1 + the largest seq stored for (type, issuer_code). */
int cs_store_licence_next_seq(cs_store *s, const char *type,
    const char *issuer_code, int64_t *out);
/* *taken = 1 when a licence of (type, issuer_code) other than the one of
 * serial (whose versions may keep their number) carries number.  A number
 * is unique per type and issuer (SPEC §1). */
int cs_store_licence_number_taken(cs_store *s, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken);
int cs_store_licence_count(cs_store *s, int64_t *out);

/* ev->seq is ignored and assigned. */
int cs_store_event_append(cs_store *s, const cs_event *ev);
/* Oldest first. */
int cs_store_events_for(cs_store *s, const char *licence_id, cs_event ***out,
    size_t *n);
/*
 * The events of each of the n_ids licences ids, as n_ids calls of
 * cs_store_events_for would read them: *out holds ids[0]'s events
 * (counts[0] of them, oldest first), then ids[1]'s, and so on, *total in
 * all (cs_events_free(*out, *total); *out NULL when there are none);
 * *counts has n_ids elements, for the caller to free().  What a holder's
 * page reads: on PostgreSQL one statement answers for every licence the
 * status cache does not, where each call is a round trip.
 */
int cs_store_events_for_many(cs_store *s, const char *const *ids,
    size_t n_ids, cs_event ***out, size_t **counts, size_t *total);

/*
 * Append a change event in the caller's transaction (or as its own);
 * ch->seq is ignored and assigned.  The seq order is the commit order,
 * across threads and (PostgreSQL) nodes: a reader that has seen seq N
 * never later finds a new event below N.  SQLite has one writer; on
 * PostgreSQL the append takes the transaction-scoped numbering lock
 * first, so the transactions that append events commit one at a time
 * (docs/design.md "Events").  CS_ECONFLICT when the event_id exists.
 * Inside a transaction its failure may come late ("Writes whose failure
 * may come late" above), and its lock may be taken then.
 */
int cs_store_change_append(cs_store *s, const cs_change *ch);
/* Change events whose seq is greater than after_seq, by seq, at most
 * limit: the feed, and the page certsvc copy reads. */
int cs_store_changes_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_change ***out, size_t *n);
/*
 * Waiting for the feed (long polls): a counter this process bumps each
 * time one of its transactions that appended change events commits (the
 * outermost commit).  cs_store_changes_wait returns the counter once it
 * differs from seen or timeout_ms has passed, whichever comes first.  It
 * knows nothing of other processes or nodes: a waiter polls the store
 * too.  Process-wide (every store handle of the process shares it).
 */
uint64_t cs_store_changes_wait(uint64_t seen, long timeout_ms);

/*
 * Subscriptions (SPEC §9).  cs_store_sub_put appends row (its seq is
 * assigned; on a creation row so is after_seq, the feed's last seq at
 * that moment); cs_store_subs_page reads every row by seq (the domain
 * folds them into the subscriptions in force).  cs_store_subs_import
 * keeps each row's seq and after_seq (certsvc copy).
 */
int cs_store_sub_put(cs_store *s, const cs_sub_row *row);
int cs_store_subs_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_sub_row ***out, size_t *n);
int cs_store_subs_import(cs_store *s, cs_sub_row *const *rows, size_t n);
/* Append the n delivery attempts a[0..n) (each seq ignored and
 * assigned), all or none: the sender's records of a turn in one go. */
int cs_store_sub_attempt_append(cs_store *s, const cs_sub_attempt *a,
    size_t n);
/* Subscription sub's progress: one cheap indexed read. */
int cs_store_sub_progress(cs_store *s, int64_t sub, cs_sub_progress *out);
/*
 * The sending lease of subscription sub (§8: one node at a time): *held
 * is 1 when node (a process's own random name) holds it now, taken or
 * renewed for ttl_ms from the database's clock, 0 when another node
 * holds an unexpired one.  SQLite: always held (one process writes the
 * file).  The lease is a mutable row, not history: it is no record.
 */
int cs_store_sub_lease(cs_store *s, int64_t sub, const char *node,
    int64_t ttl_ms, int *held);

/* CS_ECONFLICT when (client, approval_ref) or the id exists. */
int cs_store_bundle_put(cs_store *s, const cs_bundle_row *b);
int cs_store_bundle_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_bundle_row **out);

/* CS_ECONFLICT when the name exists.  grants are ignored. */
int cs_store_client_add(cs_store *s, const cs_client *c);
/* With its grants.  CS_ENOTFOUND when absent (revoked ones included). */
int cs_store_client_get(cs_store *s, const char *name, cs_client **out);
/* Constant-time comparison of the stored hash; CS_ENOTFOUND when no
 * active client holds it. */
int cs_store_client_by_token_hash(cs_store *s, const uint8_t hash[32],
    cs_client **out);
int cs_store_client_list(cs_store *s, cs_client ***out, size_t *n);
/* CS_ENOTFOUND when absent or already revoked. */
int cs_store_client_revoke(cs_store *s, const char *name, int64_t at);
/* Append a rotation of client name to hash (a cs_client_token row
 * superseding its latest): from then on hash, and only hash,
 * authenticates it.  CS_ENOTFOUND when no active client has the name,
 * CS_ECONFLICT when the hash is taken or a concurrent rotation of the
 * client committed first. */
int cs_store_client_rotate(cs_store *s, const char *name,
    const uint8_t hash[32], int64_t at);
/* Rotations whose seq is greater than after_seq, by seq, at most limit
 * (certsvc copy); and the n rows kept as they are (seq, supersedes) in
 * the caller's transaction: CS_ENOTFOUND when a row's client is absent,
 * CS_ECONFLICT when its seq, hash or (client, supersedes) is taken. */
int cs_store_client_tokens_page(cs_store *s, int64_t after_seq,
    size_t limit, cs_client_token ***out, size_t *n);
int cs_store_client_tokens_import(cs_store *s, cs_client_token *const *rows,
    size_t n);
int cs_store_grant_add(cs_store *s, const char *client_name,
    const cs_grant *g);

/* CS_ECONFLICT when the id exists. */
int cs_store_copy_put(cs_store *s, const cs_copy_row *c);
/* CS_ENOTFOUND when absent. */
int cs_store_copy_get(cs_store *s, const char *id, cs_copy_row **out);
/* CS_ECONFLICT when (key, n) is taken. */
int cs_store_hact_put(cs_store *s, const cs_hact_row *r);
/* The rows of key whose n is below n_below, greatest n first, at most
 * limit. */
int cs_store_hacts_get(cs_store *s, const char *key, int64_t n_below,
    size_t limit, cs_hact_row ***out, size_t *n);
/* Append a peer row (cs_peer_row: seq 0 numbered by the store, else kept,
 * as certsvc copy does; a seq already there is CS_ECONFLICT), and the rows
 * after after_seq in seq order, at most limit. */
int cs_store_peer_put(cs_store *s, const cs_peer_row *p);
int cs_store_peers_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_peer_row ***out, size_t *n);
/* rec->seq is ignored and assigned.  Inside a transaction its failure may
 * come late ("Writes whose failure may come late" above). */
int cs_store_audit_append(cs_store *s, const cs_audit_rec *rec);
/*
 * The n records as n calls of cs_store_audit_append would write them, in
 * order, inside the caller's transaction (or as a transaction of its own
 * outside one): all of them, or on failure none (the transaction is as
 * before the call).  What
 * the read audit writer commits as a group (audit_queue.c): on PostgreSQL
 * one round trip and one savepoint carry the group, where each append
 * takes its own.  The records are borrowed.
 */
int cs_store_audit_append_many(cs_store *s, const cs_audit_rec *const *recs,
    size_t n);
/* Oldest first, at most filter->limit records. */
int cs_store_audit_query(cs_store *s, const cs_audit_filter *f,
    cs_audit_rec ***out, size_t *n);

/*
 * Copying a library between stores (certsvc copy, domain copy.h): every
 * table read in pages in an order that does not change as rows are added,
 * and rows written keeping the numbers the source gave them.  An import
 * checks every constraint an ordinary write does (CS_ECONFLICT when the
 * number or a key is taken) and fires the same triggers.
 */
/* Licences in the order stored, after the one at position *pos (0: from
 * the first); *pos is then the position of the page's last row.  A page
 * shorter than limit is the last.  Positions are the store's own. */
int cs_store_licences_page(cs_store *s, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n);
/* Status events whose seq is greater than after_seq, by seq. */
int cs_store_events_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n);
/* Bundles whose id sorts (bytewise) after after_id (NULL: from the
 * first), by id. */
int cs_store_bundles_page(cs_store *s, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n);
/* Annotated copies whose id sorts (bytewise) after after_id (NULL: from
 * the first), by id. */
int cs_store_copies_page(cs_store *s, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n);
/* Holder acts after (after_key, after_n) (after_key NULL: from the
 * first), by key (bytewise) and n. */
int cs_store_hacts_page(cs_store *s, const char *after_key, int64_t after_n,
    size_t limit, cs_hact_row ***out, size_t *n);
/*
 * The n rows as cs_store_licence_put, cs_store_event_append (keeping each
 * seq), cs_store_audit_append and cs_store_change_append (keeping each
 * seq) would write them, in
 * order, inside the caller's transaction (CS_EINVAL outside one): all of
 * them, or on failure none (the transaction is as before the call).  On
 * PostgreSQL a round trip carries many rows, where each of those calls
 * takes one.  The failure's message names the key, not the row.
 */
int cs_store_licences_import(cs_store *s, cs_licence_row *const *rows,
    size_t n);
int cs_store_events_import(cs_store *s, cs_event *const *evs, size_t n);
int cs_store_audit_import(cs_store *s, cs_audit_rec *const *recs, size_t n);
int cs_store_changes_import(cs_store *s, cs_change *const *chs, size_t n);
/* cs_store_client_add keeping c->id (grants and revocation are added by
 * their own calls, as for any client). */
int cs_store_client_import(cs_store *s, const cs_client *c);
/* After imports, in their transaction: the numbers the store hands out
 * next (status and change event and audit seqs, client ids, grant seqs) come after every
 * number stored, and what the backend derives from the rows (SQLite's
 * audit keys) is brought up to date.  Licence serials need nothing: they
 * are derived from the licences themselves. */
int cs_store_import_done(cs_store *s);

/*
 * The status list (SPEC §11) is built from every licence's type, issuer,
 * serial and latest status event: cs_store_status_scan calls fn with each
 * licence, in no particular order, its strings borrowed for the call
 * only.  fn returning non-zero stops the scan, which returns that value.
 * action is the action of the licence's latest status event, NULL when
 * it has none: the lifecycle (licence.c) lets nothing follow a revocation
 * or a supersession, so the latest event decides the lifecycle state as
 * a replay of them all would.  SQLite reads one snapshot; PostgreSQL
 * reads pages of licences in the order stored (a licence committed during
 * the scan may or may not be in it: the next build has it).
 */
typedef struct cs_status_row {
	const char *id;
	const char *type;
	const char *issuer_code;
	int64_t seq;           /* the licence's numbering sequence */
	const char *action;    /* latest status event's action, or NULL */
} cs_status_row;
typedef int (*cs_status_fn)(void *ctx, const cs_status_row *row);
int cs_store_status_scan(cs_store *s, cs_status_fn fn, void *ctx);
/*
 * Two numbers that, read together, differ from any earlier reading once a
 * licence or a status event has been committed since (by any process or
 * node): what a server compares every few seconds to learn that its
 * status list is out of date.  Cheap: no scan of the licences.  Their
 * values mean nothing else (not counts).
 */
int cs_store_status_mark(cs_store *s, int64_t mark[2]);

/* Cheap liveness check of the database: CS_EFULL while writes find its
 * disk full (SQLite: the last write did and little room is left;
 * PostgreSQL: this node's last write did, within 5 s, and none has
 * committed since), another code when it does not answer. */
int cs_store_ping(cs_store *s);
/* The backend's name: "sqlite" or "postgresql". */
const char *cs_store_backend(const cs_store *s);
/* Online, consistent copy to a new file.  CS_EUNSUPPORTED on PostgreSQL,
 * whose message names the tool to use instead (pg_dump). */
int cs_store_backup(cs_store *s, const char *path);

/*
 * A licence row the store hands out is one allocation: the row, then its
 * strings packed behind it (strpack.h).  cs_licence_row_size is the bytes
 * that takes for r, cs_licence_row_pack copies r so into at (that many
 * bytes, aligned for a row) and returns the copy, cs_licence_row_copy into
 * a new allocation (NULL when out of memory).
 */
size_t cs_licence_row_size(const cs_licence_row *r);
cs_licence_row *cs_licence_row_pack(const cs_licence_row *r, void *at);
cs_licence_row *cs_licence_row_copy(const cs_licence_row *r);
void cs_licence_row_free(cs_licence_row *r);
void cs_licence_rows_free(cs_licence_row **rows, size_t n);
void cs_event_free(cs_event *e);
void cs_sub_row_free(cs_sub_row *r);
void cs_sub_rows_free(cs_sub_row **rows, size_t n);
void cs_sub_progress_clear(cs_sub_progress *p);
void cs_events_free(cs_event **evs, size_t n);
/* A deep copy of e, NULL when out of memory. */
cs_event *cs_event_dup(const cs_event *e);
void cs_change_free(cs_change *c);
void cs_changes_free(cs_change **cs, size_t n);
void cs_client_free(cs_client *c);
/* A deep copy of c (its grants too), NULL when out of memory. */
cs_client *cs_client_dup(const cs_client *c);
void cs_clients_free(cs_client **cs, size_t n);
void cs_client_tokens_free(cs_client_token **ts, size_t n);
void cs_bundle_row_free(cs_bundle_row *b);
void cs_bundle_rows_free(cs_bundle_row **bs, size_t n);
void cs_copy_row_free(cs_copy_row *c);
void cs_copy_rows_free(cs_copy_row **cs, size_t n);
void cs_hact_row_free(cs_hact_row *r);
void cs_hact_rows_free(cs_hact_row **rs, size_t n);
void cs_peer_row_free(cs_peer_row *p);
void cs_peer_rows_free(cs_peer_row **ps, size_t n);
void cs_audit_rec_free(cs_audit_rec *r);
void cs_audit_recs_free(cs_audit_rec **rs, size_t n);

#endif
