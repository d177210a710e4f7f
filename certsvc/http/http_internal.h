/*
 * http_internal: what the files of the HTTP layer share (http.c: the
 * daemon; http_request.c: the request cycle and dispatch; http_io.c: what
 * a handler reads and answers; http_watch.c: slow connections;
 * http_routes.c: the route table and one handler per endpoint;
 * http_qrcache.c: the QR image cache, in http_qrcache.h; http_problem.c:
 * RFC 9457 problems; http_parse.c: the parsers of what a request carries,
 * in http_parse.h).  Not for use outside those files.
 *
 * The life of a request:
 *   1. MHD reads the request line: cs_http_uri_log() allocates a cs_req
 *      with the raw request target, the remote address and a request id,
 *      and counts it in flight.
 *   2. Headers read: the first cs_http_on_request() call matches the route
 *      and checks the framing and Content-Length; it answers at once only
 *      when it must not read the body (400 for a body framed more than one
 *      way, 413, or 503 while draining).  Everything else is answered
 *      on a later call, which keeps the connection alive (NOTES.md).
 *   3. Body chunks are collected up to the route's limit.
 *   4. The last call runs the checks (rate limit, authentication, content
 *      type) and the handler, which leaves exactly one response in the
 *      cs_req through the cs_reply_* or cs_http_problem* helpers; the
 *      dispatcher adds the common headers and queues it.
 *   5. cs_http_on_completed() writes the log line and the metrics and
 *      frees it.
 *
 * Handlers never queue responses themselves, never see MHD's types beyond
 * the connection, and reach the domain only through service.h.
 */
#ifndef CS_HTTP_INTERNAL_H
#define CS_HTTP_INTERNAL_H

/* Private to certsvc/http: its library is built with CS_LAYER_HTTP; anyone
 * else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_HTTP
#error "http_internal.h is private to certsvc/http: include http.h"
#endif

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http_parse.h"
#include "metrics.h"
#include "netlist.h"
#include "qr.h"
#include "ratelimit.h"
#include "sbuf.h"
#include "service.h"

typedef struct cs_req cs_req;
typedef struct cs_http_server cs_http_server;

/* A handler reads r and leaves one response in it. */
typedef void (*cs_handler)(cs_req *r);

/* Route flags. */
enum {
	CS_RT_PUBLIC = 1 << 0,    /* no authentication */
	CS_RT_LIMITED = 1 << 1,   /* per-address rate limit (when on) */
	CS_RT_JSON = 1 << 2,      /* body: application/json object */
	CS_RT_JSON_OPT = 1 << 3,  /* with CS_RT_JSON: an empty body means {} */
	CS_RT_VERIFY = 1 << 4,    /* body: text/plain or application/json, 4 KiB */
	CS_RT_FORM = 1 << 5,      /* body: a urlencoded form or text, 4 KiB */
	CS_RT_CORS = 1 << 6,      /* other origins' pages may call it (http_edge.c) */
	CS_RT_AUTHCODE = 1 << 7,  /* a read that takes X-Auth-Code (SPEC §10) */
};

typedef struct cs_route {
	const char *method;       /* "GET" also answers HEAD */
	const char *pattern;      /* "/api/v1/certificates/{id}": {x} is one
				   * path segment, percent-decoded */
	cs_handler handler;
	unsigned flags;
	const char *arg;          /* handler argument ("suspend", "png") */
	const char *query;        /* the query parameters an /api/ route takes,
				   * space-separated; NULL: none (any other is
				   * a 400, so a misspelt filter is never
				   * silently ignored) */
} cs_route;

/* The route table (http_routes.c).  Order matters only for readability:
 * no two patterns match the same path. */
extern const cs_route cs_routes[];
extern const size_t cs_n_routes;

/* Bodies of the verification endpoints: SPEC §5 "under 4 KiB". */
#define CS_VERIFY_MAX_BODY 4096

/* The catalog as GET /api/v1/types serves it; the ones a SIGHUP replaced
 * stay (prev) until the server stops, for the requests that read them. */
struct cs_types_doc {
	char *json;
	size_t len;
	struct cs_types_doc *prev;
};

struct cs_http_server {
	cs_service *svc;          /* borrowed */
	struct MHD_Daemon *daemon;
	cs_metrics *metrics;
	cs_ratelimit *ratelimit;  /* NULL when rate_limit is 0 */
	cs_ratelimit *failures;   /* NULL when auth_failures is 0 */
	struct cs_qr_cache *qr_cache;  /* http_qrcache.h */
	cs_qr_opts qr;
	cs_netlist trusted_proxies;  /* netlist.h, from the settings */
	cs_netlist metrics_allow;
	struct cs_types_doc *_Atomic types;  /* GET /api/v1/types, rendered
				   * at start and at each SIGHUP (http.c) */
	atomic_int draining;
	atomic_long in_flight;
	atomic_long before_drain; /* in flight and started before draining */
	atomic_long suspended;    /* requests waiting on another thread */
	struct cs_http_feed *feed;  /* the feed's long polls (http_events.c) */
	char self[80];            /* the bound ADDR:PORT: no subscription may
	                           * point at it (http_subs.c) */
	atomic_ullong next_id;
	uint64_t id_seed;
};

