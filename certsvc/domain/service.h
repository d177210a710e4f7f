/*
 * service: the domain operations of certsvc, the one place both the HTTP
 * handlers (http_*.c) and the CLI (cli_*.c) call.  Neither reaches into SQL
 * or COSE directly.
 *
 * Every operation takes the acting client (cs_actor) and enforces its role
 * and grants itself, so the CLI and the API cannot disagree on who may do
 * what.  Every read of a licence or of a holder's licences, every issuance
 * and every status change appends an audit record.
 *
 * Results are jansson objects in exactly the shapes of SPEC §1 and §5; the
 * caller owns them (json_decref).  Errors are CS_E* codes; for validation
 * failures (CS_EVALIDATION) the problems list holds each (field, message),
 * for the others cs_err_msg() holds the detail, which is safe to show a
 * client (no SQL, no paths, no key material).
 *
 *   CS_EINVAL      400  malformed request (shape, bad identifier in a path)
 *   CS_EAUTH       401
 *   CS_EFORBIDDEN  403  role or grant does not allow it
 *   CS_ENOTFOUND   404
 *   CS_ECONFLICT   409  idempotency conflict, forbidden transition
 *   CS_EVALIDATION 422  problems filled
 */
#ifndef CS_SERVICE_H
#define CS_SERVICE_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "catalog.h"
#include "audit_queue.h"
#include "config.h"
#include "keys.h"
#include "problems.h"
#include "store.h"

/* The service: opaque (service_internal.h); the layers above it see what
 * it was opened with through the accessors below. */
typedef struct cs_service cs_service;

/* Who is acting: the authenticated client (NULL for anonymous public
 * calls), the remote address and the request id for the audit log. */
typedef struct cs_actor {
	const cs_client *client;  /* borrowed */
	const char *remote;       /* "127.0.0.1" or "cli" */
	const char *request_id;
	/* The X-Auth-Code a reader sent (SPEC §10), or NULL: a read of
	 * licences it covers is allowed without a grant, and uses it. */
	const char *auth_code;
} cs_actor;

/* Why a holder's licences are read: the X-Purpose, X-Service-Item and
 * X-Case-Ref headers (SPEC §5). */
typedef struct cs_purpose {
	const char *purpose;      /* required, 1..200 characters */
	const char *service_item; /* optional */
	const char *case_ref;     /* optional */
} cs_purpose;

/* Open the store, the catalog and the key directory named by cfg.
 * need_signing_key: fail when no private key is present (serve, issue). */
int cs_service_open(const cs_config *cfg, int need_signing_key, cs_service **out);
/* Close; running writer threads first write what they hold. */
void cs_service_close(cs_service *svc);
/* Start the server's writer threads.  Reads are served without waiting for
 * their audit records' commit: a writer thread commits them in groups
 * (audit_queue.h; not when the config says audit_read_wait = 1).  Single
 * issuances handed over with cs_issue_submit() run on another, many to a
 * commit (tx_queue.h). */
int cs_service_start_writers(cs_service *svc);

/* Does the database answer?  0, CS_EFULL when it answers but its disk
 * is full (writes fail), another code when it does not answer. */
int cs_service_ping(cs_service *svc);
/* The store's backend, "sqlite" or "postgresql", for /healthz. */
const char *cs_service_backend(const cs_service *svc);
/* Create or upgrade the schema of the store cfg->db names, and close it:
 * `certsvc migrate`.  Opening a store migrates it (serve does it at start),
 * so this is an open without the catalog and keys a service needs. */
int cs_service_migrate(const cs_config *cfg);
/* An online, consistent copy of the database to path, a new file
 * (CS_EIO when it exists or cannot be made). */
int cs_service_backup(cs_service *svc, const char *path);

/* The writer threads' counters (cs_service_start_writers), for metrics. */
typedef struct cs_service_stats {
	int reads_audit;            /* 1 when the read audit writer runs */
	uint64_t audit_waiting;     /* its records waiting for their commit */
	uint64_t audit_committed;   /* and committed since start */
	cs_audit_commit_stats audit_commits;  /* how long its groups took */
	int issue_writer;           /* 1 when the issuance writer runs */
	uint64_t issue_batches;     /* its commits */
	uint64_t issue_runs;        /* and the issuances they carried */
	uint64_t verify_fast;       /* verifications of a stored token's own
				     * bytes, answered without a signature
				     * check (verify.c) */
	int status_list;            /* 1 when a status list is held */
	int64_t sl_iat, sl_bytes;   /* its iat and size */
	uint64_t sl_builds, sl_failures;  /* lists built, builds failed */
	int64_t sl_build_us;        /* the last build's duration */
	uint64_t peers;             /* peer libraries, as last read */
} cs_service_stats;
void cs_service_stats_get(cs_service *svc, cs_service_stats *out);

