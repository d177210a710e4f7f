/* cli_tokens.c: commands on QR texts and tokens, needing no database:
 * verify (offline, against a trust list) and decode (every layer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_libraries.h"
#include "cose.h"
#include "cs_err.h"
#include "pkcs11.h"
#include "encode.h"
#include "service.h"
#include "status_list.h"
#include "timeutil.h"
#include "token.h"

/* The text argument, or standard input for "-". */
static char *
read_text(const cs_cli *c, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *mem;

	if (c->nargs != 1)
		return NULL;
	if (strcmp(c->args[0], "-") != 0) {
		*len = strlen(c->args[0]);
		return strdup(c->args[0]);
	}
	if ((mem = open_memstream(&buf, &n)) == NULL)
		return NULL;
	for (int ch; (ch = getchar()) != EOF && n < CS_TOKEN_MAX_TEXT * 2;)
		fputc(ch, mem);
	fclose(mem);
	*len = n;
	return buf;
}

static char *
slurp(const char *path, size_t *len)
{
	return cs_cli_slurp(path, 1024 * 1024, len);
}

int
cs_cmd_verify(int argc, char **argv)
{
	cs_opt opts[] = {{"trust-list", 1, "a JWK Set file (certsvc trust-list); "
	    "default: the key directory", NULL}, {"status-list", 1, "a status "
	    "list file (certsvc status-list, GET /api/v1/status-list): also "
	    "check suspension, revocation and amendment", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "verify", .opts = opts,
	    .settings = "keys pkcs11_module tz_offset_minutes"};
	cs_cli_libs libs = {0};
	json_t *verdict = NULL;
	char *text = NULL;
	size_t len = 0;
	int done, rc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc verify [--trust-list FILE|DIR]... [--keys DIR]\n"
	    "                      [--status-list FILE]... TOKEN-OR-QR-TEXT|-\n\n"
	    "Check a QR text (either form) or a bare token offline: signature,\n"
	    "trusted key, validity dates and, with a status list (SPEC §11),\n"
	    "suspension, revocation and amendment.  Prints the result, the\n"
	    "licence as signed and \"status_list\": the list's word and age, or\n"
	    "that status was not checked.\n\n"
	    "Several libraries (this one and its peers): give --trust-list once\n"
	    "per library, or a directory of *.json trust lists; the answer's\n"
	    "\"library\" names the one whose key signed the token (its file name\n"
	    "without .json).  Each --status-list goes to the library whose key\n"
	    "signed it.\n\n"
	    "exit status: 0 valid; 1 checked and not valid (the result says why);\n"
	    "2 usage or input error: no text, a trust list or key directory that\n"
	    "cannot be read, or a status list that is refused (bad signature,\n"
	    "a key not in the trust list, malformed); 3 the status list is past\n"
	    "its exp (stale): the result still counts what it says.\n", 1, &done);
	if (done)
		goto out;
	rc = 2;
	if ((text = read_text(&c, &len)) == NULL) {
		fprintf(stderr, "certsvc verify: give one text (or - for standard input)\n");
		goto out;
	}
	/* Until a verdict is printed, a failure is the input's (2): a script
	 * must not read "cannot read the trust list" as "revoked" (1). */
	if (cs_cli_libs_load(&c, argc, argv, &libs) != 0)
		goto out;
	if (cs_verify_offline_libraries(libs.lib, libs.n, text, len,
	    c.cfg.tz_offset_minutes, &verdict) != 0) {
		cs_cli_fail(&c, NULL);
		goto out;
	}
	cs_cli_print_json(verdict);
	rc = strcmp(json_string_value(json_object_get(verdict, "result")), "valid") == 0
	    ? 0 : 1;
	if (json_is_true(json_object_get(json_object_get(verdict,
	    "status_list"), "stale")))
		rc = 3;
out:
	cs_cli_libs_free(&libs);
	json_decref(verdict);
	free(text);
	free(c.args);
	return rc;
}

static const char *
form_name(enum cs_token_form f)
{
	switch (f) {
	case CS_FORM_URL:
		return "url";
	case CS_FORM_COMPACT:
		return "compact (EL1:)";
	case CS_FORM_DCC:
		return "EU DCC (HC1:)";
	case CS_FORM_COSE:
		return "uncompressed COSE";
	default:
		return "token";
	}
}

