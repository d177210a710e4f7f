/*
 * cbor_walk: the bounded CBOR walker and CBOR diagnostic notation
 * (RFC 8949 §8), for untrusted bytes.
 *
 * One allocation-free pass (cbor_walk) proves the input is one complete,
 * well-formed CBOR item, nested no deeper than the limit, whose declared
 * lengths all fit in the input; cose.c and the token decoder run it before
 * anything builds a tree.  Given an output buffer the same pass renders
 * diagnostic notation (for `certsvc decode`), so the text shown is exactly
 * what was checked.
 *
 * libcbor 0.8 refuses the one-byte tag heads 0xc6-0xd4 ("unassigned" in its
 * tables), and 0xd2 is tag 18, COSE_Sign1 itself.  The walker therefore
 * decodes those heads by hand.
 */
#include "cbor_walk.h"

#include <cbor.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "encode.h"
#include "sbuf.h"

/* No caller needs more; it sizes the walker's fixed stack. */
#define CBOR_DEPTH_LIMIT 64

/*
 * The walker: one pass over the input with cbor_stream_decode, keeping a
 * small stack of open containers (how many items each still expects) in
 * place of recursion.  It proves well-formedness and the depth bound, and,
 * given an output buffer, renders diagnostic notation on the way.
 */
enum frame_kind { FR_ARRAY, FR_MAP, FR_TAG, FR_BSTR, FR_TSTR };

struct frame {
	enum frame_kind kind;
	int indef;
	uint64_t left;		/* items still expected, definite only */
	uint64_t seen;		/* items (map: keys and values) so far */
};

struct walker {
	const uint8_t *buf;
	size_t n, pos;		/* pos: the head being decoded */
	int max_depth, depth;	/* depth: open arrays, maps and tags */
	int top, done, rc;
	/* The extra frame is an indefinite string, which is not nesting. */
	struct frame st[CBOR_DEPTH_LIMIT + 1];
	cs_sbuf *out;	/* diagnostic text; NULL when only checking */
};

static void w_fail(struct walker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
w_fail(struct walker *w, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (w->rc == 0) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		w->rc = cs_err_set(CS_EINVAL, "CBOR: %s at offset %zu", why,
		    w->pos);
	}
}

static void
w_text(struct walker *w, const char *s)
{
	if (w->out != NULL)
		cs_sb_puts(w->out, s);
}

/*
 * Called as each item starts: refuses anything but a same-type chunk inside
 * an indefinite string, and writes the separator the parent calls for.
 * chunk is FR_BSTR or FR_TSTR for a definite string, -1 for anything else.
 */
static int
w_begin(struct walker *w, int chunk)
{
	struct frame *f;
	int rc = 0;

	if (w->rc != 0 || w->done) {
		rc = -1;
		goto out;
	}
	if (w->top == 0)
		goto out;
	f = &w->st[w->top - 1];
	if ((f->kind == FR_BSTR || f->kind == FR_TSTR) &&
	    (int)f->kind != chunk) {
		w_fail(w, "indefinite-length string holds a chunk that is not "
		    "a definite string of its type");
		rc = -1;
		goto out;
	}
	if (f->kind == FR_MAP && f->seen % 2 == 1)
		w_text(w, ": ");
	else if ((f->kind == FR_BSTR || f->kind == FR_TSTR) && f->seen == 0)
		w_text(w, "(_ ");
	else if (f->kind != FR_TAG && f->seen > 0)
		w_text(w, ", ");
out:
	return rc;
}

static void
w_close(struct walker *w)
{
	struct frame *f = &w->st[--w->top];

	if (f->kind == FR_ARRAY || f->kind == FR_MAP || f->kind == FR_TAG)
		w->depth--;
	if (f->kind == FR_ARRAY)
		w_text(w, "]");
	else if (f->kind == FR_MAP)
		w_text(w, "}");
	else if (f->kind == FR_TAG || f->seen > 0)
		w_text(w, ")");
	else if (f->kind == FR_BSTR)
		w_text(w, "''_");
	else if (f->kind == FR_TSTR)
		w_text(w, "\"\"_");
}

/* An item is complete: count it in its parent, closing every container
 * that this completes in turn. */
static void
w_end(struct walker *w)
{
	struct frame *f;

	while (w->top > 0) {
		f = &w->st[w->top - 1];
		if (f->kind != FR_TAG) {
			f->seen++;
			if (f->indef || --f->left > 0)
				break;
		}
		w_close(w);
	}
	if (w->top == 0)
		w->done = 1;
}

