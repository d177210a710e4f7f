/*
 * test_copy_pdf: an annotated copy's page (certsvc/domain/render/
 * copy_pdf.c): the annotation layer escapes what a request supplied and
 * says 仅供…使用, the user, the copy id and …前有效; a drawn seal says 样章
 * and a seal file replaces it; the page is a one-page A4 landscape PDF with
 * its fonts embedded, and hostile text stays out of its syntax.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "copy_pdf.h"
#include "cs_err.h"

static const char face[] =
	"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1123\" "
	"height=\"794\" viewBox=\"0 0 1123 794\" font-family=\"Noto Serif CJK "
	"SC, serif\"><text x=\"100\" y=\"100\" font-size=\"30\">辐射安全许可证"
	"</text></svg>";
static const char seal[] =
	"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\">"
	"<circle cx=\"50\" cy=\"50\" r=\"45\" fill=\"none\" stroke=\"red\"/>"
	"</svg>";

static cs_copy_marks
marks(const char *purpose)
{
	cs_copy_marks m = {.purpose = purpose, .used_by = "李四",
	    .copy_id = "0123456789ABCDEF01234567", .until = "2027-01-04",
	    .issuer_name = "某省生态环境厅"};

	return m;
}

TEST(overlay)
{
	cs_copy_marks m = marks("<script>)/JS (app.alert(1))&");
	char *svg = NULL;

	CHECK_INT_EQ(cs_copy_overlay_svg(&m, &svg), 0);
	CHECK(svg != NULL);
	if (svg == NULL)
		return;
	CHECK_CONTAINS(svg, "仅供&lt;script&gt;)/JS (app.alert(1))&amp;使用");
	CHECK(strstr(svg, "<script>") == NULL);
	CHECK_CONTAINS(svg, "使用人：李四");
	CHECK_CONTAINS(svg, "加注件编号：0123456789ABCDEF01234567");
	CHECK_CONTAINS(svg, "2027-01-04前有效");
	CHECK_CONTAINS(svg, "样章");
	CHECK_CONTAINS(svg, "某省生态环境厅");
	free(svg);
	m.seal_svg = seal;
	m.seal_len = strlen(seal);
	CHECK_INT_EQ(cs_copy_overlay_svg(&m, &svg), 0);
	CHECK(svg != NULL && strstr(svg, "样章") == NULL);
	free(svg);
}

/* A purpose of 200 characters wraps into lines, every character kept. */
TEST(long_purpose)
{
	char p[601], *svg = NULL;
	cs_copy_marks m;
	size_t i, n = 0;
	const char *s;

	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(p + n, sizeof(p) - n, "案");
	m = marks(p);
	CHECK_INT_EQ(cs_copy_overlay_svg(&m, &svg), 0);
	for (i = 0, s = svg; s != NULL && (s = strstr(s, "案")) != NULL; i++)
		s += 3;
	CHECK_INT_EQ(i, 200);
	free(svg);
}

TEST(pdf)
{
	cs_copy_marks m = marks(")/JS (app.alert(1))");
	uint8_t *pdf = NULL;
	size_t len = 0;

	CHECK_INT_EQ(cs_copy_pdf(face, strlen(face), &m, &pdf, &len), 0);
	CHECK(pdf != NULL && len > 1000);
	if (pdf == NULL)
		return;
	CHECK(memcmp(pdf, "%PDF-1.5", 8) == 0);
	CHECK(memmem(pdf, len, "/MediaBox [ 0 0 841.89 595.28 ]", 31) != NULL);
	CHECK(memmem(pdf, len, "/FontFile", 9) != NULL);
	CHECK(memmem(pdf, len, "app.alert", 9) == NULL);
	CHECK(memmem(pdf, len, "/JavaScript", 11) == NULL);
	free(pdf);
	m.seal_svg = seal;
	m.seal_len = strlen(seal);
	CHECK_INT_EQ(cs_copy_pdf(face, strlen(face), &m, &pdf, &len), 0);
	free(pdf);
	m.seal_svg = "<svg";
	m.seal_len = 4;
	CHECK_INT_EQ(cs_copy_pdf(face, strlen(face), &m, &pdf, &len), CS_EINVAL);
	CHECK(pdf == NULL);
	CHECK_INT_EQ(cs_copy_pdf("<x", 2, &m, &pdf, &len), CS_EINVAL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(overlay);
	RUN(long_purpose);
	RUN(pdf);
	return check_summary();
}
