/*
 * jwks: the trust list, a JWK Set (SPEC §5): a keyring written as public
 * JWKs with their status and valid_from, and a JWK Set read back into a
 * public-only keyring (what `certsvc verify --trust-list` uses offline),
 * with the unpadded base64url its members carry.
 */
#include "jwks.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cs_err.h"
#include "encode.h"
#include "keys_internal.h"
#include "rfc3339.h"
#include "x509.h"

/* P-256 and SM2 coordinates, and Ed25519 public keys, are 32 bytes. */
#define COORD_LEN 32
/* The longest value the JWK base64url coder handles (a coordinate or kid). */
#define B64_MAX_BYTES 48
#define B64_MAX_CHARS 64

static void b64url_encode(const uint8_t *, size_t, char *);
static int b64url_decode(const char *, uint8_t *, size_t);

static int
jwk_set(json_t *jwk, const char *name, const char *value)
{
	if (json_object_set_new(jwk, name, json_string(value)) != 0)
		return cs_err_set(CS_ENOMEM, "out of memory");
	return 0;
}

static int
jwk_set_b64(json_t *jwk, const char *name, const uint8_t *v, size_t n)
{
	char s[B64_MAX_CHARS + 1];

	b64url_encode(v, n, s);
	return jwk_set(jwk, name, s);
}

/* The affine coordinates of an EC or SM2 public key, 32 bytes each,
 * whatever point form the key was loaded in. */
static int
ec_coords(const EVP_PKEY *pkey, uint8_t x[COORD_LEN], uint8_t y[COORD_LEN])
{
	BIGNUM *bx = NULL, *by = NULL;
	EVP_PKEY *plain = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int rc = 0, len;

	/* A key that signs in a PKCS#11 token (libp11's, with its own EC
	 * method) answers no parameter query: read its public half through
	 * its SubjectPublicKeyInfo instead. */
	ERR_set_mark();
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) &&
	    (len = i2d_PUBKEY((EVP_PKEY *)pkey, &der)) > 0) {
		p = der;
		plain = d2i_PUBKEY(NULL, &p, len);
		if (plain != NULL)
			pkey = plain;
	}
	BN_free(bx);
	bx = NULL;
	ERR_pop_to_mark();
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) ||
	    BN_bn2binpad(bx, x, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(by, y, COORD_LEN) != COORD_LEN)
		rc = cs_err_openssl("reading the public key coordinates");
	BN_free(bx);
	BN_free(by);
	EVP_PKEY_free(plain);
	OPENSSL_free(der);
	return rc;
}

/* "x5c" (RFC 7517 §4.7): the key's certificate, standard base64 of its
 * DER (not base64url), alone in its chain since it is self-issued. */
static int
jwk_set_x5c(json_t *jwk, X509 *cert)
{
	uint8_t *der = NULL;
	char *b64 = NULL;
	size_t len = 0;
	json_t *chain = NULL;
	int rc;

	if ((rc = cs_x509_der(cert, &der, &len)) < 0)
		goto out;
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	if ((chain = json_array()) == NULL ||
	    json_array_append_new(chain, json_string(b64)) != 0 ||
	    json_object_set_new(jwk, "x5c", chain) != 0) {
		json_decref(chain);
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	}
out:
	free(der);
	free(b64);
	return rc;
}

/* One JWK of the trust list: public members only, built from the public
 * parameters, so no private member can slip in. */
