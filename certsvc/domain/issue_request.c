/*
 * issue_request.c: an issuance request validated (SPEC §1) against the
 * catalog, the client's grants and the holder code rules, into a struct
 * req for issue.c.  Every problem found goes back with its path.
 */
#include "issue_internal.h"

#include <stdio.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "timeutil.h"

void
cs_issue_req_reset(struct req *r)
{
	json_decref(r->fields);
	r->fields = NULL;
}

static const char *const request_members[] = {"type", "approval_ref", "holder",
    "valid_from", "valid_until", "number", "issuer", "fields", NULL};
static const char *const holder_members[] = {"name", "code_type", "code",
    "unchecked", NULL};

const char *
cs_issue_path(char *buf, size_t n, const char *prefix, const char *name)
{
	snprintf(buf, n, "%s%s%s", prefix, *prefix ? "." : "", name);
	return buf;
}

static int
is_member(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

void
cs_issue_unknown_members(const json_t *obj, const char *const *allowed,
    const char *prefix, cs_problems *p)
{
	const char *key;
	json_t *v;
	char f[256];

	json_object_foreach((json_t *)obj, key, v)
		if (!is_member(allowed, key))
			cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, key), CS_FC_UNKNOWN_MEMBER,
			    "is not a member of an issuance request");
}

/* A required or optional text member of 1..max characters (characters
 * are what a person counts).  Holder names and numbers are printed on the
 * face, and every member goes into records and logs, so each is text a
 * face may show as it is (cs_face_text_check): nothing trimmed. */
const char *
cs_issue_text_member(const json_t *obj, const char *name, int required, size_t max,
    const char *prefix, cs_problems *p)
{
	const json_t *v = json_object_get(obj, name);
	char f[256];
	size_t chars = 0;

	if (v == NULL || json_is_null(v)) {
		if (required)
			cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name), CS_FC_REQUIRED, "is required");
		return NULL;
	}
	if (!json_is_string(v)) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name), CS_FC_TYPE, "must be text");
		return NULL;
	}
	if (cs_face_text_check(json_string_value(v), json_string_length(v),
	    &chars) != 0) {
		cs_problems_adderr(p, cs_issue_path(f, sizeof(f), prefix, name));
		return NULL;
	}
	if (chars == 0 || chars > max) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name),
		    chars == 0 ? CS_FC_EMPTY : CS_FC_MAX_LENGTH,
		    chars == 0 ? "must not be empty" : "is %zu characters, at most %zu",
		    chars, max);
		return NULL;
	}
	return json_string_value(v);
}

static int64_t
date_member(const json_t *obj, const char *name, int64_t def, int null_ok,
    const char *prefix, cs_problems *p)
{
	const json_t *v = json_object_get(obj, name);
	char f[256];
	int y, m, d;

	if (v == NULL)
		return def;
	if (json_is_null(v)) {
		if (null_ok)
			return -1;
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name), CS_FC_REQUIRED,
		    "must be a date: licences of this type expire");
		return def;
	}
	if (!json_is_string(v) || cs_date_parse(json_string_value(v), &y, &m, &d) != 0) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name), CS_FC_DATE,
		    "must be a real date YYYY-MM-DD");
		return def;
	}
	/* Day -1 (1969-12-31) stands for "no expiry" here, and the token's
	 * NumericDates count from 1970: a licence is dated no earlier. */
	if (y < 1970) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, name), CS_FC_RANGE,
		    "must be 1970-01-01 or later");
		return def;
	}
	return cs_days_from_civil(y, m, d);
}

/* The default end of validity: the type's term from valid_from, or -1
 * (none) for a type without expiry. */
static int64_t
default_until(int64_t from, int years)
{
	return years > 0 ? cs_term_end(from, years) : -1;
}

static void
check_holder(const cs_type *t, const json_t *h, const char *prefix,
    struct req *r, cs_problems *p)
{
	char hp[256], f[256], trial[CS_RID_LEN + 1];
	const json_t *unchecked;
	const char *code;

