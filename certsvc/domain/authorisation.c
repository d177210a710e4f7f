/*
 * authorisation: use authorisations (用证码, SPEC §10).  A portal, for the
 * holder, lets a reader (or any reader) read some of the holder's
 * licences for a stated purpose, a number of times, until a time: the
 * holder reads the 10-character code aloud or types it into the
 * department's form, and the reader sends it as X-Auth-Code on the usual
 * read endpoints.
 *
 * The code: 9 characters drawn uniformly (rejection sampling of
 * RAND_bytes) from the 31 characters of 0-9A-Z without I O S V Z, the
 * alphabet of the credit code (GB 32100), then a check character computed
 * as the credit code's: weights 3^i mod 31, which are all distinct and
 * non-zero modulo the prime 31, so every single wrong character and every
 * swap of two characters is caught (a 400 before any lookup).  SPEC §10
 * says "MOD 37,36-style": MOD 37,36 needs a 36-character alphabet, and
 * the credit code's MOD 31 is that scheme for this one.  31^9 = 2.6e13
 * codes; guessing is held by the failure budget (docs/design.md).
 *
 * Rows (key "A" hex SHA-256(code)): the authorisation (n 0), its
 * withdrawal (n -1), and one row per use (n 1..uses): the primary key
 * makes use n one row, so two nodes cannot both spend the last use.
 */
#include "holder_loop.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "encode.h"
#include "rfc3339.h"
#include "text.h"

#define AUTH_ALPHABET "0123456789ABCDEFGHJKLMNPQRTUWXY"
#define AUTH_RADIX 31
#define EXPIRES_DEFAULT 86400
#define EXPIRES_MAX (7 * 86400)
#define USES_MAX 1000

static int
value_of(char c)
{
	const char *p = strchr(AUTH_ALPHABET, c);

	return c != '\0' && p != NULL ? (int)(p - AUTH_ALPHABET) : -1;
}

/* The check character of the first n characters of s, -1 when one is
 * outside the alphabet. */
static int
check_char(const char *s, size_t n)
{
	int sum = 0, w = 1, v;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((v = value_of(s[i])) < 0)
			return -1;
		sum = (sum + v * w) % AUTH_RADIX;
		w = w * 3 % AUTH_RADIX;
	}
	return AUTH_ALPHABET[(AUTH_RADIX - sum) % AUTH_RADIX];
}

static int
new_code(char out[CS_AUTH_CODE_LEN + 1])
{
	unsigned char b;
	size_t i = 0;

	while (i < CS_AUTH_CODE_LEN - 1) {
		if (RAND_bytes(&b, 1) != 1)
			return cs_err_openssl("authorisation code");
		/* 248 = 8 * 31: the bytes above would favour the first few
		 * characters. */
		if (b < 248)
			out[i++] = AUTH_ALPHABET[b % AUTH_RADIX];
	}
	out[i] = (char)check_char(out, i);
	out[i + 1] = '\0';
	return 0;
}

int
cs_auth_code_check(const char *in, char out[CS_AUTH_CODE_LEN + 1])
{
	size_t n = 0;
	int want;

	/* Read aloud and typed: lower case and the spaces or dashes of a
	 * grouping are the person's, not a different code. */
	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == '-')
			continue;
		if (n == CS_AUTH_CODE_LEN)
			return cs_err_set(CS_EINVAL, "X-Auth-Code is longer than "
			    "%d characters", CS_AUTH_CODE_LEN);
		out[n++] = (char)toupper((unsigned char)*in);
	}
	out[n] = '\0';
	if (n != CS_AUTH_CODE_LEN)
		return cs_err_set(CS_EINVAL, "X-Auth-Code is %zu characters, "
		    "expected %d", n, CS_AUTH_CODE_LEN);
	for (n = 0; n < CS_AUTH_CODE_LEN; n++)
		if (value_of(out[n]) < 0)
			return cs_err_set(CS_EINVAL, "X-Auth-Code: character %zu "
			    "'%c' is not used in codes (0-9 A-Z without I O S V "
			    "Z)", n + 1, isprint((unsigned char)out[n]) ? out[n] :
			    '?');
	want = check_char(out, CS_AUTH_CODE_LEN - 1);
	if (want != out[CS_AUTH_CODE_LEN - 1])
		return cs_err_set(CS_EINVAL, "X-Auth-Code: the check character "
		    "does not match: a character is mistyped");
	return 0;
}

