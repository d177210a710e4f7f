/*
 * issue_bundle.c: bundles ("一件事", SPEC §1): several licences issued
 * under one approval_ref in one transaction, each naming the others.
 */
#include "issue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "timeutil.h"

static int
bundle_id(char out[32])
{
	char serial[BUNDLE_RANDOM_LEN + 1];
	int rc;

	if ((rc = cs_issue_random_serial(serial)) != 0)
		return rc;
	snprintf(out, 32, "B%s", serial);
	return 0;
}

/* A bundle as its answers show it, from its member rows; ref NULL: the
 * members' approval_ref. */
static int
bundle_json(cs_service *svc, const char *id, const char *ref,
    cs_licence_row **rows, size_t n, json_t **out)
{
	json_t *certs = json_array();
	size_t i;
	int rc = 0;

	*out = NULL;
	for (i = 0; i < n && rc == 0; i++) {
		json_t *v = NULL;
		if ((rc = cs_licence_view(svc, rows[i], cs_now(), &v, NULL)) == 0)
			json_array_append_new(certs, v);
	}
	/* Read back by id, the bundle's approval_ref is its members' (the
	 * rows keep it in the signed record only). */
	if (ref == NULL)
		ref = json_string_value(json_object_get(json_array_get(certs, 0),
		    "approval_ref"));
	if (rc == 0 && (*out = json_pack("{ss ss sO}", "id", id, "approval_ref", ref,
	    "certificates", certs)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	json_decref(certs);
	return rc;
}

/* The response of a bundle: its licences, each naming the others. */
static int
bundle_response(cs_service *svc, const char *id, const char *ref, json_t **out)
{
	cs_licence_row **rows = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_store_licences_by_bundle(svc->store, id, &rows, &n)) == 0)
		rc = bundle_json(svc, id, ref, rows, n, out);
	cs_licence_rows_free(rows, n);
	return rc;
}

/* 'B' and BUNDLE_RANDOM_LEN characters of 0-9 A-Z (bundle_id()). */
static int
check_bundle_id(const char *id)
{
	if (id[0] == 'B' && strlen(id) == BUNDLE_RANDOM_LEN + 1 &&
	    strspn(id + 1, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
	    BUNDLE_RANDOM_LEN)
		return 0;
	return cs_err_set(CS_EINVAL, "a bundle id is 'B' and %d characters of "
	    "0-9 and A-Z", BUNDLE_RANDOM_LEN);
}

int
cs_bundle_read(cs_service *svc, const cs_actor *who, const char *id,
    json_t **out)
{
	cs_licence_row **rows = NULL;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = check_bundle_id(id)) != 0 ||
	    (rc = cs_store_licences_by_bundle(svc->store, id, &rows, &n)) != 0)
		goto out;
	if (n == 0) {
		rc = cs_err_set(CS_ENOTFOUND, "no bundle %s", id);
		goto out;
	}
	/* A bundle is read whole or not at all: its members name each
	 * other, so a reader granted one of its types would see the other's
	 * id anyway. */
	for (i = 0; i < n && rc == 0; i++)
		rc = cs_authorize_id(svc, who, rows[i]->id, "read");
	if (rc == 0)
		rc = bundle_json(svc, id, NULL, rows, n, out);
	for (i = 0; i < n && rc == 0; i++)
		rc = cs_audit_read(svc, who, "read", rows[i]->id,
		    rows[i]->holder_code, NULL, 1);
out:
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	cs_licence_rows_free(rows, n);
	return rc;
}

/* A bundle issues one licence of a type to a holder: a second member of
 * the same type for the same holder code (normalised) is a 422 naming it,
 * whatever else differs, rather than two licences the holder cannot tell
 * apart by anything but their numbers. */
static int
same_licence(const struct req *a, const struct req *b)
{
	return a->type != NULL && a->type == b->type && a->code_type != NULL &&
	    b->code_type != NULL && a->code[0] != '\0' &&
	    strcmp(a->code_type, b->code_type) == 0 && strcmp(a->code, b->code) == 0;
}

static void
repeated_members(const struct req *reqs, size_t n, cs_problems *p)
{
	char f[64];
	size_t i, j;

	for (j = 1; j < n; j++)
		for (i = 0; i < j; i++)
			if (same_licence(&reqs[i], &reqs[j])) {
				snprintf(f, sizeof(f), "certificates.%zu", j);
				cs_problems_addc(p, f, CS_FC_DUPLICATE, "is a second %s for the holder "
				    "of certificates.%zu: a bundle issues one "
				    "licence of a type to a holder", reqs[j].type->name, i);
				break;
			}
}

