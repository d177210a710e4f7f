/*
 * http_routes: the route table of the HTTP API (SPEC §5) and one handler
 * per endpoint.  Each handler turns the request into a call of service.h
 * and its result into a response; the checks every route shares (rate
 * limit, authentication, content type, body size) ran before it, in
 * http.c.  Role and grant checks are the domain's (CS_EFORBIDDEN → 403).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codes.h"
#include "cs_err.h"
#include "face.h"
#include "face_png.h"
#include "http_internal.h"
#include "http_parse.h"
#include "http_problem.h"
#include "http_qrcache.h"
#include "log.h"
#include "openapi_doc.h"
#include "page.h"
#include "qr.h"
#include "rfc3339.h"
#include "text.h"
#include "version.h"

#define PURPOSE_MAX_CHARS 200  /* SPEC §5: X-Purpose, at most 200 characters */
#define QR_MAX_AGE "private, max-age=300"
#define PUBLIC_MAX_AGE "public, max-age=300"
/* A status list is signed again within a minute of a change (SPEC §11):
 * no cache may keep one longer. */
#define STATUS_LIST_MAX_AGE "public, max-age=60"

/* --- helpers --------------------------------------------------------------- */

static cs_service *
svc_of(cs_req *r)
{
	return r->srv->svc;
}

static const cs_config *
cfg_of(cs_req *r)
{
	return cs_service_config(r->srv->svc);
}

static const cs_catalog *
catalog_of(cs_req *r)
{
	return cs_service_catalog(r->srv->svc);
}

/* Location: prefix + id on a 201 (nothing when id is NULL or empty). */
static void
location(cs_req *r, const char *prefix, const char *id)
{
	char loc[512];

	if (id == NULL || id[0] == '\0')
		return;
	snprintf(loc, sizeof(loc), "%s%s", prefix, id);
	cs_reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
}

/* Idempotent-Replayed: true on the answer to a request that had already
 * been carried out (an issuance's approval_ref seen before, a status
 * change that already holds): a client retrying after a time-out learns
 * that nothing new happened. */
static void
mark_replayed(cs_req *r, int replayed)
{
	if (replayed)
		cs_reply_header(r, "Idempotent-Replayed", "true");
}

static void
reply_licence(cs_req *r, int rc, json_t *lic, int created, cs_problems *p)
{
	const char *id = json_string_value(json_object_get(lic, "id"));

	if (rc != 0) {
		cs_http_problem_err(r, rc, p);
		return;
	}
	cs_reply_json(r, created ? 201 : 200, lic);
	mark_replayed(r, !created);
	if (created)
		location(r, "/api/v1/certificates/", id);
}

/* A text header (X-Purpose and friends): raw UTF-8 or percent-encoded,
 * decoded; control characters, a NUL (raw or %00: it would cut the audit
 * record's value short) and invalid UTF-8 are a 400 naming it. */
static int
header_text(cs_req *r, const char *name, int required, size_t max_chars,
    char **out)
{
	size_t n;
	const char *h = cs_req_header_n(r, name, &n);

	*out = NULL;
	if (h == NULL || n == 0) {
		if (!required)
			return 0;
		cs_http_problem_at(r, CS_CAUSE_PURPOSE_REQUIRED, name,
		    CS_FC_REQUIRED, "the %s header is required: the purpose of "
		    "this lookup (申请事由), at most %zu characters", name,
		    max_chars);
		return -1;
	}
	if (cs_http_header_text(h, n, max_chars, out) != 0) {
		cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, name,
		    CS_FC_INVALID, "the %s header %s", name, cs_err_msg());
		return -1;
	}
	return 0;
}

/* --- issuance and lifecycle ------------------------------------------------ */

/* The answer to an issuance: its licence as JSON text (owned), 201 with
 * Location when created, 200 for a replay. */
static void
reply_issued(cs_req *r, char *text, const char *id, int created)
{
	if (created)
		cs_metrics_issued(r->srv->metrics, 1);
	/* As reply_licence answers, from the licence's JSON text. */
	cs_reply(r, created ? 201 : 200, "application/json; charset=utf-8",
	    text, strlen(text), 1);
	mark_replayed(r, !created);
	if (created)
		location(r, "/api/v1/certificates/", id);
}

/* An issuance on the issuance writer: its outcome, kept for the
 * connection's thread. */
struct issued {
	int rc, cause;
	char msg[512];
	cs_problems p;
	char *text;
	char id[CS_LICENCE_ID_MAX];
	int created;
};

static void
issue_finish(cs_req *r)
{
	struct issued *a = r->async;

	r->async = NULL;
	if (a->rc != 0) {
		cs_err_setc(a->rc, a->cause, "%s", a->msg);
		cs_http_problem_err(r, a->rc, &a->p);
	} else
		reply_issued(r, a->text, a->id, a->created);
	cs_problems_reset(&a->p);
	free(a);
}

