/*
 * delegation: a holder's delegations to an agent (委托代办, SPEC §10):
 * made and withdrawn by a portal speaking for the holder, and the check a
 * portal acting for the agent (X-Acting-For) must pass.
 *
 * A holder's delegations to one agent are the rows of one key ("D" holder
 * "/" agent), numbered 1, 2, ...: a delegation is a row, its withdrawal
 * another naming it.  Nothing is updated; a withdrawal counts from the
 * moment its row commits, on every node, since the check reads the rows
 * each time (no cache).  The delegation id is "agent.n".
 */
#include "holder_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "timeutil.h"

static void
delegation_key(const char *holder, const char *agent, char key[CS_HL_KEY_MAX])
{
	snprintf(key, CS_HL_KEY_MAX, "D%s/%s", holder, agent);
}

/* Whether row (a delegation) names type among its types (or has none). */
static int
row_covers(const json_t *b, const char *type)
{
	const json_t *types = json_object_get(b, "types"), *v;
	size_t i;

	if (type == NULL || !json_is_array(types))
		return 1;
	json_array_foreach(types, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), type) == 0)
			return 1;
	return 0;
}

/* Whether delegation number n was withdrawn among rows. */
static int
withdrawn(cs_hact_row **rows, size_t nrows, int64_t n)
{
	size_t i;
	json_t *b;
	int w = 0;

	for (i = 0; i < nrows && !w; i++) {
		if (strcmp(rows[i]->kind, "withdrawn") != 0 ||
		    (b = cs_hl_body(rows[i])) == NULL)
			continue;
		w = json_integer_value(json_object_get(b, "withdraws")) == n;
		json_decref(b);
	}
	return w;
}

int
cs_hl_delegation_covers(cs_service *svc, const char *holder,
    const char *agent, const char *type)
{
	char key[CS_HL_KEY_MAX], today[11];
	cs_hact_row **rows = NULL;
	size_t n = 0, i;
	const char *until;
	json_t *b;
	int rc, yes = 0;

	delegation_key(holder, agent, key);
	if ((rc = cs_hl_rows(svc, key, &rows, &n)) != 0)
		return rc;
	cs_date_format(cs_local_days(cs_now(), svc->cfg.tz_offset_minutes),
	    today);
	for (i = 0; i < n && !yes; i++) {
		if (strcmp(rows[i]->kind, "delegation") != 0 ||
		    (b = cs_hl_body(rows[i])) == NULL)
			continue;
		until = json_string_value(json_object_get(b, "until"));
		yes = until != NULL && strcmp(until, today) >= 0 &&
		    row_covers(b, type) && !withdrawn(rows, n, rows[i]->n);
		json_decref(b);
	}
	cs_hact_rows_free(rows, n);
	return yes;
}

/* The body's agent: {"name", "code_type", "code"}, the code checked. */
static void
check_agent(const json_t *a, char code[CS_USCC_LEN + 1], cs_problems *p)
{
	const char *ct = json_string_value(json_object_get(a, "code_type"));
	const json_t *name = json_object_get(a, "name");
	const char *c = json_string_value(json_object_get(a, "code"));

	if (!json_is_object(a)) {
		cs_problems_add(p, "agent", "must be {\"name\", \"code_type\", "
		    "\"code\"}");
		return;
	}
	if (!json_is_string(name) || json_string_length(name) == 0 ||
	    json_string_length(name) > 200)
		cs_problems_add(p, "agent.name", "must be text of 1 to 200 bytes");
	if (ct == NULL || (strcmp(ct, "USCC") != 0 && strcmp(ct, "RID") != 0)) {
		cs_problems_add(p, "agent.code_type", "must be USCC or RID");
		return;
	}
	if (c == NULL || strlen(c) != CS_USCC_LEN) {
		cs_problems_add(p, "agent.code", "must be 18 characters");
		return;
	}
	snprintf(code, CS_USCC_LEN + 1, "%s", c);
	if (cs_code_check(ct, code) != 0)
		cs_problems_add(p, "agent.code", "%s", cs_err_msg());
}

static void
check_types(cs_service *svc, const json_t *t, cs_problems *p)
{
	const json_t *v;
	size_t i;

	if (t == NULL || json_is_null(t))
		return;
	if (!json_is_array(t) || json_array_size(t) == 0 ||
	    json_array_size(t) > CS_HL_LICENCES_MAX) {
		cs_problems_add(p, "types", "must be a list of 1 to %d licence "
		    "type codes (absent: every type)", CS_HL_LICENCES_MAX);
		return;
	}
	json_array_foreach(t, i, v)
		if (!json_is_string(v) || cs_catalog_find(svc->catalog,
		    json_string_value(v)) == NULL) {
			char field[32];

			snprintf(field, sizeof(field), "types.%zu", i);
			cs_problems_add(p, field, "is not a type in the catalog");
		}
}

static void
check_until(cs_service *svc, const json_t *u, cs_problems *p)
{
	char today[11];
	int y, m, d;

	if (!json_is_string(u) || cs_date_parse(json_string_value(u), &y, &m,
	    &d) != 0) {
		cs_problems_add(p, "until", "must be a date, YYYY-MM-DD (the "
		    "last day the delegation holds)");
		return;
	}
	cs_date_format(cs_local_days(cs_now(), svc->cfg.tz_offset_minutes),
	    today);
	if (strcmp(json_string_value(u), today) < 0)
		cs_problems_add(p, "until", "is before today (%s)", today);
}

