/* cli_copies.c: `certsvc copy-of`, an annotated copy (加注件, SPEC §12)
 * made and written as its signed PDF without the server, through the same
 * domain calls as POST .../copies and GET /api/v1/copies/{id}.pdf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs_err.h"
#include "licence_copy.h"

/* The request body of POST .../copies from the flags. */
static json_t *
copy_body(const cs_cli *c)
{
	json_t *b = json_object();
	const char *days = cs_cli_opt(c, "days");
	char *end = NULL;
	long d;

	json_object_set_new(b, "purpose", json_string(cs_cli_opt(c, "purpose")));
	if (cs_cli_opt(c, "used-by") != NULL)
		json_object_set_new(b, "used_by", json_pack("{ss}", "name",
		    cs_cli_opt(c, "used-by")));
	if (days != NULL) {
		d = strtol(days, &end, 10);
		/* Not a number: sent as text, so the domain names the flag's
		 * member as the API would. */
		json_object_set_new(b, "expires_in_days", *end == '\0' &&
		    end != days ? json_integer(d) : json_string(days));
	}
	return b;
}

/* Draw and write the copy's PDF. */
static int
write_pdf(cs_service *svc, const cs_actor *who, const char *copy_id,
    const char *path)
{
	cs_qr_opts qo = {CS_QR_ECC_M, 4, 4};
	cs_copy_row *row = NULL;
	json_t *lic = NULL;
	cs_copy_marks m;
	char until[11];
	uint8_t *pdf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cs_qr_ecc_from_name(cs_service_config(svc)->qr_ecc,
	    &qo.ecc)) != 0 ||
	    (rc = cs_copy_get(svc, who, copy_id, &row, &lic)) != 0)
		goto out;
	cs_copy_until(svc, row, until);
	memset(&m, 0, sizeof(m));
	m.purpose = row->purpose;
	m.used_by = row->used_by_name;
	m.copy_id = row->id;
	m.until = until;
	if ((rc = cs_licence_copy_pdf(svc, lic, &m, &qo, cs_now(), &pdf,
	    &len)) == 0)
		rc = cs_cli_write_file(path, pdf, len);
out:
	free(pdf);
	json_decref(lic);
	cs_copy_row_free(row);
	return rc;
}

int
cs_cmd_copy_of(int argc, char **argv)
{
	cs_opt opts[] = {{"purpose", 1, "what the copy is for: 仅供{purpose}使用", NULL},
	    {"out", 1, "the PDF file to write", NULL},
	    {"used-by", 1, "the name of who uses it", NULL},
	    {"days", 1, "days it is valid, 1 to 90 (default 30)", NULL},
	    {"client", 1, "act as this API client (its grants apply; default: "
	    "the operator, who may copy any licence)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "copy-of", .opts = opts};
	cs_problems p = CS_PROBLEMS_INIT;
	cs_service *svc = NULL;
	cs_client *client = NULL, op = {0};
	cs_actor who = {NULL, "cli", "cli", NULL};
	json_t *body = NULL, *made = NULL;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc copy-of [settings] ID --purpose P --out F.pdf\n"
	    "       [--used-by NAME] [--days N] [--client NAME]\n\n"
	    "Make an annotated copy (加注件) of a licence, recorded and audited as\n"
	    "POST /api/v1/certificates/{id}/copies would, and write its signed PDF;\n"
	    "prints the copy's id and term.\n", 1, &svc)) >= 0)
		goto out;
	rc = 2;
	if (c.nargs != 1 || cs_cli_opt(&c, "purpose") == NULL ||
	    cs_cli_opt(&c, "out") == NULL) {
		fprintf(stderr, "certsvc copy-of: give one ID, --purpose P and "
		    "--out FILE\n");
		goto out;
	}
	rc = 1;
	if (cs_cli_opt(&c, "client") != NULL) {
		if (cs_client_get(svc, cs_cli_opt(&c, "client"), &client) != 0 ||
		    client->revoked_at != 0) {
			fprintf(stderr, "certsvc copy-of: no active client '%s'\n",
			    cs_cli_opt(&c, "client"));
			goto out;
		}
		who.client = client;
	} else {
		/* The operator at the machine: the audit log shows "operator". */
		op.name = "operator";
		op.role = "admin";
		who.client = &op;
	}
	body = copy_body(&c);
	if ((rc = cs_copy_create(svc, &who, c.args[0], body, &made, &p)) != 0) {
		rc = cs_cli_problems(&c, rc, &p);
		goto out;
	}
	if (write_pdf(svc, &who, json_string_value(json_object_get(made,
	    "copy_id")), cs_cli_opt(&c, "out")) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	cs_cli_print_json(made);
	rc = 0;
out:
	cs_problems_reset(&p);
	json_decref(body);
	json_decref(made);
	cs_client_free(client);
	cs_service_close(svc);
	free(c.args);
	return rc;
}
