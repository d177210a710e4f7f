/*
 * cose_cases_wg: test_cose's case of the COSE Working Group's examples,
 * read from CS_VECTORS_DIR/cose-wg at run time (every file of the
 * directory): the JWK keys they carry, their diagnostic notation, their
 * Sig_structure, verification (or the refusal a failing or unsupported
 * vector must get), and re-signing with the vector's private key.
 * Included by test_cose.c (one binary), not built alone.
 */
#include <dirent.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <strings.h>

#define VEC_DIR CS_VECTORS_DIR "/cose-wg"

static char *
upper_hex(const uint8_t *b, size_t n)
{
	char *s = NULL;
	size_t i;

	if (cs_hex_encode(b, n, &s) != 0)
		return NULL;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] >= 'a' && s[i] <= 'f')
			s[i] = (char)(s[i] - 'a' + 'A');
	return s;
}

/* An EC key from a JWK's base64url x, y (and d), through EVP_PKEY_fromdata. */
static EVP_PKEY *
ec_from_jwk(json_t *jwk, int with_private)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *xs = json_string_value(json_object_get(jwk, "x"));
	const char *ys = json_string_value(json_object_get(jwk, "y"));
	const char *ds = json_string_value(json_object_get(jwk, "d"));
	uint8_t *x = NULL, *y = NULL, *d = NULL, pub[1 + 2 * 66];
	size_t xl = 0, yl = 0, dl = 0;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = NULL;

	if (crv == NULL || xs == NULL || ys == NULL ||
	    cs_b64url_decode(xs, strlen(xs), &x, &xl) != 0 ||
	    cs_b64url_decode(ys, strlen(ys), &y, &yl) != 0 ||
	    xl != yl || xl > 66)
		goto out;
	pub[0] = 0x04;
	memcpy(pub + 1, x, xl);
	memcpy(pub + 1 + xl, y, yl);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    crv, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, 1 + xl + yl))
		goto out;
	if (with_private) {
		if (ds == NULL || cs_b64url_decode(ds, strlen(ds), &d, &dl) ||
		    (bn = BN_bin2bn(d, (int)dl, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, with_private ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	free(x);
	free(y);
	free(d);
	return pkey;
}

/* An OKP key from a JWK's x_hex or d_hex. */
static EVP_PKEY *
okp_from_jwk(json_t *jwk, int with_private)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *h = json_string_value(json_object_get(jwk,
	    with_private ? "d_hex" : "x_hex"));
	EVP_PKEY *pkey = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	int type;

	if (crv == NULL || h == NULL || cs_hex_decode(h, strlen(h), &raw,
	    &len) != 0)
		goto out;
	type = strcmp(crv, "Ed448") == 0 ? EVP_PKEY_ED448 : EVP_PKEY_ED25519;
	pkey = with_private ?
	    EVP_PKEY_new_raw_private_key(type, NULL, raw, len) :
	    EVP_PKEY_new_raw_public_key(type, NULL, raw, len);
out:
	free(raw);
	return pkey;
}

static EVP_PKEY *
jwk_pkey(json_t *jwk, int with_private)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));

	if (kty != NULL && strcmp(kty, "EC") == 0)
		return ec_from_jwk(jwk, with_private);
	if (kty != NULL && strcmp(kty, "OKP") == 0)
		return okp_from_jwk(jwk, with_private);
	return NULL;
}

/* The CS_ALG_* a key file of this service would carry for the JWK's
 * curve; 0 for curves the service has no algorithm for. */
static int
jwk_alg(json_t *jwk)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));

	if (crv != NULL && strcmp(crv, "P-256") == 0)
		return CS_ALG_ES256;
	if (crv != NULL && strcmp(crv, "Ed25519") == 0)
		return CS_ALG_EDDSA;
	return 0;
}

static int
alg_id(const char *name)
{
	static const struct {
		const char *name;
		int id;
	} t[] = { { "ES256", -7 }, { "ES384", -35 }, { "ES512", -36 },
		  { "EdDSA", -8 } };
	size_t i;

	for (i = 0; name != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].name) == 0)
			return t[i].id;
	return 0;
}

