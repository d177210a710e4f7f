/*
 * test_codes: holder codes (SPEC §2) and licence identifiers (SPEC §2a).
 * Every invalid case asserts the reason a person would read, so a reason
 * that stops naming the expected check character is a failure.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "codes.h"
#include "cs_err.h"

#define ID_A "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
#define ID_B "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"

struct code_case {
	const char *type;     /* "USCC" or "RID" */
	const char *in;
	const char *norm;     /* expected after the check, valid cases */
	const char *reason;   /* NULL: valid */
};

static const struct code_case code_cases[] = {
	/* USCC: SPEC's examples, and lower case normalised. */
	{"USCC", "91350100M000100Y43", "91350100M000100Y43", NULL},
	{"USCC", "91440300708461136T", "91440300708461136T", NULL},
	{"USCC", "91440300708461136t", "91440300708461136T", NULL},
	{"USCC", "91350100m000100y43", "91350100M000100Y43", NULL},
	{"USCC", "9144030070846113", NULL, "length is 16, expected 18"},
	{"USCC", "91440300708461136T1", NULL, "length is 19, expected 18"},
	{"USCC", "", NULL, "is empty"},
	{"USCC", "91440300I08461136T", NULL,
	    "character 9 'I' is not allowed (allowed: 0-9 and A-Z except I, O, S, V, Z)"},
	{"USCC", "91440300O08461136T", NULL, "character 9 'O' is not allowed"},
	{"USCC", "91440300S08461136T", NULL, "character 9 'S' is not allowed"},
	{"USCC", "9144030V708461136T", NULL, "character 8 'V' is not allowed"},
	{"USCC", "z1440300708461136T", NULL, "character 1 'Z' is not allowed"},
	{"USCC", "91440300-08461136T", NULL, "character 9 '-' is not allowed"},
	{"USCC", "9144030070846113 T", NULL, "character 17 ' ' is not allowed"},
	{"USCC", "91440300中08461136T", NULL, "character 9 '中' is not allowed"},
	{"USCC", "91440300708461136A", NULL, "check character is 'A', expected 'T'"},
	{"USCC", "91350100M000100Y44", NULL, "check character is '4', expected '3'"},
	/* RID: SPEC's examples (one born 1880), x normalised. */
	{"RID", "11010519491231002X", "11010519491231002X", NULL},
	{"RID", "11010519491231002x", "11010519491231002X", NULL},
	{"RID", "440524188001010014", "440524188001010014", NULL},
	{"RID", "110105194912310021", NULL, "check character is '1', expected 'X'"},
	{"RID", "440524188001010015", NULL, "check character is '5', expected '4'"},
	{"RID", "110105194902310021", NULL, "birth date 19490231 is not a real date"},
	{"RID", "110105190002290021", NULL, "birth date 19000229 is not a real date"},
	{"RID", "110105194913010021", NULL, "birth date 19491301 is not a real date"},
	{"RID", "11010519A91231002X", NULL,
	    "character 9 'A' is not a digit (characters 1-17 must be digits)"},
	{"RID", "11010519491231002Y", NULL, "character 18 'Y' must be a digit or X"},
	{"RID", "110105491231002", NULL, "length is 15, expected 18 (a 15-digit"},
	{"RID", "11010520991231002X", NULL, "birth date 20991231 is in the future"},
	/* Dispatch on an unknown type. */
	{"ORG", "91440300708461136T", NULL, "code type is not one of USCC, RID"},
};

TEST(holder_codes)
{
	char buf[64];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(code_cases) / sizeof(code_cases[0]); i++) {
		const struct code_case *c = &code_cases[i];

		snprintf(buf, sizeof(buf), "%s", c->in);
		cs_err_clear();
		rc = cs_code_check(c->type, buf);
		if (c->reason == NULL) {
			CHECK_INT_EQ(rc, 0);
			CHECK_STR_EQ(buf, c->norm);
			if (rc != 0)
				fprintf(stderr, "  case %zu %s: %s\n", i, c->in, cs_err_msg());
		} else {
			CHECK_INT_EQ(rc, CS_EVALIDATION);
			CHECK_CONTAINS(cs_err_msg(), c->reason);
		}
	}
}

