/*
 * copy_pdf: the annotated copy's page drawn with librsvg onto cairo's PDF
 * surface (copy_pdf.h).  Three layers in one page: the face, the seal (an
 * SVG of templates/seals/, or one drawn here), the annotation on top.
 */
#include "copy_pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <librsvg/rsvg.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "render_gate.h"
#include "sbuf.h"
#include "text.h"

/* The face layouts' size in user units (the SVGs of templates/). */
#define FACE_W 1123.0
#define FACE_H 794.0
/* Where the seal sits on the face: on the ring every shipped layout draws
 * over the issuing authority's line, as a printed licence carries its
 * stamp. */
#define SEAL_CX 960.0
#define SEAL_CY 640.0
#define SEAL_R 72.0
/* How much of a purpose (in half-width units, a CJK character is 2) one
 * line of the diagonal holds at the large size, and each line of a longer
 * purpose at the smaller size. */
#define ONE_LINE_UNITS 36
#define LINE_UNITS 54

static cairo_status_t
pdf_write(void *closure, const unsigned char *data, unsigned int n)
{
	cs_sbuf *o = closure;

	cs_sb_add(o, data, n);
	return o->failed ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* One <text> of the diagonal, its value escaped. */
static void
text_line(cs_sbuf *b, double y, int size, const char *pre, const char *v,
    size_t vlen, const char *post)
{
	char *s = strndup(v, vlen);

	cs_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\">",
	    FACE_W / 2, y, size);
	cs_sb_html(b, pre);
	if (s != NULL)
		cs_sb_html(b, s);
	else
		b->failed = 1;
	cs_sb_html(b, post);
	cs_sb_puts(b, "</text>\n");
	free(s);
}

/* A character's width in half-width units: 1 below U+1100 (Latin,
 * digits), 2 for CJK and everything wider. */
static size_t
char_units(const char *s, size_t n, size_t *len)
{
	uint32_t cp = 0;

	if ((*len = cs_utf8_decode(s, n, &cp)) == 0)
		*len = 1;
	return cp < 0x1100 ? 1 : 2;
}

/* The bytes of s[at..n) that fit in units half-width units. */
static size_t
fit(const char *s, size_t n, size_t at, size_t units)
{
	size_t k = at, used = 0, w, l;

	while (k < n) {
		w = char_units(s + k, n - k, &l);
		if (used + w > units && k > at)
			break;
		used += w;
		k += l;
	}
	return k;
}

/* 仅供{purpose}使用: one line at the large size when it fits, else lines of
 * LINE_UNITS at a smaller one (a purpose may be 200 characters), cut at
 * character boundaries; returns the y below the last line. */
static double
purpose_lines(cs_sbuf *b, const char *purpose, double y)
{
	size_t n = strlen(purpose), at = 0, k;

	if (fit(purpose, n, 0, ONE_LINE_UNITS) == n) {
		text_line(b, y, 52, "仅供", purpose, n, "使用");
		return y + 64;
	}
	for (; at < n; at = k) {
		k = fit(purpose, n, at, LINE_UNITS);
		text_line(b, y, 40, at == 0 ? "仅供" : "", purpose + at, k - at,
		    k == n ? "使用" : "");
		y += 48;
	}
	return y + 16;
}

/* A seal drawn when the authority has none on file: red ring, star, the
 * authority's name and 样章 (specimen), so nobody takes it for a stamp. */
static void
drawn_seal(cs_sbuf *b, const char *issuer)
{
	/* Opacity per element, not on a group: a group would be drawn as
	 * one transparency group, which text extraction (pdftotext) skips. */
	cs_sb_printf(b, "<g fill-opacity=\"0.8\" stroke-opacity=\"0.8\">"
	    "<circle cx=\"%.0f\" cy=\"%.0f\" "
	    "r=\"%.0f\" fill=\"none\" stroke=\"#d22\" stroke-width=\"5\"/>\n",
	    SEAL_CX, SEAL_CY, SEAL_R);
	cs_sb_printf(b, "<path fill=\"#d22\" transform=\"translate(%.0f %.0f)"
	    "\" d=\"M0,-26 L7.6,-8 L27,-8 L11.4,3.8 L17.6,23 L0,11.5 "
	    "L-17.6,23 L-11.4,3.8 L-27,-8 L-7.6,-8 Z\"/>\n", SEAL_CX,
	    SEAL_CY - 18);
	cs_sb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" "
	    "fill=\"#d22\" text-anchor=\"middle\">", SEAL_CX, SEAL_CY - 46);
	cs_sb_html(b, issuer != NULL ? issuer : "");
	cs_sb_puts(b, "</text>\n");
	cs_sb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"26\" "
	    "font-weight=\"bold\" fill=\"#d22\" text-anchor=\"middle\">样章"
	    "</text></g>\n", SEAL_CX, SEAL_CY + 42);
}

