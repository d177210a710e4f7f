/*
 * service.c: opening the service, clients and grants, authentication, the
 * audit log and the trust list.  Issuance lives in issue.c, reads and the
 * lifecycle in licence.c, verification in verify.c.
 */
#include "service_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "audit_queue.h"
#include "client_cache.h"
#include "codes.h"
#include "cs_err.h"
#include "digest.h"
#include "encode.h"
#include "pkcs11.h"
#include "timeutil.h"
#include "tx_queue.h"

time_t
cs_now(void)
{
#ifdef CS_TEST_HOOKS
	/* Tests move the clock to check expiry; only builds made with
	 * -DCERTSVC_TEST_HOOKS=ON (scripts/test.sh) look at it. */
	const char *fake = getenv("CERTSVC_NOW");
	if (fake != NULL && *fake != '\0')
		return (time_t)strtoll(fake, NULL, 10);
#endif
	return time(NULL);
}

int
cs_service_open(const cs_config *cfg, int need_signing_key, cs_service **out)
{
	cs_service *svc = NULL;
	int rc;

	*out = NULL;
	if ((svc = calloc(1, sizeof(*svc))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	svc->cfg = *cfg;
	if ((rc = cs_config_validate(cfg)) != 0)
		goto out;
	{
		cs_catalog *cat = NULL;

		if ((rc = cs_catalog_load(cfg->templates, &cat)) != 0)
			goto out;
		svc->catalog = cat;
	}
	pthread_rwlock_init(&svc->keys_lock, NULL);
	svc->keys_lock_made = 1;
	if ((rc = cs_service_keys_load(cfg, need_signing_key, &svc->keys)) != 0)
		goto out;
	/* Commits are grouped: a group's leader waits up to audit_flush_ms
	 * for the writers queued behind it. */
	if ((rc = cs_store_open(cfg->db, cfg->audit_flush_ms, &svc->store)) != 0 ||
	    (rc = cs_client_cache_new(cfg->auth_cache_ms, &svc->clients)) != 0)
		goto out;
	if ((svc->peers = cs_peer_cache_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	*out = svc;
	svc = NULL;
out:
	cs_service_close(svc);
	return rc;
}

void
cs_service_close(cs_service *svc)
{
	if (svc == NULL)
		return;
	cs_sender_free(svc->sender);
	cs_status_cache_free(svc->status_list);
	cs_peer_cache_free(svc->peers);
	cs_tx_queue_stop(svc->issue_writer);
	cs_audit_queue_stop(svc->reads_audit);
	cs_client_cache_free(svc->clients);
	cs_store_close(svc->store);
	cs_catalog_free(svc->catalog);
	for (size_t i = 0; i < svc->n_old_catalogs; i++)
		cs_catalog_free(svc->old_catalogs[i]);
	free(svc->old_catalogs);
	cs_keyring_free(svc->keys);
	if (svc->keys_lock_made)
		pthread_rwlock_destroy(&svc->keys_lock);
	free(svc);
}

const cs_config *
cs_service_config(const cs_service *svc)
{
	return &svc->cfg;
}

/*
 * SIGHUP: the catalog directory read again.  The new catalog replaces the
 * old one at once (one atomic pointer); the old one is kept until close,
 * because a request that started before may still hold its types, and
 * catalogs are small (a few KiB each) and reloads rare.  A catalog that
 * fails to load leaves the one in use.
 */
int
cs_service_reload_catalog(cs_service *svc)
{
	cs_catalog *cat = NULL, **grown;
	int rc;

	if ((rc = cs_catalog_load(svc->cfg.templates, &cat)) != 0)
		return cs_err_wrap(rc, "templates: ");
	if ((grown = realloc(svc->old_catalogs, (svc->n_old_catalogs + 1) *
	    sizeof(*grown))) == NULL) {
		cs_catalog_free(cat);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	svc->old_catalogs = grown;
	svc->old_catalogs[svc->n_old_catalogs++] = atomic_exchange(
	    &svc->catalog, cat);
	return 0;
}

const cs_catalog *
cs_service_catalog(const cs_service *svc)
{
	return svc->catalog;
}

const cs_keyring *
cs_service_keys(const cs_service *svc)
{
	return svc->keys;
}

/* --- clients ---------------------------------------------------------- */

/* A token's hash as stored; a failed hash (OpenSSL out of memory) leaves
 * zeros, which no stored token has. */
static void
sha256(const char *s, uint8_t out[CS_SHA256_LEN])
{
	if (cs_sha256(s, strlen(s), out) != 0)
		memset(out, 0, CS_SHA256_LEN);
}

static int
valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || strchr("._-", name[i])))
			return 0;
	return 1;
}

int
cs_client_token_new(char **token_out, uint8_t hash[32])
{
	uint8_t raw[32];
	char *b64 = NULL;
	int rc;

	*token_out = NULL;
	/* 256 random bits: a hash lookup is then as strong as any slow KDF,
	 * and the stored SHA-256 reveals nothing usable. */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("client token");
	rc = cs_b64url_encode(raw, sizeof(raw), &b64);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != 0)
		goto out;
	if (asprintf(token_out, "cs_%s", b64) < 0) {
		*token_out = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	sha256(*token_out, hash);
out:
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return rc;
}

void
cs_client_token_clear(char **token)
{
	if (*token != NULL) {
		OPENSSL_cleanse(*token, strlen(*token));
		free(*token);
		*token = NULL;
	}
}

int
cs_client_create(cs_service *svc, const char *name, const char *role,
    char **token_out)
{
	cs_client c;
	int rc;

	*token_out = NULL;
	memset(&c, 0, sizeof(c));
	if (!valid_name(name))
		return cs_err_set(CS_EINVAL, "client name '%.64s' must be 1-64 of "
		    "A-Z a-z 0-9 . _ -", name);
	if (strcmp(role, "issuer") != 0 && strcmp(role, "reader") != 0 &&
	    strcmp(role, "admin") != 0 && strcmp(role, "portal") != 0)
		return cs_err_set(CS_EINVAL, "role '%.16s' is not issuer, reader, "
		    "admin or portal", role);
	if ((rc = cs_client_token_new(token_out, c.token_hash)) != 0)
		return rc;
	c.name = (char *)name;
	c.role = (char *)role;
	c.created_at = (int64_t)cs_now();
	if ((rc = cs_store_client_add(svc->store, &c)) != 0) {
		if (rc == CS_ECONFLICT)
			cs_err_set(rc, "a client named '%s' exists", name);
		cs_client_token_clear(token_out);
	}
	return rc;
}

static int
check_types(cs_service *svc, const char *types)
{
	char *copy = NULL, *tok, *save = NULL;
	int rc = 0;

	if (strcmp(types, "*") == 0)
		return 0;
	if ((copy = strdup(types)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ",", &save))
		if (cs_catalog_find(svc->catalog, tok) == NULL)
			rc = cs_err_set(CS_EINVAL, "type '%.32s' is not in the catalog", tok);
	free(copy);
	return rc;
}

/* The name goes into every licence's JSON record and signed claims, and
 * onto its face: text that is not UTF-8 would fail each issuance
 * afterwards, not this grant, and invisible characters would print a
 * name other than the one signed (cs_face_text_check). */
static int
check_issuer_name(const char *name)
{
	size_t chars = 0;

	if (cs_face_text_check(name, strlen(name), &chars) != 0)
		return cs_err_wrap(CS_EINVAL, "--issuer-name ");
	if (chars > CS_ISSUER_NAME_MAX)
		return cs_err_set(CS_EINVAL, "--issuer-name is %zu characters, at "
		    "most %d", chars, CS_ISSUER_NAME_MAX);
	return 0;
}

int
cs_client_grant(cs_service *svc, const char *name, const char *types,
    const char *issuer_code, const char *issuer_name)
{
	cs_client *c = NULL;
	cs_grant g;
	char code[CS_USCC_LEN + 1];
	int rc;

	if ((rc = cs_store_client_get(svc->store, name, &c)) != 0) {
		if (rc == CS_ENOTFOUND)
			cs_err_set(rc, "no client named '%.64s'", name);
		goto out;
	}
	if ((rc = check_types(svc, types)) != 0)
		goto out;
	memset(&g, 0, sizeof(g));
	g.types = (char *)types;
	if (strcmp(c->role, "issuer") == 0) {
		if (issuer_code == NULL || issuer_name == NULL || !*issuer_name) {
			rc = cs_err_set(CS_EINVAL, "an issuer's grant needs "
			    "--issuer-code and --issuer-name");
			goto out;
		}
		snprintf(code, sizeof(code), "%s", issuer_code);
		if (strlen(issuer_code) != CS_USCC_LEN ||
		    (rc = cs_code_check_uscc(code)) != 0) {
			/* The check's message is copied out first: cs_err_set
			 * writes the very buffer cs_err_msg() points at. */
			char why[256];

			snprintf(why, sizeof(why), "%s", strlen(issuer_code) !=
			    CS_USCC_LEN ? "must be 18 characters" : cs_err_msg());
			rc = cs_err_set(CS_EINVAL, "issuer code '%.32s': %s",
			    issuer_code, why);
			goto out;
		}
		if ((rc = check_issuer_name(issuer_name)) != 0)
			goto out;
		g.issuer_code = code;
		g.issuer_name = (char *)issuer_name;
	}
	rc = cs_store_grant_add(svc->store, name, &g);
out:
	cs_client_free(c);
	return rc;
}

/* Roll back after a failure whose message the caller is to see: the
 * rollback may set one of its own. */
static int
rollback_keeping_message(cs_store *st, int rc)
{
	char msg[1024];
	int cause = cs_err_cause();

	snprintf(msg, sizeof(msg), "%s", cs_err_msg());
	(void)cs_store_rollback(st);
	return cs_err_setc(rc, cause, "%s", msg);
}

/* The client and its grant are one transaction: a client left behind by a
 * failed grant would hold a token nobody was shown, and its name could not
 * be used again (clients are append-only). */
int
cs_client_add(cs_service *svc, const char *name, const char *role,
    const char *types, const char *issuer_code, const char *issuer_name,
    char **token_out)
{
	int rc;

	*token_out = NULL;
	if ((rc = cs_store_begin(svc->store)) != 0)
		return rc;
	if ((rc = cs_client_create(svc, name, role, token_out)) == 0 &&
	    types != NULL && (rc = cs_client_grant(svc, name, types,
	    issuer_code, issuer_name)) != 0)
		rc = *cs_err_msg() ? cs_err_wrap(rc, "client not created, its "
		    "grant failed: ") : cs_err_set(rc, "client not created, its "
		    "grant failed");
	if (rc != 0)
		rc = rollback_keeping_message(svc->store, rc);
	else
		rc = cs_store_commit(svc->store);
	if (rc != 0) {
		free(*token_out);
		*token_out = NULL;
	}
	return rc;
}

int
cs_client_get(cs_service *svc, const char *name, cs_client **out)
{
	return cs_store_client_get(svc->store, name, out);
}

int
cs_client_list(cs_service *svc, cs_client ***out, size_t *n)
{
	return cs_store_client_list(svc->store, out, n);
}

int
cs_client_revoke(cs_service *svc, const char *name)
{
	return cs_store_client_revoke(svc->store, name, (int64_t)cs_now());
}

int
cs_client_authenticate(cs_service *svc, const char *bearer, cs_client **out)
{
	uint8_t h[32];
	int rc;

	*out = NULL;
	if (bearer == NULL || *bearer == '\0' || strlen(bearer) > 256)
		return cs_err_set(CS_EAUTH, "a bearer token is required");
	sha256(bearer, h);
	if (cs_client_cache_get(svc->clients, h, out))
		return 0;
	rc = cs_store_client_by_token_hash(svc->store, h, out);
	if (rc == 0)
		cs_client_cache_put(svc->clients, h, *out);
	else if (rc == CS_ENOTFOUND)
		rc = cs_err_set(CS_EAUTH, "the bearer token is not valid");
	return rc;
}

/* --- grants ----------------------------------------------------------- */

int
cs_grant_has_type(const cs_grant *g, const char *type)
{
	size_t n = strlen(type);
	const char *p = g->types;

	if (strcmp(p, "*") == 0)
		return 1;
	while ((p = strstr(p, type)) != NULL) {
		if ((p == g->types || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

int
cs_may_read(const cs_client *c, const char *type, const char *issuer_code)
{
	size_t i;

	if (c == NULL)
		return 0;
	if (strcmp(c->role, "admin") == 0)
		return 1;
	for (i = 0; i < c->n_grants; i++) {
		if (!cs_grant_has_type(&c->grants[i], type))
			continue;
		if (strcmp(c->role, "reader") == 0)
			return 1;
		if (issuer_code != NULL && c->grants[i].issuer_code != NULL &&
		    strcmp(c->grants[i].issuer_code, issuer_code) == 0)
			return 1;
	}
	return 0;
}

/* An issuer changes only the licences of its own authority; a reader or
 * an admin changes none (SPEC §5, "its issuer"). */
static int
may_change(const cs_client *c, const char *type, const char *issuer_code)
{
	return c != NULL && strcmp(c->role, "issuer") == 0 &&
	    cs_may_read(c, type, issuer_code);
}

/* A read with an authorisation code (SPEC §10): the licence's holder
 * from the store (a well-formed unknown id is 404 as without a code), then
 * one use of the code. */
static int
auth_read(cs_service *svc, const cs_actor *who, const char *id,
    const char *type)
{
	cs_licence_row *row = NULL;
	json_t *auth = NULL;
	char code[CS_AUTH_CODE_LEN + 1];
	int rc;

	/* A typo is a 400 before anything is looked up. */
	if ((rc = cs_auth_code_check(who->auth_code, code)) != 0)
		return rc;
	if ((rc = cs_store_licence_get(svc->store, id, &row)) == CS_ENOTFOUND)
		return cs_err_set(rc, "no licence %s", id);
	if (rc == 0)
		rc = cs_auth_redeem(svc, who, row->holder_code, id, type, &auth);
	json_decref(auth);
	cs_licence_row_free(row);
	return rc;
}

/* cs_check_id, giving the parts it parsed. */
static int
check_id_parts(const char *id, cs_licence_id *parts)
{
	if (strlen(id) >= CS_LICENCE_ID_MAX)
		return cs_err_set(CS_EINVAL, "licence identifier is longer than %d characters",
		    CS_LICENCE_ID_MAX - 1);
	if (cs_licence_id_parse(id, parts) != 0)
		return cs_err_wrap(CS_EINVAL, "licence identifier: ");
	return 0;
}

int
cs_authorize_id(cs_service *svc, const cs_actor *who, const char *id,
    const char *action)
{
	const cs_client *c = who != NULL ? who->client : NULL;
	cs_licence_id parts;
	int rc;

	/* Checked and split in one parse: a fetch parsed it three times
	 * (bench/README.md, issue 20). */
	if ((rc = check_id_parts(id, &parts)) != 0)
		return rc;
	if (strcmp(action, "read") == 0 && who != NULL && who->auth_code != NULL)
		return auth_read(svc, who, id, parts.type);
	if (strcmp(action, "read") == 0 ? cs_may_read(c, parts.type, parts.issuer)
	    : may_change(c, parts.type, parts.issuer))
		return 0;
	if (strcmp(action, "read") == 0)
		cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_GRANT_MISSING,
		    "no grant to read licences of type %s",
		    parts.type);
	else
		cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_NOT_ISSUER,
		    "only the licence's issuer may %s it",
		    action);
	return cs_audit_denied(svc, who, action, id, NULL);
}

int
cs_require_issuer(const cs_client *c, const char *what)
{
	if (c == NULL || strcmp(c->role, "issuer") != 0)
		return cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_ROLE_FORBIDDEN,
		    "only an issuer client may %s",
		    what);
	return 0;
}

int
cs_issuer_grant(const cs_client *c, const char *type, const char *issuer_code,
    const cs_grant **out, cs_problems *p, const char *prefix)
{
	const cs_grant *found = NULL;
	char field[128];
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_require_issuer(c, "issue licences")) != 0)
		return rc;
	for (i = 0; i < c->n_grants; i++) {
		const cs_grant *g = &c->grants[i];
		if (!cs_grant_has_type(g, type) || g->issuer_code == NULL)
			continue;
		if (issuer_code != NULL && strcmp(g->issuer_code, issuer_code) != 0)
			continue;
		if (found == NULL || strcmp(found->issuer_code, g->issuer_code) != 0)
			n++;
		if (found == NULL)
			found = g;
	}
	if (found == NULL)
		return cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_GRANT_MISSING,
		    "client '%s' holds no grant to issue "
		    "type %s%s%s", c->name, type, issuer_code ? " for issuer " : "",
		    issuer_code ? issuer_code : "");
	if (n > 1) {
		snprintf(field, sizeof(field), "%s%sissuer.code", prefix ? prefix : "",
		    prefix && *prefix ? "." : "");
		cs_problems_addc(p, field, CS_FC_REQUIRED, "is required: the client acts for several "
		    "issuing authorities for this type");
		return CS_EVALIDATION;
	}
	*out = found;
	return 0;
}

