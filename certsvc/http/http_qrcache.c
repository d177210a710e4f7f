/*
 * http_qrcache: the QR image cache (http_qrcache.h): a linear table under
 * one mutex, entries found by an FNV-1a hash of the key, the least
 * recently used evicted first.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "http_qrcache.h"

/*
 * Rendering a QR image costs far more than everything else in a read
 * (NOTES.md: 580 µs for a PNG against 6 µs for the lookup), and a licence's
 * QR text never changes (the token is immutable, the public URL is fixed
 * while the process runs).  So images are kept, keyed by format, form and
 * id, in a small LRU bounded in entries and bytes.  The licence read before
 * the lookup still runs every time: the grant check and the audit record
 * must not be skipped by a cache hit.
 */
struct qr_entry {
	uint64_t hash;
	char *key;
	uint8_t *data;
	size_t len;
	uint64_t used;      /* the LRU clock at the last hit */
};

struct cs_qr_cache {
	pthread_mutex_t lock;
	struct qr_entry *e;
	size_t n, max, bytes, max_bytes;
	uint64_t clock;
};

int
cs_qr_cache_new(size_t max_entries, size_t max_bytes, struct cs_qr_cache **out)
{
	struct cs_qr_cache *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->e = calloc(max_entries, sizeof(*c->e))) == NULL) {
		free(c);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	c->max = max_entries;
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

void
cs_qr_cache_free(struct cs_qr_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->e[i].key);
		free(c->e[i].data);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint8_t *
cs_qr_cache_get(struct cs_qr_cache *c, const char *key, size_t *len)
{
	uint64_t h = fnv1a(key);
	uint8_t *copy = NULL;
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->e[i].hash != h || strcmp(c->e[i].key, key) != 0)
			continue;
		if ((copy = malloc(c->e[i].len)) != NULL) {
			memcpy(copy, c->e[i].data, c->e[i].len);
			*len = c->e[i].len;
			c->e[i].used = ++c->clock;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return copy;
}

static void
cache_evict_one(struct cs_qr_cache *c)
{
	size_t i, old = 0;

	for (i = 1; i < c->n; i++)
		if (c->e[i].used < c->e[old].used)
			old = i;
	c->bytes -= c->e[old].len;
	free(c->e[old].key);
	free(c->e[old].data);
	c->e[old] = c->e[--c->n];
}

void
cs_qr_cache_put(struct cs_qr_cache *c, const char *key, const uint8_t *data,
    size_t len)
{
	uint64_t h = fnv1a(key);
	struct qr_entry e = {h, NULL, NULL, len, 0};
	size_t i;

	if (len > c->max_bytes / 4 || c->max == 0)
		return;
	if ((e.key = strdup(key)) == NULL || (e.data = malloc(len)) == NULL) {
		free(e.key);
		return;  /* a cache that cannot grow is still correct */
	}
	memcpy(e.data, data, len);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (c->e[i].hash == h && strcmp(c->e[i].key, key) == 0)
			break;
	if (i < c->n) {
		/* Another thread rendered it meanwhile. */
		pthread_mutex_unlock(&c->lock);
		free(e.key);
		free(e.data);
		return;
	}
	while (c->n > 0 && (c->n == c->max || c->bytes + len > c->max_bytes))
		cache_evict_one(c);
	e.used = ++c->clock;
	c->e[c->n++] = e;
	c->bytes += len;
	pthread_mutex_unlock(&c->lock);
}
