/*
 * cose: COSE_Sign1 (RFC 9052) on libcbor 0.8 and OpenSSL 3 EVP.
 *
 * Untrusted bytes meet this file first, so nothing is built before the
 * bounded, allocation-free walker (cbor_walk.c, cs_cbor_check) has proved
 * the input is one complete, well-formed CBOR item, nested no deeper than
 * the limit, whose declared lengths all fit in the input.  Only then does
 * cbor_load build a tree, and every allocation it makes is bounded by the
 * input size.
 *
 * libcbor 0.8 refuses the one-byte tag heads 0xc6-0xd4 ("unassigned" in its
 * tables), and 0xd2 is tag 18, COSE_Sign1 itself.  The walker therefore
 * decodes those heads by hand, and cs_cose_parse strips the outer tags
 * itself before handing the array to cbor_load.
 *
 * Encoding needs only a handful of definite-length heads, written here
 * directly in their shortest form (RFC 8949 §4.2.1), so the bytes signed
 * and sent are canonical by construction.
 */
#include "cose.h"

#include <cbor.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_walk.h"
#include "cs_err.h"
#include "encode.h"
#include "sbuf.h"

/* Raw r||s of ES256 and SM2, and an Ed25519 signature: all 64 bytes. */
#define COSE_SIG_LEN 64
#define COSE_EC_SCALAR_LEN 32


#define COSE_TAG_SIGN1 18
#define COSE_TAG_CWT 61

#define COSE_LABEL_ALG 1
#define COSE_LABEL_CRIT 2
#define COSE_LABEL_KID 4

static const char *
alg_name(int alg)
{
	const char *name = NULL;

	switch (alg) {
	case CS_ALG_ES256:
		name = "ES256";
		break;
	case CS_ALG_EDDSA:
		name = "EdDSA";
		break;
	case CS_ALG_SM2:
		name = "SM2";
		break;
	case -35:
		name = "ES384";
		break;
	case -36:
		name = "ES512";
		break;
	case -37:
		name = "PS256";
		break;
	case -38:
		name = "PS384";
		break;
	case -39:
		name = "PS512";
		break;
	case -47:
		name = "ES256K";
		break;
	case -257:
		name = "RS256";
		break;
	case -258:
		name = "RS384";
		break;
	case -259:
		name = "RS512";
		break;
	}
	return name;
}

/* 0 for the three algorithms of SPEC §4; CS_EUNSUPPORTED naming any
 * other. */
static int
check_alg(int alg)
{
	const char *name = alg_name(alg);
	int rc = 0;

	if (alg == 0)
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: no algorithm (header "
		    "label 1)");
	else if (alg != CS_ALG_ES256 && alg != CS_ALG_EDDSA &&
	    alg != CS_ALG_SM2 && name != NULL)
		rc = cs_err_set(CS_EUNSUPPORTED, "unsupported algorithm %s "
		    "(%d)", name, alg);
	else if (name == NULL)
		rc = cs_err_set(CS_EUNSUPPORTED, "unsupported algorithm %d",
		    alg);
	return rc;
}

static void
key_desc(EVP_PKEY *pkey, char *desc, size_t len)
{
	const char *type = EVP_PKEY_get0_type_name(pkey);
	char group[64] = "";
	size_t glen = 0;

	if (type != NULL && strcmp(type, "EC") == 0 &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &glen) == 1)
		snprintf(desc, len, "EC key on %s", group);
	else
		snprintf(desc, len, "%s key", type != NULL ? type : "unknown");
	ERR_clear_error();
}

/*
 * The key must be of the one kind the algorithm names: an ES256 signature
 * checked with a P-384 key, or SM2 with an EC key on the SM2 curve (which
 * OpenSSL would happily use for plain ECDSA), is refused, not tried.
 */
static int
key_fits(EVP_PKEY *pkey, int alg)
{
	char group[64] = "";
	size_t glen = 0;
	int ok = 0;

	if (alg == CS_ALG_ES256)
		ok = EVP_PKEY_is_a(pkey, "EC") &&
		    EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    &glen) == 1 && (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0);
	else if (alg == CS_ALG_EDDSA)
		ok = EVP_PKEY_is_a(pkey, "ED25519");
	else if (alg == CS_ALG_SM2)
		ok = EVP_PKEY_is_a(pkey, "SM2");
	ERR_clear_error();
	return ok;
}

