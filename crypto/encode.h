/*
 * encode: the byte encodings of the signed token (SPEC §4).
 *
 * base64url without padding (RFC 4648 §5), Base45 (RFC 9285, strict) and
 * zlib (RFC 1950) with an output cap; and hex, the one codec of it
 * everywhere.  Every function but the *_into ones allocates its output
 * with malloc(); the caller frees it.  Output strings are NUL-terminated;
 * output byte buffers carry a length (and one spare NUL byte, so they can be
 * printed when they happen to be text).
 */
#ifndef CS_ENCODE_H
#define CS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* The decompressed-size cap of SPEC §4: larger inputs are refused. */
#define CS_ZLIB_MAX_OUT (16 * 1024)

int cs_b64url_encode(const uint8_t *in, size_t n, char **out);
/* Accepts the unpadded alphabet only (A-Z a-z 0-9 - _); CS_EINVAL with the
 * offending offset in the message otherwise. */
int cs_b64url_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);

/* Upper-case RFC 9285 alphabet. */
int cs_b45_encode(const uint8_t *in, size_t n, char **out);
/* Strict: a character outside the alphabet, a dangling single character or a
 * chunk whose value exceeds 65535 (or 255 for a 2-character tail) is
 * CS_EINVAL naming the offset. */
int cs_b45_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);

/* zlib stream at the given level (1-12, libdeflate's: 6 keeps tokens as
 * small as zlib's 9). */
int cs_zlib_compress(const uint8_t *in, size_t n, int level, uint8_t **out,
    size_t *outlen);
/* Inflate a complete zlib stream; CS_ETOOBIG once the output would exceed
 * cap bytes, CS_EINVAL for a corrupt or truncated stream or trailing bytes. */
int cs_zlib_decompress(const uint8_t *in, size_t n, size_t cap, uint8_t **out,
    size_t *outlen);

/* A preset dictionary a stream may name (RFC 1950 FDICT), with its Adler-32
 * as the stream's header gives it. */
typedef struct cs_zdict {
	const uint8_t *p;
	size_t len;
	unsigned long adler;
} cs_zdict;
/* The same for a stream deflated with one of dicts (or none); CS_EINVAL
 * when it names another. */
int cs_zlib_decompress_dict(const uint8_t *in, size_t n, size_t cap,
    const cs_zdict *dicts, size_t ndicts, uint8_t **out, size_t *outlen);

/* Lower-case hex; and a decoder that accepts either case. */
int cs_hex_encode(const uint8_t *in, size_t n, char **out);
int cs_hex_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);
/* The same into the caller's memory, for digests and key ids, whose size
 * is known.  cs_hex_encode_into writes 2n digits and a NUL;
 * cs_hex_decode_into writes n / 2 bytes, or fails as cs_hex_decode does (a
 * character that is not a hex digit, an odd n). */
void cs_hex_encode_into(const uint8_t *in, size_t n, char *out);
int cs_hex_decode_into(const char *in, size_t n, uint8_t *out);
/* The value of the hex digit c (either case), or -1. */
int cs_hex_value(int c);

#endif
