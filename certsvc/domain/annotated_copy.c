/*
 * annotated_copy.c: annotated copies (加注件, SPEC §12) as the domain keeps them: a
 * copy made (its terms checked, recorded and audited in one transaction),
 * a copy fetched for its PDF by a client who may read the licence, and a
 * copy verified by anyone holding its id.  Drawing and signing the PDF is
 * the render layer's (licence_copy.c); here nothing touches a file.
 */
#include "service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "codes.h"
#include "cs_err.h"
#include "text.h"
#include "timeutil.h"

static const char copy_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* 24 characters of 0-9A-Z, about 124 random bits: a copy id cannot be
 * guessed, and it is what a verifier types or scans. */
static int
copy_id_new(char out[CS_COPY_ID_LEN + 1])
{
	uint8_t raw[CS_COPY_ID_LEN];
	int i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("copy id");
	for (i = 0; i < CS_COPY_ID_LEN; i++)
		out[i] = copy_alphabet[raw[i] % 36];
	out[CS_COPY_ID_LEN] = '\0';
	return 0;
}

int
cs_copy_id_check(const char *id)
{
	size_t i;

	if (id == NULL || strlen(id) != CS_COPY_ID_LEN)
		return cs_err_set(CS_EINVAL, "a copy id is %d characters",
		    CS_COPY_ID_LEN);
	for (i = 0; i < CS_COPY_ID_LEN; i++)
		if (strchr(copy_alphabet, id[i]) == NULL || id[i] == '\0')
			return cs_err_set(CS_EINVAL, "a copy id is made of 0-9 "
			    "and A-Z");
	return 0;
}

/* Text a copy prints (purpose, the user's name): 1..max characters that
 * may be printed as they are (cs_face_text_check). */
static void
text_check(const json_t *v, const char *field, size_t max, cs_problems *p)
{
	size_t chars = 0;

	if (!json_is_string(v))
		cs_problems_addc(p, field, CS_FC_TYPE, "must be a string");
	else if (json_string_length(v) == 0)
		cs_problems_addc(p, field, CS_FC_EMPTY, "must not be empty");
	else if (cs_face_text_check(json_string_value(v),
	    json_string_length(v), &chars) != 0)
		cs_problems_adderr(p, field);
	else if (chars > max)
		cs_problems_addc(p, field, CS_FC_MAX_LENGTH, "%zu characters, at most %zu", chars,
		    max);
}

/* The user (used_by): {"name", "code"?}, code a USCC or resident ID. */
static void
used_by_check(const json_t *u, cs_problems *p)
{
	const json_t *code = json_object_get(u, "code");
	const char *k;
	json_t *v;
	char c[32];

	if (!json_is_object(u)) {
		cs_problems_addc(p, "used_by", CS_FC_TYPE, "must be an object {\"name\", "
		    "\"code\"}");
		return;
	}
	json_object_foreach((json_t *)u, k, v)
		if (strcmp(k, "name") != 0 && strcmp(k, "code") != 0)
			cs_problems_addc(p, "used_by", CS_FC_UNKNOWN_MEMBER, "unknown member %s", k);
	text_check(json_object_get(u, "name"), "used_by.name", 200, p);
	if (code == NULL)
		return;
	if (!json_is_string(code) || json_string_length(code) >= sizeof(c)) {
		cs_problems_addc(p, "used_by.code", CS_FC_TYPE, "must be a credit code or a "
		    "resident ID number");
		return;
	}
	snprintf(c, sizeof(c), "%s", json_string_value(code));
	if (cs_code_check_uscc(c) != 0 && cs_code_check_rid(c) != 0)
		cs_problems_addc(p, "used_by.code", CS_FC_INVALID, "neither a valid credit code "
		    "nor a valid resident ID number");
}

/* The request: {"purpose", "used_by"?, "expires_in_days"?}; *days its
 * term. */
