/*
 * licence.c: reading licences (by id, as JSON or text, the QR text and the
 * public view of one, each authorised and audited) and the lifecycle
 * transitions.  The status is licence_status.c, the views licence_view.c,
 * a holder's licences holder.c.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "encode.h"
#include "licence_internal.h"
#include "sbuf.h"
#include "text.h"
#include "timeutil.h"
#include "token.h"

/* --- reads -------------------------------------------------------------- */

int
cs_licence_load(cs_service *svc, const char *id, json_t **out)
{
	cs_licence_row *row = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_check_id(id)) != 0)
		return rc;
	rc = cs_store_licence_get(svc->store, id, &row);
	if (rc == CS_ENOTFOUND)
		rc = cs_err_set(rc, "no licence %s", id);
	if (rc == 0)
		rc = cs_licence_view(svc, row, cs_now(), out, NULL);
	cs_licence_row_free(row);
	return rc;
}

int
cs_licence_read(cs_service *svc, const cs_actor *who, const char *id, json_t **out)
{
	json_t *lic = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	if ((rc = cs_audit_read(svc, who, "read", id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0)
		goto out;
	*out = lic;
	lic = NULL;
out:
	json_decref(lic);
	return rc;
}

/* The stored row of licence id, an id already checked; CS_ENOTFOUND when
 * there is none. */
static int
row_get(cs_service *svc, const char *id, cs_licence_row **out)
{
	int rc;

	*out = NULL;
	rc = cs_store_licence_get(svc->store, id, out);
	if (rc == CS_ENOTFOUND)
		rc = cs_err_set(rc, "no licence %s", id);
	return rc;
}

/* The same for an id not yet checked. */
static int
row_load(cs_service *svc, const char *id, cs_licence_row **out)
{
	int rc;

	*out = NULL;
	if ((rc = cs_check_id(id)) != 0)
		return rc;
	return row_get(svc, id, out);
}

int
cs_licence_read_text(cs_service *svc, const cs_actor *who, const char *id,
    char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	cs_licence_row *row = NULL;
	int rc, shown;

	*out = NULL;
	/* cs_authorize_id checked the id. */
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = row_get(svc, id, &row)) != 0 ||
	    (rc = cs_licence_view_sb(svc, row, cs_now(), NULL, "", &b, &shown)) != 0 ||
	    (rc = cs_audit_read(svc, who, "read", id, row->holder_code, NULL, 1)) != 0)
		goto out;
	*out = b.p;
	b.p = NULL;
out:
	cs_sb_free(&b);
	cs_licence_row_free(row);
	return rc;
}

int
cs_licence_read_qr(cs_service *svc, const cs_actor *who, const char *id,
    const char *form, char **out)
{
	struct rec_scan sc;
	cs_licence_row *row = NULL;
	json_t *rec = NULL;
	json_error_t err;
	char *token = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = row_load(svc, id, &row)) != 0)
		goto out;
	if (cs_rec_scan(row->record, &sc, NULL, NULL, NULL) == 0) {
		if (sc.token == NULL)
			rc = cs_err_set(CS_EINVAL, "licence has no token");
		else if ((token = strndup(sc.token, sc.token_len)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "out of memory");
		else
			rc = cs_token_qr_text(token, form ? form :
			    svc->cfg.qr_form, svc->cfg.public_url, out);
	} else if ((rec = json_loads(row->record, 0, &err)) == NULL)
		rc = cs_err_set(CS_ESTORE, "stored record of %s is not JSON", id);
	else
		rc = cs_licence_qr_text(svc, rec, form, out);
	if (rc == 0)
		rc = cs_audit_read(svc, who, "read", id, row->holder_code, NULL, 1);
out:
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	free(token);
	json_decref(rec);
	cs_licence_row_free(row);
	return rc;
}

static const char *const public_members[] = {"id", "type", "type_name",
    "number", "holder", "issuer", "issued_at", "valid_from", "valid_until",
    "fields", "supersedes", NULL};

/*
 * Whether the token a scan found is the peeked text's zlib stream,
 * compared full length (verify.c's fast path).  A text in base64url is
 * compared as text, without decoding the stored token: base64url without
 * padding and with zero trailing bits (all cs_b64url_decode takes) is one
 * text for one byte string, so equal texts are equal streams, and any
 * other text is no stored token's.
 */
static int
stored_token_is(const struct rec_scan *sc, const cs_token_peek *pk)
{
	const uint8_t *tok = pk->compressed;
	size_t n = pk->compressed_len, zn = 0;
	uint8_t *z = NULL;
	int same;

	if (pk->b64 != NULL)
		return sc->token != NULL && pk->b64_len > 0 &&
		    sc->token_len == pk->b64_len &&
		    memcmp(sc->token, pk->b64, pk->b64_len) == 0;
	same = sc->token != NULL && cs_b64url_decode(sc->token, sc->token_len,
	    &z, &zn) == 0 && zn == n && n > 0 && memcmp(z, tok, n) == 0;
	free(z);
	return same;
}

