/*
 * fuzz_encode: the byte encodings a QR text meets first (base64url,
 * Base45, hex, zlib with its cap), as decoders of hostile text and as
 * round trips.
 *
 * Properties: the decoders are strict, so a text that decodes is the one
 * spelling of its bytes (re-encoding gives it back; hex in either case);
 * every byte string survives encode then decode; the inflater never gives
 * more than its cap and gives back what was compressed.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "encode.h"

typedef int (*enc_fn)(const uint8_t *, size_t, char **);
typedef int (*dec_fn)(const char *, size_t, uint8_t **, size_t *);

static const struct codec {
	const char *name;
	enc_fn enc;
	dec_fn dec;
	int fold_case;
} codecs[] = {
	{"base64url", cs_b64url_encode, cs_b64url_decode, 0},
	{"base45", cs_b45_encode, cs_b45_decode, 0},
	{"hex", cs_hex_encode, cs_hex_decode, 1},
};

static void
codec_check(const struct codec *c, const uint8_t *data, size_t size)
{
	uint8_t *bytes = NULL, *back = NULL;
	char *text = NULL, *again = NULL;
	size_t n, m;

	/* Hostile text: decodes to the one spelling, or is refused. */
	if (c->dec((const char *)data, size, &bytes, &n) == 0) {
		if (c->enc(bytes, n, &again) != 0)
			fuzz_fail("%s: decoded bytes do not encode", c->name);
		if (strlen(again) != size || (c->fold_case ?
		    strncasecmp(again, (const char *)data, size) :
		    memcmp(again, data, size)) != 0)
			fuzz_fail("%s: a second spelling decoded", c->name);
	}
	/* Any bytes: encode, decode, the same bytes. */
	if (c->enc(data, size, &text) != 0)
		fuzz_fail("%s: cannot encode %zu bytes", c->name, size);
	if (c->dec(text, strlen(text), &back, &m) != 0)
		fuzz_fail("%s: own encoding does not decode: %s", c->name,
		    cs_err_msg());
	if (m != size || (size > 0 && memcmp(back, data, size) != 0))
		fuzz_fail("%s: round trip changed the bytes", c->name);
	free(bytes);
	free(back);
	free(text);
	free(again);
}

static void
zlib_check(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, *z = NULL, *back = NULL;
	size_t n, zn, m, cap = size / 2 + 1;
	int rc;

	/* Hostile stream, with the real cap and a small one. */
	rc = cs_zlib_decompress(data, size, CS_ZLIB_MAX_OUT, &out, &n);
	if (rc == 0 && n > CS_ZLIB_MAX_OUT)
		fuzz_fail("zlib: %zu bytes out, over the cap", n);
	free(out);
	out = NULL;
	rc = cs_zlib_decompress(data, size, cap, &out, &n);
	if (rc == 0 && n > cap)
		fuzz_fail("zlib: %zu bytes out, over the cap %zu", n, cap);
	free(out);
	/* Round trip, and the cap one byte short refuses. */
	if (cs_zlib_compress(data, size, 9, &z, &zn) != 0)
		fuzz_fail("zlib: cannot compress %zu bytes", size);
	if (cs_zlib_decompress(z, zn, size, &back, &m) != 0 || m != size ||
	    (size > 0 && memcmp(back, data, size) != 0))
		fuzz_fail("zlib: round trip failed: %s", cs_err_msg());
	free(back);
	back = NULL;
	if (size > 0 && cs_zlib_decompress(z, zn, size - 1, &back, &m) !=
	    CS_ETOOBIG)
		fuzz_fail("zlib: %zu bytes out under a cap of %zu", size,
		    size - 1);
	free(back);
	free(z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		codec_check(&codecs[i], data, size);
	zlib_check(data, size);
	return 0;
}
