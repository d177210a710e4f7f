/*
 * http: the HTTP API v1 of SPEC §5 on libmicrohttpd.
 *
 * cs_http_run() binds cfg.listen, prints one line
 *   "certsvc: listening on http://ADDR:PORT"
 * to standard error once it accepts connections (with the real port when
 * the configured one is 0, so tests can find it), serves until SIGTERM or
 * SIGINT, then finishes the requests in flight (new ones get 503), stops
 * and returns 0.  The caller closes the service afterwards; SIGTERM, SIGINT
 * and SIGHUP stay blocked (a second SIGTERM does not cut that short).
 */
#ifndef CS_HTTP_H
#define CS_HTTP_H

#include "service.h"

int cs_http_run(cs_service *svc);

#endif
