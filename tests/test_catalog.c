/*
 * test_catalog: the shipped catalog (templates/), the loader's refusals of
 * broken catalogs, and the validation of a request's face fields.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "check.h"
#include "cs_err.h"

#define TEMPLATES CS_SOURCE_DIR "/templates"
#define RADIATION "11100000000013338W032"
#define TRAINING "11100000000013338W044"
#define HAZARDOUS "11100000000013338W042"

static const char *const known_placeholders[] = {
	"type_name", "number", "id", "holder.name", "holder.code",
	"issuer.name", "valid_from", "valid_until", "issued_at", NULL,
};

static cs_catalog *shipped;

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

TEST(shipped_loads)
{
	size_t i, rid_only = 0;
	const json_t *types;

	cs_err_clear();
	CHECK_INT_EQ(cs_catalog_load(TEMPLATES, &shipped), 0);
	if (shipped == NULL) {
		fprintf(stderr, "  %s\n", cs_err_msg());
		return;
	}
	CHECK_INT_EQ(shipped->n, 6);
	for (i = 0; i < shipped->n; i++) {
		const cs_type *t = &shipped->types[i];

		CHECK_INT_EQ(strlen(t->code), 21);
		CHECK(t->accepts_uscc || t->accepts_rid);
		if (t->accepts_rid && !t->accepts_uscc)
			rid_only++;
		CHECK(cs_catalog_find(shipped, t->code) == t);
		CHECK(t->n_fields > 0);
	}
	CHECK_INT_EQ(rid_only, 1);
	CHECK(cs_catalog_find(shipped, "11100000000013338W999") == NULL);
	/* Sorted by file name: a stable order for GET /api/v1/types. */
	types = json_object_get(shipped->served, "types");
	CHECK_INT_EQ(json_array_size(types), 6);
	CHECK_STR_EQ(shipped->types[0].name, "建设项目环境影响评价批复");
}

/* What GET /api/v1/types serves: the SPEC §5 shape, without the members
 * that concern this service only. */
TEST(served_shape)
{
	static const char *const type_keys[] = {"code", "name", "name_en",
	    "holder_code_types", "validity_years", "fields", "number", NULL};
	static const char *const field_keys[] = {"name", "label", "kind",
	    "required", "max_length", "min_length", "pattern", "options",
	    "in_qr", "qr_key", NULL};
	const json_t *ty, *f;
	const char *key;
	json_t *v;
	size_t i, j, k;

	if (shipped == NULL)
		return;
	json_array_foreach(json_object_get(shipped->served, "types"), i, ty) {
		CHECK(json_object_get(ty, "face") == NULL);
		CHECK(json_object_get(ty, "authority") == NULL);
		CHECK(json_object_get(ty, "numbering") == NULL);
		json_object_foreach((json_t *)ty, key, v) {
			for (k = 0; type_keys[k] != NULL; k++)
				if (strcmp(type_keys[k], key) == 0)
					break;
			CHECK(type_keys[k] != NULL);
		}
		for (k = 0; type_keys[k] != NULL; k++)
			CHECK(json_object_get(ty, type_keys[k]) != NULL);
		json_array_foreach(json_object_get(ty, "fields"), j, f) {
			json_object_foreach((json_t *)f, key, v) {
				for (k = 0; field_keys[k] != NULL; k++)
					if (strcmp(field_keys[k], key) == 0)
						break;
				CHECK(field_keys[k] != NULL);
			}
			CHECK(json_is_boolean(json_object_get(f, "required")));
			CHECK(json_is_boolean(json_object_get(f, "in_qr")));
		}
		/* The type's own struct agrees with what is served, and says
		 * whether the caller gives the number. */
		CHECK_STR_EQ(json_string_value(json_object_get(ty, "code")),
		    shipped->types[i].code);
		v = json_object_get(ty, "number");
		CHECK(json_is_true(json_object_get(v, "required")) ==
		    (shipped->types[i].numbering == NULL));
		CHECK_INT_EQ(json_integer_value(json_object_get(v, "max_length")),
		    CS_NUMBER_MAX_CHARS);
	}
	/* How lengths count and which regex dialect the patterns are. */
	v = json_object_get(shipped->served, "conventions");
	CHECK(strstr(json_string_value(json_object_get(v, "max_length")),
	    "characters") != NULL);
	CHECK(strstr(json_string_value(json_object_get(v, "pattern")),
	    "POSIX extended") != NULL);
}

