/*
 * test_text: the one UTF-8 decoder (crypto/text.h), its encoder, its
 * counter, its cut and the scrub of messages.  The decoder is checked on Unicode's table
 * 3-7 boundaries by hand, then against a reference written the other way
 * round (decode by bit arithmetic, then refuse by value) over every 1-, 2-
 * and 3-byte input and every 4-byte one whose last two bytes are at the
 * edges of the continuation range.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "text.h"

static const struct {
	const char *s;
	size_t n;
	size_t len;     /* 0: not well-formed */
	uint32_t cp;
} cases[] = {
	{ "A", 1, 1, 0x41 },
	{ "", 1, 1, 0 },                              /* NUL is a character */
	{ "\x7F", 1, 1, 0x7F },
	{ "\xC2\x80", 2, 2, 0x80 },
	{ "\xDF\xBF", 2, 2, 0x7FF },
	{ "\xE0\xA0\x80", 3, 3, 0x800 },
	{ "\xE4\xB8\xAD", 3, 3, 0x4E2D },             /* 中 */
	{ "\xED\x9F\xBF", 3, 3, 0xD7FF },
	{ "\xEE\x80\x80", 3, 3, 0xE000 },
	{ "\xEF\xBF\xBF", 3, 3, 0xFFFF },
	{ "\xF0\x90\x80\x80", 4, 4, 0x10000 },
	{ "\xF4\x8F\xBF\xBF", 4, 4, 0x10FFFF },
	{ "\xE4\xB8\xADX", 4, 3, 0x4E2D },            /* stops at its end */
	{ "", 0, 0, 0 },                              /* nothing to read */
	{ "\x80", 1, 0, 0 },                          /* lone continuation */
	{ "\xBF", 1, 0, 0 },
	{ "\xC0\xAF", 2, 0, 0 },                      /* overlong '/' */
	{ "\xC1\xBF", 2, 0, 0 },
	{ "\xE0\x9F\xBF", 3, 0, 0 },                  /* overlong U+07FF */
	{ "\xF0\x8F\xBF\xBF", 4, 0, 0 },              /* overlong U+FFFF */
	{ "\xED\xA0\x80", 3, 0, 0 },                  /* surrogate D800 */
	{ "\xED\xBF\xBF", 3, 0, 0 },                  /* surrogate DFFF */
	{ "\xF4\x90\x80\x80", 4, 0, 0 },              /* U+110000 */
	{ "\xF5\x80\x80\x80", 4, 0, 0 },
	{ "\xFE", 1, 0, 0 },
	{ "\xFF", 1, 0, 0 },
	{ "\xE4\xB8", 2, 0, 0 },                      /* cut short */
	{ "\xE4\xB8\xAD", 2, 0, 0 },                  /* n says cut short */
	{ "\xF0\x90\x80", 3, 0, 0 },
	{ "\xC3(", 2, 0, 0 },                         /* not a continuation */
	{ "\xE4\xB8(", 3, 0, 0 },
	{ "\xF0\x90\x80(", 4, 0, 0 },
};

TEST(decode_table)
{
	size_t i, len;
	uint32_t cp;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp = 0xDEADBEEF;
		len = cs_utf8_decode(cases[i].s, cases[i].n, &cp);
		CHECK_INT_EQ(len, cases[i].len);
		CHECK_INT_EQ(cp, cases[i].len > 0 ? cases[i].cp : 0xDEADBEEF);
	}
	/* The code point is optional. */
	CHECK_INT_EQ(cs_utf8_decode("\xE4\xB8\xAD", 3, NULL), 3);
}

/* The reference: lengths from the lead's high bits, the value by shifts,
 * then refusal by value. */
static size_t
ref_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, min = 0x80, c = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, min = 0x800, c = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, min = 0x10000, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* One input against the reference; counts disagreements. */
static int
agrees(const unsigned char *s, size_t n)
{
	uint32_t got = 0, want = 0;
	size_t len = cs_utf8_decode((const char *)s, n, &got);

	return len == ref_decode(s, n, &want) && (len == 0 || got == want);
}

TEST(decode_against_reference)
{
	static const unsigned char edges[] = {0x00, 0x7F, 0x80, 0xBF, 0xC0};
	unsigned char s[4];
	unsigned a, b, c, d;
	long bad = 0;

	for (a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		bad += !agrees(s, 1);
		for (b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			bad += !agrees(s, 2);
			for (c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				bad += !agrees(s, 3);
			}
			for (c = 0; c < sizeof(edges); c++)
				for (d = 0; d < sizeof(edges); d++) {
					s[2] = edges[c];
					s[3] = edges[d];
					bad += !agrees(s, 4);
				}
		}
	}
	CHECK_INT_EQ(bad, 0);
}