/* What the service was opened with, borrowed for its life: its settings,
 * its catalog, and its keyring (NULL when none was needed and the key
 * directory is absent). */
const cs_config *cs_service_config(const cs_service *svc);
const cs_catalog *cs_service_catalog(const cs_service *svc);
const cs_keyring *cs_service_keys(const cs_service *svc);
/* The same for a running server, whose keyring a reload may replace: held
 * for reading (NULL while a token cannot be opened) until
 * cs_service_keys_release.  Hold it briefly: a reload waits for it. */
const cs_keyring *cs_service_keys_hold(cs_service *svc);
void cs_service_keys_release(cs_service *svc);
/* SIGHUP: read the key directory or token again; the newest key signs from
 * now on and the trust list shows what was read.  A directory that fails
 * to load keeps the keys in use (the error is returned); a token is closed
 * first, so a failure leaves no signing key (503) until a later reload or
 * the next issuance opens it again. */
int cs_service_reload_keys(cs_service *svc);
/* SIGHUP: read the catalog (templates) again; from now on requests see
 * the new one (cs_service_catalog).  One that fails to load keeps the
 * catalog in use (the error is returned).  Not thread-safe against
 * itself: one thread reloads. */
int cs_service_reload_catalog(cs_service *svc);

/* The time used for "now"; tests and benchmarks may override it with the
 * environment variable CERTSVC_NOW (Unix seconds) in debug builds only. */
time_t cs_now(void);

/* Clients. */
/* Create a client; *token_out (malloc'd) is the bearer token, shown once;
 * only its SHA-256 is stored. */
int cs_client_create(cs_service *svc, const char *name, const char *role,
    char **token_out);
/* Add a grant (types "T1,T2" or "*"; issuer code and name for issuers).
 * The issuer's name is signed into every licence and its QR code: it must
 * be UTF-8 text of 1..CS_ISSUER_NAME_MAX characters without control
 * characters (CS_EINVAL naming --issuer-name otherwise). */
#define CS_ISSUER_NAME_MAX 64
int cs_client_grant(cs_service *svc, const char *name, const char *types,
    const char *issuer_code, const char *issuer_name);
/* A client as JSON: {"name", "role", "active", "grants": [{"types": [...],
 * "issuer"?: {"code", "name"}}], "warnings": [...]} (whoami.c); no token
 * hash.  A reader or issuer granted no type carries a warning saying what
 * that means.  NULL when out of memory. */
json_t *cs_client_json(const cs_client *c);
/* GET /api/v1/me: the calling client as cs_client_json shows it. */
int cs_whoami(const cs_actor *who, json_t **out);
/* cs_client_create and, when types is not NULL, cs_client_grant in one
 * transaction: when the grant fails no client is left behind, and the
 * message says "client not created, its grant failed: ...".  *token_out
 * as cs_client_create's. */
int cs_client_add(cs_service *svc, const char *name, const char *role,
    const char *types, const char *issuer_code, const char *issuer_name,
    char **token_out);
/*
 * certsvc client rotate (client_rotate.c): give the active client name a
 * new bearer token, in *token_out (shown once; the caller frees it), and
 * audit it (client_rotate), in one transaction.  From the commit on the
 * store authenticates the new token only: the old one is refused by
 * every server within auth_cache_ms (client_cache.h), at once by one that
 * caches nothing.  CS_ENOTFOUND when no active client has the name,
 * CS_ECONFLICT when another rotation of it committed first.
 */
int cs_client_rotate(cs_service *svc, const cs_actor *who, const char *name,
    char **token_out);
/* Wipe and free a token cs_client_add or cs_client_rotate handed out, and
 * set *token NULL (NULL: nothing). */
void cs_client_token_clear(char **token);
/* A client with its grants, revoked or not (revoked_at); CS_ENOTFOUND
 * when none has that name.  *out: cs_client_free. */
int cs_client_get(cs_service *svc, const char *name, cs_client **out);
/* Every client, revoked ones included, in the order added; *out:
 * cs_clients_free. */