	cs_issue_path(hp, sizeof(hp), prefix, "holder");
	if (!json_is_object(h)) {
		cs_problems_addc(p, hp, h ? CS_FC_TYPE : CS_FC_REQUIRED,
		    h ? "must be an object" : "is required");
		return;
	}
	cs_issue_unknown_members(h, holder_members, hp, p);
	r->holder_name = cs_issue_text_member(h, "name", 1, 200, hp, p);
	r->code_type = cs_issue_text_member(h, "code_type", 1, 8, hp, p);
	code = cs_issue_text_member(h, "code", 1, 32, hp, p);
	unchecked = json_object_get(h, "unchecked");
	if (unchecked != NULL && !json_is_boolean(unchecked))
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), hp, "unchecked"), CS_FC_TYPE, "must be true or false");
	r->unchecked = json_is_true(unchecked);
	if (r->code_type == NULL || code == NULL)
		return;
	if ((strcmp(r->code_type, "USCC") == 0 && !t->accepts_uscc) ||
	    (strcmp(r->code_type, "RID") == 0 && !t->accepts_rid) ||
	    (strcmp(r->code_type, "USCC") != 0 && strcmp(r->code_type, "RID") != 0)) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), hp, "code_type"), CS_FC_ENUM,
		    "must be %s for %s", t->accepts_uscc ? "USCC" : "RID", t->name);
		return;
	}
	/* The pilot-region codes that fail their check character yet exist
	 * are credit codes (SPEC §2); no genuine resident ID does. */
	if (r->unchecked && strcmp(r->code_type, "RID") == 0) {
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), hp, "unchecked"), CS_FC_INVALID, "is for "
		    "pilot-region credit codes (USCC) only: a resident ID must "
		    "pass its check character");
		r->unchecked = 0;
	}
	snprintf(r->code, sizeof(r->code), "%s", code);
	if (strlen(code) > CS_RID_LEN || cs_code_check(r->code_type, r->code) == 0)
		goto done;
	/* holder.unchecked accepts a pilot-region code whose only fault is
	 * its check character: put the right one in and check again. */
	if (r->unchecked && strlen(r->code) == CS_USCC_LEN) {
		memcpy(trial, r->code, sizeof(trial));
		trial[17] = cs_uscc_check_char(trial);
		if (trial[17] > 0 && cs_code_check(r->code_type, trial) == 0)
			return;
		cs_code_check(r->code_type, r->code);
	}
done:
	if (strlen(code) > CS_RID_LEN)
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), hp, "code"), CS_FC_LENGTH, "length is %zu, expected 18",
		    strlen(code));
	else if (cs_code_check(r->code_type, r->code) != 0)
		cs_problems_adderr(p, cs_issue_path(f, sizeof(f), hp, "code"));
}

/*
 * Validate one issuance request.  Problems go into p with paths under
 * prefix; the return is CS_EVALIDATION when any were added, CS_EFORBIDDEN
 * when the client may not issue this type at all.  Who may issue is
 * decided first, from the role and then the type and issuer code alone:
 * a 403 says who may act, not what else is wrong with the body.
 * bundle_ref is the bundle's approval_ref for one of its members, else NULL.
 */
