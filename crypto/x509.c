/*
 * x509: a signing key's self-issued certificate made, read and written
 * (x509.h).  Signed through an EVP_MD_CTX so that the three algorithms go
 * the same way: SHA-256 for ES256, none for Ed25519 (it hashes itself),
 * SM3 with the SM2 ID of SPEC §4 for SM2.
 */
#include "x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cs_err.h"

/* A v3 extension by its config text ("critical,digitalSignature"). */
static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return cs_err_openssl("making a certificate extension");
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : cs_err_openssl("adding a certificate extension");
}

/* A positive random 127-bit serial: unique without keeping a counter. */
static int
set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn = NULL;
	int rc = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return cs_err_openssl("drawing a serial");
	r[0] &= 0x7f;
	r[0] |= 0x40;
	if ((bn = BN_bin2bn(r, sizeof(r), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		rc = cs_err_openssl("setting a serial");
	BN_free(bn);
	return rc;
}

static int
set_names(X509 *x, const char *name)
{
	X509_NAME *n = X509_get_subject_name(x);

	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)name, -1, -1, 0) ||
	    !X509_set_issuer_name(x, n))
		return cs_err_openssl("setting the certificate's name");
	return 0;
}

static int
sign_cert(X509 *x, const cs_key *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const char *digest = NULL;
	int rc = 0;

	if (key->alg == CS_ALG_ES256)
		digest = "SHA256";
	else if (key->alg == CS_ALG_SM2)
		digest = "SM3";
	if (md == NULL ||
	    EVP_DigestSignInit_ex(md, &pctx, digest, NULL, NULL, key->pkey,
	    NULL) != 1 ||
	    (key->alg == CS_ALG_SM2 && EVP_PKEY_CTX_set1_id(pctx, CS_SM2_ID,
	    strlen(CS_SM2_ID)) != 1) ||
	    X509_sign_ctx(x, md) <= 0)
		rc = cs_err_wrap(cs_err_openssl("signing the certificate"),
		    "%s: ", cs_alg_name(key->alg));
	EVP_MD_CTX_free(md);
	return rc;
}

int
cs_x509_make(const cs_key *key, const char *name, time_t not_before,
    X509 **out)
{
	X509 *x = NULL;
	int rc = 0;

	*out = NULL;
	if (key == NULL || !key->has_private)
		return cs_err_set(CS_EINVAL, "a certificate needs the private key");
	if (name == NULL || *name == '\0' || strlen(name) > CS_X509_NAME_MAX)
		return cs_err_set(CS_EINVAL, "the library's name must be 1 to "
		    "%d bytes", CS_X509_NAME_MAX);
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &not_before) ==
	    NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CS_X509_DAYS, 0,
	    &not_before) == NULL ||
	    !X509_set_pubkey(x, key->pkey)) {
		rc = cs_err_openssl("making a certificate");
		goto out;
	}
	if ((rc = set_serial(x)) < 0 || (rc = set_names(x, name)) < 0 ||
	    (rc = add_ext(x, NID_basic_constraints, "critical,CA:TRUE,"
	    "pathlen:0")) < 0 ||
	    (rc = add_ext(x, NID_key_usage, "critical,digitalSignature,"
	    "nonRepudiation,keyCertSign")) < 0 ||
	    (rc = add_ext(x, NID_subject_key_identifier, "hash")) < 0 ||
	    (rc = sign_cert(x, key)) < 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	return rc;
}

int
cs_x509_read(const uint8_t *buf, size_t n, const cs_key *key, X509 **out)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	int rc = 0;

	*out = NULL;
	if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		rc = cs_err_openssl("not a PEM certificate");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key->pkey) != 1) {
		rc = cs_err_set(CS_EINVAL, "the certificate is not for this key");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	BIO_free(bio);
	X509_free(x);
	return rc;
}

int
cs_x509_pem(X509 *cert, char **out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = 0;

	*out = NULL;
	if (bio == NULL || !PEM_write_bio_X509(bio, cert) ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0) {
		rc = cs_err_openssl("writing the certificate");
		goto out;
	}
	if ((*out = malloc((size_t)n + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
out:
	BIO_free(bio);
	return rc;
}

int
cs_x509_der(X509 *cert, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*len = 0;
	if ((n = i2d_X509(cert, &p)) <= 0)
		return cs_err_openssl("encoding the certificate");
	/* OpenSSL's allocation: copied so the caller frees with free(). */
	if ((*der = malloc((size_t)n)) == NULL) {
		OPENSSL_free(p);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

void
cs_x509_subject_cn(X509 *cert, char *out, size_t n)
{
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_ENTRY *e;
	unsigned char *s = NULL;
	int i, len;

	if (n == 0)
		return;
	out[0] = '\0';
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(name, i)) == NULL ||
	    (len = ASN1_STRING_to_UTF8(&s, X509_NAME_ENTRY_get_data(e))) < 0)
		return;
	snprintf(out, n, "%.*s", len, (const char *)s);
	OPENSSL_free(s);
}