static int
parse_bundle(cs_service *svc, const cs_actor *who, const json_t *in,
    struct req **reqs, size_t *n, const char **ref, cs_problems *p)
{
	static const char *const members[] = {"approval_ref", "certificates", NULL};
	const json_t *certs = json_object_get(in, "certificates");
	char prefix[64];
	size_t i;
	int rc = 0, one;

	*reqs = NULL;
	*n = 0;
	if (cs_require_issuer(who->client, "issue licences") != 0)
		return cs_audit_denied(svc, who, "issue_bundle", "", NULL);
	if (!json_is_object(in))
		return cs_err_set(CS_EINVAL, "a bundle request must be a JSON object");
	cs_issue_unknown_members(in, members, "", p);
	*ref = cs_issue_text_member(in, "approval_ref", 1, 128, "", p);
	if (!json_is_array(certs) || json_array_size(certs) < 2 ||
	    json_array_size(certs) > 16) {
		cs_problems_addc(p, "certificates", CS_FC_TYPE, "must be an array of 2 to 16 "
		    "issuance requests");
		return CS_EVALIDATION;
	}
	if ((*reqs = calloc(json_array_size(certs), sizeof(**reqs))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	*n = json_array_size(certs);
	for (i = 0; i < *n; i++) {
		snprintf(prefix, sizeof(prefix), "certificates.%zu", i);
		one = cs_issue_parse_request(svc, who, json_array_get(certs, i), prefix,
		    *ref ? *ref : "-", &(*reqs)[i], p);
		if (one == CS_EFORBIDDEN) {
			/* The members before this one were validated: their
			 * problems are no part of a 403. */
			cs_problems_reset(p);
			return cs_issue_deny(svc, who, "issue_bundle", &(*reqs)[i]);
		}
		if (one != 0)
			rc = one;
	}
	repeated_members(*reqs, *n, p);
	return p->n > 0 ? CS_EVALIDATION : rc;
}

int
cs_issue_bundle(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **out, int *created, cs_problems *p)
{
	cs_store *st = svc->store;
	struct req *reqs = NULL;
	struct placement pl = {NULL, NULL, NULL, 1, NULL, NULL};
	cs_bundle_row b, *old = NULL;
	const char *ref = NULL;
	struct request_hashes hash;
	char id[32];
	json_t *rec = NULL;
	size_t i, n = 0;
	int rc, in_tx = 0;

	*out = NULL;
	*created = 0;
	if ((rc = parse_bundle(svc, who, request, &reqs, &n, &ref, p)) != 0 ||
	    (rc = cs_issue_hash_bundle(request, reqs, n, &hash)) != 0 ||
	    (rc = bundle_id(id)) != 0)
		goto out;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	in_tx = 1;
	rc = cs_store_bundle_by_ref(st, who->client->name, ref, &old);
	if (rc == 0) {
		if (!cs_issue_same_request(old->request_hash, &hash))
			rc = cs_err_setc(CS_ECONFLICT,
			    CS_CAUSE_APPROVAL_REF_CONFLICT, "approval_ref '%s' was already used "
			    "by this client for a different bundle (%s)", ref, old->id);
		else
			rc = bundle_response(svc, old->id, ref, out);
		goto out;
	}
	if (rc != CS_ENOTFOUND)
		goto out;
	memset(&b, 0, sizeof(b));
	b.id = id;
	b.client = who->client->name;
	b.approval_ref = (char *)ref;
	b.request_hash = hash.normalised;
	b.created_at = (int64_t)cs_now();
	if ((rc = cs_store_bundle_put(st, &b)) != 0)
		goto out;
	pl.bundle = id;
	pl.hash = &hash;
	for (i = 0; i < n && rc == 0; i++) {
		rc = cs_issue_locked(svc, who, &reqs[i], &pl, &rec, NULL, p);
		json_decref(rec);
		rec = NULL;
	}
	if (rc == 0)
		rc = cs_audit(svc, who, "issue_bundle", id, NULL, NULL, (int64_t)n);
	if (rc != 0 || (rc = cs_store_commit(st)) != 0)
		goto out;
	in_tx = 0;
	*created = 1;
	rc = bundle_response(svc, id, ref, out);
out:
	if (in_tx)
		cs_store_rollback(st);
	for (i = 0; i < n; i++)
		cs_issue_req_reset(&reqs[i]);
	free(reqs);
	cs_bundle_row_free(old);
	return rc;
}
