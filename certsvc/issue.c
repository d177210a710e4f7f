/*
 * issue.c: from an approval system's request to a signed, stored licence
 * (SPEC §1, §5): validation against the catalog and the client's grants,
 * identifier and number assignment, claims, signature, one transaction.
 * Bundles ("一件事") and amendments reuse the same steps.
 */
#include "service_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "encode.h"
#include "timeutil.h"
#include "token.h"
#include "tx_queue.h"

/* A validated issuance request; strings borrowed from the request JSON. */
struct req {
	const cs_type *type;
	const char *approval_ref;
	const char *holder_name;
	const char *code_type;
	char code[CS_RID_LEN + 1];
	int unchecked;
	const cs_grant *grant;
	char issuer_asked[CS_USCC_LEN + 1];  /* issuer.code, "" when none */
	int64_t valid_from;   /* local days */
	int64_t valid_until;  /* local days; -1 when none */
	const char *number;   /* NULL: from the numbering rule */
	char number_field[48];  /* its path in the request: "number",
	                         * "certificates.1.number" */
	json_t *fields;       /* owned reference: req_reset() drops it */
};

static void
req_reset(struct req *r)
{
	json_decref(r->fields);
	r->fields = NULL;
}

static const char *const request_members[] = {"type", "approval_ref", "holder",
    "valid_from", "valid_until", "number", "issuer", "fields", NULL};
static const char *const holder_members[] = {"name", "code_type", "code",
    "unchecked", NULL};

static const char *
path(char *buf, size_t n, const char *prefix, const char *name)
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

static void
unknown_members(const json_t *obj, const char *const *allowed,
    const char *prefix, cs_problems *p)
{
	const char *key;
	json_t *v;
	char f[256];

	json_object_foreach((json_t *)obj, key, v)
		if (!is_member(allowed, key))
			cs_problems_add(p, path(f, sizeof(f), prefix, key),
			    "is not a member of an issuance request");
}

/* A required or optional text member of 1..max characters (characters
 * are what a person counts).  Holder names and numbers are printed on the
 * face, and every member goes into records and logs, so each is text a
 * face may show as it is (cs_face_text_check): nothing trimmed. */
