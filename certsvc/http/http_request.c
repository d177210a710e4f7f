/*
 * http_request: the life of one request (http_internal.h, steps 1 to 5):
 * MHD's callbacks for it (cs_http_uri_log, cs_http_on_request,
 * cs_http_on_completed), routing, the framing and Content-Length checks,
 * body reading up to the route's limit, the checks every route shares
 * (rate limit, authentication, content type), the dispatch to the handler,
 * suspension and resumption, and the common headers of every answer.
 * The limits and why each is set: http.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_parse.h"
#include "http_problem.h"
#include "log.h"
#include "text.h"
#include "timeutil.h"

/* How much of an oversized chunked upload is read and dropped so that the
 * client can still be told 413. */
#define DISCARD_MAX (1024 * 1024)

/* An /api/ route takes the query parameters its table entry names, each
 * once: an unknown or repeated one is a 400 naming it (left in r), since
 * ignoring "?stauts=revoked" would answer a question nobody asked.  Pages
 * a person opens (/v, /v/{token}) keep whatever a scanning app appends. */
static int
check_query_names(cs_req *r)
{
	const char *list = r->route->query;
	size_t i, j;

	if (strncmp(r->route->pattern, "/api/", 5) != 0)
		return 0;
	for (i = 0; i < r->n_query; i++) {
		const char *name = r->query[i].name;

		if (!cs_word_in(list, name)) {
			if (list == NULL)
				cs_http_problem_at(r, CS_CAUSE_UNKNOWN_PARAMETER,
				    name, CS_FC_UNKNOWN_PARAMETER, "this "
				    "endpoint takes no query parameters");
			else
				cs_http_problem_at(r, CS_CAUSE_UNKNOWN_PARAMETER,
				    name, CS_FC_UNKNOWN_PARAMETER, "is not a "
				    "query parameter of this endpoint (it takes: "
				    "%s)", list);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(r->query[j].name, name) == 0) {
				cs_http_problem_at(r, CS_CAUSE_INVALID_PARAMETER,
				    name, CS_FC_DUPLICATE, "is given more than "
				    "once");
				return -1;
			}
	}
	return 0;
}

/* Split the raw query string into decoded pairs.  400 (left in r) when a
 * name or value is not UTF-8 text. */
static int
parse_query(cs_req *r)
{
	char *bad = NULL;
	int rc;

	rc = cs_http_query_parse(r->uri, r->query, CS_MAX_QUERY, &r->n_query,
	    &bad);
	if (rc == CS_ETOOBIG)
		cs_http_problemf(r, 400, "%s", cs_err_msg());
	else if (rc != 0)
		/* A name that is not text cannot be the problem's field (JSON
		 * strings are UTF-8): it would be dropped, leaving "errors"
		 * empty. */
		cs_http_problem_field(r, 400, bad != NULL ? bad : "query",
		    "query parameter %s", cs_err_msg());
	free(bad);
	return rc != 0 ? -1 : check_query_names(r);
}

/* 415 (left in r) unless the body's type is one the route takes. */
static int
check_content_type(cs_req *r)
{
	const char *h = cs_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	unsigned f = r->route->flags;
	char type[80];
	int ok, present = cs_http_media_type(h, type, sizeof(type),
	    &ok) == 0;

	if (f & CS_RT_JSON) {
		if (!present && r->body.len == 0 && (f & CS_RT_JSON_OPT))
			return 0;
		if (present && strcmp(type, "application/json") == 0 && ok)
			return 0;
		cs_http_problemf(r, 415, "the body must be application/json "
		    "(charset utf-8)");
		return -1;
	}
	if (f & CS_RT_VERIFY) {
		if (!present || ((strcmp(type, "text/plain") == 0 ||
		    strcmp(type, "application/json") == 0) && ok))
			return 0;
		cs_http_problemf(r, 415, "the body must be the QR text as "
		    "text/plain, or application/json");
		return -1;
	}
	if (f & CS_RT_FORM) {
		if (!present || ((strcmp(type, "application/x-www-form-urlencoded")
		    == 0 || strcmp(type, "text/plain") == 0) && ok))
			return 0;
		cs_http_problemf(r, 415, "the body must be a form "
		    "(application/x-www-form-urlencoded) or text/plain");
		return -1;
	}
	return 0;
}

