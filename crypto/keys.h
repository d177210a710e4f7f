/*
 * keys: signing keys, the key directory and the trust list (SPEC §4, §5, §7).
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
} cs_key;

typedef struct cs_keyring {
	cs_key **keys;        /* owned, sorted oldest first */
	size_t n;
	cs_key *active;       /* borrowed from keys; NULL if no private key */
} cs_keyring;

/* "ES256" | "EdDSA" | "SM2" (case-insensitive) <-> CS_ALG_*. */
int cs_alg_from_name(const char *name, int *alg);
const char *cs_alg_name(int alg);  /* "ES256", "EdDSA", "SM2"; NULL if unknown */

/* Generate a new key pair. */
int cs_key_generate(int alg, cs_key **out);
/* Write <dir>/<stem>.key (0600, created with O_EXCL) and <dir>/<stem>.pub;
 * creates dir (0700) when missing.  *stem_out (optional) gets the stem,
 * caller frees. */
int cs_key_save(const cs_key *key, const char *dir, char **stem_out);
/* Load a private key PEM; CS_EPERM when the file is readable by group or
 * others (the message names the file and its mode). */
int cs_key_load_private(const char *path, cs_key **out);
/* Load a public key from PEM (SubjectPublicKeyInfo or X.509 certificate),
 * or DER of either. */
int cs_key_load_public(const uint8_t *buf, size_t n, cs_key **out);
/* Wrap an EVP_PKEY (takes ownership on success) deducing alg and kid. */
int cs_key_from_pkey(EVP_PKEY *pkey, cs_key **out);
void cs_key_free(cs_key *key);

/* Load every key of a directory.  Fails on any unreadable or loose-mode
 * private key (CS_EPERM): the service refuses to start with one. */
int cs_keyring_load_dir(const char *dir, cs_keyring **out);
/* Find by kid; NULL when absent.  Borrowed. */
cs_key *cs_keyring_find(const cs_keyring *ring, const uint8_t *kid, size_t kidlen);
/* The trust list, a JWK Set (SPEC §5): {"keys": [{"kty", "crv", "x", "y"?,
 * "kid" (base64url), "alg", "use": "sig", "valid_from" (RFC 3339),
 * "status": "active" | "verify-only"}]}.  SM2 keys are kty "EC", crv "SM2".
 * Never carries private material.  *json_out: malloc'd, caller frees. */
int cs_keyring_to_jwks(const cs_keyring *ring, char **json_out);
/* Parse a JWK Set into a public-only keyring (what `certsvc verify
 * --trust-list` uses offline). */
int cs_keyring_from_jwks(const char *json, size_t n, cs_keyring **out);
/* Add a key (takes ownership). */
int cs_keyring_add(cs_keyring *ring, cs_key *key);
void cs_keyring_free(cs_keyring *ring);

#endif
