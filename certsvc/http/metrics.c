/*
 * metrics.c: the /metrics counters and their Prometheus text.  What is
 * counted: metrics.h.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "sbuf.h"
#include "version.h"

#define NSTATUS 500     /* statuses 100..599 */

/* Upper bounds of the duration buckets, in seconds: from a cached QR image
 * (well under a millisecond) to an issuance waiting on fsync under load. */
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* SPEC §5's verification results, and §10's for a presentation's text
 * (a counter clerk's scans are worth telling from licences' own); "other"
 * stays last. */
static const char *const results[] = {"valid", "not_yet_valid", "expired",
    "suspended", "revoked", "superseded", "invalid_signature", "unknown_key",
    "malformed", "not_found", "status_unknown", "presentation",
    "presentation_expired", "other"};
#define NRESULTS (sizeof(results) / sizeof(results[0]))

struct route_stats {
	atomic_ulong status[NSTATUS];
	atomic_ulong bucket[NBOUNDS];  /* non-cumulative; summed on render */
	atomic_ulong count;
	atomic_ulong sum_ns;
};

struct cs_metrics {
	size_t n_routes;    /* as given */
	size_t *series;     /* route index -> index into names and stats */
	char **names;       /* distinct patterns, then "unmatched" */
	size_t n_names;
	struct route_stats *stats;  /* n_names */
	atomic_ulong issued;
	atomic_ulong verifications[NRESULTS];
	atomic_long in_flight;
	atomic_ulong audit_waiting, audit_committed;
	atomic_ulong verify_fast;
	atomic_ulong issue_batches, issue_runs;
	atomic_int sl_held;             /* a status list is held */
	atomic_llong sl_age, sl_bytes;
	atomic_ulong sl_builds, sl_failures;
	atomic_llong sl_build_us;
	atomic_ulong peers;
	_Atomic(const char *) backend;
};

int
cs_metrics_new(const char *const *routes, size_t n_routes, cs_metrics **out)
{
	cs_metrics *m = NULL;
	size_t i;
	int rc = 0;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->series = calloc(n_routes + 1, sizeof(*m->series))) == NULL ||
	    (m->names = calloc(n_routes + 1, sizeof(*m->names))) == NULL ||
	    (m->stats = calloc(n_routes + 1, sizeof(*m->stats))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "metrics: out of memory");
		goto out;
	}
	m->n_routes = n_routes;
	/* Two methods on one pattern (GET and POST /v) share a series:
	 * Prometheus refuses two series with the same labels. */
	for (i = 0; i <= n_routes; i++) {
		const char *name = i < n_routes ? routes[i] : "unmatched";
		size_t j;

		for (j = 0; j < m->n_names; j++)
			if (strcmp(m->names[j], name) == 0)
				break;
		if (j == m->n_names &&
		    (m->names[m->n_names++] = strdup(name)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "metrics: out of memory");
			goto out;
		}
		m->series[i] = j;
	}
	*out = m;
	m = NULL;
out:
	cs_metrics_free(m);
	return rc;
}

void
cs_metrics_free(cs_metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->names != NULL)
		for (i = 0; i < m->n_names; i++)
			free(m->names[i]);
	free(m->names);
	free(m->series);
	free(m->stats);
	free(m);
}

void
cs_metrics_request(cs_metrics *m, size_t route, int status, double seconds)
{
	struct route_stats *st =
	    &m->stats[m->series[route < m->n_routes ? route : m->n_routes]];
	size_t b;

	if (status >= 100 && status <= 599)
		atomic_fetch_add_explicit(&st->status[status - 100], 1,
		    memory_order_relaxed);
	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < NBOUNDS && seconds > bounds[b]; b++)
		;
	if (b < NBOUNDS)
		atomic_fetch_add_explicit(&st->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->sum_ns,
	    (unsigned long)(seconds * 1e9), memory_order_relaxed);
}

void
cs_metrics_issued(cs_metrics *m, long n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&m->issued, (unsigned long)n,
		    memory_order_relaxed);
}

void
cs_metrics_verification(cs_metrics *m, const char *result)
{
	size_t i;

	for (i = 0; i < NRESULTS - 1; i++)
		if (result != NULL && strcmp(result, results[i]) == 0)
			break;
	atomic_fetch_add_explicit(&m->verifications[i], 1, memory_order_relaxed);
}

void
cs_metrics_in_flight(cs_metrics *m, long n)
{
	atomic_store_explicit(&m->in_flight, n, memory_order_relaxed);
}

void
cs_metrics_audit_queue(cs_metrics *m, unsigned long waiting,
    unsigned long committed)
{
	atomic_store_explicit(&m->audit_waiting, waiting, memory_order_relaxed);
	atomic_store_explicit(&m->audit_committed, committed, memory_order_relaxed);
}

