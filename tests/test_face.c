/*
 * test_face: licence faces (certsvc/domain/render/face.c, SPEC §3, §5 face.svg).
 *
 * The core tests use a layout this file writes into a temporary directory,
 * with every placeholder kind, a data-wrap text and a qr-slot, so that they
 * do not move when templates/ does.  The last test renders every type of
 * the shipped catalog, when there is one, with a synthetic licence.  Every
 * rendered face is checked with xmllint when it is installed.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "check.h"
#include "cs_err.h"
#include "face.h"
#include "qr.h"

#define QR_TEXT "https://zz.example.gov.cn/v/" \
	"eJzLSM3JyVcozy_KSVEEAB0JBF4eJzLSM3JyVcozy_KSVEEAB0JBF4eJzLSM3JyVcozy_KS" \
	"VEEAB0JBF4eJzLSM3JyVcozy_KSVEEAB0JBF4eJzLSM3JyVcozy_KSVEEAB0JBF4"

static const char layout[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"560\" "
	"viewBox=\"0 0 800 560\">\n"
	"  <!-- {{holder.name}} in a comment is not rendered -->\n"
	"  <rect x=\"0\" y=\"0\" width=\"800\" height=\"560\" fill=\"#fff\"/>\n"
	"  <text id=\"type\" x=\"400\" y=\"60\" font-size=\"32\" "
	"text-anchor=\"middle\">{{type_name}}</text>\n"
	"  <text id=\"number\" x=\"40\" y=\"110\">编号：{{number}}</text>\n"
	"  <text id=\"lid\" x=\"40\" y=\"130\" font-size=\"10\">{{id}}</text>\n"
	"  <text id=\"holder\" x=\"40\" y=\"170\" font-size=\"18\" "
	"data-wrap=\"700\">持证单位：{{holder.name}}</text>\n"
	"  <text id=\"code\" x=\"40\" y=\"200\">{{holder.code}}</text>\n"
	"  <text id=\"scope\" x=\"40\" y=\"240\" font-size=\"16\" "
	"data-wrap=\"320\">{{fields.scope}}</text>\n"
	"  <text id=\"en\" x=\"40\" y=\"340\" font-size=\"10\" "
	"data-wrap=\"120\">{{fields.scope_en}}</text>\n"
	"  <text id=\"count\" x=\"40\" y=\"400\">{{fields.count}}</text>\n"
	"  <text id=\"note\" x=\"40\" y=\"420\">[{{fields.note}}]</text>\n"
	"  <text id=\"issuer\" x=\"40\" y=\"440\">{{issuer.name}}</text>\n"
	"  <text id=\"from\" x=\"40\" y=\"460\">{{valid_from}}</text>\n"
	"  <text id=\"until\" x=\"40\" y=\"480\">{{valid_until}}</text>\n"
	"  <text id=\"issued\" x=\"40\" y=\"500\">{{issued_at}}</text>\n"
	"  <rect id=\"qr-slot\" x=\"600\" y=\"340\" width=\"160\" height=\"160\" "
	"fill=\"none\"/>\n"
	"</svg>\n";

static const char evil_name[] = "<script>alert(1)</script> & \"x\"";
static const char evil_name_xml[] =
	"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;";

static char tmpdir[] = "/tmp/test_face.XXXXXX";
static int have_tmpdir;
static int have_xmllint = -1;
static char *layout_text;   /* the layout, as read back from tmpdir */

static cs_field core_fields[] = {
	{.name = "scope", .label = "许可范围", .kind = CS_FIELD_TEXT,
	    .required = 1, .max_length = 400},
	{.name = "scope_en", .label = "Scope", .kind = CS_FIELD_TEXT},
	{.name = "count", .label = "数量", .kind = CS_FIELD_INTEGER},
	{.name = "note", .label = "备注", .kind = CS_FIELD_TEXT},
};

static cs_type
core_type(const char *svg)
{
	cs_type t;

	memset(&t, 0, sizeof(t));
	t.code = "11100000000013338W032";
	t.name = "辐射安全许可证";
	t.name_en = "Radiation Safety Licence";
	t.accepts_uscc = 1;
	t.face_svg = (char *)svg;
	t.fields = core_fields;
	t.n_fields = sizeof(core_fields) / sizeof(core_fields[0]);
	return t;
}

/* n CJK characters, as UTF-8, from a pool of common ones, starting at an
 * offset chosen by seed. */