/* key_fits, saying why not.  EdDSA with Ed448 is a real COSE combination
 * this service does not do. */
static int
check_key(EVP_PKEY *pkey, int alg)
{
	char desc[96];
	int rc = 0;

	if (alg == CS_ALG_EDDSA && EVP_PKEY_is_a(pkey, "ED448")) {
		rc = cs_err_set(CS_EUNSUPPORTED, "unsupported algorithm EdDSA "
		    "with Ed448 (-8)");
		goto out;
	}
	if (!key_fits(pkey, alg)) {
		key_desc(pkey, desc, sizeof(desc));
		rc = cs_err_set(CS_EINVAL, "algorithm %s does not match the "
		    "key (%s)", alg_name(alg) ? alg_name(alg) : "?", desc);
	}
out:
	ERR_clear_error();
	return rc;
}

/*
 * A protected header that is an empty map enters the Sig_structure as the
 * zero-length byte string: RFC 9052 §3 has recipients accept h'a0' for
 * "no protected header", and the zero-length form is "the version used in
 * the serialization structures for cryptographic computation" (the COSE WG
 * sign-pass-01 example is signed that way).
 */
static int
sig_structure(const uint8_t *prot, size_t plen, const uint8_t *payload,
    size_t n, uint8_t **out, size_t *outlen)
{
	cs_sbuf b = CS_SBUF_INIT;
	int rc = 0;

	if ((plen == 1 && prot[0] == 0xa0) ||
	    (plen == 2 && prot[0] == 0xbf && prot[1] == 0xff))
		plen = 0;
	cs_cbor_head(&b, CBOR_MAJOR_ARRAY, 4);
	cs_cbor_head(&b, CBOR_MAJOR_TSTR, 10);
	cs_sb_add(&b, "Signature1", 10);
	cs_cbor_bstr(&b, prot, plen);
	cs_cbor_bstr(&b, NULL, 0);
	cs_cbor_bstr(&b, payload, n);
	if (b.failed) {
		rc = cs_err_set(CS_ENOMEM, "COSE: out of memory");
		goto out;
	}
	*out = (uint8_t *)b.p;
	*outlen = b.len;
	b.p = NULL;
out:
	free(b.p);
	return rc;
}

/* EVP_DigestSign/Verify set up for alg: SHA-256 for ES256, none (one-shot)
 * for Ed25519, SM3 with the SPEC §4 user ID for SM2.  The ID goes on the
 * context DigestSignInit made, on both sides: OpenSSL's default is empty,
 * and signatures made under one ID fail under the other. */
static int
md_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, int alg, int verify)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	int rc = 0, ok;

	if (alg == CS_ALG_ES256)
		md = EVP_sha256();
	else if (alg == CS_ALG_SM2)
		md = EVP_sm3();
	if (verify)
		ok = EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey);
	else
		ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, pkey);
	if (ok != 1) {
		rc = cs_err_openssl(verify ? "COSE: EVP_DigestVerifyInit" :
		    "COSE: EVP_DigestSignInit");
		goto out;
	}
	if (alg == CS_ALG_SM2 && EVP_PKEY_CTX_set1_id(pctx, CS_SM2_ID,
	    strlen(CS_SM2_ID)) <= 0)
		rc = cs_err_openssl("COSE: setting the SM2 user ID");
out:
	return rc;
}

/* One INTEGER of an ECDSA-Sig-Value from a 32-byte big-endian scalar, in
 * its shortest two's-complement form (X.690 §8.3.2): leading zero bytes go
 * (zero itself keeps one), and a 0x00 goes before a first byte whose high
 * bit is set, which would otherwise read as negative. */
static size_t
der_integer(const uint8_t *v, uint8_t *out)
{
	size_t i = 0, n, pad;

	while (i < COSE_EC_SCALAR_LEN - 1 && v[i] == 0)
		i++;
	n = COSE_EC_SCALAR_LEN - i;
	pad = v[i] >> 7;
	out[0] = 0x02;
	out[1] = (uint8_t)(pad + n);
	out[2] = 0x00;
	memcpy(out + 2 + pad, v + i, n);
	return 2 + pad + n;
}