int cs_client_list(cs_service *svc, cs_client ***out, size_t *n);
/* Revoke a client now; CS_ENOTFOUND when absent or already revoked. */
int cs_client_revoke(cs_service *svc, const char *name);
/* Find the active client holding a bearer token: CS_EAUTH when none.  A
 * token found is trusted for auth_cache_ms without asking the store
 * again (client_cache.h). */
int cs_client_authenticate(cs_service *svc, const char *bearer, cs_client **out);

/* Issue one licence from an issuance request (SPEC §5).  *created is 1 for
 * a new licence (201), 0 when the same approval_ref and content returned an
 * existing one (200). */
int cs_issue(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **licence_out, int *created, cs_problems *problems);
/* The same for a caller that answers later (the HTTP layer suspends the
 * connection in between), with the licence as its JSON text: the bytes
 * json_dumps(JSON_COMPACT) makes of cs_issue's object, without building
 * it.  cs_issue_prepare() validates the request (problems as cs_issue's)
 * and keeps what the issuance needs; who is borrowed and must outlive the
 * job.  cs_issue_submit() hands the job to the issuance writer
 * (cs_service_start_writers) and returns at once; done(ctx, ...) is then
 * called once, on the writer's thread, when the licence is on disk or has
 * failed: rc as cs_issue returns it (its message in cs_err_msg(), the
 * members to blame in problems, borrowed for the call), text the licence
 * (done owns it; NULL on failure), id a new licence's ("" for
 * a replay; CS_LICENCE_ID_MAX bytes, codes.h), created as cs_issue's.  The
 * job is freed by then; cs_issue_submit frees it when it fails, and done
 * is not called. */
typedef struct cs_issue_job cs_issue_job;
typedef void (*cs_issue_done)(void *ctx, int rc, const cs_problems *problems,
    char *text, const char *id, int created);
int cs_issue_prepare(cs_service *svc, const cs_actor *who, const json_t *request,
    cs_problems *p, cs_issue_job **out);
int cs_issue_submit(cs_issue_job *job, cs_issue_done done, void *ctx);
void cs_issue_job_free(cs_issue_job *job);
/* A bundle by its id ("B" and 8 characters; CS_EINVAL otherwise,
 * CS_ENOTFOUND when there is none): the answer its issuance gave, with the
 * members as they are now.  The caller must be allowed to read every
 * member (CS_EFORBIDDEN, audited as denied, otherwise); each member read is
 * audited. */
int cs_bundle_read(cs_service *svc, const cs_actor *who, const char *id,
    json_t **out);
/* Issue a bundle ("一件事"): all or none.  Out: {"id", "approval_ref",
 * "certificates": [...]}. */
int cs_issue_bundle(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **bundle_out, int *created, cs_problems *problems);

/* The licence object of SPEC §1 (audited read). */
int cs_licence_read(cs_service *svc, const cs_actor *who, const char *id,
    json_t **out);
/* The same as its JSON text (*out malloc'd): the bytes json_dumps
 * (JSON_COMPACT) makes of cs_licence_read's object, without building it. */
int cs_licence_read_text(cs_service *svc, const cs_actor *who, const char *id,
    char **out);
/* An audited read of a licence's QR text in form ("url" | "compact" |
 * NULL = the default), for its images; *out malloc'd. */
int cs_licence_read_qr(cs_service *svc, const cs_actor *who, const char *id,
    const char *form, char **out);
/* The same without the audit and grant checks: for the CLI's `show` by an
 * operator and for internal use. */
int cs_licence_load(cs_service *svc, const char *id, json_t **out);
/* action: "suspend" | "reinstate" | "revoke".  body: {"reason", "kind"?}.
 * The same change sent again once it holds (the licence's last change has
 * this action, kind and reason) changes nothing: 0 with *replayed set and
 * the licence as it is; any other change the status forbids is
 * CS_ECONFLICT. */
int cs_licence_transition(cs_service *svc, const cs_actor *who, const char *id,
    const char *action, const json_t *body, json_t **out, int *replayed,
    cs_problems *problems);
/* A new version of a licence (变更/延续); the old one becomes superseded. */
int cs_licence_amend(cs_service *svc, const cs_actor *who, const char *id,
    const json_t *request, json_t **out, int *created, cs_problems *problems);
/* The QR text of a licence in a form ("url" | "compact" | NULL = default). */
int cs_licence_qr_text(cs_service *svc, const json_t *licence, const char *form,
    char **out);

