/*
 * ceil_sign: the signature ceiling of the benchmark (bench/README.md).
 * Raw EVP sign and verify rates over a 500-byte message, one thread, for
 * each algorithm certsvc signs with (ES256, Ed25519, SM2 with SM3).  The
 * key is made once; each operation is one EVP_DigestSign/Verify with its
 * Init on a reused EVP_MD_CTX, which is the least any verifier of a new
 * message must do.
 *
 * Usage: ceil_sign [SECONDS-PER-RATE [ALG]]   (default 1, all three)
 * Output, one line per rate: "sign ES256 54000.0" / "verify ES256 20600.0".
 * ceil_sign --count N ALG: exactly N signatures then N verifications of
 * ALG, for counting instructions per operation (bench/profile.sh).
 */
#include <openssl/evp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "ceil_sign: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* SM2 needs its distinguishing ID set on both sides (NOTES.md). */
static void
init_ctx(EVP_MD_CTX *ctx, const char *alg, EVP_PKEY *key, int sign)
{
	const EVP_MD *md = strcmp(alg, "ES256") == 0 ? EVP_sha256() :
	    strcmp(alg, "SM2") == 0 ? EVP_sm3() : NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	ok = sign ? EVP_DigestSignInit(ctx, &pctx, md, NULL, key) :
	    EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key);
	if (ok != 1)
		die("init");
	if (strcmp(alg, "SM2") == 0 &&
	    EVP_PKEY_CTX_set1_id(pctx, "1234567812345678", 16) != 1)
		die("sm2 id");
}

static long fixed_count;  /* --count: operations per rate, not seconds */

static void
rate(const char *alg, double secs)
{
	unsigned char msg[500], sig[256];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY *key;
	size_t siglen = sizeof(sig);
	double t0, t;
	long n;

	memset(msg, 'x', sizeof(msg));
	if (strcmp(alg, "ES256") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "EdDSA") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	if (key == NULL || ctx == NULL)
		die("keygen");
	for (n = 0, t0 = now(); fixed_count ? n < fixed_count :
	    (t = now()) - t0 < secs;) {
		int i;
		for (i = 0; i < 64; i++, n++) {
			siglen = sizeof(sig);
			EVP_MD_CTX_reset(ctx);
			init_ctx(ctx, alg, key, 1);
			if (EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(msg)) != 1)
				die("sign");
		}
	}
	t = now();
	printf("sign %s %.1f\n", alg, (double)n / (t - t0));
	for (n = 0, t0 = now(); fixed_count ? n < fixed_count :
	    (t = now()) - t0 < secs;) {
		int i;
		for (i = 0; i < 64; i++, n++) {
			EVP_MD_CTX_reset(ctx);
			init_ctx(ctx, alg, key, 0);
			if (EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) != 1)
				die("verify");
		}
	}
	t = now();
	printf("verify %s %.1f\n", alg, (double)n / (t - t0));
	fflush(stdout);
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(ctx);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;

	if (argc == 4 && strcmp(argv[1], "--count") == 0) {
		fixed_count = atol(argv[2]);
		rate(argv[3], 0);
		return 0;
	}
	if (secs <= 0)
		secs = 1.0;
	if (argc == 3) {  /* one algorithm */
		rate(argv[2], secs);
		return 0;
	}
	rate("ES256", secs);
	rate("EdDSA", secs);
	rate("SM2", secs);
	return 0;
}
