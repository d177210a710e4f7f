/*
 * cose: COSE_Sign1 (RFC 9052) signing and verification on libcbor.
 *
 * Signing makes exactly the form of SPEC §4: tag 18, protected header
 * {1: alg, 4: kid}, empty unprotected header, signature over
 * ["Signature1", protected, h'', payload].  ECDSA and SM2 signatures are the
 * raw 64-byte r||s (converted from/to OpenSSL's DER here).
 *
 * Parsing is strict and bounded: input up to CS_ZLIB_MAX_OUT bytes, CBOR
 * nested at most CS_COSE_MAX_DEPTH levels (checked before anything is built),
 * tag 18 required, optionally preceded by the CWT tag 61; no trailing bytes;
 * definite or indefinite lengths as CBOR allows.
 */
#ifndef CS_COSE_H
#define CS_COSE_H

#include <stddef.h>
#include <stdint.h>

#include "cbor_walk.h" /* cs_cbor_check, cs_cbor_diag, CS_COSE_MAX_DEPTH */
#include "keys.h"

/* The longest DER ECDSA-Sig-Value of a 64-byte r||s: SEQUENCE of two
 * INTEGERs of up to 33 bytes each (a 0x00 before a high bit). */
#define CS_COSE_DER_SIG_MAX 72

typedef struct cs_cose_msg {
	int alg;                 /* label 1, protected (else unprotected); 0 when absent */
	uint8_t kid[64];         /* label 4, from protected or unprotected */
	size_t kid_len;          /* 0 when absent */
	int kid_unprotected;     /* 1 when the kid came from the unprotected map */
	int cwt_tag;             /* 1 when tag 61 preceded tag 18 */
	uint8_t *protected_raw;  /* the protected bstr's content (may be empty) */
	size_t protected_len;
	uint8_t *payload;        /* owned */
	size_t payload_len;
	uint8_t *sig;            /* owned */
	size_t sig_len;
} cs_cose_msg;

/* Sign payload with key (must hold the private half) in the SPEC §4 form. */
int cs_cose_sign1(const cs_key *key, const uint8_t *payload, size_t n,
    uint8_t **out, size_t *outlen);

/* The general form, for test vectors: the caller gives the encoded protected
 * header bytes (the bstr content) and the encoded unprotected map
 * (NULL means an empty map). */
int cs_cose_sign1_raw(EVP_PKEY *pkey, int alg, const uint8_t *prot,
    size_t prot_len, const uint8_t *unprot_map, size_t unprot_len,
    const uint8_t *payload, size_t n, uint8_t **out, size_t *outlen);

/* Decode a COSE_Sign1 message.  CS_EINVAL (with the reason) for anything
 * malformed: wrong or missing tag, wrong array shape, nesting too deep,
 * trailing bytes, unexpected types.  An alg this module does not implement
 * is NOT an error here (parse succeeds); cs_cose_verify reports it. */
int cs_cose_parse(const uint8_t *buf, size_t n, cs_cose_msg **out);

/* The same for a message of up to max bytes (a status list, SPEC §11,
 * is larger than any token). */
int cs_cose_parse_max(const uint8_t *buf, size_t n, size_t max,
    cs_cose_msg **out);

/* The Sig_structure bytes ["Signature1", protected, h'', payload]. */
int cs_cose_sig_structure(const cs_cose_msg *msg, uint8_t **out, size_t *outlen);

/* Verify with key.  CS_EUNSUPPORTED for an alg outside ES256/EdDSA/SM2 (the
 * message names it: "unsupported algorithm ES384 (-35)"), CS_EINVAL when
 * the alg does not match the key's type or curve, CS_ESIGNATURE when the
 * signature does not verify. */
int cs_cose_verify(const cs_cose_msg *msg, const cs_key *key);

void cs_cose_msg_free(cs_cose_msg *msg);

/* Do once, for a key that will sign or verify many messages, what every
 * cs_cose_sign1 and cs_cose_verify with it would otherwise repeat: check
 * the key against its alg and set up a digest context for it to verify
 * (key->verify_ctx) and, when it holds the private half, to sign
 * (key->sign_ctx); cs_key_free frees both.  The keys module calls this
 * for every key it makes.  Best effort: a key it cannot prepare stays as
 * it was, and each signature or verification then does the work, and
 * reports any failure, itself. */
void cs_cose_key_prepare(cs_key *key);

/* The DER ECDSA-Sig-Value (what OpenSSL verifies) of a COSE signature's
 * raw r||s: each 32-byte scalar as the shortest INTEGER.  Returns the
 * length written to der. */
size_t cs_cose_ecdsa_der(const uint8_t rs[64], uint8_t der[CS_COSE_DER_SIG_MAX]);

/* The raw r||s of a COSE signature from a DER ECDSA-Sig-Value (what OpenSSL
 * signs): exactly a SEQUENCE of two positive INTEGERs in their shortest
 * form, each at most 32 bytes without a leading 0x00, and nothing after.
 * CS_ECRYPTO for anything else; rs is then undefined. */
int cs_cose_ecdsa_rs(const uint8_t *der, size_t len, uint8_t rs[64]);

#endif
