/*
 * copy_pdf: an annotated copy's page (加注件, SPEC §12) as an unsigned PDF:
 * the licence face drawn as vector graphics on an A4 landscape page by
 * librsvg on cairo's PDF surface (text stays text, its fonts embedded as
 * subsets), the issuing authority's seal, and the annotation written
 * diagonally across the face.  crypto/pades.c signs the result.
 *
 * Everything a request supplied (purpose, user) is XML-escaped into an SVG
 * that librsvg draws: no value reaches PDF syntax except as glyphs that
 * cairo writes, and nothing here opens a file.  Fonts come from the
 * layouts' font-family through fontconfig, never from a request.
 */
#ifndef CS_COPY_PDF_H
#define CS_COPY_PDF_H

#include <stddef.h>
#include <stdint.h>

/* A4 landscape in PDF points. */
#define CS_COPY_PAGE_W 841.89
#define CS_COPY_PAGE_H 595.28

typedef struct cs_copy_marks {
	const char *purpose;     /* written as 仅供{purpose}使用 */
	const char *used_by;     /* the user's name, or NULL */
	const char *copy_id;
	const char *until;       /* the last day, YYYY-MM-DD: {until}前有效 */
	const char *issuer_name; /* around a drawn seal */
	const char *seal_svg;    /* the authority's seal (trusted, from
				  * templates/seals/), or NULL: a drawn seal
				  * marked 样章 */
	size_t seal_len;
} cs_copy_marks;

/* The page: face_svg[0..len) (face.c's output, 1123 x 794 user units)
 * with marks.  *pdf malloc'd, *pdf_len its size.  CS_EINVAL when an SVG
 * does not parse, CS_ENOMEM, CS_EIO when cairo fails. */
int cs_copy_pdf(const char *face_svg, size_t len, const cs_copy_marks *m,
    uint8_t **pdf, size_t *pdf_len);

/* The annotation and drawn-seal layer alone, as SVG text over the face's
 * 1123 x 794 (*out malloc'd); for cs_copy_pdf and its tests. */
int cs_copy_overlay_svg(const cs_copy_marks *m, char **out);

#endif
