/*
 * face: one licence's face, rendered from its type's SVG layout (face.h).
 *
 * One pass over the layout text copies it verbatim except for three things:
 *   - {{name}} in element text content becomes the licence's value,
 *     XML-escaped (SPEC §5: whatever came from a request is escaped for its
 *     context, and a face is XML);
 *   - the one <rect id="qr-slot" .../> becomes the QR code's SVG group;
 *   - a <text data-wrap="W"> whose content holds a placeholder and is wider
 *     than W user units is split into <tspan> lines.
 * Everything else stays byte-identical, so a layout designer gets back what
 * they drew.
 *
 * Placeholders are only substituted where XML escaping is the whole story:
 * element text content.  In an attribute (href, on*, style), in a <script>
 * or <style> element or in CDATA the XML parser would decode the escapes and
 * hand the raw value to another language, so a placeholder there is a
 * layout error (CS_EINVAL), not a silent injection.  Comments, processing
 * instructions and the DOCTYPE are copied untouched: nothing shows them.
 */
#include "face.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "text.h"
#include "sbuf.h"

#define PH_NAME_MAX 128      /* longest placeholder name looked up */
#define PH_SCAN_MAX 200      /* "{{" further than this from "}}": not one */
#define DEFAULT_FONT_SIZE 16.0
#define WIDE_EM 1.0          /* CJK and fullwidth glyphs, in em */
#define OTHER_EM 1.0         /* non-ASCII outside the table: at most 1 em */
#define WRAP_MAX_LINES 4     /* more lines than this: shrink first */
#define WRAP_MIN_SCALE 0.6   /* ... down to this share of the font size */
#define WRAP_FLOOR_SCALE 0.3 /* with data-lines: the last resort */
#define WRAP_SCALE_STEP 0.05
/* The smallest font size, in user units (px at the layouts' 96 dpi), that
 * a boxed value is shrunk to while it still counts as legible: 9 px is
 * 6.75 pt on an A4 face.  tests/browser/check.js holds faces to it. */
#define LEGIBLE_MIN 9.0
/* The vertical metrics of the layouts' fonts, Noto Serif and Sans CJK SC,
 * in em (their hhea ascender and descender, what a browser's text box
 * spans), and the distance between wrapped lines. */
#define FONT_ASCENT 1.16
#define FONT_DESCENT 0.29
#define LINE_PITCH 1.3
#define NO_EXPIRY "长期"

/* One unit of a wrapped text: the bytes it writes (already escaped) in the
 * glyph byte buffer, its estimated advance in em, and how lines may break
 * around it. */
struct glyph {
	size_t off;
	size_t len;
	double em;
	unsigned space : 1;          /* whitespace: may hang past the edge */
	unsigned wide : 1;           /* CJK: a line may break on either side */
	unsigned no_break_before : 1; /* closing punctuation */
	unsigned no_break_after : 1;  /* opening punctuation */
};

struct glyphs {
	struct glyph *g;
	size_t n;
	size_t cap;
	int oom;
	cs_sbuf bytes;
};

struct face_ctx {
	const cs_type *type;
	const char *code;            /* the type's, for messages */
	const json_t *lic;
	const char *qr_text;
	const cs_qr_opts *qr;
	const char *s;               /* the layout */
	size_t len;
	cs_sbuf out;
	int n_slots;
	int seen_root;
};

/* The next code point of s[0..n) and its length in *adv; -1 (and *adv 1)
 * for a byte that does not start a well-formed UTF-8 sequence (overlong
 * forms and surrogates included). */
static long
utf8_next(const unsigned char *s, size_t n, size_t *adv)
{
	uint32_t cp;

	if ((*adv = cs_utf8_decode((const char *)s, n, &cp)) == 0) {
		*adv = 1;
		return -1;
	}
	return (long)cp;
}

static void
sb_put_utf8(cs_sbuf *b, long cp)
{
	char u[4];

	cs_sb_add(b, u, cs_utf8_encode((uint32_t)cp, u));
}
/* Whether a code point of a value may appear on the face at all: control
 * characters (C0 but tab, DEL, C1) would start new lines or be invalid XML,
 * and U+FFFE/U+FFFF are not XML characters. */
static int
cp_shown(long cp)
{
	int shown = 1;

	if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) ||
	    cp == 0xfffe || cp == 0xffff)
		shown = 0;
	return shown;
}

/* Write one code point of a value, escaped for XML text and attributes. */
static void
sb_put_escaped_cp(cs_sbuf *b, long cp)
{
	switch (cp) {
	case '&':
		cs_sb_puts(b, "&amp;");
		break;
	case '<':
		cs_sb_puts(b, "&lt;");
		break;
	case '>':
		cs_sb_puts(b, "&gt;");
		break;
	case '"':
		cs_sb_puts(b, "&quot;");
		break;
	case '\'':
		cs_sb_puts(b, "&apos;");
		break;
	default:
		if (cp_shown(cp))
			sb_put_utf8(b, cp);
		break;
	}
}

/* East Asian Wide and Fullwidth ranges (UAX #11), the ones a licence face
 * meets: they are drawn about one em wide, everything else about half. */
