/*
 * issue_amend.c: amendments: a new version of a valid licence, issued
 * from the old one's content with the changes asked for, which supersedes
 * it in the same transaction.
 */
#include "issue_internal.h"

#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "timeutil.h"

/* The request of a new version: the old licence's content with the
 * amendment's changes on top.  fields are merged (a null removes one).
 * Validity is carried over like the rest: without valid_from, a change of
 * address to a licence not yet in force would put it in force today. */
static json_t *
amended_request(const json_t *old, const json_t *body)
{
	json_t *req = json_pack("{sO sO sO sO sO sO s{sO}}", "type",
	    json_object_get(old, "type"), "holder", json_object_get(old, "holder"),
	    "valid_from", json_object_get(old, "valid_from"),
	    "valid_until", json_object_get(old, "valid_until"), "number",
	    json_object_get(old, "number"), "fields", json_object_get(old, "fields"),
	    "issuer", "code", json_object_get(json_object_get(old, "issuer"), "code"));
	json_t *fields, *holder;
	const char *key;
	json_t *v;

	if (req == NULL)
		return NULL;
	fields = json_deep_copy(json_object_get(old, "fields"));
	holder = json_deep_copy(json_object_get(old, "holder"));
	json_object_set_new(req, "fields", fields);
	json_object_set_new(req, "holder", holder);
	json_object_foreach((json_t *)body, key, v) {
		if (strcmp(key, "fields") == 0 && json_is_object(v)) {
			const char *fk;
			json_t *fv;
			json_object_foreach(v, fk, fv) {
				if (json_is_null(fv))
					json_object_del(fields, fk);
				else
					json_object_set(fields, fk, fv);
			}
		} else if (strcmp(key, "holder") == 0 && json_is_object(v) &&
		    json_object_get(v, "name") != NULL) {
			/* A holder may be renamed; its code stays. */
			json_object_set(holder, "name", json_object_get(v, "name"));
		} else if (strcmp(key, "reason") != 0) {
			json_object_set(req, key, v);
		}
	}
	return req;
}

static int
check_amend_body(const json_t *body, cs_problems *p)
{
	static const char *const members[] = {"approval_ref", "valid_from",
	    "valid_until", "number", "fields", "holder", "reason", NULL};
	const json_t *h = json_object_get(body, "holder");
	const char *key;
	char f[256];
	json_t *v;

	if (!json_is_object(body))
		return cs_err_set(CS_EINVAL, "an amendment must be a JSON object");
	cs_issue_unknown_members(body, members, "", p);
	cs_reason_check(json_object_get(body, "reason"), 0, p);
	if (h != NULL) {
		if (!json_is_object(h))
			cs_problems_addc(p, "holder", CS_FC_TYPE, "must be an object");
		else
			json_object_foreach((json_t *)h, key, v)
				if (strcmp(key, "name") != 0)
					cs_problems_addc(p, cs_issue_path(f, sizeof(f), "holder", key), CS_FC_INVALID,
					    "cannot change in an amendment: issue a new licence");
	}
	return p->n ? CS_EVALIDATION : 0;
}

int
cs_licence_amend(cs_service *svc, const cs_actor *who, const char *id,
    const json_t *body, json_t **out, int *created, cs_problems *p)
{
	cs_store *st = svc->store;
	json_t *old = NULL, *req = NULL, *rec = NULL;
	struct placement pl = {NULL, NULL, NULL, 1, NULL, NULL};
	struct req r;
	cs_licence_id parts;
	cs_event ev;
	struct request_hashes hash;
	const char *status;
	int rc, in_tx = 0;

	*out = NULL;
	*created = 0;
	memset(&r, 0, sizeof(r));
	if ((rc = cs_authorize_id(svc, who, id, "amend")) != 0 ||
	    (rc = check_amend_body(body, p)) != 0 ||
	    (rc = cs_licence_load(svc, id, &old)) != 0)
		goto out;
	if ((req = amended_request(old, body)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_issue_parse_request(svc, who, req, "", NULL, &r, p)) != 0 ||
	    (rc = cs_issue_hash_request(req, &r, &hash)) != 0)
		goto out;
	cs_licence_id_parse(id, &parts);
	if (parts.version >= 999) {
		rc = cs_err_setc(CS_ECONFLICT, CS_CAUSE_ILLEGAL_TRANSITION,
		    "licence %s has no version left", id);
		goto out;
	}
	pl.supersedes = id;
	pl.serial = parts.serial;
	pl.version = parts.version + 1;
	pl.hash = &hash;
	pl.ref_key = r.approval_ref;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	in_tx = 1;
	if ((rc = cs_issue_find_existing(svc, who, r.approval_ref, &hash, out, NULL)) !=
	    CS_ENOTFOUND)
		goto out;
	/* Status is read under the writer lock: two amendments cannot both
	 * supersede the same version. */
	json_decref(old);
	old = NULL;
	if ((rc = cs_licence_load(svc, id, &old)) != 0)
		goto out;
	status = json_string_value(json_object_get(old, "status"));
	if (strcmp(status, "valid") != 0 && strcmp(status, "not_yet_valid") != 0) {
		rc = cs_err_setc(CS_ECONFLICT, CS_CAUSE_ILLEGAL_TRANSITION,
		    "licence %s is %s: only a valid licence "
		    "can be amended", id, status);
		goto out;
	}
	if ((rc = cs_issue_locked(svc, who, &r, &pl, &rec, NULL, p)) != 0)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.licence_id = (char *)id;
	ev.at = (int64_t)cs_now();
	ev.actor = who->client->name;
	ev.action = "supersede";
	ev.reason = (char *)json_string_value(json_object_get(body, "reason"));
	ev.ref = (char *)json_string_value(json_object_get(rec, "id"));
	if ((rc = cs_store_event_append(st, &ev)) != 0 ||
	    (rc = cs_store_commit(st)) != 0)
		goto out;
	in_tx = 0;
	*created = 1;
	*out = cs_record_view(svc, rec, NULL, 0, NULL, cs_now(), NULL);
	if (*out == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	if (in_tx)
		cs_store_rollback(st);
	cs_issue_req_reset(&r);
	json_decref(old);
	json_decref(req);
	json_decref(rec);
	return rc;
}