int
cs_service_start_writers(cs_service *svc)
{
	int rc = 0;

	if (!svc->cfg.audit_read_wait && svc->reads_audit == NULL)
		rc = cs_audit_queue_start(svc->store, svc->cfg.audit_flush_ms,
		    svc->cfg.audit_max_lag_ms, &svc->reads_audit);
	if (rc == 0 && svc->issue_writer == NULL)
		rc = cs_tx_queue_start(svc->store, &svc->issue_writer);
	return rc;
}

/* --- audit and trust list --------------------------------------------- */

static void
audit_rec(cs_audit_rec *r, const cs_actor *who, const char *action,
    const char *target, const char *holder, const cs_purpose *why, int64_t count)
{
	memset(r, 0, sizeof(*r));
	r->at_ms = cs_wall_ms();
	r->client = who && who->client ? who->client->name : NULL;
	r->action = (char *)action;
	r->target = (char *)target;
	r->holder = (char *)holder;
	r->purpose = why ? (char *)why->purpose : NULL;
	r->service_item = why ? (char *)why->service_item : NULL;
	r->case_ref = why ? (char *)why->case_ref : NULL;
	r->result_count = count;
	r->remote = who ? (char *)who->remote : NULL;
	r->request_id = who ? (char *)who->request_id : NULL;
	r->result = NULL;  /* done */
}

