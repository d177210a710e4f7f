/*
 * holder_loop: the helpers the holder-in-the-loop modules share
 * (holder_loop.h).
 */
#include "holder_loop.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "digest.h"
#include "encode.h"

void
cs_hl_code_key(char prefix, const char *code, char key[CS_HL_KEY_MAX])
{
	uint8_t h[CS_SHA256_LEN] = { 0 };

	(void)cs_sha256(code, strlen(code), h);
	key[0] = prefix;
	cs_hex_encode_into(h, sizeof(h), key + 1);
}

int
cs_hl_require_portal(const cs_actor *who, const char *what)
{
	if (who == NULL || who->client == NULL ||
	    strcmp(who->client->role, "portal") != 0)
		return cs_err_set(CS_EFORBIDDEN, "only a portal client may %s",
		    what);
	return 0;
}

/* in upper-cased into out when it is 18 characters and passes the check
 * of a credit code or a resident ID; else the reason in cs_err_msg(). */
static int
check_code(const char *in, char out[CS_USCC_LEN + 1])
{
	size_t i, n = in != NULL ? strlen(in) : 0;
	char why[160];

	if (n != CS_USCC_LEN)
		return cs_err_set(CS_EINVAL, "is %zu characters, expected 18", n);
	for (i = 0; i < n; i++)
		out[i] = (char)toupper((unsigned char)in[i]);
	out[n] = '\0';
	if (cs_code_check_uscc(out) == 0 || cs_code_check_rid(out) == 0)
		return 0;
	cs_code_check_uscc(out);
	snprintf(why, sizeof(why), "%s", cs_err_msg());
	return cs_err_set(CS_EINVAL, "fails as a credit code (%s) and as a "
	    "resident ID", why);
}

int
cs_hl_holder_code(const char *in, char out[CS_USCC_LEN + 1], cs_problems *p,
    const char *field)
{
	if (check_code(in, out) == 0)
		return 0;
	cs_problems_add(p, field, "holder code %s", cs_err_msg());
	return cs_err_set(CS_EVALIDATION, "holder code %s", cs_err_msg());
}

int
cs_hl_agent_code(const char *in, char out[CS_USCC_LEN + 1])
{
	out[0] = '\0';
	if (in == NULL)
		return 0;
	if (check_code(in, out) != 0)
		return cs_err_wrap(CS_EINVAL, "X-Acting-For: the agent's code ");
	return 0;
}

