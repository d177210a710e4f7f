/*
 * test_encode: base64url, Base45 (RFC 9285's own examples), zlib with its
 * cap, hex.  Tables of good and bad inputs; every rejection must be
 * CS_EINVAL (or CS_ETOOBIG) with a message that says where.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cs_err.h"
#include "digest.h"
#include "encode.h"

static const struct {
	const char *bytes;
	size_t len;
	const char *b45;
} b45_good[] = {
	/* RFC 9285 §4.3 and §4.4. */
	{ "AB", 2, "BB8" },
	{ "Hello!!", 7, "%69 VD92EX0" },
	{ "base-45", 7, "UJCLQE7W581" },
	{ "ietf!", 5, "QED8WEX0" },
	{ "", 0, "" },
	{ "\x00", 1, "00" },
	{ "\xff", 1, "U5" },
	{ "\xff\xff", 2, "FGW" },
};

static const struct {
	const char *text;
	const char *msg;	/* a part of the message */
} b45_bad[] = {
	{ "bb8", "invalid character 'b' at offset 0" },
	{ "BB8a", "invalid character 'a' at offset 3" },
	{ "GGW", "offset 0 has value 65536, over 65535" },
	{ ":::", "offset 0 has value 91124, over 65535" },
	{ "BB8:::", "offset 3 has value" },
	{ "BB8A", "dangling single character at offset 3" },
	{ "A", "dangling single character at offset 0" },
	{ "BB8::", "final chunk at offset 3 has value 2024, over 255" },
	{ "U6", "over 255" },
	{ "BB\n", "invalid character 0x0a at offset 2" },
	{ "BB=", "invalid character '=' at offset 2" },
};

TEST(b45_encode_decode)
{
	size_t i, len, outlen;
	char *s = NULL;
	uint8_t *b = NULL;

	for (i = 0; i < sizeof(b45_good) / sizeof(b45_good[0]); i++) {
		len = b45_good[i].len;
		CHECK_INT_EQ(cs_b45_encode((const uint8_t *)b45_good[i].bytes,
		    len, &s), 0);
		CHECK_STR_EQ(s, b45_good[i].b45);
		free(s);
		s = NULL;
		CHECK_INT_EQ(cs_b45_decode(b45_good[i].b45,
		    strlen(b45_good[i].b45), &b, &outlen), 0);
		CHECK_INT_EQ(outlen, len);
		CHECK(b != NULL && memcmp(b, b45_good[i].bytes, len) == 0);
		CHECK(b != NULL && b[outlen] == '\0');
		free(b);
		b = NULL;
	}
}

TEST(b45_reject)
{
	size_t i, outlen = 99;
	uint8_t *b = (uint8_t *)"x";

	for (i = 0; i < sizeof(b45_bad) / sizeof(b45_bad[0]); i++) {
		b = (uint8_t *)"x";
		CHECK_INT_EQ(cs_b45_decode(b45_bad[i].text,
		    strlen(b45_bad[i].text), &b, &outlen), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), b45_bad[i].msg);
		CHECK(b == NULL);
		CHECK_INT_EQ(outlen, 0);
	}
	/* An embedded NUL is outside the alphabet too. */
	CHECK_INT_EQ(cs_b45_decode("BB\0", 3, &b, &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "0x00 at offset 2");
}

/* Every length from 0 to 300 and every byte value survive both codecs. */
TEST(roundtrip_all_lengths)
{
	uint8_t in[300], *b = NULL;
	size_t n, outlen;
	char *s = NULL;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)(n * 97 + 13);
	for (n = 0; n <= sizeof(in); n++) {
		CHECK_INT_EQ(cs_b64url_encode(in, n, &s), 0);
		CHECK_INT_EQ(strlen(s), n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0));
		CHECK_INT_EQ(cs_b64url_decode(s, strlen(s), &b, &outlen), 0);
		CHECK(outlen == n && (n == 0 || memcmp(b, in, n) == 0));
		free(s);
		free(b);
		s = NULL;
		b = NULL;
		CHECK_INT_EQ(cs_b45_encode(in, n, &s), 0);
		CHECK_INT_EQ(cs_b45_decode(s, strlen(s), &b, &outlen), 0);
		CHECK(outlen == n && (n == 0 || memcmp(b, in, n) == 0));
		free(s);
		free(b);
		s = NULL;
		b = NULL;
	}
}

