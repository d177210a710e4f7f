/*
 * test_rfc3339: the one RFC 3339 parser and formatter (crypto/rfc3339.h):
 * the strict form with each option, every field's edges, what each option
 * refuses, calendar checks, seconds rounding down before 1970, and a round
 * trip of the formatter through the parser across years 0000-9999.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cs_err.h"
#include "rfc3339.h"

/* 2026-11-24T08:00:00Z */
#define BASE INT64_C(1795507200000)
#define HOUR INT64_C(3600000)
#define MIN INT64_C(60000)

#define BAD INT64_MIN

static const struct {
	const char *s;
	unsigned opts;
	int64_t ms;	/* BAD: refused */
} cases[] = {
	/* The strict form, 0. */
	{ "2026-11-24T08:00:00Z", 0, BASE },
	{ "2026-11-24T08:00:00z", 0, BASE },
	{ "2026-11-24T16:00:00+08:00", 0, BASE },
	{ "2026-11-24T07:30:00-00:30", 0, BASE },
	{ "2026-11-24T08:00:00+00:00", 0, BASE },
	{ "2026-11-24T08:00:00-00:00", 0, BASE },
	{ "2026-11-24T00:00:00-23:59", 0, BASE - 8 * HOUR + 23 * HOUR + 59 * MIN },
	{ "2026-11-24T23:59:00+23:59", 0, BASE - 8 * HOUR },
	{ "2026-11-24T16:00:00.5+08:00", 0, BASE + 500 },
	{ "2026-11-24T08:00:00.1Z", 0, BASE + 100 },
	{ "2026-11-24T08:00:00.12Z", 0, BASE + 120 },
	{ "2026-11-24T08:00:00.123Z", 0, BASE + 123 },
	{ "2026-11-24T08:00:00.123999999Z", 0, BASE + 123 },
	{ "2026-11-24T08:00:00.000Z", 0, BASE },
	{ "2026-11-24T08:00:00.999Z", 0, BASE + 999 },
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "1969-12-31T23:59:59Z", 0, -1000 },
	{ "1969-12-31T23:59:59.5Z", 0, -500 },
	{ "1970-01-01T08:00:00+08:00", 0, 0 },
	{ "0000-01-01T00:00:00Z", 0, INT64_C(-62167219200000) },
	{ "0000-02-29T00:00:00Z", 0, INT64_C(-62167219200000) + 59 * 24 * HOUR },
	{ "9999-12-31T23:59:59Z", 0, INT64_C(253402300799000) },
	{ "9999-12-31T23:59:59.999-23:59", 0,
	    INT64_C(253402300799999) + 23 * HOUR + 59 * MIN },
	{ "2024-02-29T00:00:00Z", 0, INT64_C(1709164800000) },
	{ "2000-02-29T12:00:00Z", 0, INT64_C(951825600000) },
	{ "2026-11-30T08:00:00Z", 0, BASE + 6 * 24 * HOUR },
	{ "2026-12-31T08:00:00Z", 0, BASE + 37 * 24 * HOUR },
	/* A leap second reads as :59 of its minute. */
	{ "2016-12-31T23:59:60Z", 0, INT64_C(1483228799000) },
	{ "2016-12-31T23:59:60.5Z", 0, INT64_C(1483228799500) },
	{ "2026-11-24T08:00:60Z", 0, BASE + 59000 },
	/* Refused in every form. */
	{ "", 0, BAD },
	{ "2", 0, BAD },
	{ "2026-11-24", 0, BAD },
	{ "2026-11-24T08:00", 0, BAD },
	{ "2026-11-24T08:00:00", 0, BAD },
	{ "2026-11-24T08:00:00.5", 0, BAD },
	{ "2026-11-24T08:00:00.Z", 0, BAD },
	{ "2026-11-24T08:00:00.", 0, BAD },
	{ "2026-11-24T08:00:00,5Z", 0, BAD },
	{ "2026-11-24T08:00:00Zx", 0, BAD },
	{ "2026-11-24T08:00:00Z ", 0, BAD },
	{ " 2026-11-24T08:00:00Z", 0, BAD },
	{ "2026-11-24T08:00:00 Z", 0, BAD },
	{ "2026-11-24T08:00:00+08", 0, BAD },
	{ "2026-11-24T08:00:00+0800", 0, BAD },
	{ "2026-11-24T08:00:00+08:0", 0, BAD },
	{ "2026-11-24T08:00:00+8:00", 0, BAD },
	{ "2026-11-24T08:00:00+08:00:00", 0, BAD },
	{ "2026-11-24T08:00:00+24:00", 0, BAD },
	{ "2026-11-24T08:00:00+08:60", 0, BAD },
	{ "2026-11-24T08:00:00 08:00", 0, BAD },
	{ "2026-11-24T08:00:00Z+08:00", 0, BAD },
	{ "2026-11-24T+8:00:00Z", 0, BAD },
	{ "2026-11-24T-1:00:00Z", 0, BAD },
	{ "2026-11-24T 8:00:00Z", 0, BAD },
	{ "2026-11-24T8:00:00Z", 0, BAD },
	{ "+026-11-24T08:00:00Z", 0, BAD },
	{ "-026-11-24T08:00:00Z", 0, BAD },
	{ "99999-11-24T08:00:00Z", 0, BAD },
	{ "2026-1-24T08:00:00Z", 0, BAD },
	{ "2026/11/24T08:00:00Z", 0, BAD },
	{ "20261124T080000Z", 0, BAD },
	{ "2026-11-24T08.00.00Z", 0, BAD },
	{ "2026-00-24T08:00:00Z", 0, BAD },
	{ "2026-13-24T08:00:00Z", 0, BAD },
	{ "2026-11-00T08:00:00Z", 0, BAD },
	{ "2026-11-31T08:00:00Z", 0, BAD },
	{ "2026-12-32T08:00:00Z", 0, BAD },
	{ "2026-02-29T08:00:00Z", 0, BAD },
	{ "2026-02-30T00:00:00Z", 0, BAD },
	{ "1900-02-29T00:00:00Z", 0, BAD },
	{ "2026-04-31T00:00:00Z", 0, BAD },
	{ "2026-11-24T24:00:00Z", 0, BAD },
	{ "2026-11-24T08:60:00Z", 0, BAD },
	{ "2026-11-24T08:00:61Z", 0, BAD },
	{ "2026-11-24T08:00:99Z", 0, BAD },
	{ "2026-11-24t08:00:00Z", 0, BAD },
	{ "2026-11-24 08:00:00Z", 0, BAD },
	{ "2026-11-24_08:00:00Z", 0, BAD },
	{ "1795507200000", 0, BAD },
	{ "yesterday", 0, BAD },
	/* CS_RFC3339_ANY_SEP: 't' and ' ' too, nothing else changes. */
	{ "2026-11-24t08:00:00Z", CS_RFC3339_ANY_SEP, BASE },
	{ "2026-11-24 08:00:00Z", CS_RFC3339_ANY_SEP, BASE },
	{ "2026-11-24T08:00:00Z", CS_RFC3339_ANY_SEP, BASE },
	{ "2026-11-24 16:00:00.250+08:00", CS_RFC3339_ANY_SEP, BASE + 250 },
	{ "2026-11-24_08:00:00Z", CS_RFC3339_ANY_SEP, BAD },
	{ "2026-11-24  08:00:00Z", CS_RFC3339_ANY_SEP, BAD },
	{ "2026-11-24T08:00:00", CS_RFC3339_ANY_SEP, BAD },
	{ "2026-02-30 00:00:00Z", CS_RFC3339_ANY_SEP, BAD },
	/* CS_RFC3339_EXACT: "YYYY-MM-DDTHH:MM:SSZ" after the epoch only. */
	{ "2026-11-24T08:00:00Z", CS_RFC3339_EXACT, BASE },
	{ "1970-01-01T00:00:01Z", CS_RFC3339_EXACT, 1000 },
	{ "9999-12-31T23:59:59Z", CS_RFC3339_EXACT, INT64_C(253402300799000) },
	{ "1970-01-01T00:00:00Z", CS_RFC3339_EXACT, BAD },
	{ "1969-12-31T23:59:59Z", CS_RFC3339_EXACT, BAD },
	{ "0000-01-01T00:00:00Z", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24T08:00:00z", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24T08:00:00.0Z", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24T08:00:00+00:00", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24T16:00:00+08:00", CS_RFC3339_EXACT, BAD },
	{ "2016-12-31T23:59:60Z", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24t08:00:00Z", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24 08:00:00Z", CS_RFC3339_EXACT | CS_RFC3339_ANY_SEP,
	    BASE },
	{ "2026-11-24T08:00:00Zx", CS_RFC3339_EXACT, BAD },
	{ "2026-11-24T08:00:00", CS_RFC3339_EXACT, BAD },
	{ "2026-02-29T08:00:00Z", CS_RFC3339_EXACT, BAD },
	{ "20261124T080000Z", CS_RFC3339_EXACT, BAD },
};

