/*
 * cose_util: what test_cose.c and test_cbor_walk.c share: hex to bytes,
 * test keys of the three algorithms of SPEC §4 (made by hand around an
 * EVP_PKEY, prepared or not as prepare_keys says), a CBOR head writer and
 * the claims the round trips sign.  Include after check.h (gen_key
 * checks with CHECK).
 */
#ifndef CS_COSE_UTIL_H
#define CS_COSE_UTIL_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cose.h"
#include "encode.h"

/* The kid every test key carries (key_wrap). */
static const uint8_t test_kid[CS_KID_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
};

/* Hex (spaces allowed, for readability) to a malloc'd buffer. */
static inline uint8_t *
hx(const char *s, size_t *n)
{
	char *t = malloc(strlen(s) + 1);
	uint8_t *b = NULL;
	size_t i, j = 0;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] != ' ')
			t[j++] = s[i];
	if (cs_hex_decode(t, j, &b, n) != 0)
		b = NULL;
	free(t);
	return b;
}

/* A cs_key around pkey, with test_kid, unprepared. */
static inline cs_key *
key_wrap(EVP_PKEY *pkey, int alg, int has_private)
{
	cs_key *k = calloc(1, sizeof(*k));

	k->pkey = pkey;
	k->alg = alg;
	memcpy(k->kid, test_kid, CS_KID_LEN);
	k->has_private = has_private;
	return k;
}

static inline void
key_free(cs_key *k)
{
	if (k != NULL) {
		EVP_PKEY_free(k->pkey);
		EVP_MD_CTX_free(k->verify_ctx);
		EVP_MD_CTX_free(k->sign_ctx);
		free(k);
	}
}

/* Whether gen_key prepares its keys, as the keys module does, so that the
 * round trips run through both paths of cs_cose_sign1 and cs_cose_verify. */
static int prepare_keys;

static inline cs_key *
gen_key(int alg)
{
	EVP_PKEY *p = NULL;
	cs_key *k;

	if (alg == CS_ALG_ES256)
		p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (alg == CS_ALG_EDDSA)
		p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (alg == CS_ALG_SM2)
		p = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	CHECK(p != NULL);
	k = p != NULL ? key_wrap(p, alg, 1) : NULL;
	if (k != NULL && prepare_keys) {
		cs_cose_key_prepare(k);
		CHECK(k->verify_ctx != NULL && k->sign_ctx != NULL);
	}
	return k;
}

/* A CBOR head of major type major and argument v (v < 65536). */
static inline size_t
put_head(uint8_t *p, int major, uint64_t v)
{
	size_t n = 0;

	if (v < 24) {
		p[n++] = (uint8_t)(major << 5 | (int)v);
	} else if (v < 256) {
		p[n++] = (uint8_t)(major << 5 | 24);
		p[n++] = (uint8_t)v;
	} else {
		p[n++] = (uint8_t)(major << 5 | 25);
		p[n++] = (uint8_t)(v >> 8);
		p[n++] = (uint8_t)v;
	}
	return n;
}

/* A licence's CWT claims, as the payload the round trips sign. */
static const char claims[] = "\xa2\x01\x72" "91350100M000100Y43" "\x06\x1a"
    "\x68\x00\x00\x00";

#endif