/* The vector's unprotected header as CBOR, labels in ascending order:
 * {1: alg, 4: kid} with whichever of the two it has. */
static size_t
encode_unprotected(json_t *unprot, uint8_t *out)
{
	const char *alg = json_string_value(json_object_get(unprot, "alg"));
	const char *kid = json_string_value(json_object_get(unprot, "kid"));
	size_t n = 0;
	int id;

	n += put_head(out + n, 5, (alg != NULL) + (kid != NULL));
	if (alg != NULL) {
		id = alg_id(alg);
		n += put_head(out + n, 0, 1);
		n += id < 0 ? put_head(out + n, 1, (uint64_t)(-1 - id)) :
		    put_head(out + n, 0, (uint64_t)id);
	}
	if (kid != NULL) {
		n += put_head(out + n, 0, 4);
		n += put_head(out + n, 2, strlen(kid));
		memcpy(out + n, kid, strlen(kid));
		n += strlen(kid);
	}
	return n;
}

struct vec_stats {
	int files, verified, resigned, rejected, unsupported, sign_rt;
};

/*
 * The Sig_structure must equal ToBeSign_hex; for a vector with external
 * AAD (sign-pass-02) it must equal it with that AAD left empty, since
 * SPEC §4 fixes external_aad to h''.
 */
static void
vec_sig_structure(const cs_cose_msg *msg, const char *tbs_hex,
    const char *external)
{
	uint8_t *tbs = NULL;
	size_t tlen = 0;
	char *ours = NULL, *want = NULL, *ext = NULL, *at, head[8];
	size_t elen;

	CHECK_INT_EQ(cs_cose_sig_structure(msg, &tbs, &tlen), 0);
	ours = upper_hex(tbs, tlen);
	want = strdup(tbs_hex);
	if (external != NULL) {
		elen = strlen(external) / 2;
		CHECK(elen < 24);
		snprintf(head, sizeof(head), "%02X", 0x40 + (unsigned)elen);
		ext = malloc(strlen(external) + 3);
		strcpy(ext, head);
		strcat(ext, external);
		for (at = ext; *at != '\0'; at++)
			if (*at >= 'a' && *at <= 'f')
				*at = (char)(*at - 'a' + 'A');
		at = strstr(want, ext);
		CHECK(at != NULL);
		if (at != NULL)
			memmove(at + 2, at + strlen(ext),
			    strlen(at + strlen(ext)) + 1);
		if (at != NULL)
			at[0] = '4', at[1] = '0';
	}
	CHECK_STR_EQ(ours, want);
	free(ext);
	free(want);
	free(ours);
	free(tbs);
}

/* Re-sign the vector's payload with its private key and this module's
 * encoder; Ed25519 is deterministic, so the bytes must come back. */
