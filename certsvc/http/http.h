/*
 * http: the HTTP API v1 of SPEC §5 on libmicrohttpd.
 *
 * cs_http_run() binds cfg.listen, prints one line
 *   "certsvc: listening on http://ADDR:PORT"
 * to standard error once it accepts connections (with the real port when
 * the configured one is 0, so tests can find it), serves until SIGTERM or
 * SIGINT, then stops accepting, finishes the requests in flight (new ones
 * get 503) and returns 0.  The caller closes the service afterwards.
 */
#ifndef CS_HTTP_H
#define CS_HTTP_H

#include "service.h"

int cs_http_run(cs_service *svc);

#endif
