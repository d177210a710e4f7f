/*
 * catalog_internal: what the files of the catalog share (catalog.c: the
 * types loaded; catalog_fields.c: a request's fields validated against
 * them).  Not for use outside those files.
 */
#ifndef CS_CATALOG_INTERNAL_H
#define CS_CATALOG_INTERNAL_H

/* Private to certsvc/domain: its library is built with CS_LAYER_DOMAIN;
 * anyone else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_DOMAIN
#error "catalog_internal.h is private to certsvc/domain: include catalog.h"
#endif

#include <stddef.h>

#include "catalog.h"

/* Append s to buf (size n) as far as it fits, keeping UTF-8 whole. */
void cs_catalog_append(char *buf, size_t n, const char *s);
/* "a, b, c" of a type's field names into buf (size n); cut with "..."
 * when long. */
const char *cs_catalog_field_list(const cs_type *t, char *buf, size_t n);

#endif
