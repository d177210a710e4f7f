/*
 * keys: signing keys, the key directory and the trust list (SPEC §4, §5, §7).
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
#include "encode.h"
#include "rfc3339.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Key and certificate files are a few hundred bytes to a few KiB; a larger
 * file is not one, and is not read into memory. */
#define KEY_FILE_MAX (64 * 1024)
/* P-256 and SM2 coordinates, and Ed25519 public keys, are 32 bytes. */
#define COORD_LEN 32
/* The longest value the JWK base64url coder handles (a coordinate or kid). */
#define B64_MAX_BYTES 48
#define B64_MAX_CHARS 64

static const struct alg_info {
	int alg;
	const char *name;       /* COSE/JOSE name, as in the JWK "alg" */
	const char *file;       /* in key file stems */
} alg_table[] = {
	{ CS_ALG_ES256, "ES256", "es256" },
	{ CS_ALG_EDDSA, "EdDSA", "eddsa" },
	{ CS_ALG_SM2, "SM2", "sm2" },
};

static void b64url_encode(const uint8_t *, size_t, char *);
static int b64url_decode(const char *, uint8_t *, size_t);

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

/*
 * The time a key file stem starts with, "YYYYmmddTHHMMSSZ" (the ISO 8601
 * basic form, not RFC 3339), read by writing it out in the RFC 3339 form
 * and parsing that with CS_RFC3339_EXACT: a time that does not exist
 * (February 30th, a leap second) or lies at or before 1970 is refused
 * rather than normalised, so a mistyped stem never silently becomes
 * another time.  s may continue after the time.
 */
static int
stem_time_parse(const char *s, time_t *out)
{
	char r[21];
	int64_t ms;

	if (strnlen(s, 16) < 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	snprintf(r, sizeof(r), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 4,
	    s + 6, s + 9, s + 11, s + 13);
	if (cs_rfc3339_parse_ms(r, CS_RFC3339_EXACT, &ms) != 0)
		return -1;
	*out = (time_t)(ms / 1000);
	return 0;
}

/* The same form for a new stem: t's RFC 3339 UTC form without its '-' and
 * ':' into out[17]. */
static void
stem_time_format(time_t t, char out[17])
{
	char r[21];
	size_t i, n = 0;

	cs_rfc3339(t, r);
	for (i = 0; r[i] != '\0'; i++)
		if (r[i] != '-' && r[i] != ':')
			out[n++] = r[i];
	out[n] = '\0';
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
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int len, rc = 0;

	if ((len = i2d_PUBKEY(pkey, &der)) <= 0) {
		rc = cs_err_openssl("encoding the public key");
		goto out;
	}
	if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL)) {
		rc = cs_err_openssl("hashing the public key");
		goto out;
	}
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

static char *
path_join(const char *dir, const char *name, const char *suffix)
{
	size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
	char *p;

	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%s/%s%s", dir, name, suffix);
	return p;
}

static int
errno_code(int e)
{
	switch (e) {
	case ENOENT:
		return CS_ENOTFOUND;
	case EACCES:
	case EPERM:
		return CS_EPERM;
	case EEXIST:
		return CS_ECONFLICT;
	default:
		return CS_EIO;
	}
}

/* The key directory is created private to the service user: it holds the
 * signing keys, and listing it already tells which keys exist. */
static int
ensure_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return cs_err_set(errno_code(errno), "%s: cannot create the key "
		    "directory: %s", dir, strerror(errno));
	if (stat(dir, &st) != 0)
		return cs_err_set(errno_code(errno), "%s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cs_err_set(CS_EINVAL, "%s: exists and is not a directory",
		    dir);
	return 0;
}

/*
 * Create path with O_EXCL and write pkey into it as PEM: the private key as
 * unencrypted PKCS#8 (the 0600 mode is its protection; a passphrase would
 * have to sit beside it for an unattended service) or the public key as
 * SubjectPublicKeyInfo.  O_EXCL because replacing a key file would orphan
 * every licence signed with the old key, and because a file someone created
 * in advance (with a looser mode, or as a symlink) must not receive a private
 * key.  The data is on disk when this returns; a partial file is removed.
 */
