/*
 * licence.c: reading licences (the full and the public view, with the
 * status derived from events and the clock), the lifecycle transitions and
 * the lookup of a holder's licences.
 */
#include "service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "timeutil.h"
#include "token.h"

/* --- status ------------------------------------------------------------- */

static int64_t
date_days(const json_t *v, int64_t def)
{
	int y, m, d;

	if (!json_is_string(v) || cs_date_parse(json_string_value(v), &y, &m, &d) != 0)
		return def;
	return cs_days_from_civil(y, m, d);
}

/*
 * Events are replayed in order: suspend and reinstate toggle, revoke and
 * supersede are terminal.  Lifecycle states outrank the calendar: a
 * revoked licence is revoked even after its end date.
 */
const char *
cs_status_of(const json_t *rec, cs_event **evs, size_t n, time_t now,
    long tz_min, const cs_event **detail)
{
	const cs_event *last = NULL;
	const char *state = NULL;
	int64_t today = cs_local_days(now, tz_min);
	size_t i;

	for (i = 0; i < n; i++) {
		const char *a = evs[i]->action;
		if (state != NULL && (strcmp(state, "revoked") == 0 ||
		    strcmp(state, "superseded") == 0))
			break;
		if (strcmp(a, "suspend") == 0)
			state = "suspended";
		else if (strcmp(a, "reinstate") == 0)
			state = NULL;
		else if (strcmp(a, "revoke") == 0)
			state = "revoked";
		else if (strcmp(a, "supersede") == 0)
			state = "superseded";
		else
			continue;
		last = evs[i];
	}
	if (detail != NULL)
		*detail = state ? last : NULL;
	if (state != NULL)
		return state;
	if (today < date_days(json_object_get(rec, "valid_from"), today))
		return "not_yet_valid";
	if (today > date_days(json_object_get(rec, "valid_until"), today))
		return "expired";
	return "valid";
}

/* --- views -------------------------------------------------------------- */

static json_t *
status_detail(const cs_event *e)
{
	char at[21];

	cs_rfc3339((time_t)e->at, at);
	return json_pack("{ss ss so* so* so*}", "action", e->action, "at", at,
	    "kind", e->kind ? json_string(e->kind) : NULL,
	    "reason", e->reason ? json_string(e->reason) : NULL,
	    "superseded_by", strcmp(e->action, "supersede") == 0 && e->ref
		? json_string(e->ref) : NULL);
}

/* The view built on v itself, whose reference the caller gives up, as is
 * related's (NULL: none): no copy of a record just parsed. */
static json_t *
view_in_place(cs_service *svc, json_t *v, cs_event **evs, size_t n,
    json_t *related, time_t now, const char **status_out)
{
	const cs_event *detail = NULL;
	const char *status;
	char *qr = NULL;

	status = cs_status_of(v, evs, n, now, svc->cfg.tz_offset_minutes, &detail);
	json_object_set_new(v, "related", related ? related : json_array());
	json_object_set_new(v, "status", json_string(status));
	if (detail != NULL)
		json_object_set_new(v, "status_detail", status_detail(detail));
	if (cs_licence_qr_text(svc, v, NULL, &qr) == 0)
		json_object_set_new(v, "qr_text", json_string(qr));
	free(qr);
	if (status_out != NULL)
		*status_out = status;  /* a static string */
	return v;
}

json_t *
cs_record_view(cs_service *svc, const json_t *rec, cs_event **evs, size_t n,
    const json_t *related, time_t now, const char **status_out)
{
	json_t *v = json_deep_copy(rec);

	if (v == NULL)
		return NULL;
	return view_in_place(svc, v, evs, n, related ? json_deep_copy(related) :
	    NULL, now, status_out);
}

static json_t *
related_ids(cs_service *svc, const cs_licence_row *row)
{
	cs_licence_row **rows = NULL;
	json_t *ids;
	size_t i, n = 0;

	if (row->bundle == NULL ||
	    svc->store->ops->licences_by_bundle(svc->store, row->bundle, &rows, &n) != 0)
		return NULL;
	ids = json_array();
	for (i = 0; i < n; i++)
		if (strcmp(rows[i]->id, row->id) != 0)
			json_array_append_new(ids, json_string(rows[i]->id));
	cs_licence_rows_free(rows, n);
	return ids;
}