/* 401 (left in r) unless a known client's bearer token came with r. */
static int
authenticate(cs_req *r)
{
	const char *h = cs_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION), *tok;
	char token[300];
	size_t n;
	int rc;

	if (h == NULL) {
		cs_http_problemf(r, 401, "this endpoint needs an Authorization: "
		    "Bearer token");
		return -1;
	}
	if (cs_http_bearer(h, &tok, &n) != 0) {
		cs_http_problemf(r, 401, "the Authorization header must use the "
		    "Bearer scheme");
		return -1;
	}
	if (n == 0 || n >= sizeof(token)) {
		cs_http_problem_cause(r, CS_CAUSE_INVALID_TOKEN, 401,
		    "the bearer token is not valid", NULL);
		return -1;
	}
	memcpy(token, tok, n);
	token[n] = '\0';
	rc = cs_client_authenticate(r->srv->svc, token, &r->client);
	explicit_bzero(token, sizeof(token));
	if (rc != 0) {
		if (rc == CS_EAUTH)
			cs_err_set_cause(CS_CAUSE_INVALID_TOKEN);
		cs_http_problem_err(r, rc, NULL);
		if (rc == CS_EAUTH && r->resp != NULL) {
			/* RFC 6750 §3.1: say the token itself was refused. */
			MHD_del_response_header(r->resp,
			    MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			    "Bearer realm=\"certsvc\"");
			MHD_add_response_header(r->resp,
			    MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			    "Bearer realm=\"certsvc\", error=\"invalid_token\"");
		}
		return -1;
	}
	r->actor.client = r->client;
	return 0;
}

/* --- routing --------------------------------------------------------------- */

static int
method_is(const cs_route *rt, const char *method)
{
	return strcmp(rt->method, method) == 0 ||
	    (strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Find r's route; when none, leave r->pending (404, 405 with Allow, 400
 * for a segment that is not text). */
static void
route(cs_req *r)
{
	const char *seg[CS_MAX_PARAMS];
	size_t seglen[CS_MAX_PARAMS], nseg, i, j, n = strcspn(r->uri, "?#");
	int path_known = 0;

	r->route_index = cs_n_routes;
	for (i = 0; i < cs_n_routes; i++) {
		if (!cs_http_route_match(cs_routes[i].pattern, r->uri, n, seg,
		    seglen, CS_MAX_PARAMS, &nseg))
			continue;
		if (!method_is(&cs_routes[i], r->method)) {
			/* Allow lists every method of this path; the log and
			 * the metrics name the path's pattern. */
			if (!path_known)
				r->route_index = i;
			if (strstr(r->allow, cs_routes[i].method) == NULL) {
				size_t l = strlen(r->allow);

				snprintf(r->allow + l, sizeof(r->allow) - l, "%s%s%s",
				    l ? ", " : "", cs_routes[i].method,
				    strcmp(cs_routes[i].method, "GET") == 0 ?
				    ", HEAD" : "");
			}
			path_known = 1;
			continue;
		}
		r->route = &cs_routes[i];
		r->route_index = i;
		for (j = 0; j < nseg; j++) {
			if (cs_http_text_decode(seg[j], seglen[j], 0, 0,
			    &r->params[j], NULL) != 0) {
				r->pending = 400;
				snprintf(r->pending_detail, sizeof(r->pending_detail),
				    "a path segment %s", cs_err_msg());
			}
			r->n_params = j + 1;
		}
		return;
	}
	r->pending = path_known ? 405 : 404;
	snprintf(r->pending_detail, sizeof(r->pending_detail), "%s",
	    path_known ? "this method is not allowed here" :
	    "no such endpoint");
}

/* --- the request cycle ------------------------------------------------ */

static void
new_request_id(cs_http_server *s, char out[17])
{
	uint64_t x = s->id_seed +
	    atomic_fetch_add(&s->next_id, 1) * 0x9e3779b97f4a7c15ULL;

	/* splitmix64's finaliser: a bijection, so ids never repeat within a
	 * process, and they do not reveal the request count. */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	snprintf(out, 17, "%016llx", (unsigned long long)x);
}

void
cs_http_remote_text(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "-");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)n);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)n);
	}
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line has been read.  Its return
 * value becomes the request's context (the *con_cls of the handler); MHD
 * calls cs_http_on_completed() for it even when it answers the request itself. */
void *
cs_http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	cs_http_server *s = cls;
	cs_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if ((r->uri = strdup(uri ? uri : "/")) == NULL) {
		free(r);
		return NULL;
	}
	r->srv = s;
	r->conn = conn;
	r->route_index = cs_n_routes;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	cs_http_remote_text(conn, r->remote, sizeof(r->remote));
	new_request_id(s, r->request_id);
	atomic_fetch_add(&s->in_flight, 1);
	/* The drain waits for these only: one that arrives while draining
	 * is a quick 503, and a steady stream of them must not hold the
	 * shutdown up. */
	if (!atomic_load(&s->draining)) {
		r->before_drain = 1;
		atomic_fetch_add(&s->before_drain, 1);
	}
	return r;
}

