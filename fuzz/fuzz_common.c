/*
 * fuzz_common.c: the fixed keyring, temporary directories and small helpers
 * of the fuzz targets (fuzz.h).
 */
#include "fuzz.h"

#include <ftw.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_err.h"

/*
 * Fuzz-only keys, generated once with `openssl genpkey` for this file.
 * They are in the repository on purpose: a crash found with a signed input
 * must replay anywhere, which needs the same keys.  Nothing trusts them.
 */
static const char *const fuzz_pems[] = {
	/* ES256 (P-256) */
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1m4Nkvqc1RiGaLjh\n"
	"qCI9Iu7Uh4tdiPptfwxMxc1FeIyhRANCAATW6LfIXHwUg87A4pzhneFtAutWEICK\n"
	"EpwcDIZodosF7QOfbWkelqGv/+Hb6mMcTZNawLrJ9V4Zuu3F8OBYJWAq\n"
	"-----END PRIVATE KEY-----\n",
	/* EdDSA (Ed25519) */
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIJJtAr+jHgzDyA7IxgOyHl3eTTDJ85IucHZ4peCD+kJt\n"
	"-----END PRIVATE KEY-----\n",
	/* SM2 */
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgR3gZnZwklLaRX+nf\n"
	"JvPBnriRFczmylreBr7R+JyribqhRANCAATuWfVAcrx8XErbuNQktVyVTJan1kgT\n"
	"Tvim84YoLV6wPKKWAY4AhvO11vl/5NVkBp9BiM8nqlyr9/ke9kvtTurd\n"
	"-----END PRIVATE KEY-----\n",
};

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
	BIO *bio;
	size_t i;

	if (ring != NULL)
		return ring;
	if ((ring = calloc(1, sizeof(*ring))) == NULL)
		fuzz_fail("out of memory");
	for (i = 0; i < sizeof(fuzz_pems) / sizeof(fuzz_pems[0]); i++) {
		bio = BIO_new_mem_buf(fuzz_pems[i], -1);
		pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
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