/* Written by hand rather than through ECDSA_SIG, two BIGNUMs and i2d: the
 * form is fixed and short (every length fits one byte), and verification
 * runs on every scan. */
size_t
cs_cose_ecdsa_der(const uint8_t rs[COSE_SIG_LEN],
    uint8_t der[CS_COSE_DER_SIG_MAX])
{
	size_t n = 2;

	n += der_integer(rs, der + n);
	n += der_integer(rs + COSE_EC_SCALAR_LEN, der + n);
	der[0] = 0x30;
	der[1] = (uint8_t)(n - 2);
	return n;
}

/*
 * der_integer backwards: the INTEGER at the start of the n bytes at p into
 * a 32-byte big-endian scalar.  Only what a signer can mean is taken: r
 * and s lie in [1, order - 1], so the value must be positive (not zero, no
 * high bit first) and in its shortest form (a 0x00 only before a high
 * bit), at most 32 bytes without that 0x00.  Returns the bytes the INTEGER
 * takes, 0 when it is none of that.
 */
static size_t
der_scalar(const uint8_t *p, size_t n, uint8_t v[COSE_EC_SCALAR_LEN])
{
	size_t len, lead, used = 0;

	if (n < 3 || p[0] != 0x02 || p[1] == 0 || p[1] > n - 2)
		goto out;
	len = p[1];
	lead = p[2] == 0x00;
	if ((p[2] & 0x80) != 0 || (lead && (len == 1 || (p[3] & 0x80) == 0)) ||
	    len - lead > COSE_EC_SCALAR_LEN)
		goto out;
	memset(v, 0, COSE_EC_SCALAR_LEN - (len - lead));
	memcpy(v + COSE_EC_SCALAR_LEN - (len - lead), p + 2 + lead,
	    len - lead);
	used = 2 + len;
out:
	return used;
}

/* Read by hand rather than through d2i_ECDSA_SIG and two BIGNUMs, for the
 * same reason as cs_cose_ecdsa_der: every issuance signs. */
int
cs_cose_ecdsa_rs(const uint8_t *der, size_t len, uint8_t rs[COSE_SIG_LEN])
{
	size_t r = 0, s = 0;
	int rc = 0;

	if (der != NULL && len >= 2 && der[0] == 0x30 && der[1] < 0x80 &&
	    der[1] == len - 2 &&
	    (r = der_scalar(der + 2, len - 2, rs)) > 0)
		s = der_scalar(der + 2 + r, len - 2 - r, rs + COSE_EC_SCALAR_LEN);
	if (s == 0 || 2 + r + s != len)
		rc = cs_err_set(CS_ECRYPTO, "COSE: the DER signature is not two "
		    "positive INTEGERs of at most 32 bytes");
	return rc;
}

/* A context set up afresh for alg (md_init); *out is left alone on
 * failure. */
static int
ctx_new(EVP_PKEY *pkey, int alg, int verify, EVP_MD_CTX **out)
{
	EVP_MD_CTX *mctx = NULL;
	int rc;

	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "COSE: out of memory");
		goto out;
	}
	if ((rc = md_init(mctx, pkey, alg, verify)) != 0)
		goto out;
	*out = mctx;
	mctx = NULL;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* Signing needs the private half, so only such keys get a sign context;
 * verification any key. */
void
cs_cose_key_prepare(cs_key *key)
{
	if (key == NULL || key->pkey == NULL || !key_fits(key->pkey, key->alg))
		goto out;
	if (key->verify_ctx == NULL)
		(void)ctx_new(key->pkey, key->alg, 1, &key->verify_ctx);
	if (key->sign_ctx == NULL && key->has_private)
		(void)ctx_new(key->pkey, key->alg, 0, &key->sign_ctx);
out:
	ERR_clear_error();
}

/* key's prepared context for signing (or verifying) alg signatures, or
 * NULL: a key made elsewhere, or one asked to use another alg.  A key with
 * one passed key_fits for its alg when it was prepared. */
static const EVP_MD_CTX *
prepared(const cs_key *key, int alg, int verify)
{
	const EVP_MD_CTX *p = verify ? key->verify_ctx : key->sign_ctx;

	return key->alg == alg ? p : NULL;
}