static int
key_to_jwk(const cs_key *key, json_t **out)
{
	json_t *jwk = NULL;
	uint8_t x[COORD_LEN], y[COORD_LEN];
	char ts[32];
	size_t len = COORD_LEN;
	int rc = 0;

	*out = NULL;
	if ((jwk = json_object()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	switch (key->alg) {
	case CS_ALG_ES256:
	case CS_ALG_SM2:
		if ((rc = ec_coords(key->pkey, x, y)) < 0 ||
		    (rc = jwk_set(jwk, "kty", "EC")) < 0 ||
		    (rc = jwk_set(jwk, "crv", key->alg == CS_ALG_SM2 ? "SM2" :
		    "P-256")) < 0 ||
		    (rc = jwk_set_b64(jwk, "x", x, COORD_LEN)) < 0 ||
		    (rc = jwk_set_b64(jwk, "y", y, COORD_LEN)) < 0)
			goto out;
		break;
	case CS_ALG_EDDSA:
		if (EVP_PKEY_get_raw_public_key(key->pkey, x, &len) != 1 ||
		    len != COORD_LEN) {
			rc = cs_err_openssl("reading the Ed25519 public key");
			goto out;
		}
		if ((rc = jwk_set(jwk, "kty", "OKP")) < 0 ||
		    (rc = jwk_set(jwk, "crv", "Ed25519")) < 0 ||
		    (rc = jwk_set_b64(jwk, "x", x, COORD_LEN)) < 0)
			goto out;
		break;
	default:
		rc = cs_err_set(CS_EUNSUPPORTED, "key of unknown algorithm %d",
		    key->alg);
		goto out;
	}
	if ((rc = jwk_set_b64(jwk, "kid", key->kid, CS_KID_LEN)) < 0 ||
	    (rc = jwk_set(jwk, "alg", cs_alg_name(key->alg))) < 0 ||
	    (rc = jwk_set(jwk, "use", "sig")) < 0)
		goto out;
	if (key->created != 0) {
		cs_rfc3339(key->created, ts);
		if ((rc = jwk_set(jwk, "valid_from", ts)) < 0)
			goto out;
	}
	if ((rc = jwk_set(jwk, "status", key->active ? "active" :
	    "verify-only")) < 0)
		goto out;
	if (key->cert != NULL && (rc = jwk_set_x5c(jwk, key->cert)) < 0)
		goto out;
	*out = jwk;
	jwk = NULL;
out:
	json_decref(jwk);
	return rc;
}

int
cs_keyring_to_jwks(const cs_keyring *ring, char **json_out)
{
	json_t *root = NULL, *keys = NULL, *jwk = NULL;
	size_t i;
	int rc = 0;

	*json_out = NULL;
	if (ring == NULL)
		return cs_err_set(CS_EINVAL, "no keyring given");
	if ((root = json_object()) == NULL || (keys = json_array()) == NULL ||
	    json_object_set(root, "keys", keys) != 0) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ring->n; i++) {
		if ((rc = key_to_jwk(ring->keys[i], &jwk)) < 0)
			goto out;
		if (json_array_append_new(keys, jwk) != 0) {
			jwk = NULL;
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		jwk = NULL;
	}
	if ((*json_out = json_dumps(root, JSON_INDENT(2))) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	json_decref(keys);
	json_decref(root);
	return rc;
}

/* A string member, or NULL when absent or not a string. */
static const char *
jwk_str(const json_t *jwk, const char *name)
{
	return json_string_value(json_object_get(jwk, name));
}

/* Decode a base64url member of exactly want bytes. */
static int
jwk_bytes(const json_t *jwk, const char *name, uint8_t *out, size_t want)
{
	uint8_t buf[B64_MAX_BYTES];
	const char *s;
	int n;

	if ((s = jwk_str(jwk, name)) == NULL)
		return cs_err_set(CS_EINVAL, "%s: missing or not a string",
		    name);
	if ((n = b64url_decode(s, buf, sizeof(buf))) < 0)
		return cs_err_set(CS_EINVAL, "%s: not base64url of at most %d "
		    "bytes", name, B64_MAX_BYTES);
	if ((size_t)n != want)
		return cs_err_set(CS_EINVAL, "%s: %d bytes, expected %zu", name,
		    n, want);
	memcpy(out, buf, want);
	return 0;
}

/* An EC (P-256) or SM2 public key from its affine coordinates.  fromdata
 * refuses a point that is not on the curve. */
static int
pkey_from_ec_coords(const char *type, const char *group, const uint8_t *x,
    const uint8_t *y, EVP_PKEY **out)
{
	uint8_t point[1 + 2 * COORD_LEN];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int rc = 0;

	*out = NULL;
	point[0] = 0x04;
	memcpy(point + 1, x, COORD_LEN);
	memcpy(point + 1 + COORD_LEN, y, COORD_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		/* Almost always a point off the curve: untrusted input, so
		 * CS_EINVAL rather than a library error. */
		ERR_clear_error();
		rc = cs_err_set(CS_EINVAL, "x, y: not a point of the %s curve",
		    group);
	}
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/*
 * One JWK into a public key.  The kid must be the one the key itself gives:
 * a verifier picks the key by kid, so an entry whose kid names another key
 * would make licences signed by one key check against another.  A JWK with
 * private material ("d") is refused: a trust list that carries it has leaked
 * a signing key, and loading it quietly would hide that.
 */
static int
jwk_to_key(const json_t *jwk, cs_key **out)
{
	const char *kty, *crv, *s;
	uint8_t x[COORD_LEN], y[COORD_LEN], kid[CS_KID_LEN];
	char want[B64_MAX_CHARS + 1];
	EVP_PKEY *pkey = NULL;
	cs_key *key = NULL;
	int64_t ms;
	int alg = 0, rc = 0;

	*out = NULL;
	if (!json_is_object(jwk))
		return cs_err_set(CS_EINVAL, "not a JSON object");
	if (json_object_get(jwk, "d") != NULL)
		return cs_err_set(CS_EINVAL, "carries private key material "
		    "(\"d\"): a trust list holds public keys only; treat that "
		    "key as compromised");
	if ((kty = jwk_str(jwk, "kty")) == NULL)
		return cs_err_set(CS_EINVAL, "kty: missing or not a string");
	if ((crv = jwk_str(jwk, "crv")) == NULL)
		return cs_err_set(CS_EINVAL, "crv: missing or not a string");
	if (strcmp(kty, "EC") == 0) {
		if (strcmp(crv, "P-256") == 0)
			alg = CS_ALG_ES256;
		else if (strcmp(crv, "SM2") == 0)
			alg = CS_ALG_SM2;
		else
			return cs_err_set(CS_EUNSUPPORTED, "crv \"%.40s\" is not "
			    "supported for kty EC: use P-256 or SM2", crv);
		if ((rc = jwk_bytes(jwk, "x", x, COORD_LEN)) < 0 ||
		    (rc = jwk_bytes(jwk, "y", y, COORD_LEN)) < 0)
			goto out;
		if (alg == CS_ALG_SM2)
			rc = pkey_from_ec_coords("SM2", "SM2", x, y, &pkey);
		else
			rc = pkey_from_ec_coords("EC", "prime256v1", x, y, &pkey);
		if (rc < 0)
			goto out;
	} else if (strcmp(kty, "OKP") == 0) {
		if (strcmp(crv, "Ed25519") != 0)
			return cs_err_set(CS_EUNSUPPORTED, "crv \"%.40s\" is not "
			    "supported for kty OKP: use Ed25519", crv);
		alg = CS_ALG_EDDSA;
		if (json_object_get(jwk, "y") != NULL)
			return cs_err_set(CS_EINVAL, "y: not a member of an OKP "
			    "key");
		if ((rc = jwk_bytes(jwk, "x", x, COORD_LEN)) < 0)
			goto out;
		if ((pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519",
		    NULL, x, COORD_LEN)) == NULL) {
			rc = cs_err_openssl("x: not an Ed25519 public key");
			goto out;
		}
	} else
		return cs_err_set(CS_EUNSUPPORTED, "kty \"%.40s\" is not "
		    "supported: use EC or OKP", kty);
	if ((rc = cs_key_from_pkey(pkey, &key)) < 0)
		goto out;
	pkey = NULL;
	if (key->alg != alg) {
		rc = cs_err_set(CS_EINVAL, "crv \"%s\" gave a key of another "
		    "algorithm", crv);
		goto out;
	}
	if (jwk_str(jwk, "kid") == NULL) {
		rc = cs_err_set(CS_EINVAL, "kid: missing or not a string");
		goto out;
	}
	b64url_encode(key->kid, CS_KID_LEN, want);
	if (jwk_bytes(jwk, "kid", kid, CS_KID_LEN) < 0 ||
	    memcmp(kid, key->kid, CS_KID_LEN) != 0) {
		rc = cs_err_set(CS_EINVAL, "kid \"%.40s\" does not match the "
		    "key, whose SubjectPublicKeyInfo gives kid \"%s\"",
		    jwk_str(jwk, "kid"), want);
		goto out;
	}
	if ((s = jwk_str(jwk, "alg")) != NULL &&
	    strcmp(s, cs_alg_name(key->alg)) != 0) {
		rc = cs_err_set(CS_EINVAL, "alg \"%.40s\" does not match the "
		    "key (%s)", s, cs_alg_name(key->alg));
		goto out;
	}
	if (json_object_get(jwk, "alg") != NULL && s == NULL) {
		rc = cs_err_set(CS_EINVAL, "alg: not a string");
		goto out;
	}
	if (json_object_get(jwk, "use") != NULL &&
	    ((s = jwk_str(jwk, "use")) == NULL || strcmp(s, "sig") != 0)) {
		rc = cs_err_set(CS_EINVAL, "use: must be \"sig\"");
		goto out;
	}
	if (json_object_get(jwk, "status") != NULL &&
	    ((s = jwk_str(jwk, "status")) == NULL ||
	    (strcmp(s, "active") != 0 && strcmp(s, "verify-only") != 0))) {
		rc = cs_err_set(CS_EINVAL, "status: must be \"active\" or "
		    "\"verify-only\"");
		goto out;
	}
	if (json_object_get(jwk, "valid_from") != NULL) {
		if ((s = jwk_str(jwk, "valid_from")) == NULL ||
		    cs_rfc3339_parse_ms(s, CS_RFC3339_EXACT, &ms) < 0) {
			rc = cs_err_set(CS_EINVAL, "valid_from: not an RFC 3339 "
			    "UTC time (YYYY-MM-DDTHH:MM:SSZ)");
			goto out;
		}
		key->created = (time_t)(ms / 1000);
	}
	*out = key;
	key = NULL;
out:
	EVP_PKEY_free(pkey);
	cs_key_free(key);
	return rc;
}

/*
 * A public-only keyring from a trust list: every key must be well formed
 * and supported, or the whole list is refused (a verifier that skipped a key
 * would later call its licences forged).  The keyring has no active key; the
 * list's "status" members are checked for form but not kept.
 */
int
cs_keyring_from_jwks(const char *json, size_t n, cs_keyring **out)
{
	json_error_t jerr;
	json_t *root = NULL, *keys, *jwk;
	cs_keyring *ring = NULL;
	cs_key *key = NULL;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (json == NULL)
		return cs_err_set(CS_EINVAL, "no trust list given");
	if ((root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		rc = cs_err_set(CS_EINVAL, "trust list: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_array(keys = json_object_get(root, "keys"))) {
		rc = cs_err_set(CS_EINVAL, "trust list: no \"keys\" array");
		goto out;
	}
	if ((ring = cs_keys_keyring_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		if ((rc = jwk_to_key(jwk, &key)) < 0 ||
		    (rc = cs_keyring_add(ring, key)) < 0) {
			cs_err_wrap(rc, "trust list keys.%zu: ", i);
			goto out;
		}
		key = NULL;
	}
	*out = ring;
	ring = NULL;
out:
	cs_key_free(key);
	cs_keyring_free(ring);
	json_decref(root);
	return rc;
}

/* Unpadded base64url (RFC 4648 §5) of at most B64_MAX_BYTES bytes into out
 * (B64_MAX_CHARS + 1 bytes), through encode.c's coder. */
static void
b64url_encode(const uint8_t *in, size_t n, char *out)
{
	char *s = NULL;

	out[0] = '\0';
	if (n <= B64_MAX_BYTES && cs_b64url_encode(in, n, &s) == 0)
		memcpy(out, s, strlen(s) + 1);
	free(s);
}

/* Decode unpadded base64url into out (cap bytes); the byte count, or -1 for
 * an empty or malformed text or more than cap bytes. */
static int
b64url_decode(const char *in, uint8_t *out, size_t cap)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int rc = -1;

	if (in[0] != '\0' && strlen(in) <= B64_MAX_CHARS &&
	    cs_b64url_decode(in, strlen(in), &d, &n) == 0 && n <= cap) {
		memcpy(out, d, n);
		rc = (int)n;
	}
	free(d);
	return rc;
}