void
cs_metrics_issue_writer(cs_metrics *m, unsigned long batches,
    unsigned long runs)
{
	atomic_store_explicit(&m->issue_batches, batches, memory_order_relaxed);
	atomic_store_explicit(&m->issue_runs, runs, memory_order_relaxed);
}

void
cs_metrics_verify_fast(cs_metrics *m, unsigned long n)
{
	atomic_store_explicit(&m->verify_fast, n, memory_order_relaxed);
}

void
cs_metrics_status_list(cs_metrics *m, const cs_metrics_sl *s)
{
	atomic_store_explicit(&m->sl_held, s->held, memory_order_relaxed);
	atomic_store_explicit(&m->sl_age, s->age, memory_order_relaxed);
	atomic_store_explicit(&m->sl_bytes, s->bytes, memory_order_relaxed);
	atomic_store_explicit(&m->sl_builds, s->builds, memory_order_relaxed);
	atomic_store_explicit(&m->sl_failures, s->failures,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sl_build_us, s->build_us,
	    memory_order_relaxed);
	atomic_store_explicit(&m->peers, s->peers, memory_order_relaxed);
}

void
cs_metrics_backend(cs_metrics *m, const char *backend)
{
	atomic_store_explicit(&m->backend, backend, memory_order_relaxed);
}

/* A label value: backslash, double quote and newline escaped. */
static void
blabel(cs_sbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			cs_sb_printf(b, "\\%c", *v);
		else if (*v == '\n')
			cs_sb_puts(b, "\\n");
		else
			cs_sb_add(b, v, 1);
	}
}

/* A metric without labels: its HELP and TYPE lines, then its value. */
static void
bmetric(cs_sbuf *b, const char *name, const char *type, const char *help,
    long long v)
{
	cs_sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name,
	    type, name, v);
}

int
cs_metrics_histogram_ms(char **text, size_t *len, const char *name,
    const char *help, const long *le_ms, const uint64_t *count, size_t nb,
    uint64_t sum_ms)
{
	cs_sbuf b = CS_SBUF_INIT;
	unsigned long long cum = 0;
	size_t i;

	cs_sb_add(&b, *text, *len);
	cs_sb_printf(&b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
	    name);
	for (i = 0; i <= nb; i++) {
		cum += count[i];
		if (i < nb)
			cs_sb_printf(&b, "%s_bucket{le=\"%g\"} %llu\n", name,
			    (double)le_ms[i] / 1000, cum);
	}
	cs_sb_printf(&b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.3f\n"
	    "%s_count %llu\n", name, cum, name, (double)sum_ms / 1000, name,
	    cum);
	if (b.failed) {
		free(b.p);
		return cs_err_set(CS_ENOMEM, "metrics: out of memory");
	}
	free(*text);
	*text = b.p;
	*len = b.len;
	return 0;
}

void
cs_metrics_line(cs_sbuf *b, const char *name, const char *type,
    const char *help, long long v)
{
	bmetric(b, name, type, help, v);
}

#define LOAD(field) ((long long)atomic_load_explicit(&m->field, \
	memory_order_relaxed))

