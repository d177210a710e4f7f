/*
 * pkcs11_internal: the RFC 7512 URI and the PIN file, shared by pkcs11.c
 * (loading through libp11) and pkcs11_keygen.c (C_GenerateKeyPair).  Not
 * for use outside crypto.
 */
#ifndef CS_PKCS11_INTERNAL_H
#define CS_PKCS11_INTERNAL_H

#ifndef CS_LAYER_CRYPTO
#error "pkcs11_internal.h is private to crypto: include pkcs11.h"
#endif

#include <stddef.h>

typedef struct cs_p11_uri {
	char *token;          /* label; required */
	char *object;         /* label; NULL: any */
	char *id;             /* CKA_ID bytes (id_len); NULL: any */
	size_t id_len;
	char *pin_source;     /* "file:PATH" or PATH; NULL: no login */
	char *module;         /* module-path; NULL: the caller's default */
} cs_p11_uri;

/* Parse s; CS_EINVAL naming what is wrong (pin-value is refused).  Free
 * with cs_p11_uri_free, also after a failure. */
int cs_p11_uri_parse(const char *s, cs_p11_uri *u);
void cs_p11_uri_free(cs_p11_uri *u);
/* The module to load: the URI's module-path, else fallback; NULL when
 * neither names one.  Borrowed. */
const char *cs_p11_module(const cs_p11_uri *u, const char *fallback);
/* The PIN of pin-source (NULL when none); wipe with cs_p11_pin_free. */
int cs_p11_pin_read(const cs_p11_uri *u, char **pin);
void cs_p11_pin_free(char *pin);

#endif