/*
 * A context ready to make or check one alg signature with key: a copy of
 * the prepared one when there is one (an EVP_DigestSignInit or
 * EVP_DigestVerifyInit costs about 25 times as much as the copy), else set
 * up afresh.  The copy only reads the prepared context, so threads signing
 * or verifying with one key at once share it safely.  One signature per
 * context, so OpenSSL may finalise it in place instead of duplicating it
 * first.
 */
static int
op_ctx(const cs_key *key, int alg, int verify, EVP_MD_CTX **out)
{
	const EVP_MD_CTX *prep = prepared(key, alg, verify);
	EVP_MD_CTX *mctx = NULL;
	int rc = 0;

	if (prep == NULL)
		rc = ctx_new(key->pkey, alg, verify, &mctx);
	else if ((mctx = EVP_MD_CTX_new()) == NULL)
		rc = cs_err_set(CS_ENOMEM, "COSE: out of memory");
	else if (EVP_MD_CTX_copy_ex(mctx, prep) != 1)
		rc = cs_err_openssl(verify ? "COSE: copying the verify context" :
		    "COSE: copying the sign context");
	if (rc != 0)
		goto out;
	EVP_MD_CTX_set_flags(mctx, EVP_MD_CTX_FLAG_FINALISE);
	*out = mctx;
	mctx = NULL;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* Sign tbs into the 64-byte COSE form: for ECDSA and SM2, OpenSSL's DER
 * ECDSA-Sig-Value becomes r||s. */
static int
pkey_sign(const cs_key *key, int alg, const uint8_t *tbs, size_t tlen,
    uint8_t sig[COSE_SIG_LEN])
{
	EVP_MD_CTX *mctx = NULL;
	uint8_t der[CS_COSE_DER_SIG_MAX];
	size_t dlen = sizeof(der);
	int rc;

	if ((rc = op_ctx(key, alg, 0, &mctx)) != 0)
		goto out;
	if (EVP_DigestSign(mctx, der, &dlen, tbs, tlen) != 1)
		rc = cs_err_openssl("COSE: signing");
	else if (alg != CS_ALG_EDDSA)
		rc = cs_cose_ecdsa_rs(der, dlen, sig);
	else if (dlen == COSE_SIG_LEN)
		memcpy(sig, der, COSE_SIG_LEN);
	else
		rc = cs_err_set(CS_ECRYPTO, "COSE: Ed25519 signature of %zu "
		    "bytes", dlen);
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* Check a 64-byte COSE signature over tbs; raw r||s back to DER first for
 * ECDSA and SM2. */
static int
pkey_verify(const cs_key *key, int alg, const uint8_t *tbs, size_t tlen,
    const uint8_t *sig)
{
	EVP_MD_CTX *mctx = NULL;
	uint8_t der[CS_COSE_DER_SIG_MAX];
	const uint8_t *vsig = sig;
	size_t vlen = COSE_SIG_LEN;
	int rc;

	if (alg != CS_ALG_EDDSA) {
		vlen = cs_cose_ecdsa_der(sig, der);
		vsig = der;
	}
	if ((rc = op_ctx(key, alg, 1, &mctx)) != 0)
		goto out;
	if (EVP_DigestVerify(mctx, vsig, vlen, tbs, tlen) != 1) {
		ERR_clear_error();
		rc = cs_err_set(CS_ESIGNATURE, "COSE_Sign1: the %s signature "
		    "does not verify", alg_name(alg));
	}
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* An encoded header map handed in by a caller: one well-formed map. */
static int
check_map_bytes(const uint8_t *d, size_t n, const char *what)
{
	int rc;

	if ((rc = cs_cbor_check(d, n, CS_COSE_MAX_DEPTH)) != 0)
		cs_err_wrap(rc, "COSE: %s: ", what);
	else if (d[0] >> 5 != CBOR_MAJOR_MAP)
		rc = cs_err_set(CS_EINVAL, "COSE: %s is not a map", what);
	return rc;
}

/* cs_cose_sign1_raw with key's pkey and alg.  A prepared key passed
 * check_key when it was prepared, so only other keys are checked here. */
static int
sign1(const cs_key *key, const uint8_t *prot, size_t prot_len,
    const uint8_t *unprot_map, size_t unprot_len, const uint8_t *payload,
    size_t n, uint8_t **out, size_t *outlen)
{
	static const uint8_t empty_map = 0xa0;
	cs_sbuf b = CS_SBUF_INIT;
	uint8_t *tbs = NULL, sig[COSE_SIG_LEN];
	size_t tlen = 0;
	int rc, alg = key->alg;

	if (key->pkey == NULL || out == NULL || outlen == NULL ||
	    (prot == NULL && prot_len > 0) || (payload == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "COSE sign: missing argument");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	if (unprot_map == NULL) {
		unprot_map = &empty_map;
		unprot_len = 1;
	}
	if ((rc = check_alg(alg)) != 0 || (prepared(key, alg, 0) == NULL &&
	    (rc = check_key(key->pkey, alg)) != 0))
		goto out;
	if (prot_len > 0 && (rc = check_map_bytes(prot, prot_len,
	    "protected header")) != 0)
		goto out;
	if ((rc = check_map_bytes(unprot_map, unprot_len,
	    "unprotected header")) != 0)
		goto out;
	if ((rc = sig_structure(prot, prot_len, payload, n, &tbs, &tlen)) != 0)
		goto out;
	if ((rc = pkey_sign(key, alg, tbs, tlen, sig)) != 0)
		goto out;
	cs_cbor_head(&b, CBOR_MAJOR_TAG, COSE_TAG_SIGN1);
	cs_cbor_head(&b, CBOR_MAJOR_ARRAY, 4);
	cs_cbor_bstr(&b, prot, prot_len);
	cs_sb_add(&b, unprot_map, unprot_len);
	cs_cbor_bstr(&b, payload, n);
	cs_cbor_bstr(&b, sig, sizeof(sig));
	if (b.failed) {
		rc = cs_err_set(CS_ENOMEM, "COSE sign: out of memory");
		goto out;
	}
	*out = (uint8_t *)b.p;
	*outlen = b.len;
	b.p = NULL;
out:
	free(tbs);
	free(b.p);
	return rc;
}

/* The old path, for EVP_PKEYs: an unprepared key, checked and set up
 * afresh for this one signature. */
int
cs_cose_sign1_raw(EVP_PKEY *pkey, int alg, const uint8_t *prot,
    size_t prot_len, const uint8_t *unprot_map, size_t unprot_len,
    const uint8_t *payload, size_t n, uint8_t **out, size_t *outlen)
{
	cs_key key = { .pkey = pkey, .alg = alg };

	return sign1(&key, prot, prot_len, unprot_map, unprot_len, payload, n,
	    out, outlen);
}

int
cs_cose_sign1(const cs_key *key, const uint8_t *payload, size_t n,
    uint8_t **out, size_t *outlen)
{
	cs_sbuf prot = CS_SBUF_INIT;
	int rc;

	if (key == NULL || key->pkey == NULL) {
		rc = cs_err_set(CS_EINVAL, "COSE sign: no key");
		goto out;
	}
	if (!key->has_private) {
		rc = cs_err_set(CS_EINVAL, "COSE sign: the key has no private "
		    "half");
		goto out;
	}
	cs_cbor_head(&prot, CBOR_MAJOR_MAP, 2);
	cs_cbor_int(&prot, COSE_LABEL_ALG);
	cs_cbor_int(&prot, key->alg);
	cs_cbor_int(&prot, COSE_LABEL_KID);
	cs_cbor_bstr(&prot, key->kid, CS_KID_LEN);
	if (prot.failed) {
		rc = cs_err_set(CS_ENOMEM, "COSE sign: out of memory");
		goto out;
	}
	rc = sign1(key, (const uint8_t *)prot.p, prot.len, NULL, 0, payload, n,
	    out, outlen);
out:
	free(prot.p);
	return rc;
}

/* A copy (malloc'd, one spare NUL byte) of a definite or indefinite byte
 * string's content. */
static int
bstr_copy(const cbor_item_t *it, const char *what, uint8_t **out,
    size_t *outlen)
{
	cbor_item_t **chunks;
	uint8_t *p = NULL;
	size_t i, nchunks, len = 0;
	int rc = 0;

	if (!cbor_isa_bytestring(it)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s is not a byte "
		    "string", what);
		goto out;
	}
	if (cbor_bytestring_is_definite(it)) {
		len = cbor_bytestring_length(it);
		if ((p = malloc(len + 1)) == NULL)
			goto oom;
		if (len > 0)
			memcpy(p, cbor_bytestring_handle(it), len);
	} else {
		chunks = cbor_bytestring_chunks_handle(it);
		nchunks = cbor_bytestring_chunk_count(it);
		for (i = 0; i < nchunks; i++)
			len += cbor_bytestring_length(chunks[i]);
		if ((p = malloc(len + 1)) == NULL)
			goto oom;
		len = 0;
		for (i = 0; i < nchunks; i++) {
			if (cbor_bytestring_length(chunks[i]) > 0)
				memcpy(p + len,
				    cbor_bytestring_handle(chunks[i]),
				    cbor_bytestring_length(chunks[i]));
			len += cbor_bytestring_length(chunks[i]);
		}
	}
	p[len] = '\0';
	*out = p;
	*outlen = len;
	p = NULL;
	goto out;
oom:
	rc = cs_err_set(CS_ENOMEM, "COSE_Sign1: out of memory");
out:
	free(p);
	return rc;
}

/* What one header map says about the labels this module reads. */
struct cose_hdr {
	int has_alg, has_kid, has_crit;
	int alg;
	uint8_t kid[sizeof(((cs_cose_msg *)0)->kid)];
	size_t kid_len;
};

static int
hdr_alg(const cbor_item_t *v, const char *which, int *alg)
{
	uint64_t raw;
	int rc = 0;

	if (!cbor_isa_uint(v) && !cbor_isa_negint(v)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s header: alg "
		    "(label 1) is not an integer", which);
		goto out;
	}
	raw = cbor_get_int(v);
	if (raw > INT_MAX) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s header: alg "
		    "(label 1) out of range", which);
		goto out;
	}
	*alg = cbor_isa_uint(v) ? (int)raw : -1 - (int)raw;
out:
	return rc;
}

