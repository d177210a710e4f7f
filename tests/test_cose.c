/*
 * test_cose: COSE_Sign1 (crypto/cose.c): the COSE Working Group's examples
 * (cose_cases_wg.c, included here), round trips for the three algorithms
 * of SPEC §4, tampering, the SM2 user ID, keys that do not fit, header
 * variants and tags, malformed messages, the hand-made ECDSA DER and its
 * reading, and prepared keys, also from many threads at once.  The CBOR
 * walker under the parser (depth, hostile CBOR, indefinite lengths,
 * diagnostic notation) is test_cbor_walk's.
 */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cose.h"
#include "cose_util.h"
#include "cs_err.h"
#include "encode.h"

#include "cose_cases_wg.c"

static const int algs[] = { CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2 };

static size_t
expected_protected(int alg, uint8_t *p)
{
	size_t n = 0;

	p[n++] = 0xa2;
	p[n++] = 0x01;
	if (alg == CS_ALG_ES256) {
		p[n++] = 0x26;
	} else if (alg == CS_ALG_EDDSA) {
		p[n++] = 0x27;
	} else {
		memcpy(p + n, "\x3a\x00\x01\x00\x00", 5);
		n += 5;
	}
	p[n++] = 0x04;
	p[n++] = 0x48;
	memcpy(p + n, test_kid, CS_KID_LEN);
	return n + CS_KID_LEN;
}

TEST(sign_verify_roundtrip)
{
	uint8_t *out = NULL, prot[32];
	size_t olen = 0, plen, i;
	cs_cose_msg *msg = NULL;
	cs_key *k;

	for (i = 0; i < 3; i++) {
		k = gen_key(algs[i]);
		if (k == NULL)
			continue;
		CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)claims,
		    sizeof(claims) - 1, &out, &olen), 0);
		plen = expected_protected(algs[i], prot);
		/* 18([h'<prot>', {}, h'<payload>', h'<64 bytes>']) */
		CHECK(olen > 3 + plen && out[0] == 0xd2 && out[1] == 0x84 &&
		    out[2] == 0x40 + plen && memcmp(out + 3, prot, plen) == 0 &&
		    out[3 + plen] == 0xa0);
		CHECK(olen > 66 && out[olen - 66] == 0x58 &&
		    out[olen - 65] == 0x40);
		CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
		if (msg != NULL) {
			CHECK_INT_EQ(msg->alg, algs[i]);
			CHECK_INT_EQ(msg->kid_len, CS_KID_LEN);
			CHECK(memcmp(msg->kid, test_kid, CS_KID_LEN) == 0);
			CHECK_INT_EQ(msg->kid_unprotected, 0);
			CHECK_INT_EQ(msg->cwt_tag, 0);
			CHECK_INT_EQ(msg->payload_len, sizeof(claims) - 1);
			CHECK(memcmp(msg->payload, claims, msg->payload_len) ==
			    0);
			CHECK_INT_EQ(msg->protected_len, plen);
			CHECK_INT_EQ(msg->sig_len, 64);
			CHECK_INT_EQ(cs_cose_verify(msg, k), 0);
		}
		cs_cose_msg_free(msg);
		msg = NULL;
		free(out);
		out = NULL;
		key_free(k);
	}
}

/* Any one flipped bit anywhere in a signed message must be caught: as a
 * parse error, a header the key does not fit, or a bad signature. */
TEST(tampering)
{
	uint8_t *out = NULL, *t = NULL, prot[32];
	size_t olen = 0, plen, i, pos;
	cs_cose_msg *msg = NULL;
	int a, rc, bit;
	cs_key *k;

	for (a = 0; a < 3; a++) {
		k = gen_key(algs[a]);
		if (k == NULL)
			continue;
		CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)claims,
		    sizeof(claims) - 1, &out, &olen), 0);
		t = malloc(olen);
		for (pos = 0; pos < olen; pos++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(t, out, olen);
				t[pos] ^= (uint8_t)(1 << bit);
				rc = cs_cose_parse(t, olen, &msg);
				if (rc == 0)
					rc = cs_cose_verify(msg, k);
				CHECK(rc != 0);
				cs_cose_msg_free(msg);
				msg = NULL;
			}
		}
		/* The specific results: the payload, the signature and the
		 * kid inside the protected header. */
		plen = expected_protected(algs[a], prot);
		for (i = 0; i < 3; i++) {
			memcpy(t, out, olen);
			pos = i == 0 ? 3 + plen + 1 + 2 + 3 :
			    i == 1 ? olen - 10 : 3 + plen - 1;
			t[pos] ^= 0x01;
			CHECK_INT_EQ(cs_cose_parse(t, olen, &msg), 0);
			CHECK(msg != NULL && cs_cose_verify(msg, k) ==
			    CS_ESIGNATURE);
			CHECK_CONTAINS(cs_err_msg(), "does not verify");
			cs_cose_msg_free(msg);
			msg = NULL;
		}
		free(t);
		free(out);
		out = NULL;
		key_free(k);
	}
}