static int
write_pem(const char *path, EVP_PKEY *pkey, int private, mode_t mode)
{
	BIO *bio = NULL;
	int fd = -1, rc = 0, made = 0, ok, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0) {
		rc = cs_err_set(errno_code(errno), "%s: %s%s", path,
		    strerror(errno), errno == EEXIST ?
		    " (refusing to overwrite a key file)" : "");
		goto out;
	}
	made = 1;
	if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		rc = cs_err_openssl("opening a key file");
		goto out;
	}
	if (private)
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
		    NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, pkey);
	if (!ok || BIO_flush(bio) != 1) {
		rc = cs_err_wrap(cs_err_openssl("writing the key"), "%s: ",
		    path);
		goto out;
	}
	if (fsync(fd) != 0) {
		rc = cs_err_set(CS_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r != 0) {
		rc = cs_err_set(CS_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
out:
	BIO_free(bio);
	if (fd >= 0)
		close(fd);
	if (rc < 0 && made)
		unlink(path);
	return rc;
}

/* Make the new directory entries durable too; best effort, since the files
 * themselves were synced and a lost entry only loses a fresh key. */
static void
sync_dir(const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/*
 * The time a new key's stem carries: t, moved on by a second while another
 * key's stem in dir already carries it.  The directory orders keys by their
 * stems and the newest signs, so two keys made within one second must not
 * tie (a tie would fall to the algorithm's name).  The same key saved again
 * keeps t, so its files collide and the save is refused.
 */
static time_t
stem_time(const char *dir, const char *kid_hex, time_t t)
{
	struct dirent *de;
	time_t seen;
	int moved;
	DIR *d;

	do {
		moved = 0;
		if ((d = opendir(dir)) == NULL)
			return t;
		while ((de = readdir(d)) != NULL)
			if (stem_time_parse(de->d_name, &seen) == 0 &&
			    seen == t && strstr(de->d_name, kid_hex) == NULL) {
				t++;
				moved = 1;
				break;
			}
		closedir(d);
	} while (moved);
	return t;
}

/*
 * Write <dir>/<stem>.key (when the key has its private half) and
 * <dir>/<stem>.pub.  A public-only key (another signer's, or a retired one)
 * gets its .pub alone, which the directory loader reads as a verify-only
 * key.  The stem's time is key->created, or now when that is 0 (key is
 * const, so it is not updated: cs_key_generate already sets created).  On
 * failure nothing is left behind.
 */
int
cs_key_save(const cs_key *key, const char *dir, char **stem_out)
{
	const struct alg_info *ai;
	char stem[80], ts[32], hex[2 * CS_KID_LEN + 1];
	char *keypath = NULL, *pubpath = NULL, *dup = NULL;
	int rc = 0, wrote_key = 0;

	if (stem_out != NULL)
		*stem_out = NULL;
	if (key == NULL || key->pkey == NULL || dir == NULL || *dir == '\0')
		return cs_err_set(CS_EINVAL, "no key or no directory given");
	if ((ai = alg_lookup(key->alg)) == NULL)
		return cs_err_set(CS_EUNSUPPORTED, "key of unknown algorithm %d",
		    key->alg);
	cs_hex_encode_into(key->kid, CS_KID_LEN, hex);
	stem_time_format(stem_time(dir, hex, key->created != 0 ? key->created
	    : time(NULL)), ts);
	snprintf(stem, sizeof(stem), "%s-%s-%s", ts, ai->file, hex);
	if ((keypath = path_join(dir, stem, ".key")) == NULL ||
	    (pubpath = path_join(dir, stem, ".pub")) == NULL ||
	    (stem_out != NULL && (dup = strdup(stem)) == NULL)) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = ensure_dir(dir)) < 0)
		goto out;
	if (key->has_private) {
		if ((rc = write_pem(keypath, key->pkey, 1, 0600)) < 0)
			goto out;
		wrote_key = 1;
	}
	if ((rc = write_pem(pubpath, key->pkey, 0, 0644)) < 0)
		goto out;
	sync_dir(dir);
	if (stem_out != NULL) {
		*stem_out = dup;
		dup = NULL;
	}
out:
	if (rc < 0 && wrote_key)
		unlink(keypath);
	free(keypath);
	free(pubpath);
	free(dup);
	return rc;
}

/*
 * Read a whole key file (at most KEY_FILE_MAX bytes) into one buffer that is
 * never reallocated, so no stray copy of key bytes is left in freed memory;
 * the caller wipes and frees it.  With private set, the file must be a
 * regular file that neither group nor others can access: checked with fstat
 * on the descriptor that is then read, so the file cannot be swapped between
 * the check and the read.
 */
static int
read_key_file(const char *path, int private, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = -1, rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cs_err_set(errno_code(errno), "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = cs_err_set(CS_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cs_err_set(CS_EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & 077) != 0) {
		rc = cs_err_set(CS_EPERM, "%s: mode %04o lets group or others "
		    "read the private key; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((b = malloc(KEY_FILE_MAX + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	while (n <= KEY_FILE_MAX) {
		r = read(fd, b + n, KEY_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cs_err_set(CS_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > KEY_FILE_MAX) {
		rc = cs_err_set(CS_ETOOBIG, "%s: over %d bytes, not a key file",
		    path, KEY_FILE_MAX);
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
out:
	if (b != NULL) {
		OPENSSL_cleanse(b, n);
		free(b);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The service runs unattended: an encrypted key must fail, never prompt on
 * a terminal (OpenSSL's default callback would). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	*(int *)u = 1;
	return -1;
}

int
cs_key_load_private(const char *path, cs_key **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	cs_key *key = NULL;
	int asked = 0, rc = 0;

	*out = NULL;
	if (path == NULL)
		return cs_err_set(CS_EINVAL, "no key file given");
	if ((rc = read_key_file(path, 1, &buf, &len)) < 0)
		goto out;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		rc = cs_err_openssl("reading the key");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
	if (pkey == NULL) {
		if (asked) {
			ERR_clear_error();
			rc = cs_err_set(CS_EINVAL, "%s: the private key is "
			    "encrypted; certsvc reads unencrypted PKCS#8 "
			    "protected by file mode 0600", path);
		} else
			rc = cs_err_wrap(cs_err_openssl("not a PEM private key"),
			    "%s: ", path);
		goto out;
	}
	if ((rc = cs_key_from_pkey(pkey, &key)) < 0) {
		cs_err_wrap(rc, "%s: ", path);
		goto out;
	}
	pkey = NULL;
	if (!key->has_private) {
		rc = cs_err_set(CS_EINVAL, "%s: holds no private key", path);
		goto out;
	}
	*out = key;
	key = NULL;
out:
	BIO_free(bio);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	EVP_PKEY_free(pkey);
	cs_key_free(key);
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
	free(ring);
}

static cs_keyring *
keyring_new(void)
{
	return calloc(1, sizeof(cs_keyring));
}

struct dir_entry {
	char *name;
	time_t created;
};

static int
dir_entry_cmp(const void *a, const void *b)
{
	const struct dir_entry *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

/* Whether the listing holds <stem>.key for the <stem>.pub named pub. */
static int
has_private_sibling(const struct dir_entry *ents, size_t n, const char *pub)
{
	size_t i, stem = strlen(pub) - 4;

	for (i = 0; i < n; i++)
		if (strlen(ents[i].name) == stem + 4 &&
		    strncmp(ents[i].name, pub, stem) == 0 &&
		    has_suffix(ents[i].name, ".key"))
			return 1;
	return 0;
}

/*
 * Every <stem>.key (a signing key, mode-checked) and every <stem>.pub without
 * its .key (verify-only) of dir; other names, and names starting with a dot,
 * are ignored.  created comes from the stem (0, sorting first, when the stem
 * does not start with a time).  One bad file fails the whole load: a service
 * that started with a key silently missing, or a loose private key, would be
 * worse than one that does not start.
 */
int
cs_keyring_load_dir(const char *dir, cs_keyring **out)
{
	DIR *d = NULL;
	struct dirent *de;
	struct dir_entry *ents = NULL, *grown;
	size_t nents = 0, cap = 0, i;
	cs_keyring *ring = NULL;
	cs_key *key = NULL;
	char *path = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = 0;

	*out = NULL;
	if (dir == NULL)
		return cs_err_set(CS_EINVAL, "no key directory given");
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			rc = cs_err_set(CS_ENOTFOUND, "%s: no such key "
			    "directory (create a key with certsvc keygen)", dir);
		else
			rc = cs_err_set(errno == ENOTDIR ? CS_EINVAL :
			    errno_code(errno), "%s: %s", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				rc = cs_err_set(CS_EIO, "%s: %s", dir,
				    strerror(errno));
				goto out;
			}
			break;
		}
		if (de->d_name[0] == '.' || !(has_suffix(de->d_name, ".key") ||
		    has_suffix(de->d_name, ".pub")))
			continue;
		if (nents == cap) {
			cap = cap ? 2 * cap : 16;
			if ((grown = realloc(ents, cap * sizeof(*ents))) ==
			    NULL) {
				rc = cs_err_set(CS_ENOMEM, "out of memory");
				goto out;
			}
			ents = grown;
		}
		if ((ents[nents].name = strdup(de->d_name)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		if (stem_time_parse(de->d_name, &ents[nents].created) < 0)
			ents[nents].created = 0;
		nents++;
	}
	if (nents > 0)
		qsort(ents, nents, sizeof(*ents), dir_entry_cmp);
	if ((ring = keyring_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nents; i++) {
		if (has_suffix(ents[i].name, ".pub") &&
		    has_private_sibling(ents, nents, ents[i].name))
			continue;
		free(path);
		if ((path = path_join(dir, ents[i].name, "")) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		if (has_suffix(ents[i].name, ".key")) {
			if ((rc = cs_key_load_private(path, &key)) < 0)
				goto out;
		} else {
			if ((rc = read_key_file(path, 0, &buf, &len)) < 0)
				goto out;
			rc = cs_key_load_public(buf, len, &key);
			free(buf);
			buf = NULL;
			if (rc < 0) {
				cs_err_wrap(rc, "%s: ", path);
				goto out;
			}
		}
		key->created = ents[i].created;
		if ((rc = cs_keyring_add(ring, key)) < 0) {
			cs_err_wrap(rc, "%s: ", path);
			goto out;
		}
		key = NULL;
	}
	*out = ring;
	ring = NULL;
out:
	if (d != NULL)
		closedir(d);
	for (i = 0; i < nents; i++)
		free(ents[i].name);
	free(ents);
	free(path);
	free(buf);
	cs_key_free(key);
	cs_keyring_free(ring);
	return rc;
}

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
	int rc = 0;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) ||
	    BN_bn2binpad(bx, x, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(by, y, COORD_LEN) != COORD_LEN)
		rc = cs_err_openssl("reading the public key coordinates");
	BN_free(bx);
	BN_free(by);
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
	if ((ring = keyring_new()) == NULL) {
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