static char *
cjk(size_t n, size_t seed)
{
	static const char *const pool[] = {
		"辐", "射", "安", "全", "许", "可", "证", "生", "态", "环",
		"境", "部", "门", "放", "诊", "疗", "卫", "健", "康", "委",
		"员", "会", "排", "污", "危", "险", "废", "物", "经", "营",
		"建", "设", "项", "目", "影", "响", "评", "价", "批", "复",
		"培", "训", "合", "格", "书", "使", "用", "类", "器", "线",
		"装", "置", "销", "售", "广", "东", "省", "深", "圳", "市",
		"南", "山", "区", "科",
	};
	size_t np = sizeof(pool) / sizeof(pool[0]), i;
	char *s = malloc(n * 3 + 1);

	s[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(s, pool[(seed * 11 + i) % np]);
	return s;
}

/* A value for field idx: n characters, the first a marker of that field
 * found in no other value, so "field k's value is on the face" cannot be
 * satisfied by another field's text holding it. */
static char *
cjk_field(size_t n, size_t idx)
{
	static const char *const marker[] = {
		"甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸",
		"子", "丑", "寅", "卯", "辰", "巳", "午", "未", "申", "酉",
	};
	char *rest = cjk(n > 1 ? n - 1 : 0, idx), *s = malloc(n * 3 + 4);

	snprintf(s, n * 3 + 4, "%s%s",
	    marker[idx % (sizeof(marker) / sizeof(marker[0]))], rest);
	free(rest);
	return s;
}

static json_t *
core_licence(const char *scope, json_t *valid_until)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, "
	    "s:{s:s, s:s}, s:s, s:s, s:o, s:{s:s, s:s, s:i}}",
	    "id", "1.2.156.3005.2.11100000000013338W032.11220000013544541J."
	    "2430599.001.F",
	    "type", "11100000000013338W032",
	    "type_name", "辐射安全许可证",
	    "number", "粤环辐证[00123]\x01\n",
	    "holder", "name", evil_name, "code_type", "USCC",
	    "code", "91350100M000100Y43",
	    "issuer", "name", "广东省生态环境厅", "code", "11440000006939877N",
	    "issued_at", "2026-01-02T03:04:05Z",
	    "valid_from", "2026-01-02",
	    "valid_until", valid_until,
	    "fields", "scope", scope,
	    "scope_en", "Production, sale and use of Class III radiation devices",
	    "count", 42);
}

/* Decode the five XML entities (and numeric ones, as '?') of s[0..n)
 * into b, dropping tags: what a reader of the text sees. */
static void
append_text(char **b, size_t *blen, const char *s, size_t n)
{
	static const struct { const char *ent; char ch; } ents[] = {
		{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'},
		{"&apos;", '\''},
	};
	size_t i = 0, k, el;
	int done;

	*b = realloc(*b, *blen + n + 2);
	while (i < n) {
		done = 0;
		if (s[i] == '<') {
			while (i < n && s[i] != '>')
				i++;
			i++;
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]) && !done; k++) {
			el = strlen(ents[k].ent);
			if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
				(*b)[(*blen)++] = ents[k].ch;
				i += el;
				done = 1;
			}
		}
		if (!done)
			(*b)[(*blen)++] = s[i++];
	}
	(*b)[*blen] = '\0';
}

/* The element <text ...>...</text> starting at p: its content's bounds. */
static int
text_bounds(const char *p, const char **from, const char **to)
{
	const char *gt = strchr(p, '>'), *end = NULL;
	int ok;

	ok = gt != NULL && gt[-1] != '/' && (end = strstr(gt, "</text>")) != NULL;
	if (ok) {
		*from = gt + 1;
		*to = end;
	}
	return ok;
}

/* All text elements' text, tags removed (tspans joined), one per line. */
static char *
text_view(const char *svg)
{
	const char *p = svg, *from, *to;
	char *b = NULL;
	size_t blen = 0;

	b = calloc(1, 1);
	while ((p = strstr(p, "<text")) != NULL) {
		if ((p[5] == ' ' || p[5] == '>') && text_bounds(p, &from, &to)) {
			append_text(&b, &blen, from, (size_t)(to - from));
			append_text(&b, &blen, "\n", 1);
			p = to;
		} else {
			p += 5;
		}
	}
	return b;
}

/* The text of the element <text id="id" ...>; *tspans its tspan count. */
static char *
text_of(const char *svg, const char *id, int *tspans)
{
	char start[64];
	const char *p, *from, *to, *q;
	char *b = NULL;
	size_t blen = 0;

	snprintf(start, sizeof(start), "<text id=\"%s\"", id);
	if (tspans)
		*tspans = 0;
	if ((p = strstr(svg, start)) != NULL && text_bounds(p, &from, &to)) {
		b = calloc(1, 1);
		append_text(&b, &blen, from, (size_t)(to - from));
		for (q = from; tspans && (q = strstr(q, "<tspan")) != NULL &&
		    q < to; q++)
			(*tspans)++;
	}
	return b;
}

/* The raw markup of the element <text id="id" ...>...</text>. */
static char *
element_of(const char *svg, const char *id)
{
	char start[64];
	const char *p, *e = NULL;

	snprintf(start, sizeof(start), "<text id=\"%s\"", id);
	if ((p = strstr(svg, start)) != NULL)
		e = strstr(p, "</text>");
	return e != NULL ? strndup(p, (size_t)(e + 7 - p)) : NULL;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	int ok = 0;

	if (f != NULL) {
		ok = fputs(text, f) >= 0;
		ok = fclose(f) == 0 && ok;
	}
	return ok;
}