/* The raw r||s <-> DER conversion, by hand, for checking the SM2 user ID
 * with OpenSSL directly. */
static int
sm2_openssl(EVP_PKEY *pkey, const uint8_t *tbs, size_t tlen, uint8_t *raw,
    int with_id, int verify)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	ECDSA_SIG *es = NULL;
	const BIGNUM *cr, *cs;
	unsigned char *der = NULL, buf[128];
	const unsigned char *p;
	size_t dlen = sizeof(buf);
	int ok = 0, len;

	if (verify) {
		es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL),
		    BN_bin2bn(raw + 32, 32, NULL));
		len = i2d_ECDSA_SIG(es, &der);
		ok = EVP_DigestVerifyInit(mctx, &pctx, EVP_sm3(), NULL,
		    pkey) == 1 && (!with_id || EVP_PKEY_CTX_set1_id(pctx,
		    CS_SM2_ID, 16) > 0) && EVP_DigestVerify(mctx, der,
		    (size_t)len, tbs, tlen) == 1;
	} else {
		ok = EVP_DigestSignInit(mctx, &pctx, EVP_sm3(), NULL,
		    pkey) == 1 && (!with_id || EVP_PKEY_CTX_set1_id(pctx,
		    CS_SM2_ID, 16) > 0) && EVP_DigestSign(mctx, buf, &dlen,
		    tbs, tlen) == 1;
		p = buf;
		if (ok && (es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) != NULL) {
			ECDSA_SIG_get0(es, &cr, &cs);
			ok = BN_bn2binpad(cr, raw, 32) == 32 &&
			    BN_bn2binpad(cs, raw + 32, 32) == 32;
		}
	}
	ERR_clear_error();
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* SM2 signatures carry the SPEC §4 user ID: OpenSSL checks ours only with
 * that ID set, and ours accepts only signatures made with it. */
TEST(sm2_user_id)
{
	cs_key *k = gen_key(CS_ALG_SM2);
	uint8_t *out = NULL, *tbs = NULL, raw[64];
	size_t olen = 0, tlen = 0;
	cs_cose_msg *msg = NULL;

	if (k == NULL)
		return;
	CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)"x", 1, &out, &olen),
	    0);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	if (msg == NULL)
		goto out;
	CHECK_INT_EQ(cs_cose_sig_structure(msg, &tbs, &tlen), 0);
	CHECK(sm2_openssl(k->pkey, tbs, tlen, msg->sig, 1, 1));
	CHECK(!sm2_openssl(k->pkey, tbs, tlen, msg->sig, 0, 1));
	CHECK(sm2_openssl(k->pkey, tbs, tlen, raw, 0, 0));
	memcpy(msg->sig, raw, 64);
	CHECK_INT_EQ(cs_cose_verify(msg, k), CS_ESIGNATURE);
	CHECK(sm2_openssl(k->pkey, tbs, tlen, raw, 1, 0));
	memcpy(msg->sig, raw, 64);
	CHECK_INT_EQ(cs_cose_verify(msg, k), 0);
out:
	free(tbs);
	free(out);
	cs_cose_msg_free(msg);
	key_free(k);
}

