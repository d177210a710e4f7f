/*
 * test_qr: QR images (SPEC §4).  Every PNG is read back by an independent
 * decoder (zbarimg, from zbar-tools) and must give the input text exactly;
 * the SVG's path is parsed back into modules and must be the very code
 * libqrencode makes for the text.  The versions are held against SPEC §4's
 * limits for texts of a typical licence's size.
 */
#include <math.h>
#include <qrencode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cs_err.h"
#include "qr.h"

#define URL_PREFIX "https://licence.example.gov.cn/v/"

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b45_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* prefix + n characters drawn from set by a fixed LCG: reproducible texts
 * with the statistics of a real token. */
static char *
make_text(const char *prefix, const char *set, size_t n, uint32_t seed)
{
	size_t plen = strlen(prefix), k = strlen(set), i;
	char *s = malloc(plen + n + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, prefix, plen);
	for (i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		s[plen + i] = set[(seed >> 16) % k];
	}
	s[plen + n] = '\0';
	return s;
}

static QRecLevel
lib_level(enum cs_qr_ecc e)
{
	static const QRecLevel l[] = {QR_ECLEVEL_L, QR_ECLEVEL_M, QR_ECLEVEL_Q,
	    QR_ECLEVEL_H};

	return l[e];
}

/* The code libqrencode itself makes, as qr.c is meant to ask for it. */
static QRcode *
lib_encode(const char *text, enum cs_qr_ecc ecc)
{
	return QRcode_encodeString(text, 0, lib_level(ecc), QR_MODE_8, 1);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Decode a PNG with zbarimg (--raw: the bytes as they are in the code, no
 * charset guessing; --nodbus: it would otherwise complain on stderr about the
 * missing system bus); the malloc'd text without the newline zbarimg
 * ends it with, or NULL when nothing decoded. */
static char *
zbar_decode(const uint8_t *png, size_t len)
{
	char path[] = "/tmp/test_qr_XXXXXX", cmd[128], *out = NULL;
	size_t n = 0, cap = 0, got;
	FILE *f = NULL, *p = NULL;
	int fd, st;

	if ((fd = mkstemp(path)) < 0)
		return NULL;
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		goto out;
	}
	if (fwrite(png, 1, len, f) != len || fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "zbarimg --raw -q --nodbus -Sdisable -Sqrcode.enable '%s'", path);
	if ((p = popen(cmd, "r")) == NULL)
		goto out;
	for (;;) {
		if (cap - n < 4096) {
			char *nb = realloc(out, cap + 8192);

			if (nb == NULL)
				break;
			out = nb;
			cap += 8192;
		}
		if ((got = fread(out + n, 1, cap - n - 1, p)) == 0)
			break;
		n += got;
	}
	st = pclose(p);
	if (out == NULL || st != 0 || n == 0) {
		fprintf(stderr, "  zbarimg status %d, %zu bytes\n", st, n);
		free(out);
		out = NULL;
		goto out;
	}
	if (out[n - 1] == '\n')
		n--;
	out[n] = '\0';
out:
	unlink(path);
	return out;
}

struct png_info {
	uint32_t width, height;
	int depth, colour;
};

static int
png_header(const uint8_t *png, size_t len, struct png_info *pi)
{
	if (len < 33 || memcmp(png, "\x89PNG\r\n\x1a\n", 8) != 0 ||
	    be32(png + 8) != 13 || memcmp(png + 12, "IHDR", 4) != 0)
		return -1;
	pi->width = be32(png + 16);
	pi->height = be32(png + 20);
	pi->depth = png[24];
	pi->colour = png[25];
	return 0;
}

/* Count occurrences of needle in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay += strlen(needle))
		n++;
	return n;
}

/* Parse the path's "Mx yhnv1h-nz" runs into a w x w grid of modules (1 =
 * dark); -1 on anything else in the path or a run outside the grid, or
 * modules drawn twice. */
static int
path_modules(const char *svg, int w, unsigned char *grid)
{
	const char *d = strstr(svg, " d=\"");
	int x, y, n, n2, used, i;

	if (d == NULL)
		return -1;
	memset(grid, 0, (size_t)w * (size_t)w);
	for (d += 4; *d != '"'; d += used) {
		used = 0;
		if (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &n2, &used) != 4 ||
		    used == 0 || n != n2 || n < 1 || x < 0 || y < 0 || y >= w ||
		    x + n > w)
			return -1;
		for (i = 0; i < n; i++) {
			if (grid[y * w + x + i])
				return -1;
			grid[y * w + x + i] = 1;
		}
	}
	return 0;
}