static const char *
text_member(const json_t *obj, const char *name, int required, size_t max,
    const char *prefix, cs_problems *p)
{
	const json_t *v = json_object_get(obj, name);
	char f[256];
	size_t chars = 0;

	if (v == NULL || json_is_null(v)) {
		if (required)
			cs_problems_add(p, path(f, sizeof(f), prefix, name), "is required");
		return NULL;
	}
	if (!json_is_string(v)) {
		cs_problems_add(p, path(f, sizeof(f), prefix, name), "must be text");
		return NULL;
	}
	if (cs_face_text_check(json_string_value(v), json_string_length(v),
	    &chars) != 0) {
		cs_problems_add(p, path(f, sizeof(f), prefix, name), "%s",
		    cs_err_msg());
		return NULL;
	}
	if (chars == 0 || chars > max) {
		cs_problems_add(p, path(f, sizeof(f), prefix, name),
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
		cs_problems_add(p, path(f, sizeof(f), prefix, name),
		    "must be a date: licences of this type expire");
		return def;
	}
	if (!json_is_string(v) || cs_date_parse(json_string_value(v), &y, &m, &d) != 0) {
		cs_problems_add(p, path(f, sizeof(f), prefix, name),
		    "must be a real date YYYY-MM-DD");
		return def;
	}
	/* Day -1 (1969-12-31) stands for "no expiry" here, and the token's
	 * NumericDates count from 1970: a licence is dated no earlier. */
	if (y < 1970) {
		cs_problems_add(p, path(f, sizeof(f), prefix, name),
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

	path(hp, sizeof(hp), prefix, "holder");
	if (!json_is_object(h)) {
		cs_problems_add(p, hp, h ? "must be an object" : "is required");
		return;
	}
	unknown_members(h, holder_members, hp, p);
	r->holder_name = text_member(h, "name", 1, 200, hp, p);
	r->code_type = text_member(h, "code_type", 1, 8, hp, p);
	code = text_member(h, "code", 1, 32, hp, p);
	unchecked = json_object_get(h, "unchecked");
	if (unchecked != NULL && !json_is_boolean(unchecked))
		cs_problems_add(p, path(f, sizeof(f), hp, "unchecked"), "must be true or false");
	r->unchecked = json_is_true(unchecked);
	if (r->code_type == NULL || code == NULL)
		return;
	if ((strcmp(r->code_type, "USCC") == 0 && !t->accepts_uscc) ||
	    (strcmp(r->code_type, "RID") == 0 && !t->accepts_rid) ||
	    (strcmp(r->code_type, "USCC") != 0 && strcmp(r->code_type, "RID") != 0)) {
		cs_problems_add(p, path(f, sizeof(f), hp, "code_type"),
		    "must be %s for %s", t->accepts_uscc ? "USCC" : "RID", t->name);
		return;
	}
	/* The pilot-region codes that fail their check character yet exist
	 * are credit codes (SPEC §2); no genuine resident ID does. */
	if (r->unchecked && strcmp(r->code_type, "RID") == 0) {
		cs_problems_add(p, path(f, sizeof(f), hp, "unchecked"), "is for "
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
		cs_problems_add(p, path(f, sizeof(f), hp, "code"), "length is %zu, expected 18",
		    strlen(code));
	else if (cs_code_check(r->code_type, r->code) != 0)
		cs_problems_add(p, path(f, sizeof(f), hp, "code"), "%s", cs_err_msg());
}

/*
 * Validate one issuance request.  Problems go into p with paths under
 * prefix; the return is CS_EVALIDATION when any were added, CS_EFORBIDDEN
 * when the client may not issue this type at all.  Who may issue is
 * decided first, from the role and then the type and issuer code alone:
 * a 403 says who may act, not what else is wrong with the body.
 * bundle_ref is the bundle's approval_ref for one of its members, else NULL.
 */
static int
parse_request(cs_service *svc, const cs_actor *who, const json_t *in,
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
		cs_problems_add(p, prefix, "must be an issuance request object");
		return CS_EVALIDATION;
	}
	if ((type = text_member(in, "type", 1, 64, prefix, p)) != NULL &&
	    (r->type = cs_catalog_find(svc->catalog, type)) == NULL)
		cs_problems_add(p, path(f, sizeof(f), prefix, "type"),
		    "'%s' is not a licence type of the catalog", type);
	issuer = json_object_get(in, "issuer");
	if (issuer != NULL && !json_is_null(issuer)) {
		static const char *const issuer_members[] = {"code", NULL};
		char ip[256];
		path(ip, sizeof(ip), prefix, "issuer");
		if (!json_is_object(issuer))
			cs_problems_add(p, ip, "must be an object");
		else {
			unknown_members(issuer, issuer_members, ip, p);
			icode = text_member(issuer, "code", 1, 18, ip, p);
		}
		/* Codes are upper case (SPEC §2): a lower-case code names the
		 * same authority.  Grants hold checked codes only, so a code
		 * failing its check is a 422 naming it, not a 403. */
		if (icode != NULL) {
			snprintf(ibuf, sizeof(ibuf), "%s", icode);
			path(f, sizeof(f), ip, "code");
			if (strlen(icode) != CS_USCC_LEN) {
				cs_problems_add(p, f, "length is %zu, expected 18",
				    strlen(icode));
				bad_issuer = 1;
			} else if (cs_code_check_uscc(ibuf) != 0) {
				cs_problems_add(p, f, "%s", cs_err_msg());
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
	unknown_members(in, request_members, prefix, p);
	/* A bundle's members are stored under its approval_ref (design.md,
	 * "Bundles"): one of their own would be stored and never used. */
	if (bundle_ref == NULL)
		r->approval_ref = text_member(in, "approval_ref", 1, 128, prefix, p);
	else if (json_object_get(in, "approval_ref") != NULL)
		cs_problems_add(p, path(f, sizeof(f), prefix, "approval_ref"),
		    "is the bundle's: its members share it");
	if (bundle_ref != NULL)
		r->approval_ref = bundle_ref;
	check_holder(r->type, json_object_get(in, "holder"), prefix, r, p);
	r->valid_from = date_member(in, "valid_from", today, 0, prefix, p);
	r->valid_until = date_member(in, "valid_until",
	    default_until(r->valid_from, r->type->validity_years),
	    r->type->validity_years == 0, prefix, p);
	if (r->valid_until >= 0 && r->valid_until < r->valid_from)
		cs_problems_add(p, path(f, sizeof(f), prefix, "valid_until"),
		    "is before valid_from");
	/* Only the type's default can run past what four digits write. */
	if (r->valid_until > cs_days_from_civil(9999, 12, 31))
		cs_problems_add(p, path(f, sizeof(f), prefix, "valid_until"),
		    "is required: the type's default validity would end after "
		    "9999-12-31");
	r->number = text_member(in, "number", r->type->numbering == NULL, 64, prefix, p);
	path(r->number_field, sizeof(r->number_field), prefix, "number");
	r->fields = json_incref(json_object_get(in, "fields"));
	path(f, sizeof(f), prefix, "fields");
	if (r->fields == NULL || json_is_null(r->fields)) {
		json_decref(r->fields);
		r->fields = json_object();  /* a type may need no fields */
	}
	if (!json_is_object(r->fields))
		cs_problems_add(p, f, "must be an object");
	else
		cs_catalog_validate_fields(r->type, r->fields, f, p);
	return p->n > before ? CS_EVALIDATION : 0;
}

static const char base36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/*
 * A licence's serial (SPEC §2a): its numbering sequence in base 36, "1",
 * "2", ... "ZZ" ...  The store hands out the sequence per (type, issuer)
 * inside the write transaction, so the serial is unique by construction;
 * an amendment keeps its licence's serial and takes a sequence number of
 * its own, which no new licence reuses.  Short because every character of
 * the identifier is carried by every QR code: a million licences of one
 * type and issuer need 4 characters, where the random serial used before
 * took 8.  The cost, that identifiers can be enumerated, is weighed in
 * docs/design.md.
 */
static void
seq_serial(int64_t seq, char out[CS_SERIAL_MAX + 1])
{
	char tmp[CS_SERIAL_MAX + 1];
	uint64_t v = seq > 0 ? (uint64_t)seq : 0;
	size_t n = 0, i;

	do {
		tmp[n++] = base36[v % 36];
		v /= 36;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/* A bundle's id: "B" and 8 random characters of 0-9A-Z (41 bits).  A
 * bundle id is in no QR code, so it can afford to be unguessable. */
#define BUNDLE_RANDOM_LEN 8

static int
random_serial(char out[BUNDLE_RANDOM_LEN + 1])
{
	uint8_t raw[BUNDLE_RANDOM_LEN];
	int i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("serial");
	for (i = 0; i < BUNDLE_RANDOM_LEN; i++)
		out[i] = base36[raw[i] % 36];  /* 256 % 36 bias: harmless here */
	out[BUNDLE_RANDOM_LEN] = '\0';
	return 0;
}

/* The immutable record of SPEC §1 (no status, related or qr_text, which
 * are derived when it is read). */
static json_t *
build_record(cs_service *svc, const struct req *r, const char *id,
    const char *number, const char *bundle, const char *supersedes, time_t now)
{
	char issued[21], from[11], until[11];
	json_t *holder;

	cs_rfc3339(now, issued);
	cs_date_format(r->valid_from, from);
	if (r->valid_until >= 0)
		cs_date_format(r->valid_until, until);
	holder = json_pack("{ss ss ss}", "name", r->holder_name, "code_type",
	    r->code_type, "code", r->code);
	if (holder != NULL && r->unchecked)
		json_object_set_new(holder, "unchecked", json_true());
	return json_pack("{ss ss ss ss so s{ss ss} ss ss ss? sO ss ss? ss? ss ss}",
	    "id", id, "type", r->type->code, "type_name", r->type->name,
	    "number", number, "holder", holder,
	    "issuer", "name", r->grant->issuer_name, "code", r->grant->issuer_code,
	    "issued_at", issued, "valid_from", from,
	    "valid_until", r->valid_until >= 0 ? until : NULL,
	    "fields", r->fields, "approval_ref", r->approval_ref,
	    "bundle", bundle, "supersedes", supersedes,
	    "kid", "", "alg", cs_alg_name(svc->keys->active->alg));
}

static int
sign_record(cs_service *svc, const cs_type *t, json_t *rec)
{
	const cs_key *key = svc->keys->active;
	uint8_t *claims = NULL;
	size_t n;
	char *token = NULL, *kid = NULL;
	int rc;

	if ((rc = cs_claims_encode(t, rec, svc->cfg.tz_offset_minutes, &claims, &n)) != 0)
		goto out;
	if ((rc = cs_token_sign(key, claims, n, &token)) != 0)
		goto out;
	/* base64url, as the trust list writes it (SPEC §5), so a verifier
	 * finds the licence's key by comparing the two strings. */
	if ((rc = cs_b64url_encode(key->kid, CS_KID_LEN, &kid)) != 0)
		goto out;
	json_object_set_new(rec, "kid", json_string(kid));
	json_object_set_new(rec, "token", json_string(token));
out:
	free(kid);
	free(claims);
	free(token);
	return rc;
}

/*
 * The idempotency hashes of a request (SHA-256 over JSON with sorted keys,
 * hex).  A replay is the same request when it is the same after the
 * normalisation validation applies (codes in upper case, SPEC §2), so the
 * hash stored is of the normalised request.  Licences stored before held
 * the hash of the request as sent: a replay matching that is the same
 * request too.
 */
struct request_hashes {
	char normalised[65];  /* stored */
	char as_sent[65];     /* compared only */
};

/* The codes of a validated request written back into in (a copy) in the
 * form they were validated in. */
static void
normalise_codes(json_t *in, const struct req *r)
{
	json_t *issuer = json_object_get(in, "issuer");

	json_object_set_new(json_object_get(in, "holder"), "code",
	    json_string(r->code));
	if (json_is_object(issuer))
		json_object_set_new(issuer, "code",
		    json_string(r->grant->issuer_code));
}

/* 1 when the codes of validated request r are already written in in the
 * form they were validated in (the usual case: nothing to normalise). */
static int
codes_normal(const json_t *in, const struct req *r)
{
	const json_t *issuer = json_object_get(in, "issuer");
	const char *code = json_string_value(json_object_get(
	    json_object_get(in, "holder"), "code"));

	if (code == NULL || strcmp(code, r->code) != 0)
		return 0;
	if (!json_is_object(issuer))
		return 1;
	code = json_string_value(json_object_get(issuer, "code"));
	return code != NULL && strcmp(code, r->grant->issuer_code) == 0;
}

/* Both hashes of sent, given its normalised copy (taken), or NULL when
 * sent is normalised already: one hash then serves as both. */
static int
hash_both(json_t *normalised, const json_t *sent, struct request_hashes *h)
{
	int rc = cs_json_hash(sent, h->as_sent);

	if (rc == 0 && normalised == NULL)
		memcpy(h->normalised, h->as_sent, sizeof(h->normalised));
	else if (rc == 0)
		rc = cs_json_hash(normalised, h->normalised);
	json_decref(normalised);
	return rc;
}

/* The hashes of a validated issuance request r. */
static int
hash_request(const json_t *in, const struct req *r, struct request_hashes *h)
{
	json_t *copy;

	if (codes_normal(in, r))
		return hash_both(NULL, in, h);
	if ((copy = json_deep_copy(in)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	normalise_codes(copy, r);
	return hash_both(copy, in, h);
}

/* The hashes of a validated bundle request, its members in reqs. */
static int
hash_bundle(const json_t *in, const struct req *reqs, size_t n,
    struct request_hashes *h)
{
	const json_t *members = json_object_get(in, "certificates");
	json_t *copy;
	size_t i;

	for (i = 0; i < n && codes_normal(json_array_get(members, i), &reqs[i]); i++)
		;
	if (i == n)
		return hash_both(NULL, in, h);
	if ((copy = json_deep_copy(in)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		normalise_codes(json_array_get(json_object_get(copy,
		    "certificates"), i), &reqs[i]);
	return hash_both(copy, in, h);
}

static int
same_request(const char *stored, const struct request_hashes *h)
{
	return stored != NULL && (strcmp(stored, h->normalised) == 0 ||
	    strcmp(stored, h->as_sent) == 0);
}

/* What one licence needs beyond its request when it is created. */
struct placement {
	const char *bundle;      /* bundle id or NULL */
	const char *supersedes;  /* old id or NULL */
	const char *serial;      /* the old serial for an amendment, else NULL */
	int version;             /* 1, or the amendment's */
	const struct request_hashes *hash;
	const char *ref_key;     /* (client, ref) key stored; NULL for bundle members */
};

/* A licence number: 64 characters (parse_request) of up to 4 UTF-8 bytes. */
#define NUMBER_MAX (64 * 4 + 1)

/* The serial of a licence placed so with sequence seq: an amendment keeps
 * its licence's. */
static void
placed_serial(const struct placement *pl, int64_t seq,
    char out[CS_SERIAL_MAX + 1])
{
	if (pl->serial != NULL)
		snprintf(out, CS_SERIAL_MAX + 1, "%s", pl->serial);
	else
		seq_serial(seq, out);
}

/*
 * The sequence, serial and number of a new licence.  A number is unique
 * per type and issuing authority (SPEC §1), the versions of one licence
 * sharing it: a given number another licence carries is a conflict (409
 * naming the member), and the numbering rule skips the numbers given by
 * hand, taking the next sequence.  Inside the write transaction, so no
 * other issuance (of the same batch or bundle either) takes them
 * meanwhile; the store's claim on licence_put is the backstop.
 */
static int
assign_number(cs_service *svc, const struct req *r, const struct placement *pl,
    time_t now, int64_t *seq, char serial[CS_SERIAL_MAX + 1],
    char number[NUMBER_MAX], cs_problems *p)
{
	cs_store *st = svc->store;
	int rc, taken, y, m, d;

	cs_civil_from_days(cs_local_days(now, svc->cfg.tz_offset_minutes), &y, &m, &d);
	if ((rc = cs_store_licence_next_seq(st, r->type->code,
	    r->grant->issuer_code, seq)) != 0)
		return rc;
	for (;; (*seq)++) {
		if (r->number != NULL)
			snprintf(number, NUMBER_MAX, "%s", r->number);
		else if ((rc = cs_type_format_number(r->type, *seq, y, number,
		    NUMBER_MAX)) != 0)
			return rc;
		placed_serial(pl, *seq, serial);
		if ((rc = cs_store_licence_number_taken(st, r->type->code,
		    r->grant->issuer_code, number, serial, &taken)) != 0 || !taken)
			return rc;
		if (r->number != NULL) {
			cs_problems_add(p, r->number_field, "is another licence's "
			    "number of this type and issuing authority");
			return cs_err_set(CS_ECONFLICT, "%s '%s' is another licence's "
			    "number of this type and issuing authority",
			    r->number_field, number);
		}
	}
}

/*
 * Create, sign and store one licence.  Runs inside the caller's
 * transaction, so the numbering sequence, the identifier and the number
 * are unique; signing here keeps the signed number and id equal to what
 * is stored.  A number taken goes into p (409).
 */
static int
issue_locked(cs_service *svc, const cs_actor *who, const struct req *r,
    const struct placement *pl, json_t **out, char **text_out, cs_problems *p)
{
	cs_store *st = svc->store;
	char serial[CS_SERIAL_MAX + 1], id[CS_LICENCE_ID_MAX], number[NUMBER_MAX];
	char *text = NULL;
	json_t *rec = NULL;
	cs_licence_row row;
	int64_t seq = 0;
	time_t now = cs_now();
	int rc;

	*out = NULL;
	if ((rc = assign_number(svc, r, pl, now, &seq, serial, number, p)) != 0)
		goto out;
	if ((rc = cs_licence_id_format(r->type->code, r->grant->issuer_code,
	    serial, pl->version, id)) != 0)
		goto out;
	rec = build_record(svc, r, id, number, pl->bundle, pl->supersedes, now);
	if (rec == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = sign_record(svc, r->type, rec)) != 0)
		goto out;
	if ((text = json_dumps(rec, JSON_COMPACT)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memset(&row, 0, sizeof(row));
	row.id = id;
	row.type = r->type->code;
	row.issuer_code = r->grant->issuer_code;
	row.seq = seq;
	row.holder_code = (char *)r->code;
	row.number = number;
	row.client = who->client->name;
	row.approval_ref = (char *)pl->ref_key;
	row.request_hash = (char *)pl->hash->normalised;
	row.bundle = (char *)pl->bundle;
	row.supersedes = (char *)pl->supersedes;
	row.issued_at = (int64_t)now;
	row.record = text;
	/* The sequence makes the id unique: a conflict here is a broken
	 * store, not the caller's doing (no 409), and a retry would not help. */
	if ((rc = cs_store_licence_put(st, &row)) == CS_ECONFLICT)
		rc = cs_err_set(CS_ESTORE, "licence %s is already stored: the "
		    "numbering sequence of its type and issuer is broken", id);
	if (rc != 0)
		goto out;
	if ((rc = cs_audit(svc, who, pl->supersedes ? "amend" : "issue", id, r->code,
	    NULL, 1)) != 0)
		goto out;
	*out = rec;
	rec = NULL;
	if (text_out != NULL) {
		*text_out = text;  /* the stored record, for the answer */
		text = NULL;
	}
out:
	json_decref(rec);
	free(text);
	return rc;
}

/* An existing licence for (client, approval_ref): the same request gives it
 * back (200), a different one is a conflict (409).  The licence goes into
 * *text as JSON text when text is not NULL, else into *out. */
static int
replay(cs_service *svc, const struct request_hashes *hash, cs_licence_row *row,
    json_t **out, char **text)
{
	if (!same_request(row->request_hash, hash))
		return cs_err_set(CS_ECONFLICT, "approval_ref '%s' was already used "
		    "by this client for a different request (licence %s)",
		    row->approval_ref, row->id);
	if (text != NULL)
		return cs_licence_view_text(svc, row, cs_now(), text);
	return cs_licence_view(svc, row, cs_now(), out, NULL);
}

static int
find_existing(cs_service *svc, const cs_actor *who, const char *ref,
    const struct request_hashes *hash, json_t **out, char **text)
{
	cs_licence_row *row = NULL;
	int rc;

	rc = cs_store_licence_by_ref(svc->store, who->client->name, ref, &row);
	if (rc == 0)
		rc = replay(svc, hash, row, out, text);
	cs_licence_row_free(row);
	return rc;
}

/* One issuance's transaction: re-check idempotency under the writer (two
 * identical requests may race), then create the licence. */
struct issue_tx {
	cs_service *svc;
	const cs_actor *who;
	const struct req *r;
	const struct placement *pl;
	json_t **out;         /* a replay's answer (text NULL) */
	char **text;          /* a replay's answer as text */
	json_t *rec;          /* a new licence's record */
	char *stored;         /* and its stored text (text not NULL) */
	cs_problems *p;       /* a conflict's member (a number taken) */
};

static int
issue_tx(void *arg)
{
	struct issue_tx *t = arg;
	int rc;

	rc = find_existing(t->svc, t->who, t->pl->ref_key, t->pl->hash, t->out,
	    t->text);
	if (rc != CS_ENOTFOUND)
		return rc;
	return issue_locked(t->svc, t->who, t->r, t->pl, &t->rec,
	    t->text ? &t->stored : NULL, t->p);
}

/* After issue_tx's transaction ended with rc: a new licence's view into
 * *t->text or *t->out, its id into id (*created 1); a replay's answer is
 * there already.  On failure neither is left. */
static int
issue_answer(struct issue_tx *t, int rc, char id[CS_LICENCE_ID_MAX],
    int *created)
{
	*created = 0;
	if (rc == 0 && t->rec != NULL) {
		snprintf(id, CS_LICENCE_ID_MAX, "%s",
		    json_string_value(json_object_get(t->rec, "id")));
		if (t->text != NULL)
			rc = cs_record_view_text(t->svc, t->stored, cs_now(),
			    t->text);
		else if ((*t->out = cs_record_view(t->svc, t->rec, NULL, 0,
		    NULL, cs_now(), NULL)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "out of memory");
		*created = rc == 0;
	}
	if (rc != 0 && t->text != NULL) {
		free(*t->text);
		*t->text = NULL;
	} else if (rc != 0) {
		json_decref(*t->out);
		*t->out = NULL;
	}
	return rc;
}

static void
issue_tx_reset(struct issue_tx *t)
{
	json_decref(t->rec);
	free(t->stored);
	t->rec = NULL;
	t->stored = NULL;
}

/* An issuance refused (403), audited under action with the type and the
 * issuing authority asked for as its target: "TYPE.ISSUER" as a licence
 * identifier joins them, or "TYPE" when the request named no authority. */
static int
deny_issue(cs_service *svc, const cs_actor *who, const char *action,
    const struct req *r)
{
	char target[CS_TYPE_CODE_LEN + 1 + CS_USCC_LEN + 1];

	/* A client whose role may not issue is refused before the type is
	 * read: its attempt is recorded without a target. */
	snprintf(target, sizeof(target), "%s%s%s", r->type ? r->type->code : "",
	    r->issuer_asked[0] ? "." : "", r->issuer_asked);
	return cs_audit_denied(svc, who, action, target, NULL);
}

/* --- single issuances ----------------------------------------------------- */

struct cs_issue_job {
	struct issue_tx t;
	struct req r;
	struct placement pl;
	struct request_hashes hash;
	json_t *request;      /* held: r borrows its strings */
	cs_problems problems; /* the writer's, for the answer */
	char *text;           /* the answer */
	char id[CS_LICENCE_ID_MAX];
	cs_issue_done done;
	void *ctx;
};

void
cs_issue_job_free(cs_issue_job *j)
{
	if (j == NULL)
		return;
	issue_tx_reset(&j->t);
	req_reset(&j->r);
	cs_problems_reset(&j->problems);
	json_decref(j->request);
	free(j->text);
	free(j);
}

int
cs_issue_prepare(cs_service *svc, const cs_actor *who, const json_t *request,
    cs_problems *p, cs_issue_job **out)
{
	cs_issue_job *j;
	int rc;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	j->request = json_incref((json_t *)request);
	rc = parse_request(svc, who, j->request, "", NULL, &j->r, p);
	if (rc == CS_EFORBIDDEN)
		rc = deny_issue(svc, who, "issue", &j->r);
	if (rc == 0)
		rc = hash_request(j->request, &j->r, &j->hash);
	if (rc != 0) {
		cs_issue_job_free(j);
		return rc;
	}
	j->pl = (struct placement){NULL, NULL, NULL, 1, &j->hash,
	    j->r.approval_ref};
	j->t = (struct issue_tx){svc, who, &j->r, &j->pl, NULL, &j->text, NULL,
	    NULL, &j->problems};
	*out = j;
	return 0;
}

int
cs_issue(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **out, int *created, cs_problems *p)
{
	cs_issue_job *j;
	char id[CS_LICENCE_ID_MAX];
	int rc;

	*out = NULL;
	*created = 0;
	if ((rc = cs_issue_prepare(svc, who, request, p, &j)) != 0)
		return rc;
	/* In the caller's transaction, the licence as an object. */
	j->t.out = out;
	j->t.text = NULL;
	j->t.p = p;
	rc = cs_tx_run(svc->store, issue_tx, &j->t);
	rc = issue_answer(&j->t, rc, id, created);
	cs_issue_job_free(j);
	return rc;
}

/* The writer's completion: the answer to the caller's, then the job is
 * gone. */
static void
job_done(void *arg, int rc)
{
	cs_issue_job *j = arg;
	int created;

	rc = issue_answer(&j->t, rc, j->id, &created);
	j->done(j->ctx, rc, &j->problems, j->text, j->id, created);
	j->text = NULL;
	cs_issue_job_free(j);
}

int
cs_issue_submit(cs_issue_job *j, cs_issue_done done, void *ctx)
{
	int rc;

	j->done = done;
	j->ctx = ctx;
	if (j->t.svc->issue_writer == NULL)
		rc = cs_err_set(CS_ESTORE, "the issuance writer is not running");
	else
		rc = cs_tx_queue_submit(j->t.svc->issue_writer, issue_tx,
		    job_done, j);
	if (rc != 0)
		cs_issue_job_free(j);
	return rc;
}

/* --- bundles ------------------------------------------------------------ */

static int
bundle_id(char out[32])
{
	char serial[BUNDLE_RANDOM_LEN + 1];
	int rc;

	if ((rc = random_serial(serial)) != 0)
		return rc;
	snprintf(out, 32, "B%s", serial);
	return 0;
}

/* The response of a bundle: its licences, each naming the others. */
static int
bundle_response(cs_service *svc, const char *id, const char *ref, json_t **out)
{
	cs_licence_row **rows = NULL;
	json_t *certs = json_array();
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_store_licences_by_bundle(svc->store, id, &rows, &n)) != 0)
		goto out;
	for (i = 0; i < n && rc == 0; i++) {
		json_t *v = NULL;
		if ((rc = cs_licence_view(svc, rows[i], cs_now(), &v, NULL)) == 0)
			json_array_append_new(certs, v);
	}
	if (rc == 0 && (*out = json_pack("{ss ss sO}", "id", id, "approval_ref", ref,
	    "certificates", certs)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	json_decref(certs);
	cs_licence_rows_free(rows, n);
	return rc;
}

/* A bundle issues one licence of a type to a holder: a second member of
 * the same type for the same holder code (normalised) is a 422 naming it,
 * whatever else differs, rather than two licences the holder cannot tell
 * apart by anything but their numbers. */
static int
same_licence(const struct req *a, const struct req *b)
{
	return a->type != NULL && a->type == b->type && a->code_type != NULL &&
	    b->code_type != NULL && a->code[0] != '\0' &&
	    strcmp(a->code_type, b->code_type) == 0 && strcmp(a->code, b->code) == 0;
}

static void
repeated_members(const struct req *reqs, size_t n, cs_problems *p)
{
	char f[64];
	size_t i, j;

	for (j = 1; j < n; j++)
		for (i = 0; i < j; i++)
			if (same_licence(&reqs[i], &reqs[j])) {
				snprintf(f, sizeof(f), "certificates.%zu", j);
				cs_problems_add(p, f, "is a second %s for the holder "
				    "of certificates.%zu: a bundle issues one "
				    "licence of a type to a holder", reqs[j].type->name, i);
				break;
			}
}

static int
parse_bundle(cs_service *svc, const cs_actor *who, const json_t *in,
    struct req **reqs, size_t *n, const char **ref, cs_problems *p)
{
	static const char *const members[] = {"approval_ref", "certificates", NULL};
	const json_t *certs = json_object_get(in, "certificates");
	char prefix[64];
	size_t i;
	int rc = 0, one;

	*reqs = NULL;
	*n = 0;
	if (cs_require_issuer(who->client, "issue licences") != 0)
		return cs_audit_denied(svc, who, "issue_bundle", "", NULL);
	if (!json_is_object(in))
		return cs_err_set(CS_EINVAL, "a bundle request must be a JSON object");
	unknown_members(in, members, "", p);
	*ref = text_member(in, "approval_ref", 1, 128, "", p);
	if (!json_is_array(certs) || json_array_size(certs) < 2 ||
	    json_array_size(certs) > 16) {
		cs_problems_add(p, "certificates", "must be an array of 2 to 16 "
		    "issuance requests");
		return CS_EVALIDATION;
	}
	if ((*reqs = calloc(json_array_size(certs), sizeof(**reqs))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	*n = json_array_size(certs);
	for (i = 0; i < *n; i++) {
		snprintf(prefix, sizeof(prefix), "certificates.%zu", i);
		one = parse_request(svc, who, json_array_get(certs, i), prefix,
		    *ref ? *ref : "-", &(*reqs)[i], p);
		if (one == CS_EFORBIDDEN) {
			/* The members before this one were validated: their
			 * problems are no part of a 403. */
			cs_problems_reset(p);
			return deny_issue(svc, who, "issue_bundle", &(*reqs)[i]);
		}
		if (one != 0)
			rc = one;
	}
	repeated_members(*reqs, *n, p);
	return p->n > 0 ? CS_EVALIDATION : rc;
}

int
cs_issue_bundle(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **out, int *created, cs_problems *p)
{
	cs_store *st = svc->store;
	struct req *reqs = NULL;
	struct placement pl = {NULL, NULL, NULL, 1, NULL, NULL};
	cs_bundle_row b, *old = NULL;
	const char *ref = NULL;
	struct request_hashes hash;
	char id[32];
	json_t *rec = NULL;
	size_t i, n = 0;
	int rc, in_tx = 0;

	*out = NULL;
	*created = 0;
	if ((rc = parse_bundle(svc, who, request, &reqs, &n, &ref, p)) != 0 ||
	    (rc = hash_bundle(request, reqs, n, &hash)) != 0 ||
	    (rc = bundle_id(id)) != 0)
		goto out;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	in_tx = 1;
	rc = cs_store_bundle_by_ref(st, who->client->name, ref, &old);
	if (rc == 0) {
		if (!same_request(old->request_hash, &hash))
			rc = cs_err_set(CS_ECONFLICT, "approval_ref '%s' was already used "
			    "by this client for a different bundle (%s)", ref, old->id);
		else
			rc = bundle_response(svc, old->id, ref, out);
		goto out;
	}
	if (rc != CS_ENOTFOUND)
		goto out;
	memset(&b, 0, sizeof(b));
	b.id = id;
	b.client = who->client->name;
	b.approval_ref = (char *)ref;
	b.request_hash = hash.normalised;
	b.created_at = (int64_t)cs_now();
	if ((rc = cs_store_bundle_put(st, &b)) != 0)
		goto out;
	pl.bundle = id;
	pl.hash = &hash;
	for (i = 0; i < n && rc == 0; i++) {
		rc = issue_locked(svc, who, &reqs[i], &pl, &rec, NULL, p);
		json_decref(rec);
		rec = NULL;
	}
	if (rc == 0)
		rc = cs_audit(svc, who, "issue_bundle", id, NULL, NULL, (int64_t)n);
	if (rc != 0 || (rc = cs_store_commit(st)) != 0)
		goto out;
	in_tx = 0;
	*created = 1;
	rc = bundle_response(svc, id, ref, out);
out:
	if (in_tx)
		cs_store_rollback(st);
	for (i = 0; i < n; i++)
		req_reset(&reqs[i]);
	free(reqs);
	cs_bundle_row_free(old);
	return rc;
}

/* --- amendment ---------------------------------------------------------- */

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
	unknown_members(body, members, "", p);
	cs_reason_check(json_object_get(body, "reason"), 0, p);
	if (h != NULL) {
		if (!json_is_object(h))
			cs_problems_add(p, "holder", "must be an object");
		else
			json_object_foreach((json_t *)h, key, v)
				if (strcmp(key, "name") != 0)
					cs_problems_add(p, path(f, sizeof(f), "holder", key),
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
	if ((rc = parse_request(svc, who, req, "", NULL, &r, p)) != 0 ||
	    (rc = hash_request(req, &r, &hash)) != 0)
		goto out;
	cs_licence_id_parse(id, &parts);
	if (parts.version >= 999) {
		rc = cs_err_set(CS_ECONFLICT, "licence %s has no version left", id);
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
	if ((rc = find_existing(svc, who, r.approval_ref, &hash, out, NULL)) !=
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
		rc = cs_err_set(CS_ECONFLICT, "licence %s is %s: only a valid licence "
		    "can be amended", id, status);
		goto out;
	}
	if ((rc = issue_locked(svc, who, &r, &pl, &rec, NULL, p)) != 0)
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
	req_reset(&r);
	json_decref(old);
	json_decref(req);
	json_decref(rec);
	return rc;
}
