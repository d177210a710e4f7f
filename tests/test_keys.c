/*
 * test_keys: the key module against independent computations: kids hashed
 * here from i2d_PUBKEY, signatures made and checked here with EVP_DigestSign
 * and EVP_DigestVerify, file modes read back with stat, trust lists read
 * back with jansson.  Every test works in its own mkdtemp directory.
 */
#include "check.h"
#include "cs_err.h"
#include "keys.h"
#include "x509.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const int all_algs[] = { CS_ALG_ES256, CS_ALG_EDDSA, CS_ALG_SM2 };

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *
tmpdir_new(void)
{
	char tmpl[] = "/tmp/test_keys.XXXXXX";
	char *d = mkdtemp(tmpl);

	return d != NULL ? strdup(d) : NULL;
}

static void
tmpdir_free(char *dir)
{
	if (dir != NULL)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static char *
join(const char *dir, const char *name, const char *suffix)
{
	size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
	char *p = malloc(n);

	snprintf(p, n, "%s/%s%s", dir, name, suffix);
	return p;
}

/* The kid computed here, independently of keys.c. */
static void
kid_of(EVP_PKEY *pkey, uint8_t kid[CS_KID_LEN])
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len = i2d_PUBKEY(pkey, &der);

	memset(kid, 0, CS_KID_LEN);
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) && mdlen == 32)
		memcpy(kid, md, CS_KID_LEN);
	OPENSSL_free(der);
}

static void
b64url(const uint8_t *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n), i;

	while (len > 0 && out[len - 1] == '=')
		out[--len] = '\0';
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

static const EVP_MD *
md_of(int alg)
{
	return alg == CS_ALG_ES256 ? EVP_sha256() :
	    alg == CS_ALG_SM2 ? EVP_sm3() : NULL;
}

/* Sign msg with key (the SM2 ID set when with_id); malloc'd signature. */
static unsigned char *
sign(EVP_PKEY *pkey, int alg, int with_id, const char *msg, size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;

	*siglen = 0;
	if (md == NULL || EVP_DigestSignInit(md, &pctx, md_of(alg), NULL,
	    pkey) != 1)
		goto out;
	if (alg == CS_ALG_SM2 && with_id &&
	    EVP_PKEY_CTX_set1_id(pctx, CS_SM2_ID, strlen(CS_SM2_ID)) != 1)
		goto out;
	if (EVP_DigestSign(md, NULL, siglen, (const unsigned char *)msg,
	    strlen(msg)) != 1 || (sig = malloc(*siglen)) == NULL ||
	    EVP_DigestSign(md, sig, siglen, (const unsigned char *)msg,
	    strlen(msg)) != 1) {
		free(sig);
		sig = NULL;
	}
out:
	EVP_MD_CTX_free(md);
	return sig;
}

