/*
 * http_qrcache: the QR image cache of the HTTP layer, a small LRU of
 * rendered images (QR PNG and SVG, face.png) keyed by format, form and id,
 * bounded in entries and bytes, safe to share between threads (why it
 * exists: http_qrcache.c).  Only the HTTP layer uses it.
 */
#ifndef CS_HTTP_QRCACHE_H
#define CS_HTTP_QRCACHE_H

#include <stddef.h>
#include <stdint.h>

struct cs_qr_cache;

/* At most max_entries images of at most max_bytes in all; 0 or CS_ENOMEM. */
int cs_qr_cache_new(size_t max_entries, size_t max_bytes,
    struct cs_qr_cache **out);
void cs_qr_cache_free(struct cs_qr_cache *c);
/* A copy of the cached image (malloc'd), its length in *len, or NULL. */
uint8_t *cs_qr_cache_get(struct cs_qr_cache *c, const char *key, size_t *len);
/* Keep a copy of data[0..len) under key (the least recently used images
 * make room); an image over a quarter of the byte bound is not kept, and
 * out of memory keeps nothing (a cache that cannot grow is still correct). */
void cs_qr_cache_put(struct cs_qr_cache *c, const char *key,
    const uint8_t *data, size_t len);

#endif
