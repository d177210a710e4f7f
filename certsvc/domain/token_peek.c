/*
 * token_peek: the licence id, kid and iat of a QR text, read without
 * verifying it and without building its claims (cs_token_peek_text,
 * token.h), for verification's fast path.  A token the library issued is
 * looked up by its id and compared with the stored one; a full decode
 * (libcbor, the claims as JSON) cost more than the rest of that answer.
 *
 * The reader below takes only the definite-length CBOR certsvc writes.
 * It need not be a validator: what it reads is believed only once the
 * bytes it came from are found, full length, in the library (verify.c),
 * and a text it misreads or refuses is checked in full like any other.
 * It must only stay inside its buffer and within CS_COSE_MAX_DEPTH.
 *
 * The same reader gives the claims as JSON to cs_cbor_to_json for the
 * shapes certsvc writes (cs_cbor_json_lean): libcbor's tree, built and
 * walked for every full check, cost more than the rest of the decode.
 * Anything it does not take exactly as cs_cbor_to_json would show it is
 * left to libcbor, which judges it.
 */
#include "token.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_walk.h"
#include "encode.h"

struct cur {
	const uint8_t *p, *end;
};

/* The head at c: its major type and argument.  -1 for an indefinite
 * length, a reserved value, or a head past the end. */
static int
head(struct cur *c, int *major, uint64_t *arg)
{
	int ai, n;

	if (c->p >= c->end)
		return -1;
	*major = *c->p >> 5;
	ai = *c->p++ & 0x1f;
	if (ai < 24) {
		*arg = (uint64_t)ai;
		return 0;
	}
	if (ai > 27 || c->end - c->p < (n = 1 << (ai - 24)))
		return -1;
	for (*arg = 0; n > 0; n--)
		*arg = *arg << 8 | *c->p++;
	return 0;
}

/* A head of this major type; its argument in *arg. */
static int
expect(struct cur *c, int major, uint64_t *arg)
{
	int m;

	return head(c, &m, arg) != 0 || m != major ? -1 : 0;
}

/* The len bytes of a string's content, c moved past them. */
static int
take(struct cur *c, uint64_t len, struct cur *out)
{
	if ((uint64_t)(c->end - c->p) < len)
		return -1;
	out->p = c->p;
	out->end = c->p + len;
	c->p += len;
	return 0;
}

/* Past one item, whatever it holds. */
static int
skip(struct cur *c, int depth)
{
	struct cur s;
	uint64_t arg, i;
	int major;

	if (depth > CS_COSE_MAX_DEPTH || head(c, &major, &arg) != 0)
		return -1;
	if (major == CBOR_MAJOR_BSTR || major == CBOR_MAJOR_TSTR)
		return take(c, arg, &s);
	if (major == CBOR_MAJOR_TAG)
		return skip(c, depth + 1);
	if (major != CBOR_MAJOR_ARRAY && major != CBOR_MAJOR_MAP)
		return 0;  /* an integer, simple value or float: all in its head */
	/* Every item takes a byte at least: a count beyond the bytes left
	 * is refused before it can make a long loop. */
	if (arg > (uint64_t)(c->end - c->p))
		return -1;
	for (i = 0; i < (major == CBOR_MAJOR_MAP ? 2 * arg : arg); i++)
		if (skip(c, depth + 1) != 0)
			return -1;
	return 0;
}

/* The protected header's kid (label 4). */
static int
read_protected(struct cur c, cs_token_peek *out)
{
	struct cur kid;
	uint64_t n, key, len;

	if (expect(&c, CBOR_MAJOR_MAP, &n) != 0)
		return -1;
	for (; n > 0; n--) {
		if (expect(&c, CBOR_MAJOR_UINT, &key) != 0)
			return -1;
		if (key != 4) {
			if (skip(&c, 1) != 0)
				return -1;
			continue;
		}
		if (expect(&c, CBOR_MAJOR_BSTR, &len) != 0 ||
		    take(&c, len, &kid) != 0)
			return -1;
		out->kid = kid.p;
		out->kid_len = len;
	}
	return out->kid != NULL && c.p == c.end ? 0 : -1;
}

/* The licence claim's id, a text of up to sizeof(out->id) - 1 bytes. */
static int
read_licence(struct cur *c, cs_token_peek *out)
{
	struct cur k, v;
	uint64_t n, len;

	if (expect(c, CBOR_MAJOR_MAP, &n) != 0)
		return -1;
	for (; n > 0; n--) {
		if (expect(c, CBOR_MAJOR_TSTR, &len) != 0 || take(c, len, &k) != 0)
			return -1;
		if (len != 2 || memcmp(k.p, "id", 2) != 0) {
			if (skip(c, 2) != 0)
				return -1;
			continue;
		}
		if (expect(c, CBOR_MAJOR_TSTR, &len) != 0 || take(c, len, &v) != 0 ||
		    len == 0 || len >= sizeof(out->id) ||
		    memchr(v.p, '\0', (size_t)len) != NULL)
			return -1;
		memcpy(out->id, v.p, (size_t)len);
		out->id[len] = '\0';
	}
	return 0;
}

