/*
 * sbuf.c: the growable buffer.  Its contract: sbuf.h.
 */
#include "sbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for need bytes in all (the NUL included): doubling, so n appends
 * cost O(n) copies, and never past SIZE_MAX.  0, or -1 with failed set. */
static int
reserve(cs_sbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 1024;
	char *p;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
cs_sb_add(cs_sbuf *b, const void *s, size_t n)
{
	if (b->failed)
		return;
	if (n > SIZE_MAX - 1 - b->len) {
		b->failed = 1;
		return;
	}
	if (reserve(b, b->len + n + 1) != 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
cs_sb_puts(cs_sbuf *b, const char *s)
{
	cs_sb_add(b, s, strlen(s));
}

void
cs_sb_printf(cs_sbuf *b, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		cs_sb_add(b, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	cs_sb_add(b, big, (size_t)n);
	free(big);
}

void
cs_sb_html(cs_sbuf *b, const char *s)
{
	const char *start = s;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		cs_sb_add(b, start, (size_t)(s - start));
		cs_sb_puts(b, rep);
		start = s + 1;
	}
	cs_sb_add(b, start, (size_t)(s - start));
}

void
cs_sb_free(cs_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
