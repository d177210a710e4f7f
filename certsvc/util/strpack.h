/*
 * strpack: copies of a struct's strings packed behind it, so that the
 * struct and its strings are one allocation (one malloc chunk, one free,
 * and a size that is the memory used).  The licence cache's rows and the
 * read audit queue's records are kept so.
 */
#ifndef CS_STRPACK_H
#define CS_STRPACK_H

#include <stddef.h>

/* The bytes copies of the n strings take, NULs included (NULL: none). */
size_t cs_strpack_size(const char *const *src, size_t n);

/* Copy the n strings end to end from p on (cs_strpack_size bytes) and point
 * *dst[i] at the copy of src[i]; a NULL string stays NULL. */
void cs_strpack(const char *const *src, char **const *dst, size_t n, char *p);

#endif