static const struct {
	const char *bytes;
	size_t len;
	const char *b64;
} b64_good[] = {
	/* RFC 4648 §10, unpadded, and the two characters that differ from
	 * standard base64. */
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff\xbf", 3, "-_-_" },
	{ "\x00", 1, "AA" },
};

static const struct {
	const char *text;
	const char *msg;
} b64_bad[] = {
	{ "Zg==", "padding '=' at offset 2" },
	{ "Zm8=", "padding '=' at offset 3" },
	{ "Zm9v+A", "invalid character '+' at offset 4" },
	{ "Zm9v/A", "invalid character '/' at offset 4" },
	{ "Zm 9v", "invalid character 0x20 at offset 2" },
	{ "Zm9v\n", "invalid character 0x0a at offset 4" },
	{ "Z", "impossible length 1" },
	{ "Zm9vY", "impossible length 5" },
	{ "Zh", "non-zero trailing bits" },	/* "Zg" with a stray bit */
	{ "Zm9", "non-zero trailing bits" },	/* "Zm8" likewise */
	{ "\xc3\xa9", "invalid character 0xc3 at offset 0" },
};

TEST(b64url)
{
	size_t i, outlen;
	char *s = NULL;
	uint8_t *b = NULL;

	for (i = 0; i < sizeof(b64_good) / sizeof(b64_good[0]); i++) {
		CHECK_INT_EQ(cs_b64url_encode((const uint8_t *)b64_good[i].bytes,
		    b64_good[i].len, &s), 0);
		CHECK_STR_EQ(s, b64_good[i].b64);
		free(s);
		s = NULL;
		CHECK_INT_EQ(cs_b64url_decode(b64_good[i].b64,
		    strlen(b64_good[i].b64), &b, &outlen), 0);
		CHECK_INT_EQ(outlen, b64_good[i].len);
		CHECK(b != NULL && memcmp(b, b64_good[i].bytes, outlen) == 0);
		free(b);
		b = NULL;
	}
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		CHECK_INT_EQ(cs_b64url_decode(b64_bad[i].text,
		    strlen(b64_bad[i].text), &b, &outlen), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), b64_bad[i].msg);
		CHECK(b == NULL);
	}
}