static int
verify(EVP_PKEY *pkey, int alg, const char *msg, const unsigned char *sig,
    size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (md != NULL && EVP_DigestVerifyInit(md, &pctx, md_of(alg), NULL,
	    pkey) == 1 && (alg != CS_ALG_SM2 || EVP_PKEY_CTX_set1_id(pctx,
	    CS_SM2_ID, strlen(CS_SM2_ID)) == 1))
		ok = EVP_DigestVerify(md, sig, siglen,
		    (const unsigned char *)msg, strlen(msg)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static int
write_file(const char *path, const void *buf, size_t n, mode_t mode)
{
	FILE *f;
	int ok;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(buf, 1, n, f) == n;
	ok = (fclose(f) == 0) && ok;
	return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static cs_keyring *
ring_new(void)
{
	return calloc(1, sizeof(cs_keyring));
}

/* Whether any object in j, at any depth, has a member named name. */
static int
has_member(json_t *j, const char *name)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		if (json_object_get(j, name) != NULL)
			return 1;
		json_object_foreach(j, k, v)
			if (has_member(v, name))
				return 1;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (has_member(v, name))
				return 1;
	}
	return 0;
}

TEST(alg_names)
{
	int alg = 0;

	CHECK_INT_EQ(cs_alg_from_name("es256", &alg), 0);
	CHECK_INT_EQ(alg, CS_ALG_ES256);
	CHECK_INT_EQ(cs_alg_from_name("EDDSA", &alg), 0);
	CHECK_INT_EQ(alg, CS_ALG_EDDSA);
	CHECK_INT_EQ(cs_alg_from_name("sm2", &alg), 0);
	CHECK_INT_EQ(alg, CS_ALG_SM2);
	CHECK_INT_EQ(cs_alg_from_name("PS256", &alg), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "PS256");
	CHECK_STR_EQ(cs_alg_name(CS_ALG_ES256), "ES256");
	CHECK_STR_EQ(cs_alg_name(CS_ALG_EDDSA), "EdDSA");
	CHECK_STR_EQ(cs_alg_name(CS_ALG_SM2), "SM2");
	CHECK(cs_alg_name(-37) == NULL);
}

/* generate -> save -> load, for each algorithm: the files, their modes, the
 * stem, and that the loaded halves are the generated key. */
TEST(save_load_roundtrip)
{
	static const char *file_alg[] = { "es256", "eddsa", "sm2" };
	char *dir = tmpdir_new(), *sub = NULL, prev_stem[17] = "";
	size_t i;

	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	/* cs_key_save creates a missing directory 0700. */
	sub = join(dir, "keys", "");
	for (i = 0; i < 3; i++) {
		cs_key *gen = NULL, *priv = NULL, *pub = NULL;
		uint8_t kid[CS_KID_LEN];
		char *stem = NULL, *kpath = NULL, *ppath = NULL, *pem = NULL;
		char hex[2 * CS_KID_LEN + 1], want[64];
		struct stat st;
		struct tm tm;
		size_t len = 0, j, siglen = 0;
		unsigned char *sig = NULL;
		time_t now = time(NULL);

		CHECK_INT_EQ(cs_key_generate(all_algs[i], &gen), 0);
		if (gen == NULL)
			continue;
		CHECK_INT_EQ(gen->alg, all_algs[i]);
		CHECK_INT_EQ(gen->has_private, 1);
		CHECK(gen->created >= now - 5 && gen->created <= now + 5);
		kid_of(gen->pkey, kid);
		CHECK(memcmp(kid, gen->kid, CS_KID_LEN) == 0);

		CHECK_INT_EQ(cs_key_save(gen, sub, &stem), 0);
		CHECK(stem != NULL);
		if (stem == NULL) {
			cs_key_free(gen);
			continue;
		}
		/* <YYYYmmddTHHMMSSZ>-<alg>-<kid hex> of created and kid */
		for (j = 0; j < CS_KID_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", gen->kid[j]);
		/* Keys saved within one second get distinct, increasing stem
		 * times, so the newest always sorts last. */
		snprintf(want, sizeof(want), "-%s-%s", file_alg[i], hex);
		CHECK_STR_EQ(stem + 16, want);
		gmtime_r(&gen->created, &tm);
		strftime(want, sizeof(want), "%Y%m%dT%H%M%SZ", &tm);
		CHECK(strncmp(stem, want, 16) >= 0);
		CHECK(prev_stem[0] == '\0' || strncmp(stem, prev_stem, 16) > 0);
		snprintf(prev_stem, sizeof(prev_stem), "%.16s", stem);

		CHECK_INT_EQ(stat(sub, &st), 0);
		CHECK_INT_EQ(st.st_mode & 0777, 0700);
		kpath = join(sub, stem, ".key");
		ppath = join(sub, stem, ".pub");
		CHECK_INT_EQ(stat(kpath, &st), 0);
		CHECK_INT_EQ(st.st_mode & 0777, 0600);
		CHECK_INT_EQ(stat(ppath, &st), 0);

		/* The .key is PKCS#8 PEM, the .pub SubjectPublicKeyInfo PEM. */
		pem = check_slurp(kpath, &len);
		CHECK(pem != NULL && strncmp(pem, "-----BEGIN PRIVATE KEY-----",
		    27) == 0);
		free(pem);
		pem = check_slurp(ppath, &len);
		CHECK(pem != NULL && strncmp(pem, "-----BEGIN PUBLIC KEY-----",
		    26) == 0);

		CHECK_INT_EQ(cs_key_load_private(kpath, &priv), 0);
		if (priv != NULL) {
			CHECK_INT_EQ(priv->alg, all_algs[i]);
			CHECK(memcmp(priv->kid, gen->kid, CS_KID_LEN) == 0);
			CHECK_INT_EQ(priv->has_private, 1);
			if (all_algs[i] == CS_ALG_SM2)
				CHECK(EVP_PKEY_is_a(priv->pkey, "SM2"));
		}
		CHECK_INT_EQ(cs_key_load_public((const uint8_t *)pem, len,
		    &pub), 0);
		if (pub != NULL) {
			CHECK_INT_EQ(pub->alg, all_algs[i]);
			CHECK(memcmp(pub->kid, gen->kid, CS_KID_LEN) == 0);
			CHECK_INT_EQ(pub->has_private, 0);
		}
		/* The reloaded private key signs what the .pub verifies. */
		if (priv != NULL && pub != NULL) {
			sig = sign(priv->pkey, all_algs[i], 1, "licence", &siglen);
			CHECK(sig != NULL);
			CHECK(sig != NULL && verify(pub->pkey, all_algs[i],
			    "licence", sig, siglen));
			free(sig);
		}

		/* O_EXCL: a second save of the same key is refused and the
		 * first file stays. */
		CHECK_INT_EQ(cs_key_save(gen, sub, NULL), CS_ECONFLICT);
		CHECK_CONTAINS(cs_err_msg(), stem);
		CHECK_INT_EQ(stat(kpath, &st), 0);
		CHECK_INT_EQ(st.st_mode & 0777, 0600);

		free(pem);
		free(kpath);
		free(ppath);
		free(stem);
		cs_key_free(gen);
		cs_key_free(priv);
		cs_key_free(pub);
	}
	free(sub);
	tmpdir_free(dir);
}

TEST(loose_mode_refused)
{
	char *dir = tmpdir_new(), *stem = NULL, *kpath = NULL;
	cs_key *gen = NULL, *k = NULL;
	cs_keyring *ring = NULL;

	if (dir == NULL || cs_key_generate(CS_ALG_ES256, &gen) != 0 ||
	    cs_key_save(gen, dir, &stem) != 0) {
		CHECK(!"setup");
		goto out;
	}
	kpath = join(dir, stem, ".key");
	CHECK_INT_EQ(chmod(kpath, 0644), 0);
	CHECK_INT_EQ(cs_key_load_private(kpath, &k), CS_EPERM);
	CHECK(k == NULL);
	CHECK_CONTAINS(cs_err_msg(), kpath);
	CHECK_CONTAINS(cs_err_msg(), "0644");
	CHECK_CONTAINS(cs_err_msg(), "chmod 600");

	/* Group read alone is enough to refuse, and so is the whole
	 * directory. */
	CHECK_INT_EQ(chmod(kpath, 0640), 0);
	CHECK_INT_EQ(cs_key_load_private(kpath, &k), CS_EPERM);
	CHECK_CONTAINS(cs_err_msg(), "0640");
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), CS_EPERM);
	CHECK(ring == NULL);
	CHECK_CONTAINS(cs_err_msg(), kpath);

	CHECK_INT_EQ(chmod(kpath, 0600), 0);
	CHECK_INT_EQ(cs_key_load_private(kpath, &k), 0);
out:
	cs_key_free(gen);
	cs_key_free(k);
	cs_keyring_free(ring);
	free(stem);
	free(kpath);
	tmpdir_free(dir);
}

