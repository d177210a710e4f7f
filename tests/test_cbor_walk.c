/*
 * test_cbor_walk: the CBOR walker under the COSE parser
 * (crypto/cbor_walk.c): the nesting bound against deep and endless
 * nesting, a table of hostile CBOR (each refused with its reason, by the
 * check, the diagnostic writer and the COSE parser alike), indefinite
 * lengths that decode to the same message as the definite form, and
 * diagnostic notation.  COSE_Sign1 itself is test_cose's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cbor_walk.h"
#include "check.h"
#include "cose.h"
#include "cose_util.h"
#include "cs_err.h"

/* An exactly-sized heap copy: a read past the end is a sanitizer error. */
static uint8_t *
repeat(uint8_t prefix_byte, int with_prefix, uint8_t b, size_t count,
    uint8_t last, size_t *n)
{
	uint8_t *p = malloc(count + 2);
	size_t i = 0;

	if (with_prefix)
		p[i++] = prefix_byte;
	memset(p + i, b, count);
	i += count;
	p[i++] = last;
	*n = i;
	return p;
}

TEST(deep_nesting)
{
	static const uint8_t openers[] = { 0x81, 0x9f, 0xbf, 0xa1, 0xc6, 0xd2,
		0xd8 };
	uint8_t *p;
	size_t n, i;
	cs_cose_msg *msg = NULL;
	char *diag = NULL;
	clock_t t0 = clock();

	for (i = 0; i < sizeof(openers); i++) {
		p = repeat(0xd2, 0, openers[i], 10000, 0x00, &n);
		CHECK_INT_EQ(cs_cbor_check(p, n, CS_COSE_MAX_DEPTH), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), openers[i] == 0xd8 ?
		    "CBOR:" : "nested deeper than 16 levels");
		CHECK_INT_EQ(cs_cbor_diag(p, n, &diag), CS_EINVAL);
		CHECK(diag == NULL);
		free(p);
		p = repeat(0xd2, 1, openers[i], 10000, 0x00, &n);
		CHECK_INT_EQ(cs_cose_parse(p, n, &msg), CS_EINVAL);
		CHECK(msg == NULL);
		free(p);
	}
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);

	/* The bound itself: 16 levels pass, 17 do not. */
	p = repeat(0, 0, 0x81, 16, 0x00, &n);
	CHECK_INT_EQ(cs_cbor_check(p, n, 16), 0);
	CHECK_INT_EQ(cs_cbor_check(p, n, 15), CS_EINVAL);
	free(p);
	p = repeat(0, 0, 0x81, 17, 0x00, &n);
	CHECK_INT_EQ(cs_cbor_check(p, n, 16), CS_EINVAL);
	free(p);
	CHECK_INT_EQ(cs_cbor_check((const uint8_t *)"\x00", 1, 65), CS_EINVAL);
}

static const struct {
	const char *hex;
	int ok;
	const char *msg;
} cbor_cases[] = {
	{ "00", 1, NULL },
	{ "a0", 1, NULL },
	{ "9fff", 1, NULL },
	{ "5f4100ff", 1, NULL },
	{ "7f6161ff", 1, NULL },
	{ "5fff", 1, NULL },
	{ "d280", 1, NULL },		/* tag 18: libcbor 0.8 refuses 0xd2 */
	{ "c6c7d401", 1, NULL },
	{ "f93e00", 1, NULL },
	{ "bf0102ff", 1, NULL },
	{ "", 0, "empty input" },
	{ "5bffffffffffffffff00", 0, "truncated" },
	{ "7affffffff41", 0, "truncated" },
	{ "9bffffffffffffffff", 0, "array of 18446744073709551615 items" },
	{ "9a0001000000", 0, "longer than the input" },
	{ "bbffffffffffffffff", 0, "longer than the input" },
	{ "b9800000", 0, "longer than the input" },
	{ "8201", 0, "truncated" },
	{ "0102", 0, "1 trailing bytes" },
	{ "c6", 0, "truncated" },
	{ "d8", 0, "truncated" },
	{ "19", 0, "truncated" },
	{ "ff", 0, "break outside" },
	{ "82ff01", 0, "break outside" },
	{ "bf01ff", 0, "ends after a key" },
	{ "5f6161ff", 0, "chunk" },
	{ "5f5f4100ffff", 0, "chunk" },
	{ "7f01ff", 0, "chunk" },
	{ "f820", 0, "0xf8" },
	{ "e0", 0, "0xe0" },
	{ "1c", 0, "0x1c" },
	{ "5c", 0, "0x5c" },
	{ "9f", 0, "truncated" },
};