int
cs_audit(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder, const cs_purpose *why, int64_t count)
{
	cs_audit_rec r;

	audit_rec(&r, who, action, target, holder, why, count);
	return cs_store_audit_append(svc->store, &r);
}

/* A record that commits nothing else: queued for the read audit writer
 * when one runs, else appended at once. */
static int
audit_put_read(cs_service *svc, const cs_audit_rec *r)
{
	if (svc->reads_audit == NULL)
		return cs_store_audit_append(svc->store, r);
	return cs_audit_queue_put(svc->reads_audit, r);
}

int
cs_audit_read(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder, const cs_purpose *why, int64_t count)
{
	cs_audit_rec r;

	audit_rec(&r, who, action, target, holder, why, count);
	return audit_put_read(svc, &r);
}

int
cs_audit_settle(cs_service *svc)
{
	return svc->reads_audit != NULL ?
	    cs_audit_queue_sync(svc->reads_audit) : 0;
}

int
cs_audit_denied(cs_service *svc, const cs_actor *who, const char *action,
    const char *target, const char *holder)
{
	char refusal[256];
	int cause = cs_err_cause();
	cs_audit_rec r;
	int rc;

	/* The refusal's message and cause, which the audit may overwrite. */
	snprintf(refusal, sizeof(refusal), "%s", cs_err_msg());
	audit_rec(&r, who, action, target, holder, NULL, 0);
	r.result = "denied";
	rc = audit_put_read(svc, &r);
	return rc != 0 ? rc : cs_err_setc(CS_EFORBIDDEN, cause, "%s", refusal);
}

