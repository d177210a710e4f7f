/*
 * codes: the identifiers of SPEC §2 and their check characters.
 *
 * Each check returns 0, or CS_EVALIDATION with a reason a person can act on
 * in cs_err_msg() ("length is 17, expected 18"; "character 5 'I' is not
 * allowed"; "check character is 'A', expected 'Y'"; "birth date 19490231 is
 * not a real date").  The reason never repeats the field name: the caller
 * knows which field it checked.
 */
#ifndef CS_CODES_H
#define CS_CODES_H

#include <stddef.h>

#define CS_USCC_LEN 18
#define CS_RID_LEN 18
/* An administrative division code (行政区划代码, GB/T 2260). */
#define CS_DIVISION_LEN 6
#define CS_TYPE_CODE_LEN 21
#define CS_SERIAL_MAX 32
/* "1.2.156.3005.2." + 21 + "." + 18 + "." + 32 + "." + 3 + "." + 1 */
#define CS_LICENCE_ID_MAX 96
#define CS_LICENCE_ID_ROOT "1.2.156.3005.2"

/* Unified social credit code (GB 32100-2015).  code is normalised to upper
 * case in place before it is checked. */
int cs_code_check_uscc(char *code);
/* Resident identity number (GB 11643-1999), upper-cased in place; checks
 * the birth date in digits 7-14 is a real calendar date and not after today
 * (Asia/Shanghai, UTC+8).  Old birth years are accepted: real numbers of
 * people born in the 1880s exist (440524188001010014).  The date is checked
 * before the check character, so a mistyped date is named as such. */
int cs_code_check_rid(char *code);
/* Dispatch on a code type name: "USCC" or "RID". */
int cs_code_check(const char *code_type, char *code);
/* National holder code type for "USCC" ("001") and "RID" ("111"). */
const char *cs_code_type_national(const char *code_type);

/* The check characters alone: the character, or -1 when an input character
 * is outside the code's alphabet (upper case; callers normalise first). */
char cs_uscc_check_char(const char *first17);
char cs_rid_check_char(const char *first17);
char cs_mod37_36_check_char(const char *s, size_t n);

/* Mask a personal code for public views: first 6 and last 4 characters with
 * '*' between (SPEC §4).  out must hold strlen(code)+1 bytes.  A code of 10
 * characters or fewer is masked whole: there is nothing safe to show. */
void cs_code_mask(const char *code, char *out);

/* A licence identifier (SPEC §2a), split into its parts.  issuer is a USCC,
 * or in identifiers other libraries mint a 6-digit division code. */
typedef struct cs_licence_id {
	char type[CS_TYPE_CODE_LEN + 1];
	char issuer[CS_USCC_LEN + 1];
	char serial[CS_SERIAL_MAX + 1];
	int version;  /* 1..999 */
	char check;
} cs_licence_id;

/* Parse and verify an identifier: root, part lengths and alphabets, the
 * type code's and issuer's own USCC check characters are NOT required (real
 * identifiers carry pilot codes), the MOD 37,36 check character is.
 * Identifiers are case-sensitive upper case and are NOT normalised: certsvc
 * assigns them and prints them, so a lower-case letter is a malformed
 * identifier (named in the reason), never a second spelling of a key.
 * Errors are CS_EINVAL (a malformed identifier is a 400, SPEC §2a); out is
 * filled only on success. */
int cs_licence_id_parse(const char *text, cs_licence_id *out);
/* Format an identifier, computing its check character.  out holds
 * CS_LICENCE_ID_MAX bytes.  The parts are checked as parse checks them
 * (CS_EINVAL with the reason), so a formatted identifier always parses. */
int cs_licence_id_format(const char *type, const char *issuer,
    const char *serial, int version, char *out);

#endif