/* Each face: one QR slot, placeholders the face renderer knows, and face
 * fields small enough for the QR code (SPEC §4: under 60 bytes typically). */
TEST(shipped_faces)
{
	const char *p, *end;
	char name[128];
	size_t i, k, len;
	long qr_bytes;

	if (shipped == NULL)
		return;
	for (i = 0; i < shipped->n; i++) {
		const cs_type *t = &shipped->types[i];

		CHECK(t->face_svg != NULL && strlen(t->face_svg) < 6 * 1024);
		if (t->face_svg == NULL)
			continue;
		CHECK_INT_EQ(count(t->face_svg, "id=\"qr-slot\""), 1);
		CHECK_INT_EQ(count(t->face_svg, "<rect id=\"qr-slot\""), 1);
		CHECK(strstr(t->face_svg, "Noto Serif CJK SC, Noto Sans CJK SC, serif") != NULL);
		CHECK(strstr(t->face_svg, "{{holder.name}}") != NULL);
		CHECK(strstr(t->face_svg, "{{number}}") != NULL);
		for (p = t->face_svg; (p = strstr(p, "{{")) != NULL; p = end + 2) {
			end = strstr(p, "}}");
			CHECK(end != NULL);
			if (end == NULL)
				break;
			len = (size_t)(end - p - 2);
			CHECK(len < sizeof(name));
			snprintf(name, sizeof(name), "%.*s", (int)len, p + 2);
			for (k = 0; known_placeholders[k] != NULL; k++)
				if (strcmp(known_placeholders[k], name) == 0)
					break;
			if (known_placeholders[k] == NULL) {
				CHECK(strncmp(name, "fields.", 7) == 0 &&
				    cs_type_field(t, name + 7) != NULL);
			}
		}
		/* A required field is part of the licence: it is printed. */
		for (k = 0; k < t->n_fields; k++) {
			if (!t->fields[k].required)
				continue;
			snprintf(name, sizeof(name), "{{fields.%s}}", t->fields[k].name);
			if (strstr(t->face_svg, name) == NULL)
				fprintf(stderr, "  %s: %s is not on the face\n", t->name, name);
			CHECK(strstr(t->face_svg, name) != NULL);
		}
		/* In-QR fields: at most 3, of a bounded size.  None is fine:
		 * most shipped types carry none, to fit SPEC §4's QR versions
		 * (docs/design.md, "The token's size"). */
		qr_bytes = 0;
		for (k = 0, len = 0; k < t->n_fields; k++) {
			if (!t->fields[k].in_qr)
				continue;
			len++;
			if (t->fields[k].kind == CS_FIELD_TEXT)
				CHECK(t->fields[k].max_length > 0);
			if (t->fields[k].kind == CS_FIELD_DATE)
				qr_bytes += 10;
		}
		CHECK(len <= 3);
		CHECK(qr_bytes < 60);
	}
}

