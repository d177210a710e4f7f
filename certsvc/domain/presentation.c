/*
 * presentation: 亮证码 (一码通办, SPEC §10).  A portal that has
 * authenticated a holder asks for a short-lived code for some or all of
 * the holder's licences; the holder's phone shows it as a QR code
 * ({public_url}/p/{code}); the counter clerk scans it and sees those
 * licences, their status and the time left, until it expires.
 *
 * The code is 144 random bits (18 bytes from RAND_bytes, base64url: 24
 * characters), far beyond guessing (docs/design.md, "The holder in the
 * loop").  It is stored only as its SHA-256 (the key "P" hex), never
 * written to a log line (the access log names the route pattern, the
 * audit record the holder) and never in an answer but the one that
 * creates it.
 */
#include "holder_loop.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "encode.h"
#include "rfc3339.h"

#define CODE_BYTES 18
#define TTL_DEFAULT 120
#define TTL_MAX 300

/* ttl: absent (the default) or 1..TTL_MAX seconds; -1 with a problem. */
static json_int_t
check_ttl(const json_t *t, cs_problems *p)
{
	if (t == NULL)
		return TTL_DEFAULT;
	if (!json_is_integer(t) || json_integer_value(t) < 1 ||
	    json_integer_value(t) > TTL_MAX) {
		cs_problems_add(p, "ttl", "must be a number of seconds, 1 to %d",
		    TTL_MAX);
		return -1;
	}
	return json_integer_value(t);
}