/* A holder lookup (SPEC §5): the holder code, the filters and the page,
 * each as the caller sent it. */
typedef struct cs_holder_query {
	const char *code;
	const char *type;     /* NULL: every type the reader is granted */
	const char *status;   /* NULL: any */
	const char *limit;    /* NULL: 100; "1" to "1000" */
	const char *cursor;   /* NULL: the first page; else an earlier "next" */
	const char *unchecked; /* NULL or "false"; "true": the code is a
				* pilot-region credit code whose only fault is
				* its check character (SPEC §2) */
} cs_holder_query;
/* A page of a holder's licences of the reader's granted types, newest
 * first: {"holder_code", "certificates", "next"}, next the cursor of the
 * following page or null on the last.  Only a reader may look up
 * (CS_EFORBIDDEN).  A bad parameter is CS_EINVAL with each problem in
 * problems (may be NULL), naming "code", "type", "status", "limit",
 * "cursor", "unchecked" or "X-Purpose"; a code that fails its check
 * character is one of them unless unchecked is "true".  Each page is audited with its count. */
int cs_holder_licences(cs_service *svc, const cs_actor *who,
    const cs_holder_query *q, const cs_purpose *why, json_t **out,
    cs_problems *problems);
/* The same answer as its JSON text (*out malloc'd), the bytes json_dumps
 * (JSON_COMPACT) makes of that object. */
int cs_holder_licences_text(cs_service *svc, const cs_actor *who,
    const cs_holder_query *q, const cs_purpose *why, char **out,
    cs_problems *problems);

/* An issuer's own licences for reconciliation (GET /api/v1/certificates),
 * each filter as the caller sent it but the times (Unix seconds, 0 open). */
typedef struct cs_reconcile_query {
	const char *approval_ref;  /* NULL: any */
	int64_t from, until;       /* issued at or after from, before until */
	const char *limit;         /* NULL: 100; "1" to "1000" */
	const char *cursor;        /* NULL: the first page; else a "next" */
} cs_reconcile_query;
/* {"certificates": [...], "next"} as JSON text (*out malloc'd): the
 * licences the calling client issued, oldest first (a bundle's members
 * match the bundle's approval_ref).  Only an issuer (CS_EFORBIDDEN,
 * audited as denied); CS_EINVAL with problems naming "limit", "cursor",
 * "approval_ref" or "issued_before".  Each page audited ("reconcile"). */
int cs_licences_reconcile(cs_service *svc, const cs_actor *who,
    const cs_reconcile_query *q, char **out, cs_problems *problems);

/* Verification (SPEC §5): always a result object {"result", "reason",
 * "checked_at", "certificate"} unless memory runs out.  text: a QR text of
 * either form or a bare token. */
int cs_verify_text(cs_service *svc, const char *text, size_t len, json_t **out);
/* The "malformed" result object with reason (UTF-8): for a request body
 * that cannot be read as either of the two above. */
int cs_verify_malformed(const char *reason, json_t **out);
/* A paper copy typed by hand: {"id" | "number", "holder_code"}. */
int cs_verify_manual(cs_service *svc, const json_t *body, json_t **out,
    cs_problems *problems);
/* Offline: signature and dates only, against a keyring (no store). */
int cs_verify_offline(const cs_keyring *keys, const char *text, size_t len,
    long tz_offset_minutes, json_t **out);

/* Offline with a status list (SPEC §11; status_list.h): the same, and
 * the list's word on the licence under "status_list" ({"checked",
 * "issued_at", "expires_at", "age_seconds", "stale", "state", ...}): a
 * suspended, revoked or superseded licence is that result.  list NULL:
 * "status_list": {"checked": false, "reason"}. */
struct cs_status_list;
int cs_verify_offline_listed(const cs_keyring *keys,
    const struct cs_status_list *list, const char *text, size_t len,
    long tz_offset_minutes, json_t **out);

/* The status list (SPEC §11).  Built now from the store and signed with
 * the active key, iat given (status_list.c): the bytes of `certsvc
 * status-list`.  *out malloc'd. */
int cs_status_list_make(cs_service *svc, int64_t iat, uint8_t **out,
    size_t *len);
/* The server's signed list (status_cache.c), made on first use and kept
 * up to date by the thread cs_service_start_status_list starts: *out a
 * malloc'd copy, etag its strong ETag (quoted, a hash of the bytes), iat
 * its signing time. */
