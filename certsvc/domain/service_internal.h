/*
 * service_internal: what the files behind service.h share (service.c,
 * issue.c, licence.c, verify.c).  Not for the HTTP layer or the CLI.
 */
#ifndef CS_SERVICE_INTERNAL_H
#define CS_SERVICE_INTERNAL_H

/* Private to certsvc/domain: its library is built with CS_LAYER_DOMAIN;
 * anyone else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_DOMAIN
#error "service_internal.h is private to certsvc/domain: include service.h"
#endif

#include <stdatomic.h>

#include "service.h"

#include <pthread.h>
#include <stdatomic.h>

struct cs_service {
	cs_config cfg;        /* a copy */
	cs_store *store;      /* owned */
	cs_catalog *_Atomic catalog;  /* owned; a reload (SIGHUP) replaces it */
	cs_catalog **old_catalogs;    /* owned: the ones replaced, kept until
				       * close (a request may still hold one
				       * of their types) */
	size_t n_old_catalogs;
	cs_keyring *keys;     /* owned; under keys_lock (service_keys.c);
			       * NULL while a token cannot be opened */
	pthread_rwlock_t keys_lock;
	int keys_lock_made;          /* 1 once keys_lock is initialised */
	atomic_int keys_broken;      /* 1: the token stopped signing */
	_Atomic int64_t keys_retry_ms; /* when it was last opened (mono) */
	struct cs_audit_queue *reads_audit;  /* owned; NULL: reads commit their own */
	struct cs_tx_queue *issue_writer;    /* owned; NULL: issuances commit their own */
	struct cs_client_cache *clients;     /* owned: authenticated tokens */
	struct cs_status_cache *status_list; /* owned; NULL until first used */
	atomic_ulong verify_fast;  /* verifications answered by the fast path */
	struct cs_peer_cache *peers;         /* owned: peer libraries (peers.c) */
	struct cs_sender *sender;            /* owned; NULL unless serve started it */
};

/* Keys (service_keys.c).  The key directory or token of cfg, with the
 * certificates of its signing keys (cs_service_open, the reloads). */
int cs_service_keys_load(const cs_config *cfg, int need_signing_key,
    cs_keyring **out);
/* The signing key, held (cs_service_keys_hold) until cs_service_signed;
 * CS_EUNAVAIL (503) when there is none that signs now (a token gone), and
 * then nothing is held.  A token that failed is first opened again, at
 * most once a second. */
int cs_service_signer(cs_service *svc, const cs_key **out);
/* After signing with key from cs_service_signer: releases it and returns
 * rc, turned into CS_EUNAVAIL when the token refused (the token is then
 * marked to be opened again). */
int cs_service_signed(cs_service *svc, const cs_key *key, int rc);

/* The peer libraries (SPEC §11; peers.c) as the verifiers use them: a
 * set shared by reference, read again from the store when PEERS_TTL old
 * or after a local change. */
struct cs_status_list;
struct cs_peer {
	char *name;                   /* its library name */
	cs_keyring *keys;             /* public keys only: they never sign */
	struct cs_status_list *list;  /* NULL: none imported */
	char *list_b64;
	int64_t seq, at;              /* its row */
};
struct cs_peer_set {
	int refs;
	struct cs_peer *p;
	size_t n;
};
struct cs_peer_cache *cs_peer_cache_new(void);
void cs_peer_cache_free(struct cs_peer_cache *c);
/* The peers as last read, without reading them (0 before any read). */
size_t cs_peer_cache_count(struct cs_peer_cache *c);
/* *out: a reference, given back with cs_peers_put. */
int cs_peers_get(cs_service *svc, struct cs_peer_set **out);
void cs_peers_put(struct cs_peer_set *s);
/* The peer holding the key of this kid, NULL when none does. */
const struct cs_peer *cs_peers_find(const struct cs_peer_set *s,
    const uint8_t *kid, size_t len);
/* A peer's status list as the answers show it ({"issued_at",
 * "expires_at", "age_seconds", "stale"}), null for none. */
json_t *cs_peer_list_view(const struct cs_status_list *l);

/* The status list's cache and its thread (status_cache.c), for
 * cs_service_close. */
void cs_status_cache_free(struct cs_status_cache *c);
/* Its figures into out (nothing when c is NULL: no list asked for yet). */
void cs_status_cache_stats(struct cs_status_cache *c, cs_service_stats *out);
/* The sender's thread stopped and freed (sender.c); NULL is a no-op. */
void cs_sender_free(struct cs_sender *s);

/* Role and grant questions. */
int cs_grant_has_type(const cs_grant *g, const char *type);
/* 1 when the client may read licences of this type and issuer. */
int cs_may_read(const cs_client *c, const char *type, const char *issuer_code);
/* 0 when the client is an issuer; CS_EFORBIDDEN "only an issuer client may
 * <what>" otherwise.  Asked before a request body is read: a caller that
 * may not act at all learns that, not what is wrong with its body. */
int cs_require_issuer(const cs_client *c, const char *what);
/* May who do action ("read", or a change: "suspend", "reinstate",
 * "revoke", "amend") to licence id?  Decided on the identifier alone,
 * which names the licence's type and issuing authority (SPEC §2a), before
 * anything is looked up: a client without the grant gets the same 403
 * (CS_EFORBIDDEN) whether the licence exists or not, so the sequential
 * serials cannot be counted by probing.  A malformed id is CS_EINVAL
 * (400) first.  A refusal is audited (cs_audit_denied). */