/* expires_in and uses, as sent or their defaults; problems when bad. */
static void
check_terms(const json_t *req, json_int_t *expires_in, json_int_t *uses,
    cs_problems *p)
{
	const json_t *e = json_object_get(req, "expires_in");
	const json_t *u = json_object_get(req, "uses");

	*expires_in = EXPIRES_DEFAULT;
	*uses = 1;
	if (e != NULL && (!json_is_integer(e) || json_integer_value(e) < 1 ||
	    json_integer_value(e) > EXPIRES_MAX))
		cs_problems_add(p, "expires_in", "must be a number of seconds, "
		    "1 to %d (7 days)", EXPIRES_MAX);
	else if (e != NULL)
		*expires_in = json_integer_value(e);
	if (u != NULL && (!json_is_integer(u) || json_integer_value(u) < 1 ||
	    json_integer_value(u) > USES_MAX))
		cs_problems_add(p, "uses", "must be a number, 1 to %d", USES_MAX);
	else if (u != NULL)
		*uses = json_integer_value(u);
}

/* A text member: absent (when optional) or 1..max characters. */
static void
check_text(const json_t *req, const char *name, int required, size_t max,
    cs_problems *p)
{
	const json_t *v = json_object_get(req, name);

	if (v == NULL && !required)
		return;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    cs_utf8_count(json_string_value(v), json_string_length(v)) > max)
		cs_problems_add(p, name, "must be text of 1 to %zu characters",
		    max);
}

/* The reader named, when one is: an existing reader client. */
static void
check_reader(cs_service *svc, const json_t *req, cs_problems *p)
{
	const json_t *v = json_object_get(req, "reader");
	cs_client *c = NULL;

	if (v == NULL)
		return;
	if (!json_is_string(v) || cs_store_client_get(svc->store,
	    json_string_value(v), &c) != 0 || strcmp(c->role, "reader") != 0)
		cs_problems_add(p, "reader", "must name a reader client");
	cs_client_free(c);
}