/* The claims: the licence (-65537, a negative integer of argument 65536)
 * and iat (6). */
static int
read_claims(struct cur c, cs_token_peek *out)
{
	uint64_t n, key, iat = UINT64_MAX;
	int major;

	if (expect(&c, CBOR_MAJOR_MAP, &n) != 0)
		return -1;
	for (; n > 0; n--) {
		if (head(&c, &major, &key) != 0)
			return -1;
		if (major == CBOR_MAJOR_NEGINT && key == 65536) {
			if (read_licence(&c, out) != 0)
				return -1;
		} else if (major == CBOR_MAJOR_UINT && key == 6) {
			if (expect(&c, CBOR_MAJOR_UINT, &iat) != 0)
				return -1;
		} else if (major != CBOR_MAJOR_UINT && major != CBOR_MAJOR_NEGINT) {
			return -1;  /* certsvc's claims have integer keys only */
		} else if (skip(&c, 1) != 0) {
			return -1;
		}
	}
	if (out->id[0] == '\0' || iat > INT64_MAX || c.p != c.end)
		return -1;
	out->iat = (int64_t)iat;
	return 0;
}

/* tag 18 [protected bstr, {}, payload bstr, signature bstr], nothing after. */
static int
read_cose(cs_token_peek *out)
{
	struct cur c = {out->cose, out->cose + out->cose_len}, prot, payload, sig;
	uint64_t arg;

	if (expect(&c, CBOR_MAJOR_TAG, &arg) != 0 || arg != 18 ||
	    expect(&c, CBOR_MAJOR_ARRAY, &arg) != 0 || arg != 4 ||
	    expect(&c, CBOR_MAJOR_BSTR, &arg) != 0 || take(&c, arg, &prot) != 0 ||
	    expect(&c, CBOR_MAJOR_MAP, &arg) != 0 || arg != 0 ||
	    expect(&c, CBOR_MAJOR_BSTR, &arg) != 0 || take(&c, arg, &payload) != 0 ||
	    expect(&c, CBOR_MAJOR_BSTR, &arg) != 0 || take(&c, arg, &sig) != 0 ||
	    c.p != c.end)
		return -1;
	return read_protected(prot, out) != 0 ? -1 : read_claims(payload, out);
}

/* --- claims as JSON, without libcbor ----------------------------------- */

static json_t *lean_item(struct cur *c, int depth);

/* A byte string as the hex digits cs_cbor_to_json shows it as. */
static json_t *
lean_hex(const struct cur *s)
{
	size_t n = (size_t)(s->end - s->p);
	char small[257], *hex = n < sizeof(small) / 2 ? small : malloc(2 * n + 1);
	json_t *j;

	if (hex == NULL)
		return NULL;
	cs_hex_encode_into(s->p, n, hex);
	j = json_stringn(hex, 2 * n);
	if (hex != small)
		free(hex);
	return j;
}

/* Whether s is ASCII without NUL: a key taken as it is (any other is
 * left to libcbor and jansson's own UTF-8 check). */
static int
plain_key(const struct cur *s)
{
	const uint8_t *p;

	for (p = s->p; p < s->end; p++)
		if (*p == 0 || *p >= 0x80)
			return 0;
	return 1;
}

/* A map key as cs_cbor_to_json names it: an integer in decimal, a text
 * of ASCII as itself, in name. */
static int
lean_key(struct cur *c, char *name, size_t size, const char **key,
    size_t *len)
{
	struct cur s;
	uint64_t arg;
	int major, k;
	char digits[24];

	if (head(c, &major, &arg) != 0)
		return -1;
	if (major == CBOR_MAJOR_TSTR) {
		if (take(c, arg, &s) != 0 || arg >= size || !plain_key(&s))
			return -1;
		memcpy(name, s.p, (size_t)arg);
	} else if ((major == CBOR_MAJOR_UINT || major == CBOR_MAJOR_NEGINT) &&
	    arg <= INT64_MAX) {
		if (major == CBOR_MAJOR_NEGINT)
			arg++;  /* -1 - arg, shown as "-" and arg + 1 */
		k = 0;
		do
			digits[k++] = (char)('0' + arg % 10);
		while ((arg /= 10) != 0);
		arg = 0;
		if (major == CBOR_MAJOR_NEGINT)
			name[arg++] = '-';
		while (k > 0)
			name[arg++] = digits[--k];
	} else
		return -1;
	name[arg] = '\0';
	*key = name;
	*len = (size_t)arg;
	return 0;
}