TEST(key_mismatch)
{
	cs_key *es = gen_key(CS_ALG_ES256), *ed = gen_key(CS_ALG_EDDSA);
	cs_key *sm = gen_key(CS_ALG_SM2), *other = gen_key(CS_ALG_ES256);
	cs_key *p384 = key_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"),
	    CS_ALG_ES256, 1);
	cs_key *ecsm2 = key_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2"),
	    CS_ALG_SM2, 1);
	cs_key *es_as_ed, *sm_as_es;
	cs_cose_msg *m_es = NULL, *m_sm = NULL;
	uint8_t *out = NULL;
	size_t olen = 0;

	if (es == NULL || ed == NULL || sm == NULL || other == NULL)
		return;
	CHECK(p384->pkey != NULL && ecsm2->pkey != NULL);
	es_as_ed = key_wrap(es->pkey, CS_ALG_EDDSA, 0);
	sm_as_es = key_wrap(sm->pkey, CS_ALG_ES256, 0);
	CHECK_INT_EQ(cs_cose_sign1(es, (const uint8_t *)"p", 1, &out, &olen),
	    0);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &m_es), 0);
	free(out);
	CHECK_INT_EQ(cs_cose_sign1(sm, (const uint8_t *)"p", 1, &out, &olen),
	    0);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &m_sm), 0);
	free(out);
	out = NULL;
	if (m_es == NULL || m_sm == NULL)
		goto out;

	CHECK_INT_EQ(cs_cose_verify(m_es, ed), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "algorithm ES256 does not match the key "
	    "(ED25519 key)");
	CHECK_INT_EQ(cs_cose_verify(m_es, sm_as_es), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "does not match the key (SM2 key)");
	CHECK_INT_EQ(cs_cose_verify(m_es, p384), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "does not match the key (EC key on "
	    "secp384r1)");
	CHECK_INT_EQ(cs_cose_verify(m_es, es_as_ed), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "algorithm ES256 does not match the key "
	    "(an EdDSA key)");
	/* An EC key on the SM2 curve is not an SM2 key (NOTES.md). */
	CHECK_INT_EQ(cs_cose_verify(m_sm, ecsm2), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "algorithm SM2 does not match the key "
	    "(EC key on SM2)");
	CHECK_INT_EQ(cs_cose_verify(m_sm, es), CS_EINVAL);
	CHECK_INT_EQ(cs_cose_verify(m_es, other), CS_ESIGNATURE);
	CHECK_INT_EQ(cs_cose_verify(m_es, es), 0);
	CHECK_INT_EQ(cs_cose_verify(m_sm, sm), 0);

	/* A short signature is a bad signature. */
	m_es->sig_len = 63;
	CHECK_INT_EQ(cs_cose_verify(m_es, es), CS_ESIGNATURE);
	CHECK_CONTAINS(cs_err_msg(), "63 bytes, expected 64");
	m_es->sig_len = 64;

	/* Signing refuses the same mismatches, and a public-only key. */
	CHECK_INT_EQ(cs_cose_sign1_raw(ed->pkey, CS_ALG_ES256,
	    (const uint8_t *)"\xa1\x01\x26", 3, NULL, 0,
	    (const uint8_t *)"p", 1, &out, &olen), CS_EINVAL);
	CHECK_INT_EQ(cs_cose_sign1_raw(es->pkey, -35, NULL, 0, NULL, 0,
	    (const uint8_t *)"p", 1, &out, &olen), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "unsupported algorithm ES384 (-35)");
	CHECK_INT_EQ(cs_cose_sign1_raw(ecsm2->pkey, CS_ALG_SM2, NULL, 0, NULL,
	    0, (const uint8_t *)"p", 1, &out, &olen), CS_EINVAL);
	CHECK_INT_EQ(cs_cose_sign1(es_as_ed, (const uint8_t *)"p", 1, &out,
	    &olen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "no private half");
	CHECK(out == NULL);

	/* Unsupported algorithms in a message are named. */
	m_es->alg = -37;
	CHECK_INT_EQ(cs_cose_verify(m_es, es), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "unsupported algorithm PS256 (-37)");
	m_es->alg = -39;
	CHECK_INT_EQ(cs_cose_verify(m_es, es), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "unsupported algorithm PS512 (-39)");
	m_es->alg = 0;
	CHECK_INT_EQ(cs_cose_verify(m_es, es), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "no algorithm");
out:
	es_as_ed->pkey = NULL;
	sm_as_es->pkey = NULL;
	key_free(es_as_ed);
	key_free(sm_as_es);
	cs_cose_msg_free(m_es);
	cs_cose_msg_free(m_sm);
	key_free(es);
	key_free(ed);
	key_free(sm);
	key_free(other);
	key_free(p384);
	key_free(ecsm2);
}

static uint8_t *
sign_es256(cs_key *k, const char *prot_hex, const char *unprot_hex,
    size_t *olen)
{
	uint8_t *prot = NULL, *unprot = NULL, *out = NULL;
	size_t plen = 0, ulen = 0;

	prot = hx(prot_hex, &plen);
	if (unprot_hex != NULL)
		unprot = hx(unprot_hex, &ulen);
	CHECK_INT_EQ(cs_cose_sign1_raw(k->pkey, CS_ALG_ES256, prot, plen,
	    unprot, ulen, (const uint8_t *)claims, sizeof(claims) - 1, &out,
	    olen), 0);
	free(prot);
	free(unprot);
	return out;
}