/* Well-formed XML per xmllint, when it is installed. */
static void
check_xml(const char *svg, const char *what)
{
	char path[256], cmd[512];
	int rc;

	if (have_xmllint < 0) {
		have_xmllint = system("command -v xmllint >/dev/null 2>&1") == 0;
		if (!have_xmllint)
			printf("note: xmllint not installed (Debian: "
			    "libxml2-utils); well-formedness not checked\n");
	}
	if (!have_xmllint || !have_tmpdir)
		goto out;
	snprintf(path, sizeof(path), "%s/out-%s.svg", tmpdir, what);
	CHECK(write_file(path, svg));
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "xmllint rejects the face %s (%s)\n", what, path);
	CHECK_INT_EQ(rc, 0);
	unlink(path);
out:
	return;
}

static char *
render(const cs_type *t, const json_t *lic)
{
	char *svg = NULL;
	int rc = cs_face_svg(t, lic, QR_TEXT, NULL, &svg);

	if (rc != 0)
		fprintf(stderr, "cs_face_svg: %s: %s\n", cs_errname(rc),
		    cs_err_msg());
	CHECK_INT_EQ(rc, 0);
	return svg;
}

TEST(values_escaped)
{
	cs_type t = core_type(layout_text);
	json_t *lic = core_licence("生产、销售、使用Ⅲ类射线装置", json_null());
	char *svg = render(&t, lic), *s, *el, *p;
	char want[512];

	if (svg == NULL)
		goto out;
	CHECK(strncmp(svg, "<?xml", 5) == 0);
	CHECK(strstr(svg, "</svg>") != NULL);
	CHECK_CONTAINS(svg, evil_name_xml);
	CHECK(strstr(svg, "<script") == NULL);
	/* The one "{{" left is the comment's. */
	p = strstr(svg, "{{");
	CHECK(p != NULL && strncmp(p, "{{holder.name}} in a comment", 28) == 0);
	CHECK(p == NULL || strstr(p + 2, "{{") == NULL);
	/* A value that fits leaves its element byte-identical but for the
	 * substitution. */
	snprintf(want, sizeof(want), "<text id=\"holder\" x=\"40\" y=\"170\" "
	    "font-size=\"18\" data-wrap=\"700\">持证单位：%s</text>",
	    evil_name_xml);
	el = element_of(svg, "holder");
	CHECK_STR_EQ(el, want);
	free(el);
	s = text_of(svg, "holder", NULL);
	snprintf(want, sizeof(want), "持证单位：%s", evil_name);
	CHECK_STR_EQ(s, want);
	free(s);
	/* The rest of the layout is copied byte for byte. */
	CHECK_CONTAINS(svg, "  <!-- {{holder.name}} in a comment is not "
	    "rendered -->\n  <rect x=\"0\" y=\"0\" width=\"800\" "
	    "height=\"560\" fill=\"#fff\"/>\n");
	CHECK(strncmp(svg, layout_text, strstr(layout_text, "{{type_name}}") -
	    layout_text) == 0);
	/* Control characters dropped. */
	s = text_of(svg, "number", NULL);
	CHECK_STR_EQ(s, "编号：粤环辐证[00123]");
	free(s);
	s = text_of(svg, "type", NULL);
	CHECK_STR_EQ(s, "辐射安全许可证");
	free(s);
	s = text_of(svg, "lid", NULL);
	CHECK_STR_EQ(s, "1.2.156.3005.2.11100000000013338W032."
	    "11220000013544541J.2430599.001.F");
	free(s);
	s = text_of(svg, "code", NULL);
	CHECK_STR_EQ(s, "91350100M000100Y43");
	free(s);
	s = text_of(svg, "issuer", NULL);
	CHECK_STR_EQ(s, "广东省生态环境厅");
	free(s);
	s = text_of(svg, "from", NULL);
	CHECK_STR_EQ(s, "2026-01-02");
	free(s);
	s = text_of(svg, "issued", NULL);
	CHECK_STR_EQ(s, "2026-01-02");
	free(s);
	s = text_of(svg, "count", NULL);
	CHECK_STR_EQ(s, "42");
	free(s);
	/* A missing optional field shows as nothing. */
	s = text_of(svg, "note", NULL);
	CHECK_STR_EQ(s, "[]");
	free(s);
	check_xml(svg, "values");
out:
	free(svg);
	json_decref(lic);
}

