/*
 * face: the licence face (照面), the type's SVG layout from templates/
 * filled with one licence's fields and its QR code (SPEC §3, §5 face.svg).
 *
 * Placeholders in the layout are {{name}} inside <text> elements: type_name,
 * number, id, holder.name, holder.code, issuer.name, valid_from,
 * valid_until, issued_at, fields.<field>.  The QR code replaces the one
 * <rect id="qr-slot" .../>.  Every inserted value is XML-escaped; a <text>
 * with data-wrap="W" wraps its value into lines of at most W user units.
 *
 * Text that does not fit its box is wrapped or shrunk, never cut.  A text
 * with data-lines="N" as well has a box W wide and N lines high at its
 * font size; its value wraps, then shrinks (taking the more, shorter lines
 * the box then holds) down to a legible 9 user units.  A value that does
 * not fit even so is drawn smaller still, down to 30% of the size and past
 * the box if it must, every character kept, and its <text> is marked
 * data-overflow="true".  The shipped layouts size every box for its value
 * at the limit issuance enforces (the field's max_length, 200 characters
 * of holder name, 64 of number), so only an issuing-authority name over
 * about 80 characters (grants do not bound it) or a layout drawn too small
 * can get there; tests/test_face.c (shipped_limits) holds the layouts to
 * it.
 */
#ifndef CS_FACE_H
#define CS_FACE_H

#include <jansson.h>

#include "catalog.h"
#include "qr.h"
#include "service.h"

/* licence: the SPEC §1 object; qr_text: what the code carries.  *out
 * malloc'd. */
int cs_face_svg(const cs_type *type, const json_t *licence, const char *qr_text,
    const cs_qr_opts *qr, char **out);

/* The face of a licence as the domain reads it (cs_licence_read): its
 * type's layout from svc's catalog and its QR code in form ("url" or
 * "compact").  CS_ENOTFOUND when the catalog no longer holds the type.
 * licence_face.c. */
int cs_licence_face_svg(cs_service *svc, const json_t *licence,
    const char *form, const cs_qr_opts *qr, char **out);

#endif