/* The svg's path draws exactly the dark modules of libqrencode's code for
 * text, offset by the margin. */
static void
check_svg_modules(const char *svg, const char *text, enum cs_qr_ecc ecc,
    int margin)
{
	QRcode *qr = lib_encode(text, ecc);
	unsigned char *grid = NULL;
	int w, x, y, diff = 0, dark = 0, drawn = 0;

	CHECK(qr != NULL);
	if (qr == NULL)
		goto out;
	w = qr->width + 2 * margin;
	grid = malloc((size_t)w * (size_t)w);
	CHECK_INT_EQ(path_modules(svg, w, grid), 0);
	for (y = 0; y < w; y++) {
		for (x = 0; x < w; x++) {
			int want = x >= margin && y >= margin &&
			    x < margin + qr->width && y < margin + qr->width &&
			    (qr->data[(y - margin) * qr->width + x - margin] & 1);

			dark += want;
			drawn += grid[y * w + x];
			diff += want != grid[y * w + x];
		}
	}
	CHECK_INT_EQ(diff, 0);
	CHECK_INT_EQ(drawn, dark);
	CHECK(dark > qr->width * qr->width / 4);
out:
	free(grid);
	QRcode_free(qr);
}

/* PNG of text: signature, IHDR, version, and zbarimg gives text back (at
 * 2 px per module or more: zbar does not resolve 1-px modules, which are
 * for callers that scale the image themselves). */
static void
check_png_roundtrip(const char *text, const cs_qr_opts *opts)
{
	cs_qr_opts o = opts ? *opts : (cs_qr_opts){CS_QR_ECC_M, 4, 4};
	struct png_info pi = {0, 0, 0, 0};
	QRcode *qr = lib_encode(text, o.ecc);
	uint8_t *png = NULL;
	size_t len = 0;
	char *back = NULL;
	int rc, version = -1;

	rc = cs_qr_png(text, opts, &png, &len, &version);
	CHECK_INT_EQ(rc, 0);
	CHECK(qr != NULL);
	if (rc != 0 || qr == NULL) {
		fprintf(stderr, "  %s\n", cs_err_msg());
		goto out;
	}
	CHECK_INT_EQ(version, qr->version);
	CHECK(version >= 1 && version <= 40);
	CHECK_INT_EQ(png_header(png, len, &pi), 0);
	CHECK_INT_EQ(pi.width, (uint32_t)(qr->width + 2 * o.margin) *
	    (uint32_t)o.module_px);
	CHECK_INT_EQ(pi.height, pi.width);
	CHECK_INT_EQ(qr->width, 17 + 4 * version);
	CHECK_INT_EQ(pi.depth, 1);
	CHECK_INT_EQ(pi.colour, 0);
	if (o.module_px >= 2) {
		back = zbar_decode(png, len);
		CHECK_STR_EQ(back, text);
	}
out:
	free(back);
	free(png);
	QRcode_free(qr);
}

static int
version_of(const char *text, enum cs_qr_ecc ecc)
{
	char *svg = NULL;
	int v = -1;

	if (cs_qr_svg(text, &(cs_qr_opts){ecc, 4, 4}, &svg, &v) != 0)
		v = -1;
	free(svg);
	return v;
}

TEST(ecc_from_name)
{
	static const char *const ok[] = {"L", "M", "Q", "H", "l", "m", "q", "h"};
	static const char *const bad[] = {"", "X", "MM", " ", "LOW", "0", "\xe4"};
	enum cs_qr_ecc e;
	size_t i;

	for (i = 0; i < 8; i++) {
		e = CS_QR_ECC_H;
		CHECK_INT_EQ(cs_qr_ecc_from_name(ok[i], &e), 0);
		CHECK_INT_EQ(e, (enum cs_qr_ecc)(i % 4));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cs_err_clear();
		CHECK_INT_EQ(cs_qr_ecc_from_name(bad[i], &e), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), "is not one of L, M, Q, H");
	}
	CHECK_INT_EQ(cs_qr_ecc_from_name(NULL, &e), CS_EINVAL);
}

