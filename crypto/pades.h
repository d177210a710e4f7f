/*
 * pades: a PDF signed as PAdES baseline B-B (ETSI EN 319 142-1), bytes in,
 * bytes out: an incremental update appends a signature field and its
 * signature dictionary (/SubFilter /ETSI.CAdES.detached, /ByteRange, /M)
 * whose /Contents is a detached CMS SignedData over the byte range made
 * with OpenSSL's CMS API: SHA-256, ECDSA P-256 (an ES256 key), the
 * signer's certificate and the ESS signing-certificate-v2
 * attribute (CMS_CADES), and no signing-time attribute (PAdES baseline
 * takes the time from /M).
 *
 * The input is a PDF with a classic cross-reference table (what cairo 1.16
 * writes, copy_pdf.c); its page and catalog are rewritten in the update to
 * link the field.  Nothing of a request reaches the PDF syntax written
 * here: the dictionary holds numbers, fixed names and the signing time.
 */
#ifndef CS_PADES_H
#define CS_PADES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys.h"

/* The room kept for the CMS in /Contents, in bytes (twice that in hex). */
#define CS_PADES_CMS_MAX 6144

/* Sign pdf[0..len) with key (private half and key->cert required), at
 * when.  *out malloc'd, *out_len its size.  CS_EUNSUPPORTED for a key
 * other than ES256 (SPEC §12: ECDSA P-256).  CS_EINVAL for a PDF this
 * cannot extend (no classic xref table, no catalog or page found),
 * CS_ECRYPTO when OpenSSL fails. */
int cs_pades_sign(const uint8_t *pdf, size_t len, const cs_key *key,
    time_t when, uint8_t **out, size_t *out_len);

/* The byte range and CMS of the last signature of a PDF signed by
 * cs_pades_sign: br[4] and the DER (*cms malloc'd).  For tests and for
 * checking a copy without a PDF reader. */
int cs_pades_find(const uint8_t *pdf, size_t len, size_t br[4],
    uint8_t **cms, size_t *cms_len);

#endif