int
cs_licence_view(cs_service *svc, const cs_licence_row *row, time_t now,
    json_t **out, const char **status_out)
{
	cs_event **evs = NULL;
	size_t n = 0;
	json_t *rec = NULL, *related = NULL;
	json_error_t err;
	int rc;

	*out = NULL;
	if ((rec = json_loads(row->record, 0, &err)) == NULL) {
		rc = cs_err_set(CS_ESTORE, "stored record of %s is not JSON", row->id);
		goto out;
	}
	if ((rc = svc->store->ops->events_for(svc->store, row->id, &evs, &n)) != 0)
		goto out;
	related = related_ids(svc, row);
	/* rec was parsed for this view alone: built on it, not on a copy. */
	*out = view_in_place(svc, rec, evs, n, related, now, status_out);
	rec = NULL;
	related = NULL;
out:
	json_decref(rec);
	json_decref(related);
	cs_events_free(evs, n);
	return rc;
}

json_t *
cs_public_view(cs_service *svc, const json_t *full)
{
	const json_t *holder = json_object_get(full, "holder");
	const cs_type *t = cs_catalog_find(svc->catalog,
	    json_string_value(json_object_get(full, "type")));
	const char *ct = json_string_value(json_object_get(holder, "code_type"));
	const char *code = json_string_value(json_object_get(holder, "code"));
	char masked[64] = "";
	json_t *fields = json_object(), *v;
	size_t i;

	if (code != NULL && strlen(code) < sizeof(masked)) {
		if (ct != NULL && strcmp(ct, "RID") == 0)
			cs_code_mask(code, masked);
		else
			snprintf(masked, sizeof(masked), "%s", code);
	}
	for (i = 0; t != NULL && i < t->n_fields; i++)
		if (t->fields[i].in_qr &&
		    (v = json_object_get(json_object_get(full, "fields"),
		    t->fields[i].name)) != NULL)
			json_object_set(fields, t->fields[i].name, v);
	return json_pack("{sO sO sO sO s{sO sO ss} sO sO sO sO so sO sO* sO*}",
	    "id", json_object_get(full, "id"), "type", json_object_get(full, "type"),
	    "type_name", json_object_get(full, "type_name"),
	    "number", json_object_get(full, "number"),
	    "holder", "name", json_object_get(holder, "name"),
	    "code_type", json_object_get(holder, "code_type"), "code", masked,
	    "issuer", json_object_get(full, "issuer"),
	    "issued_at", json_object_get(full, "issued_at"),
	    "valid_from", json_object_get(full, "valid_from"),
	    "valid_until", json_object_get(full, "valid_until"),
	    "fields", fields, "status", json_object_get(full, "status"),
	    "supersedes", json_object_get(full, "supersedes"),
	    "status_detail", json_object_get(full, "status_detail"));
}

int
cs_licence_qr_text(cs_service *svc, const json_t *lic, const char *form, char **out)
{
	const char *token = json_string_value(json_object_get(lic, "token"));

	*out = NULL;
	if (token == NULL)
		return cs_err_set(CS_EINVAL, "licence has no token");
	return cs_token_qr_text(token, form ? form : svc->cfg.qr_form,
	    svc->cfg.public_url, out);
}

/* --- reads -------------------------------------------------------------- */

int
cs_licence_load(cs_service *svc, const char *id, json_t **out)
{
	cs_licence_row *row = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_check_id(id)) != 0)
		return rc;
	rc = svc->store->ops->licence_get(svc->store, id, &row);
	if (rc == CS_ENOTFOUND)
		rc = cs_err_set(rc, "no licence %s", id);
	if (rc == 0)
		rc = cs_licence_view(svc, row, cs_now(), out, NULL);
	cs_licence_row_free(row);
	return rc;
}