TEST(headers_and_tags)
{
	cs_key *k = gen_key(CS_ALG_ES256);
	uint8_t *out = NULL, *t = NULL;
	size_t olen = 0, cut;
	cs_cose_msg *msg = NULL;

	if (k == NULL)
		return;
	/* kid in the unprotected header. */
	out = sign_es256(k, "a10126", "a104480123456789abcdef", &olen);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	if (msg != NULL) {
		CHECK_INT_EQ(msg->kid_unprotected, 1);
		CHECK(msg->kid_len == 8 && memcmp(msg->kid, test_kid, 8) == 0);
		CHECK_INT_EQ(cs_cose_verify(msg, k), 0);
	}
	cs_cose_msg_free(msg);
	msg = NULL;

	/* Tag 61 before tag 18, and tag 18 in its two-byte form. */
	t = malloc(olen + 2);
	t[0] = 0xd8;
	t[1] = 0x3d;
	memcpy(t + 2, out, olen);
	CHECK_INT_EQ(cs_cose_parse(t, olen + 2, &msg), 0);
	CHECK(msg != NULL && msg->cwt_tag == 1);
	CHECK(msg != NULL && cs_cose_verify(msg, k) == 0);
	cs_cose_msg_free(msg);
	msg = NULL;
	t[0] = 0xd8;
	t[1] = 0x12;
	memcpy(t + 2, out + 1, olen - 1);
	CHECK_INT_EQ(cs_cose_parse(t, olen + 1, &msg), 0);
	cs_cose_msg_free(msg);
	msg = NULL;
	/* Tag 18 then 61, and 61 alone. */
	t[0] = 0xd2;
	t[1] = 0xd8;
	t[2] = 0x3d;
	memcpy(t + 3, out + 1, olen - 1);
	CHECK_INT_EQ(cs_cose_parse(t, olen + 2, &msg), CS_EINVAL);
	memcpy(t + 2, out + 1, olen - 1);
	t[0] = 0xd8;
	t[1] = 0x3d;
	CHECK_INT_EQ(cs_cose_parse(t, olen + 1, &msg), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "not followed by tag 18");
	/* Untagged. */
	CHECK_INT_EQ(cs_cose_parse(out + 1, olen - 1, &msg), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "missing tag 18");

	/* A trailing byte, and every truncation. */
	memcpy(t, out, olen);
	t[olen] = 0x00;
	CHECK_INT_EQ(cs_cose_parse(t, olen + 1, &msg), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "trailing");
	for (cut = 0; cut < olen; cut++) {
		CHECK_INT_EQ(cs_cose_parse(t, cut, &msg), CS_EINVAL);
		CHECK(msg == NULL);
	}
	free(t);
	free(out);

	/* alg only in the unprotected header (as sign-pass-01). */
	out = sign_es256(k, "a0", "a20126044101", &olen);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	CHECK(msg != NULL && msg->alg == CS_ALG_ES256 &&
	    cs_cose_verify(msg, k) == 0);
	cs_cose_msg_free(msg);
	msg = NULL;
	free(out);
	/* Empty protected header. */
	out = sign_es256(k, "", "a10126", &olen);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	CHECK(msg != NULL && msg->protected_len == 0 &&
	    cs_cose_verify(msg, k) == 0);
	cs_cose_msg_free(msg);
	msg = NULL;
	free(out);
	/* No alg anywhere. */
	out = sign_es256(k, "a1044101", NULL, &olen);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	CHECK(msg != NULL && msg->alg == 0);
	CHECK(msg != NULL && cs_cose_verify(msg, k) == CS_EINVAL);
	cs_cose_msg_free(msg);
	msg = NULL;
	free(out);

	key_free(k);
}