static int
request_check(const json_t *body, int *days, cs_problems *p)
{
	const json_t *d = json_object_get(body, "expires_in_days");
	const char *k;
	json_t *v;

	if (!json_is_object(body))
		return cs_err_set(CS_EINVAL, "the body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
		if (strcmp(k, "purpose") && strcmp(k, "used_by") &&
		    strcmp(k, "expires_in_days"))
			cs_problems_addc(p, k, CS_FC_UNKNOWN_MEMBER, "unknown member");
	text_check(json_object_get(body, "purpose"), "purpose",
	    CS_COPY_PURPOSE_MAX, p);
	if (json_object_get(body, "used_by") != NULL)
		used_by_check(json_object_get(body, "used_by"), p);
	*days = CS_COPY_DAYS_DEFAULT;
	if (d != NULL && (!json_is_integer(d) || json_integer_value(d) < 1 ||
	    json_integer_value(d) > CS_COPY_DAYS_MAX))
		cs_problems_addc(p, "expires_in_days", CS_FC_RANGE, "must be an integer from 1 "
		    "to %d", CS_COPY_DAYS_MAX);
	else if (d != NULL)
		*days = (int)json_integer_value(d);
	return p->n > 0 ? cs_err_set(CS_EVALIDATION, "the copy request is "
	    "not valid") : 0;
}

/* Valid before the start of the day days after today, local time: the
 * date printed as {date}前有效. */
static time_t
copy_expiry(cs_service *svc, time_t now, int days)
{
	long tz = svc->cfg.tz_offset_minutes;

	return cs_day_start(cs_local_days(now, tz) + days, tz);
}

void
cs_copy_until(cs_service *svc, const cs_copy_row *c, char out[11])
{
	cs_date_format(cs_local_days((time_t)c->expires_at,
	    svc->cfg.tz_offset_minutes), out);
}

/* The row and its audit record, one transaction.  Reads answered before
 * are committed first, so that the log (and the holder's record read from
 * it, usage.c) has the copy after them, as it happened. */
static int
copy_record(cs_service *svc, const cs_actor *who, const cs_copy_row *c,
    const char *holder)
{
	cs_purpose why = {c->purpose, NULL, c->id};
	int rc;

	if ((rc = cs_audit_settle(svc)) != 0 ||
	    (rc = cs_store_begin(svc->store)) != 0)
		return rc;
	if ((rc = cs_store_copy_put(svc->store, c)) != 0 ||
	    (rc = cs_audit(svc, who, "copy", c->licence_id, holder, &why,
	    1)) != 0 ||
	    (rc = cs_store_commit(svc->store)) != 0) {
		cs_store_rollback(svc->store);
		return rc;
	}
	return 0;
}

int
cs_copy_create(cs_service *svc, const cs_actor *who, const char *id,
    const json_t *body, json_t **out, cs_problems *p)
{
	const json_t *u = json_object_get(body, "used_by");
	char cid[CS_COPY_ID_LEN + 1], exp[21], path[64];
	cs_copy_row c;
	json_t *lic = NULL;
	time_t now = cs_now();
	int days = 0, rc;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = request_check(body, &days, p)) != 0 ||
	    (rc = cs_licence_load(svc, id, &lic)) != 0 ||
	    (rc = copy_id_new(cid)) != 0)
		goto out;
	memset(&c, 0, sizeof(c));
	c.id = cid;
	c.licence_id = (char *)id;
	c.client = who->client->name;
	c.purpose = (char *)json_string_value(json_object_get(body, "purpose"));
	c.used_by_name = (char *)json_string_value(json_object_get(u, "name"));
	c.used_by_code = (char *)json_string_value(json_object_get(u, "code"));
	c.created_at = now;
	c.expires_at = copy_expiry(svc, now, days);
	if ((rc = copy_record(svc, who, &c, json_string_value(json_object_get(
	    json_object_get(lic, "holder"), "code")))) != 0)
		goto out;
	cs_rfc3339((time_t)c.expires_at, exp);
	snprintf(path, sizeof(path), "/api/v1/copies/%s.pdf", cid);
	if ((*out = json_pack("{ss ss ss}", "copy_id", cid, "expires_at", exp,
	    "pdf", path)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	json_decref(lic);
	return rc;
}

int
cs_copy_get(cs_service *svc, const cs_actor *who, const char *copy_id,
    cs_copy_row **row, json_t **licence)
{
	cs_copy_row *c = NULL;
	int rc;

	*row = NULL;
	*licence = NULL;
	if ((rc = cs_copy_id_check(copy_id)) != 0)
		return rc;
	if ((rc = cs_store_copy_get(svc->store, copy_id, &c)) != 0) {
		if (rc == CS_ENOTFOUND)
			cs_err_set(rc, "no copy %s", copy_id);
		return rc;
	}
	if ((rc = cs_authorize_id(svc, who, c->licence_id, "read")) != 0 ||
	    (rc = cs_licence_load(svc, c->licence_id, licence)) != 0 ||
	    (rc = cs_audit_read(svc, who, "copy_read", c->id,
	    json_string_value(json_object_get(json_object_get(*licence,
	    "holder"), "code")), NULL, 1)) != 0) {
		json_decref(*licence);
		*licence = NULL;
		cs_copy_row_free(c);
		return rc;
	}
	*row = c;
	return 0;
}

/* The copy's terms as a verification shows them. */
static json_t *
copy_terms(cs_service *svc, const cs_copy_row *c, int expired)
{
	char exp[21];
	json_t *u = json_null();

	cs_rfc3339((time_t)c->expires_at, exp);
	if (c->used_by_name != NULL)
		u = json_pack("{ss s?s}", "name", c->used_by_name, "code",
		    c->used_by_code);
	return json_pack("{ss ss so ss sb}", "copy_id", c->id, "purpose",
	    c->purpose, "used_by", u ? u : json_null(), "expires_at", exp,
	    "expired", expired);
}

int
cs_verify_copy(cs_service *svc, const cs_actor *who, const char *copy_id,
    json_t **out)
{
	cs_copy_row *c = NULL;
	json_t *v = NULL;
	int expired, rc;

	*out = NULL;
	if (cs_copy_id_check(copy_id) != 0)
		return cs_verify_result("malformed", cs_err_msg(), NULL, out);
	if ((rc = cs_store_copy_get(svc->store, copy_id, &c)) == CS_ENOTFOUND)
		return cs_verify_result("not_found", "no such annotated "
		    "copy / 未找到此加注件", NULL, out);
	if (rc != 0)
		return rc;
	expired = cs_now() >= (time_t)c->expires_at;
	if ((rc = cs_verify_licence(svc, c->licence_id, &v)) != 0)
		goto out;
	/* The licence may be in force; the copy's own term has run out. */
	if (expired && strcmp(json_string_value(json_object_get(v, "result")),
	    "valid") == 0) {
		json_object_set_new(v, "result", json_string("expired"));
		json_object_set_new(v, "reason", json_string("the licence is in "
		    "force, this annotated copy has expired / 证照有效，此加注件"
		    "已过期"));
	}
	json_object_set_new(v, "copy", copy_terms(svc, c, expired));
	if ((rc = cs_audit_read(svc, who, "verify_copy", c->id, NULL, NULL,
	    1)) != 0)
		goto out;
	*out = v;
	v = NULL;
out:
	json_decref(v);
	cs_copy_row_free(c);
	return rc;
}
