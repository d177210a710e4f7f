/*
 * encode: base64url (no padding), Base45, zlib with an output cap, hex.
 *
 * The decoders are the first thing an untrusted QR text meets, so they are
 * strict: one spelling per byte string (no padding, no stray bits, no
 * characters outside the alphabet), and the inflater never allocates more
 * than the caller's cap however the stream describes itself.
 */
#include "encode.h"

#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cs_err.h"
#include "pool.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char b45_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

static const char hex_digits[] = "0123456789abcdef";

static int
b64url_value(unsigned char c)
{
	int v = -1;

	if (c >= 'A' && c <= 'Z')
		v = c - 'A';
	else if (c >= 'a' && c <= 'z')
		v = c - 'a' + 26;
	else if (c >= '0' && c <= '9')
		v = c - '0' + 52;
	else if (c == '-')
		v = 62;
	else if (c == '_')
		v = 63;
	return v;
}

static int
b45_value(unsigned char c)
{
	const char *p = NULL;

	if (c != '\0')
		p = strchr(b45_alphabet, c);
	return p == NULL ? -1 : (int)(p - b45_alphabet);
}

int
cs_hex_value(int c)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v;
}

/* A printable description of a rejected character for the error message. */
static const char *
char_desc(unsigned char c, char buf[8])
{
	if (c >= 0x21 && c < 0x7f) {
		buf[0] = '\'';
		buf[1] = (char)c;
		buf[2] = '\'';
		buf[3] = '\0';
	} else {
		buf[0] = '0';
		buf[1] = 'x';
		buf[2] = hex_digits[c >> 4];
		buf[3] = hex_digits[c & 15];
		buf[4] = '\0';
	}
	return buf;
}