int
cs_copy_overlay_svg(const cs_copy_marks *m, char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	double y;

	*out = NULL;
	cs_sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
	    "font-family=\"Noto Sans CJK SC, sans-serif\">\n", FACE_W, FACE_H,
	    FACE_W, FACE_H);
	if (m->seal_svg == NULL)
		drawn_seal(&b, m->issuer_name);
	cs_sb_printf(&b, "<g transform=\"rotate(-28 %.1f %.1f)\" "
	    "fill=\"#c0392b\" fill-opacity=\"0.45\" text-anchor=\"middle\">\n",
	    FACE_W / 2, FACE_H / 2);
	y = purpose_lines(&b, m->purpose, FACE_H / 2 - 40);
	if (m->used_by != NULL && *m->used_by != '\0')
		text_line(&b, y, 26, "使用人：", m->used_by,
		    strlen(m->used_by), "");
	y += 36;
	text_line(&b, y, 22, "加注件编号：", m->copy_id, strlen(m->copy_id),
	    "");
	text_line(&b, y + 34, 26, "", m->until, strlen(m->until), "前有效");
	cs_sb_puts(&b, "</g>\n</svg>\n");
	if (b.failed) {
		cs_sb_free(&b);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	*out = b.p;
	return 0;
}

/* Draw svg[0..len) into the rectangle (x, y, w, h) of cr; the handle has
 * no base file, so the SVG can load nothing from outside itself. */
static int
draw_svg(cairo_t *cr, const char *svg, size_t len, double x, double y,
    double w, double h, const char *what)
{
	RsvgHandle *hd;
	GError *err = NULL;
	RsvgRectangle vp = {x, y, w, h};
	int rc = 0;

	if ((hd = rsvg_handle_new_from_data((const guint8 *)svg, len,
	    &err)) == NULL) {
		rc = cs_err_set(CS_EINVAL, "the %s SVG does not parse: %s", what,
		    err != NULL ? err->message : "unknown error");
		goto out;
	}
	rsvg_handle_set_dpi(hd, 96.0);
	if (!rsvg_handle_render_document(hd, cr, &vp, &err))
		rc = cs_err_set(CS_EINVAL, "the %s SVG does not render: %s", what,
		    err != NULL ? err->message : "unknown error");
out:
	if (hd != NULL)
		g_object_unref(hd);
	if (err != NULL)
		g_error_free(err);
	return rc;
}

/* The three layers onto cr, in face units scaled to the page. */
static int
draw_page(cairo_t *cr, const char *face, size_t len, const cs_copy_marks *m)
{
	double k = CS_COPY_PAGE_W / FACE_W;
	char *overlay = NULL;
	int rc;

	if ((rc = draw_svg(cr, face, len, 0, 0, CS_COPY_PAGE_W,
	    CS_COPY_PAGE_H, "face")) < 0)
		return rc;
	if (m->seal_svg != NULL && (rc = draw_svg(cr, m->seal_svg,
	    m->seal_len, (SEAL_CX - SEAL_R) * k, (SEAL_CY - SEAL_R) * k,
	    2 * SEAL_R * k, 2 * SEAL_R * k, "seal")) < 0)
		return rc;
	if ((rc = cs_copy_overlay_svg(m, &overlay)) == 0)
		rc = draw_svg(cr, overlay, strlen(overlay), 0, 0,
		    CS_COPY_PAGE_W, CS_COPY_PAGE_H, "annotation");
	free(overlay);
	return rc;
}

int
cs_copy_pdf(const char *face_svg, size_t len, const cs_copy_marks *m,
    uint8_t **pdf, size_t *pdf_len)
{
	cairo_surface_t *s = NULL;
	cairo_t *cr = NULL;
	cs_sbuf o = CS_SBUF_INIT;
	int rc = 0;

	*pdf = NULL;
	*pdf_len = 0;
	/* A page holds its fonts, images and the PDF being written: one
	 * drawing slot. */
	if ((rc = cs_render_gate_enter()) != 0)
		return rc;
	s = cairo_pdf_surface_create_for_stream(pdf_write, &o, CS_COPY_PAGE_W,
	    CS_COPY_PAGE_H);
	/* PDF 1.5: what PAdES and every reader take; cairo 1.16 still writes
	 * a classic cross-reference table, which pades.c extends. */
	cairo_pdf_surface_restrict_to_version(s, CAIRO_PDF_VERSION_1_5);
	cr = cairo_create(s);
	if ((rc = draw_page(cr, face_svg, len, m)) < 0)
		goto out;
	cairo_show_page(cr);
	cairo_destroy(cr);
	cr = NULL;
	cairo_surface_finish(s);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS || o.failed) {
		rc = o.failed ? cs_err_set(CS_ENOMEM, "out of memory") :
		    cs_err_set(CS_EIO, "cairo could not write the PDF: %s",
		    cairo_status_to_string(cairo_surface_status(s)));
		goto out;
	}
	*pdf = (uint8_t *)o.p;
	*pdf_len = o.len;
	o.p = NULL;
out:
	if (cr != NULL)
		cairo_destroy(cr);
	if (s != NULL)
		cairo_surface_destroy(s);
	cs_render_gate_leave();
	cs_sb_free(&o);
	return rc;
}
