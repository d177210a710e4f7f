/*
 * fuzz_issue: an issuance request (the JSON body of POST
 * /api/v1/certificates, or of /bundles when it has "certificates") through
 * what the server does with it: the face fields against the shipped
 * catalog (cs_catalog_validate_fields), then the whole cs_issue or
 * cs_issue_bundle path into a real SQLite store, then the licence read
 * back, looked up by holder, verified online and offline from its token,
 * and its face rendered.
 *
 * The store is a temporary file (on /dev/shm when there is one, since each
 * licence is fsync'd), signed with the fixed ES256 key, for one issuer
 * client granted every type under one authority and type C011 under a
 * second, and a reader granted every type.  It is started afresh every
 * RESET_EVERY licences so a run of hours stays small.  Serials are random,
 * so an input may not replay byte for byte, but what it exercises does.
 *
 * Properties: only the errors of SPEC §5 come back (no storage or crypto
 * error for any request); a 422 names at least one problem; every problem
 * and reason is valid UTF-8 (they go into JSON answers, where invalid text
 * would be dropped); an issued licence verifies as genuine, online and
 * offline.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "cs_err.h"
#include "face.h"
#include "service.h"

#define RESET_EVERY 5000
#define ISSUER_CODE "11440000006939756B"
#define HEALTH_CODE "114400000069400645"

static cs_service *svc;
static cs_client *issuer, *reader;
static char db[600];
static long created_total, issued_total;

static void
utf8_or_fail(const char *s, const char *what)
{
	json_t *j;

	if (s == NULL)
		return;
	if ((j = json_string(s)) == NULL)
		fuzz_fail("%s is not valid UTF-8", what);
	json_decref(j);
}

static void
close_all(void)
{
	cs_client_free(issuer);
	cs_client_free(reader);
	cs_service_close(svc);
	issuer = reader = NULL;
	svc = NULL;
}

static void
open_all(void)
{
	const char *dir = fuzz_tmpdir();
	char keys[600], *tok = NULL;
	cs_config cfg;

	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(db, sizeof(db), "%s/certsvc.db", dir);
	if (access(keys, F_OK) != 0 &&
	    cs_key_save(fuzz_key(CS_ALG_ES256), keys, NULL) != 0)
		fuzz_fail("key: %s", cs_err_msg());
	cs_config_defaults(&cfg);
	snprintf(cfg.db, sizeof(cfg.db), "%s", db);
	snprintf(cfg.keys, sizeof(cfg.keys), "%s", keys);
	snprintf(cfg.templates, sizeof(cfg.templates), "%s/templates", CS_SOURCE_DIR);
	snprintf(cfg.public_url, sizeof(cfg.public_url), "https://lic.example.gov.cn");
	if (cs_service_open(&cfg, 1, &svc) != 0)
		fuzz_fail("service: %s", cs_err_msg());
	if (cs_client_create(svc, "fuzz", "issuer", &tok) != 0 ||
	    cs_client_grant(svc, "fuzz", "*", ISSUER_CODE, "广东省生态环境厅") != 0 ||
	    cs_client_grant(svc, "fuzz", "11100000MB0143391C011", HEALTH_CODE,
	    "广东省卫生健康委员会") != 0 ||
	    cs_client_authenticate(svc, tok, &issuer) != 0)
		fuzz_fail("issuer client: %s", cs_err_msg());
	free(tok);
	if (cs_client_create(svc, "reader", "reader", &tok) != 0 ||
	    cs_client_grant(svc, "reader", "*", NULL, NULL) != 0 ||
	    cs_client_authenticate(svc, tok, &reader) != 0)
		fuzz_fail("reader client: %s", cs_err_msg());
	free(tok);
}

static void
reset_store(void)
{
	char path[700];

	close_all();
	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	open_all();
}

/* How much of the run got as far as a licence: said at exit. */
static void
report(void)
{
	fprintf(stderr, "fuzz_issue: %ld licences issued\n", issued_total);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	open_all();
	atexit(close_all);
	atexit(report);
	return 0;
}

static void
problems_check(int rc, const cs_problems *p)
{
	size_t i;

	if (rc == CS_EVALIDATION && p->n == 0)
		fuzz_fail("a validation failure with no problem named");
	for (i = 0; i < p->n; i++) {
		utf8_or_fail(p->items[i].field, "a problem's field");
		utf8_or_fail(p->items[i].message, "a problem's message");
	}
	if (rc != 0 && rc != CS_EVALIDATION)
		utf8_or_fail(cs_err_msg(), "a reason");
}

