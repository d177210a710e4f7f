/*
 * http: the daemon, the per-request plumbing and the dispatcher of the
 * HTTP API (SPEC §5).  The endpoints themselves are in http_routes.c, the
 * problem responses in http_problem.c; see http_internal.h for the life of
 * a request.
 *
 * Limits, all from the configuration, and why each is set:
 *
 *   max_body (64 KiB)      the largest request body.  An issuance request is
 *       a few KiB; a bundle of a dozen licences stays far below.  A larger
 *       Content-Length is refused with 413 before a byte of the body is
 *       read (and the connection closed, the body unread); a chunked upload
 *       that grows past it is answered 413 once it ends, its excess read and
 *       dropped without being stored (at most 1 MiB more; past that the
 *       connection is cut without an answer).  The verification endpoints
 *       (POST /api/v1/verify, POST /v) take at most 4 KiB: SPEC §5, and a
 *       QR code cannot hold more than 3 KiB.
 *   max_header (32 KiB)    MHD_OPTION_CONNECTION_MEMORY_LIMIT: the memory
 *       pool of one connection, which holds the request line, the headers
 *       and our response headers.  libmicrohttpd 0.9.75 answers a request
 *       line that does not fit with 414 and headers that do not fit with
 *       431 (its own small HTML body, then it closes the connection; checked
 *       by hand).  Those answers come from the library: they carry no
 *       X-Request-Id and are logged with status=0, as no handler ran.  The
 *       longest legitimate request target is GET /v/{token}, under 2 KiB.
 *   max_connections (512)  MHD_OPTION_CONNECTION_LIMIT, shared by the worker
 *       threads, so a flood of idle sockets cannot exhaust file descriptors:
 *       beyond it libmicrohttpd stops accepting, and new connections wait in
 *       the kernel's listen queue until a slot frees.  One address may hold
 *       at most half of them (MHD_OPTION_PER_IP_CONNECTION_LIMIT; a
 *       connection over that is accepted and closed at once): one client's
 *       idle sockets cannot take every slot, while counters, NAT'd offices
 *       and a reverse proxy, which put many legitimate clients behind one
 *       address, still get half the server.  The token bucket below limits
 *       requests per address.
 *   connection_timeout (15 s)  MHD_OPTION_CONNECTION_TIMEOUT: an idle
 *       connection is closed after this many seconds without progress,
 *       freeing its slot and its memory pool; and a slow one (slowloris,
 *       a byte now and then) once a whole request has not arrived this
 *       many seconds after it opened or after its last answer (see "slow
 *       requests" below).
 *   rate_limit (20/s)      a token bucket per remote address (burst of one
 *       second's worth) on the public endpoints: verification, the /v pages,
 *       the trust list and the catalog; 429 with Retry-After.  0 turns it
 *       off (a benchmark from one address).  /healthz and /metrics are not
 *       limited: monitoring must not be refused.
 *   auth_failures (20), auth_failure_refill (1 s)  a second token bucket
 *       per remote address that counts failures, not requests: a request
 *       whose bearer token is missing, unknown or revoked spends one, and
 *       so does a paper-copy check (POST /api/v1/verify or POST /v with an
 *       id or number and a holder code) that matches nothing.  One comes
 *       back every auth_failure_refill seconds.  Once an address has none
 *       left, its wrong tokens get 429 instead of 401, and its paper-copy
 *       checks 429 before any lookup.  Bearer tokens are 256-bit, so
 *       guessing one is futile; the budget sheds the flood, and a valid
 *       token is always served, so a neighbour behind the same address is
 *       not locked out.  The paper-copy check is the real oracle: the
 *       public view shows a resident ID's first 6 and last 4 characters,
 *       and the hidden birth date has a few thousand values.  A check
 *       takes its failure before the lookup and gives it back unless the
 *       answer is not_found, so concurrent guesses cannot all pass one
 *       last remaining failure.  0 turns the budget off.
 *   threads (4)            MHD_OPTION_THREAD_POOL_SIZE: epoll worker
 *       threads, each with its own event loop (NOTES.md: the epoll pool is
 *       1.7x thread-per-connection).  Handlers block on the database and
 *       the signing key, so a few more threads than cores keep the cores
 *       busy.  An issuance does not hold its thread: its connection is
 *       suspended while the issuance writer stores it (cs_req_suspend).
 *
 * Shutdown (SIGTERM, SIGINT): new requests on open connections get 503 with
 * Connection: close, the listening socket is closed, requests in flight get
 * up to 10 s to finish (and suspended issuances as long as their batch
 * takes to be written), then the daemon stops.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_parse.h"
#include "http_problem.h"
#include "http_qrcache.h"
#include "log.h"
#include "timeutil.h"

#define DRAIN_SECONDS 10
/* How much of an oversized chunked upload is read and dropped so that the
 * client can still be told 413. */
