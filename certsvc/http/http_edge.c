/*
 * http_edge: what the network between the client and certsvc says, and
 * what certsvc tells browsers about itself:
 *
 * - the client's address behind a reverse proxy (trusted_proxies): audit
 *   records, rate limits and failure budgets are per citizen, not per
 *   proxy, and a client that is not a trusted proxy cannot choose its
 *   own address by sending X-Forwarded-For;
 * - CORS on the public API (cors_origins), so a verifier page on another
 *   origin can call /api/v1/verify;
 * - who may read /metrics (metrics_allow).
 */
#include "http_internal.h"

#include <stdio.h>
#include <string.h>

#include "http_problem.h"
#include "text.h"

/* The address behind the trusted proxies of an X-Forwarded-For value: its
 * entries right to left, each trusted one skipped; the first that is not
 * trusted is the client.  An entry that is not an address stops the walk
 * at the last good one: what stands left of it was written by whoever sent
 * the request, and is not believed. */
static void
forwarded_for(const cs_netlist *trusted, const char *xff, char *remote,
    size_t n)
{
	const char *end = xff + strlen(xff), *start, *a, *b;
	char entry[64];

	for (;;) {
		for (start = end; start > xff && start[-1] != ','; start--)
			;
		for (a = start; a < end && (*a == ' ' || *a == '\t'); a++)
			;
		for (b = end; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		if (b == a || (size_t)(b - a) >= sizeof(entry))
			return;
		memcpy(entry, a, (size_t)(b - a));
		entry[b - a] = '\0';
		if (!cs_ip_valid(entry))
			return;
		snprintf(remote, n, "%s", entry);
		if (!cs_netlist_has(trusted, entry) || start == xff)
			return;
		end = start - 1;  /* the comma */
	}
}

void
cs_http_client_address(cs_req *r)
{
	const cs_netlist *trusted = &r->srv->trusted_proxies;
	const char *xff, *real;

	if (!cs_netlist_has(trusted, r->remote))
		return;
	if ((xff = cs_req_header(r, "X-Forwarded-For")) != NULL)
		forwarded_for(trusted, xff, r->remote, sizeof(r->remote));
	else if ((real = cs_req_header(r, "X-Real-IP")) != NULL &&
	    cs_ip_valid(real))
		snprintf(r->remote, sizeof(r->remote), "%s", real);
}

void
cs_http_cors(cs_req *r)
{
	const char *list = cs_service_config(r->srv->svc)->cors_origins;
	const char *origin;

	if (r->route == NULL || !(r->route->flags & CS_RT_CORS) ||
	    (origin = cs_req_header(r, "Origin")) == NULL)
		return;
	if (cs_word_in(list, "*")) {
		cs_reply_header(r, "Access-Control-Allow-Origin", "*");
	} else if (cs_word_in(list, origin)) {
		cs_reply_header(r, "Access-Control-Allow-Origin", origin);
		cs_reply_header(r, "Vary", "Origin");
	} else {
		return;
	}
	cs_reply_header(r, "Access-Control-Expose-Headers",
	    "X-Request-Id, Retry-After");
}

void
cs_http_preflight(cs_req *r)
{
	cs_reply(r, 204, NULL, NULL, 0, 0);
	cs_reply_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	cs_reply_header(r, "Access-Control-Allow-Headers", "Content-Type");
	cs_reply_header(r, "Access-Control-Max-Age", "600");
}

int
cs_http_metrics_allowed(cs_req *r)
{
	if (cs_netlist_has(&r->srv->metrics_allow, r->remote))
		return 1;
	cs_http_problemf(r, 403, "/metrics is open only to the addresses in "
	    "metrics_allow");
	return 0;
}
