/*
 * keys: signing keys and the keyring (SPEC §4, §7); with keyfile.h (the key
 * directory) and jwks.h (the trust list), which it includes.
 *
 * Three algorithms, named by their COSE identifiers: ES256 (-7, P-256),
 * EdDSA (-8, Ed25519) and SM2 with SM3 (-65537, private use).  All through
 * OpenSSL 3 EVP.  The kid of a key is the first 8 bytes of SHA-256 over its
 * SubjectPublicKeyInfo DER.
 *
 * Key directory layout: one key per pair of PEM files,
 *   <stem>.key  PKCS#8 private key, mode 0600 (refused when group/other can
 *               read it)
 *   <stem>.pub  SubjectPublicKeyInfo public key
 *   <stem>.crt  the key's self-issued X.509 certificate (x509.h), mode
 *               0644; written by keygen, or at start for a signing key
 *               that has none (cs_keyring_ensure_certs)
 * with <stem> = <UTC time YYYYmmddTHHMMSSZ>-<alg lower-case>-<kid hex>, so the
 * newest key sorts last and signs; older keys verify only.  A .pub without
 * its .key is a verify-only key of another signer or a retired one.
 */
#ifndef CS_KEYS_H
#define CS_KEYS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CS_ALG_ES256 (-7)
#define CS_ALG_EDDSA (-8)
#define CS_ALG_SM2 (-65537)

#define CS_KID_LEN 8

/* The SM2 user ID both signer and verifier set (SPEC §4). */
#define CS_SM2_ID "1234567812345678"

typedef struct cs_key {
	EVP_PKEY *pkey;       /* owned */
	int alg;              /* CS_ALG_* */
	uint8_t kid[CS_KID_LEN];
	int has_private;      /* 1 when pkey holds the private half */
	time_t created;       /* from the file stem; 0 when unknown */
	int active;           /* 1 for the keyring's signing key */
	EVP_MD_CTX *verify_ctx; /* owned; set up once for alg by
				 * cs_cose_key_prepare and copied by each
				 * verification; NULL when not prepared */
	EVP_MD_CTX *sign_ctx;	/* owned; the same for signing, for a key
				 * with the private half; else NULL */
	X509 *cert;             /* owned; its certificate, NULL when none */
	char stem[80];          /* its file stem in the key directory; "" for
				 * a key not read from one */
} cs_key;

typedef struct cs_keyring {
	cs_key **keys;        /* owned, sorted oldest first */
	size_t n;
	cs_key *active;       /* borrowed from keys; NULL if no private key */
	struct cs_p11 *p11;   /* owned; the token the keys sign in (pkcs11.h),
			       * NULL for keys read from files */
} cs_keyring;

/* "ES256" | "EdDSA" | "SM2" (case-insensitive) <-> CS_ALG_*. */
int cs_alg_from_name(const char *name, int *alg);
const char *cs_alg_name(int alg);  /* "ES256", "EdDSA", "SM2"; NULL if unknown */

/* Generate a new key pair. */
int cs_key_generate(int alg, cs_key **out);
/* Load a public key from PEM (SubjectPublicKeyInfo or X.509 certificate),
 * or DER of either. */
int cs_key_load_public(const uint8_t *buf, size_t n, cs_key **out);
/* Wrap an EVP_PKEY (takes ownership on success) deducing alg and kid. */
int cs_key_from_pkey(EVP_PKEY *pkey, cs_key **out);
void cs_key_free(cs_key *key);

/* Find by kid; NULL when absent.  Borrowed. */
cs_key *cs_keyring_find(const cs_keyring *ring, const uint8_t *kid, size_t kidlen);
/* Add a key (takes ownership). */
int cs_keyring_add(cs_keyring *ring, cs_key *key);
void cs_keyring_free(cs_keyring *ring);
/* A copy of ring with the public halves only (no signing key): what
 * verifies while a token cannot be reached.  ring may be NULL (an empty
 * copy). */
int cs_keyring_public(const cs_keyring *ring, cs_keyring **out);

/* Key files and the key directory (keyfile.c), the trust list (jwks.c). */
#include "keyfile.h"
#include "jwks.h"

#endif