TEST(parse_table)
{
	size_t i;
	int64_t ms;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 42;
		rc = cs_rfc3339_parse_ms(cases[i].s, cases[i].opts, &ms);
		if (cases[i].ms == BAD) {
			CHECK_INT_EQ(rc, CS_EINVAL);
			CHECK_INT_EQ(ms, 42);	/* left alone */
			CHECK_CONTAINS(cs_err_msg(), "not an RFC 3339 time");
		} else {
			CHECK_INT_EQ(rc, 0);
			CHECK_INT_EQ(ms, cases[i].ms);
		}
		if ((rc != 0) != (cases[i].ms == BAD) || (rc == 0 &&
		    ms != cases[i].ms))
			fprintf(stderr, "  case %zu: \"%s\" opts %u\n", i,
			    cases[i].s, cases[i].opts);
	}
	CHECK_INT_EQ(cs_rfc3339_parse_ms(NULL, 0, &ms), CS_EINVAL);
}

/* Whole seconds, the fraction dropped toward the past. */
TEST(parse_seconds)
{
	time_t t = 7;

	CHECK_INT_EQ(cs_rfc3339_parse("2026-11-24T08:00:00.999Z", &t), 0);
	CHECK_INT_EQ(t, BASE / 1000);
	CHECK_INT_EQ(cs_rfc3339_parse("1969-12-31T23:59:59.5Z", &t), 0);
	CHECK_INT_EQ(t, -1);
	CHECK_INT_EQ(cs_rfc3339_parse("1969-12-31T23:59:59Z", &t), 0);
	CHECK_INT_EQ(t, -1);
	CHECK_INT_EQ(cs_rfc3339_parse("1970-01-01T00:00:00.001Z", &t), 0);
	CHECK_INT_EQ(t, 0);
	CHECK_INT_EQ(cs_rfc3339_parse("2026-11-24T16:00:00+08:00", &t), 0);
	CHECK_INT_EQ(t, BASE / 1000);
	t = 7;
	/* The strict form only: no other separator. */
	CHECK_INT_EQ(cs_rfc3339_parse("2026-11-24 08:00:00Z", &t), CS_EINVAL);
	CHECK_INT_EQ(cs_rfc3339_parse("2026-11-24T+8:00:00Z", &t), CS_EINVAL);
	CHECK_INT_EQ(t, 7);
}