static void
w_push(struct walker *w, enum frame_kind kind, int indef, uint64_t left)
{
	struct frame *f;

	if (kind == FR_ARRAY || kind == FR_MAP || kind == FR_TAG) {
		if (w->depth >= w->max_depth) {
			w_fail(w, "nested deeper than %d levels", w->max_depth);
			goto out;
		}
		w->depth++;
	}
	f = &w->st[w->top++];
	f->kind = kind;
	f->indef = indef;
	f->left = left;
	f->seen = 0;
	if (!indef && left == 0 && kind != FR_TAG) {
		w_close(w);
		w_end(w);
	}
out:
	return;
}

static void
w_uint(struct walker *w, uint64_t v)
{
	if (w_begin(w, -1) == 0) {
		if (w->out != NULL)
			cs_sb_printf(w->out, "%llu", (unsigned long long)v);
		w_end(w);
	}
}

static void
w_negint(struct walker *w, uint64_t v)
{
	if (w_begin(w, -1) == 0) {
		if (w->out != NULL && v == UINT64_MAX)
			cs_sb_puts(w->out, "-18446744073709551616");
		else if (w->out != NULL)
			cs_sb_printf(w->out, "-%llu", (unsigned long long)v + 1);
		w_end(w);
	}
}

static void
w_hex(struct walker *w, const uint8_t *d, size_t n)
{
	char pair[3];
	size_t i;

	for (i = 0; i < n; i++) {
		cs_hex_encode_into(d + i, 1, pair);
		cs_sb_add(w->out, pair, 2);
	}
}

/* Text in double quotes with the escapes of RFC 8949 §8 (those of JSON):
 * a control character never reaches a terminal or a log raw. */
static void
w_quote(struct walker *w, const uint8_t *d, size_t n)
{
	char esc[8];
	size_t i;

	cs_sb_puts(w->out, "\"");
	for (i = 0; i < n; i++) {
		if (d[i] == '"' || d[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)d[i];
			cs_sb_add(w->out, esc, 2);
		} else if (d[i] == '\n') {
			cs_sb_puts(w->out, "\\n");
		} else if (d[i] == '\r') {
			cs_sb_puts(w->out, "\\r");
		} else if (d[i] == '\t') {
			cs_sb_puts(w->out, "\\t");
		} else if (d[i] < 0x20 || d[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", d[i]);
			cs_sb_puts(w->out, esc);
		} else {
			cs_sb_add(w->out, &d[i], 1);
		}
	}
	cs_sb_puts(w->out, "\"");
}

static void
w_float(struct walker *w, double v, int single)
{
	char s[40];
	int p;

	if (w_begin(w, -1) != 0)
		goto out;
	if (w->out == NULL)
		goto done;
	if (isnan(v)) {
		cs_sb_puts(w->out, "NaN");
	} else if (isinf(v)) {
		cs_sb_puts(w->out, v < 0 ? "-Infinity" : "Infinity");
	} else {
		/* The shortest text that reads back to the same value. */
		for (p = 1; p <= 17; p++) {
			snprintf(s, sizeof(s), "%.*g", p, v);
			if (single ? (float)strtod(s, NULL) == (float)v :
			    strtod(s, NULL) == v)
				break;
		}
		cs_sb_puts(w->out, s);
		if (strpbrk(s, ".e") == NULL)
			cs_sb_puts(w->out, ".0");
	}
done:
	w_end(w);
out:
	return;
}

static void
cb_uint8(void *ctx, uint8_t v)
{
	w_uint(ctx, v);
}

static void
cb_uint16(void *ctx, uint16_t v)
{
	w_uint(ctx, v);
}

static void
cb_uint32(void *ctx, uint32_t v)
{
	w_uint(ctx, v);
}

static void
cb_uint64(void *ctx, uint64_t v)
{
	w_uint(ctx, v);
}

static void
cb_negint8(void *ctx, uint8_t v)
{
	w_negint(ctx, v);
}

static void
cb_negint16(void *ctx, uint16_t v)
{
	w_negint(ctx, v);
}

static void
cb_negint32(void *ctx, uint32_t v)
{
	w_negint(ctx, v);
}

static void
cb_negint64(void *ctx, uint64_t v)
{
	w_negint(ctx, v);
}

static void
cb_bstr(void *ctx, cbor_data d, size_t n)
{
	struct walker *w = ctx;

	if (w_begin(w, FR_BSTR) == 0) {
		if (w->out != NULL) {
			cs_sb_puts(w->out, "h'");
			w_hex(w, d, n);
			cs_sb_puts(w->out, "'");
		}
		w_end(w);
	}
}

static void
cb_bstr_start(void *ctx)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) == 0)
		w_push(w, FR_BSTR, 1, 0);
}

