/*
 * codes.c: the holder codes and licence identifiers of SPEC §2 and §2a.
 *
 * Every reason names the position and the character at fault and, for a
 * check character, the one expected: a person at a counter can then see a
 * typo at once.  Reasons quote input, so they only ever quote it as valid
 * UTF-8 (they travel into JSON answers) and never in unbounded length.
 */
#include "codes.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cs_err.h"
#include "problems.h"
#include "text.h"

/* GB 32100-2015: 31 characters, I O S V Z left out (they read as 1 0 5 U 2). */
static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int uscc_weights[17] = {
	1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
};
#define USCC_ALLOWED "0-9 and A-Z except I, O, S, V, Z"

/* GB 11643-1999 (ISO 7064 MOD 11-2). */
static const char rid_checks[] = "10X98765432";
static const int rid_weights[17] = {
	7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
};

/* ISO/IEC 7064 MOD 37,36 (GB/T 17710) works over 0-9A-Z valued 0-35. */
static const char mod36_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* China has kept one offset, UTC+8, all year since 1991. */
#define CN_UTC_OFFSET (8 * 3600)

static int
uscc_value(char c)
{
	const char *p = c != '\0' ? strchr(uscc_alphabet, c) : NULL;

	return p != NULL ? (int)(p - uscc_alphabet) : -1;
}

static int
mod36_value(char c)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'A' && c <= 'Z')
		v = c - 'A' + 10;
	return v;
}

static void
upcase(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* Length in characters (cs_utf8_count), so "length is 17" matches what a
 * person sees. */
static size_t
char_count(const char *s)
{
	return cs_utf8_count(s, strlen(s));
}

/* Length in bytes of the well-formed UTF-8 sequence at p (a string), or 0. */
static size_t
utf8_seq(const char *p)
{
	return cs_utf8_decode(p, strnlen(p, 4), NULL);
}

/* Describe the character at p for a reason: 'A' or '中' when printable,
 * U+000A for a control character, byte 0xFF for broken UTF-8. */
static const char *
describe(const char *p, char out[24])
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = utf8_seq(p);

	if (n == 0)
		snprintf(out, 24, "byte 0x%02X", u[0]);
	else if (n == 1 && (u[0] < 0x20 || u[0] == 0x7F))
		snprintf(out, 24, "U+%04X", u[0]);
	else if (n == 1 && u[0] == '\'')
		snprintf(out, 24, "\"'\"");
	else
		snprintf(out, 24, "'%.*s'", (int)n, p);
	return out;
}

/* Advance from the start of character pos (1-based) to the next one. */
static const char *
next_char(const char *p)
{
	size_t n = utf8_seq(p);

	return p + (n == 0 ? 1 : n);
}

char
cs_uscc_check_char(const char *first17)
{
	int i, v, sum = 0;
	char check = -1;

	for (i = 0; i < 17; i++) {
		if ((v = uscc_value(first17[i])) < 0)
			goto out;
		sum += v * uscc_weights[i];
	}
	check = uscc_alphabet[(31 - sum % 31) % 31];
out:
	return check;
}

char
cs_rid_check_char(const char *first17)
{
	int i, sum = 0;
	char check = -1;

	for (i = 0; i < 17; i++) {
		if (first17[i] < '0' || first17[i] > '9')
			goto out;
		sum += (first17[i] - '0') * rid_weights[i];
	}
	check = rid_checks[sum % 11];
out:
	return check;
}

/* Exactly the recurrence of SPEC §2a: P = 36; per character a,
 * S = (P + a) mod 36 (36 for 0), P = 2S mod 37; check = (37 - P) mod 36. */
char
cs_mod37_36_check_char(const char *s, size_t n)
{
	size_t i;
	int a, sum, p = 36;
	char check = -1;

	for (i = 0; i < n; i++) {
		if ((a = mod36_value(s[i])) < 0)
			goto out;
		sum = (p + a) % 36;
		if (sum == 0)
			sum = 36;
		p = (2 * sum) % 37;
	}
	check = mod36_alphabet[(37 - p) % 36];
out:
	return check;
}