int
cs_authorisation_create(cs_service *svc, const cs_actor *who,
    const char *holder_in, const char *acting_for, const json_t *req,
    json_t **out, cs_problems *p)
{
	char holder[CS_USCC_LEN + 1], agent[CS_USCC_LEN + 1];
	char key[CS_HL_KEY_MAX], code[CS_AUTH_CODE_LEN + 1], exp[21];
	char ref[CS_HL_KEY_MAX];
	json_t *lic = NULL, *body = NULL;
	json_int_t expires_in, uses;
	size_t before = p->n;
	time_t expires;
	int rc;

	*out = NULL;
	if ((rc = cs_hl_create_check(svc, who, "create a use authorisation",
	    holder_in, acting_for, req, holder, agent, p)) != 0)
		return rc;
	check_text(req, "purpose", 1, 200, p);
	check_text(req, "service_item", 0, 200, p);
	check_reader(svc, req, p);
	check_terms(req, &expires_in, &uses, p);
	if ((rc = cs_hl_licences(svc, holder, agent, req, 1, &lic, p)) != 0 &&
	    rc != CS_EVALIDATION)
		goto out;
	if (p->n > before) {
		rc = cs_err_set(CS_EVALIDATION, "%s", p->items[before].message);
		goto out;
	}
	if ((rc = new_code(code)) != 0)
		goto out;
	cs_hl_code_key('A', code, key);
	/* The record names the authorisation by a reference that is not
	 * the code: 12 hex digits of its key's hash. */
	snprintf(ref, sizeof(ref), "%.12s", key + 1);
	expires = cs_now() + (time_t)expires_in;
	cs_rfc3339(expires, exp);
	if ((body = json_pack("{ss sO sO* sO* sO* sI sI ss ss?}", "id", ref,
	    "licences", lic, "purpose", json_object_get(req, "purpose"),
	    "service_item", json_object_get(req, "service_item"), "reader",
	    json_object_get(req, "reader"), "expires_at", (json_int_t)expires,
	    "uses", uses, "client", who->client->name, "acting_for",
	    agent[0] ? agent : NULL)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_store_begin(svc->store)) != 0)
		goto out;
	if ((rc = cs_hl_put(svc, key, 0, "authorisation", holder, body)) == 0) {
		cs_purpose why = {json_string_value(json_object_get(req,
		    "purpose")), json_string_value(json_object_get(req,
		    "service_item")), ref};

		rc = cs_audit(svc, who, "authorisation", holder, holder, &why,
		    (int64_t)uses);
	}
	if ((rc = cs_hl_finish(svc, rc)) == 0 && (*out = json_pack("{ss ss "
	    "ss}", "auth_code", code, "authorisation_id", ref, "expires_at",
	    exp)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(body);
	json_decref(lic);
	return rc;
}

/* The authorisation's rows: its body (n 0), whether it is withdrawn, the
 * greatest use taken. */
struct auth {
	json_t *body;
	char holder[CS_USCC_LEN + 1];
	int withdrawn;
	int64_t used;
};

static int
auth_load(cs_service *svc, const char *key, struct auth *a)
{
	cs_hact_row **rows = NULL;
	size_t n = 0, i;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = cs_hl_rows(svc, key, &rows, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (rows[i]->n > a->used)
			a->used = rows[i]->n;
		if (rows[i]->n == -1)
			a->withdrawn = 1;
		if (rows[i]->n == 0 && a->body == NULL) {
			a->body = cs_hl_body(rows[i]);
			snprintf(a->holder, sizeof(a->holder), "%.18s",
			    rows[i]->holder);
		}
	}
	cs_hact_rows_free(rows, n);
	return 0;
}

/* Whether the authorisation a lets a licence of this id and type be read
 * (id NULL: a holder lookup, which filters each licence later). */
int
cs_auth_covers(const json_t *auth, const char *id, const char *type)
{
	const json_t *l = json_object_get(auth, "licences"), *v;
	const json_t *types = json_object_get(l, "types");
	size_t i;

	if (id == NULL)
		return 1;
	if (json_is_array(types)) {
		json_array_foreach(types, i, v)
			if (strcmp(json_string_value(v), type) == 0)
				return 1;
		return 0;
	}
	json_array_foreach(l, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return 1;
	return 0;
}

/* Why a (loaded) authorisation refuses this read, or NULL. */
static const char *
refusal(const struct auth *a, const cs_actor *who, const char *holder,
    const char *id, const char *type)
{
	const char *reader = json_string_value(json_object_get(a->body,
	    "reader"));

	if (a->body == NULL)
		return "the authorisation code is not valid";
	if (a->withdrawn)
		return "the authorisation has been withdrawn";
	if (cs_now() >= (time_t)json_integer_value(json_object_get(a->body,
	    "expires_at")))
		return "the authorisation has expired";
	if (reader != NULL && strcmp(reader, who->client->name) != 0)
		return "the authorisation is for another reader";
	if (strcmp(a->holder, holder) != 0 || !cs_auth_covers(a->body, id, type))
		return "the authorisation does not cover this licence";
	if (a->used >= json_integer_value(json_object_get(a->body, "uses")))
		return "the authorisation's uses are spent";
	return NULL;
}

int
cs_auth_redeem(cs_service *svc, const cs_actor *who, const char *holder,
    const char *id, const char *type, json_t **auth_out)
{
	char code[CS_AUTH_CODE_LEN + 1], key[CS_HL_KEY_MAX];
	const char *why = NULL;
	struct auth a;
	json_t *use = NULL;
	int rc, tries;

	*auth_out = NULL;
	memset(&a, 0, sizeof(a));
	if ((rc = cs_auth_code_check(who->auth_code, code)) != 0)
		return rc;
	if (who->client == NULL || strcmp(who->client->role, "reader") != 0)
		return cs_err_set(CS_EFORBIDDEN, "only a reader client reads with "
		    "an authorisation code");
	cs_hl_code_key('A', code, key);
	OPENSSL_cleanse(code, sizeof(code));
	if ((use = json_pack("{ss ss?}", "client", who->client->name, "target",
	    id != NULL ? id : holder)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	/* A use is the row numbered one above the greatest: another node
	 * that took that number first makes this one look again. */
	rc = CS_ECONFLICT;
	for (tries = 0; rc == CS_ECONFLICT && tries < 5; tries++) {
		json_decref(a.body);
		if ((rc = auth_load(svc, key, &a)) != 0)
			goto out;
		if ((why = refusal(&a, who, holder, id, type)) != NULL) {
			rc = CS_EFORBIDDEN;
			break;
		}
		rc = cs_hl_put(svc, key, a.used + 1, "use", holder, use);
	}
	if (rc == CS_EFORBIDDEN) {
		cs_err_set(rc, "%s", why);
		rc = cs_audit_denied(svc, who, "authorised_read", id != NULL ? id :
		    holder, holder);
		goto out;
	}
	if (rc != 0)
		goto out;
	{
		cs_purpose p = {json_string_value(json_object_get(a.body,
		    "purpose")), json_string_value(json_object_get(a.body,
		    "service_item")), json_string_value(json_object_get(a.body,
		    "id"))};

		if ((rc = cs_audit_read(svc, who, "authorised_read", id != NULL ?
		    id : holder, holder, &p, 1)) != 0)
			goto out;
	}
	*auth_out = a.body;
	a.body = NULL;
out:
	json_decref(use);
	json_decref(a.body);
	return rc;
}

int
cs_authorisation_withdraw(cs_service *svc, const cs_actor *who,
    const char *holder_in, const char *code_in)
{
	cs_problems p = CS_PROBLEMS_INIT;
	char holder[CS_USCC_LEN + 1], code[CS_AUTH_CODE_LEN + 1];
	char key[CS_HL_KEY_MAX];
	struct auth a;
	json_t *body = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = cs_hl_require_portal(who, "withdraw a use authorisation")) != 0)
		return rc;
	rc = cs_hl_holder_code(holder_in, holder, &p, "code");
	cs_problems_reset(&p);
	if (rc != 0)
		return rc;
	if (cs_auth_code_check(code_in, code) != 0)
		return cs_err_set(CS_ENOTFOUND, "no such authorisation");
	cs_hl_code_key('A', code, key);
	if ((rc = auth_load(svc, key, &a)) != 0)
		return rc;
	if (a.body == NULL || strcmp(a.holder, holder) != 0 || a.withdrawn) {
		rc = cs_err_set(CS_ENOTFOUND, a.withdrawn ? "the authorisation "
		    "is already withdrawn" : "no such authorisation");
		goto out;
	}
	if ((body = json_pack("{ss}", "client", who->client->name)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_store_begin(svc->store)) != 0)
		goto out;
	rc = cs_hl_put(svc, key, -1, "withdrawn", holder, body);
	if (rc == 0) {
		cs_purpose why = {NULL, NULL, json_string_value(json_object_get(
		    a.body, "id"))};

		rc = cs_audit(svc, who, "authorisation_withdraw", holder, holder,
		    &why, 1);
	}
	rc = cs_hl_finish(svc, rc);
	if (rc == CS_ECONFLICT)
		rc = cs_err_set(CS_ENOTFOUND, "the authorisation is already "
		    "withdrawn");
out:
	json_decref(body);
	json_decref(a.body);
	return rc;
}