/* On the writer's thread, once the licence is on disk (or failed). */
static void
issue_done(void *ctx, int rc, const cs_problems *problems, char *text,
    const char *id, int created)
{
	cs_req *r = ctx;
	struct issued *a = r->async;

	a->rc = rc;
	if (rc != 0) {
		snprintf(a->msg, sizeof(a->msg), "%s", cs_err_msg());
		a->cause = cs_err_cause();
	}
	if (problems != NULL)
		cs_problems_merge(&a->p, problems, NULL);
	a->text = text;
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->created = created;
	cs_req_resume(r, issue_finish);
}

/* Validated here; signed and stored on the issuance writer, many to a
 * commit, while this thread serves other connections (tx_queue.h). */
static void
h_issue(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r);
	cs_issue_job *job = NULL;
	int rc;

	if (req == NULL)
		return;
	if ((rc = cs_issue_prepare(svc_of(r), &r->actor, req, &p, &job)) != 0) {
		cs_http_problem_err(r, rc, &p);
	} else if ((r->async = calloc(1, sizeof(struct issued))) == NULL) {
		cs_issue_job_free(job);
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
	} else {
		/* Suspended first: the writer may finish before this returns. */
		cs_req_suspend(r);
		if ((rc = cs_issue_submit(job, issue_done, r)) != 0)
			issue_done(r, rc, NULL, NULL, "", 0);
	}
	cs_problems_reset(&p);
	json_decref(req);
}

static void
h_bundle(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r), *out = NULL;
	int created = 0, rc;

	if (req == NULL)
		return;
	rc = cs_issue_bundle(svc_of(r), &r->actor, req, &out, &created, &p);
	if (rc != 0) {
		cs_http_problem_err(r, rc, &p);
	} else {
		if (created)
			cs_metrics_issued(r->srv->metrics, (long)json_array_size(
			    json_object_get(out, "certificates")));
		cs_reply_json(r, created ? 201 : 200, out);
		mark_replayed(r, !created);
		if (created)
			location(r, "/api/v1/bundles/",
			    json_string_value(json_object_get(out, "id")));
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(req);
}

/* A JSON text (malloc'd; taken), sent as cs_reply_json sends a value. */
static void
reply_json_text(cs_req *r, int status, char *text)
{
	cs_reply(r, status, "application/json; charset=utf-8", text,
	    strlen(text), 1);
}

static void
h_licence(cs_req *r)
{
	char *text = NULL;
	int rc = cs_licence_read_text(svc_of(r), &r->actor, r->params[0], &text);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		reply_json_text(r, 200, text);
}

/* The answer of a domain call that made out (taken): 200 with it, or the
 * problem of rc. */
static void
reply_value(cs_req *r, int rc, json_t *out)
{
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
	json_decref(out);
}

static void
h_bundle_get(cs_req *r)
{
	json_t *out = NULL;
	int rc = cs_bundle_read(svc_of(r), &r->actor, r->params[0], &out);

	reply_value(r, rc, out);
}

static void
h_me(cs_req *r)
{
	json_t *out = NULL;
	int rc = cs_whoami(&r->actor, &out);

	reply_value(r, rc, out);
}