/* An issued licence: read back, found by holder, genuine, its face. */
static void
licence_check(const json_t *lic)
{
	const char *id = json_string_value(json_object_get(lic, "id"));
	const char *tok = json_string_value(json_object_get(lic, "token"));
	const char *qr = json_string_value(json_object_get(lic, "qr_text"));
	const char *code = json_string_value(json_object_get(json_object_get(lic,
	    "holder"), "code"));
	const char *type = json_string_value(json_object_get(lic, "type"));
	/* A pilot code issued with holder.unchecked is read back the same way. */
	const char *unchecked = json_is_true(json_object_get(json_object_get(lic,
	    "holder"), "unchecked")) ? "true" : NULL;
	const char *res;
	cs_actor who = {reader, "127.0.0.1", "fuzz", NULL};
	cs_purpose why = {"fuzzing", NULL, NULL};
	cs_qr_opts qo = {CS_QR_ECC_M, 4, 4};
	const cs_type *t;
	json_t *v = NULL;
	char *svg = NULL;

	if (id == NULL || tok == NULL || qr == NULL || code == NULL || type == NULL)
		fuzz_fail("an issued licence without id, token, qr_text, holder "
		    "code or type");
	if (cs_licence_read(svc, &who, id, &v) != 0)
		fuzz_fail("licence %s does not read back: %s", id, cs_err_msg());
	json_decref(v);
	v = NULL;
	if (cs_holder_licences(svc, &who, &(cs_holder_query){code, NULL, NULL,
	    NULL, NULL, unchecked}, &why, &v, NULL) != 0 ||
	    json_array_size(json_object_get(v, "certificates")) == 0)
		fuzz_fail("holder %s has no licences: %s", code, cs_err_msg());
	json_decref(v);
	v = NULL;
	if (cs_verify_text(svc, qr, strlen(qr), &v) != 0)
		fuzz_fail("no verdict: %s", cs_err_msg());
	res = json_string_value(json_object_get(v, "result"));
	if (res == NULL || strcmp(res, "invalid_signature") == 0 ||
	    strcmp(res, "unknown_key") == 0 || strcmp(res, "malformed") == 0 ||
	    strcmp(res, "not_found") == 0)
		fuzz_fail("a licence just issued verifies as %s: %s",
		    res ? res : "(none)", json_string_value(json_object_get(v,
		    "reason")));
	json_decref(v);
	v = NULL;
	if (cs_verify_offline(cs_service_keys(svc), tok, strlen(tok), 480, &v) != 0)
		fuzz_fail("no offline verdict: %s", cs_err_msg());
	res = json_string_value(json_object_get(v, "result"));
	if (res == NULL || strcmp(res, "invalid_signature") == 0 ||
	    strcmp(res, "unknown_key") == 0 || strcmp(res, "malformed") == 0)
		fuzz_fail("a licence just issued verifies offline as %s",
		    res ? res : "(none)");
	json_decref(v);
	if ((t = cs_catalog_find(cs_service_catalog(svc), type)) == NULL)
		fuzz_fail("issued type %s is not in the catalog", type);
	if (cs_face_svg(t, lic, qr, &qo, &svg) != 0)
		fuzz_fail("face of %s: %s", id, cs_err_msg());
	free(svg);
}

static void
issue_one(const json_t *req)
{
	cs_actor who = {issuer, "127.0.0.1", "fuzz", NULL};
	cs_problems p = CS_PROBLEMS_INIT;
	const json_t *fields = json_object_get(req, "fields");
	const cs_type *t;
	json_t *lic = NULL;
	int rc, created = 0;

	/* The face fields alone, as an approval system's form would check. */
	t = cs_catalog_find(cs_service_catalog(svc),
	    json_string_value(json_object_get(req, "type")));
	if (t != NULL && json_is_object(fields)) {
		cs_catalog_validate_fields(t, fields, "fields", &p);
		problems_check(0, &p);
		cs_problems_reset(&p);
	}
	rc = cs_issue(svc, &who, req, &lic, &created, &p);
	problems_check(rc, &p);
	if (rc != 0 && rc != CS_EINVAL && rc != CS_EVALIDATION &&
	    rc != CS_ECONFLICT && rc != CS_EFORBIDDEN)
		fuzz_fail("cs_issue: %s: %s", cs_errname(rc), cs_err_msg());
	if (rc == 0)
		licence_check(lic);
	if (rc == 0 && created) {
		created_total++;
		issued_total++;
	}
	json_decref(lic);
	cs_problems_reset(&p);
}

static void
issue_bundle(const json_t *req)
{
	cs_actor who = {issuer, "127.0.0.1", "fuzz", NULL};
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *out = NULL, *lic;
	size_t i;
	int rc, created = 0;

	rc = cs_issue_bundle(svc, &who, req, &out, &created, &p);
	problems_check(rc, &p);
	if (rc != 0 && rc != CS_EINVAL && rc != CS_EVALIDATION &&
	    rc != CS_ECONFLICT && rc != CS_EFORBIDDEN)
		fuzz_fail("cs_issue_bundle: %s: %s", cs_errname(rc), cs_err_msg());
	/* The first few are enough: a bundle the fuzzer grows to dozens of
	 * licences would otherwise spend seconds on checks per input. */
	if (rc == 0)
		json_array_foreach(json_object_get(out, "certificates"), i, lic)
			if (i < 3)
				licence_check(lic);
	if (rc == 0 && created) {
		i = json_array_size(json_object_get(out, "certificates"));
		created_total += (long)i;
		issued_total += (long)i;
	}
	json_decref(out);
	cs_problems_reset(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *req;

	/* As the HTTP layer parses a body. */
	if ((req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &err)) == NULL)
		return 0;
	if (json_object_get(req, "certificates") != NULL)
		issue_bundle(req);
	else
		issue_one(req);
	json_decref(req);
	if (created_total >= RESET_EVERY) {
		created_total = 0;
		reset_store();
	}
	return 0;
}