TEST(hex)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
	size_t outlen;
	char *s = NULL;
	uint8_t *b = NULL;

	CHECK_INT_EQ(cs_hex_encode(bytes, sizeof(bytes), &s), 0);
	CHECK_STR_EQ(s, "0001abcdefff");
	free(s);
	CHECK_INT_EQ(cs_hex_decode("0001ABcdEFff", 12, &b, &outlen), 0);
	CHECK(outlen == sizeof(bytes) && memcmp(b, bytes, outlen) == 0);
	free(b);
	b = NULL;
	CHECK_INT_EQ(cs_hex_decode("", 0, &b, &outlen), 0);
	CHECK_INT_EQ(outlen, 0);
	free(b);
	b = NULL;
	CHECK_INT_EQ(cs_hex_decode("abc", 3, &b, &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "odd length 3");
	CHECK_INT_EQ(cs_hex_decode("0g", 2, &b, &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "'g' at offset 1");
	CHECK(b == NULL);
}

/* The fixed-size forms digests, key ids and log escapes use. */
TEST(hex_into)
{
	static const uint8_t bytes[] = { 0x00, 0x09, 0x0a, 0x7f, 0x80, 0xff };
	uint8_t back[3] = { 0xee, 0xee, 0xee };
	char s[2 * sizeof(bytes) + 2];
	int c;

	memset(s, 'x', sizeof(s));
	cs_hex_encode_into(bytes, sizeof(bytes), s);
	CHECK_STR_EQ(s, "00090a7f80ff");
	CHECK_INT_EQ(s[sizeof(s) - 1], 'x');     /* 2n digits and a NUL */
	cs_hex_encode_into(bytes, 0, s);
	CHECK_STR_EQ(s, "");
	CHECK_INT_EQ(cs_hex_decode_into("0aFf", 4, back), 0);
	CHECK(back[0] == 0x0a && back[1] == 0xff && back[2] == 0xee);
	CHECK_INT_EQ(cs_hex_decode_into("0a1", 3, back), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "odd length 3");
	/* A bad character is named before an odd length. */
	CHECK_INT_EQ(cs_hex_decode_into("0a\x01", 3, back), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "0x01 at offset 2");
	for (c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9' ? c - '0' :
		    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		CHECK_INT_EQ(cs_hex_value(c), want);
	}
	CHECK_INT_EQ(cs_hex_value(-1), -1);
}

TEST(zlib_roundtrip)
{
	static const char text[] = "The token is base64url(zlib(cose)); "
	    "this sentence repeats. The token is base64url(zlib(cose)).";
	uint8_t *z = NULL, *b = NULL;
	size_t zlen, outlen;
	int level;

	/* libdeflate's levels (encode.c), each inflated by zlib. */
	for (level = 1; level <= 12; level++) {
		CHECK_INT_EQ(cs_zlib_compress((const uint8_t *)text,
		    strlen(text), level, &z, &zlen), 0);
		CHECK(zlen > 2 && z[0] == 0x78);	/* RFC 1950 header */
		CHECK_INT_EQ(cs_zlib_decompress(z, zlen, CS_ZLIB_MAX_OUT, &b,
		    &outlen), 0);
		CHECK(outlen == strlen(text) && memcmp(b, text, outlen) == 0);
		CHECK(b != NULL && b[outlen] == '\0');
		free(z);
		free(b);
		z = b = NULL;
	}
	/* Empty input, and a cap met exactly. */
	CHECK_INT_EQ(cs_zlib_compress(NULL, 0, 9, &z, &zlen), 0);
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen, 0, &b, &outlen), 0);
	CHECK_INT_EQ(outlen, 0);
	free(z);
	free(b);
	z = b = NULL;
	CHECK_INT_EQ(cs_zlib_compress((const uint8_t *)text, strlen(text), 9,
	    &z, &zlen), 0);
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen, strlen(text), &b, &outlen),
	    0);
	free(b);
	b = NULL;
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen, strlen(text) - 1, &b,
	    &outlen), CS_ETOOBIG);
	CHECK(b == NULL);
	free(z);
	CHECK_INT_EQ(cs_zlib_compress((const uint8_t *)text, 4, 0, &z, &zlen),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "level 0");
	CHECK_INT_EQ(cs_zlib_compress((const uint8_t *)text, 4, 13, &z, &zlen),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "outside 1-12");
}

/* 1 MiB of zeros deflates to about 1 KiB: the cap, not the input size,
 * must bound what is inflated. */
TEST(zlib_bomb)
{
	uint8_t *zeros = calloc(1, 1 << 20), *z = NULL, *b = NULL;
	size_t zlen = 0, outlen = 7;

	CHECK(zeros != NULL);
	if (zeros == NULL)
		return;
	CHECK_INT_EQ(cs_zlib_compress(zeros, 1 << 20, 9, &z, &zlen), 0);
	CHECK(zlen < 4096);
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen, 16 * 1024, &b, &outlen),
	    CS_ETOOBIG);
	CHECK_CONTAINS(cs_err_msg(), "exceeds 16384 bytes");
	CHECK(b == NULL);
	CHECK_INT_EQ(outlen, 0);
	/* And the same with the default cap. */
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen, CS_ZLIB_MAX_OUT, &b, &outlen),
	    CS_ETOOBIG);
	free(z);
	free(zeros);
}