static void
cb_tstr(void *ctx, cbor_data d, size_t n)
{
	struct walker *w = ctx;

	if (w_begin(w, FR_TSTR) == 0) {
		if (w->out != NULL)
			w_quote(w, d, n);
		w_end(w);
	}
}

static void
cb_tstr_start(void *ctx)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) == 0)
		w_push(w, FR_TSTR, 1, 0);
}

/* Every item takes at least one byte, so a count beyond the remaining
 * input is a lie: refuse it before anything could be sized by it. */
static void
cb_array(void *ctx, size_t n)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) != 0)
		goto out;
	if (n > w->n - w->pos) {
		w_fail(w, "array of %zu items is longer than the input", n);
		goto out;
	}
	w_text(w, "[");
	w_push(w, FR_ARRAY, 0, n);
out:
	return;
}

static void
cb_array_indef(void *ctx)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) == 0) {
		w_text(w, "[_ ");
		w_push(w, FR_ARRAY, 1, 0);
	}
}

static void
cb_map(void *ctx, size_t n)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) != 0)
		goto out;
	if (n > (w->n - w->pos) / 2) {
		w_fail(w, "map of %zu pairs is longer than the input", n);
		goto out;
	}
	w_text(w, "{");
	w_push(w, FR_MAP, 0, (uint64_t)n * 2);
out:
	return;
}

static void
cb_map_indef(void *ctx)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) == 0) {
		w_text(w, "{_ ");
		w_push(w, FR_MAP, 1, 0);
	}
}

static void
cb_tag(void *ctx, uint64_t v)
{
	struct walker *w = ctx;

	if (w_begin(w, -1) == 0) {
		if (w->out != NULL)
			cs_sb_printf(w->out, "%llu(", (unsigned long long)v);
		w_push(w, FR_TAG, 0, 1);
	}
}

static void
cb_float2(void *ctx, float v)
{
	w_float(ctx, v, 1);
}

static void
cb_float4(void *ctx, float v)
{
	w_float(ctx, v, 1);
}

static void
cb_float8(void *ctx, double v)
{
	w_float(ctx, v, 0);
}

static void
w_simple(struct walker *w, const char *name)
{
	if (w_begin(w, -1) == 0) {
		w_text(w, name);
		w_end(w);
	}
}

static void
cb_undefined(void *ctx)
{
	w_simple(ctx, "undefined");
}

static void
cb_null(void *ctx)
{
	w_simple(ctx, "null");
}

static void
cb_bool(void *ctx, bool v)
{
	w_simple(ctx, v ? "true" : "false");
}

static void
cb_break(void *ctx)
{
	struct walker *w = ctx;
	struct frame *f;

	if (w->rc != 0)
		goto out;
	if (w->top == 0 || !w->st[w->top - 1].indef) {
		w_fail(w, "break outside an indefinite-length item");
		goto out;
	}
	f = &w->st[w->top - 1];
	if (f->kind == FR_MAP && f->seen % 2 == 1) {
		w_fail(w, "indefinite-length map ends after a key");
		goto out;
	}
	w_close(w);
	w_end(w);
out:
	return;
}

static const struct cbor_callbacks walk_callbacks = {
	.uint8 = cb_uint8,
	.uint16 = cb_uint16,
	.uint32 = cb_uint32,
	.uint64 = cb_uint64,
	.negint8 = cb_negint8,
	.negint16 = cb_negint16,
	.negint32 = cb_negint32,
	.negint64 = cb_negint64,
	.byte_string = cb_bstr,
	.byte_string_start = cb_bstr_start,
	.string = cb_tstr,
	.string_start = cb_tstr_start,
	.array_start = cb_array,
	.indef_array_start = cb_array_indef,
	.map_start = cb_map,
	.indef_map_start = cb_map_indef,
	.tag = cb_tag,
	.float2 = cb_float2,
	.float4 = cb_float4,
	.float8 = cb_float8,
	.undefined = cb_undefined,
	.null = cb_null,
	.boolean = cb_bool,
	.indef_break = cb_break,
};