#define DISCARD_MAX (1024 * 1024)
#define QR_CACHE_ENTRIES 512
#define QR_CACHE_BYTES (8 * 1024 * 1024)

/* --- responses ------------------------------------------------------------- */

void
cs_reply(cs_req *r, int status, const char *content_type, void *data,
    size_t len, int own)
{
	if (r->resp != NULL) {
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	r->resp = MHD_create_response_from_buffer(len, len ? data : (void *)"",
	    own ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (r->resp == NULL) {
		if (own)
			free(data);
		return;
	}
	if (own && len == 0)
		free(data);
	r->status = status;
	if (content_type != NULL)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    content_type);
}

void
cs_reply_static(cs_req *r, int status, const char *content_type,
    const void *data, size_t len)
{
	if (r->resp != NULL) {
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	r->resp = MHD_create_response_from_buffer(len, (void *)data,
	    MHD_RESPMEM_PERSISTENT);
	if (r->resp == NULL)
		return;
	r->status = status;
	if (content_type != NULL)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    content_type);
}

void
cs_reply_json(cs_req *r, int status, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);

	if (text == NULL) {
		cs_err_set(CS_ENOMEM, "cannot serialise the response");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_reply(r, status, "application/json; charset=utf-8", text,
	    strlen(text), 1);
}

void
cs_reply_header(cs_req *r, const char *name, const char *value)
{
	if (r->resp != NULL)
		MHD_add_response_header(r->resp, name, value);
}

/* --- request ----------------------------------------------------------- */

const char *
cs_req_header(cs_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
cs_req_header_n(cs_req *r, const char *name, size_t *len)
{
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, len) != MHD_YES)
		return NULL;
	return v;
}

const char *
cs_req_query(cs_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value[0] != '\0' ?
			    r->query[i].value : NULL;
	return NULL;
}

void
cs_json_error_text(const json_error_t *e, char *out, size_t n)
{
	char text[sizeof(e->text)], *near;

	/* jansson's text for "\u0000" names its own flag (JSON_ALLOW_NUL),
	 * and others may quote the input near the error ("near '...'"): say
	 * what in words, and where, never what was sent. */
	if (json_error_code(e) == json_error_null_character)
		snprintf(text, sizeof(text), "a string holds \\u0000, a NUL "
		    "character");
	else
		snprintf(text, sizeof(text), "%s", e->text);
	if ((near = strstr(text, " near ")) != NULL)
		*near = '\0';
	snprintf(out, n, "the body is not valid JSON: %s at line %d, column %d",
	    text, e->line, e->column);
}

static int nul_in(const json_t *v, char *path, size_t n, size_t used);

/* nul_in() for member name of a value, path[0..used) the value's path. */
static int
nul_in_member(const json_t *m, const char *name, char *path, size_t n,
    size_t used)
{
	int w = snprintf(path + used, n - used, "%s%s", used ? "." : "", name);

	used += w > 0 ? (size_t)w : 0;
	return nul_in(m, path, n, used < n ? used : n - 1);
}

/* 1 when a string in v holds a NUL character, its dotted path (SPEC §5:
 * "holder.name", "certificates.1.number") then in path[0..n).  Recursion
 * is bounded by jansson's nesting limit. */
static int
nul_in(const json_t *v, char *path, size_t n, size_t used)
{
	const char *key;
	char index[24];
	json_t *m;
	size_t i;

	if (json_is_string(v))
		return strlen(json_string_value(v)) != json_string_length(v);
	json_object_foreach((json_t *)v, key, m)
		if (nul_in_member(m, key, path, n, used))
			return 1;
	json_array_foreach(v, i, m) {
		snprintf(index, sizeof(index), "%zu", i);
		if (nul_in_member(m, index, path, n, used))
			return 1;
	}
	return 0;
}

json_t *
cs_req_json(cs_req *r)
{
	json_error_t e;
	json_t *v;
	char text[300], field[256] = "";

	if (r->body_len == 0) {
		if (r->route != NULL && (r->route->flags & CS_RT_JSON_OPT))
			return json_object();
		cs_http_problemf(r, 400, "the request body is empty; a JSON "
		    "object is expected");
		return NULL;
	}
	/* "\u0000" is valid JSON: read it, then refuse its member by name
	 * (422), as C strings would silently end at the NUL. */
	v = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &e);
	if (v == NULL) {
		cs_json_error_text(&e, text, sizeof(text));
		cs_http_problemf(r, 400, "%s", text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		cs_http_problemf(r, 400, "the body must be a JSON object");
		return NULL;
	}
	if (nul_in(v, field, sizeof(field), 0)) {
		json_decref(v);
		cs_http_problem_field(r, 422, field, "%s holds a NUL character "
		    "(\\u0000), which no text takes", field);
		return NULL;
	}
	return v;
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
	return rc != 0 ? -1 : 0;
}

