/*
 * whoami: what a client is and may do, as GET /api/v1/me answers it and
 * `certsvc client list --json` prints it.  An integrator whose reader sees
 * nothing can ask why instead of guessing: a reader granted no type is
 * told so in "warnings".
 */
#include "service_internal.h"

#include <string.h>

#include "cs_err.h"

/* "T1,T2" as ["T1","T2"]; "*" as ["*"] (every type). */
static json_t *
types_json(const char *types)
{
	json_t *a = json_array();
	const char *p = types;
	size_t n;

	while (a != NULL && p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return a;
}

static json_t *
grant_json(const cs_grant *g)
{
	json_t *o = json_pack("{so}", "types", types_json(g->types));

	if (o != NULL && g->issuer_code != NULL)
		json_object_set_new(o, "issuer", json_pack("{ss ss*}", "code",
		    g->issuer_code, "name", g->issuer_name));
	return o;
}

json_t *
cs_client_json(const cs_client *c)
{
	json_t *grants = json_array(), *warnings = json_array(), *o;
	size_t i;

	for (i = 0; grants != NULL && i < c->n_grants; i++)
		json_array_append_new(grants, grant_json(&c->grants[i]));
	if (warnings != NULL && c->n_grants == 0 && strcmp(c->role, "admin") != 0 &&
	    strcmp(c->role, "portal") != 0)
		json_array_append_new(warnings, json_string(strcmp(c->role,
		    "reader") == 0 ? "no licence type is granted: every holder "
		    "lookup answers no licences and every read is 403 until an "
		    "operator runs 'certsvc client grant'" : "no licence type is "
		    "granted: every issuance is 403 until an operator runs "
		    "'certsvc client grant'"));
	o = json_pack("{ss ss sb so so}", "name", c->name, "role", c->role,
	    "active", c->revoked_at == 0, "grants", grants, "warnings",
	    warnings);
	return o;
}

int
cs_whoami(const cs_actor *who, json_t **out)
{
	*out = NULL;
	if (who == NULL || who->client == NULL)
		return cs_err_set(CS_EAUTH, "no client");
	if ((*out = cs_client_json(who->client)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	return 0;
}