/*
 * Walk exactly one item over all of buf.  Simple values other than
 * false/true/null/undefined are refused (libcbor has no callback for them,
 * and no COSE or CWT structure uses them).
 */
static int
cbor_walk(const uint8_t *buf, size_t n, int max_depth, cs_sbuf *out)
{
	struct walker w;
	struct cbor_decoder_result r;

	memset(&w, 0, sizeof(w));
	w.buf = buf;
	w.n = n;
	w.max_depth = max_depth;
	w.out = out;
	if (buf == NULL || n == 0)
		w_fail(&w, "empty input");
	while (w.rc == 0 && !w.done && w.pos < n) {
		r = cbor_stream_decode(buf + w.pos, n - w.pos, &walk_callbacks,
		    &w);
		if (r.status == CBOR_DECODER_FINISHED) {
			w.pos += r.read;
		} else if (r.status == CBOR_DECODER_NEDATA) {
			w_fail(&w, "truncated item (0x%02x head)", buf[w.pos]);
		} else if (buf[w.pos] >= 0xc6 && buf[w.pos] <= 0xd4) {
			cb_tag(&w, (uint64_t)(buf[w.pos] - 0xc0));
			w.pos++;
		} else {
			w_fail(&w, "malformed or unsupported initial byte 0x%02x",
			    buf[w.pos]);
		}
	}
	if (w.rc == 0 && !w.done)
		w_fail(&w, "truncated: the input ends inside an item");
	if (w.rc == 0 && w.pos < n)
		w_fail(&w, "%zu trailing bytes after the item", n - w.pos);
	if (w.rc == 0 && out != NULL && out->failed)
		w.rc = cs_err_set(CS_ENOMEM, "CBOR: out of memory");
	return w.rc;
}

int
cs_cbor_check(const uint8_t *buf, size_t n, int max_depth)
{
	int rc;

	if (max_depth < 0 || max_depth > CBOR_DEPTH_LIMIT)
		rc = cs_err_set(CS_EINVAL, "CBOR: depth limit %d outside "
		    "0-%d", max_depth, CBOR_DEPTH_LIMIT);
	else
		rc = cbor_walk(buf, n, max_depth, NULL);
	return rc;
}

int
cs_cbor_diag(const uint8_t *buf, size_t n, char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	int rc;

	if (out == NULL) {
		rc = cs_err_set(CS_EINVAL, "CBOR: no output");
		goto out;
	}
	*out = NULL;
	if ((rc = cbor_walk(buf, n, CS_COSE_MAX_DEPTH, &b)) != 0)
		goto out;
	*out = b.p;
	b.p = NULL;
out:
	free(b.p);
	return rc;
}

/* --- writing ----------------------------------------------------------- */

void
cs_cbor_head(cs_sbuf *b, int major, uint64_t v)
{
	uint8_t h[9];
	size_t n, i;

	if (v < 24) {
		h[0] = (uint8_t)(major << 5 | (int)v);
		n = 1;
	} else {
		if (v <= 0xff)
			n = 2;
		else if (v <= 0xffff)
			n = 3;
		else if (v <= 0xffffffffu)
			n = 5;
		else
			n = 9;
		h[0] = (uint8_t)(major << 5 | (n == 2 ? 24 : n == 3 ? 25 :
		    n == 5 ? 26 : 27));
		for (i = n - 1; i >= 1; i--) {
			h[i] = (uint8_t)(v & 0xff);
			v >>= 8;
		}
	}
	cs_sb_add(b, h, n);
}

void
cs_cbor_int(cs_sbuf *b, int64_t v)
{
	if (v >= 0)
		cs_cbor_head(b, CBOR_MAJOR_UINT, (uint64_t)v);
	else
		cs_cbor_head(b, CBOR_MAJOR_NEGINT, (uint64_t)(-1 - v));
}

void
cs_cbor_bstr(cs_sbuf *b, const uint8_t *d, size_t n)
{
	cs_cbor_head(b, CBOR_MAJOR_BSTR, n);
	cs_sb_add(b, d, n);
}

void
cs_cbor_text(cs_sbuf *b, const char *s)
{
	size_t n = strlen(s);

	cs_cbor_head(b, CBOR_MAJOR_TSTR, n);
	cs_sb_add(b, s, n);
}