static int
authorize_read(const cs_actor *who, const json_t *lic)
{
	const char *type = json_string_value(json_object_get(lic, "type"));
	const char *issuer =
	    json_string_value(json_object_get(json_object_get(lic, "issuer"), "code"));

	if (!cs_may_read(who ? who->client : NULL, type, issuer))
		return cs_err_set(CS_EFORBIDDEN, "no grant to read licences of type %s", type);
	return 0;
}

int
cs_licence_read(cs_service *svc, const cs_actor *who, const char *id, json_t **out)
{
	json_t *lic = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	if ((rc = authorize_read(who, lic)) != 0)
		goto out;
	if ((rc = cs_audit(svc, who, "read", id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0)
		goto out;
	*out = lic;
	lic = NULL;
out:
	json_decref(lic);
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
			cs_problems_add(p, key, "is not a member of a %s request", action);
	if (!json_is_string(r) || json_string_length(r) == 0 ||
	    json_string_length(r) > 1000)
		cs_problems_add(p, "reason", r == NULL ? "is required"
		    : "must be text of 1 to 1000 bytes");
	*kind = NULL;
	if (strcmp(action, "revoke") == 0) {
		*kind = k ? json_string_value(k) : "revoked";
		if (*kind == NULL || (strcmp(*kind, "revoked") != 0 &&
		    strcmp(*kind, "withdrawn") != 0 && strcmp(*kind, "cancelled") != 0))
			cs_problems_add(p, "kind", "must be one of: revoked, withdrawn, cancelled");
	}
	*reason = json_string_value(r);
	return p->n ? CS_EVALIDATION : 0;
}

int
cs_licence_transition(cs_service *svc, const cs_actor *who, const char *id,
    const char *action, const json_t *body, json_t **out, cs_problems *p)
{
	cs_store *st = svc->store;
	json_t *lic = NULL;
	const char *reason = NULL, *kind = NULL, *status, *type, *issuer;
	cs_event ev;
	int rc, in_tx = 0;

	*out = NULL;
	if (strcmp(action, "suspend") != 0 && strcmp(action, "reinstate") != 0 &&
	    strcmp(action, "revoke") != 0)
		return cs_err_set(CS_EINVAL, "unknown action '%.16s'", action);
	if ((rc = cs_check_id(id)) != 0 ||
	    (rc = parse_transition(action, body, &reason, &kind, p)) != 0)
		goto out;
	if ((rc = st->ops->begin(st)) != 0)
		goto out;
	in_tx = 1;
	/* Read the status under the writer lock so two transitions of one
	 * licence are serialised. */
	if ((rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	type = json_string_value(json_object_get(lic, "type"));
	issuer = json_string_value(json_object_get(json_object_get(lic, "issuer"), "code"));
	if (who->client == NULL || strcmp(who->client->role, "issuer") != 0 ||
	    !cs_may_read(who->client, type, issuer)) {
		rc = cs_err_set(CS_EFORBIDDEN, "only the licence's issuer may %s it", action);
		goto out;
	}
	status = json_string_value(json_object_get(lic, "status"));
	if (!transition_allowed(action, status)) {
		rc = cs_err_set(CS_ECONFLICT, "licence %s is %s: it cannot be %s", id,
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
	if ((rc = st->ops->event_append(st, &ev)) != 0 ||
	    (rc = cs_audit(svc, who, action, id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0 || (rc = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	rc = cs_licence_load(svc, id, out);
out:
	if (in_tx)
		st->ops->rollback(st);
	json_decref(lic);
	return rc;
}

/* --- holder lookup ------------------------------------------------------ */

static int
check_purpose(const cs_purpose *why)
{
	const char *s;
	size_t chars = 0;

	if (why == NULL || why->purpose == NULL || why->purpose[0] == '\0')
		return cs_err_set(CS_EINVAL, "X-Purpose is required: say why the "
		    "licences are read (申请事由)");
	for (s = why->purpose; *s; s++)
		chars += ((*s & 0xc0) != 0x80);
	if (chars > 200)
		return cs_err_set(CS_EINVAL, "X-Purpose is %zu characters, at most 200", chars);
	return 0;
}

static const char *const statuses[] = {"valid", "not_yet_valid", "expired",
    "suspended", "revoked", "superseded"};

/*
 * The lookup's parameters, each problem naming its own (docs/design.md):
 * the holder code of the path "code", the filters "status" and "type".
 * CS_EINVAL (a 400, like a malformed licence id in a path) with every
 * problem in p, or 0 with the code normalised into norm.
 */
static int
check_lookup(cs_service *svc, const char *code, const char *type,
    const char *status, char *norm, size_t n, cs_problems *p)
{
	size_t before = p->n, i;
	int known = status == NULL;

	if (strlen(code) != CS_USCC_LEN) {
		cs_problems_add(p, "code", "holder code is %zu characters, "
		    "expected 18", strlen(code));
	} else {
		snprintf(norm, n, "%s", code);
		/* A code is either kind; pilot codes fail both checks yet
		 * exist, so a failing check is not an error here: the lookup
		 * finds nothing. */
		if (cs_code_check_uscc(norm) != 0)
			cs_code_check_rid(norm);
	}
	for (i = 0; !known && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known = strcmp(status, statuses[i]) == 0;
	if (!known)
		cs_problems_add(p, "status", "status '%.32s' is not one of valid, "
		    "not_yet_valid, expired, suspended, revoked, superseded",
		    status);
	if (type != NULL && cs_catalog_find(svc->catalog, type) == NULL)
		cs_problems_add(p, "type", "type '%.32s' is not in the catalog",
		    type);
	if (p->n == before)
		return 0;
	if (p->n == before + 1)
		return cs_err_set(CS_EINVAL, "%s", p->items[before].message);
	return cs_err_set(CS_EINVAL, "%s; and %zu more problems",
	    p->items[before].message, p->n - before - 1);
}

int
cs_holder_licences(cs_service *svc, const cs_actor *who, const char *code,
    const char *type, const char *status, const cs_purpose *why, json_t **out,
    cs_problems *problems)
{
	cs_problems none = CS_PROBLEMS_INIT;
	cs_licence_row **rows = NULL;
	char norm[CS_USCC_LEN + 1];
	json_t *list = json_array(), *v;
	const char *st;
	size_t i, n = 0;
	time_t now = cs_now();
	int rc;

	*out = NULL;
	/* SPEC §5: a reader, and only a reader.  An admin reads licences and
	 * the audit log, but a lookup of everything a holder has is the
	 * partner agencies' business, granted per type and stated purpose. */
	if (who == NULL || who->client == NULL ||
	    strcmp(who->client->role, "reader") != 0) {
		rc = cs_err_set(CS_EFORBIDDEN, "only a reader client may look up a "
		    "holder's licences");
		goto out;
	}
	if ((rc = check_purpose(why)) != 0) {
		cs_problems_add(problems ? problems : &none, "X-Purpose", "%s",
		    cs_err_msg());
		goto out;
	}
	if ((rc = check_lookup(svc, code, type, status, norm, sizeof(norm),
	    problems ? problems : &none)) != 0)
		goto out;
	if ((rc = svc->store->ops->licences_by_holder(svc->store, norm, type, &rows,
	    &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!cs_may_read(who->client, rows[i]->type, rows[i]->issuer_code))
			continue;
		if ((rc = cs_licence_view(svc, rows[i], now, &v, &st)) != 0)
			goto out;
		if (status != NULL && strcmp(status, st) != 0)
			json_decref(v);
		else
			json_array_append_new(list, v);
	}
	if ((rc = cs_audit(svc, who, "holder_lookup", norm, norm, why,
	    (int64_t)json_array_size(list))) != 0)
		goto out;
	*out = json_pack("{ss sO}", "holder_code", norm, "certificates", list);
	if (*out == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	cs_problems_reset(&none);
	json_decref(list);
	cs_licence_rows_free(rows, n);
	return rc;
}