static void
h_transition(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	int replayed = 0, rc;

	if (body == NULL)
		return;
	rc = cs_licence_transition(svc_of(r), &r->actor, r->params[0],
	    r->route->arg, body, &out, &replayed, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else {
		cs_reply_json(r, 200, out);
		mark_replayed(r, replayed);
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

static void
h_amend(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r), *lic = NULL;
	int created = 0, rc;

	if (req == NULL)
		return;
	rc = cs_licence_amend(svc_of(r), &r->actor, r->params[0], req, &lic,
	    &created, &p);
	if (rc == 0 && created)
		cs_metrics_issued(r->srv->metrics, 1);
	reply_licence(r, rc, lic, created, &p);
	cs_problems_reset(&p);
	json_decref(lic);
	json_decref(req);
}

/* --- images ---------------------------------------------------------------- */

/* ?form=url|compact, or the deployment's default; 400 left otherwise. */
static const char *
qr_form(cs_req *r)
{
	const char *form = cs_req_query(r, "form");

	if (form == NULL || form[0] == '\0')
		return cfg_of(r)->qr_form;
	if (strcmp(form, "url") == 0 || strcmp(form, "compact") == 0)
		return form;
	cs_http_problem_field(r, 400, "form", "form must be url or compact");
	return NULL;
}

static void
h_qr(cs_req *r)
{
	int png = strcmp(r->route->arg, "png") == 0, rc;
	const char *form = qr_form(r);
	char *key = NULL, *text = NULL, *svg = NULL;
	uint8_t *img = NULL;
	size_t len = 0;

	if (form == NULL)
		return;
	/* Authorised and audited on every request, cache or not; the id read
	 * is the stored one. */
	if ((rc = cs_licence_read_qr(svc_of(r), &r->actor, r->params[0], form,
	    &text)) != 0)
		goto out;
	if (asprintf(&key, "%s\x1f%s\x1f%s", r->route->arg, form,
	    r->params[0]) < 0) {
		key = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((img = cs_qr_cache_get(r->srv->qr_cache, key, &len)) == NULL) {
		if (png)
			rc = cs_qr_png(text, &r->srv->qr, &img, &len, NULL);
		else if ((rc = cs_qr_svg(text, &r->srv->qr, &svg, NULL)) == 0) {
			img = (uint8_t *)svg;
			len = strlen(svg);
		}
		if (rc != 0)
			goto out;
		cs_qr_cache_put(r->srv->qr_cache, key, img, len);
	}
	cs_reply(r, 200, png ? "image/png" : "image/svg+xml; charset=utf-8", img,
	    len, 1);
	img = NULL;
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, QR_MAX_AGE);
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(img);
	free(text);
	free(key);
}

static void
h_face(cs_req *r)
{
	const char *form = qr_form(r);
	json_t *lic = NULL;
	char *svg = NULL;
	int rc;

	if (form == NULL)
		return;
	if ((rc = cs_licence_read(svc_of(r), &r->actor, r->params[0], &lic)) != 0)
		goto out;
	if ((rc = cs_licence_face_svg(svc_of(r), lic, form, &r->srv->qr,
	    &svg)) != 0)
		goto out;
	cs_reply(r, 200, "image/svg+xml; charset=utf-8", svg, strlen(svg), 1);
	svg = NULL;
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, QR_MAX_AGE);
	/* The face is a document a browser may open: it may not run or load
	 * anything, whatever a value in it says. */
	cs_reply_header(r, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(svg);
	json_decref(lic);
}

/* --- holders and audit ----------------------------------------------------- */

static void
h_holder(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	cs_purpose why = {NULL, NULL, NULL};
	cs_holder_query q;
	char *purpose = NULL, *item = NULL, *ref = NULL, *out = NULL;
	int rc;

	/* A missing purpose is refused (and audited) by the lookup itself. */
	if (header_text(r, "X-Purpose", 0, PURPOSE_MAX_CHARS, &purpose) != 0 ||
	    header_text(r, "X-Service-Item", 0, PURPOSE_MAX_CHARS, &item) != 0 ||
	    header_text(r, "X-Case-Ref", 0, PURPOSE_MAX_CHARS, &ref) != 0)
		goto out;
	why.purpose = purpose;
	why.service_item = item;
	why.case_ref = ref;
	q.code = r->params[0];
	q.type = cs_req_query(r, "type");
	q.status = cs_req_query(r, "status");
	q.limit = cs_req_query(r, "limit");
	q.cursor = cs_req_query(r, "cursor");
	q.unchecked = cs_req_query(r, "unchecked");
	rc = cs_holder_licences_text(svc_of(r), &r->actor, &q, &why, &out, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else {
		reply_json_text(r, 200, out);
		out = NULL;
	}
out:
	cs_problems_reset(&p);
	free(out);
	free(purpose);
	free(item);
	free(ref);
}

/* RFC 3339 date-time ("2026-11-24T08:00:00Z", "...T16:00:00.5+08:00", 't' or
 * ' ' as the separator too) or Unix milliseconds, to Unix milliseconds. */
static int
parse_time_ms(const char *s, int64_t *out)
{
	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		*out = strtoll(s, NULL, 10);
		return 0;
	}
	return cs_rfc3339_parse_ms(s, CS_RFC3339_ANY_SEP, out) != 0 ? -1 : 0;
}

/* GET /api/v1/certificates: the calling issuer's own licences, by
 * approval_ref or issue time (RFC 3339 or Unix milliseconds, as the audit
 * log's since/until), paged. */
static void
h_reconcile(cs_req *r)
{
	static const char *const names[] = {"issued_after", "issued_before"};
	cs_problems p = CS_PROBLEMS_INIT;
	cs_reconcile_query q;
	int64_t t[2] = {0, 0};
	char *out = NULL;
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < 2; i++)
		if ((v = cs_req_query(r, names[i])) != NULL &&
		    parse_time_ms(v, &t[i]) != 0) {
			cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, names[i],
			    CS_FC_DATE, "%s must be an RFC 3339 date-time "
			    "(2026-11-24T08:00:00+08:00) or Unix milliseconds",
			    names[i]);
			return;
		}
	memset(&q, 0, sizeof(q));
	q.approval_ref = cs_req_query(r, "approval_ref");
	/* Licences carry whole seconds: a bound inside a second takes that
	 * whole second in, since reconciling wants a licence too many rather
	 * than one missed. */
	q.from = t[0] ? t[0] / 1000 : 0;
	q.until = t[1] ? (t[1] + 999) / 1000 : 0;
	q.limit = cs_req_query(r, "limit");
	q.cursor = cs_req_query(r, "cursor");
	rc = cs_licences_reconcile(svc_of(r), &r->actor, &q, &out, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		reply_json_text(r, 200, out);
	cs_problems_reset(&p);
}

static void
h_audit(cs_req *r)
{
	static const char *const times[] = {"since", "until"};
	cs_audit_filter f;
	json_t *out = NULL;
	const char *v;
	char *end;
	int64_t t[2] = {0, 0};
	long long n;
	int i, rc;

	memset(&f, 0, sizeof(f));
	f.client = cs_req_query(r, "client");
	f.action = cs_req_query(r, "action");
	f.holder = cs_req_query(r, "holder");
	f.target = cs_req_query(r, "target");
	f.result = cs_req_query(r, "result");
	if (f.action != NULL && !cs_word_in(cs_audit_actions, f.action)) {
		cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, "action",
		    CS_FC_ENUM, "action must be one of: "
		    "%s", cs_audit_actions);
		return;
	}
	if (f.result != NULL && strcmp(f.result, "ok") != 0 &&
	    strcmp(f.result, "denied") != 0) {
		cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, "result",
		    CS_FC_ENUM, "result must be ok or "
		    "denied");
		return;
	}
	for (i = 0; i < 2; i++)
		if ((v = cs_req_query(r, times[i])) != NULL &&
		    parse_time_ms(v, &t[i]) != 0) {
			cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, times[i],
			    CS_FC_DATE, "%s must be an RFC 3339 "
			    "date-time (2026-11-24T08:00:00Z) or Unix milliseconds",
			    times[i]);
			return;
		}
	f.since_ms = t[0];
	f.until_ms = t[1];
	if ((v = cs_req_query(r, "after")) != NULL) {
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0) {
			cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, "after",
			    CS_FC_RANGE, "after must be a record "
			    "sequence number (0 or more)");
			return;
		}
		f.after_seq = n;
	}
	if ((v = cs_req_query(r, "limit")) != NULL) {
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > 1000) {
			cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER, "limit",
			    CS_FC_RANGE,
			    "limit must be 1 to 1000");
			return;
		}
		f.limit = (int)n;
	}
	rc = cs_audit_list(svc_of(r), &r->actor, &f, &out);
	reply_value(r, rc, out);
}