#define CS_MAX_PARAMS 2
#define CS_MAX_QUERY 24

struct cs_req {
	cs_http_server *srv;
	struct MHD_Connection *conn;
	char *uri;                /* the raw request target (owned) */
	char method[24];          /* a copy: MHD's lives in its pool */
	char request_id[68];
	char remote[64];
	struct timespec t0;       /* CLOCK_MONOTONIC at the request line */
	int calls;

	const cs_route *route;    /* NULL when no route matched */
	size_t route_index;       /* cs_n_routes when none */
	int pending;              /* 404/405/400 found on the first call */
	int before_drain;         /* counted in srv->before_drain */
	char pending_detail[160];
	char allow[64];           /* for 405 */
	char *params[CS_MAX_PARAMS];  /* decoded {x} segments (owned) */
	size_t n_params;
	struct cs_query_param query[CS_MAX_QUERY];
	size_t n_query;

	cs_sbuf body;             /* the body read so far: body.p, body.len;
				   * body.p NUL-terminated (owned), NULL
				   * until the first chunk, "" for the
				   * handler when there was none */
	size_t body_limit;
	int body_too_big;
	size_t discarded;

	cs_client *client;        /* the authenticated client (owned) */
	cs_actor actor;

	struct MHD_Response *resp;  /* the answer being built */
	int status;
	int close;                /* add Connection: close */
	int queued;

	int suspended;            /* cs_req_suspend() until finish has run */
	void (*finish)(cs_req *r);  /* set by cs_req_resume() */
	void *async;              /* the suspending handler's state */
};

/* --- the request cycle (http_request.c) ----------------------------------- */

/* MHD's callbacks for one request (cls: the cs_http_server):
 * MHD_OPTION_URI_LOG_CALLBACK, the access handler and
 * MHD_OPTION_NOTIFY_COMPLETED. */
void *cs_http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result cs_http_on_request(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_size, void **con_cls);
void cs_http_on_completed(void *cls, struct MHD_Connection *conn,
    void **con_cls, enum MHD_RequestTerminationCode toe);
/* The client address of c as text into out[0..n) ("-" when unknown; an
 * IPv4-mapped IPv6 address as IPv4). */
void cs_http_remote_text(struct MHD_Connection *c, char *out, size_t n);

/* --- slow requests (http_watch.c) ---------------------------------------- */

/* The connections watched (cs_http_run() keeps one; its lock and limit
 * set before the daemon starts). */
struct cs_http_watched;
struct cs_http_watch {
	pthread_mutex_t lock;
	struct cs_http_watched *head;
	int64_t limit_ms;
	atomic_int *draining;     /* the server's: new connections are cut */
};

/* MHD_OPTION_NOTIFY_CONNECTION (cls: the cs_http_watch): a connection
 * opened or closed. */
void cs_http_watch_notify(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode toe);
/* Mark conn busy (a whole request in) or waiting (its answer out). */
void cs_http_watch_mark(struct MHD_Connection *conn, int busy);
/* Cut the connections past the limit without a whole request (the main
 * loop, every 200 ms). */
void cs_http_watch_sweep(struct cs_http_watch *w);

/* --- annotated copies (http_copies.c) ------------------------------------ */

/* POST /api/v1/certificates/{id}/copies and GET /api/v1/copies/{seg}
 * (seg: "{copy_id}.pdf"), handlers of the route table. */
void cs_h_copy_create(cs_req *r);
void cs_h_copy_pdf(cs_req *r);
/* POST /api/v1/verify {"copy": ...}: the verdict into *out. */
int cs_http_verify_copy(cs_req *r, const json_t *copy, json_t **out);

/* --- the holder in the loop (http_holder_loop.c, SPEC §10) --------------- */

void cs_h_presentation_create(cs_req *r);
void cs_h_presentation_qr(cs_req *r);
void cs_h_authorisation_create(cs_req *r);
void cs_h_authorisation_withdraw(cs_req *r);
void cs_h_delegation_create(cs_req *r);
void cs_h_delegation_withdraw(cs_req *r);
void cs_h_usage(cs_req *r);

/* --- the change feed (http_events.c) ------------------------------------- */