/* The next number of key: one more than the greatest stored. */
static int
next_n(cs_service *svc, const char *key, int64_t *out)
{
	cs_hact_row **rows = NULL;
	size_t n = 0;
	int rc = cs_store_hacts_get(svc->store, key, INT64_MAX, 1, &rows, &n);

	*out = rc == 0 && n > 0 ? rows[0]->n + 1 : 1;
	cs_hact_rows_free(rows, n);
	return rc;
}

/* Append body as the next row of key (kind), retrying when another node
 * took the number first; *n_out the number. */
static int
append_next(cs_service *svc, const char *key, const char *kind,
    const char *holder, json_t *body, int64_t *n_out)
{
	int rc = CS_ECONFLICT, tries;

	for (tries = 0; rc == CS_ECONFLICT && tries < 5; tries++) {
		if ((rc = next_n(svc, key, n_out)) != 0)
			break;
		json_object_set_new(body, "n", json_integer(*n_out));
		rc = cs_hl_put(svc, key, *n_out, kind, holder, body);
	}
	return rc;
}

int
cs_delegation_create(cs_service *svc, const cs_actor *who,
    const char *holder_in, const json_t *req, json_t **out, cs_problems *p)
{
	char holder[CS_USCC_LEN + 1], agent[CS_USCC_LEN + 1] = "";
	char key[CS_HL_KEY_MAX], id[64];
	json_t *body = NULL;
	size_t before = p->n;
	int64_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_hl_require_portal(who, "delegate for a holder")) != 0)
		return rc;
	if (cs_hl_holder_code(holder_in, holder, p, "code") != 0)
		holder[0] = '\0';
	check_agent(json_object_get(req, "agent"), agent, p);
	check_types(svc, json_object_get(req, "types"), p);
	check_until(svc, json_object_get(req, "until"), p);
	if (p->n > before)
		return cs_err_set(CS_EVALIDATION, "%s", p->items[before].message);
	body = json_pack("{sO sO* ss ss}", "agent", json_object_get(req, "agent"),
	    "types", json_object_get(req, "types"), "until",
	    json_string_value(json_object_get(req, "until")), "client",
	    who->client->name);
	if (body == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	delegation_key(holder, agent, key);
	if ((rc = cs_store_begin(svc->store)) != 0)
		goto out;
	if ((rc = append_next(svc, key, "delegation", holder, body, &n)) == 0) {
		snprintf(id, sizeof(id), "%s.%lld", agent, (long long)n);
		rc = cs_audit(svc, who, "delegation", id, holder, NULL, 1);
	}
	rc = cs_hl_finish(svc, rc);
	if (rc == 0 && (*out = json_pack("{ss}", "delegation_id", id)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	json_decref(body);
	return rc;
}

int
cs_delegation_withdraw(cs_service *svc, const cs_actor *who,
    const char *holder_in, const char *id)
{
	cs_problems p = CS_PROBLEMS_INIT;
	char holder[CS_USCC_LEN + 1], agent[CS_USCC_LEN + 1], key[CS_HL_KEY_MAX];
	char given[CS_USCC_LEN + 1];
	cs_hact_row **rows = NULL;
	const char *dot = strchr(id, '.');
	char *end = NULL;
	size_t n = 0, i;
	long long num = dot ? strtoll(dot + 1, &end, 10) : 0;
	json_t *body = NULL;
	int64_t wn;
	int rc, found = 0;

	if ((rc = cs_hl_require_portal(who, "withdraw a delegation")) != 0)
		return rc;
	rc = cs_hl_holder_code(holder_in, holder, &p, "code");
	cs_problems_reset(&p);
	if (rc != 0)
		return rc;
	if (dot == NULL || dot - id != CS_USCC_LEN || num < 1 ||
	    *end != '\0' || (snprintf(given, sizeof(given), "%.18s", id),
	    cs_hl_agent_code(given, agent)) != 0)
		return cs_err_set(CS_ENOTFOUND, "no delegation %.64s", id);
	delegation_key(holder, agent, key);
	if ((rc = cs_hl_rows(svc, key, &rows, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		found |= rows[i]->n == num &&
		    strcmp(rows[i]->kind, "delegation") == 0;
	if (!found || withdrawn(rows, n, num)) {
		rc = cs_err_set(CS_ENOTFOUND, found ? "delegation %s is already "
		    "withdrawn" : "no delegation %s", id);
		goto out;
	}
	if ((body = json_pack("{sI ss}", "withdraws", (json_int_t)num,
	    "client", who->client->name)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_store_begin(svc->store)) != 0)
		goto out;
	if ((rc = append_next(svc, key, "withdrawn", holder, body, &wn)) == 0)
		rc = cs_audit(svc, who, "delegation_withdraw", id, holder, NULL, 1);
	rc = cs_hl_finish(svc, rc);
out:
	json_decref(body);
	cs_hact_rows_free(rows, n);
	return rc;
}