static enum MHD_Result
queue(cs_req *r)
{
	enum MHD_Result ret;

	if (r->resp == NULL) {
		cs_err_set(CS_ENOMEM, "no response was made");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		if (r->resp == NULL)
			return MHD_NO;
	}
	cs_http_cors(r);
	MHD_add_response_header(r->resp, "X-Request-Id", r->request_id);
	MHD_add_response_header(r->resp, "X-Content-Type-Options", "nosniff");
	if (MHD_get_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL) ==
	    NULL)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-store");
	/* While draining, every answer closes its connection, those of the
	 * requests in flight too: a client kept alive would send its next
	 * request just as the daemon stops, and lose it without an answer. */
	if (r->close || atomic_load(&r->srv->draining))
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->queued = ret == MHD_YES;
	cs_http_watch_mark(r->conn, 1);
	return ret;
}

static size_t
body_limit(const cs_http_server *s, const cs_route *rt)
{
	size_t max = (size_t)cs_service_config(s->svc)->max_body;

	if (rt != NULL && (rt->flags & (CS_RT_VERIFY | CS_RT_FORM)) &&
	    max > CS_VERIFY_MAX_BODY)
		return CS_VERIFY_MAX_BODY;
	return max;
}

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *name,
    const char *value)
{
	struct cs_http_framing *f = cls;

	(void)kind;
	if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->lengths++;
	if (strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->codings++;
		f->coding = value;
	}
	return MHD_YES;
}

/* 400 (left in r, the connection to be closed) unless the head frames the
 * body one way only (RFC 9112 §6.3).  libmicrohttpd 0.9.75 takes the first
 * of two Content-Lengths and lets Content-Length beside chunked through: a
 * proxy in front that framed the request the other way would have this
 * server read the rest of the body as a request of its own (smuggling).
 * Checked before a byte of the body is read; closing is the only way to
 * drop a body whose end is unknown. */
static int
check_framing(cs_req *r)
{
	struct cs_http_framing f = {0, 0, NULL};
	const char *blamed;

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
	if (cs_http_framing_check(&f, &blamed) == 0)
		return 0;
	cs_http_problem_field(r, 400, blamed, "the %s header %s", blamed,
	    cs_err_msg());
	r->close = 1;
	return -1;
}

static enum MHD_Result
first_call(cs_req *r, const char *method)
{
	const char *cl;
	char *end;
	unsigned long long len;

	/* The request id stays the server's own (cs_http_uri_log()): one a client
	 * sends is not adopted, so ids in the log and the audit records can
	 * be neither forged nor repeated. */
	snprintf(r->method, sizeof(r->method), "%s", method ? method : "-");
	r->actor.client = NULL;
	cs_http_client_address(r);
	r->actor.remote = r->remote;
	r->actor.request_id = r->request_id;
	route(r);
	if (atomic_load(&r->srv->draining)) {
		cs_http_problemf(r, 503, "the service is shutting down");
		return queue(r);
	}
	if (check_framing(r) != 0)
		return queue(r);
	r->body_limit = body_limit(r->srv, r->route);
	cl = cs_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		len = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl && len > r->body_limit) {
			/* Answered before the body is read: MHD then closes the
			 * connection instead of reading it. */
			cs_http_problemf(r, 413, "the body is over the limit of %zu "
			    "bytes", r->body_limit);
			r->close = 1;
			return queue(r);
		}
	}
	return MHD_YES;
}

static enum MHD_Result
take_body(cs_req *r, const char *data, size_t n)
{
	if (r->body_too_big || r->body.len + n > r->body_limit) {
		if (!r->body_too_big) {
			r->discarded = r->body.len;
			cs_sb_free(&r->body);
			r->body_too_big = 1;
		}
		r->discarded += n;
		return r->discarded > r->body_limit + DISCARD_MAX ? MHD_NO :
		    MHD_YES;
	}
	cs_sb_add(&r->body, data, n);
	return r->body.failed ? MHD_NO : MHD_YES;
}

int
cs_req_failure_take(cs_req *r)
{
	int64_t retry = 0;

	if (r->srv->failures == NULL ||
	    cs_ratelimit_take(r->srv->failures, r->remote,
	    cs_mono_ms(), &retry))
		return 1;
	cs_http_problem_retry(r, retry, "too many failed attempts from this "
	    "address (wrong bearer tokens, or paper-copy checks that matched "
	    "nothing)");
	return 0;
}

void
cs_req_failure_give(cs_req *r)
{
	if (r->srv->failures != NULL)
		cs_ratelimit_give(r->srv->failures, r->remote,
		    cs_mono_ms());
}

void
cs_req_suspend(cs_req *r)
{
	r->suspended = 1;
	atomic_fetch_add(&r->srv->suspended, 1);
	MHD_suspend_connection(r->conn);
}

void
cs_req_resume(cs_req *r, void (*fn)(cs_req *r))
{
	/* MHD's resume takes a mutex and wakes the connection's thread,
	 * which then sees finish. */
	r->finish = fn;
	MHD_resume_connection(r->conn);
}