TEST(qr_slot)
{
	cs_type t = core_type(layout_text);
	json_t *lic = core_licence("辐射", json_null());
	char *svg = render(&t, lic), *frag = NULL, *wide = NULL, *svg2 = NULL;
	char *p;
	int rc;

	if (svg == NULL)
		goto out;
	CHECK(strstr(svg, "qr-slot") == NULL);
	/* The group cs_qr_svg_fragment draws for the slot's place and size. */
	rc = cs_qr_svg_fragment(QR_TEXT, &(cs_qr_opts){CS_QR_ECC_M, 4, 4},
	    600, 340, 160, &frag, NULL);
	CHECK_INT_EQ(rc, 0);
	if (frag != NULL) {
		CHECK_CONTAINS(frag, "<g");
		CHECK_CONTAINS(svg, frag);
	}
	/* A slot that is not square holds a square code of its short side. */
	wide = strdup(layout_text);
	p = strstr(wide, "width=\"160\" height=\"160\"");
	memcpy(p, "width=\"200\" height=\"150\"", 24);
	t.face_svg = wide;
	svg2 = render(&t, lic);
	free(frag);
	frag = NULL;
	rc = cs_qr_svg_fragment(QR_TEXT, &(cs_qr_opts){CS_QR_ECC_M, 4, 4},
	    600, 340, 150, &frag, NULL);
	CHECK_INT_EQ(rc, 0);
	if (svg2 != NULL && frag != NULL)
		CHECK_CONTAINS(svg2, frag);
	if (svg2 != NULL)
		check_xml(svg2, "qr");
out:
	free(frag);
	free(wide);
	free(svg);
	free(svg2);
	json_decref(lic);
}

TEST(wrap)
{
	cs_type t = core_type(layout_text);
	char *scope = cjk(60, 0), *big = cjk(100, 3), *s, *el, *p;
	const char *en = "Production, sale and use of Class III radiation devices";
	json_t *lic = core_licence(scope, json_null());
	json_t *lic2 = core_licence(big, json_null());
	char *svg = render(&t, lic), *svg2 = render(&t, lic2);
	int n;
	double fs;

	if (svg == NULL || svg2 == NULL)
		goto out;
	/* 60 CJK characters at 16 user units in lines of 320: 3 lines. */
	s = text_of(svg, "scope", &n);
	CHECK_STR_EQ(s, scope);
	CHECK_INT_EQ(n, 3);
	free(s);
	el = element_of(svg, "scope");
	CHECK_CONTAINS(el, "<text id=\"scope\" x=\"40\" y=\"240\" font-size=\"16\" "
	    "data-wrap=\"320\"><tspan x=\"40\">");
	CHECK_CONTAINS(el, "<tspan x=\"40\" dy=\"1.3em\">");
	CHECK(strstr(el, "<tspan x=\"40\" dy=\"1.3em\" font-size") == NULL);
	free(el);
	/* Latin text breaks between words: every line but the last ends with
	 * the blank it broke at. */
	s = text_of(svg, "en", &n);
	CHECK_STR_EQ(s, en);
	CHECK(n >= 2);
	free(s);
	el = element_of(svg, "en");
	for (p = el; p != NULL && (p = strstr(p, "</tspan><tspan")) != NULL; p++)
		CHECK(p[-1] == ' ');
	free(el);
	/* 100 characters would take 5 lines: the font shrinks to fit 4, and
	 * every character is still there. */
	s = text_of(svg2, "scope", &n);
	CHECK_STR_EQ(s, big);
	CHECK(n >= 2 && n <= 4);
	free(s);
	el = element_of(svg2, "scope");
	p = el ? strstr(el, "font-size=\"") : NULL;
	p = p ? strstr(p + 1, "font-size=\"") : NULL;  /* the tspan's */
	CHECK(p != NULL);
	if (p != NULL) {
		fs = strtod(p + 11, NULL);
		CHECK(fs < 16 && fs >= 16 * 0.6 - 0.01);
	}
	free(el);
	check_xml(svg, "wrap");
	check_xml(svg2, "shrink");
out:
	free(svg);
	free(svg2);
	free(scope);
	free(big);
	json_decref(lic);
	json_decref(lic2);
}

TEST(wrap_never_drops)
{
	cs_type t = core_type(layout_text);
	char *huge = cjk(400, 5), *svg, *s;
	json_t *lic = core_licence(huge, json_null());
	int n;

	/* Far too long even at 60%: more lines, nothing lost. */
	svg = render(&t, lic);
	if (svg != NULL) {
		s = text_of(svg, "scope", &n);
		CHECK_STR_EQ(s, huge);
		CHECK(n > 4);
		CHECK_CONTAINS(svg, "font-size=\"9.6\"");
		free(s);
		check_xml(svg, "huge");
	}
	free(svg);
	free(huge);
	json_decref(lic);
}

