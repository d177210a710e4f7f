/*
 * json_text: json_dumps(v, JSON_COMPACT), written straight into a buffer
 * (json_text.h).  What jansson 2.14 writes, and so what this writes:
 * members in insertion order, "," and ":" without spaces, integers in
 * decimal, and strings with only '"', '\' and the control characters
 * escaped (\b \f \n \r \t, else \u00XX in capitals), any other UTF-8
 * copied as it is.  A string that is not UTF-8 fails, as json_dumps does.
 * A real is left to jansson (its digits are jansson's business): the
 * caller falls back to json_dumps for the whole value.
 */
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

/* How deep a value may nest before it is left to jansson, which has its
 * own limit and a check for cycles. */
#define MAX_DEPTH 64

/* s[0..n) as a JSON string. */
static int
text_string(cs_sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run, k;
	char esc[6];

	cs_sb_add(b, "\"", 1);
	while (i < n) {
		/* The plain ASCII run from i, copied at once. */
		for (run = i; run < n && u[run] >= 0x20 && u[run] < 0x80 &&
		    u[run] != '"' && u[run] != '\\'; run++)
			;
		if (run > i)
			cs_sb_add(b, s + i, run - i);
		if ((i = run) >= n)
			break;
		if (u[i] >= 0x80) {
			if ((k = cs_utf8_decode(s + i, n - i, NULL)) == 0)
				return -1;
			cs_sb_add(b, s + i, k);
			i += k;
			continue;
		}
		esc[0] = '\\';
		switch (u[i]) {
		case '"': case '\\': esc[1] = (char)u[i]; k = 2; break;
		case '\b': esc[1] = 'b'; k = 2; break;
		case '\f': esc[1] = 'f'; k = 2; break;
		case '\n': esc[1] = 'n'; k = 2; break;
		case '\r': esc[1] = 'r'; k = 2; break;
		case '\t': esc[1] = 't'; k = 2; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			k = 6;
		}
		cs_sb_add(b, esc, k);
		i++;
	}
	cs_sb_add(b, "\"", 1);
	return 0;
}

static void
text_integer(cs_sbuf *b, json_int_t v)
{
	char d[24];
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;
	size_t k = sizeof(d);

	do
		d[--k] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--k] = '-';
	cs_sb_add(b, d + k, sizeof(d) - k);
}

static int
text_value(cs_sbuf *b, const json_t *v, int depth)
{
	const char *key;
	void *it;
	size_t i;

	if (depth > MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		cs_sb_add(b, "{", 1);
		for (it = json_object_iter((json_t *)v), i = 0; it != NULL;
		    it = json_object_iter_next((json_t *)v, it), i++) {
			key = json_object_iter_key(it);
			if (i > 0)
				cs_sb_add(b, ",", 1);
			if (text_string(b, key, json_object_iter_key_len(it)) != 0)
				return -1;
			cs_sb_add(b, ":", 1);
			if (text_value(b, json_object_iter_value(it), depth + 1) != 0)
				return -1;
		}
		cs_sb_add(b, "}", 1);
		return 0;
	case JSON_ARRAY:
		cs_sb_add(b, "[", 1);
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				cs_sb_add(b, ",", 1);
			if (text_value(b, json_array_get(v, i), depth + 1) != 0)
				return -1;
		}
		cs_sb_add(b, "]", 1);
		return 0;
	case JSON_STRING:
		return text_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		text_integer(b, json_integer_value(v));
		return 0;
	case JSON_TRUE:
		cs_sb_add(b, "true", 4);
		return 0;
	case JSON_FALSE:
		cs_sb_add(b, "false", 5);
		return 0;
	case JSON_NULL:
		cs_sb_add(b, "null", 4);
		return 0;
	default:
		return -1;  /* a real */
	}
}

int
cs_json_text(cs_sbuf *b, const json_t *v)
{
	size_t len = b->len;

	if (v == NULL || text_value(b, v, 0) != 0) {
		/* Back to where it was: what was written of v is no answer. */
		if (b->p != NULL && !b->failed) {
			b->len = len;
			b->p[len] = '\0';
		}
		return -1;
	}
	return 0;
}

char *
cs_json_dumps(const json_t *v)
{
	cs_sbuf b = CS_SBUF_INIT;

	if (!json_is_object(v) && !json_is_array(v))
		return json_dumps(v, JSON_COMPACT);  /* NULL, as jansson says */
	if (cs_json_text(&b, v) != 0 || b.failed) {
		cs_sb_free(&b);
		return json_dumps(v, JSON_COMPACT);
	}
	return b.p;
}