TEST(check_chars)
{
	CHECK_INT_EQ(cs_uscc_check_char("91350100M000100Y4"), '3');
	CHECK_INT_EQ(cs_uscc_check_char("9144030070846113I"), -1);
	CHECK_INT_EQ(cs_rid_check_char("11010519491231002"), 'X');
	CHECK_INT_EQ(cs_rid_check_char("1101051949123100A"), -1);
	CHECK_INT_EQ(cs_mod37_36_check_char("11100000000013338W032"
	    "11220000013544541J" "2430599" "001", 49), 'F');
	CHECK_INT_EQ(cs_mod37_36_check_char("ab", 2), -1);
}

/* Today's date must pass, so a check that compares days the wrong way
 * round (or in the wrong zone by a whole day) shows up. */
TEST(rid_born_recently)
{
	char code[19], date[9];
	time_t t = time(NULL) - 2 * 86400;  /* two days ago: safe in any zone */
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	memcpy(code, "110105", 6);
	memcpy(code + 6, date, 8);
	memcpy(code + 14, "002", 3);
	code[17] = cs_rid_check_char(code);
	code[18] = '\0';
	CHECK_INT_EQ(cs_code_check_rid(code), 0);
}

TEST(national_types)
{
	CHECK_STR_EQ(cs_code_type_national("USCC"), "001");
	CHECK_STR_EQ(cs_code_type_national("RID"), "111");
	CHECK(cs_code_type_national("uscc") == NULL);
	CHECK(cs_code_type_national(NULL) == NULL);
}

TEST(mask)
{
	static const struct { const char *in, *out; } cases[] = {
		{"11010519491231002X", "110105********002X"},
		{"440524188001010014", "440524********0014"},
		{"12345678901", "123456*8901"},
		{"1234567890", "**********"},
		{"", ""},
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cs_code_mask(cases[i].in, out);
		CHECK_STR_EQ(out, cases[i].out);
	}
}

TEST(licence_id_real)
{
	static const struct {
		const char *text, *type, *issuer, *serial;
		int version;
		char check;
	} cases[] = {
		{ID_A, "11100000000013338W032", "11220000013544541J", "2430599", 1, 'F'},
		{ID_B, "11100000000013338W009", "11330105002500287C", "2025052201", 2, '0'},
		/* SPEC §2a: another library's issuer as a 6-digit division
		 * code (check characters computed by hand from §2a). */
		{"1.2.156.3005.2.11100000000013338W032.440300.2430599.001.6",
		    "11100000000013338W032", "440300", "2430599", 1, '6'},
		{"1.2.156.3005.2.11100000000013338W009.350200.2025052201.002.F",
		    "11100000000013338W009", "350200", "2025052201", 2, 'F'},
	};
	cs_licence_id id;
	char out[CS_LICENCE_ID_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&id, 0xAA, sizeof(id));
		CHECK_INT_EQ(cs_licence_id_parse(cases[i].text, &id), 0);
		CHECK_STR_EQ(id.type, cases[i].type);
		CHECK_STR_EQ(id.issuer, cases[i].issuer);
		CHECK_STR_EQ(id.serial, cases[i].serial);
		CHECK_INT_EQ(id.version, cases[i].version);
		CHECK_INT_EQ(id.check, cases[i].check);
		/* format() reproduces the identifier from its parts. */
		CHECK_INT_EQ(cs_licence_id_format(cases[i].type, cases[i].issuer,
		    cases[i].serial, cases[i].version, out), 0);
		CHECK_STR_EQ(out, cases[i].text);
	}
}

