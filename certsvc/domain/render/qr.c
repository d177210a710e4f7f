/*
 * qr: QR code images of a text (SPEC §4) with libqrencode, as PNG (libpng,
 * in memory) or SVG.
 *
 * The text is encoded at the smallest version that fits, by
 * QRcode_encodeString with an 8-bit hint and case sensitivity on: libqrencode
 * then splits the text into segments itself, so an all upper-case Base45
 * text ("EL1:...") goes out as one alphanumeric segment (11 bits per two
 * characters instead of 16) and anything else as 8-bit, with numeric or
 * alphanumeric segments only where they save bits.  Kanji mode is never
 * used: the hint is not QR_MODE_KANJI, so UTF-8 stays 8-bit bytes.
 */
#include "qr.h"

#include "sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"

#define MODULE_PX_MIN 1
#define MODULE_PX_MAX 32   /* a v40 code is then 6688 px square */
#define MARGIN_MAX 16      /* the standard asks for 4 */
#define PNG_ZLEVEL 1       /* NOTES: nearly as small as 6, far cheaper */
#define PNG_ZMEMLEVEL 2    /* see png_emit */

static const char ecc_letters[] = "LMQH";

/* SPEC §4: ECC M by default; 4 px per module and the standard's 4-module
 * quiet zone. */
static const cs_qr_opts default_opts = {CS_QR_ECC_M, 4, 4};

int
cs_qr_ecc_from_name(const char *name, enum cs_qr_ecc *out)
{
	const char *p;
	int rc = 0;

	/* name[0] is not NUL when strchr sees it: strchr would find the
	 * terminator. */
	if (name == NULL || name[0] == '\0' || name[1] != '\0' ||
	    (p = strchr(ecc_letters, toupper((unsigned char)name[0]))) == NULL) {
		rc = cs_err_set(CS_EINVAL,
		    "QR ECC level \"%s\" is not one of L, M, Q, H",
		    name ? name : "(null)");
		goto out;
	}
	*out = (enum cs_qr_ecc)(p - ecc_letters);
out:
	return rc;
}

/* The options in force: the defaults for NULL; out-of-range values are the
 * caller's error, not something to clamp silently (a configured module size
 * of 0 would otherwise give an empty image). */
static int
check_opts(const cs_qr_opts *in, cs_qr_opts *o)
{
	int rc = 0;

	*o = in ? *in : default_opts;
	if ((int)o->ecc < CS_QR_ECC_L || (int)o->ecc > CS_QR_ECC_H) {
		rc = cs_err_set(CS_EINVAL, "QR ECC level %d is not one of L, M, Q, H",
		    (int)o->ecc);
	} else if (o->module_px < MODULE_PX_MIN || o->module_px > MODULE_PX_MAX) {
		rc = cs_err_set(CS_EINVAL, "QR module size %d px is not in %d..%d",
		    o->module_px, MODULE_PX_MIN, MODULE_PX_MAX);
	} else if (o->margin < 0 || o->margin > MARGIN_MAX) {
		rc = cs_err_set(CS_EINVAL, "QR margin %d modules is not in 0..%d",
		    o->margin, MARGIN_MAX);
	}
	return rc;
}

/* The code for text at level o->ecc, smallest version; *out is freed with
 * QRcode_free. */
static int
encode(const char *text, const cs_qr_opts *o, QRcode **out)
{
	static const QRecLevel levels[] = {QR_ECLEVEL_L, QR_ECLEVEL_M,
	    QR_ECLEVEL_Q, QR_ECLEVEL_H};
	QRcode *qr;
	size_t n;
	int rc = 0;

	*out = NULL;
	if (text == NULL || (n = strlen(text)) == 0) {
		rc = cs_err_set(CS_EINVAL, "QR code: the text is empty");
		goto out;
	}
	errno = 0;
	if ((qr = QRcode_encodeString(text, 0, levels[o->ecc], QR_MODE_8,
	    1)) == NULL) {
		/* libqrencode reports "no version fits" as ERANGE. */
		if (errno == ERANGE)
			rc = cs_err_set(CS_ETOOBIG, "text of %zu bytes does not fit "
			    "a QR code at ECC level %c", n, ecc_letters[o->ecc]);
		else if (errno == ENOMEM)
			rc = cs_err_set(CS_ENOMEM, "QR code: out of memory");
		else
			rc = cs_err_set(CS_EINVAL, "QR code: libqrencode cannot "
			    "encode the text of %zu bytes (errno %d)", n, errno);
		goto out;
	}
	*out = qr;
out:
	return rc;
}