TEST(png_roundtrip)
{
	char *url = make_text(URL_PREFIX, b64url_chars, 380, 1);
	char *compact = make_text("EL1:", b45_chars, 350, 2);
	/* Chinese in UTF-8 (8-bit segments, no Kanji mode), mixed with the
	 * URL form, and alone. */
	const char *zh = URL_PREFIX "辐射安全许可证?holder=某某市人民医院&no=辐证[00123]";
	const char *zh2 = "放射诊疗许可证 排污许可证 危险废物经营许可证";

	check_png_roundtrip("https://licence.example.gov.cn/v/abc", NULL);
	check_png_roundtrip(url, NULL);
	check_png_roundtrip(compact, NULL);
	check_png_roundtrip(zh, NULL);
	check_png_roundtrip(zh2, NULL);
	/* Other options: each level, small and large modules, thin margin. */
	check_png_roundtrip(url, &(cs_qr_opts){CS_QR_ECC_L, 3, 4});
	check_png_roundtrip(compact, &(cs_qr_opts){CS_QR_ECC_Q, 2, 4});
	check_png_roundtrip(url, &(cs_qr_opts){CS_QR_ECC_H, 5, 2});
	check_png_roundtrip("1234567890", &(cs_qr_opts){CS_QR_ECC_M, 2, 16});
	check_png_roundtrip("1234567890", &(cs_qr_opts){CS_QR_ECC_M, 1, 0});
	check_png_roundtrip("A", &(cs_qr_opts){CS_QR_ECC_M, 32, 4});
	free(url);
	free(compact);
}

TEST(versions)
{
	char *url = make_text(URL_PREFIX, b64url_chars, 387, 3);
	char *compact = make_text("EL1:", b45_chars, 346, 4);
	char *lower = strdup(compact);
	QRcode *eight = NULL, *an = NULL, *urlq = NULL, *url8 = NULL;
	size_t i;
	int vu, vc, vl;

	for (i = 0; lower[i] != '\0'; i++)
		if (lower[i] >= 'A' && lower[i] <= 'Z')
			lower[i] = (char)(lower[i] - 'A' + 'a');
	CHECK_INT_EQ(strlen(url), 420);
	CHECK_INT_EQ(strlen(compact), 350);
	vu = version_of(url, CS_QR_ECC_M);
	vc = version_of(compact, CS_QR_ECC_M);
	vl = version_of(lower, CS_QR_ECC_M);
	printf("qr versions (ECC M): url-form %zu chars -> v%d, compact %zu "
	    "chars -> v%d, same compact lower-cased -> v%d\n", strlen(url), vu,
	    strlen(compact), vc, vl);
	/* SPEC §4: a typical licence fits v16 (url) and v13 (compact). */
	CHECK(vu >= 1 && vu <= 16);
	CHECK(vc >= 1 && vc <= 13);
	CHECK(vc < vu);
	/* Alphanumeric mode is what makes compact small: lower case forces
	 * 8-bit, and so does encoding the same bytes as 8-bit data. */
	CHECK(vc < vl);
	eight = QRcode_encodeData((int)strlen(compact),
	    (const unsigned char *)compact, 0, QR_ECLEVEL_M);
	CHECK(eight != NULL);
	if (eight != NULL)
		CHECK(vc < eight->version);
	/* ...and exactly one alphanumeric segment does no better. */
	an = NULL;
	{
		QRinput *in = QRinput_new2(0, QR_ECLEVEL_M);

		if (in != NULL && QRinput_append(in, QR_MODE_AN,
		    (int)strlen(compact), (const unsigned char *)compact) == 0)
			an = QRcode_encodeInput(in);
		QRinput_free(in);
	}
	CHECK(an != NULL);
	if (an != NULL)
		CHECK_INT_EQ(vc, an->version);
	/* The URL form: lower case, '-', '_', ':' and '/' all fine, never
	 * worse than all 8-bit. */
	urlq = lib_encode(url, CS_QR_ECC_M);
	url8 = QRcode_encodeString8bit(url, 0, QR_ECLEVEL_M);
	CHECK(urlq != NULL && url8 != NULL);
	if (urlq != NULL && url8 != NULL) {
		CHECK_INT_EQ(vu, urlq->version);
		CHECK(vu <= url8->version);
	}
	QRcode_free(eight);
	QRcode_free(an);
	QRcode_free(urlq);
	QRcode_free(url8);
	free(url);
	free(compact);
	free(lower);
}