/* --- verification ----------------------------------------------------- */

/* Scanners end what they read with CR/LF; the compact form may end in a
 * space (a Base45 character), so spaces are kept at the end. */
static void
trim_scan(const char **s, size_t *n)
{
	while (*n > 0 && strchr(" \t\r\n", (*s)[0]) != NULL)
		(*s)++, (*n)--;
	while (*n > 0 && strchr("\t\r\n", (*s)[*n - 1]) != NULL)
		(*n)--;
}

static int
verify_text(cs_req *r, const char *text, size_t n, json_t **out)
{
	char code[65];
	int rc;

	trim_scan(&text, &n);
	/* {public_url}/p/{code}: a presentation, not a licence's token. */
	if (cs_presentation_code_of(svc_of(r), text, n, code))
		rc = cs_presentation_verify(svc_of(r), &r->actor, code, out);
	else
		rc = cs_verify_text(svc_of(r), text, n, out);
	if (rc == 0)
		cs_metrics_verification(r->srv->metrics,
		    json_string_value(json_object_get(*out, "result")));
	return rc;
}

/*
 * A paper copy typed by hand (SPEC §5), from the API or the /v form.  Its
 * answers are an oracle (the public view shows a resident ID's first 6 and
 * last 4 characters; the hidden birth date has a few thousand values), so
 * each check takes one failure of the address's budget before the lookup
 * and gives it back unless nothing matched.  0 with the verdict in *out,
 * or -1 with a problem left in r: 429 when the budget is spent.
 */
static int
verify_paper(cs_req *r, const json_t *req, json_t **out)
{
	cs_problems p = CS_PROBLEMS_INIT;
	const char *res = NULL;
	int rc;

	*out = NULL;
	if (!cs_req_failure_take(r))
		return -1;
	if ((rc = cs_verify_manual(svc_of(r), req, out, &p)) == 0)
		res = json_string_value(json_object_get(*out, "result"));
	if (res == NULL || strcmp(res, "not_found") != 0)
		cs_req_failure_give(r);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		cs_metrics_verification(r->srv->metrics, res);
	cs_problems_reset(&p);
	return rc != 0 ? -1 : 0;
}

static int
verify_malformed(cs_req *r, const char *why, json_t **out)
{
	int rc = cs_verify_malformed(why, out);

	if (rc == 0)
		cs_metrics_verification(r->srv->metrics, "malformed");
	return rc;
}

/* A body that is not JSON: where it breaks (cs_json_error_text). */
static int
verify_bad_json(cs_req *r, const json_error_t *e, json_t **out)
{
	char why[300];

	cs_json_error_text(e, why, sizeof(why));
	return verify_malformed(r, why, out);
}

/*
 * POST /api/v1/verify: SPEC §5 "always 200 with {result, reason,
 * certificate} for a body under 4 KiB", so a JSON body that cannot be read
 * as {"qr"} or a paper copy is a "malformed" verdict naming what is wrong,
 * not a 400: to a scanner, a bad request and a bad code are the same
 * answer.  Only the budget of paper-copy checks (429), a wrong content
 * type (415), an over-long body (413) and running out of memory are
 * problems.
 */
