/*
 * openapi_doc: the OpenAPI document of API v1 (docs/openapi.json), built
 * into the binary by cmake/embed_file.cmake and served at GET
 * /api/v1/openapi.json.  Static data: borrowed, never freed, shared by
 * every thread.
 */
#ifndef CS_OPENAPI_DOC_H
#define CS_OPENAPI_DOC_H

#include <stddef.h>

/* The file's bytes (NUL-terminated) and their length without the NUL. */
extern const unsigned char cs_openapi_json[];
extern const size_t cs_openapi_json_len;
/* A strong ETag of those bytes, quoted: "<32 hex digits of SHA-256>". */
extern const char cs_openapi_json_etag[];

#endif