int
cs_hl_put(cs_service *svc, const char *key, int64_t n, const char *kind,
    const char *holder, const json_t *body)
{
	cs_hact_row r;
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (text == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	r.key = (char *)key;
	r.n = n;
	r.kind = (char *)kind;
	r.holder = (char *)holder;
	r.at = (int64_t)cs_now();
	r.body = text;
	rc = cs_store_hact_put(svc->store, &r);
	free(text);
	return rc;
}

int
cs_hl_finish(cs_service *svc, int rc)
{
	char msg[512];

	if (rc == 0)
		return cs_store_commit(svc->store);
	snprintf(msg, sizeof(msg), "%s", cs_err_msg());
	(void)cs_store_rollback(svc->store);
	return cs_err_set(rc, "%s", msg);
}

int
cs_hl_rows(cs_service *svc, const char *key, cs_hact_row ***rows, size_t *n)
{
	return cs_store_hacts_get(svc->store, key, INT64_MAX, CS_HL_ROWS_MAX,
	    rows, n);
}

json_t *
cs_hl_body(const cs_hact_row *r)
{
	json_error_t e;

	return json_loads(r->body, 0, &e);
}

/* One id of a request's list checked against the holder: 0, a problem
 * (CS_EVALIDATION), or CS_EFORBIDDEN for another holder's licence. */
static int
check_one(cs_service *svc, const char *holder, const char *acting_for,
    const json_t *v, size_t i, json_t *ids, cs_problems *p)
{
	cs_licence_row *row = NULL;
	char field[32];
	int rc = 0, cov;

	snprintf(field, sizeof(field), "licences.%zu", i);
	if (!json_is_string(v) || cs_check_id(json_string_value(v)) != 0) {
		cs_problems_add(p, field, "is not a licence identifier%s%s",
		    json_is_string(v) ? ": " : "", json_is_string(v) ?
		    cs_err_msg() : "");
		return CS_EVALIDATION;
	}
	rc = cs_store_licence_get(svc->store, json_string_value(v), &row);
	if (rc == CS_ENOTFOUND) {
		cs_problems_add(p, field, "%s is not a licence of this library",
		    json_string_value(v));
		return CS_EVALIDATION;
	}
	if (rc != 0)
		return rc;
	if (strcmp(row->holder_code, holder) != 0)
		rc = cs_err_set(CS_EFORBIDDEN, "%s: licence %s is another "
		    "holder's", field, row->id);
	else if (acting_for != NULL && (cov = cs_hl_delegation_covers(svc,
	    holder, acting_for, row->type)) <= 0)
		rc = cov < 0 ? cov : cs_err_set(CS_EFORBIDDEN, "%s: no live "
		    "delegation from the holder to %s covers licences of type "
		    "%s", field, acting_for, row->type);
	else
		json_array_append_new(ids, json_string(row->id));
	cs_licence_row_free(row);
	return rc;
}

/* "all": the holder's licences, newest first, those the delegation
 * covers. */
static int
holder_all(cs_service *svc, const char *holder, const char *acting_for,
    json_t *ids)
{
	cs_licence_row **rows = NULL;
	size_t n = 0, i;
	int64_t pos = 0;
	int rc, cov = 1;

	if ((rc = cs_store_licences_by_holder(svc->store, holder, NULL, &pos,
	    CS_HL_LICENCES_MAX, &rows, &n)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if (acting_for != NULL && (cov = cs_hl_delegation_covers(svc,
		    holder, acting_for, rows[i]->type)) < 0)
			rc = cov;
		else if (cov)
			json_array_append_new(ids, json_string(rows[i]->id));
	}
	cs_licence_rows_free(rows, n);
	return rc;
}

/* {"types": [...]}: each a catalog type (and covered), as an array. */
static int
types_of(cs_service *svc, const char *holder, const char *acting_for,
    const json_t *types, json_t **out, cs_problems *p)
{
	json_t *v, *a = json_array();
	size_t i;
	int rc = 0, cov;
	char field[40];

	if (!json_is_array(types) || json_array_size(types) == 0 ||
	    json_array_size(types) > CS_HL_LICENCES_MAX) {
		cs_problems_add(p, "licences.types", "must be a list of 1 to %d "
		    "licence type codes", CS_HL_LICENCES_MAX);
		json_decref(a);
		return CS_EVALIDATION;
	}
	json_array_foreach(types, i, v) {
		snprintf(field, sizeof(field), "licences.types.%zu", i);
		if (!json_is_string(v) || cs_catalog_find(svc->catalog,
		    json_string_value(v)) == NULL) {
			cs_problems_add(p, field, "is not a type in the catalog");
			rc = CS_EVALIDATION;
		} else if (acting_for != NULL && rc == 0 &&
		    (cov = cs_hl_delegation_covers(svc, holder, acting_for,
		    json_string_value(v))) <= 0) {
			rc = cov < 0 ? cov : cs_err_set(CS_EFORBIDDEN, "%s: no "
			    "live delegation to %s covers type %s", field,
			    acting_for, json_string_value(v));
		} else
			json_array_append(a, v);
	}
	if (rc == 0)
		*out = json_pack("{so}", "types", a);
	else
		json_decref(a);
	return rc;
}

int
cs_hl_licences(cs_service *svc, const char *holder, const char *acting_for,
    const json_t *req, int types_ok, json_t **out, cs_problems *p)
{
	const json_t *l = json_object_get(req, "licences"), *v;
	json_t *ids = NULL;
	size_t i, before = p->n;
	int rc = 0, one;

	*out = NULL;
	if (acting_for != NULL && acting_for[0] == '\0')
		acting_for = NULL;
	if (types_ok && json_is_object(l))
		return types_of(svc, holder, acting_for, json_object_get(l,
		    "types"), out, p);
	if ((ids = json_array()) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if (json_is_string(l) && strcmp(json_string_value(l), "all") == 0) {
		rc = holder_all(svc, holder, acting_for, ids);
	} else if (!json_is_array(l) || json_array_size(l) == 0 ||
	    json_array_size(l) > CS_HL_LICENCES_MAX) {
		cs_problems_add(p, "licences", "must be \"all\"%s or a list of 1 "
		    "to %d licence identifiers", types_ok ? ", {\"types\": "
		    "[...]}" : "", CS_HL_LICENCES_MAX);
		rc = CS_EVALIDATION;
	} else {
		/* Every bad item is named; a forbidden one stops the lot. */
		json_array_foreach(l, i, v) {
			one = check_one(svc, holder, acting_for, v, i, ids, p);
			if (one != 0 && one != CS_EVALIDATION) {
				rc = one;
				break;
			}
		}
		if (rc == 0 && p->n > before)
			rc = CS_EVALIDATION;
	}
	if (rc == CS_EVALIDATION)
		rc = cs_err_set(rc, "%s", p->items[before].message);
	if (rc == 0)
		*out = ids;
	else
		json_decref(ids);
	return rc;
}

/* The checks a portal acting for an agent passes first: the agent's code,
 * and a live delegation at all (the licences are checked one by one). */
int
cs_hl_acting_check(cs_service *svc, const char *holder, const char *in,
    char agent[CS_USCC_LEN + 1])
{
	int rc;

	if ((rc = cs_hl_agent_code(in, agent)) != 0 || agent[0] == '\0')
		return rc;
	if ((rc = cs_hl_delegation_covers(svc, holder, agent, NULL)) < 0)
		return rc;
	if (rc == 0)
		return cs_err_set(CS_EFORBIDDEN, "no live delegation from %s to "
		    "the agent %s", holder, agent);
	return 0;
}

int
cs_hl_create_check(cs_service *svc, const cs_actor *who, const char *what,
    const char *holder_in, const char *acting_for, const json_t *req,
    char holder[CS_USCC_LEN + 1], char agent[CS_USCC_LEN + 1],
    cs_problems *p)
{
	int rc;

	if ((rc = cs_hl_require_portal(who, what)) != 0)
		return rc;
	if (!json_is_object(req))
		return cs_err_set(CS_EINVAL, "the body must be a JSON object");
	if ((rc = cs_hl_holder_code(holder_in, holder, p, "code")) != 0)
		return rc;
	return cs_hl_acting_check(svc, holder, acting_for, agent);
}
