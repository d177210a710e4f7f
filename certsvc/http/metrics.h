/*
 * metrics: the counters GET /metrics serves, in the Prometheus text
 * exposition format 0.0.4:
 *
 *   certsvc_http_requests_total{route,status}        counter
 *   certsvc_http_request_duration_seconds{route}     histogram
 *   certsvc_licences_issued_total                    counter
 *   certsvc_verifications_total{result}              counter
 *   certsvc_http_requests_in_flight                  gauge
 *   certsvc_status_list_*, certsvc_peers             (cs_metrics_status_list)
 *
 * Labels are bounded by construction: route is one of the route patterns
 * given to cs_metrics_new() (or "unmatched"), never a raw path, so ids and
 * holder codes cannot become label values and the series count stays fixed;
 * status is a number 100..599; result is one of SPEC §5's verification
 * results (anything else counts as "other").
 *
 * Threads: recording is lock-free (C11 atomics) and may happen on every
 * worker thread at once; rendering reads the counters without stopping
 * them, so a scrape sees each counter at some moment during the scrape.
 */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

typedef struct cs_metrics cs_metrics;

/* routes: the route patterns, copied; index n_routes means "unmatched". */
int cs_metrics_new(const char *const *routes, size_t n_routes,
    cs_metrics **out);
void cs_metrics_free(cs_metrics *m);

/* One finished request: route index (n_routes or more = unmatched), the
 * status sent (0 when none: not counted in requests_total), duration. */
void cs_metrics_request(cs_metrics *m, size_t route, int status,
    double seconds);
/* n licences were issued (one request, a bundle, an amendment). */
void cs_metrics_issued(cs_metrics *m, long n);
/* One verification answered with result ("valid", "expired", ...). */
void cs_metrics_verification(cs_metrics *m, const char *result);
/* Requests started and not yet finished (the server's own counter). */
void cs_metrics_in_flight(cs_metrics *m, long n);
/* The read audit writer's queue (audit_queue.h): records waiting, and
 * committed since start. */
void cs_metrics_audit_queue(cs_metrics *m, unsigned long waiting,
    unsigned long committed);
/* Append to text (len bytes, malloc'd; replaced) a histogram without
 * labels, in seconds, of durations counted in milliseconds: count[i] of
 * them took at most le_ms[i] (not cumulative), count[nb] more than
 * le_ms[nb - 1]; they summed to sum_ms. */
int cs_metrics_histogram_ms(char **text, size_t *len, const char *name,
    const char *help, const long *le_ms, const uint64_t *count, size_t nb,
    uint64_t sum_ms);
/* The issuance writer (tx_queue.h): batches committed, issuances in them. */
void cs_metrics_issue_writer(cs_metrics *m, unsigned long batches,
    unsigned long runs);

/* Verifications answered by the fast path (verify.c: a stored token's own
 * bytes, no signature check) since start. */
void cs_metrics_verify_fast(cs_metrics *m, unsigned long n);
/* The status list the node serves (status_cache.c) and its peers. */
typedef struct cs_metrics_sl {
	int held;                  /* a list is held */
	long long age, bytes;      /* of the list held: seconds since its iat */
	unsigned long builds, failures;
	long long build_us;        /* the last build's duration */
	unsigned long peers;
} cs_metrics_sl;
void cs_metrics_status_list(cs_metrics *m, const cs_metrics_sl *s);

/* The backend the node serves from ("sqlite", "postgresql"; a static
 * string), for certsvc_build_info beside the version. */
void cs_metrics_backend(cs_metrics *m, const char *backend);

/* One metric without labels (its HELP and TYPE lines, then its value)
 * appended to b: for series rendered elsewhere (http_subs.c). */
void cs_metrics_line(cs_sbuf *b, const char *name, const char *type,
    const char *help, long long v);

/* The exposition text; *out malloc'd (caller frees), *len its length. */
int cs_metrics_render(cs_metrics *m, char **out, size_t *len);

#endif