/* A new code: CODE_BYTES random bytes, base64url; *out malloc'd. */
static int
new_code(char **out)
{
	uint8_t raw[CODE_BYTES];
	int rc;

	*out = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("presentation code");
	rc = cs_b64url_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int
cs_presentation_create(cs_service *svc, const cs_actor *who,
    const char *holder_in, const char *acting_for, const json_t *req,
    json_t **out, cs_problems *p)
{
	char holder[CS_USCC_LEN + 1], agent[CS_USCC_LEN + 1];
	char key[CS_HL_KEY_MAX], exp[21], *code = NULL, *url = NULL;
	json_t *ids = NULL, *body = NULL;
	size_t before = p->n;
	json_int_t ttl;
	time_t expires;
	int rc;

	*out = NULL;
	if ((rc = cs_hl_create_check(svc, who, "create a presentation",
	    holder_in, acting_for, req, holder, agent, p)) != 0)
		return rc;
	ttl = check_ttl(json_object_get(req, "ttl"), p);
	if ((rc = cs_hl_licences(svc, holder, agent, req, 0, &ids, p)) != 0 &&
	    rc != CS_EVALIDATION)
		goto out;
	if (p->n > before) {
		rc = cs_err_set(CS_EVALIDATION, "%s", p->items[before].message);
		goto out;
	}
	expires = cs_now() + (time_t)ttl;
	cs_rfc3339(expires, exp);
	if ((rc = new_code(&code)) != 0)
		goto out;
	if ((body = json_pack("{sO sI ss ss?}", "licences", ids, "expires_at",
	    (json_int_t)expires, "client", who->client->name, "acting_for",
	    agent[0] ? agent : NULL)) == NULL ||
	    asprintf(&url, "%s/p/%s", svc->cfg.public_url, code) < 0) {
		url = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	cs_hl_code_key('P', code, key);
	if ((rc = cs_store_begin(svc->store)) != 0)
		goto out;
	if ((rc = cs_hl_put(svc, key, 0, "presentation", holder, body)) == 0)
		rc = cs_audit(svc, who, "presentation", holder, holder, NULL,
		    (int64_t)json_array_size(ids));
	if ((rc = cs_hl_finish(svc, rc)) != 0)
		goto out;
	if ((*out = json_pack("{ss ss ss}", "code", code, "qr_text", url,
	    "expires_at", exp)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	if (code != NULL)
		OPENSSL_cleanse(code, strlen(code));
	free(code);
	free(url);
	json_decref(body);
	json_decref(ids);
	return rc;
}

/* Whether s is the shape of a code: 16 to 64 base64url characters. */
static int
code_shaped(const char *s, size_t n)
{
	size_t i;

	if (n < 16 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

int
cs_presentation_code_of(cs_service *svc, const char *text, size_t len,
    char code[65])
{
	size_t u = strlen(svc->cfg.public_url);

	if (len < u + 3 || memcmp(text, svc->cfg.public_url, u) != 0 ||
	    memcmp(text + u, "/p/", 3) != 0 || !code_shaped(text + u + 3,
	    len - u - 3))
		return 0;
	memcpy(code, text + u + 3, len - u - 3);
	code[len - u - 3] = '\0';
	return 1;
}

/* The presentation of code: its row's holder and body, or CS_ENOTFOUND. */
static int
load(cs_service *svc, const char *code, char holder[CS_USCC_LEN + 1],
    json_t **body)
{
	char key[CS_HL_KEY_MAX];
	cs_hact_row **rows = NULL;
	size_t n = 0;
	int rc;

	*body = NULL;
	if (!code_shaped(code, strlen(code)))
		return cs_err_set(CS_ENOTFOUND, "no such presentation");
	cs_hl_code_key('P', code, key);
	if ((rc = cs_store_hacts_get(svc->store, key, 1, 1, &rows, &n)) != 0)
		return rc;
	if (n == 0 || strlen(rows[0]->holder) > CS_USCC_LEN ||
	    (*body = cs_hl_body(rows[0])) == NULL)
		rc = cs_err_set(CS_ENOTFOUND, "no such presentation");
	else
		snprintf(holder, CS_USCC_LEN + 1, "%s", rows[0]->holder);
	cs_hact_rows_free(rows, n);
	return rc;
}

/* The public views of ids, each with its status. */
static json_t *
views(cs_service *svc, const json_t *ids)
{
	json_t *a = json_array(), *v, *one;
	size_t i;

	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || cs_licence_public(svc,
		    json_string_value(v), &one, NULL) != 0)
			continue;
		json_array_append_new(a, one);
	}
	return a;
}

int
cs_presentation_verify(cs_service *svc, const cs_actor *who, const char *code,
    json_t **out)
{
	char holder[CS_USCC_LEN + 1], exp[21], now_s[21], key[CS_HL_KEY_MAX];
	cs_purpose why = {NULL, NULL, NULL};
	json_t *body = NULL, *certs = NULL;
	time_t now = cs_now(), expires;
	int rc;

	*out = NULL;
	cs_rfc3339(now, now_s);
	if ((rc = load(svc, code, holder, &body)) == CS_ENOTFOUND) {
		*out = json_pack("{ss ss ss so}", "result", "not_found", "reason",
		    "no such presentation code / 无此亮证码", "checked_at", now_s,
		    "certificate", json_null());
		goto done;
	}
	if (rc != 0)
		return rc;
	expires = (time_t)json_integer_value(json_object_get(body, "expires_at"));
	cs_rfc3339(expires, exp);
	if (now >= expires) {
		/* Expired: nothing of the licences, not even how many. */
		*out = json_pack("{ss ss ss ss so}", "result",
		    "presentation_expired", "reason", "the presentation code has "
		    "expired / 亮证码已过期", "checked_at", now_s, "expires_at", exp,
		    "certificate", json_null());
		goto done;
	}
	certs = views(svc, json_object_get(body, "licences"));
	*out = json_pack("{ss ss ss ss so}", "result", "presentation",
	    "reason", "licences shown by their holder / 持证人亮证", "checked_at",
	    now_s, "expires_at", exp, "certificates", certs);
	certs = NULL;
	if (*out == NULL)
		goto done;
	/* Every presentation shown is audited on the holder, which puts it in
	 * the holder's record (usage.c); the case reference is the key's hash
	 * (never the code), for the record to name the licences shown. */
	cs_hl_code_key('P', code, key);
	why.case_ref = key + 1;
	if ((rc = cs_audit_read(svc, who, "presentation_shown", holder, holder,
	    &why, (int64_t)json_array_size(json_object_get(*out,
	    "certificates")))) != 0)
		goto fail;
done:
	json_decref(body);
	return *out != NULL ? 0 : cs_err_set(CS_ENOMEM, "out of memory");
fail:
	json_decref(*out);
	*out = NULL;
	json_decref(body);
	return rc;
}

int
cs_presentation_qr_text(cs_service *svc, const cs_actor *who,
    const char *holder_in, const char *code, char **out)
{
	cs_problems p = CS_PROBLEMS_INIT;
	char holder[CS_USCC_LEN + 1], stored[CS_USCC_LEN + 1];
	json_t *body = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_hl_require_portal(who, "show a presentation")) != 0)
		return rc;
	rc = cs_hl_holder_code(holder_in, holder, &p, "code");
	cs_problems_reset(&p);
	if (rc != 0)
		return rc;
	if ((rc = load(svc, code, stored, &body)) != 0)
		return rc;
	if (strcmp(stored, holder) != 0)
		rc = cs_err_set(CS_ENOTFOUND, "no such presentation");
	else if (cs_now() >= (time_t)json_integer_value(json_object_get(body,
	    "expires_at")))
		rc = cs_err_set(CS_ENOTFOUND, "the presentation has expired");
	else if (asprintf(out, "%s/p/%s", svc->cfg.public_url, code) < 0) {
		*out = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	}
	json_decref(body);
	return rc;
}