int
cs_req_content_is(cs_req *r, const char *media)
{
	char type[80];
	int ok;

	return cs_http_media_type(cs_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
	    type, sizeof(type), &ok) == 0 && strcmp(type, media) == 0;
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
		if (!present && r->body_len == 0 && (f & CS_RT_JSON_OPT))
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
		cs_http_problemf(r, 401, "the bearer token is not valid");
		return -1;
	}
	memcpy(token, tok, n);
	token[n] = '\0';
	rc = cs_client_authenticate(r->srv->svc, token, &r->client);
	explicit_bzero(token, sizeof(token));
	if (rc != 0) {
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

static void
remote_text(struct MHD_Connection *c, char *out, size_t n)
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

/* --- slow requests ----------------------------------------------------- */

/*
 * MHD's connection timeout counts seconds without progress, and a client
 * that sends a byte now and then (slowloris: a request head a byte a
 * second, or a body) is making progress: it holds its slot and its memory
 * pool for as long as it likes, and a few hundred such sockets take every
 * slot.  So each connection is watched (MHD_OPTION_NOTIFY_CONNECTION):
 * from the moment it opens or its last answer has gone out, a whole request
 * must arrive within connection_timeout seconds.  The main loop shuts down
 * the socket of one that does not; MHD reads the end of file and closes it
 * in its own thread.  The lock also keeps the socket open while it is shut
 * down: MHD notifies the close (and we unlink) before it closes the socket.
 */
struct watched {
	struct watched *prev, *next;
	struct watch *w;
	MHD_socket fd;
	int64_t since_ms;   /* waiting for a whole request since (monotonic) */
	int busy;           /* a request has arrived: no deadline */
	int cut;
	char remote[64];
};

struct watch {
	pthread_mutex_t lock;
	struct watched *head;
	int64_t limit_ms;
};

static void
on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct watch *w = cls;
	struct watched *c = *ctx;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Out of memory: unwatched, MHD's own timeout still holds. */
		if (ci == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->w = w;
		c->fd = ci->connect_fd;
		c->since_ms = cs_mono_ms();
		remote_text(conn, c->remote, sizeof(c->remote));
		pthread_mutex_lock(&w->lock);
		if ((c->next = w->head) != NULL)
			c->next->prev = c;
		w->head = c;
		pthread_mutex_unlock(&w->lock);
		*ctx = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&w->lock);
	free(c);
	*ctx = NULL;
}

/* A request of conn has arrived whole (busy: before its handler runs, or
 * when it is answered early) or its answer has gone out. */
static void
watch_mark(struct MHD_Connection *conn, int busy)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct watched *c = ci != NULL ? ci->socket_context : NULL;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->w->lock);
	c->busy = busy;
	c->since_ms = cs_mono_ms();
	pthread_mutex_unlock(&c->w->lock);
}