TEST(ecc_levels)
{
	char *url = make_text(URL_PREFIX, b64url_chars, 380, 5);
	char *compact = make_text("EL1:", b45_chars, 350, 6);
	const char *texts[] = {url, compact, "https://licence.example.gov.cn/v/x",
	    "放射诊疗许可证"};
	size_t i;
	int vl, vm, vq, vh;

	for (i = 0; i < 4; i++) {
		vl = version_of(texts[i], CS_QR_ECC_L);
		vm = version_of(texts[i], CS_QR_ECC_M);
		vq = version_of(texts[i], CS_QR_ECC_Q);
		vh = version_of(texts[i], CS_QR_ECC_H);
		CHECK(vl >= 1);
		CHECK(vl <= vm && vm <= vq && vq <= vh);
	}
	/* On a long text, more correction always costs a version. */
	CHECK(version_of(url, CS_QR_ECC_H) > version_of(url, CS_QR_ECC_M));
	free(url);
	free(compact);
}

TEST(svg)
{
	char *url = make_text(URL_PREFIX, b64url_chars, 380, 7);
	char *compact = make_text("EL1:", b45_chars, 350, 8);
	char *svg = NULL, *frag = NULL, *d1, *d2, want[128];
	const char *p;
	int rc, v = -1, vf = -1, w;
	double s;

	rc = cs_qr_svg(url, NULL, &svg, &v);
	CHECK_INT_EQ(rc, 0);
	if (rc != 0)
		goto out;
	w = 17 + 4 * v + 8;
	CHECK(strncmp(svg, "<?xml version=\"1.0\"", 19) == 0);
	CHECK_CONTAINS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
	CHECK_CONTAINS(svg, "shape-rendering=\"crispEdges\"");
	snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\"", w, w);
	CHECK_CONTAINS(svg, want);
	snprintf(want, sizeof(want), "<rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fff\"/>", w, w);
	CHECK_CONTAINS(svg, want);
	CHECK_INT_EQ(count_of(svg, "<path"), 1);
	CHECK_INT_EQ(count_of(svg, "<svg"), 1);
	CHECK_INT_EQ(count_of(svg, "</svg>"), 1);
	CHECK(strcmp(svg + strlen(svg) - 7, "</svg>\n") == 0);
	check_svg_modules(svg, url, CS_QR_ECC_M, 4);
	free(svg);
	svg = NULL;

	/* Other options reach the SVG too. */
	rc = cs_qr_svg(compact, &(cs_qr_opts){CS_QR_ECC_H, 2, 1}, &svg, &v);
	CHECK_INT_EQ(rc, 0);
	if (rc != 0)
		goto out;
	check_svg_modules(svg, compact, CS_QR_ECC_H, 1);

	/* The fragment: the same modules, scaled so the code with its quiet
	 * zone is size units, no prolog. */
	rc = cs_qr_svg_fragment(compact, &(cs_qr_opts){CS_QR_ECC_H, 2, 1},
	    600, 340.5, 160, &frag, &vf);
	CHECK_INT_EQ(rc, 0);
	if (rc != 0)
		goto out;
	CHECK_INT_EQ(vf, v);
	CHECK(strncmp(frag, "<g transform=\"translate(600 340.5) scale(", 41) == 0);
	CHECK(strcmp(frag + strlen(frag) - 4, "</g>") == 0);
	CHECK(strstr(frag, "<?xml") == NULL && strstr(frag, "<svg") == NULL);
	CHECK_INT_EQ(count_of(frag, "<path"), 1);
	p = strstr(frag, "scale(");
	s = p ? strtod(p + 6, NULL) : 0;
	w = 17 + 4 * vf + 2;
	CHECK(fabs(s * w - 160) < 1e-3);
	d1 = strstr(svg, "<rect");
	d2 = strstr(frag, "<rect");
	CHECK(d1 != NULL && d2 != NULL &&
	    strncmp(d1, d2, strlen(d2) - 4) == 0);
	check_svg_modules(frag, compact, CS_QR_ECC_H, 1);
out:
	free(svg);
	free(frag);
	free(url);
	free(compact);
}