static int
cp_wide(long cp)
{
	return (cp >= 0x1100 && cp <= 0x115f) ||
	    (cp >= 0x2e80 && cp <= 0x303e) ||
	    (cp >= 0x3041 && cp <= 0x33ff) ||
	    (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x4e00 && cp <= 0x9fff) ||
	    (cp >= 0xa000 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) ||
	    (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) ||
	    (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) ||
	    (cp >= 0x20000 && cp <= 0x3fffd);
}

/* Chinese line-breaking rules (避头尾), the common part: closing
 * punctuation (and the middle dot of a transliterated name, 阿卜杜·买买提)
 * does not start a line, opening punctuation does not end one. */
static int
cp_no_break_before(long cp)
{
	return (cp > 0 && cp < 0x80 && strchr(",.;:!?)]}%", (int)cp) != NULL) ||
	    cp == 0xff0c || cp == 0x3002 || cp == 0x3001 || cp == 0xff1b ||
	    cp == 0xff1a || cp == 0xff01 || cp == 0xff1f || cp == 0xff09 ||
	    cp == 0x300b || cp == 0x3009 || cp == 0x300d || cp == 0x300f ||
	    cp == 0x3011 || cp == 0x201d || cp == 0x2019 || cp == 0x2026 ||
	    cp == 0xff05 || cp == 0x00b7 || cp == 0x30fb;
}

static int
cp_no_break_after(long cp)
{
	return cp == '(' || cp == '[' || cp == 0xff08 || cp == 0x300a ||
	    cp == 0x3008 || cp == 0x300c || cp == 0x300e || cp == 0x3010 ||
	    cp == 0x201c || cp == 0x2018;
}

/* Write a value (raw UTF-8 from the licence) escaped for XML; bytes that
 * are not UTF-8 become U+FFFD rather than breaking the document. */
static void
sb_put_escaped(cs_sbuf *b, const char *v, size_t n)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0, adv;
	long cp;

	while (i < n) {
		cp = utf8_next(u + i, n - i, &adv);
		sb_put_escaped_cp(b, cp < 0 ? 0xfffd : cp);
		i += adv;
	}
}

/* A number with at most two decimals and no trailing zeros: "15.2". */
static void
sb_put_num(cs_sbuf *b, double v)
{
	char num[64];
	size_t n;

	snprintf(num, sizeof(num), "%.2f", v);
	n = strlen(num);
	while (n > 0 && num[n - 1] == '0')
		n--;
	if (n > 0 && num[n - 1] == '.')
		n--;
	cs_sb_add(b, num, n);
}

static int
starts(const char *s, size_t len, size_t i, const char *lit)
{
	size_t n = strlen(lit);

	return i <= len && len - i >= n && memcmp(s + i, lit, n) == 0;
}

/* The first occurrence of lit in s[from..len), or len. */
static size_t
find(const char *s, size_t len, size_t from, const char *lit)
{
	size_t i;

	for (i = from; i < len; i++)
		if (starts(s, len, i, lit))
			break;
	return i < len ? i : len;
}

static int
is_xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * A placeholder at s[i]: "{{", a name, "}}", all on one line of text (no
 * markup, no newline, no further brace).  Returns the bytes it spans, 0
 * when s[i] does not start one; *name and *nlen are the name, which may
 * still be unknown.  Exactly the syntax the catalog loader checks: no
 * blanks inside the braces.
 */
static size_t
ph_match(const char *s, size_t len, size_t i, const char **name, size_t *nlen)
{
	size_t j, end = 0;

	if (!starts(s, len, i, "{{"))
		goto out;
	for (j = i + 2; j < len && j - i < PH_SCAN_MAX; j++) {
		if (starts(s, len, j, "}}")) {
			end = j + 2;
			break;
		}
		if (s[j] == '<' || s[j] == '>' || s[j] == '\n' || s[j] == '{' ||
		    s[j] == '}')
			break;
	}
	if (end == 0)
		goto out;
	*name = s + i + 2;
	*nlen = end - i - 4;
out:
	return end ? end - i : 0;
}

/* The first placeholder in s[from..to), or to. */
static size_t
ph_find(const char *s, size_t to, size_t from, const char **name,
    size_t *nlen)
{
	size_t i;

	for (i = from; i < to; i++)
		if (s[i] == '{' && ph_match(s, to, i, name, nlen) > 0)
			break;
	return i;
}

/* A placeholder where escaping would not protect it (see the top). */
static int
ph_misplaced(const struct face_ctx *c, const char *s, size_t to,
    size_t from, const char *where)
{
	const char *name;
	size_t nlen;
	int rc = 0;

	if (ph_find(s, to, from, &name, &nlen) < to)
		rc = cs_err_set(CS_EINVAL,
		    "face layout of %s: placeholder {{%.*s}} %s; placeholders "
		    "belong in element text", c->code,
		    (int)(nlen > PH_NAME_MAX ? PH_NAME_MAX : nlen), name, where);
	return rc;
}

/* A JSON scalar as face text.  Objects, arrays and booleans have no face
 * form: the licence object is broken. */