static const struct {
	const char *hex;
	int rc;
	const char *msg;
} bad_messages[] = {
	{ "d28343a10126a040", CS_EINVAL, "not an array of 4" },
	{ "d28401a0405840" "00000000000000000000000000000000"
	  "00000000000000000000000000000000"
	  "00000000000000000000000000000000"
	  "00000000000000000000000000000000", CS_EINVAL,
	  "protected header is not a byte string" },
	{ "d2844180a04040", CS_EINVAL, "protected header is not a map" },
	{ "d28443a10126804040", CS_EINVAL, "unprotected header is not a map" },
	{ "d28443a10126a00140", CS_EINVAL, "payload is not a byte string" },
	{ "d28443a10126a04001", CS_EINVAL, "signature is not a byte string" },
	{ "d28443a10126a0f640", CS_EUNSUPPORTED, "detached payload" },
	/* Floats and other simple values where a bstr or nil belongs: libcbor
	 * 0.8's cbor_is_null() aborts on a float (found by fuzzing). */
	{ "d28443a10126a0f97e0040", CS_EINVAL, "payload is not a byte string" },
	{ "d28443a10126a0fb000000000000000040", CS_EINVAL, "payload is not" },
	{ "d28443a10126a0f740", CS_EINVAL, "payload is not a byte string" },
	{ "d28443a10126f9000040 40", CS_EINVAL, "unprotected header is not" },
	{ "d284f9000a0a0a0a", CS_EINVAL, "protected header is not a byte" },
	{ "d28441ffa04040", CS_EINVAL, "protected header: CBOR" },
	{ "d28445a201260126a04040", CS_EINVAL, "label 1 occurs twice" },
	{ "d28443a10126a101264040", CS_EINVAL, "label 1 in both" },
	{ "d28444a1044101a10441024040", CS_EINVAL, "label 4 in both" },
	{ "d28448a101654553323536a04040", CS_EINVAL, "not an integer" },
	{ "d2844ba1013b7fffffffffffffffa04040", CS_EINVAL, "out of range" },
	{ "d28443a10126a10281014040", CS_EINVAL, "crit (label 2) in the "
	  "unprotected" },
	{ "d28446a2012602810aa04040", CS_EUNSUPPORTED, "critical header" },
	{ "d28443a10126a1045841"
	  "0000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000"
	  "00" "4040", CS_EINVAL, "kid of 65 bytes" },
	{ "d28443a10126a1040140 40", CS_EINVAL, "kid (label 4) is not a byte" },
};

TEST(malformed_messages)
{
	uint8_t *b;
	size_t n, i;
	cs_cose_msg *msg = NULL;

	for (i = 0; i < sizeof(bad_messages) / sizeof(bad_messages[0]); i++) {
		b = hx(bad_messages[i].hex, &n);
		CHECK(b != NULL);
		if (b == NULL)
			continue;
		CHECK_INT_EQ(cs_cose_parse(b, n, &msg), bad_messages[i].rc);
		CHECK_CONTAINS(cs_err_msg(), bad_messages[i].msg);
		CHECK(msg == NULL);
		free(b);
	}
	b = calloc(1, CS_ZLIB_MAX_OUT + 1);
	CHECK_INT_EQ(cs_cose_parse(b, CS_ZLIB_MAX_OUT + 1, &msg), CS_ETOOBIG);
	free(b);
}

/* The round trips, tampering and mismatches again with prepared keys: a
 * signature or verification copies the key's context and skips the key
 * check.  sm2_user_id checks the prepared key's SM2 signatures with
 * OpenSSL directly. */
TEST(prepared_keys)
{
	prepare_keys = 1;
	test_sign_verify_roundtrip();
	test_tampering();
	test_sm2_user_id();
	test_key_mismatch();
	prepare_keys = 0;
}

/* The public half of pkey alone, as a new EVP_PKEY. */
static EVP_PKEY *
public_only(EVP_PKEY *pkey)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int len;

	if ((len = i2d_PUBKEY(pkey, &der)) > 0) {
		p = der;
		pub = d2i_PUBKEY(NULL, &p, len);
	}
	OPENSSL_free(der);
	return pub;
}

/* The keys module prepares every key it makes, to sign only when it holds
 * the private half; a key that does not fit its alg is left unprepared, so
 * that each signature and verification refuses it as before. */
TEST(key_prepare)
{
	static const char *const types[] = {"P-256", "ED25519", "SM2"};
	EVP_PKEY *p;
	cs_key *k = NULL, *pub = NULL;
	uint8_t *out = NULL;
	size_t i, olen = 0;

	for (i = 0; i < 3; i++) {
		p = i == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", types[i]) :
		    EVP_PKEY_Q_keygen(NULL, NULL, types[i]);
		CHECK_INT_EQ(cs_key_from_pkey(public_only(p), &pub), 0);
		CHECK_INT_EQ(cs_key_from_pkey(p, &k), 0);
		CHECK(k != NULL && k->verify_ctx != NULL &&
		    k->sign_ctx != NULL);
		CHECK(pub != NULL && !pub->has_private &&
		    pub->verify_ctx != NULL && pub->sign_ctx == NULL);
		cs_key_free(k);
		cs_key_free(pub);
		k = pub = NULL;
	}
	k = key_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"),
	    CS_ALG_ES256, 1);
	cs_cose_key_prepare(k);
	CHECK(k->verify_ctx == NULL && k->sign_ctx == NULL);
	CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)"p", 1, &out, &olen),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "does not match the key (EC key on "
	    "secp384r1)");
	CHECK(out == NULL);
	key_free(k);
}

