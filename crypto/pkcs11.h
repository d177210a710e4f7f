/*
 * pkcs11: signing keys kept in a PKCS#11 token (SPEC §11), named by an
 * RFC 7512 URI in place of the key directory:
 *
 *   pkcs11:token=certsvc;object=sign?pin-source=file:/etc/certsvc/pin
 *          &module-path=/usr/lib/softhsm/libsofthsm2.so
 *
 * Path attributes read: token (the token's label), object (the keys'
 * label), id (percent-encoded CKA_ID); others (manufacturer, serial, ...)
 * are accepted and ignored.  Query attributes: pin-source (a file holding
 * the user PIN, "file:" optional; refused when group or others can read
 * it) and module-path (else the module given by the caller).  pin-value is
 * refused: a PIN in a URI ends up on command lines and in logs.
 *
 * Loading goes through libp11: every key pair of the token that matches
 * becomes a cs_key whose pkey signs inside the token (EVP, so COSE, the
 * certificates and PAdES need no other path) and never holds the private
 * scalar.  Keys made by cs_pkcs11_keygen carry their creation time as
 * their CKA_ID ("YYYYmmddTHHMMSSZ"), which orders them as a key
 * directory's stems do: the newest signs, older ones verify only.
 *
 * One token keyring per module at a time: freeing it finalises the module
 * (C_Finalize), and loading initialises it again, which is also how a
 * token that went away and came back is found again.  Callers serialise
 * load and free against signing (the service's keys lock).
 */
#ifndef CS_PKCS11_H
#define CS_PKCS11_H

#include "keys.h"

/* 1 when keys is a PKCS#11 URI ("pkcs11:" prefix), else 0. */
int cs_pkcs11_is_uri(const char *keys);

/* The keys setting's keyring: a key directory (cs_keyring_load_dir) or a
 * token (cs_keyring_load_pkcs11). */
int cs_keyring_load(const char *keys, const char *module, cs_keyring **out);

/* Every matching key pair of the token named by uri into a new keyring
 * (*out, caller frees with cs_keyring_free, which finalises the module).
 * module: the module when the URI has no module-path (NULL or "": then
 * one is required in the URI).  CS_ENOTFOUND naming the token or object
 * when the URI matches none; CS_EPERM for a bad PIN or PIN file. */
int cs_keyring_load_pkcs11(const char *uri, const char *module,
    cs_keyring **out);

/* Generate a key pair of alg inside the token (CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_TOKEN), labelled with the URI's object (required)
 * and with the creation time as its CKA_ID.  *kid_out (optional) gets its
 * kid.  ES256 and SM2 only (SM2 where the token offers it). */
int cs_pkcs11_keygen(const char *uri, const char *module, int alg,
    uint8_t kid_out[CS_KID_LEN]);

/* Free what a token keyring holds besides its keys (keys.c calls this). */
void cs_pkcs11_free(struct cs_p11 *p11);

#endif
