/*
 * catalog: the licence types of templates/ (SPEC §3).
 *
 * One JSON file per type, <dir>/<anything>.json, holding exactly the object
 * GET /api/v1/types serves for it plus:
 *   "face": "<file>.svg"       the face layout, beside the JSON file
 *   "authority": {...}         optional: the defining authority (not served)
 *   "numbering": "粤环辐证[{seq:5}]"  the numbering rule; placeholders
 *        {seq:N} (per type and issuer, zero-padded to N digits),
 *        {year} (4-digit issue year, Asia/Shanghai)
 * Served members: code, name, name_en, holder_code_types (["USCC"] and/or
 * ["RID"]), validity_years (integer >= 0; 0 means no expiry), fields:
 * [{name, label, kind: text|date|integer|enum, required, max_length?,
 * min_length?, pattern? (POSIX ERE, anchored whole-value), options? (enum),
 * in_qr, qr_key? (in_qr fields: their key in the token's "f" map)}].
 * The served type also says who gives the licence number: "number":
 * {"required": true when the type has no numbering rule (the request must
 * give it), "max_length": CS_NUMBER_MAX_CHARS, "rule"?: the numbering rule
 * when the service numbers}; and the served catalog
 * carries "conventions" (how lengths count and which regex dialect the
 * patterns are), so a client built from the catalog alone fills valid
 * requests.
 *
 * Loading is all-or-nothing: any broken file is CS_EINVAL with a message
 * naming the file and the problem.  The catalog is immutable once loaded and
 * safe to read from many threads.
 */
#ifndef CS_CATALOG_H
#define CS_CATALOG_H

#include <jansson.h>
#include <regex.h>
#include <stddef.h>

#include "problems.h"

/* Longest licence number a request may give, in characters. */
#define CS_NUMBER_MAX_CHARS 64

enum cs_field_kind { CS_FIELD_TEXT, CS_FIELD_DATE, CS_FIELD_INTEGER, CS_FIELD_ENUM };

typedef struct cs_field {
	char *name;
	char *label;
	enum cs_field_kind kind;
	int required;
	int in_qr;
	char *qr_key;        /* its key in the token's "f" map (the name unless
				* the type gives a short "qr_key") */
	long max_length;     /* in characters (UTF-8 code points); 0 = none */
	long min_length;
	char *pattern;       /* NULL when none */
	regex_t re;          /* compiled pattern, valid when pattern != NULL */
	char **options;      /* enum values */
	size_t n_options;
} cs_field;

typedef struct cs_type {
	char *code;          /* 21 characters */
	char *name;          /* Chinese */
	char *name_en;
	int accepts_uscc;
	int accepts_rid;
	int validity_years;
	char *numbering;     /* NULL when the caller must give the number */
	char *face_path;     /* absolute or dir-relative path of the SVG */
	char *face_svg;      /* the layout's text, loaded */
	cs_field *fields;
	size_t n_fields;
	json_t *served;      /* the object GET /api/v1/types serves (owned) */
} cs_type;

typedef struct cs_catalog {
	cs_type *types;
	size_t n;
	json_t *served;      /* {"types": [...]} (owned) */
} cs_catalog;

int cs_catalog_load(const char *dir, cs_catalog **out);
void cs_catalog_free(cs_catalog *cat);
/* Borrowed; NULL when the code is not in the catalog. */
const cs_type *cs_catalog_find(const cs_catalog *cat, const char *code);
const cs_field *cs_type_field(const cs_type *t, const char *name);

/* 0 when s[0..n) may be printed on a face or a page as it is: valid UTF-8
 * without control characters (C0, DEL, C1), without invisible or
 * direction-changing ones (U+200B-U+200F, U+2028-U+202E, U+2060-U+2064,
 * U+2066-U+2069, U+FEFF), not blank (spaces alone, U+3000 among them) and
 * without a space at either end; *chars (optional) the count of code
 * points.  CS_EVALIDATION otherwise, the message saying which and where.
 * Empty text passes: whether it may be empty is the caller's rule. */
int cs_face_text_check(const char *s, size_t n, size_t *chars);

/* Validate an issuance request's "fields" object against the type: unknown
 * fields, missing required ones, wrong JSON types or kinds (a date is
 * YYYY-MM-DD and real; an integer is a JSON integer or a string of digits),
 * lengths, patterns, enum options.  Each problem is added with the path
 * "<prefix>.<name>" (prefix e.g. "fields" or "certificates.1.fields").
 * null and "" count as absent (what a form sends for an empty input).  Text
 * passes cs_face_text_check (face text is one printed line, shown as it
 * is); lengths count code points; integers are
 * non-negative, at most 18 digits, and max_length/pattern apply to their
 * decimal digits.  Returns the number of problems added. */
size_t cs_catalog_validate_fields(const cs_type *t, const json_t *fields,
    const char *prefix, cs_problems *p);

/* Expand the type's numbering rule.  out holds outlen bytes.  CS_EINVAL
 * when the type has no rule. */
int cs_type_format_number(const cs_type *t, long long seq, int year,
    char *out, size_t outlen);

#endif
