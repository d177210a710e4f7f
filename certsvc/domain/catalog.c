/*
 * catalog.c: the licence types of templates/ (SPEC §3), loaded once and
 * then only read.
 *
 * Loading is strict on purpose: a catalog mistake found at start (a typo in
 * a kind, a pattern that does not compile, a face placeholder naming a
 * field that does not exist) would otherwise surface as a wrong 422 or a
 * blank on a printed licence long after deployment.  Every message names
 * the file, the member and what was expected.
 *
 * Validating a request's fields against a type is catalog_fields.c's.
 */
#include "catalog.h"
#include "catalog_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "text.h"

#define FACE_MAX (256 * 1024)    /* a face layout is a few KiB */
#define FIELD_NAME_MAX 64
#define SEQ_DIGITS_MAX 18        /* a long long always fits */
#define LENGTH_LIMIT 100000L     /* sanity bound on max_length/min_length */
#define VALIDITY_MAX 100

static const struct kind_name {
	const char *name;
	enum cs_field_kind kind;
} kinds[] = {
	{"text", CS_FIELD_TEXT},
	{"date", CS_FIELD_DATE},
	{"integer", CS_FIELD_INTEGER},
	{"enum", CS_FIELD_ENUM},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
#define KIND_LIST "text, date, integer, enum"

/* The members a type file, a field and an authority may hold. */
struct member {
	const char *name;
	int required;
};

static const struct member type_members[] = {
	{"code", 1}, {"name", 1}, {"name_en", 1}, {"holder_code_types", 1},
	{"validity_years", 1}, {"numbering", 0}, {"face", 1}, {"authority", 0},
	{"fields", 1}, {NULL, 0},
};
static const struct member field_members[] = {
	{"name", 1}, {"label", 1}, {"kind", 1}, {"required", 1}, {"in_qr", 1},
	{"max_length", 0}, {"min_length", 0}, {"pattern", 0}, {"options", 0},
	{"qr_key", 0}, {NULL, 0},
};
static const struct member authority_members[] = {
	{"name", 1}, {"code", 0}, {NULL, 0},
};

/* How the served catalog's rules read, for a client that builds its
 * forms from it (docs/design.md, "The catalog"). */
static json_t *
conventions(void)
{
	return json_pack("{ss ss ss}",
	    "max_length", "characters (Unicode code points), not bytes; for "
	    "an integer field, digits",
	    "pattern", "POSIX extended regular expression (regcomp, "
	    "REG_EXTENDED) matched against the whole value, byte by byte in "
	    "the C locale: a bracket expression holds ASCII only",
	    "text", "UTF-8 without control, invisible or bidirectional "
	    "characters, not blank, no leading or trailing space");
}

/* What GET /api/v1/types leaves out: they concern this service only. */
static const char *const unserved[] = {"face", "authority", "numbering", NULL};

/* Placeholders of a face besides fields.<name>; the list of face.h. */
static const char *const face_names[] = {
	"type_name", "number", "id", "holder.name", "holder.code",
	"issuer.name", "valid_from", "valid_until", "issued_at", NULL,
};

/*
 * Small helpers.
 */

/* Append s to buf (size n) as far as it fits, keeping UTF-8 whole. */
void
cs_catalog_append(char *buf, size_t n, const char *s)
{
	size_t have = strlen(buf), take = strlen(s);

	if (have + 1 >= n)
		return;
	take = cs_utf8_cut(s, take, n - have - 1);
	memcpy(buf + have, s, take);
	buf[have + take] = '\0';
}

/* "a, b, c" from a member table, for "(known: ...)". */
static const char *
member_list(const struct member *m, char *buf, size_t n)
{
	buf[0] = '\0';
	for (; m->name != NULL; m++) {
		if (buf[0] != '\0')
			cs_catalog_append(buf, n, ", ");
		cs_catalog_append(buf, n, m->name);
	}
	return buf;
}

/* "a, b, c" of a type's field names; cut with "..." when long. */
const char *
cs_catalog_field_list(const cs_type *t, char *buf, size_t n)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < t->n_fields; i++) {
		if (strlen(buf) + strlen(t->fields[i].name) + 8 > n) {
			cs_catalog_append(buf, n, ", ...");
			break;
		}
		if (i > 0)
			cs_catalog_append(buf, n, ", ");
		cs_catalog_append(buf, n, t->fields[i].name);
	}
	return buf;
}