static void
h_verify(cs_req *r)
{
	json_error_t e;
	json_t *body = NULL, *out = NULL, *qr;
	int rc;

	if (!cs_req_content_is(r, "application/json")) {
		rc = verify_text(r, r->body.p, r->body.len, &out);
	} else if ((body = json_loadb(r->body.p, r->body.len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e)) == NULL) {
		rc = verify_bad_json(r, &e, &out);
	} else if (!json_is_object(body)) {
		rc = verify_malformed(r, "the body must be a JSON object: {\"qr\": "
		    "TEXT} or {\"id\" or \"number\", \"holder_code\"}", &out);
	} else if (json_object_get(body, "copy") != NULL) {
		rc = cs_http_verify_copy(r, json_object_get(body, "copy"), &out);
	} else if ((qr = json_object_get(body, "qr")) != NULL) {
		rc = json_is_string(qr) ? verify_text(r, json_string_value(qr),
		    json_string_length(qr), &out) : verify_malformed(r, "qr must "
		    "be a string: the text of the QR code", &out);
	} else if (json_object_get(body, "id") != NULL ||
	    json_object_get(body, "number") != NULL ||
	    json_object_get(body, "holder_code") != NULL) {
		if (verify_paper(r, body, &out) != 0)
			goto out;
		rc = 0;
	} else {
		rc = verify_malformed(r, "expected {\"qr\": TEXT}, {\"copy\": ID} "
		    "or {\"id\" or \"number\", \"holder_code\"}", &out);
	}
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
out:
	json_decref(out);
	json_decref(body);
}

/* --- the verification page (page.c) and face.png ----------------------- */

/* script: the CSP source of the page's one inline script, or NULL for
 * none. */
static void
page_reply(cs_req *r, int rc, char *html, size_t len, const char *script)
{
	char csp[256], allow[96] = "";

	if (rc != 0) {
		cs_http_problem_err(r, rc, NULL);
		return;
	}
	cs_reply(r, 200, "text/html; charset=utf-8", html, len, 1);
	/* Self-contained: nothing to load, nothing to run but the page's own
	 * script named by its hash, and the token in the address is not sent
	 * on to another site.  Never cached: the same address shows a
	 * revocation at the next look. */
	if (script != NULL && script[0] != '\0')
		snprintf(allow, sizeof(allow), "script-src %s; ", script);
	snprintf(csp, sizeof(csp), "default-src 'none'; %sstyle-src "
	    "'unsafe-inline'; form-action 'self'; base-uri 'none'; "
	    "frame-ancestors 'none'", allow);
	cs_reply_header(r, "Content-Security-Policy", csp);
	cs_reply_header(r, "Referrer-Policy", "no-referrer");
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void
page_show(cs_req *r, const json_t *res, enum cs_page_source src)
{
	cs_page_opts o = {catalog_of(r), cfg_of(r)->tz_offset_minutes, src};
	char *html = NULL;
	size_t len = 0;
	int rc = cs_page_result(res, &o, &html, &len);

	page_reply(r, rc, html, len, NULL);
}

static void
page_forms(cs_req *r, const char *notice)
{
	char *html = NULL;
	size_t len = 0;
	int rc = cs_page_forms(notice, &html, &len);

	page_reply(r, rc, html, len, NULL);
}

static void page_presentation(cs_req *r, const char *code);

static void
page_verify(cs_req *r, const char *text, size_t n)
{
	json_t *res = NULL;
	char code[65];
	const char *t = text;
	size_t tn = n;
	int rc;

	/* A presentation's text pasted into /v: its own page. */
	trim_scan(&t, &tn);
	if (cs_presentation_code_of(svc_of(r), t, tn, code)) {
		page_presentation(r, code);
		return;
	}
	rc = verify_text(r, text, n, &res);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		page_show(r, res, CS_PAGE_QR);
	json_decref(res);
}

/* A paper copy typed by hand (SPEC §5): the same check as POST
 * /api/v1/verify with {"id" or "number", "holder_code"}, on the same
 * budget. */
static void
page_manual(cs_req *r, const char *licence, const char *holder_code)
{
	json_t *req = cs_page_manual_request(licence, holder_code), *res = NULL;

	if (req == NULL) {
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
	} else if (verify_paper(r, req, &res) == 0) {
		page_show(r, res, CS_PAGE_MANUAL);
	}
	json_decref(res);
	json_decref(req);
}

/* GET /v/{token}: what a phone camera opens. */
static void
h_page_token(cs_req *r)
{
	page_verify(r, r->params[0], strlen(r->params[0]));
}

/* GET /p/{code}: a presentation (亮证码, SPEC §10) as the counter clerk's
 * phone opens it. */
static void
page_presentation(cs_req *r, const char *code)
{
	cs_page_opts o = {catalog_of(r), cfg_of(r)->tz_offset_minutes,
	    CS_PAGE_QR};
	json_t *res = NULL;
	char *html = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cs_presentation_verify(svc_of(r), &r->actor, code,
	    &res)) == 0) {
		cs_metrics_verification(r->srv->metrics,
		    json_string_value(json_object_get(res, "result")));
		rc = cs_page_presentation(res, &o, &html, &len);
	}
	page_reply(r, rc, html, len, cs_page_presentation_script_src());
	json_decref(res);
}

static void
h_page_presentation(cs_req *r)
{
	page_presentation(r, r->params[0]);
}

/* GET /v: the forms; GET /v?qr=TEXT: that text checked. */
static void
h_page(cs_req *r)
{
	const char *qr = cs_req_query(r, "qr");

	if (qr == NULL)
		page_forms(r, NULL);
	else
		page_verify(r, qr, strlen(qr));
}

/* POST /v: a form (qr=TEXT, or licence=..&holder_code=..) or, in any other
 * content type, the QR text itself. */
