/*
 * pkcs11: a keyring from a PKCS#11 token through libp11 (pkcs11.h says
 * what and why), and the RFC 7512 URI and PIN file that both this file
 * and pkcs11_keygen.c read.
 *
 * The PIN is read from its file into a buffer that is wiped as soon as
 * the login returns; it is never logged, and no message quotes it.
 */
/* libp11.h names RSA_METHOD and EC_KEY_METHOD in prototypes this file
 * does not call; the project builds with the deprecated API hidden, so
 * show it here only (nothing here calls a deprecated function). */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10100

#include "pkcs11.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cose.h"
#include "cs_err.h"
#include "encode.h"
#include "keys_internal.h"
#include "pkcs11_internal.h"

struct cs_p11 {
	PKCS11_CTX *ctx;      /* owned; loaded */
	PKCS11_SLOT *slots;   /* owned */
	unsigned int nslots;
};

int
cs_pkcs11_is_uri(const char *keys)
{
	return keys != NULL && strncmp(keys, "pkcs11:", 7) == 0;
}

int
cs_keyring_load(const char *keys, const char *module, cs_keyring **out)
{
	return cs_pkcs11_is_uri(keys) ? cs_keyring_load_pkcs11(keys, module,
	    out) : cs_keyring_load_dir(keys, out);
}

/* --- the URI (RFC 7512) ------------------------------------------------ */

/* Percent-decode s[0..n) into a new string; *len (optional) its length.
 * Not the HTTP layer's cs_pct_decode: an id may hold NUL bytes, and a
 * stray '%' is an error here rather than kept. */