static int
scalar_text(const json_t *v, cs_sbuf *val)
{
	int rc = 0;

	if (json_is_string(v))
		cs_sb_add(val, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		cs_sb_printf(val, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		cs_sb_printf(val, "%.15g", json_real_value(v));
	else if (v != NULL && !json_is_null(v))
		rc = CS_EINVAL;
	return rc;
}

/*
 * The raw (unescaped) text a placeholder stands for, appended to val.
 * Values come from the licence object as the caller passes it: masking a
 * personal code is the caller's decision (SPEC §4 public view), not ours.
 */
static int
ph_value(const struct face_ctx *c, const char *name, size_t nlen,
    cs_sbuf *val)
{
	static const char *const plain[] = {
		"number", "id", "holder.name", "holder.code", "issuer.name",
		"valid_from",
	};
	char key[PH_NAME_MAX + 1];
	const json_t *v = NULL;
	const char *dot, *s;
	size_t i;
	int rc = 0, known = 0;

	if (nlen == 0 || nlen > PH_NAME_MAX)
		goto out;
	memcpy(key, name, nlen);
	key[nlen] = '\0';
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]) && !known; i++) {
		if (strcmp(key, plain[i]) != 0)
			continue;
		known = 1;
		if ((dot = strchr(key, '.')) != NULL) {
			key[dot - key] = '\0';
			v = json_object_get(json_object_get(c->lic, key), dot + 1);
			key[dot - key] = '.';
		} else {
			v = json_object_get(c->lic, key);
		}
		rc = scalar_text(v, val);
	}
	if (known) {
		/* done above */
	} else if (strcmp(key, "type_name") == 0) {
		/* The licence carries the name it was issued under; a catalog
		 * renamed since must not change an issued face. */
		known = 1;
		v = json_object_get(c->lic, "type_name");
		if (json_is_string(v))
			rc = scalar_text(v, val);
		else
			cs_sb_puts(val, c->type->name ? c->type->name : "");
	} else if (strcmp(key, "valid_until") == 0) {
		known = 1;
		v = json_object_get(c->lic, "valid_until");
		if (v == NULL || json_is_null(v))
			cs_sb_puts(val, NO_EXPIRY);
		else
			rc = scalar_text(v, val);
	} else if (strcmp(key, "issued_at") == 0) {
		/* RFC 3339 on the wire; a face shows the date.  (The UTC date:
		 * face.h has no time zone to convert with.) */
		known = 1;
		v = json_object_get(c->lic, "issued_at");
		s = json_string_value(v);
		if (s != NULL && strlen(s) >= 10 && s[4] == '-' && s[7] == '-')
			cs_sb_add(val, s, 10);
		else
			rc = scalar_text(v, val);
	} else if (strncmp(key, "fields.", 7) == 0) {
		for (i = 0; i < c->type->n_fields && !known; i++)
			if (strcmp(c->type->fields[i].name, key + 7) == 0)
				known = 1;
		if (known) {
			/* A missing optional field shows as nothing. */
			v = json_object_get(json_object_get(c->lic, "fields"),
			    key + 7);
			rc = scalar_text(v, val);
		}
	}
	if (rc != 0)
		rc = cs_err_set(CS_EINVAL,
		    "face of %s: licence member for {{%s}} is not text",
		    c->code, key);
out:
	if (!known)
		rc = cs_err_set(CS_EINVAL,
		    "face layout of %s: unknown placeholder {{%.*s}}",
		    c->code,
		    (int)(nlen > PH_NAME_MAX ? PH_NAME_MAX : nlen), name);
	return rc;
}

/* Substitute one placeholder into the output, escaped. */
static int
put_placeholder(struct face_ctx *c, const char *name, size_t nlen)
{
	cs_sbuf val = {0};
	int rc;

	if ((rc = ph_value(c, name, nlen, &val)) != 0)
		goto out;
	if (val.failed) {
		rc = cs_err_set(CS_ENOMEM, "face: out of memory");
		goto out;
	}
	sb_put_escaped(&c->out, val.p ? val.p : "", val.len);
out:
	cs_sb_free(&val);
	return rc;
}

/* The tag's element name: t[1..*n). */
static const char *
tag_name(const char *t, size_t tn, size_t *n)
{
	size_t i = 1;

	while (i < tn && !is_xml_space(t[i]) && t[i] != '/' && t[i] != '>')
		i++;
	*n = i - 1;
	return t + 1;
}

static int
name_is(const char *name, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(name, lit, n) == 0;
}

/* The value of attribute attr in the start tag t[0..tn), quotes removed;
 * 1 when present. */
static int
tag_attr(const char *t, size_t tn, const char *attr, const char **v,
    size_t *vn)
{
	size_t i, a, an, q;
	int found = 0;
	char quote;

	tag_name(t, tn, &i);
	i++;
	while (i < tn && !found) {
		while (i < tn && (is_xml_space(t[i]) || t[i] == '/'))
			i++;
		if (i >= tn || t[i] == '>')
			break;
		a = i;
		while (i < tn && !is_xml_space(t[i]) && t[i] != '=' &&
		    t[i] != '>' && t[i] != '/')
			i++;
		an = i - a;
		while (i < tn && is_xml_space(t[i]))
			i++;
		if (i >= tn || t[i] != '=')
			continue;
		i++;
		while (i < tn && is_xml_space(t[i]))
			i++;
		if (i < tn && (t[i] == '"' || t[i] == '\'')) {
			quote = t[i++];
			for (q = i; q < tn && t[q] != quote; q++)
				;
		} else {
			for (q = i; q < tn && !is_xml_space(t[q]) && t[q] != '>'; q++)
				;
		}
		if (an == strlen(attr) && memcmp(t + a, attr, an) == 0) {
			*v = t + i;
			*vn = q - i;
			found = 1;
		}
		i = q + 1;
	}
	return found;
}

