/*
 * catalog_fields.c: an issuance request's "fields" validated against its
 * licence type (cs_catalog_validate_fields, catalog.h), and the one rule
 * for text a face may print as it is (cs_face_text_check).
 */
#include "catalog.h"
#include "catalog_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "text.h"

#define INT_DIGITS_MAX 18
#define PATH_NAME_MAX 64         /* bytes of a request's field name in a path */

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* 1 when s is "YYYY-MM-DD"; *real is then whether the date exists. */
static int
date_shape(const char *s, int *real)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int i, y, m, d, ok;

	ok = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
	for (i = 0; ok && i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			ok = 0;
	if (ok) {
		y = atoi(s);
		m = (s[5] - '0') * 10 + (s[6] - '0');
		d = (s[8] - '0') * 10 + (s[9] - '0');
		*real = y >= 1 && m >= 1 && m <= 12 && d >= 1 &&
		    d <= mdays[m - 1] + (m == 2 && is_leap(y));
	}
	return ok;
}

/* "prefix.name", with a request's field name cut to PATH_NAME_MAX bytes at
 * a character boundary: paths go back to the client in JSON. */
static const char *
field_path(char *buf, size_t n, const char *prefix, const char *name)
{
	size_t take = cs_utf8_cut(name, strlen(name), PATH_NAME_MAX);

	if (prefix != NULL && prefix[0] != '\0')
		snprintf(buf, n, "%s.%.*s", prefix, (int)take, name);
	else
		snprintf(buf, n, "%.*s", (int)take, name);
	return buf;
}

static const char *
plural(long n)
{
	return n == 1 ? "" : "s";
}

/* C0, DEL and C1 (U+0085, the next line, among them). */
static int
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* Characters that show nothing or move the text around it: zero-width
 * spaces and joiners, LRM/RLM, line and paragraph separators, bidi
 * embeddings, overrides and isolates, the word joiner and invisible
 * operators, the BOM.  On a face they would make the printed text differ
 * from what it says (U+202E turns "txt.exe" round). */
static int
is_invisible(uint32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xFEFF;
}

/* Spaces (Unicode Zs), the ideographic space U+3000 among them. */
static int
is_space(uint32_t cp)
{
	return cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F ||
	    cp == 0x3000;
}

/* rc, the error just set, with its field error code. */
static int
refused_as(int rc, const char *reason)
{
	cs_err_set_reason(reason);
	return rc;
}

int
cs_face_text_check(const char *s, size_t n, size_t *chars)
{
	size_t i = 0, len, c = 0, spaces = 0;
	uint32_t cp = 0, first = 0;

	for (; i < n; i += len) {
		c++;
		if ((len = cs_utf8_decode(s + i, n - i, &cp)) == 0)
			return refused_as(cs_err_set(CS_EVALIDATION, "is not "
			    "valid UTF-8 (at character %zu)", c), CS_FC_CHARSET);
		if (is_control(cp) || is_invisible(cp))
			return refused_as(cs_err_set(CS_EVALIDATION, "contains "
			    "the %s character U+%04X at character %zu; face "
			    "text is one line of printable characters",
			    is_control(cp) ? "control" : "invisible",
			    (unsigned)cp, c), CS_FC_CHARSET);
		spaces += is_space(cp);
		if (c == 1)
			first = cp;
	}
	if (c > 0 && spaces == c)
		return refused_as(cs_err_set(CS_EVALIDATION, "is blank"),
		    CS_FC_EMPTY);
	if (c > 0 && (is_space(first) || is_space(cp)))
		return refused_as(cs_err_set(CS_EVALIDATION, "%s with the "
		    "space U+%04X; spaces at the ends are refused, never "
		    "trimmed", is_space(first) ? "begins" : "ends",
		    (unsigned)(is_space(first) ? first : cp)), CS_FC_CHARSET);
	if (chars != NULL)
		*chars = c;
	return 0;
}

static int
check_text(const char *s, size_t n, const char *path, cs_problems *p,
    size_t *chars)
{
	int rc = cs_face_text_check(s, n, chars);

	if (rc != 0)
		cs_problems_adderr(p, path);
	return rc;
}

