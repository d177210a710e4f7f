/*
 * cli_peers.c: `certsvc peer add|list|remove` (SPEC §11): the peer
 * libraries whose tokens verify here, as POST/GET/DELETE /api/v1/peers do
 * it, acting as the operator at the console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs_err.h"
#include "service.h"
#include "status_list.h"

/* A trust list is small; a status list up to CS_SL_MAX. */
#define TRUST_FILE_MAX (256 * 1024)

static int
peer_add(cs_cli *c, cs_service *svc, const cs_actor *who)
{
	const char *slpath = cs_cli_opt(c, "status-list");
	cs_problems p = CS_PROBLEMS_INIT;
	char *trust = NULL, *sl = NULL;
	size_t tlen = 0, sllen = 0;
	json_t *out = NULL;
	int rc = 2;

	if (c->nargs != 3) {
		fprintf(stderr, "certsvc peer add: give NAME and TRUST.json\n");
		return 2;
	}
	if ((trust = cs_cli_slurp(c->args[2], TRUST_FILE_MAX + 1, &tlen)) ==
	    NULL) {
		fprintf(stderr, "certsvc peer add: cannot read %s\n", c->args[2]);
		goto out;
	}
	if (slpath != NULL && (sl = cs_cli_slurp(slpath, CS_SL_MAX + 1,
	    &sllen)) == NULL) {
		fprintf(stderr, "certsvc peer add: cannot read %s\n", slpath);
		goto out;
	}
	rc = cs_peer_add(svc, who, c->args[1], trust, tlen,
	    (const uint8_t *)sl, sllen, &out, &p);
	if (rc != 0)
		rc = cs_cli_problems(c, rc, &p);
	else
		cs_cli_print_json(out);
out:
	cs_problems_reset(&p);
	json_decref(out);
	free(trust);
	free(sl);
	return rc;
}

int
cs_cmd_peer(int argc, char **argv)
{
	cs_opt opts[] = {{"status-list", 1, "add: the peer's status list file "
	    "(its certsvc status-list or GET /api/v1/status-list)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "peer", .opts = opts};
	cs_actor who = {NULL, "cli", "cli", NULL};
	cs_service *svc = NULL;
	json_t *out = NULL;
	const char *verb;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc peer add NAME TRUST.json [--status-list FILE]\n"
	    "       certsvc peer list\n"
	    "       certsvc peer remove NAME\n\n"
	    "Peer libraries (通办, SPEC §11): tokens signed by a peer's keys\n"
	    "verify here, named as the peer's, with the status its status list\n"
	    "gives.  NAME is the peer's library name (the iss of its status\n"
	    "lists).  Adding a peer again replaces its trust list and status\n"
	    "list: that is how a newer status list is imported.  A trust list\n"
	    "holding a key of this library or of another peer is refused; a\n"
	    "peer's keys never sign anything here.\n", 0, &svc)) >= 0)
		goto out;
	verb = c.nargs > 0 ? c.args[0] : "";
	if (strcmp(verb, "add") == 0)
		rc = peer_add(&c, svc, &who);
	else if (strcmp(verb, "list") == 0 && c.nargs == 1) {
		if ((rc = cs_peer_list(svc, &who, &out)) == 0)
			cs_cli_print_json(out);
		else
			rc = cs_cli_fail(&c, NULL);
	} else if (strcmp(verb, "remove") == 0 && c.nargs == 2) {
		if ((rc = cs_peer_remove(svc, &who, c.args[1])) == 0)
			printf("peer %s removed: its tokens are unknown_key "
			    "again\n", c.args[1]);
		else
			rc = cs_cli_fail(&c, NULL);
	} else {
		fprintf(stderr, "certsvc peer: expected add NAME TRUST.json, "
		    "list or remove NAME (see --help)\n");
		rc = 2;
	}
out:
	json_decref(out);
	cs_service_close(svc);
	free(c.args);
	return rc;
}