/* A length in user units: a number, optionally "px".  1 when it is one. */
static int
parse_length(const char *v, size_t vn, double *out)
{
	char buf[64], *end;
	int ok = 0;
	double d;

	if (vn == 0 || vn >= sizeof(buf))
		goto out;
	memcpy(buf, v, vn);
	buf[vn] = '\0';
	d = strtod(buf, &end);
	if (end == buf || !isfinite(d))
		goto out;
	while (is_xml_space(*end))
		end++;
	if (strcmp(end, "px") == 0)
		end += 2;
	ok = *end == '\0';
	if (ok)
		*out = d;
out:
	return ok;
}

/* A length property of a <text> start tag: from its style attribute, else
 * its presentation attribute (style= wins, as in CSS); 1 when set to a
 * length in user units.  Values in other units ("1em", "normal") are not
 * estimated. */
static int
text_length_prop(const char *t, size_t tn, const char *prop, double *out)
{
	const char *v, *p;
	size_t vn, n, pn = strlen(prop);
	double d;
	int found = 0;

	if (tag_attr(t, tn, "style", &v, &vn)) {
		for (p = v; p + pn <= v + vn; p++) {
			if (memcmp(p, prop, pn) != 0)
				continue;
			p += pn;
			while (p < v + vn && (is_xml_space(*p) || *p == ':'))
				p++;
			for (n = 0; p + n < v + vn && p[n] != ';'; n++)
				;
			while (n > 0 && is_xml_space(p[n - 1]))
				n--;
			if (parse_length(p, n, &d)) {
				*out = d;
				found = 1;
			}
			break;
		}
	}
	if (!found && tag_attr(t, tn, prop, &v, &vn) &&
	    parse_length(v, vn, &d)) {
		*out = d;
		found = 1;
	}
	return found;
}

/* The font size a <text> start tag sets, else the default. */
static double
text_font_size(const char *t, size_t tn)
{
	double fs = DEFAULT_FONT_SIZE;

	if (!text_length_prop(t, tn, "font-size", &fs) || !(fs > 0))
		fs = DEFAULT_FONT_SIZE;
	return fs;
}

/* Replace the qr-slot rect t[0..tn) (and, for <rect ...></rect>, up to its
 * end tag; *pi is after the start tag) with the QR code's group. */
static int
qr_slot(struct face_ctx *c, const char *t, size_t tn, int self_closing,
    size_t *pi)
{
	static const char *const names[] = {"x", "y", "width", "height"};
	cs_qr_opts defaults = {CS_QR_ECC_M, 4, 4};
	double geom[4] = {0, 0, 0, 0};
	const char *v;
	char *frag = NULL;
	size_t vn, i, e;
	int rc = 0;

	if (++c->n_slots > 1) {
		rc = cs_err_set(CS_EINVAL,
		    "face layout of %s: more than one qr-slot", c->code);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		if (!tag_attr(t, tn, names[i], &v, &vn))
			continue;
		if (!parse_length(v, vn, &geom[i])) {
			rc = cs_err_set(CS_EINVAL,
			    "face layout of %s: qr-slot %s is not a length",
			    c->code, names[i]);
			goto out;
		}
	}
	if (!(geom[2] > 0 && geom[3] > 0)) {
		rc = cs_err_set(CS_EINVAL, "face layout of %s: qr-slot needs a "
		    "positive width and height", c->code);
		goto out;
	}
	if (!self_closing) {
		e = find(c->s, c->len, *pi, "</rect");
		if (e == c->len || (e = find(c->s, c->len, e, ">")) == c->len) {
			rc = cs_err_set(CS_EINVAL,
			    "face layout of %s: qr-slot rect is not closed",
			    c->code);
			goto out;
		}
		*pi = e + 1;
	}
	rc = cs_qr_svg_fragment(c->qr_text, c->qr ? c->qr : &defaults,
	    geom[0], geom[1], fmin(geom[2], geom[3]), &frag, NULL);
	if (rc != 0) {
		rc = cs_err_wrap(rc, "face of %s: QR code: ", c->code);
		goto out;
	}
	cs_sb_puts(&c->out, frag);
out:
	free(frag);
	return rc;
}

static struct glyph *
glyph_add(struct glyphs *gs)
{
	struct glyph *g = NULL, *ng;
	size_t cap;

	if (gs->n == gs->cap) {
		cap = gs->cap ? gs->cap * 2 : 64;
		if ((ng = realloc(gs->g, cap * sizeof(*ng))) == NULL) {
			gs->oom = 1;
			goto out;
		}
		gs->g = ng;
		gs->cap = cap;
	}
	g = &gs->g[gs->n++];
	memset(g, 0, sizeof(*g));
	g->off = gs->bytes.len;
out:
	return g;
}

