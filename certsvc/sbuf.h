/*
 * sbuf: a growable text buffer, for everything certsvc writes as text
 * (pages, SVG, problem bodies).  Out of memory sets failed and drops the
 * rest, so a writer appends freely and checks once at the end.
 * The text in p is NUL-terminated and malloc'd: the caller takes it
 * (p = NULL afterwards) or frees it with cs_sb_free.
 */
#ifndef CS_SBUF_H
#define CS_SBUF_H

#include <stddef.h>

typedef struct cs_sbuf {
	char *p;
	size_t len, cap;
	int failed;
} cs_sbuf;

#define CS_SBUF_INIT {NULL, 0, 0, 0}

void cs_sb_add(cs_sbuf *b, const char *s, size_t n);
void cs_sb_puts(cs_sbuf *b, const char *s);
void cs_sb_printf(cs_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s escaped for HTML and XML text and quoted attribute values
 * (& < > " '). */
void cs_sb_html(cs_sbuf *b, const char *s);
void cs_sb_free(cs_sbuf *b);

#endif