int
cs_trust_list(cs_service *svc, json_t **out)
{
	const cs_keyring *ring;
	char *text = NULL;
	json_error_t err;
	int rc;

	*out = NULL;
	ring = cs_service_keys_hold(svc);
	rc = ring == NULL ? cs_err_set(cs_pkcs11_is_uri(svc->cfg.keys) ?
	    CS_EUNAVAIL : CS_ENOTFOUND, "no keys") :
	    cs_keyring_to_jwks(ring, &text);
	cs_service_keys_release(svc);
	if (rc != 0)
		return rc;
	if ((*out = json_loads(text, 0, &err)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "trust list: %s", err.text);
	free(text);
	return rc;
}

const char cs_audit_actions[] = "issue amend issue_bundle read holder_lookup "
    "suspend reinstate revoke copy copy_read verify_copy events_read "
    "presentation presentation_shown authorisation authorisation_withdraw "
    "authorised_read delegation delegation_withdraw usage_read "
    "peer_add peer_remove audit_read reconcile subscription_add "
    "subscription_remove client_rotate";

/* What a read of the audit log asked for, as its record's target
 * ("action=issue client=env"): who looked at whose trail is itself worth
 * knowing.  The holder filter goes into the record's holder. */
static void
audit_filter_text(const cs_audit_filter *f, char *out, size_t n)
{
	const char *names[] = {"client", "action", "target", "result"};
	const char *vals[] = {f->client, f->action, f->target, f->result};
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < 4 && len < n; i++)
		if (vals[i] != NULL)
			len += (size_t)snprintf(out + len, n - len, "%s%s=%.64s",
			    len ? " " : "", names[i], vals[i]);
	if (f->after_seq > 0 && len < n)
		snprintf(out + len, n - len, "%safter=%lld", len ? " " : "",
		    (long long)f->after_seq);
}