/*
 * The advance of the printable ASCII characters (0x20-0x7e), in hundredths
 * of an em: the wider of Noto Serif CJK SC's and Noto Sans CJK SC's
 * proportional Latin glyphs (the fonts the layouts name), rounded up, so
 * that a line estimated to fit does fit in either.
 */
static const unsigned char ascii_em100[95] = {
	 26,  33,  48,  58,  56,  93,  78,  28,  /*  !"#$%&' */
	 34,  34,  48,  58,  33,  35,  33,  40,  /* ()*+,-./ */
	 56,  56,  56,  56,  56,  56,  56,  56,  /* 01234567 */
	 56,  56,  33,  33,  58,  58,  58,  48,  /* 89:;<=>? */
	 95,  73,  66,  70,  75,  66,  62,  75,  /* @ABCDEFG */
	 86,  41,  50,  74,  61,  98,  80,  78,  /* HIJKLMNO */
	 64,  78,  72,  59,  67,  78,  72, 106,  /* PQRSTUVW */
	 70,  69,  61,  34,  40,  34,  58,  57,  /* XYZ[\]^_ */
	 61,  57,  64,  54,  63,  56,  37,  57,  /* `abcdefg */
	 67,  34,  32,  61,  34,  98,  67,  61,  /* hijklmno */
	 64,  62,  47,  48,  38,  66,  56,  85,  /* pqrstuvw */
	 57,  57,  50,  34,  32,  34,  58,  /* xyz{|}~ */
};

/* A code point's estimated advance in em: ASCII from the table, CJK and
 * fullwidth one em, anything else (Greek, Roman numerals, symbols) at most
 * one em in a CJK font. */
static double
cp_em(long cp)
{
	double em = OTHER_EM;

	if (cp == '\t')
		cp = ' ';
	if (cp >= 0x20 && cp < 0x7f)
		em = ascii_em100[cp - 0x20] / 100.0;
	else if (cp >= 0 && cp_wide(cp))
		em = WIDE_EM;
	return em;
}

/* Close the glyph just added: its bytes are what was appended since. */
static void
glyph_set(struct glyphs *gs, struct glyph *g, long cp)
{
	g->len = gs->bytes.len - g->off;
	g->wide = cp >= 0 && cp_wide(cp);
	g->em = cp_em(cp);
	g->space = cp == ' ' || cp == '\t';
	g->no_break_before = cp >= 0 && cp_no_break_before(cp);
	g->no_break_after = cp >= 0 && cp_no_break_after(cp);
}

/* The glyphs of a wrapped text's content s[from..to): literal layout text
 * as it stands (an entity is one glyph, a run of blanks one space), values
 * code point by code point, escaped. */
static int
text_glyphs(struct face_ctx *c, size_t from, size_t to, struct glyphs *gs)
{
	const unsigned char *u = (const unsigned char *)c->s;
	cs_sbuf val = {0};
	struct glyph *g;
	const char *name;
	size_t i = from, j, n, nlen, adv;
	long cp;
	int rc = 0;

	while (i < to && rc == 0) {
		if ((n = (c->s[i] == '{' ? ph_match(c->s, to, i, &name, &nlen) :
		    0)) > 0) {
			val.len = 0;
			if ((rc = ph_value(c, name, nlen, &val)) != 0)
				break;
			for (j = 0; j < val.len; j += adv) {
				cp = utf8_next((const unsigned char *)val.p + j,
				    val.len - j, &adv);
				if (cp < 0)
					cp = 0xfffd;
				if (!cp_shown(cp))
					continue;
				if ((g = glyph_add(gs)) == NULL)
					break;
				sb_put_escaped_cp(&gs->bytes, cp);
				glyph_set(gs, g, cp);
			}
			i += n;
			continue;
		}
		if ((g = glyph_add(gs)) == NULL)
			break;
		if (is_xml_space(c->s[i])) {
			for (j = i; j < to && is_xml_space(c->s[j]); j++)
				;
			cs_sb_add(&gs->bytes, c->s + i, j - i);
			glyph_set(gs, g, ' ');
			/* XML drops blanks before the first character. */
			if (gs->n == 1)
				g->em = 0;
		} else if (c->s[i] == '&') {
			for (j = i; j < to && j - i < 12 && c->s[j] != ';'; j++)
				;
			j = j < to && c->s[j] == ';' ? j + 1 : i + 1;
			cs_sb_add(&gs->bytes, c->s + i, j - i);
			glyph_set(gs, g, '&');
		} else {
			cp = utf8_next(u + i, to - i, &adv);
			j = i + adv;
			cs_sb_add(&gs->bytes, c->s + i, adv);
			glyph_set(gs, g, cp);
		}
		i = j;
	}
	if (rc == 0 && (val.failed || gs->oom || gs->bytes.failed))
		rc = cs_err_set(CS_ENOMEM, "face: out of memory");
	cs_sb_free(&val);
	return rc;
}

static int
can_break_before(const struct glyph *g, size_t i)
{
	return i > 0 && !g[i].space && !g[i].no_break_before &&
	    !g[i - 1].no_break_after &&
	    (g[i - 1].space || g[i - 1].wide || g[i].wide);
}