/* A resumed request: its finish makes the answer (and frees what the
 * handler left), and the request is no longer suspended. */
static void
finish(cs_req *r)
{
	void (*fn)(cs_req *r) = r->finish;

	r->finish = NULL;
	cs_err_clear();
	fn(r);
	r->suspended = 0;
	atomic_fetch_sub(&r->srv->suspended, 1);
}

static void
dispatch(cs_req *r)
{
	cs_http_server *s = r->srv;
	const cs_route *rt = r->route;
	int64_t retry = 0;

	if ((rt->flags & CS_RT_LIMITED) && s->ratelimit != NULL &&
	    !cs_ratelimit_take(s->ratelimit, r->remote,
	    cs_mono_ms(), &retry)) {
		cs_http_problem_retry(r, retry, "too many requests from this "
		    "address");
		return;
	}
	if (!(rt->flags & CS_RT_PUBLIC) && authenticate(r) != 0) {
		/* A refused token spends from the address's failure budget;
		 * once it is empty the answer is 429, not 401.  A valid token
		 * is served whatever the budget (a neighbour behind the same
		 * address is not locked out), and a 500 is not the client's
		 * failure. */
		if (r->status == 401)
			(void)cs_req_failure_take(r);
		return;
	}
	if (parse_query(r) != 0 || check_content_type(r) != 0)
		return;
	if (r->body.p == NULL)
		cs_sb_add(&r->body, "", 0);
	if (r->body.failed) {
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_err_clear();
	if ((rt->flags & CS_RT_AUTHCODE) &&
	    (r->actor.auth_code = cs_req_header(r, "X-Auth-Code")) != NULL) {
		/* A read with a use authorisation's code (SPEC §10) spends
		 * one failure of the address's budget, given back when the
		 * code worked: a wrong, mistyped, spent or expired code keeps
		 * it, so guessing codes runs out (docs/design.md). */
		if (!cs_req_failure_take(r))
			return;
		rt->handler(r);
		if (r->status > 0 && r->status < 400)
			cs_req_failure_give(r);
		return;
	}
	rt->handler(r);
}

enum MHD_Result
cs_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	cs_req *r = *con_cls;

	if (r == NULL)
		return MHD_NO;  /* cs_http_uri_log() ran out of memory */
	if (r->calls++ == 0)
		return first_call(r, method);
	if (*upload_size != 0) {
		enum MHD_Result ret = take_body(r, upload_data, *upload_size);

		*upload_size = 0;
		return ret;
	}
	if (r->queued)
		return MHD_YES;
	if (r->finish != NULL) {
		finish(r);
		return queue(r);
	}
	/* The request has arrived whole: the handler takes the time it needs. */
	cs_http_watch_mark(conn, 1);
	if (r->body_too_big) {
		cs_http_problemf(r, 413, "the body is over the limit of %zu bytes",
		    r->body_limit);
	} else if (r->pending == 405) {
		cs_http_problemf(r, 405, "%s; allowed: %s", r->pending_detail,
		    r->allow);
		cs_reply_header(r, MHD_HTTP_HEADER_ALLOW, r->allow);
	} else if (r->pending != 0) {
		cs_http_problemf(r, r->pending, "%s", r->pending_detail);
	} else {
		dispatch(r);
		if (r->suspended)
			return MHD_YES;
	}
	return queue(r);
}

void
cs_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	cs_http_server *s = cls;
	cs_req *r = *con_cls;
	struct timespec t1;
	cs_log_request line;
	double secs;
	size_t i;

	if (r == NULL)
		return;
	*con_cls = NULL;
	cs_http_watch_mark(conn, 0);
	/* Resumed, and the client gone before its answer was made: finish
	 * still owns what the handler left (its answer goes nowhere). */
	if (r->finish != NULL)
		finish(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - r->t0.tv_sec) +
	    (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
	line.time_ms = cs_wall_ms();
	line.request_id = r->request_id;
	line.client = r->client != NULL ? r->client->name : NULL;
	line.method = r->method[0] ? r->method : NULL;
	line.route = r->route_index < cs_n_routes ?
	    cs_routes[r->route_index].pattern : NULL;
	line.status = r->queued ? r->status : 0;
	line.ms = secs * 1000.0;
	line.remote = r->remote;
	cs_log_request_line(&line);
	cs_metrics_request(s->metrics, r->route_index, line.status, secs);

	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	for (i = 0; i < r->n_params; i++)
		free(r->params[i]);
	for (i = 0; i < r->n_query; i++) {
		free(r->query[i].name);
		free(r->query[i].value);
	}
	cs_client_free(r->client);
	cs_sb_free(&r->body);
	free(r->uri);
	if (r->before_drain)
		atomic_fetch_sub(&s->before_drain, 1);
	free(r);
	atomic_fetch_sub(&s->in_flight, 1);
}