TEST(too_big)
{
	char *big = make_text("", b64url_chars, 8000, 9);
	char *max8 = make_text("", "abcdefghijklmnopqrstuvwxyz", 2331, 10);
	/* Outputs start pointing somewhere, to see them cleared on error. */
	static uint8_t png_junk[1];
	static char svg_junk[1];
	uint8_t *png = png_junk;
	size_t len = 1;
	char *svg = svg_junk;
	int rc, v = -1;

	cs_err_clear();
	rc = cs_qr_png(big, NULL, &png, &len, &v);
	CHECK_INT_EQ(rc, CS_ETOOBIG);
	CHECK_CONTAINS(cs_err_msg(),
	    "text of 8000 bytes does not fit a QR code at ECC level M");
	CHECK(png == NULL && len == 0 && v == -1);
	rc = cs_qr_svg(big, &(cs_qr_opts){CS_QR_ECC_L, 4, 4}, &svg, NULL);
	CHECK_INT_EQ(rc, CS_ETOOBIG);
	CHECK_CONTAINS(cs_err_msg(), "at ECC level L");
	CHECK(svg == NULL);
	/* 2331 bytes is version 40-M's 8-bit capacity, one more is too many. */
	rc = cs_qr_png(max8, NULL, &png, &len, &v);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(v, 40);
	free(png);
	png = NULL;
	max8[2330] = '\0';
	CHECK_INT_EQ(version_of(max8, CS_QR_ECC_M), 40);
	big[2332] = '\0';
	rc = cs_qr_svg(big, NULL, &svg, NULL);
	CHECK_INT_EQ(rc, CS_ETOOBIG);
	CHECK_CONTAINS(cs_err_msg(), "text of 2332 bytes");
	free(big);
	free(max8);
}

TEST(invalid)
{
	static const cs_qr_opts bad[] = {
		{CS_QR_ECC_M, 0, 4}, {CS_QR_ECC_M, 33, 4}, {CS_QR_ECC_M, -1, 4},
		{CS_QR_ECC_M, 4, -1}, {CS_QR_ECC_M, 4, 17},
		{(enum cs_qr_ecc)4, 4, 4}, {(enum cs_qr_ecc)-1, 4, 4},
	};
	uint8_t *png = NULL;
	size_t len = 0, i;
	char *svg = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT_EQ(cs_qr_png("x", &bad[i], &png, &len, NULL), CS_EINVAL);
		CHECK_INT_EQ(cs_qr_svg("x", &bad[i], &svg, NULL), CS_EINVAL);
		CHECK_INT_EQ(cs_qr_svg_fragment("x", &bad[i], 0, 0, 10, &svg,
		    NULL), CS_EINVAL);
		CHECK(png == NULL && svg == NULL);
	}
	cs_err_clear();
	CHECK_INT_EQ(cs_qr_png("x", &bad[1], &png, &len, NULL), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "module size 33 px is not in 1..32");
	CHECK_INT_EQ(cs_qr_png("x", &bad[4], &png, &len, NULL), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "margin 17 modules is not in 0..16");
	/* The limits themselves are fine. */
	CHECK_INT_EQ(cs_qr_svg("x", &(cs_qr_opts){CS_QR_ECC_M, 1, 0}, &svg,
	    NULL), 0);
	free(svg);
	svg = NULL;
	CHECK_INT_EQ(cs_qr_svg("x", &(cs_qr_opts){CS_QR_ECC_M, 32, 16}, &svg,
	    NULL), 0);
	free(svg);
	svg = NULL;
	/* No text, and a fragment with no usable place. */
	CHECK_INT_EQ(cs_qr_png("", NULL, &png, &len, NULL), CS_EINVAL);
	CHECK_INT_EQ(cs_qr_png(NULL, NULL, &png, &len, NULL), CS_EINVAL);
	CHECK_INT_EQ(cs_qr_svg("", NULL, &svg, NULL), CS_EINVAL);
	CHECK_INT_EQ(cs_qr_svg_fragment("x", NULL, 0, 0, 0, &svg, NULL),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_qr_svg_fragment("x", NULL, 0, 0, -5, &svg, NULL),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_qr_svg_fragment("x", NULL, NAN, 0, 10, &svg, NULL),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_qr_svg_fragment("x", NULL, 0, 0, INFINITY, &svg, NULL),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_qr_png("x", NULL, NULL, &len, NULL), CS_EINVAL);
	CHECK(png == NULL && svg == NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(ecc_from_name);
	RUN(png_roundtrip);
	RUN(versions);
	RUN(ecc_levels);
	RUN(svg);
	RUN(too_big);
	RUN(invalid);
	return check_summary();
}