int
cs_b64url_encode(const uint8_t *in, size_t n, char **out)
{
	char *s = NULL;
	size_t i, j = 0, len;
	uint32_t v;
	int rc = 0;

	if (out == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "base64url: no input or output");
		goto out;
	}
	*out = NULL;
	if (n > SIZE_MAX / 4 * 3 - 3) {
		rc = cs_err_set(CS_ETOOBIG, "base64url: input too large");
		goto out;
	}
	len = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if ((s = malloc(len + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "base64url: out of memory");
		goto out;
	}
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		s[j++] = b64url_alphabet[v >> 18];
		s[j++] = b64url_alphabet[(v >> 12) & 63];
		s[j++] = b64url_alphabet[(v >> 6) & 63];
		s[j++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		s[j++] = b64url_alphabet[v >> 18];
		s[j++] = b64url_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		s[j++] = b64url_alphabet[v >> 18];
		s[j++] = b64url_alphabet[(v >> 12) & 63];
		s[j++] = b64url_alphabet[(v >> 6) & 63];
	}
	s[j] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

/*
 * Unpadded base64url only.  The bits below the last whole byte must be zero
 * (RFC 4648 §3.5): otherwise several texts would decode to the same bytes,
 * and a token must have one spelling.
 */
/* The error for the character at offset i, which is not base64url. */
static int
b64url_bad_char(const char *in, size_t i)
{
	char cd[8];

	if (in[i] == '=')
		return cs_err_set(CS_EINVAL, "base64url: padding '=' at offset "
		    "%zu is not allowed", i);
	return cs_err_set(CS_EINVAL, "base64url: invalid character %s at "
	    "offset %zu", char_desc((unsigned char)in[i], cd), i);
}

int
cs_b64url_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *b = NULL;
	size_t i, j = 0;
	uint32_t acc = 0;
	int v, bits = 0, rc = 0;

	if (out == NULL || outlen == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "base64url: no input or output");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	if ((b = malloc(n / 4 * 3 + 3)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "base64url: out of memory");
		goto out;
	}
	/* One pass: a bad character is reported before a bad length, as
	 * when the text was checked first. */
	for (i = 0; i < n; i++) {
		if ((v = b64url_value((unsigned char)in[i])) < 0) {
			rc = b64url_bad_char(in, i);
			goto out;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b[j++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (n % 4 == 1) {
		rc = cs_err_set(CS_EINVAL, "base64url: impossible length %zu "
		    "(a single character after the last group at offset %zu)",
		    n, n - 1);
		goto out;
	}
	if (acc != 0) {
		rc = cs_err_set(CS_EINVAL, "base64url: non-zero trailing bits "
		    "in the character at offset %zu", n - 1);
		goto out;
	}
	b[j] = '\0';
	*out = b;
	*outlen = j;
	b = NULL;
out:
	free(b);
	return rc;
}

int
cs_b45_encode(const uint8_t *in, size_t n, char **out)
{
	char *s = NULL;
	size_t i, j = 0, len;
	unsigned v;
	int rc = 0;

	if (out == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "base45: no input or output");
		goto out;
	}
	*out = NULL;
	if (n > SIZE_MAX / 3 * 2 - 2) {
		rc = cs_err_set(CS_ETOOBIG, "base45: input too large");
		goto out;
	}
	len = n / 2 * 3 + (n % 2 ? 2 : 0);
	if ((s = malloc(len + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "base45: out of memory");
		goto out;
	}
	for (i = 0; i + 2 <= n; i += 2) {
		v = (unsigned)in[i] << 8 | in[i + 1];
		s[j++] = b45_alphabet[v % 45];
		s[j++] = b45_alphabet[v / 45 % 45];
		s[j++] = b45_alphabet[v / 2025];
	}
	if (i < n) {
		v = in[i];
		s[j++] = b45_alphabet[v % 45];
		s[j++] = b45_alphabet[v / 45];
	}
	s[j] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

/*
 * RFC 9285 §4 decoding, refusing what §6 calls invalid: a character outside
 * the (upper-case) alphabet, a dangling single character, and chunks whose
 * value does not fit their byte count.  Those rules make the encoding a
 * bijection, so a token has a single Base45 spelling.
 */
int
cs_b45_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *b = NULL;
	size_t i, j = 0;
	unsigned long v;
	int rc = 0;
	char cd[8];

	if (out == NULL || outlen == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "base45: no input or output");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	for (i = 0; i < n; i++) {
		if (b45_value((unsigned char)in[i]) < 0) {
			rc = cs_err_set(CS_EINVAL, "base45: invalid character "
			    "%s at offset %zu", char_desc((unsigned char)in[i],
			    cd), i);
			goto out;
		}
	}
	if (n % 3 == 1) {
		rc = cs_err_set(CS_EINVAL, "base45: dangling single character "
		    "at offset %zu", n - 1);
		goto out;
	}
	if ((b = malloc(n / 3 * 2 + 2)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "base45: out of memory");
		goto out;
	}
	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned long)b45_value((unsigned char)in[i]) +
		    (unsigned long)b45_value((unsigned char)in[i + 1]) * 45 +
		    (unsigned long)b45_value((unsigned char)in[i + 2]) * 2025;
		if (v > 65535) {
			rc = cs_err_set(CS_EINVAL, "base45: chunk at offset "
			    "%zu has value %lu, over 65535", i, v);
			goto out;
		}
		b[j++] = (uint8_t)(v >> 8);
		b[j++] = (uint8_t)(v & 0xff);
	}
	if (i < n) {
		v = (unsigned long)b45_value((unsigned char)in[i]) +
		    (unsigned long)b45_value((unsigned char)in[i + 1]) * 45;
		if (v > 255) {
			rc = cs_err_set(CS_EINVAL, "base45: final chunk at "
			    "offset %zu has value %lu, over 255", i, v);
			goto out;
		}
		b[j++] = (uint8_t)v;
	}
	b[j] = '\0';
	*out = b;
	*outlen = j;
	b = NULL;
out:
	free(b);
	return rc;
}

/*
 * Tokens are deflated with libdeflate, not zlib.  For a token's 350 bytes
 * zlib spends its time building Huffman trees, at any level: 22-25 µs at
 * level 9 against libdeflate's 9-10 µs at level 6, whose output was never
 * larger on the benchmark's tokens (smaller for 7% of them) (bench/
 * README.md).  It writes the same format, a zlib stream (RFC 1950), which
 * every verifier inflates as before; inflating stays with zlib.
 *
 * Compressors and inflaters are kept for the next call (pool.h): a
 * compressor is several hundred KB, an inflater with its window about 40.
 */
static cs_pool deflaters = CS_POOL_INIT;  /* keyed by level */
static cs_pool inflaters = CS_POOL_INIT;

int
cs_zlib_compress(const uint8_t *in, size_t n, int level, uint8_t **out,
    size_t *outlen)
{
	struct libdeflate_compressor *c = NULL;
	uint8_t *b = NULL;
	size_t len = 0, bound = 0;
	int rc = 0;

	if (out == NULL || outlen == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "zlib: no input or output");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	if (level < 1 || level > 12) {
		rc = cs_err_set(CS_EINVAL, "zlib: compression level %d is "
		    "outside 1-12", level);
		goto out;
	}
	if ((c = cs_pool_take(&deflaters, level)) == NULL)
		c = libdeflate_alloc_compressor(level);
	if (c != NULL)
		bound = libdeflate_zlib_compress_bound(c, n);
	if (c == NULL || (b = malloc(bound + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "zlib: out of memory");
		goto out;
	}
	/* Within the bound it always fits: 0 would be a broken library. */
	if ((len = libdeflate_zlib_compress(c, n > 0 ? in : (const uint8_t *)"",
	    n, b, bound)) == 0) {
		rc = cs_err_set(CS_EINVAL, "zlib: compression failed");
		goto out;
	}
	b[len] = '\0';
	*out = b;
	*outlen = len;
	b = NULL;
out:
	if (c != NULL)
		libdeflate_free_compressor(cs_pool_keep(&deflaters, level, c));
	free(b);
	return rc;
}

/* An inflater ready for a new zlib stream; NULL when out of memory.
 * inflateReset keeps a kept one's window. */
static z_stream *
inflater_get(void)
{
	z_stream *z = cs_pool_take(&inflaters, 0);

	if (z != NULL) {
		if (inflateReset(z) == Z_OK)
			return z;
		inflateEnd(z);
		free(z);
	}
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	if (inflateInit(z) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static void
inflater_put(z_stream *z)
{
	if ((z = cs_pool_keep(&inflaters, 0, z)) != NULL) {
		inflateEnd(z);
		free(z);
	}
}

/* Answer a stream's dictionary request from dicts. */
static int
set_dict(z_stream *zs, const cs_zdict *dicts, size_t ndicts)
{
	size_t i;

	for (i = 0; i < ndicts; i++)
		if (dicts[i].adler == zs->adler)
			return inflateSetDictionary(zs, dicts[i].p,
			    (uInt)dicts[i].len);
	return Z_DATA_ERROR;
}

/* Grow b (size bytes, one spare for the NUL) toward limit. */
static int
grow(uint8_t **b, size_t *size, size_t limit, size_t cap)
{
	uint8_t *nb;
	size_t want;

	if (*size >= limit)
		return cs_err_set(CS_ETOOBIG, "zlib: decompressed data exceeds "
		    "%zu bytes", cap);
	want = *size <= limit / 2 ? *size * 2 : limit;
	if ((nb = realloc(*b, want + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "zlib: out of memory");
	*b = nb;
	*size = want;
	return 0;
}

/* Why inflate stopped short of the stream's end, as an error. */
static int
inflate_error(const z_stream *zs, int zrc, size_t n)
{
	if (zrc == Z_BUF_ERROR && zs->avail_in == 0)
		return cs_err_set(CS_EINVAL, "zlib: truncated stream (input "
		    "ends after %zu bytes)", n);
	if (zrc == Z_MEM_ERROR)
		return cs_err_set(CS_ENOMEM, "zlib: out of memory");
	if (zrc == Z_NEED_DICT)
		return cs_err_set(CS_EINVAL, "zlib: the stream needs an unknown "
		    "dictionary");
	return cs_err_set(CS_EINVAL, "zlib: corrupt stream at input offset "
	    "%zu%s%s", n - zs->avail_in, zs->msg ? ": " : "",
	    zs->msg ? zs->msg : "");
}

/*
 * The stream is inflated into a buffer that grows geometrically but never
 * past cap + 1 bytes: the one byte over the cap is how a bomb is detected,
 * whatever sizes the stream claims.  A stream that ends before its checksum,
 * or is followed by more bytes, is refused: a token has exactly one stream.
 */
int
cs_zlib_decompress_dict(const uint8_t *in, size_t n, size_t cap,
    const cs_zdict *dicts, size_t ndicts, uint8_t **out, size_t *outlen)
{
	z_stream *zs = NULL;
	uint8_t *b = NULL;
	size_t size, total = 0, limit, room;
	int zrc, rc = 0;

	if (out == NULL || outlen == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "zlib: no input or output");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	if (n > UINT_MAX) {
		rc = cs_err_set(CS_ETOOBIG, "zlib: compressed input too large");
		goto out;
	}
	limit = cap < SIZE_MAX - 1 ? cap + 1 : SIZE_MAX - 1;
	size = n < limit / 4 ? n * 4 : limit;
	if (size < 256)
		size = limit < 256 ? limit : 256;
	/* One spare byte beyond size for the NUL terminator. */
	if ((b = malloc(size + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "zlib: out of memory");
		goto out;
	}
	if ((zs = inflater_get()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "zlib: out of memory");
		goto out;
	}
	zs->next_in = (Bytef *)in;
	zs->avail_in = (uInt)n;
	for (;;) {
		if (total == size && (rc = grow(&b, &size, limit, cap)) != 0)
			goto out;
		room = size - total;
		zs->next_out = b + total;
		zs->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		room = zs->avail_out;
		zrc = inflate(zs, Z_NO_FLUSH);
		total += room - zs->avail_out;
		if (total > cap) {
			rc = cs_err_set(CS_ETOOBIG, "zlib: decompressed data "
			    "exceeds %zu bytes", cap);
			goto out;
		}
		if (zrc == Z_NEED_DICT)
			zrc = set_dict(zs, dicts, ndicts) == Z_OK ? Z_OK :
			    Z_NEED_DICT;
		if (zrc == Z_STREAM_END)
			break;
		/* No progress with the output full: grow it. */
		if (zrc == Z_OK || (zrc == Z_BUF_ERROR && zs->avail_out == 0))
			continue;
		rc = inflate_error(zs, zrc, n);
		goto out;
	}
	if (zs->avail_in != 0) {
		rc = cs_err_set(CS_EINVAL, "zlib: %u trailing bytes after the "
		    "stream at offset %zu", zs->avail_in, n - zs->avail_in);
		goto out;
	}
	b[total] = '\0';
	*out = b;
	*outlen = total;
	b = NULL;
out:
	if (zs != NULL)
		inflater_put(zs);
	free(b);
	return rc;
}

int
cs_zlib_decompress(const uint8_t *in, size_t n, size_t cap, uint8_t **out,
    size_t *outlen)
{
	return cs_zlib_decompress_dict(in, n, cap, NULL, 0, out, outlen);
}

void
cs_hex_encode_into(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
cs_hex_encode(const uint8_t *in, size_t n, char **out)
{
	char *s = NULL;
	int rc = 0;

	if (out == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "hex: no input or output");
		goto out;
	}
	*out = NULL;
	if (n > (SIZE_MAX - 1) / 2) {
		rc = cs_err_set(CS_ETOOBIG, "hex: input too large");
		goto out;
	}
	if ((s = malloc(n * 2 + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "hex: out of memory");
		goto out;
	}
	cs_hex_encode_into(in, n, s);
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

int
cs_hex_decode_into(const char *in, size_t n, uint8_t *out)
{
	size_t i;
	char cd[8];

	/* Every character first: a stray one is named even in an input of
	 * odd length. */
	for (i = 0; i < n; i++)
		if (cs_hex_value((unsigned char)in[i]) < 0)
			return cs_err_set(CS_EINVAL, "hex: invalid character %s "
			    "at offset %zu", char_desc((unsigned char)in[i], cd),
			    i);
	if (n % 2 != 0)
		return cs_err_set(CS_EINVAL, "hex: odd length %zu", n);
	for (i = 0; i < n; i += 2)
		out[i / 2] = (uint8_t)(cs_hex_value((unsigned char)in[i]) << 4 |
		    cs_hex_value((unsigned char)in[i + 1]));
	return 0;
}

int
cs_hex_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *b = NULL;
	int rc = 0;

	if (out == NULL || outlen == NULL || (in == NULL && n > 0)) {
		rc = cs_err_set(CS_EINVAL, "hex: no input or output");
		goto out;
	}
	*out = NULL;
	*outlen = 0;
	if ((b = malloc(n / 2 + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "hex: out of memory");
		goto out;
	}
	if ((rc = cs_hex_decode_into(in, n, b)) != 0)
		goto out;
	b[n / 2] = '\0';
	*out = b;
	*outlen = n / 2;
	b = NULL;
out:
	free(b);
	return rc;
}