/*
 * Numbering rules.  One parser both checks a rule at load time (out ==
 * NULL) and expands it, so a rule that loads is a rule that formats.
 */
static int
numbering_expand(const char *rule, long long seq, int year, char *out,
    size_t outlen)
{
	char piece[40];
	const char *p, *end;
	size_t o = 0, len, n_seq = 0;
	int rc = 0, digits, i;

	for (p = rule; *p != '\0'; p++) {
		if (*p == '}') {
			rc = cs_err_set(CS_EINVAL, "numbering '%s' has a '}' without "
			    "its '{'", rule);
			goto out;
		}
		if (*p != '{') {
			piece[0] = *p;
			len = 1;
		} else if ((end = strchr(p, '}')) == NULL) {
			rc = cs_err_set(CS_EINVAL, "numbering '%s' has a '{' without "
			    "its '}'", rule);
			goto out;
		} else if (end - p == 5 && strncmp(p, "{year}", 6) == 0) {
			len = (size_t)snprintf(piece, sizeof(piece), "%04d", year);
			p = end;
		} else if (strncmp(p, "{seq:", 5) == 0 && end - p >= 6 && end - p <= 7) {
			for (digits = 0, i = 5; p + i < end; i++) {
				if (p[i] < '0' || p[i] > '9')
					break;
				digits = digits * 10 + (p[i] - '0');
			}
			if (p + i != end || digits < 1 || digits > SEQ_DIGITS_MAX) {
				rc = cs_err_set(CS_EINVAL, "numbering '%s': in '%.*s' N "
				    "must be 1 to %d digits", rule, (int)(end - p + 1), p,
				    SEQ_DIGITS_MAX);
				goto out;
			}
			/* Zero-padded to N; a sequence past N digits keeps them
			 * all rather than repeat an earlier number. */
			len = (size_t)snprintf(piece, sizeof(piece), "%0*lld", digits,
			    seq);
			n_seq++;
			p = end;
		} else {
			rc = cs_err_set(CS_EINVAL, "numbering '%s' has an unknown "
			    "placeholder '%.*s' (known: {seq:N}, {year})", rule,
			    (int)(end - p + 1 > 40 ? 40 : end - p + 1), p);
			goto out;
		}
		if (out != NULL) {
			if (o + len + 1 > outlen) {
				rc = cs_err_set(CS_EINVAL, "number from '%s' is longer "
				    "than %zu bytes", rule, outlen - 1);
				goto out;
			}
			memcpy(out + o, piece, len);
		}
		o += len;
	}
	/* Without a sequence every licence of the type would share a number. */
	if (n_seq == 0)
		rc = cs_err_set(CS_EINVAL, "numbering '%s' has no {seq:N}, so every "
		    "licence would get the same number", rule);
out:
	if (out != NULL && outlen > 0)
		out[rc == 0 ? o : 0] = '\0';
	return rc;
}

int
cs_type_format_number(const cs_type *t, long long seq, int year, char *out,
    size_t outlen)
{
	int rc;

	if (outlen > 0)
		out[0] = '\0';
	if (t == NULL)
		rc = cs_err_set(CS_EINVAL, "no licence type");
	else if (t->numbering == NULL)
		rc = cs_err_set(CS_EINVAL, "%s has no numbering rule: the request "
		    "must give the number", t->name);
	else if (seq < 0)
		rc = cs_err_set(CS_EINVAL, "sequence %lld is negative", seq);
	else if (year < 1 || year > 9999)
		rc = cs_err_set(CS_EINVAL, "year %d is not a 4-digit year", year);
	else
		rc = numbering_expand(t->numbering, seq, year, out, outlen);
	return rc;
}

/*
 * Loading one type.  Messages set here lack the file name; load_file()
 * puts it in front.
 */

