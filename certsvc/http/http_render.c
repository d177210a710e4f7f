/*
 * http_render.c: the drawing gate's lines of /metrics (render_gate.h):
 * how many face.png and annotated-copy drawings run, the most that ran at
 * once, and how many waited for a slot or were refused (503).
 */
#include <stdlib.h>

#include "cs_err.h"
#include "http_internal.h"
#include "metrics.h"
#include "render_gate.h"
#include "sbuf.h"

int
cs_http_render_metrics(char **text, size_t *len)
{
	cs_render_gate_stats st;
	cs_sbuf b = CS_SBUF_INIT;

	cs_render_gate_stats_get(&st);
	cs_sb_add(&b, *text, *len);
	cs_metrics_line(&b, "certsvc_render_concurrency", "gauge", "Drawings "
	    "(face.png, annotated copies) allowed at once.", st.limit);
	cs_metrics_line(&b, "certsvc_renders_in_flight", "gauge", "Drawings "
	    "running now.", st.in_flight);
	cs_metrics_line(&b, "certsvc_renders_in_flight_max", "gauge", "The "
	    "most drawings that ran at once since start.", st.max_in_flight);
	cs_metrics_line(&b, "certsvc_render_waits_total", "counter", "Drawings "
	    "that found every slot taken and waited.", (long long)st.waits);
	cs_metrics_line(&b, "certsvc_render_refusals_total", "counter",
	    "Drawings refused (503) after waiting render_wait_ms.",
	    (long long)st.refusals);
	if (b.failed) {
		free(b.p);
		return cs_err_set(CS_ENOMEM, "metrics: out of memory");
	}
	free(*text);
	*text = b.p;
	*len = b.len;
	return 0;
}
