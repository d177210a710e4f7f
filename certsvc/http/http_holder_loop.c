/*
 * http_holder_loop: the endpoints of the holder in the loop (SPEC §10),
 * each a portal's:
 *   POST   /api/v1/holders/{code}/presentations              亮证码
 *   GET    /api/v1/holders/{code}/presentations/{p}/qr.png   its QR image
 *   POST   /api/v1/holders/{code}/authorisations             用证码
 *   DELETE /api/v1/holders/{code}/authorisations/{auth_code}
 *   POST   /api/v1/holders/{code}/delegations                委托代办
 *   DELETE /api/v1/holders/{code}/delegations/{id}
 *   GET    /api/v1/holders/{code}/usage                      用证记录
 * The page /p/{code} and the presentation form of POST /api/v1/verify are
 * in http_routes.c beside /v.  The handlers only translate; the domain
 * (presentation.c, authorisation.c, delegation.c, usage.c) decides.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_problem.h"
#include "qr.h"

/* A create: the JSON body, the domain call, 201 with its answer. */
typedef int (*create_fn)(cs_service *svc, const cs_actor *who,
    const char *holder, const char *acting_for, const json_t *req,
    json_t **out, cs_problems *p);

static void
create(cs_req *r, create_fn fn)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	int rc;

	if (body == NULL)
		return;
	rc = fn(r->srv->svc, &r->actor, r->params[0], cs_req_header(r,
	    "X-Acting-For"), body, &out, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else {
		cs_reply_json(r, 201, out);
		/* A code is a secret for its holder: no cache keeps it. */
		cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

void
cs_h_presentation_create(cs_req *r)
{
	create(r, cs_presentation_create);
}

void
cs_h_authorisation_create(cs_req *r)
{
	create(r, cs_authorisation_create);
}

/* The delegation's create takes no X-Acting-For: an agent cannot
 * delegate what it was delegated. */
static int
delegation_create(cs_service *svc, const cs_actor *who, const char *holder,
    const char *acting_for, const json_t *req, json_t **out, cs_problems *p)
{
	if (acting_for != NULL)
		return cs_err_set(CS_EFORBIDDEN, "an agent may not delegate: "
		    "X-Acting-For is not taken here");
	return cs_delegation_create(svc, who, holder, req, out, p);
}

void
cs_h_delegation_create(cs_req *r)
{
	create(r, delegation_create);
}

static void
reply_done(cs_req *r, int rc)
{
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply(r, 204, NULL, NULL, 0, 0);
}

void
cs_h_authorisation_withdraw(cs_req *r)
{
	reply_done(r, cs_authorisation_withdraw(r->srv->svc, &r->actor,
	    r->params[0], r->params[1]));
}

void
cs_h_delegation_withdraw(cs_req *r)
{
	reply_done(r, cs_delegation_withdraw(r->srv->svc, &r->actor,
	    r->params[0], r->params[1]));
}

void
cs_h_usage(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *out = NULL;
	int rc = cs_usage_list(r->srv->svc, &r->actor, r->params[0],
	    cs_req_query(r, "limit"), cs_req_query(r, "cursor"), &out, &p);

	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		cs_reply_json(r, 200, out);
	cs_problems_reset(&p);
	json_decref(out);
}

/* The QR image the holder's app shows.  Not cached: a presentation lives
 * two minutes, and the image is small. */
void
cs_h_presentation_qr(cs_req *r)
{
	char *text = NULL;
	uint8_t *img = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cs_presentation_qr_text(r->srv->svc, &r->actor, r->params[0],
	    r->params[1], &text)) == 0 &&
	    (rc = cs_qr_png(text, &r->srv->qr, &img, &len, NULL)) == 0) {
		cs_reply(r, 200, "image/png", img, len, 1);
		img = NULL;
		cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(img);
	free(text);
}