TEST(format_number)
{
	const cs_type *rad, *haz;
	char out[64];

	if (shipped == NULL)
		return;
	rad = cs_catalog_find(shipped, RADIATION);
	haz = cs_catalog_find(shipped, HAZARDOUS);
	CHECK(rad != NULL && haz != NULL);
	if (rad == NULL || haz == NULL)
		return;
	CHECK_INT_EQ(cs_type_format_number(rad, 123, 2025, out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "粤环辐证[00123]");
	/* Past its width the sequence keeps every digit. */
	CHECK_INT_EQ(cs_type_format_number(rad, 1234567, 2025, out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "粤环辐证[1234567]");
	CHECK_INT_EQ(cs_type_format_number(haz, 7, 2026, out, sizeof(out)), 0);
	CHECK_STR_EQ(out, "粤环危废证字[2026]第0007号");
	CHECK_INT_EQ(cs_type_format_number(rad, 1, 2025, out, 8), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "longer than 7 bytes");
	CHECK_INT_EQ(cs_type_format_number(rad, -1, 2025, out, sizeof(out)), CS_EINVAL);
	/* The pollutant discharge permit's number comes from the caller. */
	CHECK_INT_EQ(cs_type_format_number(cs_catalog_find(shipped,
	    "11100000000013338W041"), 1, 2025, out, sizeof(out)), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "no numbering rule");
}

/*
 * validate_fields: each case is a JSON fields object against a type, and
 * the one problem expected (path and message), or none.
 */
struct vcase {
	const char *type;
	const char *json;
	const char *path;      /* NULL: valid, no problem */
	const char *message;
};

#define RAD_OK "\"address\": \"广州市天河区体育西路1号\", " \
	"\"legal_representative\": \"张三\", " \
	"\"radiation_activity_category\": \"使用\", " \
	"\"licence_scope\": \"使用Ⅲ类射线装置\""
#define TRAIN_OK "\"gender\": \"女\", \"work_unit\": \"广州市第一人民医院\", " \
	"\"training_category\": \"核医学\""
#define HAZ_OK "\"address\": \"佛山市南海区\", \"legal_representative\": \"李四\", " \
	"\"facility_address\": \"佛山市南海区狮山镇\", " \
	"\"business_mode\": \"收集、贮存、处置\", \"waste_categories\": \"HW08、HW49\""

static const struct vcase vcases[] = {
	{RADIATION, "{" RAD_OK "}", NULL, NULL},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"\"}", NULL, NULL},
	{RADIATION, "{" RAD_OK ", \"remarks\": null}", NULL, NULL},
	{RADIATION, "{" RAD_OK ", \"colour\": \"red\"}", "fields.colour",
	    "is not a field of 辐射安全许可证 (known: address, legal_representative, "
	    "radiation_activity_category, licence_scope, remarks)"},
	{RADIATION, "{\"address\": \"x\", \"legal_representative\": \"张三\", "
	    "\"radiation_activity_category\": \"使用\"}", "fields.licence_scope",
	    "is required"},
	{RADIATION, "{" RAD_OK ", \"remarks\": 12}", "fields.remarks", "must be text"},
	{RADIATION, "{" RAD_OK ", \"remarks\": [\"a\"]}", "fields.remarks",
	    "must be text"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"第一行\\n第二行\"}", "fields.remarks",
	    "contains the control character U+000A at character 4"},
	/* Face text is shown as it is: no C1 control, nothing invisible or
	 * turning the text round, not blank, no space at an end (issue 13,
	 * item 12). */
	{RADIATION, "{" RAD_OK ", \"remarks\": \"a\\u0085b\"}", "fields.remarks",
	    "contains the control character U+0085 at character 2"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"\\u202etxt.exe\"}", "fields.remarks",
	    "contains the invisible character U+202E at character 1"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"ab\\u200bc\"}", "fields.remarks",
	    "contains the invisible character U+200B at character 3"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"a\\u2029\"}", "fields.remarks",
	    "contains the invisible character U+2029 at character 2"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"\\ufeffa\"}", "fields.remarks",
	    "contains the invisible character U+FEFF at character 1"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"a\\u2068b\\u2069\"}", "fields.remarks",
	    "contains the invisible character U+2068 at character 2"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"\\u3000 \\u3000\"}", "fields.remarks",
	    "is blank"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"含DSA机房两间\\u3000\"}", "fields.remarks",
	    "ends with the space U+3000"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \" 含DSA机房两间\"}", "fields.remarks",
	    "begins with the space U+0020"},
	{RADIATION, "{" RAD_OK ", \"remarks\": \"含DSA 机房\\u3000两间\"}", NULL, NULL},
	{RADIATION, "{\"address\": \"x\", \"legal_representative\": \"张三\", "
	    "\"radiation_activity_category\": \"经营\", \"licence_scope\": \"使用\"}",
	    "fields.radiation_activity_category",
	    "must be one of: 生产, 销售, 使用, 生产、销售, 生产、使用, 销售、使用, "
	    "生产、销售、使用"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\"}", NULL, NULL},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-02-29\", \"exam_score\": 100}",
	    NULL, NULL},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": \"85\"}",
	    NULL, NULL},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2023-02-30\"}", "fields.exam_date",
	    "2023-02-30 is not a real date"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2023-2-3\"}", "fields.exam_date",
	    "must be a date YYYY-MM-DD"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": 20230203}", "fields.exam_date",
	    "must be a date YYYY-MM-DD"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": \"12a\"}",
	    "fields.exam_score", "must be an integer"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": 8.5}",
	    "fields.exam_score", "must be an integer"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": -3}",
	    "fields.exam_score", "must not be negative"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": 101}",
	    "fields.exam_score", "does not match the pattern 100|[1-9]?[0-9]"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\", \"exam_score\": 1000}",
	    "fields.exam_score", "has 4 digits, at most 3"},
	{TRAINING, "{" TRAIN_OK ", \"exam_date\": \"2024-06-18\\u0000x\"}",
	    "fields.exam_date", "contains the control character U+0000"},
	{TRAINING, "{\"gender\": \"M\", \"work_unit\": \"x\", \"training_category\": "
	    "\"核医学\", \"exam_date\": \"2024-06-18\"}", "fields.gender",
	    "must be one of: 男, 女"},
	{HAZARDOUS, "{" HAZ_OK ", \"annual_capacity\": 12000}", NULL, NULL},
	{HAZARDOUS, "{" HAZ_OK ", \"annual_capacity\": \"12000\"}", NULL, NULL},
	{HAZARDOUS, "{" HAZ_OK ", \"annual_capacity\": \"12a\"}",
	    "fields.annual_capacity", "must be an integer"},
	{HAZARDOUS, "{" HAZ_OK ", \"annual_capacity\": true}",
	    "fields.annual_capacity", "must be an integer"},
	{HAZARDOUS, "{\"address\": \"佛山\", \"legal_representative\": \"李四\", "
	    "\"facility_address\": \"佛山\", \"business_mode\": \"收集、销售\", "
	    "\"waste_categories\": \"HW08\", \"annual_capacity\": 1}",
	    "fields.business_mode", "does not match the pattern"},
	{HAZARDOUS, "{\"address\": \"佛山\", \"legal_representative\": \"李四\", "
	    "\"facility_address\": \"佛山\", \"business_mode\": \"收集\", "
	    "\"waste_categories\": \"HW08,HW99\", \"annual_capacity\": 1}",
	    "fields.waste_categories", "does not match the pattern"},
};