/* Every member of obj is in the table and every required one is there;
 * owner ("fields[2]", "authority" or "" for the type) starts the message. */
static int
check_members(const json_t *obj, const struct member *table, const char *owner)
{
	const char *sep = owner[0] != '\0' ? ": " : "";
	const struct member *m;
	const char *key;
	char known[256];
	void *it;
	int rc = 0;

	for (it = json_object_iter((json_t *)obj); it != NULL;
	    it = json_object_iter_next((json_t *)obj, it)) {
		key = json_object_iter_key(it);
		for (m = table; m->name != NULL; m++)
			if (strcmp(m->name, key) == 0)
				break;
		if (m->name == NULL) {
			rc = cs_err_set(CS_EINVAL, "%s%sunknown member '%s' (known: %s)",
			    owner, sep, key, member_list(table, known, sizeof(known)));
			goto out;
		}
	}
	for (m = table; m->name != NULL; m++) {
		if (m->required && json_object_get(obj, m->name) == NULL) {
			rc = cs_err_set(CS_EINVAL, "%s%smissing member '%s'", owner, sep,
			    m->name);
			goto out;
		}
	}
out:
	return rc;
}

/* A non-empty string member, copied. */
static int
get_text(const json_t *obj, const char *key, const char *at, char **out)
{
	const char *s = json_string_value(json_object_get(obj, key));
	int rc = 0;

	if (s == NULL || s[0] == '\0')
		rc = cs_err_set(CS_EINVAL, "%s%s must be a non-empty string", at, key);
	else if ((*out = strdup(s)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	return rc;
}

static int
get_bool(const json_t *obj, const char *key, const char *at, int *out)
{
	const json_t *v = json_object_get(obj, key);

	*out = json_is_true(v);
	return json_is_boolean(v) ? 0 :
	    cs_err_set(CS_EINVAL, "%s%s must be true or false", at, key);
}

/* An optional length bound: absent is 0 (none). */
static int
get_length(const json_t *obj, const char *key, const char *at, long min,
    long *out)
{
	const json_t *v = json_object_get(obj, key);
	int rc = 0;

	*out = 0;
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > LENGTH_LIMIT))
		rc = cs_err_set(CS_EINVAL, "%s%s must be an integer from %ld to %ld",
		    at, key, min, LENGTH_LIMIT);
	else if (v != NULL)
		*out = (long)json_integer_value(v);
	return rc;
}