TEST(private_key_file_errors)
{
	char *dir = tmpdir_new(), *path = NULL;
	cs_key *k = NULL;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = NULL;
	char *data = NULL;
	long n;

	if (dir == NULL || pkey == NULL) {
		CHECK(!"setup");
		goto out;
	}
	path = join(dir, "missing", ".key");
	CHECK_INT_EQ(cs_key_load_private(path, &k), CS_ENOTFOUND);
	CHECK_CONTAINS(cs_err_msg(), path);
	free(path);

	path = join(dir, "garbage", ".key");
	CHECK_INT_EQ(write_file(path, "not a key\n", 10, 0600), 0);
	CHECK(cs_key_load_private(path, &k) < 0);
	CHECK(k == NULL);
	CHECK_CONTAINS(cs_err_msg(), path);
	free(path);

	/* An encrypted key fails at once instead of prompting. */
	path = join(dir, "encrypted", ".key");
	bio = BIO_new(BIO_s_mem());
	CHECK(PEM_write_bio_PrivateKey(bio, pkey, EVP_aes_256_cbc(),
	    (unsigned char *)"secret", 6, NULL, NULL) == 1);
	n = BIO_get_mem_data(bio, &data);
	CHECK_INT_EQ(write_file(path, data, (size_t)n, 0600), 0);
	CHECK_INT_EQ(cs_key_load_private(path, &k), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "encrypted");
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	cs_key_free(k);
	free(path);
	tmpdir_free(dir);
}

/* Three keys with distinct stems, saved newest first: the keyring sorts them
 * oldest first and the newest signs; the trust list shows all three, one
 * active, no private member; read back it gives the same keys. */