static void
expect_one(const cs_type *t, const char *json, const char *path,
    const char *message, size_t idx)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_error_t jerr;
	json_t *fields = json_loads(json, JSON_ALLOW_NUL, &jerr);
	size_t n;

	CHECK(fields != NULL);
	if (fields == NULL) {
		fprintf(stderr, "  case %zu: bad JSON: %s\n", idx, jerr.text);
		return;
	}
	n = cs_catalog_validate_fields(t, fields, "fields", &p);
	CHECK_INT_EQ(n, p.n);
	if (path == NULL) {
		CHECK_INT_EQ(p.n, 0);
	} else {
		CHECK_INT_EQ(p.n, 1);
		if (p.n > 0) {
			CHECK_STR_EQ(p.items[0].field, path);
			CHECK_CONTAINS(p.items[0].message, message);
		}
	}
	if ((path == NULL && p.n != 0) || (path != NULL && p.n != 1)) {
		for (n = 0; n < p.n; n++)
			fprintf(stderr, "  case %zu: %s: %s\n", idx, p.items[n].field,
			    p.items[n].message);
	}
	cs_problems_reset(&p);
	json_decref(fields);
}

TEST(validate_fields)
{
	const cs_type *t;
	size_t i;

	if (shipped == NULL)
		return;
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		t = cs_catalog_find(shipped, vcases[i].type);
		CHECK(t != NULL);
		if (t != NULL)
			expect_one(t, vcases[i].json, vcases[i].path, vcases[i].message, i);
	}
}