/*
 * Greedy line breaking at font size fs (and letter-spacing ls, in user
 * units after every glyph) into lines of at most w user units: starts[k]
 * is the first glyph of line k; returns the number of lines.
 * Blanks may hang past the edge (they draw nothing there).  A line breaks
 * at its last break opportunity; a word with none longer than a line is
 * cut, since text is never dropped.
 */
static size_t
break_lines(const struct glyph *g, size_t n, double fs, double ls,
    double w, size_t *starts)
{
	size_t lines = 0, i = 0, start, last;
	double width;

	while (i < n) {
		start = i;
		last = 0;
		width = 0;
		while (i < n) {
			if (i > start && !g[i].space &&
			    width + g[i].em * fs + ls > w + 1e-9)
				break;
			if (i > start && can_break_before(g, i))
				last = i;
			width += g[i].em * fs + ls;
			i++;
		}
		if (i < n && !can_break_before(g, i) && last > start)
			i = last;
		starts[lines++] = start;
	}
	return lines;
}

/* The line budget of a wrapped text: data-lines="N" (1-20), *boxed set;
 * else WRAP_MAX_LINES and *boxed clear. */
static int
max_lines(struct face_ctx *c, const char *t, size_t tn, size_t *budget,
    int *boxed)
{
	const char *v;
	size_t vn, i, n = 0;

	*budget = WRAP_MAX_LINES;
	*boxed = 0;
	if (!tag_attr(t, tn, "data-lines", &v, &vn))
		return 0;
	for (i = 0; i < vn && v[i] >= '0' && v[i] <= '9' && n <= 20; i++)
		n = n * 10 + (size_t)(v[i] - '0');
	if (vn == 0 || i != vn || n < 1 || n > 20)
		return cs_err_set(CS_EINVAL, "face layout of %s: data-lines=\"%.*s\" "
		    "is not 1 to 20", c->code, (int)(vn > 8 ? 8 : vn), v);
	*budget = n;
	*boxed = 1;
	return 0;
}

/*
 * The box of data-lines="N" is the height that N lines at the layout's
 * font size fs0 take: from the first line's ascent to the last line's
 * descent.  How many lines at font size fs fit in it: a smaller font
 * gets more, shorter lines rather than the same few.
 */
static size_t
box_lines(size_t budget, double fs0, double fs)
{
	double em = FONT_ASCENT + FONT_DESCENT;
	double h = em * fs0 + (double)(budget - 1) * LINE_PITCH * fs0;
	double n = floor((h - em * fs) / (LINE_PITCH * fs) + 1e-9) + 1;

	return n < 1 ? 1 : (size_t)n;
}

/*
 * The font size and lines of a boxed text (data-lines), in *fs and
 * *lines; the return is 1 when the text fits its box at a legible size.
 * Sizes are tried from fs0 down in steps of WRAP_SCALE_STEP, each with as
 * many lines as the box holds at that size, down to LEGIBLE_MIN.  What
 * does not fit even then (a value longer than the layout was drawn for:
 * templates size each box for its field's max_length, tests/test_face.c
 * proves it) goes on shrinking to WRAP_FLOOR_SCALE of fs0 and, at that
 * size, takes as many lines as it needs, running out of its box rather
 * than losing a character; the caller marks such a text data-overflow.
 */
static int
fit_box(const struct glyphs *gs, double fs0, double ls, double w,
    size_t budget, size_t *starts, double *fs, size_t *lines)
{
	double legible = fmin(fs0, fmax(LEGIBLE_MIN, fs0 * WRAP_FLOOR_SCALE));
	double floor_fs = fs0 * WRAP_FLOOR_SCALE, f;
	size_t step;
	int fits = 0, done = 0;

	for (step = 0; !done; step++) {
		f = fs0 * (1.0 - (double)step * WRAP_SCALE_STEP);
		if (f < legible && f + fs0 * WRAP_SCALE_STEP > legible + 1e-9)
			f = legible;  /* the legible size itself is tried */
		if (f < floor_fs - 1e-9) {
			f = floor_fs;
			done = 1;
		}
		*fs = f;
		*lines = break_lines(gs->g, gs->n, f, ls, w, starts);
		if (*lines <= box_lines(budget, fs0, f)) {
			fits = f >= legible - 1e-9;
			done = 1;
		}
	}
	return fits;
}

/*
 * A <text data-wrap="W"> start tag t[0..tn); *pi is after it.  When its
 * content is plain text holding a placeholder and is wider than W, write
 * the start tag and the content as <tspan> lines and move *pi to the end
 * tag, which the caller copies.  Otherwise write the start tag alone and
 * let the caller go on through the content as usual.
 *
 * With data-lines="N" the text has a box, W wide and N lines high at its
 * font size: it wraps, then shrinks with more lines as the box allows, so
 * that it stays in its box at a legible size (fit_box).  The first line
 * moves up only as far as the lines below need, so a value that fits on
 * one line keeps its label's baseline.  A text that could not fit
 * legibly says so in a data-overflow="true" attribute.
 *
 * Without data-lines, more than WRAP_MAX_LINES lines: the tspans get a
 * smaller font-size (down to WRAP_MIN_SCALE of the original) before the
 * text wraps further.  Text is never dropped.
 */
