/*
 * face_png: the face SVG drawn by librsvg into a cairo image, written as a
 * PNG (face_png.h).
 *
 * The SVG is the one face.c made: every value in it is escaped and it
 * refers to nothing outside itself (the QR code is inline), and the handle
 * has no base file, so librsvg has nothing to load from the disk or the
 * network.  A handle and a surface live for one call: librsvg and cairo
 * keep no state shared between threads beyond pango's per-thread font map.
 */
#include "face_png.h"

#include <cairo.h>
#include <librsvg/rsvg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "render_gate.h"
#include "sbuf.h"

/* Where cairo writes the PNG: a cs_sbuf. */
static cairo_status_t
png_write(void *closure, const unsigned char *data, unsigned int n)
{
	cs_sbuf *o = closure;

	cs_sb_add(o, data, n);
	return o->failed ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

int
cs_face_png(const char *svg, size_t len, int scale, uint8_t **png,
    size_t *png_len)
{
	RsvgHandle *h = NULL;
	GError *err = NULL;
	cairo_surface_t *s = NULL;
	cairo_t *cr = NULL;
	RsvgRectangle vp;
	cs_sbuf o = CS_SBUF_INIT;
	gdouble w = 0, hh = 0;
	long pw, ph;
	int rc = 0, gated = 0;

	*png = NULL;
	*png_len = 0;
	if (scale < CS_FACE_PNG_MIN_SCALE || scale > CS_FACE_PNG_MAX_SCALE) {
		rc = cs_err_set(CS_EINVAL, "scale must be %d to %d",
		    CS_FACE_PNG_MIN_SCALE, CS_FACE_PNG_MAX_SCALE);
		goto out;
	}
	h = rsvg_handle_new_from_data((const guint8 *)svg, len, &err);
	if (h == NULL) {
		/* librsvg's message names the XML error; it holds no path. */
		rc = cs_err_set(CS_EINVAL, "the face SVG does not parse: %s",
		    err != NULL ? err->message : "unknown error");
		goto out;
	}
	/* The layouts give width and height in user units (pixels). */
	rsvg_handle_set_dpi(h, 96.0);
	if (!rsvg_handle_get_intrinsic_size_in_pixels(h, &w, &hh) ||
	    !(w >= 1 && hh >= 1 && w <= 65535 && hh <= 65535)) {
		rc = cs_err_set(CS_EINVAL, "the face SVG has no width and height "
		    "in pixels");
		goto out;
	}
	pw = (long)ceil(w * scale);
	ph = (long)ceil(hh * scale);
	if (pw * ph > CS_FACE_PNG_MAX_PIXELS) {
		rc = cs_err_set(CS_ETOOBIG, "the face would be %ld x %ld pixels, "
		    "over the limit", pw, ph);
		goto out;
	}
	/* The image is the large buffer: it is drawn within a slot. */
	if ((rc = cs_render_gate_enter()) != 0)
		goto out;
	gated = 1;
	/* RGB24 onto white: an opaque image, as a printed face is. */
	s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)pw, (int)ph);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		rc = cs_err_set(CS_ENOMEM, "out of memory for a %ld x %ld image",
		    pw, ph);
		goto out;
	}
	cr = cairo_create(s);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	vp.x = 0;
	vp.y = 0;
	vp.width = w * scale;
	vp.height = hh * scale;
	if (!rsvg_handle_render_document(h, cr, &vp, &err)) {
		rc = cs_err_set(CS_EINVAL, "the face SVG does not render: %s",
		    err != NULL ? err->message : "unknown error");
		goto out;
	}
	cairo_surface_flush(s);
	if (cairo_surface_write_to_png_stream(s, png_write, &o) !=
	    CAIRO_STATUS_SUCCESS) {
		rc = o.failed ? cs_err_set(CS_ENOMEM, "out of memory") :
		    cs_err_set(CS_EIO, "cairo could not write the PNG");
		goto out;
	}
	*png = (uint8_t *)o.p;
	*png_len = o.len;
	o.p = NULL;
out:
	free(o.p);
	if (cr != NULL)
		cairo_destroy(cr);
	if (s != NULL)
		cairo_surface_destroy(s);
	if (gated)
		cs_render_gate_leave();
	if (h != NULL)
		g_object_unref(h);
	if (err != NULL)
		g_error_free(err);
	return rc;
}

/*
 * Under LeakSanitizer (CERTSVC_SANITIZE=ON): fontconfig, reached through
 * pango's per-thread font map, keeps its configuration and font sets for
 * the life of the process, and no call certsvc could make frees them
 * safely (FcFini() asserts that nobody holds them any more).  They are
 * one-time caches of the library, not leaks of ours; everything else is
 * still reported.  The sanitizer build links this file into every program
 * of the render layer (CMakeLists.txt, -u).  cairo keeps caches of its
 * own for the PDF surface (font subsets, scaled fonts) until
 * cairo_debug_reset_static_data(), which is unsafe while pango's
 * per-thread font maps hold cairo objects: they are suppressed too.  The
 * price: a cairo object of ours left undestroyed would not be reported,
 * so copy_pdf.c and this file destroy theirs on every path by review.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CS_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CS_LSAN 1
#endif
#ifdef CS_LSAN
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\nleak:libcairo.so\n";
}
#endif