static int
field_name_ok(const char *s)
{
	size_t i;
	int ok = s[0] >= 'a' && s[0] <= 'z' && strlen(s) <= FIELD_NAME_MAX;

	for (i = 1; ok && s[i] != '\0'; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_';
	return ok;
}

static int
load_options(const json_t *arr, const char *at, cs_field *f)
{
	const char *s;
	size_t i, j, n = json_array_size(arr);
	int rc = 0;

	if (!json_is_array(arr) || n == 0) {
		rc = cs_err_set(CS_EINVAL, "%soptions must be a non-empty array of "
		    "strings", at);
		goto out;
	}
	if ((f->options = calloc(n, sizeof(*f->options))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(arr, i));
		if (s == NULL || s[0] == '\0') {
			rc = cs_err_set(CS_EINVAL, "%soptions[%zu] must be a non-empty "
			    "string", at, i);
			goto out;
		}
		for (j = 0; j < f->n_options; j++) {
			if (strcmp(f->options[j], s) == 0) {
				rc = cs_err_set(CS_EINVAL, "%soptions[%zu] '%s' repeats "
				    "options[%zu]", at, i, s, j);
				goto out;
			}
		}
		if ((f->options[f->n_options] = strdup(s)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		f->n_options++;
	}
out:
	return rc;
}

/* Compile the pattern anchored to the whole value.  f->pattern is set only
 * once f->re holds a compiled expression, so field_free() knows to free it. */
static int
load_pattern(const char *pattern, const char *at, cs_field *f)
{
	char *anchored = NULL, why[160];
	size_t n;
	int rc = 0, e;

	if (pattern[0] == '\0') {
		rc = cs_err_set(CS_EINVAL, "%spattern is empty", at);
		goto out;
	}
	n = strlen(pattern) + 5;
	if ((anchored = malloc(n)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(anchored, n, "^(%s)$", pattern);
	if ((e = regcomp(&f->re, anchored, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(e, &f->re, why, sizeof(why));
		rc = cs_err_set(CS_EINVAL, "%spattern '%s' does not compile: %s", at,
		    pattern, why);
		goto out;
	}
	if ((f->pattern = strdup(pattern)) == NULL) {
		regfree(&f->re);
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	}
out:
	free(anchored);
	return rc;
}


/*
 * The key a face field has in the token's "f" map.  Every byte of a claim
 * costs QR modules, and a descriptive field name ("radiation_activity_
 * category", 27 bytes) can cost more than its value; so an in_qr field may
 * name a short key (1-4 of a-z 0-9), served with the type so any verifier
 * can label it.  Without one the field name is the key.
 */
static int
load_qr_key(const cs_type *t, const json_t *obj, const char *at, cs_field *f)
{
	const json_t *v = json_object_get(obj, "qr_key");
	const char *k;
	size_t i, n;

	if (v == NULL)
		return (f->qr_key = strdup(f->name)) ? 0
		    : cs_err_set(CS_ENOMEM, "out of memory");
	k = json_string_value(v);
	n = k ? strlen(k) : 0;
	if (!f->in_qr)
		return cs_err_set(CS_EINVAL, "%sqr_key applies to in_qr fields only", at);
	if (n < 1 || n > 4 || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return cs_err_set(CS_EINVAL, "%sqr_key must be 1-4 of a-z 0-9", at);
	for (i = 0; i < t->n_fields; i++)
		if (t->fields[i].qr_key != NULL && &t->fields[i] != f &&
		    strcmp(t->fields[i].qr_key, k) == 0)
			return cs_err_set(CS_EINVAL, "%sqr_key '%s' repeats fields[%zu]",
			    at, k, i);
	return (f->qr_key = strdup(k)) ? 0 : cs_err_set(CS_ENOMEM, "out of memory");
}

static int
load_field(const json_t *obj, size_t idx, const cs_type *t, cs_field *f)
{
	const json_t *v;
	const char *kind;
	char at[32], owner[32];
	size_t i;
	int rc = 0;

	snprintf(owner, sizeof(owner), "fields[%zu]", idx);
	snprintf(at, sizeof(at), "fields[%zu].", idx);
	if (!json_is_object(obj)) {
		rc = cs_err_set(CS_EINVAL, "fields[%zu] must be an object", idx);
		goto out;
	}
	if ((rc = check_members(obj, field_members, owner)) != 0 ||
	    (rc = get_text(obj, "name", at, &f->name)) != 0)
		goto out;
	if (!field_name_ok(f->name)) {
		rc = cs_err_set(CS_EINVAL, "%sname '%s' must be snake_case: a-z, 0-9 "
		    "and _, starting with a letter, at most %d", at, f->name,
		    FIELD_NAME_MAX);
		goto out;
	}
	for (i = 0; i < idx; i++) {
		if (strcmp(t->fields[i].name, f->name) == 0) {
			rc = cs_err_set(CS_EINVAL, "%sname '%s' repeats fields[%zu]", at,
			    f->name, i);
			goto out;
		}
	}
	if ((rc = get_text(obj, "label", at, &f->label)) != 0)
		goto out;
	kind = json_string_value(json_object_get(obj, "kind"));
	for (i = 0; kind != NULL && i < N_KINDS; i++)
		if (strcmp(kinds[i].name, kind) == 0)
			break;
	if (kind == NULL || i == N_KINDS) {
		rc = cs_err_set(CS_EINVAL, "%skind '%s' is not one of " KIND_LIST, at,
		    kind != NULL ? kind : "(not a string)");
		goto out;
	}
	f->kind = kinds[i].kind;
	if ((rc = get_bool(obj, "required", at, &f->required)) != 0 ||
	    (rc = get_bool(obj, "in_qr", at, &f->in_qr)) != 0 ||
	    (rc = get_length(obj, "max_length", at, 1, &f->max_length)) != 0 ||
	    (rc = get_length(obj, "min_length", at, 0, &f->min_length)) != 0)
		goto out;
	/* Lengths and patterns constrain free input; a date has one shape and
	 * an enum its options, so there they would only mislead. */
	if (f->kind != CS_FIELD_TEXT && f->kind != CS_FIELD_INTEGER) {
		if (json_object_get(obj, "max_length") != NULL ||
		    json_object_get(obj, "min_length") != NULL ||
		    json_object_get(obj, "pattern") != NULL) {
			rc = cs_err_set(CS_EINVAL, "%smax_length, min_length and pattern "
			    "apply to text and integer fields only", at);
			goto out;
		}
	}
	if (f->max_length > 0 && f->min_length > f->max_length) {
		rc = cs_err_set(CS_EINVAL, "%smin_length %ld is over max_length %ld",
		    at, f->min_length, f->max_length);
		goto out;
	}
	/* The QR code carries in_qr fields (SPEC §4): unbounded text there
	 * could push a licence's code past any printable size. */
	if (f->in_qr && f->kind == CS_FIELD_TEXT && f->max_length == 0) {
		rc = cs_err_set(CS_EINVAL, "%sin_qr text needs a max_length: the QR "
		    "code must stay small", at);
		goto out;
	}
	if ((rc = load_qr_key(t, obj, at, f)) != 0)
		goto out;
	if ((v = json_object_get(obj, "pattern")) != NULL) {
		if (!json_is_string(v)) {
			rc = cs_err_set(CS_EINVAL, "%spattern must be a string", at);
			goto out;
		}
		if ((rc = load_pattern(json_string_value(v), at, f)) != 0)
			goto out;
	}
	v = json_object_get(obj, "options");
	if (f->kind == CS_FIELD_ENUM)
		rc = load_options(v, at, f);
	else if (v != NULL)
		rc = cs_err_set(CS_EINVAL, "%soptions apply to enum fields only", at);
out:
	return rc;
}

/* Read a whole file of at most max bytes. */
static int
slurp(const char *path, size_t max, char **out)
{
	FILE *fp = NULL;
	char *buf = NULL;
	size_t n;
	int rc = 0;

	*out = NULL;
	if ((fp = fopen(path, "rb")) == NULL) {
		rc = cs_err_set(CS_EINVAL, "%s", strerror(errno));
		goto out;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp)) {
		rc = cs_err_set(CS_EINVAL, "%s", strerror(errno));
		goto out;
	}
	if (n > max) {
		rc = cs_err_set(CS_EINVAL, "larger than %zu KiB", max / 1024);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
out:
	if (fp != NULL)
		fclose(fp);
	free(buf);
	return rc;
}

static int
face_placeholder_known(const cs_type *t, const char *name, size_t len)
{
	char buf[FIELD_NAME_MAX + 16];
	size_t i;
	int known = 0;

	if (len >= sizeof(buf))
		goto out;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (i = 0; !known && face_names[i] != NULL; i++)
		known = strcmp(face_names[i], buf) == 0;
	if (!known)
		known = strncmp(buf, "fields.", 7) == 0 &&
		    cs_type_field(t, buf + 7) != NULL;
out:
	return known;
}

/* The face layout holds exactly one QR slot and only placeholders the face
 * renderer can fill (face.h). */
static int
face_check(const cs_type *t, const char *face)
{
	const char *svg = t->face_svg, *p, *end;
	char fields[256];
	size_t slots = 0;
	int rc = 0;

	if (strstr(svg, "<svg") == NULL) {
		rc = cs_err_set(CS_EINVAL, "face '%s' is not an SVG document", face);
		goto out;
	}
	for (p = svg; (p = strstr(p, "id=\"qr-slot\"")) != NULL; p++)
		slots++;
	for (p = svg; (p = strstr(p, "id='qr-slot'")) != NULL; p++)
		slots++;
	if (slots != 1) {
		rc = cs_err_set(CS_EINVAL, "face '%s' has %zu qr-slot elements, "
		    "expected exactly one <rect id=\"qr-slot\" .../>", face, slots);
		goto out;
	}
	for (p = svg; (p = strstr(p, "{{")) != NULL; p = end + 2) {
		if ((end = strstr(p + 2, "}}")) == NULL) {
			rc = cs_err_set(CS_EINVAL, "face '%s' has a '{{' without its '}}'",
			    face);
			goto out;
		}
		if (!face_placeholder_known(t, p + 2, (size_t)(end - p - 2))) {
			rc = cs_err_set(CS_EINVAL, "face '%s' has an unknown placeholder "
			    "'%.*s' (known: type_name, number, id, holder.name, "
			    "holder.code, issuer.name, valid_from, valid_until, "
			    "issued_at, fields.<one of %s>)", face,
			    (int)(end - p + 2 > 80 ? 80 : end - p + 2), p,
			    cs_catalog_field_list(t, fields, sizeof(fields)));
			goto out;
		}
	}
out:
	return rc;
}

static int
load_face(const json_t *obj, const char *dir, cs_type *t)
{
	const char *face = json_string_value(json_object_get(obj, "face"));
	size_t n;
	int rc = 0;

	/* Beside the JSON file, never elsewhere: a catalog must not read
	 * arbitrary files into what the service renders. */
	if (face == NULL || face[0] == '\0' || face[0] == '.' ||
	    strchr(face, '/') != NULL || (n = strlen(face)) < 5 ||
	    strcmp(face + n - 4, ".svg") != 0) {
		rc = cs_err_set(CS_EINVAL, "face must be the name of an .svg file "
		    "beside the JSON file");
		goto out;
	}
	n = strlen(dir) + strlen(face) + 2;
	if ((t->face_path = malloc(n)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(t->face_path, n, "%s/%s", dir, face);
	if ((rc = slurp(t->face_path, FACE_MAX, &t->face_svg)) != 0) {
		rc = cs_err_wrap(CS_EINVAL, "face '%s' cannot be read: ", face);
		goto out;
	}
	rc = face_check(t, face);
out:
	return rc;
}

static int
load_code(const json_t *obj, cs_type *t)
{
	const json_t *auth;
	const char *acode;
	char id[CS_LICENCE_ID_MAX];
	size_t n;
	int rc;

	if ((rc = get_text(obj, "code", "", &t->code)) != 0)
		goto out;
	if ((n = cs_utf8_count(t->code, strlen(t->code))) != CS_TYPE_CODE_LEN) {
		rc = cs_err_set(CS_EINVAL, "code '%s' is %zu characters, expected %d",
		    t->code, n, CS_TYPE_CODE_LEN);
		goto out;
	}
	/* The code must be usable in an identifier: formatting a sample one
	 * applies the very rules of SPEC §2a. */
	if ((rc = cs_licence_id_format(t->code, "11100000000013338W", "1", 1,
	    id)) != 0) {
		rc = cs_err_wrap(CS_EINVAL, "code '%s': ", t->code);
		goto out;
	}
	if ((auth = json_object_get(obj, "authority")) == NULL)
		goto out;
	if (!json_is_object(auth)) {
		rc = cs_err_set(CS_EINVAL, "authority must be an object");
		goto out;
	}
	if ((rc = check_members(auth, authority_members, "authority")) != 0)
		goto out;
	if (!json_is_string(json_object_get(auth, "name"))) {
		rc = cs_err_set(CS_EINVAL, "authority.name must be a string");
		goto out;
	}
	/* A type code starts with its defining authority's USCC (SPEC §2a). */
	acode = json_string_value(json_object_get(auth, "code"));
	if (json_object_get(auth, "code") != NULL && (acode == NULL ||
	    strlen(acode) != CS_USCC_LEN || strncmp(acode, t->code, CS_USCC_LEN) != 0))
		rc = cs_err_set(CS_EINVAL, "authority.code must be the first %d "
		    "characters of code '%s'", CS_USCC_LEN, t->code);
out:
	return rc;
}

static int
load_holder_types(const json_t *obj, cs_type *t)
{
	const json_t *arr = json_object_get(obj, "holder_code_types");
	const char *s;
	size_t i;
	int rc = 0;

	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = cs_err_set(CS_EINVAL, "holder_code_types must be a non-empty "
		    "array of \"USCC\" and/or \"RID\"");
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		s = json_string_value(json_array_get(arr, i));
		if (s != NULL && strcmp(s, "USCC") == 0 && !t->accepts_uscc) {
			t->accepts_uscc = 1;
		} else if (s != NULL && strcmp(s, "RID") == 0 && !t->accepts_rid) {
			t->accepts_rid = 1;
		} else {
			rc = cs_err_set(CS_EINVAL, "holder_code_types[%zu] must be "
			    "\"USCC\" or \"RID\", each at most once", i);
			goto out;
		}
	}
out:
	return rc;
}

static int
load_type(const json_t *obj, const char *dir, cs_type *t)
{
	const json_t *v, *arr;
	size_t i;
	int rc = 0;

	if (!json_is_object(obj)) {
		rc = cs_err_set(CS_EINVAL, "must hold one JSON object");
		goto out;
	}
	if ((rc = check_members(obj, type_members, "")) != 0 ||
	    (rc = load_code(obj, t)) != 0 ||
	    (rc = get_text(obj, "name", "", &t->name)) != 0 ||
	    (rc = get_text(obj, "name_en", "", &t->name_en)) != 0 ||
	    (rc = load_holder_types(obj, t)) != 0)
		goto out;
	v = json_object_get(obj, "validity_years");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > VALIDITY_MAX) {
		rc = cs_err_set(CS_EINVAL, "validity_years must be an integer from 0 "
		    "(no expiry) to %d", VALIDITY_MAX);
		goto out;
	}
	t->validity_years = (int)json_integer_value(v);
	v = json_object_get(obj, "numbering");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			rc = cs_err_set(CS_EINVAL, "numbering must be a string");
			goto out;
		}
		if ((rc = numbering_expand(json_string_value(v), 0, 2000, NULL, 0)) != 0)
			goto out;
		if ((t->numbering = strdup(json_string_value(v))) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	arr = json_object_get(obj, "fields");
	if (!json_is_array(arr)) {
		rc = cs_err_set(CS_EINVAL, "fields must be an array");
		goto out;
	}
	if (json_array_size(arr) > 0 &&
	    (t->fields = calloc(json_array_size(arr), sizeof(*t->fields))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		/* Counted before loading so a half-loaded field is freed too. */
		t->n_fields++;
		if ((rc = load_field(json_array_get(arr, i), i, t, &t->fields[i])) != 0)
			goto out;
	}
	if ((rc = load_face(obj, dir, t)) != 0)
		goto out;
	if ((t->served = json_deep_copy(obj)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; unserved[i] != NULL; i++)
		json_object_del(t->served, unserved[i]);
	/* Without a numbering rule the caller gives the number: a client built
	 * from the catalog must know before its first 422.  With one, the
	 * rule says what the numbers it gets back look like. */
	if (json_object_set_new(t->served, "number", json_pack("{sb si ss*}",
	    "required", t->numbering == NULL, "max_length",
	    CS_NUMBER_MAX_CHARS, "rule", t->numbering)) != 0)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	return rc;
}

static void
field_free(cs_field *f)
{
	size_t i;

	free(f->name);
	free(f->label);
	free(f->qr_key);
	if (f->pattern != NULL)
		regfree(&f->re);
	free(f->pattern);
	for (i = 0; i < f->n_options; i++)
		free(f->options[i]);
	free(f->options);
}

static void
type_free(cs_type *t)
{
	size_t i;

	for (i = 0; i < t->n_fields; i++)
		field_free(&t->fields[i]);
	free(t->fields);
	free(t->code);
	free(t->name);
	free(t->name_en);
	free(t->numbering);
	free(t->face_path);
	free(t->face_svg);
	json_decref(t->served);
	memset(t, 0, sizeof(*t));
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names of dir, sorted: a stable order for GET /api/v1/types. */
static int
list_json(const char *dir, char ***out, size_t *nout)
{
	DIR *d = NULL;
	struct dirent *e;
	char **names = NULL, **grown;
	size_t n = 0, cap = 0, len;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		rc = cs_err_set(CS_EIO, "%s: cannot read the catalog directory: %s",
		    dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 ||
		    strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(names, cap * sizeof(*names))) == NULL) {
				rc = cs_err_set(CS_ENOMEM, "out of memory");
				goto out;
			}
			names = grown;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*nout = n;
	names = NULL;
out:
	while (names != NULL && n > 0)
		free(names[--n]);
	free(names);
	if (d != NULL)
		closedir(d);
	return rc;
}

int
cs_catalog_load(const char *dir, cs_catalog **out)
{
	cs_catalog *cat = NULL;
	json_t *obj = NULL, *arr;
	json_error_t jerr;
	char **names = NULL, *path = NULL, *base = NULL;
	size_t n = 0, i, j, len;
	int rc = 0;

	*out = NULL;
	/* "templates/" and "templates" name the same files in messages. */
	if ((base = strdup(dir)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (len = strlen(base); len > 1 && base[len - 1] == '/'; len--)
		base[len - 1] = '\0';
	if ((rc = list_json(base, &names, &n)) != 0)
		goto out;
	if (n == 0) {
		rc = cs_err_set(CS_EINVAL, "%s: no licence types (no *.json files)",
		    base);
		goto out;
	}
	if ((cat = calloc(1, sizeof(*cat))) == NULL ||
	    (cat->types = calloc(n, sizeof(*cat->types))) == NULL ||
	    (cat->served = json_object()) == NULL ||
	    json_object_set_new(cat->served, "types", json_array()) != 0 ||
	    json_object_set_new(cat->served, "conventions", conventions()) != 0) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	arr = json_object_get(cat->served, "types");
	for (i = 0; i < n; i++) {
		free(path);
		len = strlen(base) + strlen(names[i]) + 2;
		if ((path = malloc(len)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(path, len, "%s/%s", base, names[i]);
		json_decref(obj);
		obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL) {
			rc = cs_err_set(CS_EINVAL, "%s: line %d column %d: %s", path,
			    jerr.line, jerr.column, jerr.text);
			goto out;
		}
		cat->n++;
		if ((rc = load_type(obj, base, &cat->types[i])) != 0) {
			rc = cs_err_wrap(rc == CS_ENOMEM ? rc : CS_EINVAL, "%s: ", path);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(cat->types[j].code, cat->types[i].code) == 0) {
				rc = cs_err_set(CS_EINVAL, "%s: duplicate type code %s in "
				    "%s and %s", base, cat->types[i].code, names[j],
				    names[i]);
				goto out;
			}
		}
		if (json_array_append(arr, cat->types[i].served) != 0) {
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = cat;
	cat = NULL;
out:
	cs_catalog_free(cat);
	json_decref(obj);
	free(path);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(base);
	return rc;
}

void
cs_catalog_free(cs_catalog *cat)
{
	size_t i;

	if (cat == NULL)
		return;
	for (i = 0; i < cat->n; i++)
		type_free(&cat->types[i]);
	free(cat->types);
	json_decref(cat->served);
	free(cat);
}

const cs_type *
cs_catalog_find(const cs_catalog *cat, const char *code)
{
	const cs_type *found = NULL;
	size_t i;

	for (i = 0; cat != NULL && code != NULL && found == NULL && i < cat->n; i++)
		if (strcmp(cat->types[i].code, code) == 0)
			found = &cat->types[i];
	return found;
}

const cs_field *
cs_type_field(const cs_type *t, const char *name)
{
	const cs_field *found = NULL;
	size_t i;

	for (i = 0; t != NULL && name != NULL && found == NULL && i < t->n_fields; i++)
		if (strcmp(t->fields[i].name, name) == 0)
			found = &t->fields[i];
	return found;
}