TEST(no_expiry)
{
	cs_type t = core_type(layout_text);
	json_t *lic = core_licence("辐射", json_null());
	json_t *lic2 = core_licence("辐射", json_string("2031-01-01"));
	char *svg = render(&t, lic), *svg2 = NULL, *s;

	s = svg ? text_of(svg, "until", NULL) : NULL;
	CHECK_STR_EQ(s, "长期");
	free(s);
	svg2 = render(&t, lic2);
	s = svg2 ? text_of(svg2, "until", NULL) : NULL;
	CHECK_STR_EQ(s, "2031-01-01");
	free(s);
	free(svg2);
	/* Absent is no expiry too. */
	json_object_del(lic2, "valid_until");
	svg2 = render(&t, lic2);
	s = svg2 ? text_of(svg2, "until", NULL) : NULL;
	CHECK_STR_EQ(s, "长期");
	free(s);
	free(svg);
	free(svg2);
	json_decref(lic);
	json_decref(lic2);
}

/* Render a variant of the layout with one substring replaced; expect
 * CS_EINVAL with a message holding want. */
static void
expect_einval(const char *from, const char *to, const char *want)
{
	json_t *lic = core_licence("辐射", json_null());
	char *text, *p, *svg = (char *)"untouched";
	size_t n;
	cs_type t;
	int rc;

	p = strstr(layout_text, from);
	CHECK(p != NULL);
	if (p == NULL)
		goto out;
	n = strlen(layout_text) - strlen(from) + strlen(to);
	text = malloc(n + 1);
	snprintf(text, n + 1, "%.*s%s%s", (int)(p - layout_text), layout_text,
	    to, p + strlen(from));
	t = core_type(text);
	rc = cs_face_svg(&t, lic, QR_TEXT, NULL, &svg);
	CHECK_INT_EQ(rc, CS_EINVAL);
	CHECK(svg == NULL);
	CHECK_CONTAINS(cs_err_msg(), want);
	free(text);
out:
	json_decref(lic);
}

TEST(layout_errors)
{
	expect_einval("{{fields.count}}", "{{fields.nope}}", "{{fields.nope}}");
	expect_einval("{{holder.code}}", "{{holder.nmae}}", "{{holder.nmae}}");
	expect_einval("{{issuer.name}}", "{{ issuer.name }}",
	    "{{ issuer.name }}");
	/* An unknown placeholder in a wrapped text is found as well. */
	expect_einval("{{fields.scope}}", "{{fields.scop}}", "{{fields.scop}}");
	/* Attributes are not a place for values (href, on*, style). */
	expect_einval("fill=\"none\"", "fill=\"none\" aria-label=\"{{number}}\"",
	    "{{number}}");
	expect_einval("<rect id=\"qr-slot\"", "<rect id=\"no-slot\"", "qr-slot");
	expect_einval("data-wrap=\"320\"", "data-wrap=\"wide\"", "data-wrap");
}

/* A text field's value (the i-th field's marker first): half its
 * max_length for a sample, all of it (200 with none) at the limit. */
static char *
text_value(const cs_field *f, size_t i, int at_limit)
{
	long len;

	if (at_limit)
		return cjk_field(f->max_length > 0 ?
		    (size_t)f->max_length : 200, i);
	len = f->max_length > 0 ? f->max_length / 2 : 8;
	if (len < f->min_length)
		len = f->min_length;
	if (len < 1)
		len = 1;
	return cjk_field((size_t)len, i);
}

/* An integer field's value: 42 for a sample, at the limit its
 * max_length in nines, at most the 18 digits issuance accepts. */
static char *
integer_value(const cs_field *f, int at_limit)
{
	char digits[32];
	size_t n;

	if (!at_limit)
		return strdup("42");
	n = f->max_length > 0 && f->max_length < 19 ?
	    (size_t)f->max_length : 18;
	memset(digits, '9', n);
	digits[n] = '\0';
	return strdup(digits);
}

/* An enum field's value: its first option for a sample, its longest at
 * the limit. */
static char *
enum_value(const cs_field *f, int at_limit)
{
	const char *longest = "";
	size_t k;

	if (!at_limit)
		return strdup(f->n_options > 0 ? f->options[0] : "");
	for (k = 0; k < f->n_options; k++)
		if (strlen(f->options[k]) > strlen(longest))
			longest = f->options[k];
	return strdup(longest);
}

/* The i-th field's value as text: a sample, or (at_limit) the widest
 * issuance accepts; NULL for a kind not known here. */
static char *
field_value(const cs_field *f, size_t i, int at_limit)
{
	switch (f->kind) {
	case CS_FIELD_TEXT:
		return text_value(f, i, at_limit);
	case CS_FIELD_DATE:
		return strdup(at_limit ? "2026-12-31" : "2026-01-01");
	case CS_FIELD_INTEGER:
		return integer_value(f, at_limit);
	case CS_FIELD_ENUM:
		return enum_value(f, at_limit);
	}
	return NULL;
}

/* The fields of a licence of type t, each filled by its kind (field_value);
 * values[i] gets the i-th as text, what the face must show. */
