/*
 * cbor_walk: check any CBOR item without building it, and render it in
 * diagnostic notation (RFC 8949 §8), in one bounded pass over untrusted
 * bytes; and the writers of CBOR heads that the COSE structures and the
 * status list are made of (preferred serialization: shortest heads).
 */
#ifndef CS_CBOR_WALK_H
#define CS_CBOR_WALK_H

#include <stddef.h>
#include <stdint.h>

/* How deep COSE and CWT structures, and the items `certsvc decode` shows,
 * may nest. */
#define CS_COSE_MAX_DEPTH 16

/* CBOR diagnostic notation of any CBOR item (for `certsvc decode`), bounded
 * by CS_COSE_MAX_DEPTH.  *out malloc'd. */
int cs_cbor_diag(const uint8_t *buf, size_t n, char **out);

/* Check that buf holds exactly one well-formed CBOR item nested no deeper
 * than max_depth (0-64), without building it. */
int cs_cbor_check(const uint8_t *buf, size_t n, int max_depth);

#define CBOR_MAJOR_UINT 0
#define CBOR_MAJOR_NEGINT 1
#define CBOR_MAJOR_BSTR 2
#define CBOR_MAJOR_TSTR 3
#define CBOR_MAJOR_ARRAY 4
#define CBOR_MAJOR_MAP 5
#define CBOR_MAJOR_TAG 6

struct cs_sbuf;
/* Append a head of major type major and argument v in its shortest form
 * (RFC 8949 §4.2.1). */
void cs_cbor_head(struct cs_sbuf *b, int major, uint64_t v);
/* An integer, a byte string, a text string (s NUL-terminated). */
void cs_cbor_int(struct cs_sbuf *b, int64_t v);
void cs_cbor_bstr(struct cs_sbuf *b, const uint8_t *d, size_t n);
void cs_cbor_text(struct cs_sbuf *b, const char *s);

#endif
