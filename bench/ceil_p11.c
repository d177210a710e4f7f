/*
 * ceil_p11: the PKCS#11 token's own signing rate, the ceiling of issuance
 * with keys = a PKCS#11 URI (bench/pkcs11.sh, bench/README.md).  The key
 * is loaded as serve loads it (cs_keyring_load_pkcs11: libp11, an EVP_PKEY
 * whose EC method signs with C_Sign), and each operation is one
 * EVP_DigestSign of a 500-byte message with its Init, on one thread, as
 * the issuance writer signs.
 *
 * Usage: ceil_p11 URI [SECONDS]   Output: "p11_sign ES256 RATE".
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cs_err.h"
#include "pkcs11.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	unsigned char msg[500], sig[128];
	double secs = argc > 2 ? atof(argv[2]) : 3.0, t0, t;
	cs_keyring *ring = NULL;
	EVP_MD_CTX *m;
	size_t sl;
	long n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: ceil_p11 URI [SECONDS]\n");
		return 2;
	}
	if (cs_keyring_load_pkcs11(argv[1], NULL, &ring) != 0 ||
	    ring->active == NULL) {
		fprintf(stderr, "ceil_p11: %s\n", cs_err_msg());
		return 1;
	}
	for (sl = 0; sl < sizeof(msg); sl++)
		msg[sl] = (unsigned char)sl;
	m = EVP_MD_CTX_new();
	t0 = now();
	do {
		sl = sizeof(sig);
		if (EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL,
		    ring->active->pkey) != 1 ||
		    EVP_DigestSign(m, sig, &sl, msg, sizeof(msg)) != 1) {
			fprintf(stderr, "ceil_p11: signing failed\n");
			return 1;
		}
		n++;
		t = now();
	} while (t - t0 < secs);
	printf("p11_sign ES256 %.1f\n", (double)n / (t - t0));
	EVP_MD_CTX_free(m);
	cs_keyring_free(ring);
	return 0;
}