TEST(zlib_corrupt)
{
	static const char text[] = "licence 1.2.156.3005.2 licence licence";
	uint8_t *z = NULL, *b = NULL, *z2 = NULL;
	size_t zlen, outlen, cut;

	CHECK_INT_EQ(cs_zlib_compress((const uint8_t *)text, strlen(text), 9,
	    &z, &zlen), 0);
	/* Every proper prefix is truncated (or, for the first bytes, a bad
	 * header): never success. */
	for (cut = 0; cut < zlen; cut++) {
		CHECK_INT_EQ(cs_zlib_decompress(z, cut, CS_ZLIB_MAX_OUT, &b,
		    &outlen), CS_EINVAL);
		CHECK(b == NULL);
	}
	CHECK_INT_EQ(cs_zlib_decompress(z, zlen - 1, CS_ZLIB_MAX_OUT, &b,
	    &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "truncated");
	/* Trailing garbage after a complete stream. */
	z2 = malloc(zlen + 2);
	memcpy(z2, z, zlen);
	z2[zlen] = 'X';
	z2[zlen + 1] = 'Y';
	CHECK_INT_EQ(cs_zlib_decompress(z2, zlen + 2, CS_ZLIB_MAX_OUT, &b,
	    &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "2 trailing bytes");
	/* A flipped checksum byte. */
	memcpy(z2, z, zlen);
	z2[zlen - 1] ^= 0x01;
	CHECK_INT_EQ(cs_zlib_decompress(z2, zlen, CS_ZLIB_MAX_OUT, &b,
	    &outlen), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "corrupt");
	/* Not zlib at all. */
	CHECK_INT_EQ(cs_zlib_decompress((const uint8_t *)"hello", 5,
	    CS_ZLIB_MAX_OUT, &b, &outlen), CS_EINVAL);
	CHECK(b == NULL);
	free(z2);
	free(z);
}

/* FIPS 180-2's examples, through the once-fetched algorithm, from two
 * calls (the second takes the fetched handle). */
TEST(sha256_vectors)
{
	uint8_t md[CS_SHA256_LEN];
	char hex[2 * CS_SHA256_LEN + 1];

	CHECK_INT_EQ(cs_sha256("abc", 3, md), 0);
	cs_hex_encode_into(md, sizeof(md), hex);
	CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	CHECK_INT_EQ(cs_sha256("", 0, md), 0);
	cs_hex_encode_into(md, sizeof(md), hex);
	CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

TEST(bad_arguments)
{
	char *s = NULL;
	uint8_t *b = NULL;
	size_t outlen;

	CHECK_INT_EQ(cs_b64url_encode(NULL, 3, &s), CS_EINVAL);
	CHECK_INT_EQ(cs_b64url_decode("Zg", 2, NULL, &outlen), CS_EINVAL);
	CHECK_INT_EQ(cs_b45_encode((const uint8_t *)"x", 1, NULL), CS_EINVAL);
	CHECK_INT_EQ(cs_b45_decode(NULL, 2, &b, &outlen), CS_EINVAL);
	CHECK_INT_EQ(cs_zlib_decompress(NULL, 5, 10, &b, &outlen), CS_EINVAL);
	CHECK_INT_EQ(cs_hex_encode(NULL, 1, &s), CS_EINVAL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(b45_encode_decode);
	RUN(b45_reject);
	RUN(roundtrip_all_lengths);
	RUN(b64url);
	RUN(hex);
	RUN(hex_into);
	RUN(zlib_roundtrip);
	RUN(zlib_bomb);
	RUN(zlib_corrupt);
	RUN(sha256_vectors);
	RUN(bad_arguments);
	return check_summary();
}
