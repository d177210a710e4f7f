/*
 * http_copies.c: the annotated copies' endpoints (加注件, SPEC §12):
 *   POST /api/v1/certificates/{id}/copies   make one (cs_copy_create)
 *   GET  /api/v1/copies/{copy_id}.pdf       its signed PDF, drawn now
 * and the {"copy": id} form of POST /api/v1/verify (http_routes.c calls
 * cs_http_verify_copy).  The handlers only translate: the domain decides
 * who may, the render layer draws and signs.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_problem.h"
#include "licence_copy.h"

void
cs_h_copy_create(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	int rc;

	if (body == NULL)
		return;
	rc = cs_copy_create(r->srv->svc, &r->actor, r->params[0], body, &out,
	    &p);
	if (rc != 0) {
		cs_http_problem_err(r, rc, &p);
	} else {
		cs_reply_json(r, 201, out);
		cs_reply_header(r, "Location", json_string_value(
		    json_object_get(out, "pdf")));
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

/* "{copy_id}.pdf" from the path's last segment into id; 0 when it is not
 * one (the router takes the whole segment). */
static int
copy_id_of(const char *seg, char id[CS_COPY_ID_LEN + 1])
{
	size_t n = strlen(seg);

	if (n != CS_COPY_ID_LEN + 4 || strcmp(seg + CS_COPY_ID_LEN, ".pdf") != 0)
		return 0;
	memcpy(id, seg, CS_COPY_ID_LEN);
	id[CS_COPY_ID_LEN] = '\0';
	return cs_copy_id_check(id) == 0;
}

void
cs_h_copy_pdf(cs_req *r)
{
	char id[CS_COPY_ID_LEN + 1], until[11];
	cs_copy_row *c = NULL;
	json_t *lic = NULL;
	cs_copy_marks m;
	uint8_t *pdf = NULL;
	size_t len = 0;
	int rc;

	if (!copy_id_of(r->params[0], id)) {
		cs_http_problem_field(r, 404, "copy_id", "no such annotated copy: "
		    "the address is /api/v1/copies/{copy_id}.pdf");
		return;
	}
	if ((rc = cs_copy_get(r->srv->svc, &r->actor, id, &c, &lic)) != 0)
		goto out;
	cs_copy_until(r->srv->svc, c, until);
	memset(&m, 0, sizeof(m));
	m.purpose = c->purpose;
	m.used_by = c->used_by_name;
	m.copy_id = c->id;
	m.until = until;
	if ((rc = cs_licence_copy_pdf(r->srv->svc, lic, &m, &r->srv->qr,
	    cs_now(), &pdf, &len)) != 0)
		goto out;
	cs_reply(r, 200, "application/pdf", pdf, len, 1);
	pdf = NULL;
	/* Each download is drawn and signed anew, and only for a client
	 * allowed to read the licence: nothing may keep it. */
	cs_reply_header(r, "Cache-Control", "no-store");
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(pdf);
	json_decref(lic);
	cs_copy_row_free(c);
}

int
cs_http_verify_copy(cs_req *r, const json_t *copy, json_t **out)
{
	if (!json_is_string(copy))
		return cs_verify_malformed(
		    "copy must be a string: the annotated copy's id", out);
	return cs_verify_copy(r->srv->svc, &r->actor, json_string_value(copy),
	    out);
}