static void
h_page_post(cs_req *r)
{
	static const char *const names[] = {"qr", "licence", "holder_code"};
	char *v[3] = {NULL, NULL, NULL};
	size_t i, vlen[3] = {0, 0, 0};

	if (!cs_req_content_is(r, "application/x-www-form-urlencoded")) {
		page_verify(r, r->body.p, r->body.len);
		return;
	}
	/* The typed inputs are one line of text; the QR text may end in a
	 * scanner's CR/LF (trimmed later). */
	if (cs_http_form_parse(r->body.p, names, 3, 1u << 1 | 1u << 2, v, vlen,
	    &i) != 0) {
		cs_http_problem_field(r, 400, names[i], "%s %s", names[i],
		    cs_err_msg());
		goto out;
	}
	if (vlen[0] > 0)
		page_verify(r, v[0], vlen[0]);
	else if (vlen[1] > 0 || vlen[2] > 0)
		page_manual(r, v[1], v[2]);
	else
		page_forms(r, "请粘贴二维码文本，或填写纸质证照的编号和持证主体代码。"
		    "Paste the QR code's text, or type the paper copy's number "
		    "and holder code.");
out:
	for (i = 0; i < 3; i++)
		free(v[i]);
}

/* ?scale=1..3 of face.png, or the default; 0 and a 400 left otherwise. */
static int
face_scale(cs_req *r)
{
	const char *s = cs_req_query(r, "scale");

	if (s == NULL)
		return CS_FACE_PNG_DEFAULT_SCALE;
	if (s[1] == '\0' && s[0] >= '0' + CS_FACE_PNG_MIN_SCALE &&
	    s[0] <= '0' + CS_FACE_PNG_MAX_SCALE)
		return s[0] - '0';
	cs_http_problem_field(r, 400, "scale", "scale must be %d to %d",
	    CS_FACE_PNG_MIN_SCALE, CS_FACE_PNG_MAX_SCALE);
	return 0;
}

/* GET /api/v1/certificates/{id}/face.png: face.svg drawn by librsvg, for
 * systems that cannot show SVG.  A face never changes (the record and its
 * token are immutable), and drawing one costs far more than a QR code, so
 * it shares the QR image cache; the read before it still authorises and
 * audits every request. */
static void
h_face_png(cs_req *r)
{
	const char *form = qr_form(r), *id;
	int scale = form != NULL ? face_scale(r) : 0, rc;
	json_t *lic = NULL;
	char *key = NULL, *svg = NULL;
	uint8_t *img = NULL;
	size_t len = 0;

	if (scale == 0)
		return;
	if ((rc = cs_licence_read(svc_of(r), &r->actor, r->params[0], &lic)) != 0)
		goto out;
	if ((id = json_string_value(json_object_get(lic, "id"))) == NULL)
		id = r->params[0];
	if (asprintf(&key, "face.png\x1f%s\x1f%d\x1f%s", form, scale, id) < 0) {
		key = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((img = cs_qr_cache_get(r->srv->qr_cache, key, &len)) == NULL) {
		if ((rc = cs_licence_face_svg(svc_of(r), lic, form, &r->srv->qr,
		    &svg)) != 0 ||
		    (rc = cs_face_png(svg, strlen(svg), scale, &img, &len)) != 0)
			goto out;
		cs_qr_cache_put(r->srv->qr_cache, key, img, len);
	}
	cs_reply(r, 200, "image/png", img, len, 1);
	img = NULL;
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, QR_MAX_AGE);
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(img);
	free(svg);
	free(key);
	json_decref(lic);
}

/* --- public data and operations --------------------------------------------- */

static void
h_trust_list(cs_req *r)
{
	json_t *out = NULL;
	int rc = cs_trust_list(svc_of(r), &out);

	if (rc != 0) {
		cs_http_problem_err(r, rc, NULL);
	} else {
		cs_reply_json(r, 200, out);
		cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PUBLIC_MAX_AGE);
	}
	json_decref(out);
}

/* The signed status list (SPEC §11), from the service's cache: the same
 * bytes for everyone until the next signing, so a strong ETag (a hash of
 * them) lets a verifier that polls fetch it only when it changed, and
 * caches may keep it up to a minute, the time within which a change is
 * signed. */
static void
h_status_list(cs_req *r)
{
	char etag[CS_ETAG_MAX];
	uint8_t *list = NULL;
	size_t n = 0;
	int64_t iat;
	int rc = cs_status_list_current(svc_of(r), &list, &n, etag, &iat);

	if (rc != 0) {
		cs_http_problem_err(r, rc, NULL);
		return;
	}
	if (cs_http_etag_match(cs_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH),
	    etag)) {
		free(list);
		cs_reply(r, 304, NULL, NULL, 0, 0);
	} else {
		cs_reply(r, 200, "application/cose; cose-type=\"cose-sign1\"",
		    list, n, 1);
	}
	cs_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, STATUS_LIST_MAX_AGE);
}

static void
h_types(cs_req *r)
{
	const struct cs_types_doc *d = atomic_load(&r->srv->types);

	cs_reply_static(r, 200, "application/json; charset=utf-8", d->json,
	    d->len);
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PUBLIC_MAX_AGE);
}

