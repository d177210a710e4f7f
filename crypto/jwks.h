/*
 * jwks: the trust list (SPEC §5), a keyring as a JWK Set and back.
 */
#ifndef CS_JWKS_H
#define CS_JWKS_H

#include <stddef.h>

#include "keys.h"

/* The trust list, a JWK Set (SPEC §5): {"keys": [{"kty", "crv", "x", "y"?,
 * "kid" (base64url), "alg", "use": "sig", "valid_from" (RFC 3339),
 * "status": "active" | "verify-only"}]}.  SM2 keys are kty "EC", crv "SM2".
 * Never carries private material.  *json_out: malloc'd, caller frees. */
int cs_keyring_to_jwks(const cs_keyring *ring, char **json_out);
/* Parse a JWK Set into a public-only keyring (what `certsvc verify
 * --trust-list` uses offline). */
int cs_keyring_from_jwks(const char *json, size_t n, cs_keyring **out);

#endif