#define CS_ETAG_MAX 48
int cs_status_list_current(cs_service *svc, uint8_t **out, size_t *len,
    char etag[CS_ETAG_MAX], int64_t *iat);
/* Start the thread that signs the list again within status_list_check_ms
 * of a change and at least every status_list_refresh_s; stopped by
 * cs_service_close. */
int cs_service_start_status_list(cs_service *svc);

/* Annotated copies (加注件, SPEC §12), annotated_copy.c. */
#define CS_COPY_ID_LEN 24
#define CS_COPY_PURPOSE_MAX 200
#define CS_COPY_DAYS_DEFAULT 30
#define CS_COPY_DAYS_MAX 90
/* Make a copy of licence id for a client that may read it (CS_EFORBIDDEN
 * otherwise, audited): body {"purpose", "used_by"?: {"name", "code"?},
 * "expires_in_days"?}; each bad member a problem (CS_EVALIDATION).  The
 * copy and its audit record ("copy": target the licence, purpose the
 * purpose, case_ref the copy id) commit together.  *out: {"copy_id",
 * "expires_at", "pdf"}. */
int cs_copy_create(cs_service *svc, const cs_actor *who, const char *id,
    const json_t *body, json_t **out, cs_problems *problems);
/* A copy's row and its licence (cs_licence_load's object) for drawing its
 * PDF, to a client that may read the licence; audited ("copy_read").
 * CS_EINVAL for a malformed copy id, CS_ENOTFOUND for an unknown one.
 * *row: cs_copy_row_free; *licence: json_decref. */
int cs_copy_get(cs_service *svc, const cs_actor *who, const char *copy_id,
    cs_copy_row **row, json_t **licence);
/* 0 when id is a copy id's form (CS_COPY_ID_LEN of 0-9A-Z). */
int cs_copy_id_check(const char *id);
/* The last day the copy is valid before, YYYY-MM-DD local: {date}前有效. */
void cs_copy_until(cs_service *svc, const cs_copy_row *c, char out[11]);
/*
 * Peer libraries (SPEC §11; peers.c), admin only (CS_EFORBIDDEN).  Add
 * (or update: a new status list) the peer name with its trust list (a JWK
 * Set, JSON text) and its status list (the COSE bytes, or NULL): refused
 * (CS_EVALIDATION, problems on "name", "trust_list", "status_list") for a
 * name that is not a library name, a trust list that does not read, holds
 * no key, or holds a key that is this library's or another peer's, and a
 * status list its keys do not sign, of another iss, or malformed.  *out:
 * the peer as cs_peer_list shows it.  Audited ("peer_add",
 * "peer_remove"); remove is CS_ENOTFOUND for a name that is no peer.
 * List: {"peers": [{"name", "keys": [kid], "updated_at", "status_list":
 * null | {"issued_at", "expires_at", "age_seconds", "stale"}}]}.
 */
int cs_peer_add(cs_service *svc, const cs_actor *who, const char *name,
    const char *trust, size_t tlen, const uint8_t *sl, size_t sl_len,
    json_t **out, cs_problems *p);
int cs_peer_remove(cs_service *svc, const cs_actor *who, const char *name);
int cs_peer_list(cs_service *svc, const cs_actor *who, json_t **out);

/*
 * Offline against several libraries (SPEC §11: this one and its peers):
 * each a name (NULL: this library, not named in the answer), its keys and
 * its status list (or NULL).  The token's kid picks the library; the
 * answer is cs_verify_offline_listed's with that library's keys and list,
 * plus "library": its name.  No library holds the kid: unknown_key.
 */
typedef struct cs_verify_library {
	const char *name;
	const cs_keyring *keys;
	const struct cs_status_list *list;
} cs_verify_library;
int cs_verify_offline_libraries(const cs_verify_library *libs, size_t n,
    const char *text, size_t len, long tz_min, json_t **out);

/* POST /api/v1/verify {"copy": id}: the licence's result plus "copy":
 * {"copy_id", "purpose", "used_by", "expires_at", "expired"}; an expired
 * copy of a licence in force is "expired".  Unknown: "not_found";
 * malformed id: "malformed".  Audited ("verify_copy"). */
int cs_verify_copy(cs_service *svc, const cs_actor *who, const char *copy_id,
    json_t **out);

