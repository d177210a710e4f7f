/*
 * keyfile: the key directory (SPEC §7): saving a key as its PEM files
 * <stem>.key and <stem>.pub, loading a private key file (mode-checked,
 * never prompting), and loading a whole directory into a keyring.  The
 * stem starts with the key's time in the ISO 8601 basic form
 * YYYYmmddTHHMMSSZ, read and written through crypto/rfc3339.
 */
#include "keyfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cs_err.h"
#include "encode.h"
#include "keys_internal.h"
#include "rfc3339.h"
#include "x509.h"

/*
 * The time a key file stem starts with, "YYYYmmddTHHMMSSZ" (the ISO 8601
 * basic form, not RFC 3339), read by writing it out in the RFC 3339 form
 * and parsing that with CS_RFC3339_EXACT: a time that does not exist
 * (February 30th, a leap second) or lies at or before 1970 is refused
 * rather than normalised, so a mistyped stem never silently becomes
 * another time.  s may continue after the time.
 */
int
cs_keys_stem_time(const char *s, time_t *out)
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
void
cs_keys_stem_format(time_t t, char out[17])
{
	char r[21];
	size_t i, n = 0;

	cs_rfc3339(t, r);
	for (i = 0; r[i] != '\0'; i++)
		if (r[i] != '-' && r[i] != ':')
			out[n++] = r[i];
	out[n] = '\0';
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
 * SubjectPublicKeyInfo, or cert (when not NULL) as a certificate.  O_EXCL because replacing a key file would orphan
 * every licence signed with the old key, and because a file someone created
 * in advance (with a looser mode, or as a symlink) must not receive a private
 * key.  The data is on disk when this returns; a partial file is removed.
 */
static int
write_pem(const char *path, EVP_PKEY *pkey, X509 *cert, int private,
    mode_t mode)
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
	if (cert != NULL)
		ok = PEM_write_bio_X509(bio, cert);
	else if (private)
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
			if (cs_keys_stem_time(de->d_name, &seen) == 0 &&
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
	const char *file;
	char stem[80], ts[32], hex[2 * CS_KID_LEN + 1];
	char *keypath = NULL, *pubpath = NULL, *crtpath = NULL, *dup = NULL;
	int rc = 0, wrote_key = 0, wrote_pub = 0;

	if (stem_out != NULL)
		*stem_out = NULL;
	if (key == NULL || key->pkey == NULL || dir == NULL || *dir == '\0')
		return cs_err_set(CS_EINVAL, "no key or no directory given");
	if ((file = cs_keys_alg_file(key->alg)) == NULL)
		return cs_err_set(CS_EUNSUPPORTED, "key of unknown algorithm %d",
		    key->alg);
	cs_hex_encode_into(key->kid, CS_KID_LEN, hex);
	cs_keys_stem_format(stem_time(dir, hex, key->created != 0 ? key->created
	    : time(NULL)), ts);
	snprintf(stem, sizeof(stem), "%s-%s-%s", ts, file, hex);
	if ((keypath = path_join(dir, stem, ".key")) == NULL ||
	    (pubpath = path_join(dir, stem, ".pub")) == NULL ||
	    (crtpath = path_join(dir, stem, ".crt")) == NULL ||
	    (stem_out != NULL && (dup = strdup(stem)) == NULL)) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = ensure_dir(dir)) < 0)
		goto out;
	if (key->has_private) {
		if ((rc = write_pem(keypath, key->pkey, NULL, 1, 0600)) < 0)
			goto out;
		wrote_key = 1;
	}
	if ((rc = write_pem(pubpath, key->pkey, NULL, 0, 0644)) < 0)
		goto out;
	wrote_pub = 1;
	if (key->cert != NULL &&
	    (rc = write_pem(crtpath, NULL, key->cert, 0, 0644)) < 0)
		goto out;
	sync_dir(dir);
	if (stem_out != NULL) {
		*stem_out = dup;
		dup = NULL;
	}
out:
	if (rc < 0 && wrote_key)
		unlink(keypath);
	if (rc < 0 && wrote_pub)
		unlink(pubpath);
	free(keypath);
	free(pubpath);
	free(crtpath);
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

/* Whether the listing holds <stem><suffix> for the file name (a <stem>
 * plus a 4-character suffix). */
static int
has_sibling(const struct dir_entry *ents, size_t n, const char *name,
    const char *suffix)
{
	size_t i, stem = strlen(name) - 4;

	for (i = 0; i < n; i++)
		if (strlen(ents[i].name) == stem + 4 &&
		    strncmp(ents[i].name, name, stem) == 0 &&
		    has_suffix(ents[i].name, suffix))
			return 1;
	return 0;
}

/* Whether the listing holds <stem>.key for the <stem>.pub named pub. */
static int
has_private_sibling(const struct dir_entry *ents, size_t n, const char *pub)
{
	return has_sibling(ents, n, pub, ".key");
}

