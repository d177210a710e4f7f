/* metrics: the Prometheus text, its series and its bounded labels. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static const char *const routes[] = {"/api/v1/verify", "/v", "/v",
    "/api/v1/certificates/{id}"};

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

TEST(requests_and_histogram)
{
	cs_metrics *m = NULL;
	char *text = NULL;
	size_t len = 0;

	CHECK_INT_EQ(cs_metrics_new(routes, 4, &m), 0);
	cs_metrics_request(m, 0, 200, 0.0004);
	cs_metrics_request(m, 0, 200, 0.003);
	cs_metrics_request(m, 0, 429, 0.0001);
	cs_metrics_request(m, 3, 404, 20.0);
	cs_metrics_request(m, 99, 404, 0.001);  /* no route: "unmatched" */
	cs_metrics_request(m, 0, 0, 0.5);       /* no answer: timed, not counted */
	CHECK_INT_EQ(cs_metrics_render(m, &text, &len), 0);
	CHECK_INT_EQ(len, strlen(text));
	CHECK_CONTAINS(text, "certsvc_http_requests_total{route=\"/api/v1/verify\","
	    "status=\"200\"} 2\n");
	CHECK_CONTAINS(text, "certsvc_http_requests_total{route=\"/api/v1/verify\","
	    "status=\"429\"} 1\n");
	CHECK_CONTAINS(text, "certsvc_http_requests_total{route=\"unmatched\","
	    "status=\"404\"} 1\n");
	/* Cumulative buckets: 0.0001 and 0.0004 under 0.0005, 0.003 under
	 * 0.005, 0.5 under 0.5. */
	CHECK_CONTAINS(text, "certsvc_http_request_duration_seconds_bucket{route="
	    "\"/api/v1/verify\",le=\"0.0005\"} 2\n");
	CHECK_CONTAINS(text, "certsvc_http_request_duration_seconds_bucket{route="
	    "\"/api/v1/verify\",le=\"0.005\"} 3\n");
	CHECK_CONTAINS(text, "certsvc_http_request_duration_seconds_bucket{route="
	    "\"/api/v1/verify\",le=\"+Inf\"} 4\n");
	CHECK_CONTAINS(text, "certsvc_http_request_duration_seconds_count{route="
	    "\"/api/v1/verify\"} 4\n");
	/* 20 s is past the last bound: only in +Inf. */
	CHECK_CONTAINS(text, "{route=\"/api/v1/certificates/{id}\",le=\"10\"} 0\n");
	CHECK_CONTAINS(text, "{route=\"/api/v1/certificates/{id}\",le=\"+Inf\"} 1\n");
	CHECK_CONTAINS(text, "# TYPE certsvc_http_request_duration_seconds histogram\n");
	free(text);
	cs_metrics_free(m);
}

TEST(one_series_per_pattern)
{
	cs_metrics *m = NULL;
	char *text = NULL;
	size_t len = 0;

	/* GET /v and POST /v are two routes, one pattern: one series. */
	CHECK_INT_EQ(cs_metrics_new(routes, 4, &m), 0);
	cs_metrics_request(m, 1, 200, 0.001);
	cs_metrics_request(m, 2, 200, 0.001);
	CHECK_INT_EQ(cs_metrics_render(m, &text, &len), 0);
	CHECK_CONTAINS(text, "certsvc_http_requests_total{route=\"/v\","
	    "status=\"200\"} 2\n");
	CHECK_INT_EQ(count(text, "certsvc_http_request_duration_seconds_count"
	    "{route=\"/v\"}"), 1);
	free(text);
	cs_metrics_free(m);
}

TEST(issued_and_verifications)
{
	cs_metrics *m = NULL;
	char *text = NULL;
	size_t len = 0;

	CHECK_INT_EQ(cs_metrics_new(routes, 4, &m), 0);
	cs_metrics_issued(m, 1);
	cs_metrics_issued(m, 3);
	cs_metrics_issued(m, 0);
	cs_metrics_verification(m, "valid");
	cs_metrics_verification(m, "valid");
	cs_metrics_verification(m, "revoked");
	/* Anything else is one bounded label, never the text itself. */
	cs_metrics_verification(m, "evil\"}\n{x");
	cs_metrics_verification(m, NULL);
	cs_metrics_in_flight(m, 7);
	CHECK_INT_EQ(cs_metrics_render(m, &text, &len), 0);
	CHECK_CONTAINS(text, "certsvc_licences_issued_total 4\n");
	CHECK_CONTAINS(text, "certsvc_verifications_total{result=\"valid\"} 2\n");
	CHECK_CONTAINS(text, "certsvc_verifications_total{result=\"revoked\"} 1\n");
	CHECK_CONTAINS(text, "certsvc_verifications_total{result=\"expired\"} 0\n");
	CHECK_CONTAINS(text, "certsvc_verifications_total{result=\"other\"} 2\n");
	CHECK(strstr(text, "evil") == NULL);
	CHECK_CONTAINS(text, "certsvc_http_requests_in_flight 7\n");
	free(text);
	cs_metrics_free(m);
}

TEST(label_values_are_escaped)
{
	static const char *const odd[] = {"/a\"b\\c\nd"};
	cs_metrics *m = NULL;
	char *text = NULL;
	size_t len = 0;

	CHECK_INT_EQ(cs_metrics_new(odd, 1, &m), 0);
	cs_metrics_request(m, 0, 200, 0.001);
	CHECK_INT_EQ(cs_metrics_render(m, &text, &len), 0);
	CHECK_CONTAINS(text, "{route=\"/a\\\"b\\\\c\\nd\",status=\"200\"} 1\n");
	free(text);
	cs_metrics_free(m);
	cs_metrics_free(NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(requests_and_histogram);
	RUN(one_series_per_pattern);
	RUN(issued_and_verifications);
	RUN(label_values_are_escaped);
	return check_summary();
}
