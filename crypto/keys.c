/*
 * keys: signing keys and the keyring (SPEC §4, §7): the three algorithms,
 * a key's kid and algorithm from its EVP_PKEY, new key pairs, public keys
 * from PEM or DER, and the set of keys with its one signing key.  Key files
 * and the key directory are keyfile.c; the trust list (JWK Set) is jwks.c.
 *
 * Everything goes through OpenSSL 3 EVP and the provider parameters; no
 * deprecated EC_KEY call is used, so the module builds with
 * OPENSSL_NO_DEPRECATED.  Private key bytes are only ever held by OpenSSL
 * (which wipes them when the EVP_PKEY is freed) or, briefly, in the file
 * buffer of cs_key_load_private, which is wiped after parsing.  No message
 * and no JWK carries private material.
 */
#include "keys.h"

#include "cose.h"
#include "cs_err.h"
#include "digest.h"
#include "encode.h"
#include "keys_internal.h"
#include "pkcs11.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static const struct alg_info {
	int alg;
	const char *name;       /* COSE/JOSE name, as in the JWK "alg" */
	const char *file;       /* in key file stems */
} alg_table[] = {
	{ CS_ALG_ES256, "ES256", "es256" },
	{ CS_ALG_EDDSA, "EdDSA", "eddsa" },
	{ CS_ALG_SM2, "SM2", "sm2" },
};

static const struct alg_info *
alg_lookup(int alg)
{
	size_t i;

	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++)
		if (alg_table[i].alg == alg)
			return &alg_table[i];
	return NULL;
}

int
cs_alg_from_name(const char *name, int *alg)
{
	size_t i;

	if (name == NULL)
		return cs_err_set(CS_EINVAL, "no algorithm given");
	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++) {
		if (strcasecmp(name, alg_table[i].name) == 0) {
			*alg = alg_table[i].alg;
			return 0;
		}
	}
	return cs_err_set(CS_EUNSUPPORTED,
	    "algorithm \"%.64s\" is not supported: use ES256, EdDSA or SM2",
	    name);
}

const char *
cs_alg_name(int alg)
{
	const struct alg_info *ai = alg_lookup(alg);

	return ai != NULL ? ai->name : NULL;
}

const char *
cs_keys_alg_file(int alg)
{
	const struct alg_info *ai = alg_lookup(alg);

	return ai != NULL ? ai->file : NULL;
}

/*
 * kid = SHA-256(SubjectPublicKeyInfo DER)[0..8] (SPEC §4).  Derived from the
 * public key itself rather than from a file name or a counter, so that any
 * verifier holding the key computes the same kid and a trust list entry can
 * be checked against its own key.
 */
static int
key_kid(EVP_PKEY *pkey, uint8_t kid[CS_KID_LEN])
{
	unsigned char *der = NULL;
	uint8_t md[CS_SHA256_LEN];
	int len, rc = 0;

	if ((len = i2d_PUBKEY(pkey, &der)) <= 0) {
		rc = cs_err_openssl("encoding the public key");
		goto out;
	}
	if ((rc = cs_sha256(der, (size_t)len, md)) != 0)
		goto out;
	memcpy(kid, md, CS_KID_LEN);
out:
	OPENSSL_free(der);
	return rc;
}

/* The named curve of an EC or SM2 key into buf; 0, or -1 when it has none
 * (explicit curve parameters). */
static int
key_group(const EVP_PKEY *pkey, char *buf, size_t n)
{
	size_t len = 0;
	int ok;

	ERR_set_mark();
	ok = EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    buf, n, &len);
	ERR_pop_to_mark();
	return ok ? 0 : -1;
}

/* Which of the three algorithms a key serves; CS_EUNSUPPORTED naming the
 * key type or curve otherwise. */
static int
key_alg(const EVP_PKEY *pkey, int *alg)
{
	const char *type;
	char group[64];

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg = CS_ALG_EDDSA;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "SM2")) {
		*alg = CS_ALG_SM2;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (key_group(pkey, group, sizeof(group)) < 0)
			return cs_err_set(CS_EUNSUPPORTED,
			    "EC key with explicit curve parameters is not "
			    "supported: ES256 needs the named curve P-256");
		if (strcmp(group, "prime256v1") == 0) {
			*alg = CS_ALG_ES256;
			return 0;
		}
		return cs_err_set(CS_EUNSUPPORTED,
		    "EC key on curve %s is not supported: ES256 needs P-256 "
		    "(prime256v1)", group);
	}
	if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"))
		return cs_err_set(CS_EUNSUPPORTED,
		    "RSA keys (PS256, RS256) are not supported: certsvc "
		    "verifies ES256, EdDSA and SM2 only");
	type = EVP_PKEY_get0_type_name(pkey);
	return cs_err_set(CS_EUNSUPPORTED,
	    "%s keys are not supported: certsvc verifies ES256, EdDSA and SM2 "
	    "only", type != NULL ? type : "this type of");
}