/*
 * Read alg, kid and crit from a header map.  Other labels are left alone
 * (RFC 9052 lets a recipient ignore what it does not know, unless crit
 * names it), but a label that occurs twice is refused: two readers could
 * take different values from it.
 */
static int
hdr_read(const cbor_item_t *map, const char *which, struct cose_hdr *h)
{
	struct cbor_pair *pairs;
	uint8_t *kid = NULL;
	size_t i, npairs, kid_len = 0;
	uint64_t label;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	if (!cbor_isa_map(map)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s header is not a "
		    "map", which);
		goto out;
	}
	pairs = cbor_map_handle(map);
	npairs = cbor_map_size(map);
	for (i = 0; i < npairs; i++) {
		if (!cbor_isa_uint(pairs[i].key))
			continue;
		label = cbor_get_int(pairs[i].key);
		if ((label == COSE_LABEL_ALG && h->has_alg) ||
		    (label == COSE_LABEL_KID && h->has_kid) ||
		    (label == COSE_LABEL_CRIT && h->has_crit)) {
			rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s header: "
			    "label %llu occurs twice", which,
			    (unsigned long long)label);
			goto out;
		}
		if (label == COSE_LABEL_ALG) {
			if ((rc = hdr_alg(pairs[i].value, which, &h->alg)) != 0)
				goto out;
			h->has_alg = 1;
		} else if (label == COSE_LABEL_KID) {
			if ((rc = bstr_copy(pairs[i].value, "kid (label 4)",
			    &kid, &kid_len)) != 0)
				goto out;
			if (kid_len > sizeof(h->kid)) {
				rc = cs_err_set(CS_EINVAL, "COSE_Sign1: %s "
				    "header: kid of %zu bytes is over %zu",
				    which, kid_len, sizeof(h->kid));
				goto out;
			}
			memcpy(h->kid, kid, kid_len);
			h->kid_len = kid_len;
			h->has_kid = 1;
			free(kid);
			kid = NULL;
		} else if (label == COSE_LABEL_CRIT) {
			h->has_crit = 1;
		}
	}