/* <dir>/<key->stem>.crt into key->cert; it must certify key. */
static int
load_cert(const char *dir, cs_key *key)
{
	char *path = path_join(dir, key->stem, ".crt");
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if ((rc = read_key_file(path, 0, &buf, &len)) == 0 &&
	    (rc = cs_x509_read(buf, len, key, &key->cert)) < 0)
		cs_err_wrap(rc, "%s: ", path);
	free(buf);
	free(path);
	return rc;
}

/* A signing key without a certificate gets one, made and written beside
 * it with O_EXCL (a certificate someone else wrote first is not replaced;
 * the load then fails on the next start if it certifies another key). */
static int
ensure_cert(cs_key *key, const char *dir, const char *name, int *made)
{
	char *path = NULL;
	X509 *x = NULL;
	int rc;

	if (key->cert != NULL || !key->has_private)
		return 0;
	rc = cs_x509_make(key, name, key->created != 0 ? key->created :
	    time(NULL), &x);
	if (rc == CS_EUNSUPPORTED)
		return 0;
	if (rc < 0)
		goto out;
	/* A key not read from the directory (one in a PKCS#11 token) keeps
	 * its certificate in memory, made again at each start. */
	if (key->stem[0] == '\0') {
		key->cert = x;
		return 0;
	}
	if ((path = path_join(dir, key->stem, ".crt")) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = write_pem(path, NULL, x, 0, 0644)) < 0)
		goto out;
	sync_dir(dir);
	key->cert = x;
	x = NULL;
	(*made)++;
out:
	X509_free(x);
	free(path);
	return rc;
}

int
cs_keyring_ensure_certs(cs_keyring *ring, const char *dir, const char *name,
    int *made)
{
	size_t i;
	int n = 0, rc = 0;

	for (i = 0; i < ring->n && rc == 0; i++)
		rc = ensure_cert(ring->keys[i], dir, name, &n);
	if (made != NULL)
		*made = n;
	return rc;
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
		    has_suffix(de->d_name, ".pub") ||
		    has_suffix(de->d_name, ".crt")))
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
		if (cs_keys_stem_time(de->d_name, &ents[nents].created) < 0)
			ents[nents].created = 0;
		nents++;
	}
	if (nents > 0)
		qsort(ents, nents, sizeof(*ents), dir_entry_cmp);
	if ((ring = cs_keys_keyring_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nents; i++) {
		if (has_suffix(ents[i].name, ".crt") ||
		    (has_suffix(ents[i].name, ".pub") &&
		    has_private_sibling(ents, nents, ents[i].name)))
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
		snprintf(key->stem, sizeof(key->stem), "%.*s",
		    (int)strlen(ents[i].name) - 4, ents[i].name);
		if (has_sibling(ents, nents, ents[i].name, ".crt") &&
		    (rc = load_cert(dir, key)) < 0)
			goto out;
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

/* Move <dir>/<stem><suffix>, when there, into retired/. */
static int
retire_file(const char *dir, const char *retired, const char *stem,
    const char *suffix)
{
	char *from = path_join(dir, stem, suffix);
	char *to = path_join(retired, stem, suffix);
	int rc = 0;

	if (from == NULL || to == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if (rename(from, to) != 0 && errno != ENOENT)
		rc = cs_err_set(errno_code(errno), "%s: %s", from,
		    strerror(errno));
	free(from);
	free(to);
	return rc;
}

/*
 * Retiring a key takes it out of the trust list: its files move into
 * <dir>/retired/ (which the loader does not read), kept rather than
 * deleted so that an old licence can still be checked by hand.  The
 * signing key is refused: a library with no signing key cannot issue, so
 * a new one is made (keygen) and the server reloaded first.
 */
int
cs_key_retire(const char *dir, const uint8_t kid[CS_KID_LEN],
    char **stem_out)
{
	cs_keyring *ring = NULL;
	cs_key *key;
	char *retired = NULL;
	int rc;

	*stem_out = NULL;
	if ((rc = cs_keyring_load_dir(dir, &ring)) != 0)
		goto out;
	if ((key = cs_keyring_find(ring, kid, CS_KID_LEN)) == NULL) {
		rc = cs_err_set(CS_ENOTFOUND, "%s holds no key of that kid", dir);
		goto out;
	}
	if (key->active) {
		rc = cs_err_set(CS_ECONFLICT, "that key signs: make a new one "
		    "(certsvc keygen), reload the server (SIGHUP), then retire "
		    "this one");
		goto out;
	}
	if ((retired = path_join(dir, "retired", "")) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = ensure_dir(retired)) != 0 ||
	    (rc = retire_file(dir, retired, key->stem, ".key")) != 0 ||
	    (rc = retire_file(dir, retired, key->stem, ".crt")) != 0 ||
	    (rc = retire_file(dir, retired, key->stem, ".pub")) != 0)
		goto out;
	sync_dir(dir);
	sync_dir(retired);
	if ((*stem_out = strdup(key->stem)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	free(retired);
	cs_keyring_free(ring);
	return rc;
}
