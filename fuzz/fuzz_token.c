/*
 * fuzz_token: a QR text or token through every layer (prefix or URL,
 * base64url or Base45, zlib, COSE_Sign1, CBOR claims) with cs_token_decode,
 * the offline verdict of cs_verify_offline against the fixed keyring, and
 * the online one of cs_verify_text (POST /api/v1/verify) from a service
 * whose key directory holds the fixed keys and whose store is empty.
 *
 * An input whose first byte starts a CBOR map is taken as claims instead:
 * it is signed with one of the fixed keys (by input length: ES256, EdDSA
 * or SM2) and the token goes through both QR forms.  Random texts never get
 * past the signature; this mode reaches what runs after it (the dates and
 * the licence view built from signed but hostile claims).
 *
 * Properties: verification always gives a verdict from SPEC §5's list; a
 * token signed by a trusted key is never invalid_signature or unknown_key.
 */
#include "fuzz.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "cs_err.h"
#include "encode.h"
#include "service.h"
#include "token.h"

/* Asia/Shanghai, the default deployment time zone. */
#define TZ_MIN 480

static cs_service *svc;

static const char *const results[] = {"valid", "not_yet_valid", "expired",
    "suspended", "revoked", "superseded", "invalid_signature", "unknown_key",
    "malformed", "not_found", NULL};

/*
 * With CS_FUZZ_WRITE_KEYS=DIR set, write the fixed keys as key directories
 * DIR/es256, DIR/eddsa and DIR/sm2 and exit: fuzz/seeds.py has the real
 * binary issue licences with them, so the seeds carry signatures this
 * target's keyring accepts.
 */
static void
write_keys(const char *dir)
{
	static const struct { int alg; const char *name; } algs[] = {
		{CS_ALG_ES256, "es256"}, {CS_ALG_EDDSA, "eddsa"}, {CS_ALG_SM2, "sm2"},
	};
	char path[4096];
	size_t i;

	/* cs_key_save makes the key directory itself, not its parents. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		fuzz_fail("%s: cannot create it", dir);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, algs[i].name);
		if (cs_key_save(fuzz_key(algs[i].alg), path, NULL) != 0)
			fuzz_fail("%s: %s", path, cs_err_msg());
	}
	exit(0);
}

static void
close_service(void)
{
	cs_service_close(svc);
	svc = NULL;
}

/* The service of the online verdict: the fixed keys, the shipped catalog,
 * an empty store in the temporary directory. */
static void
open_service(void)
{
	char keys[600];
	cs_config cfg;
	size_t i;

	snprintf(keys, sizeof(keys), "%s/keys", fuzz_tmpdir());
	for (i = 0; i < fuzz_keyring()->n; i++)
		if (cs_key_save(fuzz_keyring()->keys[i], keys, NULL) != 0)
			fuzz_fail("%s: %s", keys, cs_err_msg());
	cs_config_defaults(&cfg);
	snprintf(cfg.db, sizeof(cfg.db), "%s/certsvc.db", fuzz_tmpdir());
	snprintf(cfg.keys, sizeof(cfg.keys), "%s", keys);
	snprintf(cfg.templates, sizeof(cfg.templates), "%s/templates",
	    CS_SOURCE_DIR);
	if (cs_service_open(&cfg, 0, &svc) != 0)
		fuzz_fail("service: %s", cs_err_msg());
	atexit(close_service);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("CS_FUZZ_WRITE_KEYS");

	(void)argc;
	(void)argv;
	fuzz_keyring();
	if (dir != NULL && *dir != '\0')
		write_keys(dir);
	open_service();
	return 0;
}

/* The verdict on text; returns its result (static storage). */
static const char *
verdict(const char *text, size_t len, int online)
{
	json_t *v = NULL;
	const char *res, *const *r;
	char *dump;

	if ((online ? cs_verify_text(svc, text, len, &v) :
	    cs_verify_offline(fuzz_keyring(), text, len, TZ_MIN, &v)) != 0 ||
	    v == NULL)
		fuzz_fail("%s gave no verdict: %s", online ? "cs_verify_text" :
		    "cs_verify_offline", cs_err_msg());
	res = json_string_value(json_object_get(v, "result"));
	for (r = results; res != NULL && *r != NULL; r++)
		if (strcmp(*r, res) == 0)
			break;
	if (res == NULL || *r == NULL)
		fuzz_fail("verdict result '%s' is not one of SPEC §5", res ? res : "(none)");
	/* What the HTTP layer and the CLI would print. */
	if ((dump = json_dumps(v, JSON_COMPACT)) == NULL)
		fuzz_fail("the verdict does not serialise");
	free(dump);
	json_decref(v);
	return *r;
}

static void
decode_text(const uint8_t *data, size_t size)
{
	cs_token_layers *l = NULL;
	char *text = fuzz_strndup(data, size), *diag = NULL;
	int rc;

	/* As `certsvc decode` does: every layer, then the claims' diag. */
	rc = cs_token_decode(text, size, &l);
	if (l == NULL)
		fuzz_fail("cs_token_decode left no layers");
	if (rc == 0 && (l->failed_layer != NULL || l->claims == NULL))
		fuzz_fail("decoded, yet a layer is missing");
	if (rc != 0 && l->failed_layer == NULL)
		fuzz_fail("failed, yet no layer is named");
	if (l->msg != NULL && cs_cbor_diag(l->msg->payload, l->msg->payload_len,
	    &diag) == 0)
		free(diag);
	cs_token_layers_free(l);
	verdict(text, size, 0);
	verdict(text, size, 1);
	free(text);
}

static void
signed_claims(const uint8_t *data, size_t size)
{
	static const int algs[] = {CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2};
	const cs_key *key = fuzz_key(algs[size % 3]);
	char *token = NULL, *qr = NULL;
	const char *res;
	const char *forms[] = {"url", "compact"};
	size_t i;

	if (cs_token_sign(key, data, size, &token) != 0)
		goto out;
	for (i = 0; i < 2; i++) {
		if (cs_token_qr_text(token, forms[i], "https://lic.example.gov.cn",
		    &qr) != 0)
			fuzz_fail("qr text: %s", cs_err_msg());
		/* Too long for a QR text is malformed; anything else was
		 * signed by a trusted key. */
		res = verdict(qr, strlen(qr), i);
		if (strcmp(res, "invalid_signature") == 0 ||
		    strcmp(res, "unknown_key") == 0)
			fuzz_fail("a token signed by a trusted key is %s", res);
		free(qr);
		qr = NULL;
	}
	verdict(token, strlen(token), 0);
	verdict(token, strlen(token), 1);
out:
	free(token);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && (data[0] & 0xe0) == 0xa0)
		signed_claims(data, size);
	else
		decode_text(data, size);
	return 0;
}