TEST(count)
{
	CHECK_INT_EQ(cs_utf8_count("", 0), 0);
	CHECK_INT_EQ(cs_utf8_count("abc", 3), 3);
	CHECK_INT_EQ(cs_utf8_count("\xE4\xB8\xAD\xE6\x96\x87", 6), 2);
	/* A stray lead or byte counts one; a stray continuation none. */
	CHECK_INT_EQ(cs_utf8_count("a\xFF" "b", 3), 3);
	CHECK_INT_EQ(cs_utf8_count("a\x80" "b", 3), 2);
	/* Only n bytes are read. */
	CHECK_INT_EQ(cs_utf8_count("\xE4\xB8\xAD", 1), 1);
}

TEST(cut)
{
	const char *s = "ab\xE4\xB8\xAD" "c";   /* a b 中 c: 6 bytes */

	CHECK_INT_EQ(cs_utf8_cut(s, 6, 10), 6);
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 6), 6);
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 5), 5);  /* after 中 */
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 4), 2);  /* not inside 中 */
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 3), 2);
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 2), 2);
	CHECK_INT_EQ(cs_utf8_cut(s, 6, 0), 0);
	CHECK_INT_EQ(cs_utf8_cut("\xE4\xB8\xAD", 3, 2), 0);
}

TEST(scrub)
{
	char s[64];

	strcpy(s, "plain \xE4\xB8\xAD text");
	cs_utf8_scrub(s);
	CHECK_STR_EQ(s, "plain \xE4\xB8\xAD text");
	/* Each byte outside a well-formed sequence becomes one '?'. */
	strcpy(s, "a\xC0\xAF" "b\xED\xA0\x80" "c\xFF");
	cs_utf8_scrub(s);
	CHECK_STR_EQ(s, "a??b???c?");
	/* A character cut by the end of the string (a full buffer). */
	strcpy(s, "x\xE4\xB8");
	cs_utf8_scrub(s);
	CHECK_STR_EQ(s, "x??");
	strcpy(s, "\xF0\x90\x80");
	cs_utf8_scrub(s);
	CHECK_STR_EQ(s, "???");
	s[0] = '\0';
	cs_utf8_scrub(s);
	CHECK_STR_EQ(s, "");
}

/* Every scalar value written and read back by the decoder; surrogates and
 * values past U+10FFFF are refused. */
static void
test_encode_round_trip(void)
{
	uint32_t cp, back;
	char u[4];
	size_t n, bad = 0;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		n = cs_utf8_encode(cp, u);
		if (cp >= 0xd800 && cp <= 0xdfff) {
			bad += n != 0;
			continue;
		}
		back = 0xffffffff;
		if (n == 0 || cs_utf8_decode(u, n, &back) != n || back != cp)
			bad++;
	}
	CHECK_INT_EQ(bad, 0);
	CHECK_INT_EQ(cs_utf8_encode(0x110000, u), 0);
	CHECK_INT_EQ(cs_utf8_encode(0xffffffff, u), 0);
	CHECK_INT_EQ(cs_utf8_encode(0x4e2d, u), 3);
	CHECK(memcmp(u, "\xE4\xB8\xAD", 3) == 0);
}

/* Whole words only: a prefix, a suffix or a run across the space is not
 * one of them. */
static void
test_word_in(void)
{
	const char *list = "issue amend issue_bundle read";

	CHECK(cs_word_in(list, "issue"));
	CHECK(cs_word_in(list, "issue_bundle"));
	CHECK(cs_word_in(list, "read"));
	CHECK(!cs_word_in(list, "iss"));
	CHECK(!cs_word_in(list, "bundle"));
	CHECK(!cs_word_in(list, "ead"));
	CHECK(!cs_word_in(list, "issue amend"));
	CHECK(!cs_word_in(list, ""));
	CHECK(!cs_word_in(NULL, "issue"));
	CHECK(!cs_word_in("", "issue"));
	/* Commas and tabs separate too, as a configured list writes them. */
	CHECK(cs_word_in("https://a.example, https://b.example", "https://b.example"));
	CHECK(cs_word_in("x,\ty", "y"));
	CHECK(!cs_word_in("https://a.example,", "https://a"));
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(decode_table);
	RUN(decode_against_reference);
	RUN(count);
	RUN(cut);
	RUN(scrub);
	RUN(encode_round_trip);
	RUN(word_in);
	return check_summary();
}