static void
vec_resign(json_t *root, const cs_cose_msg *msg, const uint8_t *cbor,
    size_t clen, EVP_PKEY *pub, int key_alg, struct vec_stats *st)
{
	json_t *sign0 = json_object_get(json_object_get(root, "input"),
	    "sign0");
	json_t *jwk = json_object_get(sign0, "key");
	const char *pt = json_string_value(json_object_get(
	    json_object_get(root, "input"), "plaintext"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	EVP_PKEY *priv = jwk_pkey(jwk, 1);
	uint8_t unprot[128], *out = NULL;
	size_t ulen, olen = 0;
	cs_cose_msg *m2 = NULL;
	cs_key *k = NULL;
	int rc;

	CHECK(priv != NULL && pt != NULL);
	if (priv == NULL || pt == NULL)
		goto out;
	ulen = encode_unprotected(json_object_get(sign0, "unprotected"),
	    unprot);
	rc = cs_cose_sign1_raw(priv, msg->alg, msg->protected_raw,
	    msg->protected_len, unprot, ulen, (const uint8_t *)pt,
	    strlen(pt), &out, &olen);
	if (key_alg == CS_ALG_EDDSA && msg->alg == key_alg) {
		CHECK_INT_EQ(rc, 0);
		CHECK_INT_EQ(olen, clen);
		CHECK(out != NULL && olen == clen &&
		    memcmp(out, cbor, clen) == 0);
		st->resigned++;
	} else if (key_alg == CS_ALG_ES256 && msg->alg == key_alg) {
		/* ECDSA is randomised: check our signature verifies. */
		CHECK_INT_EQ(rc, 0);
		CHECK_INT_EQ(cs_cose_parse(out, olen, &m2), 0);
		k = key_wrap(pub, key_alg, 0);
		CHECK(m2 != NULL && cs_cose_verify(m2, k) == 0);
		k->pkey = NULL;
		st->sign_rt++;
	} else {
		CHECK_INT_EQ(rc, CS_EUNSUPPORTED);
		CHECK_CONTAINS(cs_err_msg(), "unsupported algorithm");
		if (crv != NULL && strcmp(crv, "Ed448") == 0)
			CHECK_CONTAINS(cs_err_msg(), "Ed448");
	}
out:
	key_free(k);
	cs_cose_msg_free(m2);
	free(out);
	EVP_PKEY_free(priv);
}

static void
run_vector(const char *path, struct vec_stats *st)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	json_t *input, *sign0, *jwk, *failures, *jalg;
	const char *tbs_hex, *cbor_hex, *diag_want, *alg_name, *external;
	uint8_t *cbor = NULL;
	size_t clen = 0;
	char *diag = NULL, want_msg[64];
	cs_cose_msg *msg = NULL;
	cs_key *key = NULL;
	EVP_PKEY *pub = NULL;
	int fail, key_alg, valg, prc, vrc = 0;

	CHECK(root != NULL);
	if (root == NULL)
		goto out;
	st->files++;
	input = json_object_get(root, "input");
	sign0 = json_object_get(input, "sign0");
	jwk = json_object_get(sign0, "key");
	failures = json_object_get(input, "failures");
	fail = json_is_true(json_object_get(root, "fail"));
	tbs_hex = json_string_value(json_object_get(json_object_get(root,
	    "intermediates"), "ToBeSign_hex"));
	cbor_hex = json_string_value(json_object_get(json_object_get(root,
	    "output"), "cbor"));
	diag_want = json_string_value(json_object_get(json_object_get(root,
	    "output"), "cbor_diag"));
	external = json_string_value(json_object_get(sign0, "external"));
	jalg = json_object_get(json_object_get(sign0, "protected"), "alg");
	if (jalg == NULL)
		jalg = json_object_get(json_object_get(sign0, "unprotected"),
		    "alg");
	if (jalg == NULL)
		jalg = json_object_get(sign0, "alg");
	alg_name = json_string_value(jalg);
	valg = alg_id(alg_name);
	key_alg = jwk_alg(jwk);
	CHECK(tbs_hex != NULL && cbor_hex != NULL && alg_name != NULL);
	if (tbs_hex == NULL || cbor_hex == NULL || alg_name == NULL ||
	    cs_hex_decode(cbor_hex, strlen(cbor_hex), &cbor, &clen) != 0)
		goto out;
	pub = jwk_pkey(jwk, 0);
	CHECK(pub != NULL);
	if (pub == NULL)
		goto out;
	key = key_wrap(pub, key_alg, 0);

	/* Diagnostic notation as the vector gives it, hex case aside. */
	CHECK_INT_EQ(cs_cbor_diag(cbor, clen, &diag), 0);
	CHECK(diag != NULL && diag_want != NULL &&
	    strcasecmp(diag, diag_want) == 0);
	if (diag == NULL || diag_want == NULL || strcasecmp(diag, diag_want))
		fprintf(stderr, "  diag %s\n  want %s\n", diag, diag_want);

	prc = cs_cose_parse(cbor, clen, &msg);
	if (json_object_get(failures, "ChangeCBORTag") != NULL) {
		/* A wrong tag: refused when parsed, naming the tag. */
		CHECK_INT_EQ(prc, CS_EINVAL);
		snprintf(want_msg, sizeof(want_msg), "tag %lld, expected 18",
		    json_integer_value(json_object_get(failures,
		    "ChangeCBORTag")));
		CHECK_CONTAINS(cs_err_msg(), want_msg);
		st->rejected++;
		goto out;
	}
	if (json_object_get(failures, "RemoveCBORTag") != NULL) {
		/* A pass in the WG's suite, where the application knows the
		 * type from context; SPEC §4 requires tag 18. */
		CHECK_INT_EQ(prc, CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), "missing tag 18");
		st->rejected++;
		goto out;
	}
	CHECK_INT_EQ(prc, 0);
	if (prc != 0)
		goto out;
	/* A fail vector's intermediates are those of the message before it
	 * was broken. */
	if (!fail)
		vec_sig_structure(msg, tbs_hex, external);
	vrc = cs_cose_verify(msg, key);
	if (fail) {
		CHECK(vrc != 0);
		if (json_object_get(failures, "ChangeTag") != NULL)
			CHECK_INT_EQ(vrc, CS_ESIGNATURE);
		if (json_object_get(failures, "ChangeAttr") != NULL) {
			CHECK_INT_EQ(vrc, CS_EUNSUPPORTED);
			snprintf(want_msg, sizeof(want_msg),
			    "unsupported algorithm %d", msg->alg);
			CHECK_CONTAINS(cs_err_msg(), want_msg);
		}
		st->rejected++;
	} else if (external != NULL) {
		/* Without its external AAD the signature cannot verify. */
		CHECK_INT_EQ(vrc, CS_ESIGNATURE);
		st->rejected++;
	} else if (key_alg == 0 || valg != key_alg) {
		/* ES384, ES512 (also ecdsa-sig-04's ES512 header over a P-256
		 * key) and EdDSA with Ed448. */
		CHECK_INT_EQ(vrc, CS_EUNSUPPORTED);
		CHECK_CONTAINS(cs_err_msg(), "unsupported algorithm");
		if (valg != CS_ALG_EDDSA)
			snprintf(want_msg, sizeof(want_msg), "%s (%d)",
			    alg_name, valg);
		else
			snprintf(want_msg, sizeof(want_msg), "EdDSA with %s",
			    json_string_value(json_object_get(jwk, "crv")));
		CHECK_CONTAINS(cs_err_msg(), want_msg);
		st->unsupported++;
	} else {
		CHECK_INT_EQ(vrc, 0);
		if (vrc != 0)
			fprintf(stderr, "  %s\n", cs_err_msg());
		st->verified++;
	}
	if (!fail && external == NULL && json_object_get(jwk, "d") == NULL &&
	    json_object_get(jwk, "d_hex") == NULL)
		goto out;
	if (!fail && external == NULL)
		vec_resign(root, msg, cbor, clen, pub, key_alg, st);
out:
	if (key != NULL)
		key->pkey = NULL;
	key_free(key);
	EVP_PKEY_free(pub);
	cs_cose_msg_free(msg);
	free(diag);
	free(cbor);
	json_decref(root);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(cose_wg_vectors)
{
	DIR *d = opendir(VEC_DIR);
	struct dirent *de;
	struct vec_stats st;
	char *names[256], path[1024];
	size_t n = 0, i, len;
	const char *saved = check_current;

	memset(&st, 0, sizeof(st));
	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < 256) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", VEC_DIR, names[i]);
		check_current = names[i];
		run_vector(path, &st);
		free(names[i]);
	}
	check_current = saved;
	printf("     cose-wg: %d files: %d verified, %d Ed25519 re-signed "
	    "byte for byte, %d ES256 re-signed and verified, %d rejected, "
	    "%d unsupported\n", st.files, st.verified, st.resigned, st.sign_rt,
	    st.rejected, st.unsupported);
	CHECK(st.files >= 12);
	CHECK_INT_EQ(st.files, st.verified + st.rejected + st.unsupported);
	CHECK(st.verified >= 3);	/* ecdsa-01, eddsa-01, sign-pass-01 */
	CHECK(st.resigned >= 1);
	CHECK(st.rejected >= 3);
	CHECK(st.unsupported >= 3);
}