int
cs_code_check_uscc(char *code)
{
	char d[24], want;
	const char *p;
	size_t n;
	int rc = 0, pos;

	if (code == NULL || code[0] == '\0') {
		rc = cs_err_set(CS_EVALIDATION, "is empty");
		cs_err_set_reason(CS_FC_EMPTY);
		goto out;
	}
	upcase(code);
	if ((n = char_count(code)) != CS_USCC_LEN) {
		rc = cs_err_set(CS_EVALIDATION, "length is %zu, expected %d", n,
		    CS_USCC_LEN);
		cs_err_set_reason(CS_FC_LENGTH);
		goto out;
	}
	for (p = code, pos = 1; *p != '\0'; p = next_char(p), pos++) {
		if (uscc_value(*p) < 0) {
			rc = cs_err_set(CS_EVALIDATION,
			    "character %d %s is not allowed (allowed: " USCC_ALLOWED ")",
			    pos, describe(p, d));
			cs_err_set_reason(CS_FC_CHARSET);
			goto out;
		}
	}
	want = cs_uscc_check_char(code);
	if (code[17] != want) {
		rc = cs_err_set(CS_EVALIDATION, "check character is '%c', expected '%c'",
		    code[17], want);
		cs_err_set_reason(CS_FC_CHECK_CHARACTER);
	}
out:
	return rc;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A proleptic Gregorian date that exists: 19490231 does not, 20000229 does. */
static int
real_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return y >= 1 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* Today in China as YYYYMMDD, comparable with a birth date. */
static long
today_cn(void)
{
	time_t t = time(NULL) + CN_UTC_OFFSET;
	struct tm tm;
	long today = 99991231;  /* no clock: refuse no birth date as future */

	if (gmtime_r(&t, &tm) != NULL)
		today = (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1) * 100 +
		    tm.tm_mday;
	return today;
}

int
cs_code_check_rid(char *code)
{
	char d[24], want;
	const char *p;
	size_t n;
	long birth;
	int rc = 0, pos, y, m, day;

	if (code == NULL || code[0] == '\0') {
		rc = cs_err_set(CS_EVALIDATION, "is empty");
		cs_err_set_reason(CS_FC_EMPTY);
		goto out;
	}
	upcase(code);
	if ((n = char_count(code)) != CS_RID_LEN) {
		/* 15-digit numbers (before 1999) are still seen on old papers. */
		rc = cs_err_set(CS_EVALIDATION, "length is %zu, expected %d%s", n,
		    CS_RID_LEN, n == 15 ? " (a 15-digit number must be converted "
		    "to its 18-digit form)" : "");
		cs_err_set_reason(CS_FC_LENGTH);
		goto out;
	}
	for (p = code, pos = 1; *p != '\0'; p = next_char(p), pos++) {
		if (pos <= 17 && (*p < '0' || *p > '9')) {
			rc = cs_err_set(CS_EVALIDATION, "character %d %s is not a digit "
			    "(characters 1-17 must be digits)", pos, describe(p, d));
			cs_err_set_reason(CS_FC_CHARSET);
			goto out;
		}
		if (pos == 18 && (*p < '0' || *p > '9') && *p != 'X') {
			rc = cs_err_set(CS_EVALIDATION,
			    "character 18 %s must be a digit or X", describe(p, d));
			cs_err_set_reason(CS_FC_CHARSET);
			goto out;
		}
		/* char_count() passes over stray UTF-8 continuation bytes, so
		 * a code of 18 characters can still have bytes after the
		 * check character; such a code must not pass as 18 long. */
		if (pos > CS_RID_LEN) {
			rc = cs_err_set(CS_EVALIDATION, "character %d %s comes after "
			    "the check character", pos, describe(p, d));
			cs_err_set_reason(CS_FC_CHARSET);
			goto out;
		}
	}
	y = (code[6] - '0') * 1000 + (code[7] - '0') * 100 + (code[8] - '0') * 10 +
	    (code[9] - '0');
	m = (code[10] - '0') * 10 + (code[11] - '0');
	day = (code[12] - '0') * 10 + (code[13] - '0');
	if (!real_date(y, m, day)) {
		rc = cs_err_set(CS_EVALIDATION, "birth date %.8s is not a real date",
		    code + 6);
		cs_err_set_reason(CS_FC_DATE);
		goto out;
	}
	birth = y * 10000L + m * 100L + day;
	if (birth > today_cn()) {
		rc = cs_err_set(CS_EVALIDATION, "birth date %.8s is in the future",
		    code + 6);
		cs_err_set_reason(CS_FC_DATE);
		goto out;
	}
	want = cs_rid_check_char(code);
	if (code[17] != want) {
		rc = cs_err_set(CS_EVALIDATION, "check character is '%c', expected '%c'",
		    code[17], want);
		cs_err_set_reason(CS_FC_CHECK_CHARACTER);
	}
out:
	return rc;
}

/* The code types of SPEC §1 with their national codes (SPEC §2a). */
static const struct code_type {
	const char *name;
	const char *national;
	int (*check)(char *);
} code_types[] = {
	{"USCC", "001", cs_code_check_uscc},
	{"RID", "111", cs_code_check_rid},
};

static const struct code_type *
code_type_find(const char *name)
{
	const struct code_type *found = NULL;
	size_t i;

	for (i = 0; name != NULL && found == NULL &&
	    i < sizeof(code_types) / sizeof(code_types[0]); i++)
		if (strcmp(code_types[i].name, name) == 0)
			found = &code_types[i];
	return found;
}

int
cs_code_check(const char *code_type, char *code)
{
	const struct code_type *ct = code_type_find(code_type);

	return ct != NULL ? ct->check(code) :
	    cs_err_set(CS_EVALIDATION, "code type is not one of USCC, RID");
}

const char *
cs_code_type_national(const char *code_type)
{
	const struct code_type *ct = code_type_find(code_type);

	return ct != NULL ? ct->national : NULL;
}

void
cs_code_mask(const char *code, char *out)
{
	size_t i, n = strlen(code);

	for (i = 0; i < n; i++)
		out[i] = (n > 10 && (i < 6 || i >= n - 4)) ? code[i] : '*';
	out[n] = '\0';
}

/*
 * Licence identifiers.  A part is checked by one table row: its name in
 * reasons, its length bounds and which characters it takes, so parse and
 * format apply the very same rules.
 */
/* PART_ISSUER: a USCC, or (SPEC §2a) the 6-digit administrative division
 * code other libraries mint in its place. */
enum part_chars { PART_ISSUER, PART_TYPE, PART_MOD36, PART_DIGITS };

static const struct id_part {
	const char *what;
	size_t min, max;
	enum part_chars chars;
} id_parts[] = {
	{"type code", CS_TYPE_CODE_LEN, CS_TYPE_CODE_LEN, PART_TYPE},
	{"issuer code", CS_DIVISION_LEN, CS_USCC_LEN, PART_ISSUER},
	{"serial", 1, CS_SERIAL_MAX, PART_MOD36},
	{"version", 3, 3, PART_DIGITS},
	{"check character", 1, 1, PART_MOD36},
};
#define N_ID_PARTS (sizeof(id_parts) / sizeof(id_parts[0]))

/* Check one part of n bytes at s against its row; CS_EINVAL with reason. */
static int
id_part_check(const struct id_part *pt, const char *s, size_t n)
{
	char d[24];
	const char *allowed = NULL, *hint;
	size_t i, len = 0, pos = 0;
	int rc = 0, ok;

	len = cs_utf8_count(s, n);
	if (pt->chars == PART_DIGITS && (len != pt->min || n != len)) {
		rc = cs_err_set(CS_EINVAL, "%s must be %zu digits", pt->what, pt->min);
		goto out;
	}
	if (len == 0) {
		rc = cs_err_set(CS_EINVAL, "%s is empty", pt->what);
		goto out;
	}
	if (pt->chars == PART_ISSUER && len != CS_USCC_LEN &&
	    len != CS_DIVISION_LEN) {
		rc = cs_err_set(CS_EINVAL, "%s is %zu characters, expected %d (a "
		    "USCC) or %d (an administrative division code)", pt->what, len,
		    CS_USCC_LEN, CS_DIVISION_LEN);
		goto out;
	}
	if (len < pt->min || len > pt->max) {
		if (pt->min == pt->max)
			rc = cs_err_set(CS_EINVAL, "%s is %zu characters, expected %zu",
			    pt->what, len, pt->min);
		else
			rc = cs_err_set(CS_EINVAL, "%s is %zu characters, at most %zu",
			    pt->what, len, pt->max);
		goto out;
	}
	for (i = 0; i < n; i++) {
		switch (pt->chars) {
		case PART_TYPE:
			/* The defining authority's USCC, then a 3-digit number. */
			ok = i < CS_USCC_LEN ? uscc_value(s[i]) >= 0
					     : (s[i] >= '0' && s[i] <= '9');
			allowed = i < CS_USCC_LEN ? USCC_ALLOWED : "0-9";
			break;
		case PART_ISSUER:
			ok = n == CS_DIVISION_LEN ? s[i] >= '0' && s[i] <= '9' :
			    uscc_value(s[i]) >= 0;
			allowed = n == CS_DIVISION_LEN ? "0-9 (a division code)" :
			    USCC_ALLOWED;
			break;
		case PART_DIGITS:
			ok = s[i] >= '0' && s[i] <= '9';
			allowed = "0-9";
			break;
		default:
			ok = mod36_value(s[i]) >= 0;
			allowed = "0-9A-Z";
			break;
		}
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			pos++;
		if (!ok && pt->chars == PART_DIGITS) {
			rc = cs_err_set(CS_EINVAL, "%s must be %zu digits", pt->what,
			    pt->min);
			goto out;
		}
		if (!ok) {
			hint = (s[i] >= 'a' && s[i] <= 'z') ?
			    "; identifiers are upper case" : "";
			if (pt->max == 1)
				rc = cs_err_set(CS_EINVAL, "%s %s is outside %s%s",
				    pt->what, describe(s + i, d), allowed, hint);
			else
				rc = cs_err_set(CS_EINVAL,
				    "%s character %zu %s is outside %s%s", pt->what,
				    pos, describe(s + i, d), allowed, hint);
			goto out;
		}
	}
	if (pt->chars == PART_DIGITS && strncmp(s, "000", n) == 0)
		rc = cs_err_set(CS_EINVAL, "%s must be 001 or more", pt->what);
out:
	return rc;
}

/* The MOD 37,36 input: the parts without their dots. */
static char
id_check_char(const char *type, const char *issuer, const char *serial,
    const char *version)
{
	char buf[CS_TYPE_CODE_LEN + CS_USCC_LEN + CS_SERIAL_MAX + 3 + 1];
	int n;

	n = snprintf(buf, sizeof(buf), "%s%s%s%s", type, issuer, serial, version);
	return n < 0 || (size_t)n >= sizeof(buf) ? -1 :
	    cs_mod37_36_check_char(buf, (size_t)n);
}

int
cs_licence_id_parse(const char *text, cs_licence_id *out)
{
	static const char root[] = CS_LICENCE_ID_ROOT ".";
	const char *part[N_ID_PARTS], *p, *dot;
	size_t len[N_ID_PARTS], np = 0, i;
	char version[4], want;
	cs_licence_id id;
	int rc = 0;

	if (text == NULL || text[0] == '\0') {
		rc = cs_err_set(CS_EINVAL, "is empty");
		goto out;
	}
	if (strncmp(text, root, sizeof(root) - 1) != 0) {
		rc = cs_err_set(CS_EINVAL, "must start with " CS_LICENCE_ID_ROOT);
		goto out;
	}
	if (strlen(text) >= CS_LICENCE_ID_MAX) {
		rc = cs_err_set(CS_EINVAL, "is %zu characters, at most %d",
		    strlen(text), CS_LICENCE_ID_MAX - 1);
		goto out;
	}
	/* Count every part first: "4 parts, expected 5" says more than a
	 * complaint about whichever part happened to land in the wrong slot. */
	for (p = text + sizeof(root) - 1;; p = dot + 1) {
		dot = strchr(p, '.');
		if (np < N_ID_PARTS) {
			part[np] = p;
			len[np] = dot != NULL ? (size_t)(dot - p) : strlen(p);
		}
		np++;
		if (dot == NULL)
			break;
	}
	if (np != N_ID_PARTS) {
		rc = cs_err_set(CS_EINVAL, "has %zu parts after the root, expected %zu "
		    "(type.issuer.serial.version.check)", np, N_ID_PARTS);
		goto out;
	}
	for (i = 0; i < N_ID_PARTS; i++)
		if ((rc = id_part_check(&id_parts[i], part[i], len[i])) != 0)
			goto out;
	memset(&id, 0, sizeof(id));
	memcpy(id.type, part[0], len[0]);
	memcpy(id.issuer, part[1], len[1]);
	memcpy(id.serial, part[2], len[2]);
	memcpy(version, part[3], 3);
	version[3] = '\0';
	want = id_check_char(id.type, id.issuer, id.serial, version);
	if (part[4][0] != want) {
		rc = cs_err_set(CS_EINVAL, "check character is '%c', expected '%c'",
		    part[4][0], want);
		goto out;
	}
	id.version = (version[0] - '0') * 100 + (version[1] - '0') * 10 +
	    (version[2] - '0');
	id.check = want;
	*out = id;
out:
	return rc;
}

int
cs_licence_id_format(const char *type, const char *issuer, const char *serial,
    int version, char *out)
{
	const char *part[3] = {type, issuer, serial};
	char v[4], check;
	size_t i;
	int rc = 0;

	out[0] = '\0';
	for (i = 0; i < 3; i++) {
		if (part[i] == NULL) {
			rc = cs_err_set(CS_EINVAL, "%s is missing", id_parts[i].what);
			goto out;
		}
		if ((rc = id_part_check(&id_parts[i], part[i], strlen(part[i]))) != 0)
			goto out;
	}
	if (version < 1 || version > 999) {
		rc = cs_err_set(CS_EINVAL, "version %d is outside 1-999", version);
		goto out;
	}
	snprintf(v, sizeof(v), "%03d", version);
	check = id_check_char(type, issuer, serial, v);
	snprintf(out, CS_LICENCE_ID_MAX, "%s.%s.%s.%s.%s.%c", CS_LICENCE_ID_ROOT,
	    type, issuer, serial, v, check);
out:
	return rc;
}