/* Whether pkey holds its private half.  OpenSSL 3 has no direct query, so
 * ask for the private component; the copy is wiped at once. */
static int
key_has_private(const EVP_PKEY *pkey)
{
	BIGNUM *d = NULL;
	size_t len = 0;
	int has;

	ERR_set_mark();
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		has = EVP_PKEY_get_raw_private_key(pkey, NULL, &len) == 1 &&
		    len > 0;
	else
		has = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY,
		    &d) == 1 && d != NULL;
	BN_clear_free(d);
	ERR_pop_to_mark();
	return has;
}

/*
 * An EC-type key on the SM2 curve (what `openssl ecparam -name SM2`, other
 * tools and some decoders produce) refuses the SM2 user ID, so it cannot make
 * or check SM2 signatures (NOTES.md).  Rebuild it as an SM2-type key from
 * its own parameters, private half included; the parameter copy of the
 * private scalar is wiped before it is freed (3.0 has no
 * OSSL_PARAM_clear_free).
 */
static int
sm2_from_ec(const EVP_PKEY *ec, EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL, *p;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = 0;

	*out = NULL;
	if (!EVP_PKEY_todata(ec, EVP_PKEY_KEYPAIR, &params)) {
		rc = cs_err_openssl("exporting the SM2-curve EC key");
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0) {
		rc = cs_err_openssl("converting an SM2-curve EC key to SM2");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
out:
	if (params != NULL) {
		for (p = params; p->key != NULL; p++)
			if (p->data != NULL)
				OPENSSL_cleanse(p->data, p->data_size);
		OSSL_PARAM_free(params);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}

/*
 * Wrap pkey, deducing alg, kid and whether the private half is there.
 * Ownership of pkey passes on success only; on failure the caller still
 * owns it.  An EC key on the SM2 curve is replaced by its SM2-type twin
 * (and the original freed) so that callers can always set the SM2 ID.
 */
int
cs_key_from_pkey(EVP_PKEY *pkey, cs_key **out)
{
	EVP_PKEY *sm2 = NULL, *use;
	cs_key *key = NULL;
	char group[64];
	int rc = 0;

	*out = NULL;
	if (pkey == NULL)
		return cs_err_set(CS_EINVAL, "no key given");
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    key_group(pkey, group, sizeof(group)) == 0 &&
	    strcmp(group, "SM2") == 0 &&
	    (rc = sm2_from_ec(pkey, &sm2)) < 0)
		goto out;
	use = sm2 != NULL ? sm2 : pkey;
	if ((key = calloc(1, sizeof(*key))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = key_alg(use, &key->alg)) < 0 ||
	    (rc = key_kid(use, key->kid)) < 0)
		goto out;
	key->has_private = key_has_private(use);
	key->pkey = use;
	cs_cose_key_prepare(key);
	if (sm2 != NULL) {
		EVP_PKEY_free(pkey);
		sm2 = NULL;
	}
	*out = key;
	key = NULL;
out:
	EVP_PKEY_free(sm2);
	free(key);
	return rc;
}

void
cs_key_free(cs_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	EVP_MD_CTX_free(key->verify_ctx);
	EVP_MD_CTX_free(key->sign_ctx);
	X509_free(key->cert);
	free(key);
}

/* A new key pair; created is set to now, the time its file stem will carry. */
int
cs_key_generate(int alg, cs_key **out)
{
	EVP_PKEY *pkey = NULL;
	int rc = 0;

	*out = NULL;
	switch (alg) {
	case CS_ALG_ES256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CS_ALG_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case CS_ALG_SM2:
		/* Not "EC" on the SM2 curve: that key refuses the ID. */
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
		break;
	default:
		return cs_err_set(CS_EUNSUPPORTED,
		    "cannot generate a key for algorithm %d: use ES256, EdDSA "
		    "or SM2", alg);
	}
	if (pkey == NULL) {
		rc = cs_err_openssl("generating a key");
		goto out;
	}
	if ((rc = cs_key_from_pkey(pkey, out)) < 0)
		goto out;
	pkey = NULL;
	(*out)->created = time(NULL);
out:
	EVP_PKEY_free(pkey);
	return rc;
}
/*
 * Standard base64 with line breaks and padding into DER (the form the EU DCC
 * test data and pasted certificates take).  CS_EINVAL when it is not that.
 */
static int
b64_decode_loose(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
	char *s = NULL;
	uint8_t *d = NULL;
	size_t i, m = 0, pad = 0;
	int r, rc = 0;

	*out = NULL;
	if ((s = malloc(n + 1)) == NULL || (d = malloc(n / 4 * 3 + 3)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' ||
		    in[i] == '\n')
			continue;
		if (!((in[i] >= 'A' && in[i] <= 'Z') ||
		    (in[i] >= 'a' && in[i] <= 'z') ||
		    (in[i] >= '0' && in[i] <= '9') || in[i] == '+' ||
		    in[i] == '/' || in[i] == '='))
			break;
		s[m++] = (char)in[i];
	}
	if (i < n || m == 0 || m % 4 != 0 || m > INT_MAX) {
		rc = cs_err_set(CS_EINVAL, "neither PEM, DER nor base64");
		goto out;
	}
	s[m] = '\0';
	pad = (s[m - 1] == '=') + (s[m - 2] == '=');
	if ((r = EVP_DecodeBlock(d, (unsigned char *)s, (int)m)) < 0 ||
	    (size_t)r < pad) {
		rc = cs_err_set(CS_EINVAL, "malformed base64");
		goto out;
	}
	*out = d;
	*outlen = (size_t)r - pad;
	d = NULL;
out:
	free(s);
	free(d);
	return rc;
}

enum der_kind { DER_ANY, DER_SPKI, DER_CERT };

/* One whole DER object, every byte consumed: a SubjectPublicKeyInfo or an
 * X.509 certificate (its subject key; the certificate's own signature and
 * validity are not this module's business, the trust decision is the key
 * list). */
static int
pkey_from_der(const uint8_t *der, size_t n, enum der_kind kind,
    EVP_PKEY **out)
{
	const unsigned char *p;
	EVP_PKEY *pkey = NULL;
	X509 *x509 = NULL;

	*out = NULL;
	if (n > LONG_MAX)
		return cs_err_set(CS_ETOOBIG, "public key too large");
	ERR_set_mark();
	if (kind != DER_CERT) {
		p = der;
		pkey = d2i_PUBKEY(NULL, &p, (long)n);
		if (pkey != NULL && p != der + n) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	if (pkey == NULL && kind != DER_SPKI) {
		p = der;
		x509 = d2i_X509(NULL, &p, (long)n);
		if (x509 != NULL && p == der + n)
			pkey = X509_get_pubkey(x509);
		X509_free(x509);
	}
	ERR_pop_to_mark();
	if (pkey == NULL)
		return cs_err_set(CS_EINVAL, "%s", kind == DER_SPKI ?
		    "malformed or unknown SubjectPublicKeyInfo" :
		    kind == DER_CERT ? "malformed X.509 certificate" :
		    "neither a SubjectPublicKeyInfo nor an X.509 certificate "
		    "of a known key type");
	*out = pkey;
	return 0;
}

/*
 * PEM (the first PEM block: "PUBLIC KEY" or "CERTIFICATE"), DER, or the bare
 * base64 of DER, of a SubjectPublicKeyInfo or an X.509 certificate.  RSA keys
 * (the PS256 signers of the EU DCC data) load as far as their type and fail
 * with CS_EUNSUPPORTED, so a caller can tell "not for us" from "broken".  A
 * private key given here is refused rather than reduced to its public half:
 * it was meant to stay where it was.
 */
int
cs_key_load_public(const uint8_t *buf, size_t n, cs_key **out)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *pemder = NULL;
	uint8_t *b64der = NULL;
	const uint8_t *der = NULL;
	size_t derlen = 0;
	long pemlen = 0;
	enum der_kind kind = DER_ANY;
	EVP_PKEY *pkey = NULL;
	int rc = 0;

	*out = NULL;
	if (buf == NULL || n == 0)
		return cs_err_set(CS_EINVAL, "empty public key");
	if (n > KEY_FILE_MAX)
		return cs_err_set(CS_ETOOBIG, "public key over %d bytes",
		    KEY_FILE_MAX);
	if (memmem(buf, n, "-----BEGIN ", 11) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL) {
			rc = cs_err_openssl("reading the public key");
			goto out;
		}
		if (!PEM_read_bio(bio, &name, &header, &pemder, &pemlen)) {
			ERR_clear_error();
			rc = cs_err_set(CS_EINVAL, "malformed PEM");
			goto out;
		}
		if (strcmp(name, "PUBLIC KEY") == 0)
			kind = DER_SPKI;
		else if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "X509 CERTIFICATE") == 0)
			kind = DER_CERT;
		else if (strstr(name, "PRIVATE KEY") != NULL) {
			rc = cs_err_set(CS_EINVAL, "a private key where a public "
			    "key or certificate belongs; give the .pub file");
			goto out;
		} else {
			rc = cs_err_set(CS_EINVAL, "PEM \"%.40s\" is neither a "
			    "PUBLIC KEY nor a CERTIFICATE", name);
			goto out;
		}
		der = pemder;
		derlen = (size_t)pemlen;
	} else if (buf[0] == 0x30) {
		der = buf;
		derlen = n;
	} else {
		if ((rc = b64_decode_loose(buf, n, &b64der, &derlen)) < 0)
			goto out;
		der = b64der;
	}
	if ((rc = pkey_from_der(der, derlen, kind, &pkey)) < 0 ||
	    (rc = cs_key_from_pkey(pkey, out)) < 0)
		goto out;
	pkey = NULL;