/* One decoded layer: its name, outcome and output bytes. */
static void
add_layer(json_t *layers, const char *name, int ok, const uint8_t *bytes, size_t n,
    const char *error)
{
	char *hex = NULL;
	json_t *l = json_pack("{ss sb}", "layer", name, "ok", ok);

	if (ok && bytes != NULL && cs_hex_encode(bytes, n, &hex) == 0)
		json_object_set_new(l, "hex", json_string(hex));
	if (!ok)
		json_object_set_new(l, "error", json_string(error));
	json_array_append_new(layers, l);
	free(hex);
}

/* The report of cs_token_decode's layers, up to the one that failed. */
static json_t *
layer_report(const cs_token_layers *l, int rc)
{
	json_t *layers = json_array();
	const char *failed = rc ? l->failed_layer : NULL;
	int b45 = l->form == CS_FORM_COMPACT || l->form == CS_FORM_DCC;
	const char *enc = b45 ? "base45" : "base64url";

	if (failed && strcmp(failed, "prefix") == 0) {
		add_layer(layers, "prefix", 0, NULL, 0, cs_err_msg());
		return layers;
	}
	add_layer(layers, "prefix", 1, NULL, 0, NULL);
	if (failed && strcmp(failed, enc) == 0) {
		add_layer(layers, enc, 0, NULL, 0, cs_err_msg());
		return layers;
	}
	add_layer(layers, enc, 1, l->compressed ? l->compressed : l->cose,
	    l->compressed ? l->compressed_len : l->cose_len, NULL);
	if (l->compressed != NULL)
		add_layer(layers, "zlib", !(failed && strcmp(failed, "zlib") == 0),
		    l->cose, l->cose_len, cs_err_msg());
	if (failed && strcmp(failed, "zlib") == 0)
		return layers;
	add_layer(layers, "cose", !(failed && strcmp(failed, "cose") == 0),
	    l->msg ? l->msg->payload : NULL, l->msg ? l->msg->payload_len : 0,
	    cs_err_msg());
	if (l->msg != NULL)
		add_layer(layers, "claims", failed == NULL, NULL, 0, cs_err_msg());
	return layers;
}

static json_t *
cose_report(const cs_cose_msg *m)
{
	char *kid = NULL, *prot = NULL;
	json_t *j;

	/* base64url, as the trust list and each licence's "kid" write it
	 * (SPEC §5), so a kid read here is found there as it is. */
	if (m->kid_len > 0)
		cs_b64url_encode(m->kid, m->kid_len, &kid);
	cs_hex_encode(m->protected_raw, m->protected_len, &prot);
	j = json_pack("{si ss* ss ss sb sb si}", "alg", m->alg, "alg_name",
	    cs_alg_name(m->alg), "kid", kid ? kid : "", "protected", prot ? prot : "",
	    "kid_unprotected", m->kid_unprotected, "cwt_tag", m->cwt_tag,
	    "signature_bytes", (int)m->sig_len);
	free(kid);
	free(prot);
	return j;
}

static int
check_signature(const cs_token_layers *l, const char *keyfile, json_t *report)
{
	cs_key *key = NULL;
	char *buf = NULL;
	size_t n = 0;
	int rc;

	if ((buf = slurp(keyfile, &n)) == NULL)
		rc = cs_err_set(CS_EIO, "%s: cannot read", keyfile);
	else if ((rc = cs_key_load_public((uint8_t *)buf, n, &key)) == 0)
		rc = cs_cose_verify(l->msg, key);
	json_object_set_new(report, "signature", json_pack("{sb ss}", "ok", rc == 0,
	    "detail", rc == 0 ? "verifies" : cs_err_msg()));
	cs_key_free(key);
	free(buf);
	return rc;
}

static int
check_expiry(const cs_token_layers *l, const char *at, json_t *report)
{
	json_t *exp = json_object_get(l->claims, "4");
	time_t t;
	int rc, ok;

	if ((rc = cs_rfc3339_parse(at, &t)) != 0)
		return rc;
	ok = !json_is_integer(exp) || t <= (time_t)json_integer_value(exp);
	json_object_set_new(report, "expiry", json_pack("{sb sO* ss}", "ok", ok, "exp",
	    exp, "at", at));
	return ok ? 0 : CS_EVALIDATION;
}

