/*
 * cli_subs: `certsvc subscription add|list|remove`, the subscriptions of
 * SPEC §9 managed by the operator at the machine, as an admin does with
 * POST, GET and DELETE /api/v1/subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs_err.h"

/* "a,b" as a JSON array, NULL for NULL (absent: everything). */
static json_t *
csv_array(const char *s)
{
	json_t *a;

	if (s == NULL)
		return NULL;
	a = json_array();
	while (a != NULL && *s != '\0') {
		size_t n = strcspn(s, ",");

		json_array_append_new(a, json_stringn(s, n));
		s += n + (s[n] == ',');
	}
	return a;
}

static int
sub_add(cs_cli *c, cs_service *svc, const cs_actor *op)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req, *out = NULL, *v;
	int rc;

	req = json_object();
	if (cs_cli_opt(c, "name") != NULL)
		json_object_set_new(req, "name", json_string(cs_cli_opt(c, "name")));
	if (cs_cli_opt(c, "url") != NULL)
		json_object_set_new(req, "url", json_string(cs_cli_opt(c, "url")));
	if ((v = csv_array(cs_cli_opt(c, "types"))) != NULL)
		json_object_set_new(req, "types", v);
	if ((v = csv_array(cs_cli_opt(c, "events"))) != NULL)
		json_object_set_new(req, "events", v);
	rc = cs_sub_add(svc, op, req, c->cfg.listen, &out, &p);
	if (rc == CS_EVALIDATION)
		rc = cs_cli_problems(c, rc, &p);
	else if (rc != 0)
		rc = cs_cli_fail(c, "subscription add");
	else
		cs_cli_print_json(out);
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(req);
	return rc;
}

int
cs_cmd_subscription(int argc, char **argv)
{
	cs_opt opts[] = {{"name", 1, "the subscription's name (add)", NULL},
	    {"url", 1, "the receiver's http:// or https:// URL (add)", NULL},
	    {"types", 1, "licence type codes T1,T2 (add; default: all)", NULL},
	    {"events", 1, "event types licence.issued,... (add; default: all)",
	    NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "subscription", .opts = opts};
	cs_actor op = {NULL, "cli", NULL, NULL};
	cs_service *svc = NULL;
	json_t *out = NULL;
	const char *verb;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc subscription add --name NAME --url URL [--types T,..]\n"
	    "                                [--events E,..]\n"
	    "       certsvc subscription list\n"
	    "       certsvc subscription remove NAME\n\n"
	    "Subscriptions (SPEC §9): serve POSTs each change event to the URL,\n"
	    "signed per Standard Webhooks.  add prints the signing secret, once.\n",
	    0, &svc)) >= 0)
		goto out;
	verb = c.nargs > 0 ? c.args[0] : "";
	if (strcmp(verb, "add") == 0 && c.nargs == 1) {
		rc = sub_add(&c, svc, &op);
	} else if (strcmp(verb, "list") == 0 && c.nargs == 1) {
		rc = cs_sub_list(svc, &op, &out) == 0 ? 0 :
		    cs_cli_fail(&c, "subscription list");
		if (rc == 0)
			cs_cli_print_json(out);
	} else if (strcmp(verb, "remove") == 0 && c.nargs == 2) {
		rc = cs_sub_remove(svc, &op, c.args[1]) == 0 ? 0 :
		    cs_cli_fail(&c, "subscription remove");
		if (rc == 0)
			printf("subscription %s removed\n", c.args[1]);
	} else {
		fprintf(stderr, "certsvc subscription: expected add, list or "
		    "remove NAME (see --help)\n");
		rc = 2;
	}
out:
	json_decref(out);
	cs_service_close(svc);
	free(c.args);
	return rc;
}
