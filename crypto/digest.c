#include "digest.h"

#include <pthread.h>

#include <openssl/evp.h>

#include "cs_err.h"

/* EVP_sha256() is a legacy handle that OpenSSL 3 looks up in its provider
 * store on every EVP_DigestInit, about half of what hashing a 40-byte API
 * token costs.  The algorithm fetched once serves every thread (fetched
 * objects are immutable and shared); it lives as long as the process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
cs_sha256(const void *p, size_t n, uint8_t out[CS_SHA256_LEN])
{
	unsigned int len = CS_SHA256_LEN;

	pthread_once(&sha256_once, fetch_sha256);
	if (sha256_md == NULL ||
	    EVP_Digest(p, n, out, &len, sha256_md, NULL) != 1)
		return cs_err_openssl("SHA-256");
	return 0;
}
