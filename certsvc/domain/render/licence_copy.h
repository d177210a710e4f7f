/*
 * licence_copy: the annotated copy (加注件, SPEC §12) of a stored licence
 * as a signed PDF, for every layer above the render layer that hands one
 * out (GET /api/v1/copies/{id}.pdf, certsvc copy-of).
 */
#ifndef CS_LICENCE_COPY_H
#define CS_LICENCE_COPY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "copy_pdf.h"
#include "qr.h"
#include "service.h"

/* licence: cs_licence_read's object.  marks: purpose, used_by, copy_id and
 * until (issuer_name and the seal are filled here from the licence and
 * <templates>/seals/).  Signed at now with the active key, which must have
 * a certificate (CS_EUNAVAIL otherwise).  *pdf malloc'd. */
int cs_licence_copy_pdf(cs_service *svc, const json_t *licence,
    const cs_copy_marks *marks, const cs_qr_opts *qr, time_t now,
    uint8_t **pdf, size_t *len);

#endif
