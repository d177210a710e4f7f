/*
 * qr: QR code images of a text (SPEC §4) with libqrencode, as PNG (libpng)
 * or SVG.  The smallest version that fits is chosen; the version used is
 * reported so callers and tests can hold it against SPEC §4's limits.
 * Upper-case Base45 text ("EL1:...") is encoded in alphanumeric mode where
 * the whole text is in that set; anything else in 8-bit mode.
 */
#ifndef CS_QR_H
#define CS_QR_H

#include <stddef.h>
#include <stdint.h>

enum cs_qr_ecc { CS_QR_ECC_L, CS_QR_ECC_M, CS_QR_ECC_Q, CS_QR_ECC_H };

typedef struct cs_qr_opts {
	enum cs_qr_ecc ecc;  /* CS_QR_ECC_M by default */
	int module_px;       /* pixels per module in PNG; 4 by default */
	int margin;          /* quiet zone in modules; 4 by default */
} cs_qr_opts;

/* "L"|"M"|"Q"|"H" (case-insensitive) -> level. */
int cs_qr_ecc_from_name(const char *name, enum cs_qr_ecc *out);

/* A PNG image in memory (malloc'd, caller frees).  *version_out optional. */
int cs_qr_png(const char *text, const cs_qr_opts *opts, uint8_t **png,
    size_t *len, int *version_out);
/* An SVG document (malloc'd text, caller frees), one <path> for the dark
 * modules, viewBox in modules.  *version_out optional. */
int cs_qr_svg(const char *text, const cs_qr_opts *opts, char **svg,
    int *version_out);
/* The SVG's inner group only (no XML prolog, no <svg> root), scaled to size
 * user units at (x, y): for embedding in a licence face. */
int cs_qr_svg_fragment(const char *text, const cs_qr_opts *opts, double x,
    double y, double size, char **out, int *version_out);

#endif