static int
pct_decode(const char *s, size_t n, char **out, size_t *len)
{
	char *d;
	size_t i, m = 0;
	int hi, lo;

	if ((d = malloc(n + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			d[m++] = s[i];
			continue;
		}
		if (i + 2 >= n || (hi = cs_hex_value((unsigned char)s[i + 1])) < 0 ||
		    (lo = cs_hex_value((unsigned char)s[i + 2])) < 0) {
			free(d);
			return cs_err_set(CS_EINVAL, "PKCS#11 URI: a '%%' without "
			    "two hex digits");
		}
		d[m++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[m] = '\0';
	*out = d;
	if (len != NULL)
		*len = m;
	return 0;
}

/* One attribute "name=value" of the path (sep ';') or query (sep '&'). */
static int
uri_attr(cs_p11_uri *u, const char *a, size_t n)
{
	const char *eq = memchr(a, '=', n);
	size_t k;
	char **slot = NULL;

	if (eq == NULL)
		return n == 0 ? 0 : cs_err_set(CS_EINVAL, "PKCS#11 URI: "
		    "attribute \"%.*s\" has no value", (int)(n > 40 ? 40 : n), a);
	k = (size_t)(eq - a);
	if (k == 9 && strncmp(a, "pin-value", 9) == 0)
		return cs_err_set(CS_EINVAL, "PKCS#11 URI: pin-value is refused "
		    "(a PIN in the URI ends up in command lines and logs); "
		    "give pin-source=file:PATH");
	if (k == 5 && strncmp(a, "token", 5) == 0)
		slot = &u->token;
	else if (k == 6 && strncmp(a, "object", 6) == 0)
		slot = &u->object;
	else if (k == 10 && strncmp(a, "pin-source", 10) == 0)
		slot = &u->pin_source;
	else if (k == 11 && strncmp(a, "module-path", 11) == 0)
		slot = &u->module;
	else if (k == 2 && strncmp(a, "id", 2) == 0) {
		free(u->id);
		u->id = NULL;
		return pct_decode(eq + 1, n - k - 1, &u->id, &u->id_len);
	} else
		return 0;       /* type, manufacturer, serial...: not needed */
	free(*slot);
	*slot = NULL;
	return pct_decode(eq + 1, n - k - 1, slot, NULL);
}

int
cs_p11_uri_parse(const char *s, cs_p11_uri *u)
{
	const char *p, *end, *q;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	if (!cs_pkcs11_is_uri(s))
		return cs_err_set(CS_EINVAL, "not a PKCS#11 URI (pkcs11:...)");
	p = s + 7;
	q = strchr(p, '?');
	while (rc == 0 && *p != '\0' && p != q) {
		end = p + strcspn(p, ";?");
		rc = uri_attr(u, p, (size_t)(end - p));
		p = *end == ';' ? end + 1 : end;
	}
	if (q != NULL)
		for (p = q + 1; rc == 0 && *p != '\0';) {
			end = p + strcspn(p, "&");
			rc = uri_attr(u, p, (size_t)(end - p));
			p = *end == '&' ? end + 1 : end;
		}
	if (rc == 0 && (u->token == NULL || *u->token == '\0'))
		rc = cs_err_set(CS_EINVAL, "PKCS#11 URI: name the token "
		    "(token=LABEL)");
	if (rc != 0)
		cs_p11_uri_free(u);
	return rc;
}

void
cs_p11_uri_free(cs_p11_uri *u)
{
	free(u->token);
	free(u->object);
	free(u->pin_source);
	free(u->module);
	free(u->id);
	memset(u, 0, sizeof(*u));
}

const char *
cs_p11_module(const cs_p11_uri *u, const char *fallback)
{
	if (u->module != NULL && *u->module != '\0')
		return u->module;
	if (fallback != NULL && *fallback != '\0')
		return fallback;
	return NULL;
}

/*
 * The PIN from the pin-source file: its first line.  The file is checked
 * like a private key file (regular, no access for group or others), on
 * the descriptor that is read.  *pin is wiped and freed by the caller
 * (cs_p11_pin_free).  No pin-source: *pin NULL (a token without login).
 */
int
cs_p11_pin_read(const cs_p11_uri *u, char **pin)
{
	const char *path;
	struct stat st;
	char *b = NULL;
	ssize_t r;
	size_t n = 0;
	int fd = -1, rc = 0;

	*pin = NULL;
	if (u->pin_source == NULL)
		return 0;
	path = strncmp(u->pin_source, "file:", 5) == 0 ? u->pin_source + 5 :
	    u->pin_source;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cs_err_set(errno == ENOENT ? CS_ENOTFOUND : CS_EPERM,
		    "PKCS#11 pin-source %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = cs_err_set(CS_EINVAL, "PKCS#11 pin-source %s: not a regular "
		    "file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = cs_err_set(CS_EPERM, "PKCS#11 pin-source %s: mode %04o lets "
		    "group or others read the PIN; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((b = calloc(1, 257)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	while (n < 256 && ((r = read(fd, b + n, 256 - n)) > 0 ||
	    (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	b[strcspn(b, "\r\n")] = '\0';
	if (*b == '\0') {
		rc = cs_err_set(CS_EINVAL, "PKCS#11 pin-source %s: empty", path);
		goto out;
	}
	*pin = b;
	b = NULL;
out:
	cs_p11_pin_free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
cs_p11_pin_free(char *pin)
{
	if (pin == NULL)
		return;
	OPENSSL_cleanse(pin, 257);
	free(pin);
}

/* --- loading ----------------------------------------------------------- */

void
cs_pkcs11_free(struct cs_p11 *p11)
{
	if (p11 == NULL)
		return;
	if (p11->slots != NULL)
		PKCS11_release_all_slots(p11->ctx, p11->slots, p11->nslots);
	if (p11->ctx != NULL) {
		PKCS11_CTX_unload(p11->ctx);
		PKCS11_CTX_free(p11->ctx);
	}
	free(p11);
}

/* The newest libp11 error as the message, after what. */
static int
p11_fail(int code, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_clear_error();
	if (e == 0)
		return cs_err_set(code, "%s", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	return cs_err_set(code, "%s (%s)", what, buf);
}

static int
key_matches(const PKCS11_KEY *k, const cs_p11_uri *u)
{
	if (u->object != NULL && (k->label == NULL ||
	    strcmp(k->label, u->object) != 0))
		return 0;
	if (u->id != NULL && (k->id_len != u->id_len ||
	    memcmp(k->id, u->id, u->id_len) != 0))
		return 0;
	return 1;
}

/* A cs_key signing with k inside the token; created from its CKA_ID when
 * that is a creation time (cs_pkcs11_keygen's). */
static int
key_from_token(PKCS11_KEY *k, cs_key **out)
{
	EVP_PKEY *pkey;
	char idtime[17];
	int rc;

	*out = NULL;
	if ((pkey = PKCS11_get_private_key(k)) == NULL)
		return p11_fail(CS_ECRYPTO, "PKCS#11: cannot use the private key");
	if ((rc = cs_key_from_pkey(pkey, out)) != 0) {
		EVP_PKEY_free(pkey);
		return rc;
	}
	/* OpenSSL cannot see a private half it does not hold: the token
	 * holds it, and pkey's method signs there. */
	(*out)->has_private = 1;
	cs_cose_key_prepare(*out);
	if (k->id_len == 16) {
		memcpy(idtime, k->id, 16);
		idtime[16] = '\0';
		if (cs_keys_stem_time(idtime, &(*out)->created) != 0)
			(*out)->created = 0;
	}
	return 0;
}

static int
open_token(const cs_p11_uri *u, const char *module, struct cs_p11 *p,
    PKCS11_SLOT **slot)
{
	char *pin = NULL;
	unsigned int i;
	int rc = 0;

	if ((p->ctx = PKCS11_CTX_new()) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if (PKCS11_CTX_load(p->ctx, module) < 0) {
		PKCS11_CTX_free(p->ctx);
		p->ctx = NULL;
		return p11_fail(CS_ENOTFOUND, "PKCS#11: cannot load the module");
	}
	if (PKCS11_enumerate_slots(p->ctx, &p->slots, &p->nslots) < 0)
		return p11_fail(CS_EUNAVAIL, "PKCS#11: cannot list the slots");
	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].token != NULL && p->slots[i].token->initialized &&
		    strcmp(p->slots[i].token->label, u->token) == 0)
			break;
	if (i == p->nslots)
		return cs_err_set(CS_ENOTFOUND, "PKCS#11: no token labelled "
		    "\"%.64s\" in %s", u->token, module);
	*slot = &p->slots[i];
	if (PKCS11_open_session(*slot, 0) < 0)
		return p11_fail(CS_EUNAVAIL, "PKCS#11: cannot open a session");
	if ((rc = cs_p11_pin_read(u, &pin)) != 0)
		return rc;
	if (pin != NULL && PKCS11_login(*slot, 0, pin) < 0)
		rc = p11_fail(CS_EPERM, "PKCS#11: login refused (check the PIN "
		    "in pin-source)");
	cs_p11_pin_free(pin);
	return rc;
}

int
cs_keyring_load_pkcs11(const char *uri, const char *module,
    cs_keyring **out)
{
	cs_p11_uri u;
	struct cs_p11 *p = NULL;
	PKCS11_SLOT *slot = NULL;
	PKCS11_KEY *keys = NULL;
	unsigned int nkeys = 0, i;
	cs_keyring *ring = NULL;
	cs_key *key = NULL;
	const char *mod;
	int rc;

	*out = NULL;
	if ((rc = cs_p11_uri_parse(uri, &u)) != 0)
		return rc;
	if ((mod = cs_p11_module(&u, module)) == NULL) {
		rc = cs_err_set(CS_EINVAL, "PKCS#11: no module: give "
		    "module-path in the URI or the pkcs11_module setting");
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (ring = cs_keys_keyring_new()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = open_token(&u, mod, p, &slot)) != 0)
		goto out;
	if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) < 0) {
		rc = p11_fail(CS_EUNAVAIL, "PKCS#11: cannot list the keys");
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		if (!key_matches(&keys[i], &u))
			continue;
		if ((rc = key_from_token(&keys[i], &key)) != 0)
			goto out;
		if ((rc = cs_keyring_add(ring, key)) != 0)
			goto out;
		key = NULL;
	}
	if (ring->n == 0) {
		rc = cs_err_set(CS_ENOTFOUND, "PKCS#11: token \"%.64s\" holds no "
		    "private key%s%.64s%s", u.token, u.object ? " labelled \"" :
		    "", u.object ? u.object : "", u.object ? "\"" : "");
		goto out;
	}
	ring->p11 = p;
	p = NULL;
	*out = ring;
	ring = NULL;
out:
	cs_key_free(key);
	cs_keyring_free(ring);
	cs_pkcs11_free(p);
	cs_p11_uri_free(&u);
	return rc;
}
