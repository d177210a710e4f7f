/*
 * http_problem.c: error codes and problem lists turned into RFC 9457
 * responses, in one place.  The mapping: http_problem.h.
 */
#include "http_problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cs_err.h"
#include "http_internal.h"
#include "log.h"

#define PROBLEM_BASE "https://certsvc.example/problems/"

/* The Retry-After of a 503 for a full disk or a lagging read audit writer.
 * Space comes back by an operator's hand, and the audit writer tries again
 * every 200 ms: a caller asking sooner would mostly be refused again. */
#define UNAVAILABLE_RETRY_MS 5000

static const struct {
	int status;
	const char *slug, *title;
} kinds[] = {
	{400, "bad-request", "Bad Request"},
	{401, "unauthorized", "Unauthorized"},
	{403, "forbidden", "Forbidden"},
	{404, "not-found", "Not Found"},
	{405, "method-not-allowed", "Method Not Allowed"},
	{409, "conflict", "Conflict"},
	{413, "content-too-large", "Content Too Large"},
	{415, "unsupported-media-type", "Unsupported Media Type"},
	{422, "validation-failed", "Unprocessable Content"},
	{429, "rate-limited", "Too Many Requests"},
	{500, "internal-error", "Internal Server Error"},
	{503, "unavailable", "Service Unavailable"},
};

int
cs_http_status_of(int code)
{
	switch (code) {
	case CS_OK:
		return 200;
	case CS_EINVAL:
	case CS_EUNSUPPORTED:
	case CS_ESIGNATURE:
	case CS_EUNKNOWNKEY:
		return 400;
	case CS_EAUTH:
		return 401;
	case CS_EFORBIDDEN:
	case CS_EPERM:
		return 403;
	case CS_ENOTFOUND:
		return 404;
	case CS_ECONFLICT:
		return 409;
	case CS_ETOOBIG:
		return 413;
	case CS_EVALIDATION:
		return 422;
	case CS_EFULL:
	case CS_EUNAVAIL:
		/* The client did nothing wrong, and the same request may
		 * succeed later (once space returns, once the read audit
		 * writer catches up). */
		return 503;
	default:
		/* CS_ENOMEM, CS_EIO, CS_ECRYPTO, CS_ESTORE and codes this
		 * table does not know: the client did nothing wrong. */
		return 500;
	}
}

void
cs_http_problem(cs_req *r, int status, const char *detail,
    const cs_problems *errors)
{
	const char *slug = NULL, *title = "Error";
	char type[128];
	json_t *p = NULL, *errs = NULL;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].status == status) {
			slug = kinds[i].slug;
			title = kinds[i].title;
		}
	if (slug != NULL)
		snprintf(type, sizeof(type), PROBLEM_BASE "%s", slug);
	else
		snprintf(type, sizeof(type), "about:blank");
	p = json_pack("{ss ss si ss}", "type", type, "title", title, "status",
	    status, "request_id", r->request_id);
	/* json_string() refuses invalid UTF-8: a detail quoting a client's
	 * bytes must not make the whole answer fail. */
	if (p != NULL && detail != NULL && detail[0] != '\0' &&
	    json_object_set_new(p, "detail", json_string(detail)) != 0)
		json_object_set_new(p, "detail", json_string(title));
	if (p != NULL && errors != NULL && errors->n > 0 &&
	    (errs = json_array()) != NULL) {
		for (i = 0; i < errors->n; i++) {
			json_t *e = json_pack("{s:s? s:s?}",
			    "field", errors->items[i].field,
			    "message", errors->items[i].message);

			if (e != NULL)
				json_array_append_new(errs, e);
		}
		json_object_set_new(p, "errors", errs);
	}
	if (p == NULL) {
		cs_reply(r, status, "application/problem+json", NULL, 0, 0);
	} else {
		char *text = json_dumps(p, JSON_COMPACT);

		if (text != NULL)
			cs_reply(r, status, "application/problem+json", text,
			    strlen(text), 1);
		else
			cs_reply(r, status, "application/problem+json", NULL,
			    0, 0);
		json_decref(p);
	}
	if (status == 401)
		cs_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"certsvc\"");
	if (status == 503)
		r->close = 1;
}

void
cs_http_problemf(cs_req *r, int status, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cs_http_problem(r, status, detail, NULL);
}

void
cs_http_problem_field(cs_req *r, int status, const char *field,
    const char *fmt, ...)
{
	cs_problems p = CS_PROBLEMS_INIT;
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cs_problems_add(&p, field, "%s", detail);
	cs_http_problem(r, status, detail, &p);
	cs_problems_reset(&p);
}

static void
problem_retry(cs_req *r, int status, int64_t retry_ms, const char *what)
{
	char secs[24];

	snprintf(secs, sizeof(secs), "%lld",
	    (long long)((retry_ms + 999) / 1000));
	cs_http_problemf(r, status, "%s; retry in %s s", what, secs);
	cs_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

void
cs_http_problem_retry(cs_req *r, int64_t retry_ms, const char *what)
{
	problem_retry(r, 429, retry_ms, what);
}

void
cs_http_problem_err(cs_req *r, int code, const cs_problems *errors)
{
	int status = cs_http_status_of(code);
	char detail[160];

	if (status >= 500)
		cs_log_msg("certsvc: error req=%s %s: %s", r->request_id,
		    cs_errname(code), cs_err_msg());
	if (status == 503) {
		/* The table's description, not the message: that may quote
		 * SQLite. */
		problem_retry(r, 503, UNAVAILABLE_RETRY_MS, cs_strerror(code));
		return;
	}
	if (status >= 500) {
		snprintf(detail, sizeof(detail),
		    "an internal error occurred; quote request id %s",
		    r->request_id);
		cs_http_problem(r, status, detail, NULL);
		return;
	}
	cs_http_problem(r, status,
	    cs_err_msg()[0] ? cs_err_msg() : cs_strerror(code), errors);
}
