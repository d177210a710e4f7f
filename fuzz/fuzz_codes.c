/*
 * fuzz_codes: holder codes (USCC, resident ID) and licence identifiers
 * (SPEC §2, §2a) from hostile text.
 *
 * Properties: a code that passes ends in the check character the check
 * computes for it; an identifier that parses formats back to exactly the
 * same text (identifiers have one spelling) and one that formats parses
 * back to its parts; every reason is valid UTF-8, since reasons travel
 * into JSON answers, and no check writes past the code it normalises.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"

static void
reason_is_utf8(int rc, const char *what)
{
	json_t *j;

	if (rc == 0)
		return;
	if ((j = json_string(cs_err_msg())) == NULL)
		fuzz_fail("%s: the reason is not valid UTF-8", what);
	json_decref(j);
}

static void
check_code(const char *s, const char *type)
{
	char *c = strdup(s);
	size_t n = strlen(s);
	char want;
	int rc;

	if (c == NULL)
		fuzz_fail("out of memory");
	rc = cs_code_check(type, c);
	reason_is_utf8(rc, type);
	if (strlen(c) != n)
		fuzz_fail("%s: normalising changed the length", type);
	if (rc == 0) {
		if (n != 18)
			fuzz_fail("%s: a code of %zu characters passed", type, n);
		want = strcmp(type, "USCC") == 0 ? cs_uscc_check_char(c) :
		    cs_rid_check_char(c);
		if (want != c[17])
			fuzz_fail("%s: passed with check character %c, not %c",
			    type, c[17], want);
	}
	free(c);
}

/* The parts of "type\nissuer\nserial\nversion" for the format direction. */
static void
format_parts(const char *s)
{
	char *copy = strdup(s), *part[4] = {NULL, NULL, NULL, NULL}, *p, *nl;
	char out[CS_LICENCE_ID_MAX];
	cs_licence_id id;
	size_t i;
	int rc, version;

	if (copy == NULL)
		fuzz_fail("out of memory");
	for (p = copy, i = 0; i < 4 && p != NULL; i++) {
		part[i] = p;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		p = nl;
	}
	if (part[3] == NULL)
		goto out;
	version = atoi(part[3]);
	rc = cs_licence_id_format(part[0], part[1], part[2], version, out);
	reason_is_utf8(rc, "format");
	if (rc != 0)
		goto out;
	if (cs_licence_id_parse(out, &id) != 0)
		fuzz_fail("formatted '%s' does not parse: %s", out, cs_err_msg());
	if (strcmp(id.type, part[0]) != 0 || strcmp(id.issuer, part[1]) != 0 ||
	    strcmp(id.serial, part[2]) != 0 || id.version != version)
		fuzz_fail("'%s' parses to other parts", out);
out:
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), *masked;
	char out[CS_LICENCE_ID_MAX];
	cs_licence_id id;
	size_t n = strlen(s);
	int rc;

	check_code(s, "USCC");
	check_code(s, "RID");
	check_code(s, "other");
	if ((masked = malloc(n + 1)) == NULL)
		fuzz_fail("out of memory");
	cs_code_mask(s, masked);
	if (strlen(masked) != n || (n > 10 && strncmp(masked, s, 6) != 0))
		fuzz_fail("mask changed the length or the first characters");
	free(masked);
	if (n >= 17) {
		cs_uscc_check_char(s);
		cs_rid_check_char(s);
	}
	cs_mod37_36_check_char(s, n);
	rc = cs_licence_id_parse(s, &id);
	reason_is_utf8(rc, "parse");
	if (rc == 0) {
		if (cs_licence_id_format(id.type, id.issuer, id.serial, id.version,
		    out) != 0)
			fuzz_fail("parsed '%s' does not format: %s", s, cs_err_msg());
		if (strcmp(out, s) != 0)
			fuzz_fail("'%s' parsed, but formats as '%s'", s, out);
	}
	format_parts(s);
	free(s);
	return 0;
}