static json_t *
audit_json(const cs_audit_rec *r)
{
	char at[32];
	time_t s = (time_t)(r->at_ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(r->at_ms % 1000));
	return json_pack("{sI ss ss* ss* ss* ss* ss* ss* ss* sI ss* ss* ss}", "seq",
	    (json_int_t)r->seq, "at", at, "client", r->client, "action", r->action,
	    "target", r->target, "holder", r->holder, "purpose", r->purpose,
	    "service_item", r->service_item, "case_ref", r->case_ref,
	    "result_count", (json_int_t)r->result_count, "remote", r->remote,
	    "request_id", r->request_id, "result", r->result ? r->result : "ok");
}

/* Whether recs hold a record other than client's own reads of the log. */
static int
reveals(cs_audit_rec *const *recs, size_t n, const char *client)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i]->action == NULL ||
		    strcmp(recs[i]->action, "audit_read") != 0 ||
		    recs[i]->client == NULL ||
		    strcmp(recs[i]->client, client) != 0)
			return 1;
	return 0;
}

int
cs_audit_list(cs_service *svc, const cs_actor *who, const cs_audit_filter *f,
    json_t **out)
{
	cs_audit_rec **recs = NULL;
	json_t *arr = NULL;
	char what[256];
	size_t i, n = 0;
	int rc;

	*out = NULL;
	audit_filter_text(f, what, sizeof(what));
	if (who == NULL || who->client == NULL || strcmp(who->client->role, "admin") != 0) {
		cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_ROLE_FORBIDDEN,
		    "only an admin client may read the audit log");
		return who != NULL && who->client != NULL ?
		    cs_audit_denied(svc, who, "audit_read", what, f->holder) :
		    CS_EFORBIDDEN;
	}
	/* Every read answered so far is in the log the admin sees. */
	if ((rc = cs_audit_settle(svc)) != 0)
		return rc;
	if ((rc = cs_store_audit_query(svc->store, f, &recs, &n)) != 0)
		return rc;
	/* This read's own record, after the sync: it shows in the next read,
	 * so a page never changes by being read.  A read that shows nothing
	 * but the reader's own earlier reads of the log (or nothing at all)
	 * reveals nothing and is not recorded: otherwise every read would
	 * make the next one non-empty, and an exporter that pages until an
	 * empty page would never finish. */
	if (reveals(recs, n, who->client->name) &&
	    (rc = cs_audit_read(svc, who, "audit_read", what, f->holder, NULL,
	    (int64_t)n)) != 0) {
		cs_audit_recs_free(recs, n);
		return rc;
	}
	arr = json_array();
	for (i = 0; i < n && arr != NULL; i++)
		json_array_append_new(arr, audit_json(recs[i]));
	*out = json_pack("{so sI}", "records", arr, "next_after",
	    (json_int_t)(n > 0 ? recs[n - 1]->seq : f->after_seq));
	cs_audit_recs_free(recs, n);
	return *out ? 0 : cs_err_set(CS_ENOMEM, "out of memory");
}