TEST(keyring_and_jwks)
{
	static const int algs[] = { CS_ALG_SM2, CS_ALG_EDDSA, CS_ALG_ES256 };
	char *dir = tmpdir_new(), *json = NULL, *json2 = NULL;
	cs_key *gen[3] = { NULL, NULL, NULL };
	cs_keyring *ring = NULL, *back = NULL;
	json_t *root = NULL, *keys, *jwk;
	time_t t0 = 1700000000;
	char kid64[16];
	int i, nactive = 0;
	size_t j;

	if (dir == NULL) {
		CHECK(!"setup");
		return;
	}
	for (i = 2; i >= 0; i--) {
		CHECK_INT_EQ(cs_key_generate(algs[i], &gen[i]), 0);
		if (gen[i] == NULL)
			goto out;
		gen[i]->created = t0 + 3600 * i;
		CHECK_INT_EQ(cs_key_save(gen[i], dir, NULL), 0);
	}
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), 0);
	if (ring == NULL)
		goto out;
	CHECK_INT_EQ(ring->n, 3);
	for (j = 0; j < ring->n && j < 3; j++) {
		CHECK(memcmp(ring->keys[j]->kid, gen[j]->kid, CS_KID_LEN) == 0);
		CHECK_INT_EQ(ring->keys[j]->alg, algs[j]);
		CHECK_INT_EQ(ring->keys[j]->created, t0 + 3600 * (time_t)j);
		CHECK_INT_EQ(ring->keys[j]->has_private, 1);
		CHECK_INT_EQ(ring->keys[j]->active, j == 2);
	}
	CHECK(ring->active != NULL && ring->active == ring->keys[2]);
	CHECK(ring->active != NULL &&
	    memcmp(ring->active->kid, gen[2]->kid, CS_KID_LEN) == 0);
	CHECK(cs_keyring_find(ring, gen[1]->kid, CS_KID_LEN) ==
	    ring->keys[1]);
	CHECK(cs_keyring_find(ring, gen[1]->kid, 4) == NULL);

	CHECK_INT_EQ(cs_keyring_to_jwks(ring, &json), 0);
	if (json == NULL)
		goto out;
	CHECK(strstr(json, "\"d\"") == NULL);
	root = json_loads(json, 0, NULL);
	CHECK(root != NULL);
	CHECK(!has_member(root, "d"));
	keys = json_object_get(root, "keys");
	CHECK_INT_EQ(json_array_size(keys), 3);
	json_array_foreach(keys, j, jwk) {
		const char *status = json_string_value(json_object_get(jwk,
		    "status"));

		if (j >= 3)
			break;
		b64url(gen[j]->kid, CS_KID_LEN, kid64);
		CHECK_STR_EQ(json_string_value(json_object_get(jwk, "kid")),
		    kid64);
		CHECK_STR_EQ(json_string_value(json_object_get(jwk, "alg")),
		    cs_alg_name(algs[j]));
		CHECK_STR_EQ(json_string_value(json_object_get(jwk, "use")),
		    "sig");
		CHECK(status != NULL);
		if (status != NULL && strcmp(status, "active") == 0) {
			nactive++;
			CHECK_INT_EQ(j, 2);
		} else
			CHECK_STR_EQ(status, "verify-only");
	}
	CHECK_INT_EQ(nactive, 1);
	/* SM2 is kty EC, crv SM2; Ed25519 is OKP without y. */
	jwk = json_array_get(keys, 0);
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "kty")), "EC");
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "crv")), "SM2");
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "valid_from")),
	    "2023-11-14T22:13:20Z");
	CHECK_INT_EQ(strlen(json_string_value(json_object_get(jwk, "y"))),
	    43);
	jwk = json_array_get(keys, 1);
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "kty")), "OKP");
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "crv")),
	    "Ed25519");
	CHECK(json_object_get(jwk, "y") == NULL);
	jwk = json_array_get(keys, 2);
	CHECK_STR_EQ(json_string_value(json_object_get(jwk, "crv")), "P-256");
	CHECK_INT_EQ(strlen(json_string_value(json_object_get(jwk, "x"))),
	    43);

	CHECK_INT_EQ(cs_keyring_from_jwks(json, strlen(json), &back), 0);
	if (back != NULL) {
		CHECK_INT_EQ(back->n, 3);
		CHECK(back->active == NULL);
		for (j = 0; j < back->n && j < 3; j++) {
			CHECK(memcmp(back->keys[j]->kid, gen[j]->kid,
			    CS_KID_LEN) == 0);
			CHECK_INT_EQ(back->keys[j]->alg, algs[j]);
			CHECK_INT_EQ(back->keys[j]->has_private, 0);
			CHECK_INT_EQ(back->keys[j]->created,
			    t0 + 3600 * (time_t)j);
		}
		/* ... and exports the same keys again, all verify-only. */
		CHECK_INT_EQ(cs_keyring_to_jwks(back, &json2), 0);
		CHECK(json2 != NULL && strstr(json2, "\"active\"") == NULL);
	}
out:
	for (i = 0; i < 3; i++)
		cs_key_free(gen[i]);
	json_decref(root);
	free(json);
	free(json2);
	cs_keyring_free(ring);
	cs_keyring_free(back);
	tmpdir_free(dir);
}

/* A newer .pub without its .key verifies only; the older key with a private
 * half keeps signing.  A .pub whose name carries no time sorts first. */
