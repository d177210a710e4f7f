/*
 * rfc3339: RFC 3339 date-times, parsed strictly (with the options callers
 * need, rfc3339.h) and formatted in UTC.  The calendar check is a round
 * trip through timegm and gmtime_r: a date-time that does not exist does
 * not come back unchanged.
 */
#include "rfc3339.h"

#include <stdio.h>
#include <string.h>

#include "cs_err.h"

/* n decimal digits at s, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
cs_rfc3339_parse_ms(const char *s, unsigned opts, int64_t *out)
{
	struct tm tm, chk;
	int64_t ms = 0, off = 0;
	const char *p;
	int y, mo, d, h, mi, se, oh, om, scale;
	time_t t;

	if (s == NULL)
		return cs_err_set(CS_EINVAL, "no RFC 3339 time given");
	/* Each test reads only as far as the ones before it have matched, so
	 * nothing is read past a short string's NUL. */
	if ((y = digits(s, 4)) < 0 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > 31 ||
	    !(s[10] == 'T' || ((opts & CS_RFC3339_ANY_SEP) &&
	    (s[10] == 't' || s[10] == ' '))) ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 || s[13] != ':' ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 || s[16] != ':' ||
	    (se = digits(s + 17, 2)) < 0 || se > 60)
		goto bad;
	p = s + 19;
	if (opts & CS_RFC3339_EXACT) {
		if (se == 60 || strcmp(p, "Z") != 0)
			goto bad;
		p++;
	} else {
		if (*p == '.') {
			for (p++, scale = 100; *p >= '0' && *p <= '9';
			    p++, scale /= 10)
				ms += scale > 0 ? (*p - '0') * scale : 0;
			if (p == s + 20)
				goto bad;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if ((*p == '+' || *p == '-') &&
		    (oh = digits(p + 1, 2)) >= 0 && oh <= 23 && p[3] == ':' &&
		    (om = digits(p + 4, 2)) >= 0 && om <= 59) {
			off = (int64_t)(oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
			p += 6;
		} else {
			goto bad;
		}
		if (*p != '\0')
			goto bad;
		if (se == 60)
			se = 59;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (gmtime_r(&t, &chk) == NULL || chk.tm_year != y - 1900 ||
	    chk.tm_mon != mo - 1 || chk.tm_mday != d || chk.tm_hour != h ||
	    chk.tm_min != mi || chk.tm_sec != se)
		goto bad;	/* 2026-02-30 */
	if ((opts & CS_RFC3339_EXACT) && t <= 0)
		goto bad;
	*out = ((int64_t)t - off) * 1000 + ms;
	return 0;
bad:
	return cs_err_set(CS_EINVAL, "'%.40s' is not an RFC 3339 time", s);
}

int
cs_rfc3339_parse(const char *s, time_t *out)
{
	int64_t ms;
	int rc;

	if ((rc = cs_rfc3339_parse_ms(s, 0, &ms)) != 0)
		return rc;
	*out = (time_t)(ms / 1000 - (ms % 1000 < 0));
	return 0;
}

void
cs_rfc3339(time_t t, char out[21])
{
	struct tm tm;

	/* An instant RFC 3339 cannot write (years outside 0000-9999; gmtime_r
	 * fails for some, and strftime would then read an unset tm) is shown
	 * as the nearest one it can. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		snprintf(out, 21, "%s", t < 0 ? "0000-01-01T00:00:00Z" :
		    "9999-12-31T23:59:59Z");
		return;
	}
	/* Not strftime's %Y: glibc writes year 999 as "999". */
	snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
