/*
 * zrecord: a licence record's JSON text as the store keeps it, compressed.
 *
 * A record is written as a zstd frame (level 3, with its content size and
 * checksum) against a preset dictionary: the SPEC §1 object's skeleton and
 * the shipped catalog's structure, given to zstd as raw content.  A record
 * of about 1.25 KB comes out at about 720 bytes.  Records written before
 * zstd are zlib streams against that dictionary or an older one, which
 * their header names by its Adler-32; records that would not shrink are
 * kept as text.  Every form reads back forever, so no dictionary here may
 * ever change: a new one goes beside them.
 *
 * Why zstd (bench/README.md): zlib spent about 33 µs a record building its
 * Huffman trees, whatever the level, a sixth of an issuance's CPU; zstd
 * spends about 9 µs, and reads a record in about 3 µs instead of 6, for
 * about 37 bytes more a licence.
 *
 * A change-feed event's body (SPEC §9) is packed the same way against a
 * dictionary of its own (the event's skeleton and the catalog's types):
 * cs_zevent_packer_new() and cs_zevent_unpack().  Its text must read back
 * byte for byte, since webhook signatures are over it; zstd is lossless
 * and the frame's checksum is verified on every read.
 */
#ifndef CS_ZRECORD_H
#define CS_ZRECORD_H

#include <stddef.h>

/* One writer's compressor and its output buffer: one thread at a time. */
typedef struct cs_zrecord_packer cs_zrecord_packer;

/* NULL when out of memory.  The first packs records, the second change
 * events: each kind reads back only with its own unpack below. */
cs_zrecord_packer *cs_zrecord_packer_new(void);
cs_zrecord_packer *cs_zevent_packer_new(void);
void cs_zrecord_packer_free(cs_zrecord_packer *p);

/*
 * text (n bytes) compressed: *out points into p's buffer, valid until its
 * next call, *outlen its length.  *out NULL when compressing would not
 * make it smaller (or zstd failed): the store keeps the text as it is.
 * CS_ENOMEM when the buffer cannot grow.
 */
int cs_zrecord_pack(cs_zrecord_packer *p, const char *text, size_t n,
    const void **out, size_t *outlen);

/*
 * A stored blob's text, NUL-terminated, into *out (malloc'd; *outlen its
 * length): a zstd frame or a zlib stream, as above.  CS_ETOOBIG when it
 * would be over cap bytes, CS_EINVAL when it is neither form, corrupt,
 * truncated, or made with a dictionary this build does not know ("unknown
 * dictionary" in the message), CS_ENOMEM.
 */
int cs_zrecord_unpack(const void *blob, size_t n, size_t cap, char **out,
    size_t *outlen);

/* The same for a change event's blob: a zstd frame made with the event
 * dictionary (never zlib), with the same errors. */
int cs_zevent_unpack(const void *blob, size_t n, size_t cap, char **out,
    size_t *outlen);

#endif