out:
	BIO_free(bio);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(pemder);
	free(b64der);
	EVP_PKEY_free(pkey);
	return rc;
}
/* Elect the newest key holding a private half as the signing key; every
 * other key verifies only. */
static void
keyring_pick_active(cs_keyring *ring)
{
	size_t i;

	ring->active = NULL;
	for (i = 0; i < ring->n; i++)
		ring->keys[i]->active = 0;
	for (i = ring->n; i > 0; i--) {
		if (ring->keys[i - 1]->has_private) {
			ring->active = ring->keys[i - 1];
			ring->active->active = 1;
			break;
		}
	}
}

/*
 * Insert key keeping the keyring sorted oldest first (a key as old as others
 * goes after them, so the order of adding breaks ties) and re-elect the
 * active key.  Ownership passes on success only; on failure (a key with the
 * same kid already there: CS_ECONFLICT) the caller still owns it.
 */
int
cs_keyring_add(cs_keyring *ring, cs_key *key)
{
	cs_key **keys;
	char hex[2 * CS_KID_LEN + 1];
	size_t at;

	if (ring == NULL || key == NULL)
		return cs_err_set(CS_EINVAL, "no keyring or no key given");
	if (cs_keyring_find(ring, key->kid, CS_KID_LEN) != NULL) {
		cs_hex_encode_into(key->kid, CS_KID_LEN, hex);
		return cs_err_set(CS_ECONFLICT, "key %s is there twice", hex);
	}
	if ((keys = realloc(ring->keys, (ring->n + 1) * sizeof(*keys))) ==
	    NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	ring->keys = keys;
	for (at = ring->n; at > 0 && keys[at - 1]->created > key->created;
	    at--)
		;
	memmove(&keys[at + 1], &keys[at], (ring->n - at) * sizeof(*keys));
	keys[at] = key;
	ring->n++;
	keyring_pick_active(ring);
	return 0;
}

cs_key *
cs_keyring_find(const cs_keyring *ring, const uint8_t *kid, size_t kidlen)
{
	size_t i;

	if (ring == NULL || kid == NULL || kidlen != CS_KID_LEN)
		return NULL;
	for (i = 0; i < ring->n; i++)
		if (memcmp(ring->keys[i]->kid, kid, CS_KID_LEN) == 0)
			return ring->keys[i];
	return NULL;
}

void
cs_keyring_free(cs_keyring *ring)
{
	size_t i;

	if (ring == NULL)
		return;
	for (i = 0; i < ring->n; i++)
		cs_key_free(ring->keys[i]);
	free(ring->keys);
	/* After the keys: their EVP_PKEYs point into the token's slots. */
	cs_pkcs11_free(ring->p11);
	free(ring);
}
/* Each key's SubjectPublicKeyInfo read back: a key that signs in a token
 * gives a plain public key that needs the token for nothing. */
int
cs_keyring_public(const cs_keyring *ring, cs_keyring **out)
{
	cs_keyring *pub = NULL;
	unsigned char *der = NULL;
	cs_key *key = NULL;
	size_t i;
	int len, rc = 0;

	*out = NULL;
	if ((pub = cs_keys_keyring_new()) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; ring != NULL && i < ring->n; i++) {
		if ((len = i2d_PUBKEY(ring->keys[i]->pkey, &der)) <= 0) {
			rc = cs_err_openssl("encoding a public key");
			goto out;
		}
		if ((rc = cs_key_load_public(der, (size_t)len, &key)) != 0)
			goto out;
		OPENSSL_free(der);
		der = NULL;
		key->created = ring->keys[i]->created;
		memcpy(key->stem, ring->keys[i]->stem, sizeof(key->stem));
		if ((rc = cs_keyring_add(pub, key)) != 0)
			goto out;
		key = NULL;
	}
	*out = pub;
	pub = NULL;
out:
	OPENSSL_free(der);
	cs_key_free(key);
	cs_keyring_free(pub);
	return rc;
}

cs_keyring *
cs_keys_keyring_new(void)
{
	return calloc(1, sizeof(cs_keyring));
}