static json_t *
fill_fields(const cs_type *t, char **values, int at_limit)
{
	json_t *fields = json_object();
	size_t i;

	for (i = 0; i < t->n_fields; i++) {
		const cs_field *f = &t->fields[i];

		if ((values[i] = field_value(f, i, at_limit)) == NULL)
			continue;
		json_object_set_new(fields, f->name,
		    f->kind == CS_FIELD_INTEGER ?
		    json_integer(strtoll(values[i], NULL, 10)) :
		    json_string(values[i]));
	}
	return fields;
}

/* A plausible licence of type t: every field filled by its kind. */
static json_t *
synthetic_licence(const cs_type *t, char ***values)
{
	json_t *fields, *lic;
	char buf[32];

	*values = calloc(t->n_fields + 1, sizeof(char *));
	fields = fill_fields(t, *values, 0);
	snprintf(buf, sizeof(buf), "%s", t->accepts_uscc || !t->accepts_rid ?
	    "91440300708461136T" : "110105******002X");
	lic = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, "
	    "s:{s:s, s:s}, s:s, s:s, s:s, s:o}",
	    "id", "1.2.156.3005.2.11100000000013338W032.11220000013544541J."
	    "2430599.001.F",
	    "type", t->code,
	    "type_name", t->name,
	    "number", "粤环辐证[00123]",
	    "holder", "name", t->accepts_uscc || !t->accepts_rid ?
	    "深圳市南山区某某科技有限公司" : "张三",
	    "code_type", t->accepts_uscc || !t->accepts_rid ? "USCC" : "RID",
	    "code", buf,
	    "issuer", "name", "广东省生态环境厅", "code", "11440000006939877N",
	    "issued_at", "2025-12-01T02:00:00Z",
	    "valid_from", "2025-12-01",
	    "valid_until", "2030-11-30",
	    "fields", fields);
	return lic;
}

static int
has_json_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n;
	int found = 0;

	while (d != NULL && !found && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		found = n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
	}
	if (d != NULL)
		closedir(d);
	return found;
}

TEST(shipped_catalog)
{
	const char *dir = CS_SOURCE_DIR "/templates";
	cs_catalog *cat = NULL;
	char **values, *svg, *view, what[64];
	json_t *lic;
	size_t i, k;
	int rc;

	if (!has_json_files(dir)) {
		printf("note: no %s/*.json yet; shipped faces not rendered\n", dir);
		goto out;
	}
	rc = cs_catalog_load(dir, &cat);
	if (rc != 0)
		fprintf(stderr, "cs_catalog_load: %s\n", cs_err_msg());
	CHECK_INT_EQ(rc, 0);
	if (rc != 0)
		goto out;
	CHECK(cat->n > 0);
	for (i = 0; i < cat->n; i++) {
		const cs_type *t = &cat->types[i];

		lic = synthetic_licence(t, &values);
		svg = NULL;
		rc = cs_face_svg(t, lic, QR_TEXT, NULL, &svg);
		if (rc != 0)
			fprintf(stderr, "%s (%s): %s\n", t->code, t->name,
			    cs_err_msg());
		CHECK_INT_EQ(rc, 0);
		if (svg != NULL) {
			view = text_view(svg);
			CHECK(strstr(svg, "{{") == NULL);
			CHECK(strstr(svg, "qr-slot") == NULL);
			for (k = 0; k < t->n_fields; k++) {
				if (!t->fields[k].required || values[k][0] == '\0')
					continue;
				if (strstr(view, values[k]) == NULL)
					fprintf(stderr, "%s (%s): required field %s "
					    "\"%s\" not on the face\n", t->code,
					    t->name, t->fields[k].name, values[k]);
				CHECK(strstr(view, values[k]) != NULL);
			}
			snprintf(what, sizeof(what), "type-%zu", i);
			check_xml(svg, what);
			free(view);
		}
		free(svg);
		for (k = 0; k < t->n_fields; k++)
			free(values[k]);
		free(values);
		json_decref(lic);
	}
	printf("rendered %zu shipped faces\n", cat->n);
out:
	cs_catalog_free(cat);
}

/* A layout with one boxed text: 360 wide, two lines of 18 high. */
static const char boxed_layout[] =
	"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"400\" "
	"viewBox=\"0 0 800 400\">\n"
	"  <text id=\"box\" x=\"40\" y=\"100\" font-size=\"18\" data-wrap=\"360\" "
	"data-lines=\"2\">{{fields.scope}}</text>\n"
	"  <text id=\"spaced\" x=\"40\" y=\"200\" font-size=\"18\" "
	"letter-spacing=\"4\" data-wrap=\"360\" data-lines=\"2\">"
	"{{fields.scope_en}}</text>\n"
	"  <rect id=\"qr-slot\" x=\"600\" y=\"200\" width=\"160\" height=\"160\"/>\n"
	"</svg>\n";

/* How a boxed text came out: its tspans, their font size (0: none, the
 * layout's), the first one's dy (negative: lifted), and whether it is
 * marked data-overflow. */
struct boxed {
	char *text;
	int tspans;
	double fs;
	double dy0;
	int overflow;
};

