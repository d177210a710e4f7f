/* cli_licences.c: commands on licences in the library: issue, show, qr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs_err.h"
#include "qr.h"

/* Issue one request file; the licence is appended to out. */
static int
issue_file(cs_cli *c, cs_service *svc, const cs_actor *who, const char *path,
    json_t *out)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = NULL, *lic = NULL;
	json_error_t err;
	int rc, created;

	if ((req = json_load_file(path, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		fprintf(stderr, "certsvc issue: %s:%d:%d: %s\n", path, err.line,
		    err.column, err.text);
		rc = 1;
		goto out;
	}
	if ((rc = cs_issue(svc, who, req, &lic, &created, &p)) != 0) {
		fprintf(stderr, "certsvc issue: %s:\n", path);
		rc = cs_cli_problems(c, rc, &p);
		goto out;
	}
	json_array_append_new(out, lic);
out:
	cs_problems_reset(&p);
	json_decref(req);
	return rc;
}

int
cs_cmd_issue(int argc, char **argv)
{
	cs_opt opts[] = {{"client", 1, "act as this API client (its grants apply)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "issue", .opts = opts};
	cs_service *svc = NULL;
	cs_client *client = NULL;
	cs_actor who = {NULL, "cli", "cli", NULL};
	json_t *all = NULL;
	int rc, i;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc issue [settings] --client NAME REQUEST.json [REQUEST.json...]\n\n"
	    "Issue licences without the server, as the API would for that client;\n"
	    "prints the licence (several files: a JSON array, stopping at the first\n"
	    "that fails).  The same approval_ref again returns the first licence.\n",
	    1, &svc)) >= 0)
		goto out;
	rc = 2;
	if (cs_cli_opt(&c, "client") == NULL || c.nargs < 1) {
		fprintf(stderr, "certsvc issue: give --client NAME and a request file\n");
		goto out;
	}
	rc = 1;
	if (cs_client_get(svc, cs_cli_opt(&c, "client"), &client) != 0 ||
	    client->revoked_at != 0) {
		fprintf(stderr, "certsvc issue: no active client '%s'\n",
		    cs_cli_opt(&c, "client"));
		goto out;
	}
	who.client = client;
	all = json_array();
	for (i = 0; i < c.nargs; i++)
		if ((rc = issue_file(&c, svc, &who, c.args[i], all)) != 0)
			goto out;
	cs_cli_print_json(c.nargs == 1 ? json_array_get(all, 0) : all);
	rc = 0;
out:
	json_decref(all);
	cs_client_free(client);
	cs_service_close(svc);
	free(c.args);
	return rc;
}

int
cs_cmd_show(int argc, char **argv)
{
	cs_cli c = {.cmd = "show"};
	cs_service *svc = NULL;
	json_t *lic = NULL, *all = NULL;
	int rc, i;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc show [settings] ID [ID...]\n\n"
	    "Print a licence with its current status (an operator's read: not\n"
	    "subject to API grants); several IDs print a JSON array.\n", 0, &svc)) >= 0)
		goto out;
	if (c.nargs < 1) {
		fprintf(stderr, "certsvc show: give a licence identifier\n");
		rc = 2;
		goto out;
	}
	all = json_array();
	for (i = 0; i < c.nargs; i++) {
		if (cs_licence_load(svc, c.args[i], &lic) != 0) {
			rc = cs_cli_fail(&c, c.args[i]);
			goto out;
		}
		json_array_append_new(all, lic);
		lic = NULL;
	}
	cs_cli_print_json(c.nargs == 1 ? json_array_get(all, 0) : all);
	rc = 0;
out:
	json_decref(all);
	cs_service_close(svc);
	free(c.args);
	return rc;
}

int
cs_cli_write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (f == NULL)
		return cs_err_set(CS_EIO, "%s: cannot create", path);
	if (fwrite(buf, 1, n, f) != n)
		rc = cs_err_set(CS_EIO, "%s: write failed", path);
	if (fclose(f) != 0 && rc == 0)
		rc = cs_err_set(CS_EIO, "%s: write failed", path);
	return rc;
}

int
cs_cmd_qr(int argc, char **argv)
{
	cs_opt opts[] = {{"form", 1, "url (default) or compact", NULL},
	    {"format", 1, "png (default) or svg", NULL},
	    {"out", 1, "the image file to write", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "qr", .opts = opts};
	cs_service *svc = NULL;
	cs_qr_opts qo = {CS_QR_ECC_M, 4, 4};
	const char *format;
	json_t *lic = NULL;
	char *text = NULL, *svg = NULL;
	uint8_t *png = NULL;
	size_t len = 0;
	int rc, version = 0;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc qr [settings] ID [--form url|compact] [--format png|svg] --out FILE\n\n"
	    "Write the licence's QR code image; prints the QR version used.\n",
	    0, &svc)) >= 0)
		goto out;
	format = cs_cli_opt(&c, "format") ? cs_cli_opt(&c, "format") : "png";
	if (c.nargs != 1 || cs_cli_opt(&c, "out") == NULL ||
	    (strcmp(format, "png") != 0 && strcmp(format, "svg") != 0)) {
		fprintf(stderr, "certsvc qr: give one ID, --out FILE and --format png|svg\n");
		rc = 2;
		goto out;
	}
	rc = 1;
	if (cs_qr_ecc_from_name(c.cfg.qr_ecc, &qo.ecc) != 0 ||
	    cs_licence_load(svc, c.args[0], &lic) != 0 ||
	    cs_licence_qr_text(svc, lic, cs_cli_opt(&c, "form"), &text) != 0)
		goto fail;
	if (strcmp(format, "png") == 0) {
		if (cs_qr_png(text, &qo, &png, &len, &version) != 0 ||
		    cs_cli_write_file(cs_cli_opt(&c, "out"), png, len) != 0)
			goto fail;
	} else if (cs_qr_svg(text, &qo, &svg, &version) != 0 ||
	    cs_cli_write_file(cs_cli_opt(&c, "out"), svg, strlen(svg)) != 0)
		goto fail;
	printf("%s: QR version %d, ECC %s, %zu characters (%s form)\n",
	    cs_cli_opt(&c, "out"), version, c.cfg.qr_ecc, strlen(text),
	    strncmp(text, "EL1:", 4) == 0 ? "compact" : "url");
	rc = 0;
	goto out;
fail:
	rc = cs_cli_fail(&c, NULL);
out:
	json_decref(lic);
	free(text);
	free(svg);
	free(png);
	cs_service_close(svc);
	free(c.args);
	return rc;
}