/* GET /api/v1/openapi.json: the contract, as docs/openapi.json holds it
 * (built in).  The bytes change only with the binary, so a strong ETag
 * lets a client's cache revalidate with a 304.  If-None-Match is matched
 * by looking for the tag itself in the list (or "*"): a W/ prefix or other
 * tags beside it do not hide it, as RFC 9110's weak comparison wants. */
static void
h_openapi(cs_req *r)
{
	const char *inm = cs_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);

	if (inm != NULL && (strstr(inm, cs_openapi_json_etag) != NULL ||
	    strcmp(inm, "*") == 0))
		cs_reply_static(r, 304, NULL, "", 0);
	else
		cs_reply_static(r, 200, "application/json; charset=utf-8",
		    cs_openapi_json, cs_openapi_json_len);
	cs_reply_header(r, MHD_HTTP_HEADER_ETAG, cs_openapi_json_etag);
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PUBLIC_MAX_AGE);
}

static void
h_healthz(cs_req *r)
{
	const char *backend = cs_service_backend(svc_of(r));
	char ok[128];
	int rc, n;

	/* A full disk is named: the database answers, but writes fail.  On
	 * PostgreSQL, a node that reaches no writable primary is not healthy
	 * either (SPEC §8). */
	if ((rc = cs_service_ping(svc_of(r))) != 0) {
		cs_log_msg("certsvc: health check: %s", cs_err_msg());
		cs_http_problemf(r, 503, "%s", rc == CS_EFULL ? cs_strerror(rc) :
		    strcmp(backend, "postgresql") == 0 ? "the database does not "
		    "answer, or not as a writable primary" :
		    "the database does not answer");
		return;
	}
	n = snprintf(ok, sizeof(ok), "{\"status\":\"ok\",\"backend\":\"%s\","
	    "\"version\":\"%s\"}", backend, cs_version());
	cs_reply(r, 200, "application/json; charset=utf-8", ok, (size_t)n, 0);
}

static void
h_metrics(cs_req *r)
{
	cs_service_stats st;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!cs_http_metrics_allowed(r))
		return;
	cs_metrics_in_flight(r->srv->metrics, atomic_load(&r->srv->in_flight));
	cs_metrics_backend(r->srv->metrics, cs_service_backend(svc_of(r)));
	cs_service_stats_get(svc_of(r), &st);
	if (st.reads_audit)
		cs_metrics_audit_queue(r->srv->metrics,
		    (unsigned long)st.audit_waiting,
		    (unsigned long)st.audit_committed);
	if (st.issue_writer)
		cs_metrics_issue_writer(r->srv->metrics,
		    (unsigned long)st.issue_batches, (unsigned long)st.issue_runs);
	cs_metrics_verify_fast(r->srv->metrics, (unsigned long)st.verify_fast);
	{
		cs_metrics_sl sl = {st.status_list, (long long)cs_now() -
		    st.sl_iat, st.sl_bytes, (unsigned long)st.sl_builds,
		    (unsigned long)st.sl_failures, st.sl_build_us,
		    (unsigned long)st.peers};
		cs_metrics_status_list(r->srv->metrics, &sl);
	}
	if ((rc = cs_metrics_render(r->srv->metrics, &text, &len)) != 0 ||
	    (rc = cs_http_webhook_metrics(svc_of(r), &text, &len)) != 0 ||
	    (rc = cs_http_render_metrics(&text, &len)) != 0 ||
	    (st.reads_audit && (rc = cs_metrics_histogram_ms(&text, &len,
	    "certsvc_audit_commit_seconds", "Time the read audit writer took "
	    "to commit a group (begin, append, COMMIT and its disk sync).",
	    st.audit_commits.le_ms, st.audit_commits.count,
	    CS_AUDIT_COMMIT_NB, st.audit_commits.sum_ms)) != 0)) {
		free(text);
		cs_http_problem_err(r, rc, NULL);
		return;
	}
	cs_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
	    1);
}

/* --- the route table ----------------------------------------------------- */

#define AUTH 0
#define PUB (CS_RT_PUBLIC | CS_RT_LIMITED)
#define ACODE CS_RT_AUTHCODE