TEST(keyring_verify_only)
{
	char *dir = tmpdir_new(), *stem = NULL, *from = NULL, *to = NULL;
	cs_key *signer = NULL, *other = NULL, *legacy = NULL;
	cs_key *pubonly = NULL, *pubonly2 = NULL;
	cs_keyring *ring = NULL;
	uint8_t *der = NULL;
	int n;

	if (dir == NULL || cs_key_generate(CS_ALG_ES256, &signer) != 0 ||
	    cs_key_generate(CS_ALG_EDDSA, &other) != 0 ||
	    cs_key_generate(CS_ALG_SM2, &legacy) != 0) {
		CHECK(!"setup");
		goto out;
	}
	signer->created = 1700000000;
	CHECK_INT_EQ(cs_key_save(signer, dir, NULL), 0);
	/* A public-only key saves as a .pub alone. */
	n = i2d_PUBKEY(other->pkey, &der);
	CHECK_INT_EQ(cs_key_load_public(der, (size_t)n, &pubonly), 0);
	OPENSSL_free(der);
	der = NULL;
	if (pubonly == NULL)
		goto out;
	pubonly->created = 1800000000;
	CHECK_INT_EQ(cs_key_save(pubonly, dir, &stem), 0);
	from = join(dir, stem, ".key");
	CHECK(access(from, F_OK) != 0);
	free(from);
	free(stem);
	stem = NULL;
	n = i2d_PUBKEY(legacy->pkey, &der);
	CHECK_INT_EQ(cs_key_load_public(der, (size_t)n, &pubonly2), 0);
	if (pubonly2 == NULL)
		goto out;
	pubonly2->created = 1750000000;
	CHECK_INT_EQ(cs_key_save(pubonly2, dir, &stem), 0);
	from = join(dir, stem, ".pub");
	to = join(dir, "legacy", ".pub");
	CHECK_INT_EQ(rename(from, to), 0);

	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), 0);
	if (ring == NULL)
		goto out;
	CHECK_INT_EQ(ring->n, 3);
	if (ring->n == 3) {
		CHECK(memcmp(ring->keys[0]->kid, legacy->kid, CS_KID_LEN) == 0);
		CHECK_INT_EQ(ring->keys[0]->created, 0);
		CHECK(memcmp(ring->keys[1]->kid, signer->kid, CS_KID_LEN) == 0);
		CHECK(memcmp(ring->keys[2]->kid, other->kid, CS_KID_LEN) == 0);
		CHECK_INT_EQ(ring->keys[2]->has_private, 0);
		CHECK_INT_EQ(ring->keys[2]->active, 0);
		CHECK(ring->active == ring->keys[1]);
	}
out:
	OPENSSL_free(der);
	cs_key_free(signer);
	cs_key_free(other);
	cs_key_free(legacy);
	cs_key_free(pubonly);
	cs_key_free(pubonly2);
	cs_keyring_free(ring);
	free(stem);
	free(from);
	free(to);
	tmpdir_free(dir);
}

TEST(keyring_missing_and_empty_dir)
{
	char *dir = tmpdir_new(), *missing = NULL;
	cs_keyring *ring = NULL;

	if (dir == NULL) {
		CHECK(!"setup");
		return;
	}
	missing = join(dir, "nope", "");
	CHECK_INT_EQ(cs_keyring_load_dir(missing, &ring), CS_ENOTFOUND);
	CHECK(ring == NULL);
	CHECK_CONTAINS(cs_err_msg(), missing);
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), 0);
	CHECK(ring != NULL && ring->n == 0 && ring->active == NULL);
	cs_keyring_free(ring);
	free(missing);
	tmpdir_free(dir);
}

/* Parse the one-key trust list json, apply edit to its JWK, and load it. */
static int
load_edited(const char *json, void (*edit)(json_t *), cs_keyring **out)
{
	json_t *root = json_loads(json, 0, NULL);
	char *s;
	int rc;

	edit(json_array_get(json_object_get(root, "keys"), 0));
	s = json_dumps(root, 0);
	rc = cs_keyring_from_jwks(s, strlen(s), out);
	free(s);
	json_decref(root);
	return rc;
}

static void
edit_kid(json_t *jwk)
{
	char kid[16];

	snprintf(kid, sizeof(kid), "%s",
	    json_string_value(json_object_get(jwk, "kid")));
	kid[0] = kid[0] == 'A' ? 'B' : 'A';
	json_object_set_new(jwk, "kid", json_string(kid));
}

static void
edit_x(json_t *jwk)
{
	char x[64];

	snprintf(x, sizeof(x), "%s", json_string_value(json_object_get(jwk,
	    "x")));
	x[5] = x[5] == 'A' ? 'B' : 'A';
	json_object_set_new(jwk, "x", json_string(x));
}

static void
edit_short_y(json_t *jwk)
{
	json_object_set_new(jwk, "y", json_string("AAAA"));
}

static void
edit_crv(json_t *jwk)
{
	json_object_set_new(jwk, "crv", json_string("P-384"));
}

static void
edit_kty(json_t *jwk)
{
	json_object_set_new(jwk, "kty", json_string("RSA"));
}

static void
edit_d(json_t *jwk)
{
	json_object_set_new(jwk, "d", json_string("AAAA"));
}

static void
edit_alg(json_t *jwk)
{
	json_object_set_new(jwk, "alg", json_string("EdDSA"));
}

static void
edit_valid_from(json_t *jwk)
{
	json_object_set_new(jwk, "valid_from",
	    json_string("2023-02-30T00:00:00Z"));
}

