/*
 * cbor_walk: check any CBOR item without building it, and render it in
 * diagnostic notation (RFC 8949 §8), in one bounded pass over untrusted
 * bytes.
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

#endif
