/*
 * http: the daemon of the HTTP API (SPEC §5): its start with the limits
 * below, the wait for a signal, and the drain and stop.  The life of a
 * request is http_request.c (see http_internal.h), what a handler reads
 * and answers http_io.c, the watch on slow connections http_watch.c, the
 * endpoints themselves http_routes.c, the problem responses
 * http_problem.c.
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
 *   max_header (16 KiB)    MHD_OPTION_CONNECTION_MEMORY_LIMIT: the memory
 *       pool of one connection, which holds the request line, the headers
 *       and our response headers.  libmicrohttpd 0.9.75 answers a request
 *       line that does not fit with 414 and headers that do not fit with
 *       431 (its own small HTML body, then it closes the connection; checked
 *       by hand).  Those answers come from the library: they carry no
 *       X-Request-Id and are logged with status=0, as no handler ran.  The
 *       longest legitimate request target is GET /v/{token}, under 2 KiB.
 *       16 KiB is Node.js's default limit for a request's headers and
 *       twice nginx's 8 KiB for one header line, so nothing a browser, a
 *       proxy or an approval system sends comes near it.  It is not free:
 *       libmicrohttpd 0.9.75 clears the whole pool between two requests
 *       of a keep-alive connection, about 50k instructions a request at
 *       32 KiB (bench/README.md), and 512 connections hold 8 MiB of pools.
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
 *       requests" in http_watch.c).
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
 * Connection: close, new connections are closed at once (the listening
 * socket stays open until the end, see cs_http_run), requests in flight
 * get up to 10 s to finish (and suspended issuances as long as their batch
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
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_parse.h"
#include "http_problem.h"
#include "http_qrcache.h"
#include "log.h"
#include "render_gate.h"
#include "timeutil.h"

#define DRAIN_SECONDS 10
#define QR_CACHE_ENTRIES 512
#define QR_CACHE_BYTES (8 * 1024 * 1024)

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

/* GET /api/v1/types's body, rendered from the service's catalog now; the
 * one it replaces is kept (prev) for the requests that read it. */
static int
types_render(cs_http_server *s)
{
	struct cs_types_doc *d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->json = json_dumps(cs_service_catalog(s->svc)->served,
	    JSON_COMPACT)) == NULL) {
		free(d);
		return cs_err_set(CS_ENOMEM, "cannot render the catalog");
	}
	d->len = strlen(d->json);
	d->prev = atomic_load(&s->types);
	atomic_store(&s->types, d);
	return 0;
}

/* SIGHUP: what an operator changed under a running server.  The log file
 * is opened again (logrotate moved it away), and the key directory or
 * token is read again (a key made by certsvc keygen signs from now on). */
static void
reload(cs_http_server *s)
{
	cs_service *svc = s->svc;
	const cs_config *cfg = cs_service_config(svc);

	if (cs_log_reopen(cfg->log_file) != 0)
		cs_log_msg("certsvc: SIGHUP: %s; still writing the old file",
		    cs_err_msg());
	else
		cs_log_msg("certsvc: SIGHUP: log file reopened");
	if (cs_service_reload_keys(svc) != 0)
		cs_log_msg("certsvc: SIGHUP: %s", cs_err_msg());
	else
		cs_log_msg("certsvc: SIGHUP: keys reloaded");
	if (cs_service_reload_catalog(svc) != 0 || types_render(s) != 0)
		cs_log_msg("certsvc: SIGHUP: %s; still serving the catalog read "
		    "before", cs_err_msg());
	else
		cs_log_msg("certsvc: SIGHUP: catalog reloaded");
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
	if ((rc = cs_metrics_new(names, cs_n_routes, &s->metrics)) != 0 ||
	    (rc = cs_netlist_parse(cfg->trusted_proxies,
	    &s->trusted_proxies)) != 0 ||
	    (rc = cs_netlist_parse(cfg->metrics_allow, &s->metrics_allow)) != 0)
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
	if ((rc = types_render(s)) != 0)
		goto out;
	/* Drawings share the cores: at most render_concurrency at once. */
	cs_render_gate_configure(cfg->render_concurrency, cfg->render_wait_ms);
	if (getrandom(&s->id_seed, sizeof(s->id_seed), 0) != sizeof(s->id_seed))
		s->id_seed = (uint64_t)cs_wall_ms() ^ (uint64_t)getpid();
out:
	free(names);
	return rc;
}

static void
server_free(cs_http_server *s)
{
	struct cs_types_doc *d = atomic_load(&s->types), *prev;

	cs_metrics_free(s->metrics);
	cs_ratelimit_free(s->ratelimit);
	cs_ratelimit_free(s->failures);
	cs_qr_cache_free(s->qr_cache);
	for (; d != NULL; d = prev) {
		prev = d->prev;
		free(d->json);
		free(d);
	}
}