TEST(hostile_cbor)
{
	uint8_t *b, *p;
	size_t n, i;
	cs_cose_msg *msg = NULL;
	char *diag = NULL;
	int rc;

	for (i = 0; i < sizeof(cbor_cases) / sizeof(cbor_cases[0]); i++) {
		b = hx(cbor_cases[i].hex, &n);
		CHECK(b != NULL);
		if (b == NULL)
			continue;
		/* Exactly n bytes on the heap, so ASan sees any overread. */
		p = malloc(n ? n : 1);
		memcpy(p, b, n);
		rc = cs_cbor_check(p, n, CS_COSE_MAX_DEPTH);
		CHECK_INT_EQ(rc, cbor_cases[i].ok ? 0 : CS_EINVAL);
		if (rc != 0 && cbor_cases[i].msg != NULL)
			CHECK_CONTAINS(cs_err_msg(), cbor_cases[i].msg);
		if (rc != 0 || !cbor_cases[i].ok)
			fprintf(stderr, "     %-22s -> %s\n", cbor_cases[i].hex,
			    cs_err_msg());
		CHECK_INT_EQ(cs_cbor_diag(p, n, &diag), rc);
		free(diag);
		diag = NULL;
		CHECK(cs_cose_parse(p, n, &msg) != 0);
		CHECK(msg == NULL);
		free(p);
		free(b);
	}
}

/* Indefinite-length array and strings decode to the same message as the
 * definite form, and the signature (over the definite Sig_structure)
 * still verifies. */
TEST(indefinite_lengths)
{
	cs_key *k = gen_key(CS_ALG_EDDSA);
	uint8_t *out = NULL, buf[512];
	size_t olen = 0, n = 0, plen, half;
	cs_cose_msg *msg = NULL, *m2 = NULL;

	if (k == NULL)
		return;
	CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)claims,
	    sizeof(claims) - 1, &out, &olen), 0);
	CHECK_INT_EQ(cs_cose_parse(out, olen, &msg), 0);
	if (msg == NULL)
		goto out;
	plen = msg->protected_len;
	half = msg->payload_len / 2;
	buf[n++] = 0xd2;
	buf[n++] = 0x9f;
	buf[n++] = 0x5f;		/* protected, in two chunks */
	n += put_head(buf + n, 2, 3);
	memcpy(buf + n, msg->protected_raw, 3);
	n += 3;
	n += put_head(buf + n, 2, plen - 3);
	memcpy(buf + n, msg->protected_raw + 3, plen - 3);
	n += plen - 3;
	buf[n++] = 0xff;
	buf[n++] = 0xbf;		/* unprotected {_ } */
	buf[n++] = 0xff;
	buf[n++] = 0x5f;		/* payload in two chunks and an empty one */
	n += put_head(buf + n, 2, half);
	memcpy(buf + n, msg->payload, half);
	n += half;
	buf[n++] = 0x40;
	n += put_head(buf + n, 2, msg->payload_len - half);
	memcpy(buf + n, msg->payload + half, msg->payload_len - half);
	n += msg->payload_len - half;
	buf[n++] = 0xff;
	n += put_head(buf + n, 2, 64);
	memcpy(buf + n, msg->sig, 64);
	n += 64;
	buf[n++] = 0xff;
	CHECK_INT_EQ(cs_cose_parse(buf, n, &m2), 0);
	if (m2 != NULL) {
		CHECK(m2->protected_len == plen &&
		    memcmp(m2->protected_raw, msg->protected_raw, plen) == 0);
		CHECK(m2->payload_len == msg->payload_len &&
		    memcmp(m2->payload, msg->payload, half) == 0);
		CHECK_INT_EQ(m2->alg, CS_ALG_EDDSA);
		CHECK_INT_EQ(cs_cose_verify(m2, k), 0);
	}
out:
	cs_cose_msg_free(m2);
	cs_cose_msg_free(msg);
	free(out);
	key_free(k);
}

static const struct {
	const char *hex;
	const char *diag;
} diag_cases[] = {
	{ "a301266161864201026471225c0af5f6f7f93e0002d280",
	  "{1: -7, \"a\": [h'0102', \"q\\\"\\\\\\n\", true, null, undefined, "
	  "1.5], 2: 18([])}" },
	{ "9f5f41014102ff7fffbf20fb3fb999999999999aff"
	  "3bffffffffffffffff1bffffffffffffffffff",
	  "[_ (_ h'01', h'02'), \"\"_, {_ -1: 0.1}, -18446744073709551616, "
	  "18446744073709551615]" },
	{ "86f97c00f9fc00f97e00fa3fc00000fb4000000000000000f98000",
	  "[Infinity, -Infinity, NaN, 1.5, 2.0, -0.0]" },
	{ "8340a0626101", "[h'', {}, \"a\\u0001\"]" },
	{ "d83dd28440a04040", "61(18([h'', {}, h'', h'']))" },
	{ "c11a5f5e1000", "1(1600000000)" },
	{ "7f63e4b8ad6161ff", "(_ \"\xe4\xb8\xad\", \"a\")" },
};

TEST(diag)
{
	uint8_t *b;
	size_t n, i;
	char *s = NULL;

	for (i = 0; i < sizeof(diag_cases) / sizeof(diag_cases[0]); i++) {
		b = hx(diag_cases[i].hex, &n);
		CHECK_INT_EQ(cs_cbor_diag(b, n, &s), 0);
		CHECK_STR_EQ(s, diag_cases[i].diag);
		free(s);
		s = NULL;
		free(b);
	}
	CHECK_INT_EQ(cs_cbor_diag((const uint8_t *)"\x82\x01", 2, &s),
	    CS_EINVAL);
	CHECK(s == NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(deep_nesting);
	RUN(hostile_cbor);
	RUN(indefinite_lengths);
	RUN(diag);
	return check_summary();
}