out:
	free(kid);
	return rc;
}

/*
 * libcbor 0.8's cbor_is_null() asserts (and aborts the process) when given a
 * float, so a float payload would be a remote crash: test the width first.
 */
static int
item_is_null(const cbor_item_t *it)
{
	return cbor_isa_float_ctrl(it) && cbor_float_ctrl_is_ctrl(it) &&
	    cbor_ctrl_value(it) == CBOR_CTRL_NULL;
}

/* A head of major type 6 at p: its tag number and length. */
static int
tag_head(const uint8_t *p, size_t n, uint64_t *tag, size_t *hlen)
{
	size_t len = 0, i;
	uint64_t v = 0;
	int ai;

	if (n == 0 || p[0] >> 5 != CBOR_MAJOR_TAG)
		goto out;
	ai = p[0] & 0x1f;
	if (ai < 24) {
		v = (uint64_t)ai;
		len = 1;
	} else if (ai <= 27) {
		len = 1 + ((size_t)1 << (ai - 24));
		if (len > n) {
			len = 0;
			goto out;
		}
		for (i = 1; i < len; i++)
			v = v << 8 | p[i];
	}
	*tag = v;
	*hlen = len;
out:
	return len > 0;
}

static int
load_error(const struct cbor_load_result *lr, const char *what, size_t base)
{
	return cs_err_set(lr->error.code == CBOR_ERR_MEMERROR ? CS_ENOMEM :
	    CS_EINVAL, "COSE_Sign1: cannot decode the %s (libcbor error %d at "
	    "offset %zu)", what, (int)lr->error.code,
	    base + lr->error.position);
}