/* GET /api/v1/events, a handler of the route table. */
void cs_h_events(cs_req *r);
/* The peer libraries (http_peers.c, SPEC §11). */
void cs_h_peer_add(cs_req *r);
void cs_h_peer_list(cs_req *r);
void cs_h_peer_remove(cs_req *r);
/* The thread that answers the feed's long polls: started once the daemon
 * runs, stopped after the drain (every suspended request answered). */
int cs_http_feed_start(cs_http_server *s);
void cs_http_feed_stop(cs_http_server *s);

/* --- subscriptions (http_subs.c) ---------------------------------------- */

/* POST and GET /api/v1/subscriptions, DELETE /api/v1/subscriptions/{name}:
 * handlers of the route table. */
void cs_h_sub_add(cs_req *r);
void cs_h_sub_list(cs_req *r);
void cs_h_sub_remove(cs_req *r);
/* The sender's lines of /metrics appended to *text (malloc'd, *len
 * bytes; replaced). */
int cs_http_webhook_metrics(cs_service *svc, char **text, size_t *len);
/* The drawing gate's lines of /metrics appended the same way
 * (http_render.c). */
int cs_http_render_metrics(char **text, size_t *len);

/* --- responses (http_io.c) ------------------------------------------------ */

/* Leave a response of len bytes: own = 1, data is malloc'd and passes to
 * the response (even on failure); own = 0, it is copied.  A previous
 * response of r is dropped.  When no response can be made, r is left
 * without one and the dispatcher closes the connection. */
void cs_reply(cs_req *r, int status, const char *content_type, void *data,
    size_t len, int own);
/* The same for data that outlives the request (static text, the server's
 * rendered catalog): used in place, never copied. */
void cs_reply_static(cs_req *r, int status, const char *content_type,
    const void *data, size_t len);
/* Compact JSON, application/json; charset=utf-8. */
void cs_reply_json(cs_req *r, int status, const json_t *v);
/* Add a header to the response left by cs_reply*(). */
void cs_reply_header(cs_req *r, const char *name, const char *value);

/* --- request (http_io.c; suspension and failures: http_request.c) ------ */

/* A request header (MHD's copy) or NULL. */
const char *cs_req_header(cs_req *r, const char *name);
/* The same with its length in *len, which counts any raw NUL byte in the
 * value (the NUL-terminated string would end there). */
const char *cs_req_header_n(cs_req *r, const char *name, size_t *len);
/* A decoded query parameter (the first one of that name), or NULL when
 * absent or empty ("?type=" filters nothing). */
const char *cs_req_query(cs_req *r, const char *name);

/* http_edge.c.  The client's address into r->remote: when the peer is a
 * trusted proxy, the address its X-Forwarded-For (or X-Real-IP) names. */
void cs_http_client_address(cs_req *r);
/* CORS headers on r's answer when its route allows other origins and the
 * request's Origin is allowed (cors_origins). */
void cs_http_cors(cs_req *r);
/* The answer to a CORS preflight (OPTIONS): 204 and what may be sent. */
void cs_http_preflight(cs_req *r);
/* Whether r's address may read /metrics; a 403 is left in r when not. */
int cs_http_metrics_allowed(cs_req *r);
/* 1 when the request's Content-Type is the media type (lower case). */
int cs_req_content_is(cs_req *r, const char *media);
/* The body as a JSON object (caller decrefs); on failure NULL, with a 400
 * problem that says where the JSON breaks left in r, or a 422 naming the
 * member whose string holds "\u0000". */
json_t *cs_req_json(cs_req *r);
/* "the body is not valid JSON: WHAT at line L, column C" for a jansson
 * error, in words of certsvc's (never a flag name) and never quoting the
 * input, into out[0..n). */
void cs_json_error_text(const json_error_t *e, char *out, size_t n);

/* Answer later, from another thread.  A handler calls cs_req_suspend()
 * and returns without an answer: the connection waits, its worker thread
 * serves others.  Then, from any thread and exactly once,
 * cs_req_resume(r, finish): finish(r) runs on the connection's thread and
 * answers as a handler would (r->async is the handler's to use).  SIGTERM
 * waits for every suspended request to be resumed and answered. */
void cs_req_suspend(cs_req *r);
void cs_req_resume(cs_req *r, void (*finish)(cs_req *r));

/* The failure budget of r's remote address (auth_failures; http.c's top
 * comment).  cs_req_failure_take() spends one: 1, or 0 when none is left,
 * with a 429 problem (and Retry-After) left in r; 1 when the budget is
 * off.  cs_req_failure_give() returns one taken before work that turned
 * out not to be a failure. */
int cs_req_failure_take(cs_req *r);
void cs_req_failure_give(cs_req *r);

#endif