static void
check_value(const cs_field *f, const json_t *v, const char *path, cs_problems *p)
{
	char num[32], opts[400];
	const char *s = NULL, *unit, *verb;
	size_t i, chars = 0;
	int real;

	/* C string functions below would stop at an embedded U+0000 and judge
	 * only the part before it. */
	if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v)) {
		cs_problems_addc(p, path, CS_FC_CHARSET, "contains the control character U+0000");
		goto out;
	}
	switch (f->kind) {
	case CS_FIELD_TEXT:
		if (!json_is_string(v)) {
			cs_problems_addc(p, path, CS_FC_TYPE, "must be text");
			goto out;
		}
		s = json_string_value(v);
		if (check_text(s, json_string_length(v), path, p, &chars) != 0)
			goto out;
		break;
	case CS_FIELD_INTEGER:
		if (json_is_integer(v) && json_integer_value(v) < 0) {
			cs_problems_addc(p, path, CS_FC_RANGE, "must not be negative");
			goto out;
		}
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			s = num;
		} else if ((s = json_string_value(v)) != NULL) {
			for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
				;
			if (i == 0 || s[i] != '\0')
				s = NULL;
		}
		if (s == NULL) {
			cs_problems_addc(p, path, CS_FC_TYPE, "must be an integer (a JSON number or a "
			    "string of digits)");
			goto out;
		}
		if ((chars = strlen(s)) > INT_DIGITS_MAX) {
			cs_problems_addc(p, path, CS_FC_MAX_LENGTH, "has %zu digits, at most %d", chars,
			    INT_DIGITS_MAX);
			goto out;
		}
		break;
	case CS_FIELD_DATE:
		s = json_string_value(v);
		if (s == NULL || !date_shape(s, &real))
			cs_problems_addc(p, path, CS_FC_DATE, "must be a date YYYY-MM-DD");
		else if (!real)
			cs_problems_addc(p, path, CS_FC_DATE, "%s is not a real date", s);
		goto out;
	case CS_FIELD_ENUM:
		s = json_string_value(v);
		for (i = 0; s != NULL && i < f->n_options; i++)
			if (strcmp(f->options[i], s) == 0)
				goto out;
		opts[0] = '\0';
		for (i = 0; i < f->n_options; i++) {
			if (i > 0)
				cs_catalog_append(opts, sizeof(opts), ", ");
			cs_catalog_append(opts, sizeof(opts), f->options[i]);
		}
		cs_problems_addc(p, path, CS_FC_ENUM, "must be one of: %s", opts);
		goto out;
	}
	unit = f->kind == CS_FIELD_INTEGER ? "digit" : "character";
	verb = f->kind == CS_FIELD_INTEGER ? "has" : "is";
	if (f->max_length > 0 && chars > (size_t)f->max_length)
		cs_problems_addc(p, path, CS_FC_MAX_LENGTH, "%s %zu %s%s, at most %ld", verb, chars, unit,
		    plural((long)chars), f->max_length);
	else if (chars < (size_t)f->min_length)
		cs_problems_addc(p, path, CS_FC_MIN_LENGTH, "%s %zu %s%s, at least %ld", verb, chars, unit,
		    plural((long)chars), f->min_length);
	/* POSIX regex matches bytes in the C locale the service runs in:
	 * catalog patterns keep non-ASCII out of bracket expressions. */
	else if (f->pattern != NULL && regexec(&f->re, s, 0, NULL, 0) != 0)
		cs_problems_addc(p, path, CS_FC_PATTERN, "does not match the pattern %s", f->pattern);
out:
	return;
}

/* A form's empty input is no value: null and "" count as absent. */
static int
absent(const json_t *v)
{
	return v == NULL || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0);
}

size_t
cs_catalog_validate_fields(const cs_type *t, const json_t *fields,
    const char *prefix, cs_problems *p)
{
	const json_t *v;
	const char *key;
	char path[256], known[400];
	size_t before = p->n, i;
	void *it;

	if (fields != NULL && !json_is_null(fields) && !json_is_object(fields)) {
		cs_problems_addc(p, prefix != NULL && prefix[0] != '\0' ? prefix :
		    "fields", CS_FC_TYPE, "must be an object of face fields");
		goto out;
	}
	for (it = fields != NULL ? json_object_iter((json_t *)fields) : NULL;
	    it != NULL; it = json_object_iter_next((json_t *)fields, it)) {
		key = json_object_iter_key(it);
		if (cs_type_field(t, key) == NULL)
			cs_problems_addc(p, field_path(path, sizeof(path), prefix, key), CS_FC_UNKNOWN_MEMBER,
			    "is not a field of %s (known: %s)", t->name,
			    cs_catalog_field_list(t, known, sizeof(known)));
	}
	for (i = 0; i < t->n_fields; i++) {
		v = fields != NULL ? json_object_get(fields, t->fields[i].name) : NULL;
		field_path(path, sizeof(path), prefix, t->fields[i].name);
		if (absent(v)) {
			if (t->fields[i].required)
				cs_problems_addc(p, path, CS_FC_REQUIRED, "is required");
			continue;
		}
		check_value(&t->fields[i], v, path, p);
	}
out:
	return p->n - before;
}