static const struct { const char *text, *reason; } bad_ids[] = {
	/* One changed character: the serial 2430599 -> 2430598. */
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430598.001.F",
	    "check character is 'F', expected '"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G",
	    "check character is 'G', expected 'F'"},
	{"1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.003.0",
	    "check character is '0', expected '"},
	{"1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F",
	    "must start with 1.2.156.3005.2"},
	{"11100000000013338W032.11220000013544541J.2430599.001.F",
	    "must start with 1.2.156.3005.2"},
	{"", "is empty"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.F",
	    "has 4 parts after the root, expected 5"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F.0",
	    "has 6 parts after the root, expected 5"},
	{"1.2.156.3005.2.1100000000013338W032.11220000013544541J.2430599.001.F",
	    "type code is 20 characters, expected 21"},
	{"1.2.156.3005.2.11100000000013338W032.1122000001354454J.2430599.001.F",
	    "issuer code is 17 characters, expected 18 (a USCC) or 6"},
	{"1.2.156.3005.2.11100000000013338W032.4403001.2430599.001.6",
	    "issuer code is 7 characters, expected 18 (a USCC) or 6"},
	{"1.2.156.3005.2.11100000000013338W032.44030A.2430599.001.6",
	    "issuer code character 6 'A' is outside 0-9 (a division code)"},
	{"1.2.156.3005.2.11100000000013338W032.440300.2430599.001.7",
	    "check character is '7', expected '6'"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J..001.F",
	    "serial is empty"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J."
	    "123456789012345678901234567890123.001.F",
	    "serial is 33 characters, at most 32"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.ab.001.F",
	    "serial character 1 'a' is outside 0-9A-Z; identifiers are upper case"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.24-0599.001.F",
	    "serial character 3 '-' is outside 0-9A-Z"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F",
	    "version must be 3 digits"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.0A1.F",
	    "version must be 3 digits"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.000.F",
	    "version must be 001 or more"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.FF",
	    "check character is 2 characters, expected 1"},
	{"1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.f",
	    "check character 'f' is outside 0-9A-Z; identifiers are upper case"},
	{"1.2.156.3005.2.11100000000013338w032.11220000013544541J.2430599.001.F",
	    "type code character 18 'w' is outside 0-9 and A-Z except I, O, S, V, Z"},
	{"1.2.156.3005.2.11100000000013338W03X.11220000013544541J.2430599.001.F",
	    "type code character 21 'X' is outside 0-9"},
	{"1.2.156.3005.2.11100000000013338W032.1122000001354454IJ.2430599.001.F",
	    "issuer code character 17 'I' is outside"},
};

TEST(licence_id_bad)
{
	cs_licence_id id;
	size_t i;

	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		memset(&id, 0, sizeof(id));
		cs_err_clear();
		CHECK_INT_EQ(cs_licence_id_parse(bad_ids[i].text, &id), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), bad_ids[i].reason);
		/* Nothing of a rejected identifier leaks into out. */
		CHECK_STR_EQ(id.type, "");
	}
}

TEST(licence_id_format_bad)
{
	char out[CS_LICENCE_ID_MAX];

	CHECK_INT_EQ(cs_licence_id_format("11100000000013338W032", "11220000013544541J",
	    "2430599", 0, out), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "version 0 is outside 1-999");
	CHECK_INT_EQ(cs_licence_id_format("11100000000013338W032", "11220000013544541J",
	    "2430599", 1000, out), CS_EINVAL);
	CHECK_INT_EQ(cs_licence_id_format("11100000000013338W032", "11220000013544541J",
	    "abc", 1, out), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "serial character 1 'a'");
	CHECK_INT_EQ(cs_licence_id_format("11100000000013338W03", "11220000013544541J",
	    "1", 1, out), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "type code is 20 characters, expected 21");
	/* Longest serial: the result fits CS_LICENCE_ID_MAX and parses back. */
	CHECK_INT_EQ(cs_licence_id_format("11100000000013338W032", "11220000013544541J",
	    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 999, out), 0);
	{
		cs_licence_id id;

		CHECK_INT_EQ(cs_licence_id_parse(out, &id), 0);
		CHECK_INT_EQ(id.version, 999);
		CHECK_STR_EQ(id.serial, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ");
	}
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(holder_codes);
	RUN(check_chars);
	RUN(rid_born_recently);
	RUN(national_types);
	RUN(mask);
	RUN(licence_id_real);
	RUN(licence_id_bad);
	RUN(licence_id_format_bad);
	return check_summary();
}