/*
 * The holder in the loop (SPEC §10): presentation.c, authorisation.c,
 * delegation.c, usage.c.  Each takes the holder code of the path as sent
 * (a code failing its check is CS_EVALIDATION naming "code") and, for
 * presentations and authorisations, the X-Acting-For header as sent (NULL:
 * absent): a portal acting for an agent needs a live delegation covering
 * every licence (CS_EFORBIDDEN).  Only a portal client makes, withdraws or
 * reads these (CS_EFORBIDDEN); each is audited.
 */
/* POST .../presentations {"licences": [ids] | "all", "ttl"?}: *out
 * {"code", "qr_text", "expires_at"}.  An unknown or malformed id is a
 * problem naming "licences.N", ttl over 300 one naming "ttl"
 * (CS_EVALIDATION); another holder's licence CS_EFORBIDDEN. */
int cs_presentation_create(cs_service *svc, const cs_actor *who,
    const char *holder, const char *acting_for, const json_t *req,
    json_t **out, cs_problems *problems);
/* 1 and the code (NUL-terminated) when text is {public_url}/p/{code}. */
int cs_presentation_code_of(cs_service *svc, const char *text, size_t len,
    char code[65]);
/* What /p/{code} and POST /api/v1/verify show: {"result": "presentation",
 * "reason", "checked_at", "expires_at", "certificates": [public views]},
 * or "presentation_expired" (no licences) or "not_found".  A presentation
 * shown is audited ("presentation_shown"), which puts it in the holder's
 * usage record. */
int cs_presentation_verify(cs_service *svc, const cs_actor *who,
    const char *code, json_t **out);
/* The QR text of a live presentation of holder, for its image; *out
 * malloc'd; CS_ENOTFOUND when unknown, another holder's or expired. */
int cs_presentation_qr_text(cs_service *svc, const cs_actor *who,
    const char *holder, const char *code, char **out);
/* POST .../authorisations {"reader"?, "service_item"?, "purpose",
 * "licences": [ids] | "all" | {"types": [...]}, "expires_in"?, "uses"?}:
 * *out {"auth_code", "authorisation_id", "expires_at"}. */
#define CS_AUTH_CODE_LEN 10
int cs_authorisation_create(cs_service *svc, const cs_actor *who,
    const char *holder, const char *acting_for, const json_t *req,
    json_t **out, cs_problems *problems);
/* DELETE .../authorisations/{auth_code}: CS_ENOTFOUND when unknown,
 * another holder's or already withdrawn. */
int cs_authorisation_withdraw(cs_service *svc, const cs_actor *who,
    const char *holder, const char *auth_code);
/* An X-Auth-Code as typed, normalised (upper case, spaces and dashes
 * dropped) into out: CS_EINVAL naming the header and the reason (length,
 * character, check character). */
int cs_auth_code_check(const char *in, char out[CS_AUTH_CODE_LEN + 1]);
/* Take one use of who->auth_code for reading licence id of type (id
 * NULL: a lookup of holder's licences): CS_EINVAL when the code fails its
 * check, CS_EFORBIDDEN (audited) when it is unknown, withdrawn, expired,
 * spent, another reader's or does not cover the licence.  *auth: the
 * authorisation (its "licences", "purpose", ...), json_decref. */
int cs_auth_redeem(cs_service *svc, const cs_actor *who, const char *holder,
    const char *id, const char *type, json_t **auth);
/* Whether the authorisation auth covers licence id of type. */
int cs_auth_covers(const json_t *auth, const char *id, const char *type);
/* POST .../delegations {"agent": {"name", "code_type", "code"}, "types"?,
 * "until"}: *out {"delegation_id"}. */
int cs_delegation_create(cs_service *svc, const cs_actor *who,
    const char *holder, const json_t *req, json_t **out,
    cs_problems *problems);
/* DELETE .../delegations/{id}: effective at once. */
int cs_delegation_withdraw(cs_service *svc, const cs_actor *who,
    const char *holder, const char *id);
/* GET .../usage?limit=&cursor=: {"holder_code", "usage": [{"at", "what",
 * "client", "purpose"?, "service_item"?, "authorisation_id"?, "copy_id"?,
 * "count"?, "licences"?}], "next"}: every use of the holder's licences,
 * newest first, read from the audit log (usage.c).  A bad limit or cursor
 * is CS_EINVAL with a problem naming it; a holder code failing its check
 * CS_EVALIDATION. */