/* Lengths count characters: a CJK character is one, not three bytes. */
TEST(validate_lengths)
{
	const cs_type *t;
	const cs_field *f;
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *fields;
	char *s, msg[64];
	long n;

	if (shipped == NULL || (t = cs_catalog_find(shipped, RADIATION)) == NULL ||
	    (f = cs_type_field(t, "licence_scope")) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(f->max_length > 0);
	s = calloc((size_t)f->max_length + 2, 3);
	for (n = 0; n < f->max_length; n++)
		memcpy(s + 3 * n, "辐", 3);
	fields = json_pack("{s:s, s:s, s:s, s:s}", "address", "广州",
	    "legal_representative", "张三", "radiation_activity_category", "使用",
	    "licence_scope", s);
	CHECK_INT_EQ(cs_catalog_validate_fields(t, fields, "fields", &p), 0);
	memcpy(s + 3 * n, "辐", 3);
	json_object_set_new(fields, "licence_scope", json_string(s));
	CHECK_INT_EQ(cs_catalog_validate_fields(t, fields, "certificates.1.fields", &p), 1);
	snprintf(msg, sizeof(msg), "is %ld characters, at most %ld", f->max_length + 1,
	    f->max_length);
	if (p.n == 1) {
		CHECK_STR_EQ(p.items[0].field, "certificates.1.fields.licence_scope");
		CHECK_STR_EQ(p.items[0].message, msg);
	}
	cs_problems_reset(&p);
	json_decref(fields);
	free(s);
}

/* Several problems in one request are all reported, in catalog order after
 * the unknown ones; a missing or non-object fields member is handled. */
TEST(validate_many)
{
	const cs_type *t;
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *fields;

	if (shipped == NULL || (t = cs_catalog_find(shipped, RADIATION)) == NULL) {
		CHECK(0);
		return;
	}
	fields = json_loads("{\"x\": 1, \"address\": 5}", 0, NULL);
	CHECK_INT_EQ(cs_catalog_validate_fields(t, fields, "fields", &p), 5);
	if (p.n == 5) {
		CHECK_STR_EQ(p.items[0].field, "fields.x");
		CHECK_STR_EQ(p.items[1].field, "fields.address");
		CHECK_STR_EQ(p.items[1].message, "must be text");
		CHECK_STR_EQ(p.items[2].field, "fields.legal_representative");
		CHECK_STR_EQ(p.items[2].message, "is required");
	}
	cs_problems_reset(&p);
	CHECK_INT_EQ(cs_catalog_validate_fields(t, NULL, "fields", &p), 4);
	cs_problems_reset(&p);
	json_decref(fields);
	fields = json_string("oops");
	CHECK_INT_EQ(cs_catalog_validate_fields(t, fields, "fields", &p), 1);
	if (p.n == 1)
		CHECK_STR_EQ(p.items[0].field, "fields");
	cs_problems_reset(&p);
	json_decref(fields);
}

/*
 * Broken catalogs, each in its own temporary directory.  A type file is
 * built from a good one with one thing changed.
 */
#define GOOD_FACE "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\">" \
	"<text>{{holder.name}} {{fields.site}}</text>" \
	"<rect id=\"qr-slot\" x=\"1\" y=\"1\" width=\"5\" height=\"5\"/></svg>"

struct bcase {
	const char *what;
	const char *code;       /* of x.json */
	const char *kind;       /* of its field */
	const char *extra;      /* more field members, e.g. ", \"pattern\": \"(\"" */
	const char *numbering;
	const char *face;       /* the face member */
	const char *face_text;  /* written to face.svg; NULL: none written */
	const char *raw;        /* x.json verbatim instead, when set */
	const char *dup_code;   /* also write a.json with this code */
	const char *msg1, *msg2;  /* both in the message */
};

static const struct bcase bcases[] = {
	{"good", "11100000000013338W090", "text", "", "X{seq:3}", "face.svg",
	    GOOD_FACE, NULL, NULL, NULL, NULL},
	{"bad JSON", NULL, NULL, NULL, NULL, NULL, GOOD_FACE, "{\"code\": ", NULL,
	    "/x.json: line ", "end of file"},
	{"not an object", NULL, NULL, NULL, NULL, NULL, GOOD_FACE, "[1, 2]", NULL,
	    "/x.json: ", "must hold one JSON object"},
	{"code length", "11100000000013338W09", "text", "", "X{seq:3}", "face.svg",
	    GOOD_FACE, NULL, NULL, "/x.json: ",
	    "code '11100000000013338W09' is 20 characters, expected 21"},
	{"code alphabet", "11100000000013338W0A0", "text", "", "X{seq:3}", "face.svg",
	    GOOD_FACE, NULL, NULL, "/x.json: ", "code '11100000000013338W0A0': type code "
	    "character 20 'A' is outside 0-9"},
	{"kind", "11100000000013338W090", "number", "", "X{seq:3}", "face.svg",
	    GOOD_FACE, NULL, NULL, "/x.json: ",
	    "fields[0].kind 'number' is not one of text, date, integer, enum"},
	{"duplicate code", "11100000000013338W090", "text", "", "X{seq:3}", "face.svg",
	    GOOD_FACE, NULL, "11100000000013338W090",
	    "duplicate type code 11100000000013338W090", "in a.json and x.json"},
	{"missing face", "11100000000013338W090", "text", "", "X{seq:3}", "nope.svg",
	    GOOD_FACE, NULL, NULL, "/x.json: ",
	    "face 'nope.svg' cannot be read: No such file or directory"},
	{"face outside dir", "11100000000013338W090", "text", "", "X{seq:3}",
	    "../face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "face must be the name of an .svg file beside the JSON file"},
	{"bad pattern", "11100000000013338W090", "text", ", \"pattern\": \"([a-z\"",
	    "X{seq:3}", "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "fields[0].pattern '([a-z' does not compile"},
	{"unknown numbering placeholder", "11100000000013338W090", "text", "",
	    "X{seq:3}-{month}", "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "unknown placeholder '{month}' (known: {seq:N}, {year})"},
	{"numbering without seq", "11100000000013338W090", "text", "", "X{year}",
	    "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ", "has no {seq:N}"},
	{"numbering seq width", "11100000000013338W090", "text", "", "X{seq:0}",
	    "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ", "N must be 1 to 18 digits"},
	{"unknown field member", "11100000000013338W090", "text", ", \"maxlen\": 3",
	    "X{seq:3}", "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "fields[0]: unknown member 'maxlen' (known: name, label"},
	{"options on text", "11100000000013338W090", "text", ", \"options\": [\"a\"]",
	    "X{seq:3}", "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "fields[0].options apply to enum fields only"},
	{"enum without options", "11100000000013338W090", "enum", "",
	    "X{seq:3}", "face.svg", GOOD_FACE, NULL, NULL, "/x.json: ",
	    "fields[0].options must be a non-empty array"},
	{"two qr slots", "11100000000013338W090", "text", "", "X{seq:3}", "face.svg",
	    "<svg><rect id=\"qr-slot\"/><rect id=\"qr-slot\"/></svg>", NULL, NULL,
	    "/x.json: ", "face 'face.svg' has 2 qr-slot elements"},
	{"face placeholder", "11100000000013338W090", "text", "", "X{seq:3}",
	    "face.svg", "<svg><text>{{fields.nope}}</text><rect id=\"qr-slot\"/></svg>",
	    NULL, NULL, "/x.json: ", "face 'face.svg' has an unknown placeholder "
	    "'{{fields.nope}}'"},
};

static int
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void
type_json(char *buf, size_t n, const struct bcase *c, const char *code)
{
	snprintf(buf, n, "{\"code\": \"%s\", \"name\": \"测试许可证\", "
	    "\"name_en\": \"Test Licence\", \"holder_code_types\": [\"USCC\"], "
	    "\"validity_years\": 3, \"numbering\": \"%s\", \"face\": \"%s\", "
	    "\"fields\": [{\"name\": \"site\", \"label\": \"场所\", \"kind\": \"%s\", "
	    "\"required\": true, \"in_qr\": false%s}]}", code, c->numbering,
	    c->face, c->kind, c->extra);
}

static void
remove_dir(const char *dir)
{
	static const char *const names[] = {"x.json", "a.json", "face.svg"};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

TEST(broken_catalogs)
{
	const struct bcase *c;
	cs_catalog *cat;
	char dir[64], json[2048];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		c = &bcases[i];
		snprintf(dir, sizeof(dir), "/tmp/cs_catalog_XXXXXX");
		CHECK(mkdtemp(dir) != NULL);
		if (c->raw != NULL)
			snprintf(json, sizeof(json), "%s", c->raw);
		else
			type_json(json, sizeof(json), c, c->code);
		CHECK_INT_EQ(write_file(dir, "x.json", json), 0);
		if (c->face_text != NULL)
			CHECK_INT_EQ(write_file(dir, "face.svg", c->face_text), 0);
		if (c->dup_code != NULL) {
			type_json(json, sizeof(json), c, c->dup_code);
			CHECK_INT_EQ(write_file(dir, "a.json", json), 0);
		}
		cat = NULL;
		cs_err_clear();
		rc = cs_catalog_load(dir, &cat);
		if (c->msg1 == NULL) {
			CHECK_INT_EQ(rc, 0);
			CHECK(cat != NULL && cat->n == 1);
			if (rc != 0)
				fprintf(stderr, "  %s: %s\n", c->what, cs_err_msg());
		} else {
			CHECK_INT_EQ(rc, CS_EINVAL);
			CHECK(cat == NULL);
			CHECK_CONTAINS(cs_err_msg(), dir);
			CHECK_CONTAINS(cs_err_msg(), c->msg1);
			CHECK_CONTAINS(cs_err_msg(), c->msg2);
		}
		cs_catalog_free(cat);
		remove_dir(dir);
	}
}

TEST(empty_and_missing_dir)
{
	cs_catalog *cat = NULL;
	char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/cs_catalog_XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT_EQ(cs_catalog_load(dir, &cat), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "no licence types");
	rmdir(dir);
	CHECK_INT_EQ(cs_catalog_load(dir, &cat), CS_EIO);
	CHECK_CONTAINS(cs_err_msg(), "cannot read the catalog directory");
	CHECK(cat == NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(shipped_loads);
	RUN(served_shape);
	RUN(shipped_faces);
	RUN(format_number);
	RUN(validate_fields);
	RUN(validate_lengths);
	RUN(validate_many);
	RUN(broken_catalogs);
	RUN(empty_and_missing_dir);
	cs_catalog_free(shipped);
	return check_summary();
}