TEST(format)
{
	char out[21];

	cs_rfc3339(0, out);
	CHECK_STR_EQ(out, "1970-01-01T00:00:00Z");
	cs_rfc3339((time_t)(BASE / 1000), out);
	CHECK_STR_EQ(out, "2026-11-24T08:00:00Z");
	cs_rfc3339(-1, out);
	CHECK_STR_EQ(out, "1969-12-31T23:59:59Z");
	cs_rfc3339((time_t)INT64_C(-62135596800), out);	/* year 1 */
	CHECK_STR_EQ(out, "0001-01-01T00:00:00Z");
	/* Outside 0000-9999: the nearest instant the form can write. */
	cs_rfc3339((time_t)INT64_C(-62167219201), out);
	CHECK_STR_EQ(out, "0000-01-01T00:00:00Z");
	cs_rfc3339((time_t)INT64_C(253402300800), out);
	CHECK_STR_EQ(out, "9999-12-31T23:59:59Z");
	cs_rfc3339((time_t)INT64_MAX, out);
	CHECK_STR_EQ(out, "9999-12-31T23:59:59Z");
	cs_rfc3339((time_t)INT64_MIN, out);
	CHECK_STR_EQ(out, "0000-01-01T00:00:00Z");
}

/* Every instant the formatter writes parses back to itself, in the strict
 * form and (after 1970) the exact one. */
TEST(round_trip)
{
	int64_t lo = INT64_C(-62167219200), hi = INT64_C(253402300799), t, ms;
	char out[21];
	int bad = 0;

	for (t = lo; t <= hi; t += 9999991) {
		cs_rfc3339((time_t)t, out);
		if (cs_rfc3339_parse_ms(out, 0, &ms) != 0 || ms != t * 1000 ||
		    (t > 0 && (cs_rfc3339_parse_ms(out, CS_RFC3339_EXACT,
		    &ms) != 0 || ms != t * 1000)))
			bad++;
	}
	cs_rfc3339((time_t)hi, out);
	CHECK_INT_EQ(cs_rfc3339_parse_ms(out, 0, &ms), 0);
	CHECK_INT_EQ(ms, hi * 1000);
	CHECK_INT_EQ(bad, 0);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(parse_table);
	RUN(parse_seconds);
	RUN(format);
	RUN(round_trip);
	return check_summary();
}