static void
print_report(const json_t *r)
{
	size_t i;
	json_t *l;

	printf("form: %s\n", json_string_value(json_object_get(r, "form")));
	json_array_foreach(json_object_get(r, "layers"), i, l) {
		const char *hex = json_string_value(json_object_get(l, "hex"));
		printf("%-10s %s", json_string_value(json_object_get(l, "layer")),
		    json_is_true(json_object_get(l, "ok")) ? "ok" : "FAILED");
		if (hex != NULL)
			printf(" (%zu bytes)", strlen(hex) / 2);
		if (!json_is_true(json_object_get(l, "ok")))
			printf(": %s", json_string_value(json_object_get(l, "error")));
		printf("\n");
	}
	if (json_object_get(r, "cose") != NULL) {
		json_t *c = json_object_get(r, "cose");
		printf("cose:      alg %s (%d), kid %s%s%s\n",
		    json_string_value(json_object_get(c, "alg_name")) ?: "unknown",
		    (int)json_integer_value(json_object_get(c, "alg")),
		    json_string_value(json_object_get(c, "kid")),
		    json_is_true(json_object_get(c, "kid_unprotected")) ? " (unprotected)" : "",
		    json_is_true(json_object_get(c, "cwt_tag")) ? ", CWT tag 61" : "");
	}
	if (json_object_get(r, "diag") != NULL)
		printf("claims:    %s\n", json_string_value(json_object_get(r, "diag")));
	if (json_object_get(r, "signature") != NULL)
		printf("signature: %s\n", json_string_value(json_object_get(
		    json_object_get(r, "signature"), "detail")));
	if (json_object_get(r, "expiry") != NULL)
		printf("expiry:    %s at %s\n", json_is_true(json_object_get(
		    json_object_get(r, "expiry"), "ok")) ? "not expired" : "EXPIRED",
		    json_string_value(json_object_get(json_object_get(r, "expiry"), "at")));
}

int
cs_cmd_decode(int argc, char **argv)
{
	cs_opt opts[] = {{"key", 1, "PEM or X.509 (PEM/DER) file: also verify the signature", NULL},
	    {"at", 1, "RFC 3339 time: also check the exp claim against it", NULL},
	    {"json", 0, "print the report as JSON (each layer's output in hex)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "decode", .opts = opts};
	cs_token_layers *l = NULL;
	json_t *report = NULL;
	char *text = NULL, *diag = NULL;
	size_t len = 0;
	int done, rc, drc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc decode [--key FILE] [--at TIME] [--json] TEXT|-\n\n"
	    "Show every layer of a QR text or token: prefix, Base45 or base64url,\n"
	    "zlib, COSE headers, claims in CBOR diagnostic notation; reads EU DCC\n"
	    "HC1: texts too.  Exit status 0 only when every layer decodes (and the\n"
	    "signature verifies, with --key; and exp is not passed, with --at).\n",
	    0, &done);
	if (done)
		goto out;
	rc = 2;
	if ((text = read_text(&c, &len)) == NULL) {
		fprintf(stderr, "certsvc decode: give one text (or - for standard input)\n");
		goto out;
	}
	drc = cs_token_decode(text, len, &l);
	report = json_pack("{ss so}", "form", form_name(l->form), "layers",
	    layer_report(l, drc));
	if (l->msg != NULL)
		json_object_set_new(report, "cose", cose_report(l->msg));
	if (l->msg != NULL && cs_cbor_diag(l->msg->payload, l->msg->payload_len, &diag) == 0)
		json_object_set_new(report, "diag", json_string(diag));
	rc = drc == 0 ? 0 : 1;
	if (rc == 0 && cs_cli_opt(&c, "key") && check_signature(l, cs_cli_opt(&c, "key"),
	    report) != 0)
		rc = 1;
	if (drc == 0 && cs_cli_opt(&c, "at") && check_expiry(l, cs_cli_opt(&c, "at"),
	    report) != 0)
		rc = 1;
	json_object_set_new(report, "ok", json_boolean(rc == 0));
	if (cs_cli_opt(&c, "json"))
		cs_cli_print_json(report);
	else
		print_report(report);
out:
	cs_token_layers_free(l);
	json_decref(report);
	free(text);
	free(diag);
	free(c.args);
	return rc;
}
