/*
 * issue_hash.c: the idempotency hashes of issuance and bundle requests,
 * which tell a replay of a request from a different one under the same
 * approval_ref.
 */
#include "issue_internal.h"

#include <string.h>

#include "cs_err.h"

/* The codes of a validated request written back into in (a copy) in the
 * form they were validated in. */
static void
normalise_codes(json_t *in, const struct req *r)
{
	json_t *issuer = json_object_get(in, "issuer");

	json_object_set_new(json_object_get(in, "holder"), "code",
	    json_string(r->code));
	if (json_is_object(issuer))
		json_object_set_new(issuer, "code",
		    json_string(r->grant->issuer_code));
}

/* 1 when the codes of validated request r are already written in in the
 * form they were validated in (the usual case: nothing to normalise). */
static int
codes_normal(const json_t *in, const struct req *r)
{
	const json_t *issuer = json_object_get(in, "issuer");
	const char *code = json_string_value(json_object_get(
	    json_object_get(in, "holder"), "code"));

	if (code == NULL || strcmp(code, r->code) != 0)
		return 0;
	if (!json_is_object(issuer))
		return 1;
	code = json_string_value(json_object_get(issuer, "code"));
	return code != NULL && strcmp(code, r->grant->issuer_code) == 0;
}

/* Both hashes of sent, given its normalised copy (taken), or NULL when
 * sent is normalised already: one hash then serves as both. */
static int
hash_both(json_t *normalised, const json_t *sent, struct request_hashes *h)
{
	int rc = cs_json_hash(sent, h->as_sent);

	if (rc == 0 && normalised == NULL)
		memcpy(h->normalised, h->as_sent, sizeof(h->normalised));
	else if (rc == 0)
		rc = cs_json_hash(normalised, h->normalised);
	json_decref(normalised);
	return rc;
}

/* The hashes of a validated issuance request r. */
int
cs_issue_hash_request(const json_t *in, const struct req *r, struct request_hashes *h)
{
	json_t *copy;

	if (codes_normal(in, r))
		return hash_both(NULL, in, h);
	if ((copy = json_deep_copy(in)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	normalise_codes(copy, r);
	return hash_both(copy, in, h);
}

/* The hashes of a validated bundle request, its members in reqs. */
int
cs_issue_hash_bundle(const json_t *in, const struct req *reqs, size_t n,
    struct request_hashes *h)
{
	const json_t *members = json_object_get(in, "certificates");
	json_t *copy;
	size_t i;

	for (i = 0; i < n && codes_normal(json_array_get(members, i), &reqs[i]); i++)
		;
	if (i == n)
		return hash_both(NULL, in, h);
	if ((copy = json_deep_copy(in)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		normalise_codes(json_array_get(json_object_get(copy,
		    "certificates"), i), &reqs[i]);
	return hash_both(copy, in, h);
}

int
cs_issue_same_request(const char *stored, const struct request_hashes *h)
{
	return stored != NULL && (strcmp(stored, h->normalised) == 0 ||
	    strcmp(stored, h->as_sent) == 0);
}
