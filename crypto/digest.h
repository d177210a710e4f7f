/*
 * digest: SHA-256 of bytes in one call.  certsvc hashes an API token on
 * every authenticated request, and holder codes, request texts, status
 * lists and public keys elsewhere; all of them come here.
 */
#ifndef CS_DIGEST_H
#define CS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define CS_SHA256_LEN 32

/* SHA-256 of the n bytes at p into out: 0, or CS_ECRYPTO (OpenSSL's
 * reason in the error message) and out unspecified. */
int cs_sha256(const void *p, size_t n, uint8_t out[CS_SHA256_LEN]);

#endif