int cs_authorize_id(cs_service *svc, const cs_actor *who, const char *id,
    const char *action);
/* The client's issuer grant for (type, issuer_code); issuer_code NULL picks
 * the only one.  CS_EFORBIDDEN when none, CS_EVALIDATION (problem on
 * "issuer.code") when several fit and none was named. */
int cs_issuer_grant(const cs_client *c, const char *type, const char *issuer_code,
    const cs_grant **out, cs_problems *p, const char *prefix);

/* Append an audit record in the caller's transaction (or its own); failures
 * are returned. */
/* A new bearer token ("cs_" and 256 random bits, base64url) in
 * *token_out (cs_client_token_clear), its SHA-256 in hash: what the store
 * keeps. */
int cs_client_token_new(char **token_out, uint8_t hash[32]);
int cs_audit(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder, const cs_purpose *why,
    int64_t count);
/* The same for a read, outside any transaction: queued for the read audit
 * writer when one runs (cs_service_start_writers).  Failures are
 * returned: an unaudited read must not be served. */
int cs_audit_read(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder, const cs_purpose *why,
    int64_t count);

/* Return once every record cs_audit_read has queued so far is committed
 * (at once without a read audit writer): what reads the log sees every
 * read already answered, and a record appended after it comes after
 * them in the log's order. */
int cs_audit_settle(cs_service *svc);

/* A refused attempt (403): who was denied action on target.  Audited like
 * a read, through the read audit writer when one runs, so a refusal costs
 * the audit log no more than a read does; the record's result is
 * "denied".  Returns CS_EFORBIDDEN with the refusal's message (the one in
 * cs_err_msg() on entry), or the audit's failure: a refusal that could not
 * be recorded is not answered as one. */
int cs_audit_denied(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder);

/* The status of a licence from its stored record and events at now:
 * "valid", "not_yet_valid", "expired", "suspended", "revoked",
 * "superseded".  *detail_out (optional, borrowed from evs) is the deciding
 * event or NULL. */
const char *cs_status_of(const json_t *record, cs_event **evs, size_t n,
    time_t now, long tz_min, const cs_event **detail_out);

/* The full SPEC §1 object from a stored row (adds status, related,
 * qr_text). */
int cs_licence_view(cs_service *svc, const cs_licence_row *row, time_t now,
    json_t **out, const char **status_out);
/* The same from a parsed record (borrowed), its events and the ids of its
 * bundle partners (borrowed, NULL when none); NULL when out of memory. */
json_t *cs_record_view(cs_service *svc, const json_t *record, cs_event **evs,
    size_t n, const json_t *related, time_t now, const char **status_out);
/* cs_licence_view's object as JSON text (*out malloc'd): the bytes
 * json_dumps(JSON_COMPACT) makes of it, without building it. */
int cs_licence_view_text(cs_service *svc, const cs_licence_row *row,
    time_t now, char **out);
/* The same for a licence just issued (no events, no related) from its
 * stored JSON text. */
int cs_record_view_text(cs_service *svc, const char *record, time_t now,
    char **out);
/* The public view (SPEC §5 verify): no approval_ref, bundle, token; personal
 * codes masked; QR face fields only; the status detail without its reason. */
json_t *cs_public_view(cs_service *svc, const json_t *full);
/* The public view of licence id and its status (a static string), built
 * without the full view; CS_ENOTFOUND when the library does not hold it. */
int cs_licence_public(cs_service *svc, const char *id, json_t **out,
    const char **status_out);
/* The same for the licence id a peeked text names (token.h), and *same:
 * whether the token stored for it is the text's zlib stream, compared
 * full length.  Verification's fast path,
 * whose full check after a miss uses the view instead of reading the
 * licence again.  A record whose text the scan does not take gives 0,
 * *out NULL and *same 0 (the full check reads it the long way). */
struct cs_token_peek;
int cs_licence_public_token(cs_service *svc, const struct cs_token_peek *pk,
    json_t **out, const char **status_out, int *same);

/* A verification result object {"result", "reason" (the table's for res
 * when NULL), "checked_at", "certificate" (cert, taken; NULL: null)}
 * (verify.c). */
int cs_verify_result(const char *res, const char *reason, json_t *cert,
    json_t **out);
/* The library's verdict on licence id from its status: the result object
 * with the public view, "not_found" when it does not hold it. */
int cs_verify_licence(cs_service *svc, const char *id, json_t **out);

/* Validate an identifier from a path: CS_EINVAL with the reason. */
int cs_check_id(const char *id);

/* A lifecycle reason (absent, when not required): text of 1 to 1000 bytes
 * that the verification page may show as it is (status_detail), checked
 * by cs_face_text_check.  Problems name "reason". */
void cs_reason_check(const json_t *r, int required, cs_problems *p);

/* Append the change event of SPEC §9 (events.c) in the caller's
 * transaction: type "licence.issued" ... for the licence whose record (or
 * view) is rec, status its status after the change; reason and kind may
 * be NULL. */
int cs_change_emit(cs_service *svc, const char *type, const json_t *rec,
    const char *status, const char *reason, const char *kind);
/* Hex SHA-256 of a JSON value's canonical form (sorted keys, compact). */
int cs_json_hash(const json_t *v, char out[65]);

#endif