const cs_route cs_routes[] = {
	{"POST", "/api/v1/certificates", h_issue, AUTH | CS_RT_JSON, NULL, NULL},
	{"POST", "/api/v1/bundles", h_bundle, AUTH | CS_RT_JSON, NULL, NULL},
	{"GET", "/api/v1/bundles/{id}", h_bundle_get, AUTH, NULL, NULL},
	{"GET", "/api/v1/certificates/{id}", h_licence, AUTH | ACODE, NULL,
	    NULL},
	{"GET", "/api/v1/certificates", h_reconcile, AUTH, NULL,
	    "approval_ref issued_after issued_before limit cursor"},
	{"GET", "/api/v1/certificates/{id}/qr.png", h_qr, AUTH | ACODE, "png",
	    "form"},
	{"GET", "/api/v1/certificates/{id}/qr.svg", h_qr, AUTH | ACODE, "svg",
	    "form"},
	{"GET", "/api/v1/certificates/{id}/face.svg", h_face, AUTH | ACODE,
	    NULL, "form"},
	{"GET", "/api/v1/certificates/{id}/face.png", h_face_png, AUTH | ACODE,
	    NULL, "scale form"},
	{"POST", "/api/v1/certificates/{id}/suspend", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "suspend", NULL},
	{"POST", "/api/v1/certificates/{id}/reinstate", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "reinstate", NULL},
	{"POST", "/api/v1/certificates/{id}/revoke", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "revoke", NULL},
	{"POST", "/api/v1/certificates/{id}/amend", h_amend, AUTH | CS_RT_JSON,
	    NULL, NULL},
	{"POST", "/api/v1/certificates/{id}/copies", cs_h_copy_create,
	    AUTH | CS_RT_JSON, NULL, NULL},
	{"GET", "/api/v1/copies/{copy_id}", cs_h_copy_pdf, AUTH, NULL, NULL},
	{"GET", "/api/v1/holders/{code}/certificates", h_holder, AUTH | ACODE,
	    NULL, "type status limit cursor unchecked"},
	{"POST", "/api/v1/holders/{code}/presentations",
	    cs_h_presentation_create, AUTH | CS_RT_JSON, NULL, NULL},
	{"GET", "/api/v1/holders/{code}/presentations/{pcode}/qr.png",
	    cs_h_presentation_qr, AUTH, NULL, NULL},
	{"POST", "/api/v1/holders/{code}/authorisations",
	    cs_h_authorisation_create, AUTH | CS_RT_JSON, NULL, NULL},
	{"DELETE", "/api/v1/holders/{code}/authorisations/{auth_code}",
	    cs_h_authorisation_withdraw, AUTH, NULL, NULL},
	{"POST", "/api/v1/holders/{code}/delegations", cs_h_delegation_create,
	    AUTH | CS_RT_JSON, NULL, NULL},
	{"DELETE", "/api/v1/holders/{code}/delegations/{id}",
	    cs_h_delegation_withdraw, AUTH, NULL, NULL},
	{"GET", "/api/v1/holders/{code}/usage", cs_h_usage, AUTH, NULL,
	    "limit cursor"},
	{"POST", "/api/v1/verify", h_verify, PUB | CS_RT_VERIFY | CS_RT_CORS,
	    NULL, NULL},
	{"OPTIONS", "/api/v1/verify", cs_http_preflight,
	    CS_RT_PUBLIC | CS_RT_CORS, NULL, NULL},
	{"GET", "/v/{token}", h_page_token, PUB, NULL, NULL},
	{"GET", "/p/{code}", h_page_presentation, PUB, NULL, NULL},
	{"GET", "/v", h_page, PUB, NULL, NULL},
	{"POST", "/v", h_page_post, PUB | CS_RT_FORM, NULL, NULL},
	{"GET", "/api/v1/trust-list", h_trust_list, PUB | CS_RT_CORS, NULL, NULL},
	{"OPTIONS", "/api/v1/trust-list", cs_http_preflight,
	    CS_RT_PUBLIC | CS_RT_CORS, NULL, NULL},
	{"GET", "/api/v1/status-list", h_status_list, PUB | CS_RT_CORS, NULL,
	    NULL},
	{"OPTIONS", "/api/v1/status-list", cs_http_preflight,
	    CS_RT_PUBLIC | CS_RT_CORS, NULL, NULL},
	{"GET", "/api/v1/types", h_types, PUB | CS_RT_CORS, NULL, NULL},
	{"OPTIONS", "/api/v1/types", cs_http_preflight,
	    CS_RT_PUBLIC | CS_RT_CORS, NULL, NULL},
	{"GET", "/api/v1/openapi.json", h_openapi, PUB | CS_RT_CORS, NULL,
	    NULL},
	{"OPTIONS", "/api/v1/openapi.json", cs_http_preflight,
	    CS_RT_PUBLIC | CS_RT_CORS, NULL, NULL},
	{"GET", "/api/v1/me", h_me, AUTH, NULL, NULL},
	{"GET", "/api/v1/audit", h_audit, AUTH, NULL,
	    "client action holder target result since until after limit"},
	{"GET", "/api/v1/events", cs_h_events, AUTH, NULL,
	    "after limit wait"},
	{"POST", "/api/v1/peers", cs_h_peer_add, AUTH | CS_RT_JSON, NULL, NULL},
	{"GET", "/api/v1/peers", cs_h_peer_list, AUTH, NULL, NULL},
	{"DELETE", "/api/v1/peers/{name}", cs_h_peer_remove, AUTH, NULL, NULL},
	{"POST", "/api/v1/subscriptions", cs_h_sub_add, AUTH | CS_RT_JSON, NULL,
	    NULL},
	{"GET", "/api/v1/subscriptions", cs_h_sub_list, AUTH, NULL, NULL},
	{"DELETE", "/api/v1/subscriptions/{name}", cs_h_sub_remove, AUTH, NULL,
	    NULL},
	{"GET", "/healthz", h_healthz, CS_RT_PUBLIC, NULL, NULL},
	{"GET", "/metrics", h_metrics, CS_RT_PUBLIC, NULL, NULL},
};

const size_t cs_n_routes = sizeof(cs_routes) / sizeof(cs_routes[0]);