/* OpenSSL's encoding of the same r||s, for comparison. */
static int
i2d_der(const uint8_t rs[64], uint8_t *der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *p = der;
	int len;

	ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32,
	    NULL));
	len = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	return len;
}

static void
check_der(const uint8_t rs[64])
{
	uint8_t ours[CS_COSE_DER_SIG_MAX], theirs[128];
	size_t n = cs_cose_ecdsa_der(rs, ours);
	int len = i2d_der(rs, theirs);

	CHECK_INT_EQ(n, len);
	CHECK(len > 0 && memcmp(ours, theirs, n) == 0);
}

/* One scalar of the edge cases: a run of zero bytes, then a first nonzero
 * byte with or without the high bit, then a fill. */
static void
edge_scalar(uint8_t *v, size_t zeros, uint8_t first, uint8_t fill)
{
	memset(v, 0, 32);
	if (zeros < 32) {
		v[zeros] = first;
		memset(v + zeros + 1, fill, 31 - zeros);
	}
}

/* The hand-made DER of r||s is byte for byte OpenSSL's: leading zero
 * bytes, the high bit, zero itself, and random values with and without
 * them. */
TEST(ecdsa_der)
{
	static const uint8_t firsts[] = {0x01, 0x7f, 0x80, 0xff};
	static const uint8_t fills[] = {0x00, 0x80, 0xff};
	uint8_t rs[64];
	size_t zr, zs, f, g;
	int i;

	for (zr = 0; zr <= 32; zr += (zr < 3 || zr > 29) ? 1 : 9)
		for (zs = 0; zs <= 32; zs += (zs < 3 || zs > 29) ? 1 : 9)
			for (f = 0; f < sizeof(firsts); f++)
				for (g = 0; g < sizeof(fills); g++) {
					edge_scalar(rs, zr, firsts[f],
					    fills[g]);
					edge_scalar(rs + 32, zs,
					    firsts[sizeof(firsts) - 1 - f],
					    fills[g]);
					check_der(rs);
				}
	for (i = 0; i < 20000; i++) {
		CHECK(RAND_bytes(rs, sizeof(rs)) == 1);
		/* Zero bytes up front and the high bit, often. */
		memset(rs, 0, (size_t)(rs[10] % 4));
		memset(rs + 32, 0, (size_t)(rs[42] % 4));
		check_der(rs);
	}
}

/* OpenSSL's reading of a DER signature, held to cs_cose_ecdsa_rs's terms
 * where they are not its own: d2i_ECDSA_SIG reads BER lengths (0x81 0x06)
 * and stops before trailing bytes, so the input must be exactly what i2d
 * writes back (as OpenSSL's own ECDSA verification demands), and r and s
 * nonzero and of at most 32 bytes. */
static int
d2i_rs(const uint8_t *der, size_t len, uint8_t rs[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	unsigned char *back = NULL;
	const BIGNUM *r, *s;
	int ok = 0;

	if (es != NULL && i2d_ECDSA_SIG(es, &back) == (int)len &&
	    memcmp(back, der, len) == 0) {
		ECDSA_SIG_get0(es, &r, &s);
		ok = !BN_is_zero(r) && !BN_is_zero(s) &&
		    BN_bn2binpad(r, rs, 32) == 32 &&
		    BN_bn2binpad(s, rs + 32, 32) == 32;
	}
	OPENSSL_free(back);
	ECDSA_SIG_free(es);
	ERR_clear_error();
	return ok;
}

/* cs_cose_ecdsa_rs takes der exactly when OpenSSL does, with the same
 * r||s.  Returns whether it took it. */
static int
check_rs(const uint8_t *der, size_t len)
{
	uint8_t ours[64], theirs[64];
	int took = cs_cose_ecdsa_rs(der, len, ours) == 0;

	CHECK_INT_EQ(took, d2i_rs(der, len, theirs));
	CHECK(!took || memcmp(ours, theirs, 64) == 0);
	return took;
}

/* Every single-bit flip, every truncation and one byte more. */
static void
check_rs_mutants(const uint8_t *der, size_t len)
{
	uint8_t m[CS_COSE_DER_SIG_MAX + 1];
	size_t i;
	int bit;

	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(m, der, len);
			m[i] ^= (uint8_t)(1 << bit);
			check_rs(m, len);
		}
	for (i = 0; i < len; i++)
		CHECK(!check_rs(der, i));
	memcpy(m, der, len);
	m[len] = 0;
	CHECK(!check_rs(m, len + 1));
}