static int
is_dark(const QRcode *qr, int x, int y)
{
	return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

/* ---- PNG ---------------------------------------------------------------- */

/* Where libpng writes the image and leaves its error message.  It lives in
 * cs_qr_png's frame, not png_emit's: see png_emit. */
struct png_sink {
	cs_sbuf out;
	char msg[128];
};

static void
sink_write(png_structp png, png_bytep data, size_t n)
{
	struct png_sink *s = png_get_io_ptr(png);

	cs_sb_add(&s->out, data, n);
	if (s->out.failed)
		png_error(png, "out of memory");
}

static void
sink_flush(png_structp png)
{
}

/* libpng's default handlers print to stderr; keep the message for the
 * caller's cs_err instead.  Must not return: png_longjmp. */
static void
png_fail(png_structp png, png_const_charp msg)
{
	struct png_sink *s = png_get_error_ptr(png);

	snprintf(s->msg, sizeof(s->msg), "%s", msg ? msg : "error");
	png_longjmp(png, 1);
}

static void
png_warn(png_structp png, png_const_charp msg)
{
}

/* Write the image: 1-bit grey (0 = dark), module_px pixels per module, a
 * quiet zone of margin modules.  This is the one function that calls
 * setjmp, and it is kept small so that no local it reads after a longjmp is
 * changed after the setjmp: rc is only assigned on the longjmp path, the
 * loop counters are never read there, and everything allocated (sink, row,
 * the libpng structs) belongs to the caller, which frees it either way.  So
 * no local needs to be volatile. */
static int
png_emit(png_structp png, png_infop info, const QRcode *qr,
    const cs_qr_opts *o, png_bytep row)
{
	png_uint_32 px;
	size_t rowbytes, p;
	int rc = 0, my, mx, k;

	px = (png_uint_32)(qr->width + 2 * o->margin) * (png_uint_32)o->module_px;
	rowbytes = ((size_t)px + 7) / 8;
	if (setjmp(png_jmpbuf(png)) != 0) {
		rc = CS_EIO;
		goto out;
	}
	png_set_IHDR(png, info, px, px, 1, PNG_COLOR_TYPE_GRAY,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	/* Filters buy nothing on a 1-bit image of long runs; level 1 is the
	 * cheap end of zlib at nearly the same size.  zlib's default memLevel
	 * 8 allocates ~200 KB of state for an image of ~13 KB raw (v16, 4 px),
	 * and glibc hands it back to the kernel on every free, so each image
	 * page-faults it in afresh.  memLevel 2 (~20 KB) took encode+PNG of a
	 * 420-byte text from ~1.5 to ~0.8 ms CPU, at 3.5% more bytes. */
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_compression_level(png, PNG_ZLEVEL);
	png_set_compression_mem_level(png, PNG_ZMEMLEVEL);
	png_write_info(png, info);
	for (my = 0; my < qr->width + 2 * o->margin; my++) {
		memset(row, 0xff, rowbytes);
		if (my >= o->margin && my < o->margin + qr->width) {
			for (mx = 0; mx < qr->width; mx++) {
				if (!is_dark(qr, mx, my - o->margin))
					continue;
				p = (size_t)(mx + o->margin) * (size_t)o->module_px;
				for (k = 0; k < o->module_px; k++, p++)
					row[p >> 3] &= (png_byte)~(0x80u >> (p & 7));
			}
		}
		for (k = 0; k < o->module_px; k++)
			png_write_row(png, row);
	}
	png_write_end(png, info);
out:
	return rc;
}

int
cs_qr_png(const char *text, const cs_qr_opts *opts, uint8_t **png_out,
    size_t *len, int *version_out)
{
	struct png_sink sink = {CS_SBUF_INIT, ""};
	png_structp png = NULL;
	png_infop info = NULL;
	png_bytep row = NULL;
	QRcode *qr = NULL;
	cs_qr_opts o;
	size_t px;
	int rc;

	if (png_out == NULL || len == NULL) {
		rc = cs_err_set(CS_EINVAL, "QR code: no place for the PNG");
		goto out;
	}
	*png_out = NULL;
	*len = 0;
	if ((rc = check_opts(opts, &o)) != 0 || (rc = encode(text, &o, &qr)) != 0)
		goto out;
	px = (size_t)(qr->width + 2 * o.margin) * (size_t)o.module_px;
	row = malloc((px + 7) / 8);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_fail,
	    png_warn);
	if (png != NULL)
		info = png_create_info_struct(png);
	if (row == NULL || info == NULL) {
		rc = cs_err_set(CS_ENOMEM, "QR code: out of memory");
		goto out;
	}
	png_set_write_fn(png, &sink, sink_write, sink_flush);
	if (png_emit(png, info, qr, &o, row) != 0) {
		rc = sink.out.failed ? cs_err_set(CS_ENOMEM, "QR code: out of "
		    "memory") : cs_err_set(CS_EIO, "QR code: PNG: %s", sink.msg);
		goto out;
	}
	*png_out = (uint8_t *)sink.out.p;
	*len = sink.out.len;
	sink.out.p = NULL;
	if (version_out != NULL)
		*version_out = qr->version;
out:
	png_destroy_write_struct(&png, &info);
	free(sink.out.p);
	free(row);
	QRcode_free(qr);
	return rc;
}

/* ---- SVG ---------------------------------------------------------------- */

/* A coordinate or scale as SVG wants it: no exponent, no trailing zeros
 * ("600", "3.265306").  Six decimals keep a 177-module code within a
 * thousandth of a user unit of its size. */
static void
fmt_num(char *buf, size_t size, double v)
{
	char *e;

	snprintf(buf, size, "%.6f", v);
	if (strchr(buf, '.') != NULL) {
		e = buf + strlen(buf) - 1;
		while (*e == '0')
			*e-- = '\0';
		if (*e == '.')
			*e = '\0';
	}
	if (strcmp(buf, "-0") == 0)
		snprintf(buf, size, "0");
}

/* The white background (quiet zone included) and one path for the dark
 * modules, in module units.  Each horizontal run of dark modules is one
 * rectangle subpath "M x y h n v1 h-n z": adjacent runs share edges, and
 * crispEdges keeps renderers from drawing hairline seams between them. */
/* Hand a finished SVG text to the caller, with the version used. */
static int
finish(cs_sbuf *b, const QRcode *qr, char **out, int *version_out)
{
	if (b->failed)
		return cs_err_set(CS_ENOMEM, "QR code: out of memory");
	*out = b->p;
	b->p = NULL;
	if (version_out != NULL)
		*version_out = qr->version;
	return 0;
}

static void
svg_body(cs_sbuf *b, const QRcode *qr, int margin)
{
	int w = qr->width + 2 * margin, x, y, start;

	cs_sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
	    "<path fill=\"#000\" d=\"", w, w);
	for (y = 0; y < qr->width; y++) {
		for (x = 0; x < qr->width; ) {
			if (!is_dark(qr, x, y)) {
				x++;
				continue;
			}
			for (start = x; x < qr->width && is_dark(qr, x, y); x++)
				;
			cs_sb_printf(b, "M%d %dh%dv1h-%dz", start + margin, y + margin,
			    x - start, x - start);
		}
	}
	cs_sb_printf(b, "\"/>");
}

