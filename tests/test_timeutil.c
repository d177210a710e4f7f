/* timeutil: calendar arithmetic around leap years. */
#include <stdio.h>

#include "check.h"
#include "timeutil.h"

static int64_t
day(const char *s)
{
	int y, m, d;

	CHECK_INT_EQ(cs_date_parse(s, &y, &m, &d), 0);
	return cs_days_from_civil(y, m, d);
}

static const char *
date(int64_t days, char out[11])
{
	cs_date_format(days, out);
	return out;
}

/* A term ends the day before the same date `years` on; a term from
 * 29 February whose last year is common ends on 28 February, the day
 * before 1 March, never on the 27th. */
TEST(term_end)
{
	static const struct {
		const char *from;
		int years;
		const char *until;
	} cases[] = {
		{"2026-11-24", 5, "2031-11-23"},
		{"2026-03-01", 5, "2031-02-28"},
		{"2026-01-01", 1, "2026-12-31"},
		{"2024-02-28", 5, "2029-02-27"},
		{"2024-02-28", 4, "2028-02-27"},
		{"2024-02-29", 5, "2029-02-28"},
		{"2024-02-29", 4, "2028-02-28"},
		{"2024-02-29", 1, "2025-02-28"},
		{"2024-03-01", 4, "2028-02-29"},
		{"2024-03-01", 5, "2029-02-28"},
		{"2028-02-29", 5, "2033-02-28"},
		{"2028-02-29", 4, "2032-02-28"},
		/* 2100 is not a leap year, 2000 is. */
		{"2096-02-29", 4, "2100-02-28"},
		{"2095-03-01", 5, "2100-02-28"},
		{"2096-03-01", 4, "2100-02-28"},
		{"1996-02-29", 4, "2000-02-28"},
		{"1996-03-01", 4, "2000-02-29"},
		{"1995-03-01", 5, "2000-02-29"},
	};
	char got[11];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		date(cs_term_end(day(cases[i].from), cases[i].years), got);
		if (strcmp(got, cases[i].until) != 0)
			fprintf(stderr, "%s + %d years: %s, expected %s\n",
			    cases[i].from, cases[i].years, got, cases[i].until);
		CHECK_STR_EQ(got, cases[i].until);
	}
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(term_end);
	return check_summary();
}
