/*
 * keys_internal: what the files of the keys module share (keys.c: keys and
 * the keyring; keyfile.c: key files and the key directory; jwks.c: the
 * trust list).  Not for use outside those files.
 */
#ifndef CS_KEYS_INTERNAL_H
#define CS_KEYS_INTERNAL_H

/* Private to crypto: its library is built with CS_LAYER_CRYPTO; anyone else
 * gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_CRYPTO
#error "keys_internal.h is private to crypto: include keys.h"
#endif

#include "keys.h"

/* Key and certificate files are a few hundred bytes to a few KiB; a larger
 * file is not one, and is not read into memory. */
#define KEY_FILE_MAX (64 * 1024)

/* An algorithm's name in key file stems ("es256", "eddsa", "sm2"); NULL
 * when unknown. */
const char *cs_keys_alg_file(int alg);

/* The time a key file stem (or a token key's CKA_ID) starts with,
 * "YYYYmmddTHHMMSSZ"; -1 when it does not (keyfile.c). */
int cs_keys_stem_time(const char *s, time_t *out);

/* The same form for time t into out[17]. */
void cs_keys_stem_format(time_t t, char out[17]);

/* An empty keyring; NULL when out of memory. */
cs_keyring *cs_keys_keyring_new(void);

#endif