int cs_usage_list(cs_service *svc, const cs_actor *who, const char *holder,
    const char *limit, const char *cursor, json_t **out,
    cs_problems *problems);

/*
 * The change feed (SPEC §9, events.c).  cs_events_parse checks the
 * after and limit parameters as sent (NULL: absent; after 0, limit 100
 * then): CS_EINVAL with a problem naming each bad one.  cs_events_read
 * is a page of the events after seq after that who may see (an admin
 * all, anyone else those of the licences it may read; who->client NULL:
 * the operator at the machine, all), at most limit:
 * {"events": [{"seq", "event_id", "type", "at", "licence", "reason"?,
 * "kind"?}...], "next_after"}, next_after the last seq it looked at (a
 * reader resumes from it; it moves past events it may not see), *count
 * the events in it.  It writes no audit record: a long poll reads many
 * times and cs_events_audit records the request once ("events_read",
 * target the after it asked from, the count it was answered).
 */
#define CS_EVENTS_LIMIT_DEFAULT 100
#define CS_EVENTS_LIMIT_MAX 1000
int cs_events_parse(const char *after, const char *limit, int64_t *after_out,
    int *limit_out, cs_problems *problems);
int cs_events_read(cs_service *svc, const cs_actor *who, int64_t after,
    int limit, json_t **out, size_t *count);
int cs_events_audit(cs_service *svc, const cs_actor *who, int64_t after,
    size_t count);
/* For a long poll: returns once a transaction of this process that
 * appended events has committed since the caller saw seen (the value an
 * earlier call returned; 0 at first), or after timeout_ms
 * (cs_store_changes_wait). */
uint64_t cs_events_wait(uint64_t seen, long timeout_ms);
/*
 * Subscriptions (SPEC §9, subscriptions.c), admin only (who->client NULL:
 * the operator at the machine).  cs_sub_add checks req {"name", "url",
 * "types"?, "events"?} (CS_EVALIDATION, a problem naming each bad field:
 * a url that is not http(s), over 2,048 bytes, or at self, the server's
 * own listen address ADDR:PORT (NULL: not checked)), CS_ECONFLICT when
 * the name is in force, and answers {"name", "url", "types", "events",
 * "secret"}: the only time the secret is shown.  cs_sub_list:
 * {"subscriptions": [{"name", "url", "types", "events", "created_at",
 * "delivery": {"pending", "oldest_pending_age_s", "failing",
 * "last_attempt": {"at", "result", "status"} | null}}]}, no secrets.
 * cs_sub_remove: CS_ENOTFOUND when no subscription has that name.
 */
int cs_sub_add(cs_service *svc, const cs_actor *who, const json_t *req,
    const char *self, json_t **out, cs_problems *problems);
int cs_sub_list(cs_service *svc, const cs_actor *who, json_t **out);
int cs_sub_remove(cs_service *svc, const cs_actor *who, const char *name);

/*
 * The sender (sender.c): a thread of serve that POSTs each subscription's
 * events, signed per Standard Webhooks, in seq order, retrying with
 * jittered backoff; its progress is the attempts it appends to the store,
 * so a restart resumes where it stood.  Stopped (and freed) by
 * cs_service_close.  cs_sender_metrics sums, for /metrics, the
 * subscriptions' pending events and oldest pending age, and counts the
 * attempts this process made by result.
 */
int cs_service_start_sender(cs_service *svc);
#define CS_SENDER_RESULTS 6
extern const char *const cs_sender_results[CS_SENDER_RESULTS];
typedef struct cs_sender_metrics {
	int64_t subscriptions;
	int64_t pending;
	int64_t oldest_pending_age_s;
	int64_t failing;
	uint64_t attempts[CS_SENDER_RESULTS];  /* by cs_sender_results */
} cs_sender_metrics;
int cs_sender_metrics_get(cs_service *svc, cs_sender_metrics *out);

/* The trust list (JWK Set) and the audit log query (admin).  A page's
 * "next_after" is its last record's seq, or f->after_seq when it is empty:
 * an exporter that resumes from it never starts over. */
int cs_trust_list(cs_service *svc, json_t **out);
int cs_audit_list(cs_service *svc, const cs_actor *who,
    const cs_audit_filter *f, json_t **out);
/* The actions an audit record may name, space-separated ("issue amend
 * ..."): what the audit filter's ?action= may be (cs_word_in, text.h). */
extern const char cs_audit_actions[];

#endif
