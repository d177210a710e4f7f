/*
 * rfc3339: the one home of RFC 3339 date-times (§5.6): the strict parser
 * every caller uses, to milliseconds or seconds since the epoch, and the
 * UTC formatter.
 *
 * The form read is "YYYY-MM-DDTHH:MM:SS", an optional fraction ('.' and at
 * least one digit; milliseconds kept, further digits read and dropped),
 * then 'Z', 'z' or an offset "+hh:mm" / "-hh:mm" (hh 00-23, mm 00-59).
 * Every field is exactly its digits (no signs, no spaces); the date must
 * exist (no 30 February); years 0000-9999.  A leap second, :60, is read
 * as :59 of the same minute, so it sorts before the next minute.
 */
#ifndef CS_RFC3339_H
#define CS_RFC3339_H

#include <stdint.h>
#include <time.h>

/* Options of cs_rfc3339_parse_ms; 0 is the form above. */
/* Also 't' and ' ' between date and time (RFC 3339 §5.6, NOTE), as people
 * and some clients write them. */
#define CS_RFC3339_ANY_SEP 1u
/* Only "YYYY-MM-DDTHH:MM:SSZ", exactly: no fraction, no offset, no 'z',
 * no leap second, and later than 1970-01-01T00:00:00Z.  The form of key
 * file names and trust-list valid_from, where a mistyped time must never
 * silently become another one. */
#define CS_RFC3339_EXACT 2u

/* Parse s (all of it) into milliseconds since the epoch; CS_EINVAL, naming
 * s, when it is not an RFC 3339 date-time of the form opts allows. */
int cs_rfc3339_parse_ms(const char *s, unsigned opts, int64_t *out);
/* The same in whole seconds (the fraction dropped, rounding down), form 0. */
int cs_rfc3339_parse(const char *s, time_t *out);
/* RFC 3339 UTC "2026-11-24T08:00:00Z" into out[21]; an instant outside
 * the years 0000-9999 is shown as the nearest one they can write. */
void cs_rfc3339(time_t t, char out[21]);

#endif
