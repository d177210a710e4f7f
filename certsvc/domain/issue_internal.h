/*
 * issue_internal: what the files of issuance share (issue.c: one licence
 * created, signed and stored, and single issuances; issue_request.c: an
 * issuance request validated; issue_hash.c: the idempotency hashes;
 * issue_bundle.c: bundles; issue_amend.c: amendments).  Not for use
 * outside those files.
 */
#ifndef CS_ISSUE_INTERNAL_H
#define CS_ISSUE_INTERNAL_H

/* Private to certsvc/domain: its library is built with CS_LAYER_DOMAIN;
 * anyone else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_DOMAIN
#error "issue_internal.h is private to certsvc/domain: include service.h"
#endif

#include "codes.h"
#include "service_internal.h"

/* A validated issuance request; strings borrowed from the request JSON. */
struct req {
	const cs_type *type;
	const char *approval_ref;
	const char *holder_name;
	const char *code_type;
	char code[CS_RID_LEN + 1];
	int unchecked;
	const cs_grant *grant;
	char issuer_asked[CS_USCC_LEN + 1];  /* issuer.code, "" when none */
	int64_t valid_from;   /* local days */
	int64_t valid_until;  /* local days; -1 when none */
	const char *number;   /* NULL: from the numbering rule */
	char number_field[48];  /* its path in the request: "number",
	                         * "certificates.1.number" */
	json_t *fields;       /* owned reference: cs_issue_req_reset() drops it */
};

/* Drop what a validated request owns (its fields). */
void cs_issue_req_reset(struct req *r);

/* "prefix.name", or "name" when prefix is "", into buf (size n). */
const char *cs_issue_path(char *buf, size_t n, const char *prefix,
    const char *name);
/* A problem under prefix for each member of obj not in allowed (NULL
 * ended). */
void cs_issue_unknown_members(const json_t *obj, const char *const *allowed,
    const char *prefix, cs_problems *p);
/* A required or optional text member of 1..max characters, or NULL (a
 * problem added when it is there but wrong, or required and missing). */
const char *cs_issue_text_member(const json_t *obj, const char *name,
    int required, size_t max, const char *prefix, cs_problems *p);
/* Validate one issuance request into r (issue_request.c says how). */
int cs_issue_parse_request(cs_service *svc, const cs_actor *who,
    const json_t *in, const char *prefix, const char *bundle_ref,
    struct req *r, cs_problems *p);

/*
 * The idempotency hashes of a request (SHA-256 over JSON with sorted keys,
 * hex).  A replay is the same request when it is the same after the
 * normalisation validation applies (codes in upper case, SPEC §2), so the
 * hash stored is of the normalised request.  Licences stored before held
 * the hash of the request as sent: a replay matching that is the same
 * request too.
 */
struct request_hashes {
	char normalised[65];  /* stored */
	char as_sent[65];     /* compared only */
};

/* The hashes of a validated issuance request r. */
int cs_issue_hash_request(const json_t *in, const struct req *r,
    struct request_hashes *h);
/* The hashes of a validated bundle request, its members in reqs. */
int cs_issue_hash_bundle(const json_t *in, const struct req *reqs, size_t n,
    struct request_hashes *h);
/* 1 when the stored hash is either hash of h. */
int cs_issue_same_request(const char *stored, const struct request_hashes *h);

/* What one licence needs beyond its request when it is created. */
struct placement {
	const char *bundle;      /* bundle id or NULL */
	const char *supersedes;  /* old id or NULL */
	const char *serial;      /* the old serial for an amendment, else NULL */
	int version;             /* 1, or the amendment's */
	const struct request_hashes *hash;
	const char *ref_key;     /* (client, ref) key stored; NULL for bundle members */
};

/* A bundle's id: "B" and 8 random characters of 0-9A-Z (41 bits).  A
 * bundle id is in no QR code, so it can afford to be unguessable. */
#define BUNDLE_RANDOM_LEN 8

/* The random characters of a bundle's id. */
int cs_issue_random_serial(char out[BUNDLE_RANDOM_LEN + 1]);
/* Create, sign and store one licence inside the caller's transaction. */
int cs_issue_locked(cs_service *svc, const cs_actor *who, const struct req *r,
    const struct placement *pl, json_t **out, char **text_out, cs_problems *p);
/* The existing licence for (client, ref): a replay of the same request
 * (0), a conflict, or CS_ENOTFOUND. */
int cs_issue_find_existing(cs_service *svc, const cs_actor *who,
    const char *ref, const struct request_hashes *hash, json_t **out,
    char **text);
/* An issuance refused (403), audited under action. */
int cs_issue_deny(cs_service *svc, const cs_actor *who, const char *action,
    const struct req *r);

#endif