static int
wrap_text(struct face_ctx *c, const char *t, size_t tn, const char *wv,
    size_t wn, size_t *pi)
{
	struct glyphs gs = {0};
	size_t *starts = NULL, e, lines, k, i, xn = 1, nl, step, budget;
	const char *xv = "0", *name, *v;
	double w, fs0, fs, ls = 0, lift = 0, excess;
	int rc = 0, boxed, fits = 1;

	if (!parse_length(wv, wn, &w) || !(w > 0)) {
		rc = cs_err_set(CS_EINVAL, "face layout of %s: data-wrap=\"%.*s\" "
		    "is not a positive length", c->code,
		    (int)(wn > 32 ? 32 : wn), wv);
		goto out;
	}
	if ((rc = max_lines(c, t, tn, &budget, &boxed)) != 0)
		goto out;
	e = find(c->s, c->len, *pi, "</text");
	if (e == c->len || memchr(c->s + *pi, '<', e - *pi) != NULL ||
	    ph_find(c->s, e, *pi, &name, &nl) == e) {
		cs_sb_add(&c->out, t, tn);
		goto out;
	}
	if ((rc = text_glyphs(c, *pi, e, &gs)) != 0)
		goto out;
	if ((starts = malloc((gs.n + 1) * sizeof(*starts))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "face: out of memory");
		goto out;
	}
	fs = fs0 = text_font_size(t, tn);
	if (!text_length_prop(t, tn, "letter-spacing", &ls))
		ls = 0;
	if (boxed) {
		fits = fit_box(&gs, fs0, ls, w, budget, starts, &fs, &lines);
		/* Lines below the first that would run past the box's bottom
		 * lift the first, at most by what the smaller font freed above
		 * it. */
		excess = (double)(lines > 0 ? lines - 1 : 0) * LINE_PITCH * fs +
		    FONT_DESCENT * fs - ((double)(budget - 1) * LINE_PITCH * fs0 +
		    FONT_DESCENT * fs0);
		if (excess > 0)
			lift = fmin(excess, FONT_ASCENT * (fs0 - fs));
	} else {
		lines = break_lines(gs.g, gs.n, fs, ls, w, starts);
		for (step = 1; lines > budget &&
		    1.0 - step * WRAP_SCALE_STEP > WRAP_MIN_SCALE - 1e-9; step++) {
			fs = fs0 * (1.0 - step * WRAP_SCALE_STEP);
			lines = break_lines(gs.g, gs.n, fs, ls, w, starts);
		}
	}
	/* The start tag as drawn, but for the overflow mark before its '>'. */
	cs_sb_add(&c->out, t, tn - 1);
	if (!fits)
		cs_sb_puts(&c->out, " data-overflow=\"true\"");
	cs_sb_puts(&c->out, ">");
	if (lines <= 1 && fs == fs0) {
		/* It fits: the content exactly as a plain substitution. */
		cs_sb_add(&c->out, gs.bytes.p ? gs.bytes.p : "", gs.bytes.len);
		*pi = e;
		goto out;
	}
	if (tag_attr(t, tn, "x", &v, &nl) && nl > 0) {
		/* A list of x positions: the lines start at the first. */
		for (xn = 0; xn < nl && !is_xml_space(v[xn]) && v[xn] != ','; xn++)
			;
		xv = v;
	}
	starts[lines] = gs.n;
	for (k = 0; k < lines; k++) {
		cs_sb_puts(&c->out, "<tspan x=\"");
		cs_sb_add(&c->out, xv, xn);
		cs_sb_puts(&c->out, "\"");
		if (k > 0) {
			cs_sb_puts(&c->out, " dy=\"1.3em\"");
		} else if (lift > 0.005) {
			cs_sb_puts(&c->out, " dy=\"-");
			sb_put_num(&c->out, lift);
			cs_sb_puts(&c->out, "\"");
		}
		if (fs < fs0) {
			cs_sb_puts(&c->out, " font-size=\"");
			sb_put_num(&c->out, fs);
			cs_sb_puts(&c->out, "\"");
		}
		cs_sb_puts(&c->out, ">");
		for (i = starts[k]; i < starts[k + 1]; i++)
			cs_sb_add(&c->out, gs.bytes.p + gs.g[i].off, gs.g[i].len);
		cs_sb_puts(&c->out, "</tspan>");
	}
	*pi = e;
out:
	free(starts);
	free(gs.g);
	cs_sb_free(&gs.bytes);
	return rc;
}

/* The end of markup starting at s[i] == '<': one past its closing '>'
 * (quotes and a DOCTYPE's internal subset respected), or 0 if none. */
