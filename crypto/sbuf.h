/*
 * sbuf: the growable buffer, for everything certsvc writes piece by piece:
 * text (pages, SVG, metrics, CBOR diagnostic notation) and bytes (CBOR
 * heads, PNG images).  It lives in crypto/, the bottom layer, so that
 * every layer has the same one.  Out of memory (or a size past SIZE_MAX)
 * sets failed and drops the rest, so a writer appends freely and checks
 * once at the end.
 * p is malloc'd and kept NUL-terminated past len (bytes may hold NULs of
 * their own; len says where they end): the caller takes it (p = NULL
 * afterwards) or frees it with cs_sb_free.  p is NULL until the first
 * append (an empty one included), so a writer that wrote "" returns "".
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

/* s[0..n): text or bytes. */
void cs_sb_add(cs_sbuf *b, const void *s, size_t n);
void cs_sb_puts(cs_sbuf *b, const char *s);
void cs_sb_printf(cs_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s escaped for HTML and XML text and quoted attribute values
 * (& < > " '). */
void cs_sb_html(cs_sbuf *b, const char *s);
void cs_sb_free(cs_sbuf *b);

#endif