/*
 * Strict decoding (see cose.h).  The alg is read from the protected header,
 * or from the unprotected one when the protected header has none (the COSE
 * WG's sign-pass-01 does this): the key pins the algorithm in
 * cs_cose_verify, so an unprotected alg cannot downgrade anything.  A label
 * in both headers is refused (RFC 9052 §3).
 */
int
cs_cose_parse(const uint8_t *buf, size_t n, cs_cose_msg **out)
{
	return cs_cose_parse_max(buf, n, CS_ZLIB_MAX_OUT, out);
}

int
cs_cose_parse_max(const uint8_t *buf, size_t n, size_t max, cs_cose_msg **out)
{
	cs_cose_msg *m = NULL;
	cbor_item_t *arr = NULL, *pmap = NULL, **items;
	struct cbor_load_result lr;
	struct cose_hdr ph, uh;
	uint64_t tag = 0;
	size_t off = 0, hlen = 0;
	int rc;

	if (out == NULL || (buf == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: missing argument");
		goto out;
	}
	*out = NULL;
	if (n > max) {
		rc = cs_err_set(CS_ETOOBIG, "COSE_Sign1: %zu bytes, over the "
		    "%zu-byte limit", n, max);
		goto out;
	}
	if ((rc = cs_cbor_check(buf, n, CS_COSE_MAX_DEPTH)) != 0) {
		cs_err_wrap(rc, "COSE_Sign1: ");
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "COSE_Sign1: out of memory");
		goto out;
	}
	if (!tag_head(buf, n, &tag, &hlen)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: missing tag 18 "
		    "(untagged message)");
		goto out;
	}
	if (tag == COSE_TAG_CWT) {
		m->cwt_tag = 1;
		off = hlen;
		if (!tag_head(buf + off, n - off, &tag, &hlen)) {
			rc = cs_err_set(CS_EINVAL, "COSE_Sign1: CWT tag 61 is "
			    "not followed by tag 18");
			goto out;
		}
	}
	if (tag != COSE_TAG_SIGN1) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: tag %llu, expected 18",
		    (unsigned long long)tag);
		goto out;
	}
	off += hlen;
	if ((arr = cbor_load(buf + off, n - off, &lr)) == NULL) {
		rc = load_error(&lr, "message", off);
		goto out;
	}
	if (lr.read != n - off) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: trailing bytes at "
		    "offset %zu", off + lr.read);
		goto out;
	}
	if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: not an array of 4 "
		    "items");
		goto out;
	}
	items = cbor_array_handle(arr);
	if ((rc = bstr_copy(items[0], "protected header", &m->protected_raw,
	    &m->protected_len)) != 0)
		goto out;
	if (item_is_null(items[2])) {
		rc = cs_err_set(CS_EUNSUPPORTED, "COSE_Sign1: detached payload "
		    "(nil) is not supported");
		goto out;
	}
	if ((rc = bstr_copy(items[2], "payload", &m->payload,
	    &m->payload_len)) != 0)
		goto out;
	if ((rc = bstr_copy(items[3], "signature", &m->sig,
	    &m->sig_len)) != 0)
		goto out;
	memset(&ph, 0, sizeof(ph));
	if (m->protected_len > 0) {
		if ((rc = cs_cbor_check(m->protected_raw, m->protected_len,
		    CS_COSE_MAX_DEPTH)) != 0) {
			cs_err_wrap(rc, "COSE_Sign1: protected header: ");
			goto out;
		}
		if ((pmap = cbor_load(m->protected_raw, m->protected_len,
		    &lr)) == NULL) {
			rc = load_error(&lr, "protected header", 0);
			goto out;
		}
		if ((rc = hdr_read(pmap, "protected", &ph)) != 0)
			goto out;
	}
	if ((rc = hdr_read(items[1], "unprotected", &uh)) != 0)
		goto out;
	if ((ph.has_alg && uh.has_alg) || (ph.has_kid && uh.has_kid)) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: label %d in both the "
		    "protected and the unprotected header",
		    ph.has_alg && uh.has_alg ? COSE_LABEL_ALG : COSE_LABEL_KID);
		goto out;
	}
	if (uh.has_crit) {
		rc = cs_err_set(CS_EINVAL, "COSE_Sign1: crit (label 2) in the "
		    "unprotected header");
		goto out;
	}
	if (ph.has_crit) {
		rc = cs_err_set(CS_EUNSUPPORTED, "COSE_Sign1: critical header "
		    "parameters (label 2) are not supported");
		goto out;
	}
	m->alg = ph.has_alg ? ph.alg : uh.alg;
	if (ph.has_kid) {
		memcpy(m->kid, ph.kid, ph.kid_len);
		m->kid_len = ph.kid_len;
	} else if (uh.has_kid) {
		memcpy(m->kid, uh.kid, uh.kid_len);
		m->kid_len = uh.kid_len;
		m->kid_unprotected = 1;
	}
	*out = m;
	m = NULL;