int
cs_issue_parse_request(cs_service *svc, const cs_actor *who, const json_t *in,
    const char *prefix, const char *bundle_ref, struct req *r, cs_problems *p)
{
	size_t before = p->n;
	const char *type, *icode = NULL;
	const json_t *issuer;
	int64_t today = cs_local_days(cs_now(), svc->cfg.tz_offset_minutes);
	char f[256], ibuf[CS_USCC_LEN + 1];
	int rc = 0, bad_issuer = 0;

	memset(r, 0, sizeof(*r));
	if ((rc = cs_require_issuer(who->client, "issue licences")) != 0)
		return rc;
	if (!json_is_object(in)) {
		cs_problems_addc(p, prefix, CS_FC_TYPE, "must be an issuance request object");
		return CS_EVALIDATION;
	}
	if ((type = cs_issue_text_member(in, "type", 1, 64, prefix, p)) != NULL &&
	    (r->type = cs_catalog_find(svc->catalog, type)) == NULL)
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, "type"), CS_FC_ENUM,
		    "'%s' is not a licence type of the catalog", type);
	issuer = json_object_get(in, "issuer");
	if (issuer != NULL && !json_is_null(issuer)) {
		static const char *const issuer_members[] = {"code", NULL};
		char ip[256];
		cs_issue_path(ip, sizeof(ip), prefix, "issuer");
		if (!json_is_object(issuer))
			cs_problems_addc(p, ip, CS_FC_TYPE, "must be an object");
		else {
			cs_issue_unknown_members(issuer, issuer_members, ip, p);
			icode = cs_issue_text_member(issuer, "code", 1, 18, ip, p);
		}
		/* Codes are upper case (SPEC §2): a lower-case code names the
		 * same authority.  Grants hold checked codes only, so a code
		 * failing its check is a 422 naming it, not a 403. */
		if (icode != NULL) {
			snprintf(ibuf, sizeof(ibuf), "%s", icode);
			cs_issue_path(f, sizeof(f), ip, "code");
			if (strlen(icode) != CS_USCC_LEN) {
				cs_problems_addc(p, f, CS_FC_LENGTH, "length is %zu, expected 18",
				    strlen(icode));
				bad_issuer = 1;
			} else if (cs_code_check_uscc(ibuf) != 0) {
				cs_problems_adderr(p, f);
				bad_issuer = 1;
			}
			icode = ibuf;
			if (!bad_issuer)
				memcpy(r->issuer_asked, ibuf, sizeof(ibuf));
		}
	}
	if (r->type == NULL)
		return CS_EVALIDATION;
	if (!bad_issuer && (rc = cs_issuer_grant(who->client, r->type->code,
	    icode, &r->grant, p, prefix)) == CS_EFORBIDDEN)
		return rc;
	cs_issue_unknown_members(in, request_members, prefix, p);
	/* A bundle's members are stored under its approval_ref (design.md,
	 * "Bundles"): one of their own would be stored and never used. */
	if (bundle_ref == NULL)
		r->approval_ref = cs_issue_text_member(in, "approval_ref", 1, 128, prefix, p);
	else if (json_object_get(in, "approval_ref") != NULL)
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, "approval_ref"), CS_FC_INVALID,
		    "is the bundle's: its members share it");
	if (bundle_ref != NULL)
		r->approval_ref = bundle_ref;
	check_holder(r->type, json_object_get(in, "holder"), prefix, r, p);
	r->valid_from = date_member(in, "valid_from", today, 0, prefix, p);
	r->valid_until = date_member(in, "valid_until",
	    default_until(r->valid_from, r->type->validity_years),
	    r->type->validity_years == 0, prefix, p);
	if (r->valid_until >= 0 && r->valid_until < r->valid_from)
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, "valid_until"), CS_FC_RANGE,
		    "is before valid_from");
	/* Only the type's default can run past what four digits write. */
	if (r->valid_until > cs_days_from_civil(9999, 12, 31))
		cs_problems_addc(p, cs_issue_path(f, sizeof(f), prefix, "valid_until"), CS_FC_REQUIRED,
		    "is required: the type's default validity would end after "
		    "9999-12-31");
	r->number = cs_issue_text_member(in, "number", r->type->numbering == NULL,
	    CS_NUMBER_MAX_CHARS, prefix, p);
	cs_issue_path(r->number_field, sizeof(r->number_field), prefix, "number");
	r->fields = json_incref(json_object_get(in, "fields"));
	cs_issue_path(f, sizeof(f), prefix, "fields");
	if (r->fields == NULL || json_is_null(r->fields)) {
		json_decref(r->fields);
		r->fields = json_object();  /* a type may need no fields */
	}
	if (!json_is_object(r->fields))
		cs_problems_addc(p, f, CS_FC_TYPE, "must be an object");
	else
		cs_catalog_validate_fields(r->type, r->fields, f, p);
	return p->n > before ? CS_EVALIDATION : 0;
}