/* Signatures as OpenSSL makes them, read back. */
static void
check_rs_signatures(EVP_PKEY *pkey, int count)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pkey, NULL);
	uint8_t dgst[32], der[CS_COSE_DER_SIG_MAX];
	size_t dlen;
	int i;

	CHECK(pctx != NULL && EVP_PKEY_sign_init(pctx) == 1);
	for (i = 0; pctx != NULL && i < count; i++) {
		CHECK(RAND_bytes(dgst, sizeof(dgst)) == 1);
		dlen = sizeof(der);
		CHECK(EVP_PKEY_sign(pctx, der, &dlen, dgst, sizeof(dgst)) == 1);
		CHECK(check_rs(der, dlen));
		if (i % 50 == 0)
			check_rs_mutants(der, dlen);
	}
	EVP_PKEY_CTX_free(pctx);
}

/* Anything but a SEQUENCE of two positive, minimal INTEGERs of at most 32
 * bytes (after a leading 0x00), exactly filling the input, is refused. */
static const char *const bad_der[] = {
	"", "30", "3000", "3003020101",
	"3106020101020101",		/* not a SEQUENCE */
	"308106020101020101",		/* long-form length */
	"3007020101020101",		/* length beyond the input */
	"3005020101020101",		/* length short of it */
	"300602010102010100",		/* a byte after the SEQUENCE */
	"3009020101020101020101",	/* three INTEGERs */
	"3006030101020101",		/* a BIT STRING */
	"3006020180020101",		/* negative r */
	"30060201010201ff",		/* negative s */
	"300702020001020101",		/* r not minimal */
	"3006020100020101",		/* r zero */
	"3006020101020100",		/* s zero */
	"30050200020101",		/* r empty */
	"3006020501020101",		/* r longer than the SEQUENCE */
	"300702810101020101",		/* r's length long-form */
};

/* The hand-read r||s of a DER signature is OpenSSL's: edge values,
 * random ones, thousands of real ES256 and SM2 signatures and every
 * one-bit change to some of them; and malformed DER is refused. */
TEST(ecdsa_rs)
{
	static const uint8_t firsts[] = {0x01, 0x7f, 0x80, 0xff};
	uint8_t rs[64], der[CS_COSE_DER_SIG_MAX + 2], *b;
	EVP_PKEY *es = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *sm = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	size_t z, f, n, i;

	for (z = 0; z < 32; z++)
		for (f = 0; f < sizeof(firsts); f++) {
			edge_scalar(rs, z, firsts[f], 0xff);
			edge_scalar(rs + 32, 31 - z, firsts[3 - f], 0x00);
			n = cs_cose_ecdsa_der(rs, der);
			CHECK(check_rs(der, n));
			check_rs_mutants(der, n);
		}
	for (i = 0; i < 5000; i++) {
		CHECK(RAND_bytes(rs, sizeof(rs)) == 1);
		memset(rs, 0, (size_t)(rs[10] % 4));
		memset(rs + 32, 0, (size_t)(rs[42] % 4));
		rs[31] |= 1;
		rs[63] |= 1;
		CHECK(check_rs(der, cs_cose_ecdsa_der(rs, der)));
	}
	check_rs_signatures(es, 2000);
	check_rs_signatures(sm, 2000);
	for (i = 0; i < sizeof(bad_der) / sizeof(bad_der[0]); i++) {
		b = hx(bad_der[i], &n);
		CHECK(b != NULL && !check_rs(b, n));
		CHECK_INT_EQ(cs_cose_ecdsa_rs(b, n, rs), CS_ECRYPTO);
		free(b);
	}
	/* 33 bytes of r: with a 0x00 before them, or without. */
	memset(der, 0xff, sizeof(der));
	memcpy(der, "\x30\x46\x02\x22\x00", 5);
	memcpy(der + 38, "\x02\x20\x7f", 3);
	CHECK(!check_rs(der, 72));
	memcpy(der, "\x30\x45\x02\x21\x7f", 5);
	memcpy(der + 37, "\x02\x20\x7f", 3);
	CHECK(!check_rs(der, 71));
	CHECK(cs_cose_ecdsa_rs(NULL, 0, rs) == CS_ECRYPTO);
	EVP_PKEY_free(es);
	EVP_PKEY_free(sm);
}

