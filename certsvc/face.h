/*
 * face: the licence face (照面), the type's SVG layout from templates/
 * filled with one licence's fields and its QR code (SPEC §3, §5 face.svg).
 *
 * Placeholders in the layout are {{name}} inside <text> elements: type_name,
 * number, id, holder.name, holder.code, issuer.name, valid_from,
 * valid_until, issued_at, fields.<field>.  The QR code replaces the one
 * <rect id="qr-slot" .../>.  Every inserted value is XML-escaped; a <text>
 * with data-wrap="W" wraps its value into lines of at most W user units.
 */
#ifndef CS_FACE_H
#define CS_FACE_H

#include <jansson.h>

#include "catalog.h"
#include "qr.h"

/* licence: the SPEC §1 object; qr_text: what the code carries.  *out
 * malloc'd. */
int cs_face_svg(const cs_type *type, const json_t *licence, const char *qr_text,
    const cs_qr_opts *qr, char **out);

#endif