static void
boxed_of(const char *svg, const char *id, struct boxed *b)
{
	char *el = element_of(svg, id);
	const char *p, *gt;

	memset(b, 0, sizeof(*b));
	b->text = text_of(svg, id, &b->tspans);
	if (el == NULL)
		return;
	gt = strchr(el, '>');
	b->overflow = (p = strstr(el, "data-overflow=\"true\"")) != NULL &&
	    p < gt;
	if ((p = strstr(el, "<tspan")) != NULL) {
		gt = strchr(p, '>');
		if ((p = strstr(p, "font-size=\"")) != NULL && p < gt)
			b->fs = strtod(p + 11, NULL);
		p = strstr(el, "<tspan");
		if ((p = strstr(p, "dy=\"")) != NULL && p < gt)
			b->dy0 = strtod(p + 4, NULL);
	}
	free(el);
}

/* The bottom of a boxed text's last line below its first baseline, by
 * face.c's box model (ascent 1.16 em, descent 0.29 em, lines 1.3 em
 * apart), against the box of data-lines lines at the layout's size. */
static int
inside_box(const struct boxed *b, double fs0, int budget)
{
	double fs = b->fs > 0 ? b->fs : fs0;
	int lines = b->tspans > 0 ? b->tspans : 1;
	double top = b->dy0 - 1.16 * fs, bottom = b->dy0 +
	    (lines - 1) * 1.3 * fs + 0.29 * fs;

	return top >= -1.16 * fs0 - 0.01 &&
	    bottom <= (budget - 1) * 1.3 * fs0 + 0.29 * fs0 + 0.01;
}

static char *
render_scope(const char *scope, const char *scope_en)
{
	cs_type t = core_type(boxed_layout);
	json_t *lic = core_licence(scope, json_null());
	char *svg;

	json_object_set_new(json_object_get(lic, "fields"), "scope_en",
	    json_string(scope_en));
	svg = render(&t, lic);
	json_decref(lic);
	return svg;
}

TEST(boxed_fit)
{
	char *s20 = cjk(20, 1), *s40 = cjk(40, 2), *s100 = cjk(100, 3);
	char *svg = NULL;
	struct boxed b;

	/* 20 characters of 18 fill one line of 360: left as they are. */
	svg = render_scope(s20, "iiiiiiiiiiiiiiiiiiiiiiiiiiiiii");
	boxed_of(svg, "box", &b);
	CHECK_STR_EQ(b.text, s20);
	CHECK_INT_EQ(b.tspans, 0);
	CHECK(!b.overflow);
	free(b.text);
	/* Letter-spacing counts: 20 characters of 18 + 4 do not fit. */
	free(svg);
	svg = render_scope(s20, s20);
	boxed_of(svg, "spaced", &b);
	CHECK_STR_EQ(b.text, s20);
	CHECK(b.tspans >= 2 || b.fs > 0);
	CHECK(!b.overflow);
	free(b.text);
	/* ASCII by its real width: 30 "W" (about 1.05 em each) do not fit
	 * 360 at 18, 30 "i" (a third of an em) do. */
	free(svg);
	svg = render_scope("WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW", "x");
	boxed_of(svg, "box", &b);
	CHECK_INT_EQ(b.tspans, 2);
	CHECK(inside_box(&b, 18, 2));
	free(b.text);
	free(svg);
	svg = render_scope("iiiiiiiiiiiiiiiiiiiiiiiiiiiiii", "x");
	boxed_of(svg, "box", &b);
	CHECK_INT_EQ(b.tspans, 0);
	free(b.text);
	/* Two lines: wrapped at the layout's size, no lift. */
	free(svg);
	svg = render_scope(s40, "x");
	boxed_of(svg, "box", &b);
	CHECK_STR_EQ(b.text, s40);
	CHECK_INT_EQ(b.tspans, 2);
	CHECK(b.fs == 0 && b.dy0 == 0 && !b.overflow);
	CHECK(inside_box(&b, 18, 2));
	free(b.text);
	/* 100 characters: kept on two lines they would need 7.2 px; with
	 * the lines the box holds at a smaller size they stay legible, more
	 * lines than data-lines, every line inside the box. */
	free(svg);
	svg = render_scope(s100, "x");
	boxed_of(svg, "box", &b);
	CHECK_STR_EQ(b.text, s100);
	CHECK(b.tspans > 2);
	CHECK(b.fs >= 9 && b.fs < 18);
	CHECK(!b.overflow);
	CHECK(inside_box(&b, 18, 2));
	free(b.text);
	check_xml(svg, "boxed");
	free(svg);
	free(s20);
	free(s40);
	free(s100);
}

TEST(boxed_overflow)
{
	char *huge = cjk(400, 4), *svg;
	struct boxed b;

	/* Far more than the box holds at 9 px: shrunk to the last resort,
	 * 30% (5.4), every character kept, and the text says it did not fit. */
	svg = render_scope(huge, "x");
	boxed_of(svg, "box", &b);
	CHECK_STR_EQ(b.text, huge);
	CHECK(b.overflow);
	CHECK(b.fs > 5.39 && b.fs < 5.41);
	CHECK(b.tspans > 2);
	free(b.text);
	check_xml(svg, "overflow");
	free(svg);
	free(huge);
}