int
cs_qr_svg(const char *text, const cs_qr_opts *opts, char **svg,
    int *version_out)
{
	cs_sbuf b = CS_SBUF_INIT;
	QRcode *qr = NULL;
	cs_qr_opts o;
	int rc, w;

	if (svg == NULL) {
		rc = cs_err_set(CS_EINVAL, "QR code: no place for the SVG");
		goto out;
	}
	*svg = NULL;
	if ((rc = check_opts(opts, &o)) != 0 || (rc = encode(text, &o, &qr)) != 0)
		goto out;
	w = qr->width + 2 * o.margin;
	/* width/height give a standalone file the PNG's size; the viewBox is
	 * in modules, so it scales cleanly to any size. */
	cs_sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "shape-rendering=\"crispEdges\">", w * o.module_px,
	    w * o.module_px, w, w);
	svg_body(&b, qr, o.margin);
	cs_sb_printf(&b, "</svg>\n");
	rc = finish(&b, qr, svg, version_out);
out:
	cs_sb_free(&b);
	QRcode_free(qr);
	return rc;
}

int
cs_qr_svg_fragment(const char *text, const cs_qr_opts *opts, double x,
    double y, double size, char **out, int *version_out)
{
	cs_sbuf b = CS_SBUF_INIT;
	char xs[64], ys[64], ss[64];
	QRcode *qr = NULL;
	cs_qr_opts o;
	int rc;

	if (out == NULL) {
		rc = cs_err_set(CS_EINVAL, "QR code: no place for the SVG");
		goto out;
	}
	*out = NULL;
	/* Bounded so the numbers print without exponents into xs, ys, ss. */
	if (!isfinite(x) || !isfinite(y) || fabs(x) > 1e9 || fabs(y) > 1e9 ||
	    !(size > 0) || size > 1e9) {
		rc = cs_err_set(CS_EINVAL, "QR code: place (%g, %g) or size %g "
		    "is not usable", x, y, size);
		goto out;
	}
	if ((rc = check_opts(opts, &o)) != 0 || (rc = encode(text, &o, &qr)) != 0)
		goto out;
	fmt_num(xs, sizeof(xs), x);
	fmt_num(ys, sizeof(ys), y);
	/* The whole code, quiet zone included, is size user units. */
	fmt_num(ss, sizeof(ss), size / (qr->width + 2 * o.margin));
	cs_sb_printf(&b, "<g transform=\"translate(%s %s) scale(%s)\" "
	    "shape-rendering=\"crispEdges\">", xs, ys, ss);
	svg_body(&b, qr, o.margin);
	cs_sb_printf(&b, "</g>");
	rc = finish(&b, qr, out, version_out);
out:
	cs_sb_free(&b);
	QRcode_free(qr);
	return rc;
}