out:
	if (pmap != NULL)
		cbor_decref(&pmap);
	if (arr != NULL)
		cbor_decref(&arr);
	cs_cose_msg_free(m);
	return rc;
}

int
cs_cose_sig_structure(const cs_cose_msg *msg, uint8_t **out, size_t *outlen)
{
	int rc;

	if (msg == NULL || out == NULL || outlen == NULL)
		rc = cs_err_set(CS_EINVAL, "COSE: missing argument");
	else
		rc = sig_structure(msg->protected_raw, msg->protected_len,
		    msg->payload, msg->payload_len, out, outlen);
	return rc;
}

/*
 * The order of the checks is the order of what a caller should learn: an
 * algorithm this service does not do at all, then a key that cannot be the
 * signer's, then a bad signature.
 */
int
cs_cose_verify(const cs_cose_msg *msg, const cs_key *key)
{
	uint8_t *tbs = NULL;
	size_t tlen = 0;
	int rc;

	if (msg == NULL || key == NULL || key->pkey == NULL) {
		rc = cs_err_set(CS_EINVAL, "COSE verify: missing argument");
		goto out;
	}
	if ((rc = check_alg(msg->alg)) != 0)
		goto out;
	/* A prepared key passed check_key for its alg when it was made. */
	if (prepared(key, msg->alg, 1) == NULL &&
	    (rc = check_key(key->pkey, msg->alg)) != 0)
		goto out;
	if (key->alg != msg->alg) {
		rc = cs_err_set(CS_EINVAL, "algorithm %s does not match the "
		    "key (an %s key)", alg_name(msg->alg),
		    alg_name(key->alg) ? alg_name(key->alg) : "unknown");
		goto out;
	}
	if (msg->sig_len != COSE_SIG_LEN) {
		rc = cs_err_set(CS_ESIGNATURE, "COSE_Sign1: %s signature of "
		    "%zu bytes, expected %d", alg_name(msg->alg), msg->sig_len,
		    COSE_SIG_LEN);
		goto out;
	}
	if ((rc = sig_structure(msg->protected_raw, msg->protected_len,
	    msg->payload, msg->payload_len, &tbs, &tlen)) != 0)
		goto out;
	rc = pkey_verify(key, msg->alg, tbs, tlen, msg->sig);
out:
	free(tbs);
	return rc;
}

void
cs_cose_msg_free(cs_cose_msg *msg)
{
	if (msg != NULL) {
		free(msg->protected_raw);
		free(msg->payload);
		free(msg->sig);
		free(msg);
	}
}