/* Many threads verify with one prepared key at once (as the server's do),
 * good and bad signatures interleaved: each gets its own answer. */
struct verify_job {
	const cs_key *key;
	const cs_cose_msg *good, *bad;
	int wrong;
};

static void *
verify_loop(void *arg)
{
	struct verify_job *j = arg;
	int i;

	for (i = 0; i < 100; i++) {
		if (cs_cose_verify(j->good, j->key) != 0)
			j->wrong++;
		if (cs_cose_verify(j->bad, j->key) != CS_ESIGNATURE)
			j->wrong++;
	}
	return NULL;
}

TEST(prepared_key_threads)
{
	struct verify_job jobs[8];
	pthread_t th[8];
	cs_cose_msg *good = NULL, *bad = NULL;
	uint8_t *out = NULL;
	size_t olen = 0, i, a;
	cs_key *k;

	prepare_keys = 1;
	for (a = 0; a < 3; a++) {
		if ((k = gen_key(algs[a])) == NULL)
			continue;
		CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)claims,
		    sizeof(claims) - 1, &out, &olen), 0);
		CHECK_INT_EQ(cs_cose_parse(out, olen, &good), 0);
		CHECK_INT_EQ(cs_cose_parse(out, olen, &bad), 0);
		if (good == NULL || bad == NULL)
			goto next;
		bad->payload[0] ^= 1;
		for (i = 0; i < 8; i++) {
			jobs[i] = (struct verify_job){k, good, bad, 0};
			CHECK_INT_EQ(pthread_create(&th[i], NULL, verify_loop,
			    &jobs[i]), 0);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			CHECK_INT_EQ(jobs[i].wrong, 0);
		}
next:
		cs_cose_msg_free(good);
		cs_cose_msg_free(bad);
		good = bad = NULL;
		free(out);
		out = NULL;
		key_free(k);
	}
	prepare_keys = 0;
}

/* Many threads sign with one prepared key at once (as the server's issue
 * licences), each its own payloads: every signature verifies, with a
 * second, unprepared cs_key on the same EVP_PKEY (the old path). */
struct sign_job {
	const cs_key *key, *check;
	int id, wrong;
};

static void *
sign_loop(void *arg)
{
	struct sign_job *j = arg;
	cs_cose_msg *msg = NULL;
	uint8_t *out = NULL, payload[16] = {0};
	size_t olen = 0;
	int i;

	for (i = 0; i < 40; i++) {
		snprintf((char *)payload, sizeof(payload), "t%d-%d", j->id, i);
		if (cs_cose_sign1(j->key, payload, sizeof(payload), &out,
		    &olen) != 0 || cs_cose_parse(out, olen, &msg) != 0 ||
		    memcmp(msg->payload, payload, sizeof(payload)) != 0 ||
		    cs_cose_verify(msg, j->check) != 0)
			j->wrong++;
		cs_cose_msg_free(msg);
		msg = NULL;
		free(out);
		out = NULL;
	}
	return NULL;
}

TEST(prepared_key_sign_threads)
{
	struct sign_job jobs[8];
	pthread_t th[8];
	cs_key *k, *check;
	size_t i, a;

	prepare_keys = 1;
	for (a = 0; a < 3; a++) {
		if ((k = gen_key(algs[a])) == NULL)
			continue;
		check = key_wrap(k->pkey, algs[a], 0);
		for (i = 0; i < 8; i++) {
			jobs[i] = (struct sign_job){k, check, (int)i, 0};
			CHECK_INT_EQ(pthread_create(&th[i], NULL, sign_loop,
			    &jobs[i]), 0);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			CHECK_INT_EQ(jobs[i].wrong, 0);
		}
		check->pkey = NULL;
		key_free(check);
		key_free(k);
	}
	prepare_keys = 0;
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(cose_wg_vectors);
	RUN(sign_verify_roundtrip);
	RUN(tampering);
	RUN(sm2_user_id);
	RUN(key_mismatch);
	RUN(headers_and_tags);
	RUN(malformed_messages);
	RUN(prepared_keys);
	RUN(key_prepare);
	RUN(ecdsa_der);
	RUN(ecdsa_rs);
	RUN(prepared_key_threads);
	RUN(prepared_key_sign_threads);
	return check_summary();
}