TEST(jwks_rejects)
{
	static const struct {
		void (*edit)(json_t *);
		int code;
		const char *msg;
	} cases[] = {
		{ edit_kid, CS_EINVAL, "kid" },
		{ edit_x, CS_EINVAL, "keys.0" },
		{ edit_short_y, CS_EINVAL, "y: 3 bytes, expected 32" },
		{ edit_crv, CS_EUNSUPPORTED, "P-384" },
		{ edit_kty, CS_EUNSUPPORTED, "RSA" },
		{ edit_d, CS_EINVAL, "private" },
		{ edit_alg, CS_EINVAL, "alg" },
		{ edit_valid_from, CS_EINVAL, "valid_from" },
	};
	cs_keyring *ring = ring_new(), *back = NULL;
	cs_key *k = NULL;
	char *json = NULL;
	size_t i;

	if (ring == NULL || cs_key_generate(CS_ALG_ES256, &k) != 0 ||
	    cs_keyring_add(ring, k) != 0) {
		CHECK(!"setup");
		cs_key_free(k);
		goto out;
	}
	CHECK_INT_EQ(cs_keyring_to_jwks(ring, &json), 0);
	if (json == NULL)
		goto out;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT_EQ(load_edited(json, cases[i].edit, &back),
		    cases[i].code);
		CHECK(back == NULL);
		CHECK_CONTAINS(cs_err_msg(), cases[i].msg);
	}
	/* The tampered kid is named as not matching its key. */
	load_edited(json, edit_kid, &back);
	CHECK_CONTAINS(cs_err_msg(), "does not match");
	CHECK_INT_EQ(cs_keyring_from_jwks("{\"keys\": [", 10, &back),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_keyring_from_jwks("{}", 2, &back), CS_EINVAL);
	/* A key listed twice. */
	{
		json_t *root = json_loads(json, 0, NULL), *keys;
		char *s;

		keys = json_object_get(root, "keys");
		json_array_append(keys, json_array_get(keys, 0));
		s = json_dumps(root, 0);
		CHECK_INT_EQ(cs_keyring_from_jwks(s, strlen(s), &back),
		    CS_ECONFLICT);
		free(s);
		json_decref(root);
	}
out:
	free(json);
	cs_keyring_free(ring);
	cs_keyring_free(back);
}

/* Sign with the private key; verify with the key as the trust list carries
 * it.  For SM2 the ID matters: a signature made without it fails. */
TEST(jwks_cross_verify)
{
	size_t i, siglen = 0;

	for (i = 0; i < 3; i++) {
		cs_keyring *ring = ring_new(), *back = NULL;
		cs_key *k = NULL, *imp;
		char *json = NULL;
		unsigned char *sig = NULL;
		uint8_t kid[CS_KID_LEN];

		if (ring == NULL || cs_key_generate(all_algs[i], &k) != 0 ||
		    cs_keyring_add(ring, k) != 0) {
			CHECK(!"setup");
			cs_key_free(k);
			cs_keyring_free(ring);
			continue;
		}
		CHECK(ring->active == k);
		CHECK_INT_EQ(cs_keyring_to_jwks(ring, &json), 0);
		CHECK_INT_EQ(cs_keyring_from_jwks(json, strlen(json), &back),
		    0);
		imp = back != NULL ? cs_keyring_find(back, k->kid,
		    CS_KID_LEN) : NULL;
		CHECK(imp != NULL);
		if (imp != NULL) {
			kid_of(imp->pkey, kid);
			CHECK(memcmp(kid, k->kid, CS_KID_LEN) == 0);
			sig = sign(k->pkey, all_algs[i], 1, "payload", &siglen);
			CHECK(sig != NULL);
			CHECK(sig != NULL && verify(imp->pkey, all_algs[i],
			    "payload", sig, siglen));
			CHECK(sig != NULL && !verify(imp->pkey, all_algs[i],
			    "payloaD", sig, siglen));
			free(sig);
			if (all_algs[i] == CS_ALG_SM2) {
				CHECK(EVP_PKEY_is_a(imp->pkey, "SM2"));
				sig = sign(k->pkey, all_algs[i], 0, "payload",
				    &siglen);
				CHECK(sig != NULL && !verify(imp->pkey,
				    all_algs[i], "payload", sig, siglen));
				free(sig);
			}
		}
		free(json);
		cs_keyring_free(ring);
		cs_keyring_free(back);
	}
}

/* An EC-type key on the SM2 curve becomes an SM2 key that takes the ID. */
TEST(sm2_curve_ec_key)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
	cs_key *k = NULL, *pub = NULL;
	unsigned char *sig = NULL, *der = NULL;
	size_t siglen = 0;
	int n;

	CHECK(ec != NULL && EVP_PKEY_is_a(ec, "EC"));
	CHECK_INT_EQ(cs_key_from_pkey(ec, &k), 0);
	if (k == NULL) {
		EVP_PKEY_free(ec);
		return;
	}
	CHECK_INT_EQ(k->alg, CS_ALG_SM2);
	CHECK_INT_EQ(k->has_private, 1);
	CHECK(EVP_PKEY_is_a(k->pkey, "SM2"));
	n = i2d_PUBKEY(k->pkey, &der);
	CHECK_INT_EQ(cs_key_load_public(der, (size_t)n, &pub), 0);
	sig = sign(k->pkey, CS_ALG_SM2, 1, "x", &siglen);
	CHECK(sig != NULL && pub != NULL && verify(pub->pkey, CS_ALG_SM2, "x",
	    sig, siglen));
	free(sig);
	OPENSSL_free(der);
	cs_key_free(k);
	cs_key_free(pub);
}