/*
 * Every value of every shipped type at its limit, in CJK characters (the
 * widest): text fields at max_length, enums at their longest option,
 * integers of max_length digits, the holder name at the 200 characters
 * issuance accepts, a caller's number at its 64, and a 64-character
 * issuing authority.  The layouts are drawn for these: no text may need
 * a font below the legible 9 px or be marked data-overflow.  A type whose
 * box cannot hold its field's max_length fails here, and the fix is the
 * box or the max_length (tests/browser_test.py checks the same faces in
 * chromium).
 */
static json_t *
limit_licence(const cs_type *t, char ***values)
{
	json_t *fields, *lic;
	char *holder = cjk_field(200, 17), *number = cjk_field(64, 18);
	char *issuer = cjk_field(64, 19);

	*values = calloc(t->n_fields + 1, sizeof(char *));
	fields = fill_fields(t, *values, 1);
	lic = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, "
	    "s:{s:s, s:s}, s:s, s:s, s:s, s:o}",
	    "id", "1.2.156.3005.2.11100000000013338W032.11220000013544541J."
	    "2430599.001.F",
	    "type", t->code,
	    "type_name", t->name,
	    "number", number,
	    "holder", "name", holder,
	    "code_type", t->accepts_uscc || !t->accepts_rid ? "USCC" : "RID",
	    "code", t->accepts_uscc || !t->accepts_rid ?
	    "91440300708461136T" : "110105******002X",
	    "issuer", "name", issuer, "code", "11440000006939877N",
	    "issued_at", "2025-12-01T02:00:00Z",
	    "valid_from", "2025-12-01",
	    "valid_until", "2030-11-30",
	    "fields", fields);
	free(holder);
	free(number);
	free(issuer);
	return lic;
}

TEST(shipped_limits)
{
	const char *dir = CS_SOURCE_DIR "/templates";
	cs_catalog *cat = NULL;
	char **values, *svg, *view, what[64];
	const char *p, *q;
	json_t *lic;
	size_t i, k;
	double fs;
	int rc;

	if (!has_json_files(dir))
		goto out;
	if ((rc = cs_catalog_load(dir, &cat)) != 0)
		goto out;
	for (i = 0; i < cat->n; i++) {
		const cs_type *t = &cat->types[i];

		lic = limit_licence(t, &values);
		svg = NULL;
		CHECK_INT_EQ(cs_face_svg(t, lic, QR_TEXT, NULL, &svg), 0);
		if (svg != NULL) {
			for (p = svg; (p = strstr(p, "data-overflow")) != NULL;
			    p++) {
				for (q = p; q > svg && strncmp(q, "<text", 5) != 0; q--)
					;
				fprintf(stderr, "%s (%s): a value at its limit does "
				    "not fit its box: %.*s>\n", t->code, t->name,
				    (int)(strchr(p, '>') - q), q);
				CHECK(p == NULL);
			}
			for (p = svg; (p = strstr(p, "font-size=\"")) != NULL; p++) {
				fs = strtod(p + 11, NULL);
				if (fs < 9)
					fprintf(stderr, "%s (%s): a line at font-size "
					    "%.2f\n", t->code, t->name, fs);
				CHECK(fs >= 9);
			}
			view = text_view(svg);
			for (k = 0; k < t->n_fields; k++)
				if (t->fields[k].required)
					CHECK(strstr(view, values[k]) != NULL);
			free(view);
			snprintf(what, sizeof(what), "limits-%zu", i);
			check_xml(svg, what);
		}
		free(svg);
		for (k = 0; k < t->n_fields; k++)
			free(values[k]);
		free(values);
		json_decref(lic);
	}
out:
	cs_catalog_free(cat);
}

int
main(int argc, char **argv)
{
	char path[256];

	check_args(argc, argv);
	have_tmpdir = mkdtemp(tmpdir) != NULL;
	CHECK(have_tmpdir);
	if (have_tmpdir) {
		snprintf(path, sizeof(path), "%s/layout.svg", tmpdir);
		CHECK(write_file(path, layout));
		layout_text = check_slurp(path, NULL);
	}
	CHECK(layout_text != NULL);
	if (layout_text != NULL) {
		RUN(values_escaped);
		RUN(qr_slot);
		RUN(wrap);
		RUN(wrap_never_drops);
		RUN(no_expiry);
		RUN(layout_errors);
	}
	RUN(boxed_fit);
	RUN(boxed_overflow);
	RUN(shipped_catalog);
	RUN(shipped_limits);
	free(layout_text);
	if (have_tmpdir) {
		unlink(path);
		rmdir(tmpdir);
	}
	return check_summary();
}
