/*
 * test_face_png: face.png (certsvc/domain/render/face_png.c): an SVG drawn by librsvg at
 * a scale, onto white, as a PNG of the right size; what cannot be drawn is
 * an error, never an empty image.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cs_err.h"
#include "face_png.h"

static const char svg[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100\" "
	"viewBox=\"0 0 200 100\" font-family=\"Noto Sans CJK SC, sans-serif\">"
	"<rect x=\"0\" y=\"0\" width=\"100\" height=\"100\" fill=\"#000\"/>"
	"<text x=\"110\" y=\"50\" font-size=\"20\">辐射</text></svg>";

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    p[3];
}

TEST(sizes)
{
	int scale;

	for (scale = CS_FACE_PNG_MIN_SCALE; scale <= CS_FACE_PNG_MAX_SCALE;
	    scale++) {
		uint8_t *png = NULL;
		size_t len = 0;

		CHECK_INT_EQ(cs_face_png(svg, strlen(svg), scale, &png, &len), 0);
		CHECK(png != NULL && len > 33);
		if (png == NULL || len <= 33)
			continue;
		CHECK(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
		CHECK(memcmp(png + 12, "IHDR", 4) == 0);
		CHECK_INT_EQ(be32(png + 16), 200 * scale);
		CHECK_INT_EQ(be32(png + 20), 100 * scale);
		/* Colour type 2: RGB, opaque, as a printed face is. */
		CHECK_INT_EQ(png[25], 2);
		free(png);
	}
}

TEST(errors)
{
	static const char no_size[] =
		"<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\" "
		"height=\"1\"/></svg>";
	static const char huge[] =
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"60000\" "
		"height=\"60000\"/>";
	uint8_t *png = (uint8_t *)"x";
	size_t len = 1;

	CHECK_INT_EQ(cs_face_png(svg, strlen(svg), 0, &png, &len), CS_EINVAL);
	CHECK(png == NULL && len == 0);
	CHECK_INT_EQ(cs_face_png(svg, strlen(svg), CS_FACE_PNG_MAX_SCALE + 1, &png,
	    &len), CS_EINVAL);
	CHECK_INT_EQ(cs_face_png("<svg", 4, 1, &png, &len), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "does not parse");
	CHECK_INT_EQ(cs_face_png("not xml at all", 14, 1, &png, &len), CS_EINVAL);
	CHECK_INT_EQ(cs_face_png(no_size, strlen(no_size), 1, &png, &len),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_face_png(huge, strlen(huge), 1, &png, &len), CS_ETOOBIG);
	CHECK(png == NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(sizes);
	RUN(errors);
	return check_summary();
}
