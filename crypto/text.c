/*
 * text: the one UTF-8 decoder (text.h).
 */
#include "text.h"

#include <string.h>

/* Is b a continuation byte (10xxxxxx)? */
#define CONTINUES(b) (((unsigned char)(b) & 0xC0) == 0x80)

size_t
cs_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	/* The second byte's range narrows for four leads (table 3-7): that
	 * is what refuses overlongs, surrogates and code points past
	 * U+10FFFF without decoding first. */
	unsigned char lo = 0x80, hi = 0xBF;
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (u[0] < 0x80) {
		len = 1;
		c = u[0];
		goto done;
	}
	if (u[0] >= 0xC2 && u[0] <= 0xDF)
		len = 2;
	else if (u[0] >= 0xE0 && u[0] <= 0xEF)
		len = 3;
	else if (u[0] >= 0xF0 && u[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	if (u[0] == 0xE0)
		lo = 0xA0;
	else if (u[0] == 0xED)
		hi = 0x9F;
	else if (u[0] == 0xF0)
		lo = 0x90;
	else if (u[0] == 0xF4)
		hi = 0x8F;
	if (u[1] < lo || u[1] > hi)
		return 0;
	c = u[0] & (0xFF >> (len + 1));
	for (i = 1; i < len; i++) {
		if (!CONTINUES(u[i]))
			return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
done:
	if (cp != NULL)
		*cp = c;
	return len;
}

size_t
cs_utf8_encode(uint32_t cp, char out[4])
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t
cs_utf8_count(const char *s, size_t n)
{
	size_t chars = 0, i;

	for (i = 0; i < n; i++)
		chars += !CONTINUES(s[i]);
	return chars;
}

size_t
cs_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	/* s[max] is the first byte left out: while it continues a sequence,
	 * that sequence's start goes too. */
	while (max > 0 && CONTINUES(s[max]))
		max--;
	return max;
}

void
cs_utf8_scrub(char *s)
{
	size_t left = strlen(s), len;

	while (left > 0) {
		if ((len = cs_utf8_decode(s, left, NULL)) == 0) {
			*s = '?';
			len = 1;
		}
		s += len;
		left -= len;
	}
}

int
cs_word_in(const char *list, const char *word)
{
	size_t n = strlen(word), w;

	if (list == NULL || n == 0)
		return 0;
	for (; *(list += strspn(list, ", \t")) != '\0'; list += w) {
		w = strcspn(list, ", \t");
		if (w == n && memcmp(list, word, n) == 0)
			return 1;
	}
	return 0;
}
