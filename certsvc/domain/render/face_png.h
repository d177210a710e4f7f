/*
 * face_png: a licence face as a PNG image (GET .../face.png), for systems
 * that cannot show SVG.  The SVG of face.c is rendered by librsvg with
 * cairo; text goes through pango and fontconfig, so the CJK font is
 * whatever fontconfig finds for the layout's font-family (the README's
 * install step names fonts-noto-cjk).
 */
#ifndef CS_FACE_PNG_H
#define CS_FACE_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Scales GET .../face.png takes: 1 is the layout's own size in pixels.  2,
 * the default, keeps a QR module at 2 px or more on every shipped layout,
 * which a scanner and zbarimg read from the image. */
#define CS_FACE_PNG_MIN_SCALE 1
#define CS_FACE_PNG_MAX_SCALE 3
#define CS_FACE_PNG_DEFAULT_SCALE 2
/* No image larger than this many pixels is drawn (memory bound: 4 bytes
 * each while drawing). */
#define CS_FACE_PNG_MAX_PIXELS (4096L * 4096L)

/* Render svg[0..len) at scale onto white; *png malloc'd, *png_len its
 * size.  CS_EINVAL when librsvg cannot read the SVG or it has no size,
 * CS_ETOOBIG over CS_FACE_PNG_MAX_PIXELS, CS_ENOMEM, CS_EIO when cairo
 * fails. */
int cs_face_png(const char *svg, size_t len, int scale, uint8_t **png,
    size_t *png_len);

#endif