static X509 *
self_signed(EVP_PKEY *pkey)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	if (x == NULL || name == NULL ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"certsvc test", -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    !X509_set_pubkey(x, pkey) || !X509_sign(x, pkey, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

/* PEM and DER, SubjectPublicKeyInfo and certificate, and bare base64: one
 * kid.  Private keys, trailing bytes and garbage are refused. */
TEST(load_public_forms)
{
	cs_key *gen = NULL, *k = NULL;
	X509 *x = NULL;
	BIO *bio = NULL;
	unsigned char *der = NULL, *cder = NULL, *p;
	char *mem, b64[2048];
	uint8_t padded[1024];
	long m;
	int n, cn, i;

	if (cs_key_generate(CS_ALG_ES256, &gen) != 0 ||
	    (x = self_signed(gen->pkey)) == NULL) {
		CHECK(!"setup");
		goto out;
	}
	n = i2d_PUBKEY(gen->pkey, &der);
	cn = i2d_X509(x, &cder);
	for (i = 0; i < 5; i++) {
		const uint8_t *in = NULL;
		size_t len = 0;

		BIO_free(bio);
		bio = BIO_new(BIO_s_mem());
		switch (i) {
		case 0:
			in = der;
			len = (size_t)n;
			break;
		case 1:
			in = cder;
			len = (size_t)cn;
			break;
		case 2:
			PEM_write_bio_PUBKEY(bio, gen->pkey);
			break;
		case 3:
			BIO_puts(bio, "a certificate\n");
			PEM_write_bio_X509(bio, x);
			break;
		case 4:
			EVP_EncodeBlock((unsigned char *)b64, cder, cn);
			in = (const uint8_t *)b64;
			len = strlen(b64);
			break;
		}
		if (in == NULL) {
			m = BIO_get_mem_data(bio, &mem);
			in = (const uint8_t *)mem;
			len = (size_t)m;
		}
		CHECK_INT_EQ(cs_key_load_public(in, len, &k), 0);
		if (k != NULL) {
			CHECK_INT_EQ(k->alg, CS_ALG_ES256);
			CHECK_INT_EQ(k->has_private, 0);
			CHECK(memcmp(k->kid, gen->kid, CS_KID_LEN) == 0);
		}
		cs_key_free(k);
		k = NULL;
	}
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, gen->pkey, NULL, NULL, 0, NULL, NULL);
	m = BIO_get_mem_data(bio, &mem);
	CHECK_INT_EQ(cs_key_load_public((const uint8_t *)mem, (size_t)m, &k),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "private key");
	CHECK(n > 0 && (size_t)n < sizeof(padded));
	p = padded;
	memcpy(p, der, (size_t)n);
	p[n] = 0;
	CHECK_INT_EQ(cs_key_load_public(padded, (size_t)n + 1, &k), CS_EINVAL);
	CHECK_INT_EQ(cs_key_load_public((const uint8_t *)"hello", 5, &k),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_key_load_public(der, 0, &k), CS_EINVAL);
	CHECK(k == NULL);
out:
	BIO_free(bio);
	OPENSSL_free(der);
	OPENSSL_free(cder);
	X509_free(x);
	cs_key_free(gen);
	cs_key_free(k);
}

/* Keys of other types load as far as their type and are refused by name. */
TEST(unsupported_keys)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	unsigned char *der = NULL;
	cs_key *k = NULL;
	int n;

	CHECK(rsa != NULL && p384 != NULL);
	n = i2d_PUBKEY(rsa, &der);
	CHECK_INT_EQ(cs_key_load_public(der, (size_t)n, &k), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "RSA");
	OPENSSL_free(der);
	der = NULL;
	n = i2d_PUBKEY(p384, &der);
	CHECK_INT_EQ(cs_key_load_public(der, (size_t)n, &k), CS_EUNSUPPORTED);
	CHECK_CONTAINS(cs_err_msg(), "secp384r1");
	CHECK(k == NULL);
	/* cs_key_from_pkey leaves the key with the caller on failure. */
	CHECK_INT_EQ(cs_key_from_pkey(rsa, &k), CS_EUNSUPPORTED);
	CHECK(EVP_PKEY_get_bits(rsa) == 2048);
	CHECK_INT_EQ(cs_key_generate(0, &k), CS_EUNSUPPORTED);
	OPENSSL_free(der);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

/* The EU DCC test data's signer certificates (base64 DER) load as ES256. */
TEST(eu_dcc_certificates)
{
	char dirpath[1024], path[1536];
	DIR *d;
	struct dirent *de;
	int seen = 0;

	snprintf(dirpath, sizeof(dirpath), "%s/dgc", CS_VECTORS_DIR);
	if ((d = opendir(dirpath)) == NULL) {
		printf("# %s missing: EU DCC certificates skipped\n", dirpath);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		json_t *root;
		const char *cert;
		cs_key *k = NULL;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		root = json_load_file(path, 0, NULL);
		cert = json_string_value(json_object_get(json_object_get(root,
		    "TESTCTX"), "CERTIFICATE"));
		if (cert != NULL) {
			seen++;
			CHECK_INT_EQ(cs_key_load_public((const uint8_t *)cert,
			    strlen(cert), &k), 0);
			if (k == NULL)
				fprintf(stderr, "%s: %s\n", de->d_name,
				    cs_err_msg());
			CHECK(k != NULL && k->alg == CS_ALG_ES256);
			cs_key_free(k);
		}
		json_decref(root);
	}
	closedir(d);
	CHECK(seen > 0);
}

/* Certificates (SPEC §12): made for every algorithm, signed by the key it
 * certifies (checked here with X509_verify), written beside the key by
 * cs_keyring_ensure_certs for a key that has none, read back with the
 * key, refused when it certifies another key, and carried in the trust
 * list's x5c as the DER of the file. */
TEST(certificates)
{
	char *dir = tmpdir_new(), *path = NULL, *json = NULL;
	cs_key *k = NULL, *other = NULL;
	cs_keyring *ring = NULL;
	X509 *x = NULL;
	char cn[80];
	int made = -1;
	size_t i;
	json_t *root = NULL, *x5c;
	FILE *f;

	for (i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		CHECK_INT_EQ(cs_key_generate(all_algs[i], &k), 0);
		CHECK_INT_EQ(cs_x509_make(k, "某市数据局证照库", k->created, &x), 0);
		if (all_algs[i] == CS_ALG_SM2) {
			/* Verified with the SPEC §4 ID it was signed with. */
			ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();

			ASN1_OCTET_STRING_set(id, (const unsigned char *)
			    CS_SM2_ID, (int)strlen(CS_SM2_ID));
			X509_set0_distinguishing_id(x, id);
		}
		CHECK_INT_EQ(X509_verify(x, k->pkey), 1);
		cs_x509_subject_cn(x, cn, sizeof(cn));
		CHECK_STR_EQ(cn, "某市数据局证照库");
		X509_free(x);
		x = NULL;
		cs_key_free(k);
		k = NULL;
	}
	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &k), 0);
	CHECK_INT_EQ(cs_x509_make(k, "", 0, &x), CS_EINVAL);
	CHECK_INT_EQ(cs_key_save(k, dir, NULL), 0);
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), 0);
	CHECK(ring->active != NULL && ring->active->cert == NULL);
	CHECK_INT_EQ(cs_keyring_ensure_certs(ring, dir, "lib", &made), 0);
	CHECK_INT_EQ(made, 1);
	CHECK(ring->active->cert != NULL);
	path = join(dir, ring->active->stem, ".crt");
	cs_keyring_free(ring);
	ring = NULL;
	/* Read back with the key; a second start makes none. */
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), 0);
	CHECK(ring->active->cert != NULL);
	CHECK_INT_EQ(cs_keyring_ensure_certs(ring, dir, "lib", &made), 0);
	CHECK_INT_EQ(made, 0);
	CHECK_INT_EQ(cs_keyring_to_jwks(ring, &json), 0);
	root = json_loads(json, 0, NULL);
	x5c = json_object_get(json_array_get(json_object_get(root, "keys"), 0),
	    "x5c");
	CHECK(json_is_array(x5c) && json_array_size(x5c) == 1);
	{
		/* The base64 of x5c is the DER of the .crt file. */
		const char *b = json_string_value(json_array_get(x5c, 0));
		unsigned char der[2048];
		const unsigned char *dp = der;
		int n = EVP_DecodeBlock(der, (const unsigned char *)b,
		    (int)strlen(b));
		X509 *y;

		CHECK(n > 0);
		y = d2i_X509(NULL, &dp, n);
		CHECK(y != NULL && X509_cmp(y, ring->active->cert) == 0);
		X509_free(y);
	}
	cs_keyring_free(ring);
	ring = NULL;
	/* A certificate of another key beside it: the load fails. */
	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &other), 0);
	CHECK_INT_EQ(cs_x509_make(other, "lib", 0, &x), 0);
	CHECK((f = fopen(path, "w")) != NULL);
	PEM_write_X509(f, x);
	fclose(f);
	CHECK_INT_EQ(cs_keyring_load_dir(dir, &ring), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "not for this key");
	X509_free(x);
	json_decref(root);
	free(json);
	free(path);
	cs_key_free(k);
	cs_key_free(other);
	cs_keyring_free(ring);
	tmpdir_free(dir);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(alg_names);
	RUN(save_load_roundtrip);
	RUN(loose_mode_refused);
	RUN(private_key_file_errors);
	RUN(keyring_and_jwks);
	RUN(keyring_verify_only);
	RUN(keyring_missing_and_empty_dir);
	RUN(jwks_rejects);
	RUN(jwks_cross_verify);
	RUN(sm2_curve_ec_key);
	RUN(load_public_forms);
	RUN(unsupported_keys);
	RUN(eu_dcc_certificates);
	RUN(certificates);
	return check_summary();
}