static void
watch_sweep(struct watch *w)
{
	int64_t now = cs_mono_ms();
	struct watched *c;

	pthread_mutex_lock(&w->lock);
	for (c = w->head; c != NULL; c = c->next) {
		if (c->busy || c->cut || now - c->since_ms <= w->limit_ms)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->cut = 1;
		cs_log_msg("certsvc: closed a connection from %s: no whole request "
		    "in %lld s", c->remote, (long long)(w->limit_ms / 1000));
	}
	pthread_mutex_unlock(&w->lock);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line has been read.  Its return
 * value becomes the request's context (the *con_cls of the handler); MHD
 * calls on_completed() for it even when it answers the request itself. */
static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
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
	remote_text(conn, r->remote, sizeof(r->remote));
	new_request_id(s, r->request_id);
	atomic_fetch_add(&s->in_flight, 1);
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
	watch_mark(r->conn, 1);
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

	/* The request id stays the server's own (uri_log()): one a client
	 * sends is not adopted, so ids in the log and the audit records can
	 * be neither forged nor repeated. */
	snprintf(r->method, sizeof(r->method), "%s", method ? method : "-");
	r->actor.client = NULL;
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
	if (r->body_too_big || r->body_len + n > r->body_limit) {
		if (!r->body_too_big) {
			free(r->body);
			r->body = NULL;
			r->discarded = r->body_len;
			r->body_len = r->body_cap = 0;
			r->body_too_big = 1;
		}
		r->discarded += n;
		return r->discarded > r->body_limit + DISCARD_MAX ? MHD_NO :
		    MHD_YES;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 1024;
		char *p;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		if ((p = realloc(r->body, cap)) == NULL)
			return MHD_NO;
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return MHD_YES;
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
	if (r->body == NULL && (r->body = strdup("")) == NULL) {
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_err_clear();
	rt->handler(r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	cs_req *r = *con_cls;

	if (r == NULL)
		return MHD_NO;  /* uri_log() ran out of memory */
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
	watch_mark(conn, 1);
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

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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
	watch_mark(conn, 0);
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
	free(r->body);
	free(r->uri);
	free(r);
	atomic_fetch_sub(&s->in_flight, 1);
}

/* libmicrohttpd's own messages.  Some quote the request target between `
 * and ' ("Failed to send data in request for `/v/TOKEN'"): that part is
 * dropped, as paths carry licence ids, holder codes and tokens. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char raw[512], msg[512];
	const char *p, *e;
	size_t o = 0;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	for (p = raw; *p != '\0' && o + 6 < sizeof(msg); p++) {
		if (*p == '`') {
			memcpy(msg + o, "[...]", 5);
			o += 5;
			if ((e = strchr(p + 1, '\'')) == NULL)
				break;
			p = e;
			continue;
		}
		msg[o++] = *p;
	}
	while (o > 0 && (msg[o - 1] == '\n' || msg[o - 1] == ' '))
		o--;
	msg[o] = '\0';
	cs_log_msg("certsvc: libmicrohttpd: %s", msg);
}

/* --- the daemon ---------------------------------------------------------- */

/* Parse "ADDR:PORT" ("[v6]:PORT", "*:PORT"): the address to bind. */
static int
listen_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int rc;

	if (colon == NULL || colon == listen)
		return cs_err_set(CS_EINVAL, "listen: '%s' is not ADDR:PORT",
		    listen);
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return cs_err_set(CS_EINVAL, "listen: address too long");
	memcpy(host, listen, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(strcmp(host, "*") == 0 ? "0.0.0.0" : host, colon + 1,
	    &hints, &res);
	if (rc != 0 || res == NULL)
		return cs_err_set(CS_EINVAL, "listen: cannot resolve '%s': %s",
		    host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A SIGTERM or SIGINT that reaches a thread which does not block them (one
 * the service started before cs_http_run) lands here; the wait loop polls
 * the flag. */
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static int
server_init(cs_http_server *s, cs_service *svc)
{
	const cs_config *cfg = cs_service_config(svc);
	const char **names = NULL;
	size_t i;
	int rc = 0;

	s->svc = svc;
	s->qr.ecc = CS_QR_ECC_M;
	s->qr.module_px = 4;
	s->qr.margin = 4;
	if ((rc = cs_qr_ecc_from_name(cfg->qr_ecc, &s->qr.ecc)) != 0)
		goto out;
	if ((names = calloc(cs_n_routes, sizeof(*names))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < cs_n_routes; i++)
		names[i] = cs_routes[i].pattern;
	if ((rc = cs_metrics_new(names, cs_n_routes, &s->metrics)) != 0)
		goto out;
	if (cfg->rate_limit > 0 &&
	    (rc = cs_ratelimit_new((double)cfg->rate_limit,
	    (double)cfg->rate_limit, 16384, &s->ratelimit)) != 0)
		goto out;
	if (cfg->auth_failures > 0 &&
	    (rc = cs_ratelimit_new(1.0 / (double)cfg->auth_failure_refill,
	    (double)cfg->auth_failures, 16384, &s->failures)) != 0)
		goto out;
	if ((rc = cs_qr_cache_new(QR_CACHE_ENTRIES, QR_CACHE_BYTES,
	    &s->qr_cache)) != 0)
		goto out;
	s->types_json = json_dumps(cs_service_catalog(svc)->served, JSON_COMPACT);
	if (s->types_json == NULL) {
		rc = cs_err_set(CS_ENOMEM, "cannot render the catalog");
		goto out;
	}
	s->types_len = strlen(s->types_json);
	if (getrandom(&s->id_seed, sizeof(s->id_seed), 0) != sizeof(s->id_seed))
		s->id_seed = (uint64_t)cs_wall_ms() ^ (uint64_t)getpid();
out:
	free(names);
	return rc;
}

static void
server_free(cs_http_server *s)
{
	cs_metrics_free(s->metrics);
	cs_ratelimit_free(s->ratelimit);
	cs_ratelimit_free(s->failures);
	cs_qr_cache_free(s->qr_cache);
	free(s->types_json);
}

int
cs_http_run(cs_service *svc)
{
	const cs_config *cfg = cs_service_config(svc);
	cs_http_server s;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	sigset_t sigs, oldmask;
	struct sigaction sa, old_term, old_int;
	struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL},
	    {MHD_OPTION_END, 0, NULL}};
	const union MHD_DaemonInfo *info;
	char addr[INET6_ADDRSTRLEN];
	unsigned flags;
	uint16_t port;
	MHD_socket lsock;
	struct watch watch;
	int rc = 0, sig = 0, log_open = 0;
	long waited;

	memset(&s, 0, sizeof(s));
	memset(&watch, 0, sizeof(watch));
	pthread_mutex_init(&watch.lock, NULL);
	watch.limit_ms = (int64_t)cfg->connection_timeout * 1000;
	/* Block the signals before MHD starts its threads, which inherit the
	 * mask: only the sigtimedwait() below takes them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &oldmask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);
	got_signal = 0;

	if ((rc = server_init(&s, svc)) != 0)
		goto out;
	if ((rc = listen_addr(cfg->listen, &ss, &sslen)) != 0)
		goto out;
	if ((rc = cs_log_open(cfg->log_file)) != 0)
		goto out;
	log_open = 1;

	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* One thread is no pool: MHD takes no pool size then (it warns). */
	pool[0].option = cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE :
	    MHD_OPTION_END;
	pool[0].value = (intptr_t)cfg->threads;
	/* The logger first: MHD uses its own for options before it. */
	s.daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_ARRAY, pool,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)(cfg->max_connections / 2),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)cfg->connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_log, &s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, &watch,
	    MHD_OPTION_END);
	if (s.daemon == NULL) {
		rc = cs_err_set(CS_EIO, "listen %s: cannot start the HTTP server "
		    "(%s)", cfg->listen, errno ? strerror(errno) :
		    "address in use or not available?");
		goto out;
	}
	info = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
	port = info != NULL ? info->port : 0;
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr,
		    sizeof(addr));
	cs_log_stderr(ss.ss_family == AF_INET6 ?
	    "certsvc: listening on http://[%s]:%u" :
	    "certsvc: listening on http://%s:%u", addr, (unsigned)port);

	while (sig == 0) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		int got = sigtimedwait(&sigs, NULL, &ts);

		if (got == SIGTERM || got == SIGINT)
			sig = got;
		else if (got_signal != 0)
			sig = got_signal;
		watch_sweep(&watch);
	}

	atomic_store(&s.draining, 1);
	cs_log_msg("certsvc: %s received, stopping: %ld request(s) in flight",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", atomic_load(&s.in_flight));
	/* The listening socket is ours once quiesced, but MHD's pool threads
	 * may still hold it until MHD_stop_daemon() (microhttpd.h): closing it
	 * now could hand its number to a new descriptor that a worker then
	 * trips over, and MHD aborts on a close() that fails.  shutdown()
	 * refuses new connections at once and keeps the number taken. */
	lsock = MHD_quiesce_daemon(s.daemon);
	if (lsock != MHD_INVALID_SOCKET)
		shutdown(lsock, SHUT_RDWR);
	for (waited = 0; atomic_load(&s.in_flight) > 0 &&
	    waited < DRAIN_SECONDS * 1000; waited += 10)
		usleep(10 * 1000);
	if (atomic_load(&s.in_flight) > 0)
		cs_log_msg("certsvc: %ld request(s) still in flight after %d s; "
		    "closing them", atomic_load(&s.in_flight), DRAIN_SECONDS);
	/* A suspended request belongs to another thread (an issuance in the
	 * writer's batch) until it is resumed: closing it under that thread
	 * would free it there.  Its batch ends with the store's COMMIT. */
	for (waited = 0; atomic_load(&s.suspended) > 0; waited += 10) {
		if (waited % (DRAIN_SECONDS * 1000) == 0)
			cs_log_msg("certsvc: waiting for %ld issuance(s) to be "
			    "written", atomic_load(&s.suspended));
		usleep(10 * 1000);
	}
	MHD_stop_daemon(s.daemon);
	s.daemon = NULL;
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	cs_log_stderr("certsvc: stopped");
out:
	if (s.daemon != NULL)
		MHD_stop_daemon(s.daemon);
	server_free(&s);
	pthread_mutex_destroy(&watch.lock);
	if (log_open)
		cs_log_close();
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	return rc;
}
