/*
 * http_subs: the subscriptions' routes (SPEC §9, admin):
 * POST /api/v1/subscriptions (201 with the secret, shown this once),
 * GET /api/v1/subscriptions (with each one's delivery state, no secret)
 * and DELETE /api/v1/subscriptions/{name} (204); and their lines of
 * /metrics (cs_http_webhook_metrics).
 */
#include <stdlib.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_problem.h"
#include "metrics.h"
#include "sbuf.h"

void
cs_h_sub_add(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	int rc;

	if (body == NULL)
		return;
	rc = cs_sub_add(r->srv->svc, &r->actor, body, r->srv->self, &out, &p);
	if (rc != 0) {
		cs_http_problem_err(r, rc, &p);
	} else {
		cs_reply_json(r, 201, out);
		cs_reply_header(r, "Cache-Control", "no-store");
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

void
cs_h_sub_list(cs_req *r)
{
	json_t *out = NULL;
	int rc = cs_sub_list(r->srv->svc, &r->actor, &out);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
	json_decref(out);
}

void
cs_h_sub_remove(cs_req *r)
{
	int rc = cs_sub_remove(r->srv->svc, &r->actor, r->params[0]);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply(r, 204, NULL, NULL, 0, 0);
}

int
cs_http_webhook_metrics(cs_service *svc, char **text, size_t *len)
{
	cs_sender_metrics m;
	cs_sbuf b = CS_SBUF_INIT;
	size_t i;
	int rc;

	if ((rc = cs_sender_metrics_get(svc, &m)) != 0)
		return rc;
	cs_sb_add(&b, *text, *len);
	cs_metrics_line(&b, "certsvc_webhook_subscriptions", "gauge",
	    "Subscriptions in force.", (long long)m.subscriptions);
	cs_metrics_line(&b, "certsvc_webhook_pending", "gauge", "Events not "
	    "yet delivered, summed over the subscriptions.",
	    (long long)m.pending);
	cs_metrics_line(&b, "certsvc_webhook_oldest_pending_age_seconds",
	    "gauge", "Age of the oldest event not yet delivered to a "
	    "subscription (0: none).", (long long)m.oldest_pending_age_s);
	cs_metrics_line(&b, "certsvc_webhook_failing", "gauge", "Subscriptions "
	    "whose oldest pending event has failed for over 24 hours.",
	    (long long)m.failing);
	cs_sb_printf(&b, "# HELP certsvc_webhook_attempts_total Delivery "
	    "attempts this node made, by result.\n"
	    "# TYPE certsvc_webhook_attempts_total counter\n");
	for (i = 0; i < CS_SENDER_RESULTS; i++)
		cs_sb_printf(&b, "certsvc_webhook_attempts_total{result=\"%s\"} "
		    "%llu\n", cs_sender_results[i],
		    (unsigned long long)m.attempts[i]);
	if (b.failed) {
		free(b.p);
		return cs_err_set(CS_ENOMEM, "metrics: out of memory");
	}
	free(*text);
	*text = b.p;
	*len = b.len;
	return 0;
}