int
cs_http_run(cs_service *svc)
{
	const cs_config *cfg = cs_service_config(svc);
	cs_http_server s;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	sigset_t sigs;
	struct sigaction sa;
	struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL},
	    {MHD_OPTION_END, 0, NULL}};
	const union MHD_DaemonInfo *info;
	char addr[INET6_ADDRSTRLEN];
	unsigned flags;
	uint16_t port;
	struct cs_http_watch watch;
	int rc = 0, sig = 0, log_open = 0;
	long waited;

	memset(&s, 0, sizeof(s));
	memset(&watch, 0, sizeof(watch));
	pthread_mutex_init(&watch.lock, NULL);
	watch.limit_ms = (int64_t)cfg->connection_timeout * 1000;
	watch.draining = &s.draining;
	/* Block the signals before MHD starts its threads, which inherit the
	 * mask: only the sigtimedwait() below takes them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
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
	s.daemon = MHD_start_daemon(flags, 0, NULL, NULL, cs_http_on_request, &s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_ARRAY, pool,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)(cfg->max_connections / 2),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)cfg->connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header,
	    MHD_OPTION_URI_LOG_CALLBACK, cs_http_uri_log, &s,
	    MHD_OPTION_NOTIFY_COMPLETED, cs_http_on_completed, &s,
	    MHD_OPTION_NOTIFY_CONNECTION, cs_http_watch_notify, &watch,
	    MHD_OPTION_END);
	if (s.daemon == NULL) {
		rc = cs_err_set(CS_EIO, "listen %s: cannot start the HTTP server "
		    "(%s)", cfg->listen, errno ? strerror(errno) :
		    "address in use or not available?");
		goto out;
	}
	if ((rc = cs_http_feed_start(&s)) != 0)
		goto out;
	info = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
	port = info != NULL ? info->port : 0;
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr,
		    sizeof(addr));
	snprintf(s.self, sizeof(s.self), ss.ss_family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", addr, (unsigned)port);
	cs_log_stderr(ss.ss_family == AF_INET6 ?
	    "certsvc: listening on http://[%s]:%u" :
	    "certsvc: listening on http://%s:%u", addr, (unsigned)port);

	while (sig == 0) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		int got = sigtimedwait(&sigs, NULL, &ts);

		if (got == SIGTERM || got == SIGINT)
			sig = got;
		else if (got == SIGHUP)
			reload(&s);
		else if (got_signal != 0)
			sig = got_signal;
		cs_http_watch_sweep(&watch);
	}

	atomic_store(&s.draining, 1);
	cs_log_msg("certsvc: %s received, stopping: %ld request(s) in flight",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", atomic_load(&s.in_flight));
	/* The listening socket stays open until MHD_stop_daemon(): a
	 * connection that arrives while draining is cut at once
	 * (cs_http_watch_notify), a request on one opened before is answered
	 * 503 with Connection: close and Retry-After.  MHD_quiesce_daemon()
	 * would close the socket itself, but in
	 * libmicrohttpd 0.9.75 it races the epoll workers, which remove the
	 * same descriptor from their epoll sets themselves, and the loser
	 * aborts the process ("Failed to remove listen FD from epoll set"). */
	for (waited = 0; atomic_load(&s.before_drain) > 0 &&
	    waited < DRAIN_SECONDS * 1000; waited += 10)
		usleep(10 * 1000);
	if (atomic_load(&s.before_drain) > 0)
		cs_log_msg("certsvc: %ld request(s) still in flight after %d s; "
		    "closing them", atomic_load(&s.before_drain), DRAIN_SECONDS);
	/* A suspended request belongs to another thread (an issuance in the
	 * writer's batch) until it is resumed: closing it under that thread
	 * would free it there.  Its batch ends with the store's COMMIT. */
	for (waited = 0; atomic_load(&s.suspended) > 0; waited += 10) {
		if (waited % (DRAIN_SECONDS * 1000) == 0)
			cs_log_msg("certsvc: waiting for %ld issuance(s) to be "
			    "written", atomic_load(&s.suspended));
		usleep(10 * 1000);
	}
	cs_http_feed_stop(&s);
	MHD_stop_daemon(s.daemon);
	s.daemon = NULL;
	cs_log_stderr("certsvc: stopped");
out:
	cs_http_feed_stop(&s);
	if (s.daemon != NULL)
		MHD_stop_daemon(s.daemon);
	server_free(&s);
	pthread_mutex_destroy(&watch.lock);
	if (log_open)
		cs_log_close();
	/* The signals stay blocked here and caught by on_signal() in the
	 * service's threads: a second SIGTERM (an impatient operator, a
	 * test's own stop) while the service closes its store must not kill
	 * the process with the last batch unwritten.  One already pending is
	 * taken and dropped. */
	while (sigtimedwait(&sigs, NULL, &(struct timespec){0, 0}) > 0)
		;
	return rc;
}