static json_t *
lean_map(struct cur *c, uint64_t n, int depth)
{
	json_t *obj = json_object(), *v;
	const char *key;
	char name[256];
	size_t len;

	for (; obj != NULL && n > 0; n--) {
		if (lean_key(c, name, sizeof(name), &key, &len) != 0 ||
		    json_object_getn(obj, key, len) != NULL ||
		    (v = lean_item(c, depth + 1)) == NULL) {
			json_decref(obj);
			return NULL;
		}
		json_object_setn_new_nocheck(obj, key, len, v);
	}
	return obj;
}

/* One item of the shapes certsvc writes (definite lengths, integers
 * within 64 signed bits, strings, arrays, maps keyed by integers or
 * text, true, false, null); NULL for anything else. */
static json_t *
lean_item(struct cur *c, int depth)
{
	const uint8_t *at = c->p;
	struct cur s;
	json_t *arr, *v;
	uint64_t arg;
	int major;

	if (depth > CS_COSE_MAX_DEPTH || head(c, &major, &arg) != 0)
		return NULL;
	switch (major) {
	case CBOR_MAJOR_UINT:
		return arg <= INT64_MAX ? json_integer((json_int_t)arg) : NULL;
	case CBOR_MAJOR_NEGINT:
		return arg <= INT64_MAX ? json_integer(-1 - (json_int_t)arg) : NULL;
	case CBOR_MAJOR_BSTR:
		return take(c, arg, &s) == 0 ? lean_hex(&s) : NULL;
	case CBOR_MAJOR_TSTR:
		return take(c, arg, &s) == 0 ?
		    json_stringn((const char *)s.p, (size_t)arg) : NULL;
	case CBOR_MAJOR_ARRAY:
		if (arg > (uint64_t)(c->end - c->p) || (arr = json_array()) == NULL)
			return NULL;
		for (; arg > 0; arg--)
			if ((v = lean_item(c, depth + 1)) == NULL ||
			    json_array_append_new(arr, v) != 0) {
				json_decref(arr);
				return NULL;
			}
		return arr;
	case CBOR_MAJOR_MAP:
		return arg <= (uint64_t)(c->end - c->p) ? lean_map(c, arg, depth) :
		    NULL;
	case 7:
		/* One-byte heads false, true, null; not a float's bits. */
		if (c->p - at != 1)
			return NULL;
		return arg == 20 ? json_false() : arg == 21 ? json_true() :
		    arg == 22 ? json_null() : NULL;
	}
	return NULL;  /* a tag */
}

json_t *
cs_cbor_json_lean(const uint8_t *buf, size_t n)
{
	struct cur c = {buf, buf + n};
	json_t *v = lean_item(&c, 0);

	if (v != NULL && c.p != c.end) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

int
cs_token_peek_text(const char *text, size_t len, cs_token_peek *out)
{
	cs_token_layers l;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	if (len > CS_TOKEN_MAX_TEXT || cs_token_unwrap(&l, text, len) != 0)
		goto out;
	out->form = l.form;
	if (l.form == CS_FORM_COMPACT)
		rc = cs_b45_decode(l.encoded, strlen(l.encoded), &out->compressed,
		    &out->compressed_len);
	else if (l.form == CS_FORM_URL || l.form == CS_FORM_TOKEN) {
		out->b64_len = strlen(l.encoded);
		rc = cs_b64url_decode(l.encoded, out->b64_len,
		    &out->compressed, &out->compressed_len);
		/* Kept: a stored token is compared as this text. */
		out->b64 = l.encoded;
		l.encoded = NULL;
	}
	/* A COSE message sent uncompressed is not the stored token's bytes. */
	if (rc != 0 || out->compressed_len == 0 ||
	    (out->compressed[0] & 0xe0) == 0xc0 ||
	    cs_zlib_decompress(out->compressed, out->compressed_len,
	    CS_ZLIB_MAX_OUT, &out->cose, &out->cose_len) != 0 ||
	    read_cose(out) != 0)
		rc = -1;
out:
	free(l.encoded);
	if (rc != 0)
		cs_token_peek_free(out);
	return rc;
}

void
cs_token_peek_free(cs_token_peek *p)
{
	free(p->compressed);
	free(p->cose);
	free(p->b64);
	memset(p, 0, sizeof(*p));
}
