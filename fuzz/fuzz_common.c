/*
 * fuzz_common.c: the fixed keyring, temporary directories and small helpers
 * of the fuzz targets (fuzz.h).
 */
#include "fuzz.h"

#include <ftw.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_err.h"

/*
 * Fuzz-only keys, derived from fixed labels rather than stored: a crash
 * found with a signed input must replay anywhere, which needs the same keys
 * in every process (fuzz/seeds.py signs its seeds with them through
 * CS_FUZZ_WRITE_KEYS), yet no private key belongs in the repository.  The
 * private scalar (or Ed25519 seed) is SHA-256 of the label.  Nothing trusts
 * these keys.
 */
static const struct {
	const char *label;
	const char *type;   /* EVP_PKEY type name */
	const char *group;  /* curve, for the EC types */
	int nid;
} fuzz_keys[] = {
	{"certsvc fuzz key ES256", "EC", "prime256v1", NID_X9_62_prime256v1},
	{"certsvc fuzz key EdDSA", "ED25519", NULL, NID_undef},
	{"certsvc fuzz key SM2", "SM2", "SM2", NID_sm2},
};

/* An EC (or SM2) key pair whose private scalar is d: the public point is
 * d·G, computed here since EVP_PKEY_fromdata does not derive it. */
static EVP_PKEY *
ec_from_scalar(const char *type, const char *group, int nid, const uint8_t d[32])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *pub = g ? EC_POINT_new(g) : NULL;
	BIGNUM *priv = BN_bin2bn(d, 32, NULL);
	uint8_t oct[65];
	size_t n = 0;

	if (bld != NULL && pub != NULL && priv != NULL &&
	    EC_POINT_mul(g, pub, priv, NULL, NULL, NULL) == 1)
		n = EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED,
		    oct, sizeof(oct), NULL);
	if (n == sizeof(oct) &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, oct,
	    n) == 1 && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(priv);
	EC_POINT_free(pub);
	EC_GROUP_free(g);
	return pkey;
}

static EVP_PKEY *
derive_key(size_t i)
{
	uint8_t d[32];
	EVP_PKEY *pkey;

	SHA256((const uint8_t *)fuzz_keys[i].label, strlen(fuzz_keys[i].label), d);
	if (fuzz_keys[i].group == NULL)
		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d,
		    sizeof(d));
	else
		pkey = ec_from_scalar(fuzz_keys[i].type, fuzz_keys[i].group,
		    fuzz_keys[i].nid, d);
	OPENSSL_cleanse(d, sizeof(d));
	return pkey;
}

static cs_keyring *ring;
static char *tmpdir;

static void rm_tmpdir(void);

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	/* abort() skips the atexit handlers: no temporary store left behind. */
	rm_tmpdir();
	abort();
}

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		fuzz_fail("out of memory");
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static void
free_ring(void)
{
	cs_keyring_free(ring);
	ring = NULL;
}

const cs_keyring *
fuzz_keyring(void)
{
	EVP_PKEY *pkey;
	cs_key *key;
	size_t i;

	if (ring != NULL)
		return ring;
	if ((ring = calloc(1, sizeof(*ring))) == NULL)
		fuzz_fail("out of memory");
	for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++) {
		pkey = derive_key(i);
		if (pkey == NULL || cs_key_from_pkey(pkey, &key) != 0)
			fuzz_fail("fixed key %zu: %s", i, cs_err_msg());
		key->created = 1700000000 + (time_t)i;
		if (cs_keyring_add(ring, key) != 0)
			fuzz_fail("keyring: %s", cs_err_msg());
	}
	atexit(free_ring);
	return ring;
}

const cs_key *
fuzz_key(int alg)
{
	const cs_keyring *r = fuzz_keyring();
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->keys[i]->alg == alg)
			return r->keys[i];
	fuzz_fail("no fixed key for alg %d", alg);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
rm_tmpdir(void)
{
	if (tmpdir != NULL)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

const char *
fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	struct stat st;

	if (tmpdir != NULL)
		return tmpdir;
	/* tmpfs when there is one: the issue target fsyncs every licence. */
	if (base == NULL || *base == '\0')
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ?
		    "/dev/shm" : "/tmp";
	if (asprintf(&tmpdir, "%s/certsvc-fuzz-XXXXXX", base) < 0 ||
	    mkdtemp(tmpdir) == NULL)
		fuzz_fail("cannot create a temporary directory under %s", base);
	atexit(rm_tmpdir);
	return tmpdir;
}
