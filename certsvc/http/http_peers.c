/*
 * http_peers.c: the peer libraries' endpoints (SPEC §11), admin only:
 *   POST   /api/v1/peers          add or update one: {"name", "trust_list":
 *                                 {JWK Set}, "status_list"?: base64url}
 *   GET    /api/v1/peers          {"peers": [...]}
 *   DELETE /api/v1/peers/{name}   remove one (204)
 * The handlers only translate; the domain (peers.c) decides and checks.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "encode.h"
#include "http_internal.h"
#include "http_problem.h"

void
cs_h_peer_add(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	const json_t *tl, *sl;
	const char *name;
	uint8_t *list = NULL;
	size_t list_len = 0;
	char *trust = NULL;
	int rc;

	if (body == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	tl = json_object_get(body, "trust_list");
	sl = json_object_get(body, "status_list");
	if (name == NULL)
		cs_problems_add(&p, "name", "required: the peer's library name");
	if (!json_is_object(tl))
		cs_problems_add(&p, "trust_list", "required: the peer's trust "
		    "list, the JWK Set object of its GET /api/v1/trust-list");
	if (sl != NULL && !json_is_null(sl) && (!json_is_string(sl) ||
	    cs_b64url_decode(json_string_value(sl), json_string_length(sl),
	    &list, &list_len) != 0))
		cs_problems_add(&p, "status_list", "not base64url: the bytes of "
		    "the peer's GET /api/v1/status-list, base64url-encoded");
	if (p.n > 0) {
		cs_err_set(CS_EVALIDATION, "the peer is refused");
		cs_http_problem_err(r, CS_EVALIDATION, &p);
		goto out;
	}
	if ((trust = json_dumps(tl, JSON_COMPACT)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else
		rc = cs_peer_add(r->srv->svc, &r->actor, name, trust,
		    strlen(trust), list, list_len, &out, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		cs_reply_json(r, 201, out);
out:
	cs_problems_reset(&p);
	free(trust);
	free(list);
	json_decref(out);
	json_decref(body);
}

void
cs_h_peer_list(cs_req *r)
{
	json_t *out = NULL;
	int rc;

	if ((rc = cs_peer_list(r->srv->svc, &r->actor, &out)) != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
	json_decref(out);
}

void
cs_h_peer_remove(cs_req *r)
{
	int rc;

	if ((rc = cs_peer_remove(r->srv->svc, &r->actor, r->params[0])) != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply(r, 204, NULL, NULL, 0, 0);
}
