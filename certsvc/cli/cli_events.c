/*
 * cli_events: `certsvc events`, the change feed (SPEC §9) read from the
 * library by the operator at the machine: every event, as JSON lines,
 * from --after on; --follow keeps reading as new ones commit (from this
 * or any other process or node writing the library).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cs_err.h"

/* How often --follow looks for new events once it has read them all. */
#define FOLLOW_POLL_US (200 * 1000)

static void
print_events(const json_t *events)
{
	const json_t *e;
	size_t i;
	char *line;

	json_array_foreach(events, i, e) {
		if ((line = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER)) !=
		    NULL)
			printf("%s\n", line);
		free(line);
	}
	fflush(stdout);
}

int
cs_cmd_events(int argc, char **argv)
{
	cs_opt opts[] = {{"after", 1, "print the events after this seq "
	    "(default 0: from the first)", NULL},
	    {"limit", 1, "at most this many events, 1 to 1000 (default: "
	    "all; with --follow, the size of each read)", NULL},
	    {"follow", 0, "keep printing new events as they commit", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "events", .opts = opts};
	cs_problems p = CS_PROBLEMS_INIT;
	cs_actor op = {NULL, "cli", NULL, NULL};
	cs_service *svc = NULL;
	json_t *page = NULL;
	int64_t after = 0, printed = 0;
	size_t n = 0;
	int limit = 0, all, follow, rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc events [settings] [--after SEQ] [--limit N] "
	    "[--follow]\n\n"
	    "Print the change feed (SPEC §9), one JSON event a line in seq\n"
	    "order: every issuance, amendment, suspension, reinstatement and\n"
	    "revocation, as GET /api/v1/events answers an admin.  Resume from\n"
	    "the last seq printed with --after.\n", 0, &svc)) >= 0)
		goto out;
	all = cs_cli_opt(&c, "limit") == NULL;
	follow = cs_cli_opt(&c, "follow") != NULL;
	if (c.nargs > 0 || (rc = cs_events_parse(cs_cli_opt(&c, "after"),
	    cs_cli_opt(&c, "limit"), &after, &limit, &p)) != 0) {
		if (c.nargs > 0)
			fprintf(stderr, "certsvc events: no arguments, only "
			    "options\n");
		else
			(void)cs_cli_problems(&c, rc, &p);
		rc = 2;
		goto out;
	}
	if (all)
		limit = CS_EVENTS_LIMIT_MAX;
	for (;;) {
		json_decref(page);
		page = NULL;
		if ((rc = cs_events_read(svc, &op, after, limit, &page, &n)) != 0) {
			rc = cs_cli_fail(&c, "read");
			goto out;
		}
		print_events(json_object_get(page, "events"));
		printed += (int64_t)n;
		after = json_integer_value(json_object_get(page, "next_after"));
		if (!follow && (!all || n < (size_t)limit))
			break;
		if (n < (size_t)limit)
			usleep(FOLLOW_POLL_US);
	}
	rc = 0;
out:
	json_decref(page);
	cs_problems_reset(&p);
	cs_service_close(svc);
	free(c.args);
	return rc;
}