/* --- the service itself ------------------------------------------------ */

int
cs_service_ping(cs_service *svc)
{
	return cs_store_ping(svc->store);
}

const char *
cs_service_backend(const cs_service *svc)
{
	return cs_store_backend(svc->store);
}

int
cs_service_migrate(const cs_config *cfg)
{
	cs_store *store = NULL;
	int rc = cs_store_open(cfg->db, 0, &store);

	cs_store_close(store);
	return rc;
}

int
cs_service_backup(cs_service *svc, const char *path)
{
	return cs_store_backup(svc->store, path);
}

void
cs_service_stats_get(cs_service *svc, cs_service_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (svc->reads_audit != NULL) {
		out->reads_audit = 1;
		cs_audit_queue_stats(svc->reads_audit, &out->audit_waiting,
		    &out->audit_committed);
		cs_audit_queue_commit_stats(svc->reads_audit,
		    &out->audit_commits);
	}
	if (svc->issue_writer != NULL) {
		out->issue_writer = 1;
		cs_tx_queue_stats(svc->issue_writer, &out->issue_batches,
		    &out->issue_runs);
	}
	out->verify_fast = atomic_load_explicit(&svc->verify_fast,
	    memory_order_relaxed);
	cs_status_cache_stats(svc->status_list, out);
	out->peers = cs_peer_cache_count(svc->peers);
}

int
cs_json_hash(const json_t *v, char out[65])
{
	uint8_t h[CS_SHA256_LEN];
	char *text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
	int rc;

	if (text == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	rc = cs_sha256(text, strlen(text), h);
	free(text);
	if (rc == 0)
		cs_hex_encode_into(h, sizeof(h), out);
	return rc;
}

int
cs_check_id(const char *id)
{
	cs_licence_id parts;

	return check_id_parts(id, &parts);
}