/* The public view of row and its status; with pk, *same says whether
 * its stored token is the peeked text's (and a record the scan does not take
 * gives no view: *out NULL and 0 returned). */
static int
public_of_row(cs_service *svc, const cs_licence_row *row,
    const cs_token_peek *pk, json_t **out, const char **status_out, int *same)
{
	struct rec_scan sc;
	cs_sbuf trim = CS_SBUF_INIT;
	cs_event **evs = NULL;
	const cs_event *detail = NULL;
	json_t *full = NULL, *sd;
	json_error_t err;
	const char *status = NULL, *p;
	int64_t today;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	/* Only what the public view shows is parsed: not the token, which
	 * is a third of the record, nor the face fields outside the QR
	 * code, most of another third. */
	if (cs_rec_scan(row->record, &sc, public_members, &trim,
	    cs_catalog_find(svc->catalog, row->type)) != 0 ||
	    trim.failed) {
		/* A record the scan does not take is rare: the fast path
		 * leaves it to the full check. */
		if (pk != NULL || (rc = cs_licence_view(svc, row, cs_now(),
		    &full, &status)) != 0)
			goto out;
	} else {
		if (pk != NULL)
			*same = stored_token_is(&sc, pk);
		p = trim.p;
		if ((full = cs_flat_object(&p, 0)) == NULL &&
		    (full = json_loads(trim.p, 0, &err)) == NULL) {
			rc = cs_err_set(CS_ESTORE, "stored record of %s is not "
			    "JSON", row->id);
			goto out;
		}
		if ((rc = cs_store_events_for(svc->store, row->id, &evs,
		    &n)) != 0)
			goto out;
		today = cs_local_days(cs_now(), svc->cfg.tz_offset_minutes);
		status = cs_status_at(evs, n, today, cs_span_days(sc.from, sc.from_len,
		    today), cs_span_days(sc.until, sc.until_len, today), &detail);
		json_object_set_new(full, "status", json_string(status));
		if (detail != NULL && (sd = cs_status_detail(detail)) != NULL)
			json_object_set_new(full, "status_detail", sd);
	}
	if ((*out = cs_public_view(svc, full)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if (status_out != NULL)
		*status_out = status;  /* a static string */
out:
	json_decref(full);
	cs_sb_free(&trim);
	cs_events_free(evs, n);
	return rc;
}

int
cs_licence_public(cs_service *svc, const char *id, json_t **out,
    const char **status_out)
{
	cs_licence_row *row = NULL;
	int rc;

	*out = NULL;
	if ((rc = row_load(svc, id, &row)) == 0)
		rc = public_of_row(svc, row, NULL, out, status_out, NULL);
	cs_licence_row_free(row);
	return rc;
}

int
cs_licence_public_token(cs_service *svc, const cs_token_peek *pk,
    json_t **out, const char **status_out, int *same)
{
	cs_licence_row *row = NULL;
	int rc;

	*out = NULL;
	*same = 0;
	if ((rc = row_load(svc, pk->id, &row)) == 0)
		rc = public_of_row(svc, row, pk, out, status_out, same);
	cs_licence_row_free(row);
	return rc;
}

/* --- lifecycle ---------------------------------------------------------- */

/* Which statuses each action may start from (SPEC §1). */
static int
transition_allowed(const char *action, const char *status)
{
	int live = strcmp(status, "valid") == 0 || strcmp(status, "not_yet_valid") == 0;

	if (strcmp(action, "suspend") == 0)
		return live;
	if (strcmp(action, "reinstate") == 0)
		return strcmp(status, "suspended") == 0;
	return live || strcmp(status, "suspended") == 0;  /* revoke */
}

void
cs_reason_check(const json_t *r, int required, cs_problems *p)
{
	if (r == NULL) {
		if (required)
			cs_problems_addc(p, "reason", CS_FC_REQUIRED, "is required");
	} else if (!json_is_string(r) || json_string_length(r) == 0 ||
	    json_string_length(r) > 1000) {
		cs_problems_addc(p, "reason", CS_FC_MAX_LENGTH, "must be text of 1 to 1000 bytes");
	} else if (cs_face_text_check(json_string_value(r), json_string_length(r),
	    NULL) != 0) {
		cs_problems_adderr(p, "reason");
	}
}

static int
parse_transition(const char *action, const json_t *body, const char **reason,
    const char **kind, cs_problems *p)
{
	const json_t *r = json_object_get(body, "reason");
	const json_t *k = json_object_get(body, "kind");
	const char *key;
	json_t *v;

	if (!json_is_object(body))
		return cs_err_set(CS_EINVAL, "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "reason") != 0 &&
		    (strcmp(key, "kind") != 0 || strcmp(action, "revoke") != 0))
			cs_problems_addc(p, key, CS_FC_UNKNOWN_MEMBER, "is not a member of a %s request", action);
	cs_reason_check(r, 1, p);
	*kind = NULL;
	if (strcmp(action, "revoke") == 0) {
		*kind = k ? json_string_value(k) : "revoked";
		if (*kind == NULL || (strcmp(*kind, "revoked") != 0 &&
		    strcmp(*kind, "withdrawn") != 0 && strcmp(*kind, "cancelled") != 0))
			cs_problems_addc(p, "kind", CS_FC_ENUM, "must be one of: revoked, withdrawn, cancelled");
	}
	*reason = json_string_value(r);
	return p->n ? CS_EVALIDATION : 0;
}

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether the licence's last status change is this one: the same action,
 * kind and reason.  A caller that timed out and sends its suspension again
 * is told it holds (200), not that the licence cannot be suspended (409). */
static int
already_done(cs_store *st, const char *id, const char *action,
    const char *kind, const char *reason)
{
	cs_event **evs = NULL;
	size_t n = 0;
	int same = 0;

	if (cs_store_events_for(st, id, &evs, &n) != 0)
		return 0;
	if (n > 0)
		same = strcmp(evs[n - 1]->action, action) == 0 &&
		    same_text(evs[n - 1]->kind, kind) &&
		    same_text(evs[n - 1]->reason, reason);
	cs_events_free(evs, n);
	return same;
}

/* The change event of a transition, in its transaction: the licence as
 * the status event just appended leaves it (read back inside the
 * transaction, which sees its own writes). */
static int
emit_transition(cs_service *svc, const char *id, const char *action,
    const char *reason, const char *kind)
{
	json_t *now = NULL;
	int rc;

	if ((rc = cs_licence_load(svc, id, &now)) == 0)
		rc = cs_change_emit(svc, strcmp(action, "suspend") == 0 ?
		    "licence.suspended" : strcmp(action, "reinstate") == 0 ?
		    "licence.reinstated" : "licence.revoked", now,
		    json_string_value(json_object_get(now, "status")), reason,
		    kind);
	json_decref(now);
	return rc;
}

int
cs_licence_transition(cs_service *svc, const cs_actor *who, const char *id,
    const char *action, const json_t *body, json_t **out, int *replayed,
    cs_problems *p)
{
	cs_store *st = svc->store;
	json_t *lic = NULL;
	const char *reason = NULL, *kind = NULL, *status;
	cs_event ev;
	int rc, in_tx = 0;

	*out = NULL;
	*replayed = 0;
	if (strcmp(action, "suspend") != 0 && strcmp(action, "reinstate") != 0 &&
	    strcmp(action, "revoke") != 0)
		return cs_err_set(CS_EINVAL, "unknown action '%.16s'", action);
	if ((rc = cs_authorize_id(svc, who, id, action)) != 0 ||
	    (rc = parse_transition(action, body, &reason, &kind, p)) != 0)
		goto out;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	in_tx = 1;
	/* Read the status under the writer lock so two transitions of one
	 * licence are serialised. */
	if ((rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	status = json_string_value(json_object_get(lic, "status"));
	if (!transition_allowed(action, status) &&
	    already_done(st, id, action, kind, reason)) {
		*replayed = 1;
		*out = lic;
		lic = NULL;
		goto out;
	}
	if (!transition_allowed(action, status)) {
		rc = cs_err_setc(CS_ECONFLICT, CS_CAUSE_ILLEGAL_TRANSITION,
		    "licence %s is %s: it cannot be %s", id,
		    status, strcmp(action, "suspend") == 0 ? "suspended"
		    : strcmp(action, "reinstate") == 0 ? "reinstated" : "revoked");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.licence_id = (char *)id;
	ev.at = (int64_t)cs_now();
	ev.actor = who->client->name;
	ev.action = (char *)action;
	ev.kind = (char *)kind;
	ev.reason = (char *)reason;
	if ((rc = cs_store_event_append(st, &ev)) != 0 ||
	    (rc = cs_audit(svc, who, action, id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0 || (rc = emit_transition(svc, id, action, reason,
	    kind)) != 0 || (rc = cs_store_commit(st)) != 0)
		goto out;
	in_tx = 0;
	rc = cs_licence_load(svc, id, out);
out:
	if (in_tx)
		cs_store_rollback(st);
	json_decref(lic);
	return rc;
}