static size_t
markup_end(const char *s, size_t len, size_t i)
{
	size_t j, e = 0;
	char quote = 0;
	int depth = 0;

	if (starts(s, len, i, "<!--")) {
		j = find(s, len, i + 4, "-->");
		e = j < len ? j + 3 : 0;
	} else if (starts(s, len, i, "<![CDATA[")) {
		j = find(s, len, i + 9, "]]>");
		e = j < len ? j + 3 : 0;
	} else if (starts(s, len, i, "<?")) {
		j = find(s, len, i + 2, "?>");
		e = j < len ? j + 2 : 0;
	} else {
		for (j = i + 1; j < len && e == 0; j++) {
			if (quote) {
				if (s[j] == quote)
					quote = 0;
			} else if (s[j] == '"' || s[j] == '\'') {
				quote = s[j];
			} else if (s[j] == '[') {
				depth++;
			} else if (s[j] == ']') {
				depth--;
			} else if (s[j] == '>' && depth <= 0) {
				e = j + 1;
			}
		}
	}
	return e;
}

/* The markup at s[*pi] == '<': written out (or replaced) and *pi moved
 * past it. */
static int
markup(struct face_ctx *c, size_t *pi)
{
	const char *t = c->s + *pi, *name, *v;
	size_t e, tn, nn, vn, close;
	int rc = 0, self_closing;

	if ((e = markup_end(c->s, c->len, *pi)) == 0) {
		rc = cs_err_set(CS_EINVAL, "face layout of %s: unterminated "
		    "markup at byte %zu", c->code, *pi);
		goto out;
	}
	tn = e - *pi;
	if (t[1] == '!' || t[1] == '?' || t[1] == '/') {
		if (starts(c->s, c->len, *pi, "<![CDATA["))
			rc = ph_misplaced(c, c->s, e, *pi, "in CDATA");
		if (rc == 0)
			cs_sb_add(&c->out, t, tn);
		*pi = e;
		goto out;
	}
	if ((rc = ph_misplaced(c, c->s, e, *pi, "in a tag")) != 0)
		goto out;
	*pi = e;
	self_closing = tn >= 2 && t[tn - 2] == '/';
	name = tag_name(t, tn, &nn);
	if (!c->seen_root) {
		c->seen_root = 1;
		if (!name_is(name, nn, "svg") &&
		    !(nn > 4 && memcmp(name + nn - 4, ":svg", 4) == 0)) {
			rc = cs_err_set(CS_EINVAL, "face layout of %s: the root "
			    "element is not <svg>", c->code);
			goto out;
		}
	}
	if (name_is(name, nn, "rect") && tag_attr(t, tn, "id", &v, &vn) &&
	    name_is(v, vn, "qr-slot")) {
		rc = qr_slot(c, t, tn, self_closing, pi);
	} else if (name_is(name, nn, "text") && !self_closing &&
	    tag_attr(t, tn, "data-wrap", &v, &vn)) {
		rc = wrap_text(c, t, tn, v, vn, pi);
	} else if ((name_is(name, nn, "script") || name_is(name, nn, "style")) &&
	    !self_closing) {
		/* Raw code: copied as is, and no values in it. */
		close = find(c->s, c->len, e,
		    name_is(name, nn, "script") ? "</script" : "</style");
		rc = ph_misplaced(c, c->s, close, e, name_is(name, nn, "script") ?
		    "in <script>" : "in <style>");
		if (rc == 0) {
			cs_sb_add(&c->out, t, close - (e - tn));
			*pi = close;
		}
	} else {
		cs_sb_add(&c->out, t, tn);
	}
out:
	return rc;
}

int
cs_face_svg(const cs_type *type, const json_t *licence, const char *qr_text,
    const cs_qr_opts *qr, char **out)
{
	struct face_ctx c;
	const char *name;
	size_t i = 0, run = 0, n, nlen;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	if (out != NULL)
		*out = NULL;
	if (type == NULL || type->face_svg == NULL || !json_is_object(licence) ||
	    qr_text == NULL || out == NULL) {
		rc = cs_err_set(CS_EINVAL, "face: type with a layout, licence "
		    "object, QR text and output required");
		goto out;
	}
	c.type = type;
	c.code = type->code ? type->code : "?";
	c.lic = licence;
	c.qr_text = qr_text;
	c.qr = qr;
	c.s = type->face_svg;
	c.len = strlen(type->face_svg);
	while (i < c.len && rc == 0) {
		if (c.s[i] == '<') {
			cs_sb_add(&c.out, c.s + run, i - run);
			rc = markup(&c, &i);
			run = i;
		} else if (c.s[i] == '{' &&
		    (n = ph_match(c.s, c.len, i, &name, &nlen)) > 0) {
			cs_sb_add(&c.out, c.s + run, i - run);
			rc = put_placeholder(&c, name, nlen);
			i += n;
			run = i;
		} else {
			i++;
		}
	}
	if (rc != 0)
		goto out;
	cs_sb_add(&c.out, c.s + run, i - run);
	if (!c.seen_root) {
		rc = cs_err_set(CS_EINVAL, "face layout of %s: no <svg> element",
		    c.code);
	} else if (c.n_slots != 1) {
		rc = cs_err_set(CS_EINVAL, "face layout of %s: no <rect "
		    "id=\"qr-slot\"> for the QR code", c.code);
	} else if (c.out.failed) {
		rc = cs_err_set(CS_ENOMEM, "face: out of memory");
	} else {
		*out = c.out.p;
		c.out.p = NULL;
	}
out:
	cs_sb_free(&c.out);
	return rc;
}