int
cs_metrics_render(cs_metrics *m, char **out, size_t *len)
{
	cs_sbuf b = CS_SBUF_INIT;
	size_t r, s, i;
	unsigned long v, cum;
	const char *backend;

	*out = NULL;
	*len = 0;
	cs_sb_printf(&b, "# HELP certsvc_http_requests_total HTTP requests answered, "
	    "by route pattern and status.\n"
	    "# TYPE certsvc_http_requests_total counter\n");
	for (r = 0; r < m->n_names; r++)
		for (s = 0; s < NSTATUS; s++) {
			v = atomic_load_explicit(&m->stats[r].status[s],
			    memory_order_relaxed);
			if (v == 0)
				continue;
			cs_sb_printf(&b, "certsvc_http_requests_total{route=\"");
			blabel(&b, m->names[r]);
			cs_sb_printf(&b, "\",status=\"%zu\"} %lu\n", s + 100, v);
		}
	cs_sb_printf(&b, "# HELP certsvc_http_request_duration_seconds Time from "
	    "the request line to the response sent, by route pattern.\n"
	    "# TYPE certsvc_http_request_duration_seconds histogram\n");
	for (r = 0; r < m->n_names; r++) {
		unsigned long count = atomic_load_explicit(&m->stats[r].count,
		    memory_order_relaxed);

		if (count == 0)
			continue;
		cum = 0;
		for (i = 0; i < NBOUNDS; i++) {
			cum += atomic_load_explicit(&m->stats[r].bucket[i],
			    memory_order_relaxed);
			cs_sb_printf(&b, "certsvc_http_request_duration_seconds_bucket"
			    "{route=\"");
			blabel(&b, m->names[r]);
			cs_sb_printf(&b, "\",le=\"%g\"} %lu\n", bounds[i], cum);
		}
		/* +Inf is the count, read after the buckets: never below them. */
		if (count < cum)
			count = cum;
		cs_sb_printf(&b, "certsvc_http_request_duration_seconds_bucket{route=\"");
		blabel(&b, m->names[r]);
		cs_sb_printf(&b, "\",le=\"+Inf\"} %lu\n", count);
		cs_sb_printf(&b, "certsvc_http_request_duration_seconds_sum{route=\"");
		blabel(&b, m->names[r]);
		cs_sb_printf(&b, "\"} %.6f\n", (double)atomic_load_explicit(
		    &m->stats[r].sum_ns, memory_order_relaxed) / 1e9);
		cs_sb_printf(&b, "certsvc_http_request_duration_seconds_count{route=\"");
		blabel(&b, m->names[r]);
		cs_sb_printf(&b, "\"} %lu\n", count);
	}
	bmetric(&b, "certsvc_licences_issued_total", "counter", "Licences issued "
	    "(new ones, not idempotent repeats).", LOAD(issued));
	cs_sb_printf(&b, "# HELP certsvc_verifications_total Verifications answered, "
	    "by result.\n# TYPE certsvc_verifications_total counter\n");
	for (i = 0; i < NRESULTS; i++)
		cs_sb_printf(&b, "certsvc_verifications_total{result=\"%s\"} %lu\n",
		    results[i], atomic_load_explicit(&m->verifications[i],
		    memory_order_relaxed));
	bmetric(&b, "certsvc_verify_fast_total", "counter", "Verifications "
	    "of a stored token's own bytes, answered without a signature "
	    "check (the fast path).", LOAD(verify_fast));
	bmetric(&b, "certsvc_http_requests_in_flight", "gauge", "Requests "
	    "started and not yet finished.", LOAD(in_flight));
	bmetric(&b, "certsvc_audit_reads_waiting", "gauge", "Audit records of "
	    "answered reads not yet committed (the read audit writer).",
	    LOAD(audit_waiting));
	bmetric(&b, "certsvc_audit_reads_committed_total", "counter", "Audit "
	    "records of reads committed by the read audit writer.",
	    LOAD(audit_committed));
	bmetric(&b, "certsvc_issue_batches_total", "counter", "Transactions "
	    "the issuance writer ran, committed or failed.", LOAD(issue_batches));
	bmetric(&b, "certsvc_issue_batched_total", "counter", "Issuances the "
	    "issuance writer ran in them.", LOAD(issue_runs));
	/* Age -1: no list held yet (the first build has not ended). */
	{
		bmetric(&b, "certsvc_status_list_age_seconds", "gauge", "Seconds "
		    "since the served status list was signed (its iat).",
		    LOAD(sl_held) ? LOAD(sl_age) : -1);
		bmetric(&b, "certsvc_status_list_bytes", "gauge", "Size of the "
		    "served status list.", LOAD(sl_bytes));
		bmetric(&b, "certsvc_status_list_builds_total", "counter",
		    "Status lists built and signed.", LOAD(sl_builds));
		bmetric(&b, "certsvc_status_list_build_failures_total", "counter",
		    "Status list builds that failed (the old list was served).",
		    LOAD(sl_failures));
		cs_sb_printf(&b, "# HELP certsvc_status_list_build_seconds Time "
		    "the last status list build and signature took.\n"
		    "# TYPE certsvc_status_list_build_seconds gauge\n"
		    "certsvc_status_list_build_seconds %.6f\n",
		    (double)LOAD(sl_build_us) / 1e6);
	}
	bmetric(&b, "certsvc_peers", "gauge", "Peer libraries whose tokens "
	    "verify here (as last read).", LOAD(peers));
	cs_sb_printf(&b, "# HELP certsvc_build_info The certsvc version and the "
	    "store backend this node serves from (always 1).\n"
	    "# TYPE certsvc_build_info gauge\ncertsvc_build_info{version=\"");
	blabel(&b, cs_version());
	cs_sb_puts(&b, "\",backend=\"");
	backend = atomic_load_explicit(&m->backend, memory_order_relaxed);
	blabel(&b, backend != NULL ? backend : "unknown");
	cs_sb_puts(&b, "\"} 1\n");
	if (b.failed) {
		free(b.p);
		return cs_err_set(CS_ENOMEM, "metrics: out of memory");
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
