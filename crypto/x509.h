/*
 * x509: the X.509 certificate of a signing key (SPEC §12), which a PDF
 * reader needs to check an annotated copy's signature and which the trust
 * list carries in each JWK's "x5c".
 *
 * certsvc issues it to itself: subject = issuer = CN=<the library's name>,
 * signed by the key it certifies (a trust anchor a relying party installs,
 * as it installs the trust list).  Key usage digitalSignature,
 * nonRepudiation and keyCertSign with basicConstraints CA:TRUE, pathlen 0:
 * NSS (and so pdfsig, Firefox, Thunderbird) takes a self-signed
 * certificate as a trust anchor only when it is a CA's, and then trusts
 * the signatures it makes itself; pathlen 0 lets it certify no other CA.
 * A random 127-bit serial.
 */
#ifndef CS_X509_H
#define CS_X509_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys.h"

/* How long a certificate made here is valid: ten years from its key's
 * creation; a key is rotated long before. */
#define CS_X509_DAYS (10L * 366)
/* The longest library name a subject takes (the CN's upper bound). */
#define CS_X509_NAME_MAX 64

/* A self-issued certificate for key (which must hold its private half),
 * valid from not_before for CS_X509_DAYS.  *out: X509_free.  CS_EINVAL for
 * an empty or over-long name, CS_EUNSUPPORTED for an algorithm OpenSSL
 * cannot sign certificates with. */
int cs_x509_make(const cs_key *key, const char *name, time_t not_before,
    X509 **out);
/* Parse a PEM certificate buf[0..n) that must certify key's public key
 * (CS_EINVAL otherwise).  *out: X509_free. */
int cs_x509_read(const uint8_t *buf, size_t n, const cs_key *key, X509 **out);
/* cert as PEM text (*out malloc'd, NUL-terminated). */
int cs_x509_pem(X509 *cert, char **out);
/* cert's DER (*der malloc'd, *len its size). */
int cs_x509_der(X509 *cert, uint8_t **der, size_t *len);
/* The subject's CN as UTF-8 into out[n]; "" when none. */
void cs_x509_subject_cn(X509 *cert, char *out, size_t n);

#endif
