/*
 * http_problem_zh: a field error's Chinese message with the figures its
 * English one carries (http_problem.h cs_http_problem_zh).  The English
 * messages are written at many call sites, each in its own words; what a
 * Chinese reader needs from them is the limit, the size found, the
 * allowed values or the pattern, so those are read back out of the
 * English text rather than every call site writing a second language.
 */
#include "http_problem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_NUMS 4

/* The decimal numbers of s, in order: at most MAX_NUMS, each at most 19
 * digits (longer runs are not sizes). */
static size_t
numbers(const char *s, char nums[MAX_NUMS][20])
{
	size_t n = 0, len;

	while (*s != '\0' && n < MAX_NUMS) {
		if (!isdigit((unsigned char)*s)) {
			s++;
			continue;
		}
		len = strspn(s, "0123456789");
		if (len < 20)
			snprintf(nums[n++], 20, "%.*s", (int)len, s);
		s += len;
	}
	return n;
}

/* What is counted: the unit of a length message. */
static const char *
unit_of(const char *en)
{
	if (strstr(en, "byte") != NULL)
		return " 字节";
	if (strstr(en, "digit") != NULL)
		return " 位";
	return " 个字符";
}

/* max_length, min_length, length and range: the size found and the limit
 * (the last number), or the bounds of "from A to B". */
static void
sizes(const char *code, const char *base, const char *en, char *out,
    size_t n)
{
	char nums[MAX_NUMS][20];
	size_t k = numbers(en, nums);
	const char *unit = strcmp(code, CS_FC_RANGE) == 0 ? "" : unit_of(en);
	const char *bound = strcmp(code, CS_FC_MIN_LENGTH) == 0 ? "至少" :
	    strcmp(code, CS_FC_LENGTH) == 0 ? "应为" : "最多";

	if (strcmp(code, CS_FC_RANGE) == 0 && strstr(en, "at least") != NULL)
		bound = "至少";
	if (k >= 2 && strstr(en, " to ") != NULL)
		snprintf(out, n, "%s（允许 %s 至 %s%s）", base, nums[k - 2],
		    nums[k - 1], unit);
	else if (k >= 2)
		snprintf(out, n, "%s（实为 %s%s，%s %s%s）", base, nums[0], unit,
		    bound, nums[k - 1], unit);
	else if (k == 1 && (strcmp(code, CS_FC_RANGE) != 0 ||
	    strstr(en, "at most") != NULL || strstr(en, "at least") != NULL))
		snprintf(out, n, "%s（%s %s%s）", base, bound, nums[0], unit);
	else
		snprintf(out, n, "%s", base);
}

/* The text after the first of marks found in en, or NULL. */
static const char *
after(const char *en, const char *const *marks, size_t nmarks)
{
	const char *p;
	size_t i;

	for (i = 0; i < nmarks; i++)
		if ((p = strstr(en, marks[i])) != NULL)
			return p + strlen(marks[i]);
	return NULL;
}

/* Cut a string snprintf may have truncated inside a UTF-8 sequence back
 * to the last whole character: JSON takes only valid UTF-8. */
static void
utf8_trim(char *s)
{
	size_t len = strlen(s), lead, need;
	unsigned char c;

	lead = len;
	while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	c = (unsigned char)s[lead - 1];
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (len - (lead - 1) < need)
		s[lead - 1] = '\0';
}

void
cs_http_problem_zh(const char *code, const char *base, const char *en,
    char *out, size_t n)
{
	static const char *const enum_marks[] = {"one of: ", "one of ",
	    "must be "};
	static const char *const pattern_marks[] = {"the pattern ",
	    "pattern "};
	const char *tail = NULL;

	if (code == NULL || en == NULL) {
		snprintf(out, n, "%s", base);
		return;
	}
	if (strcmp(code, CS_FC_MAX_LENGTH) == 0 ||
	    strcmp(code, CS_FC_MIN_LENGTH) == 0 ||
	    strcmp(code, CS_FC_LENGTH) == 0 || strcmp(code, CS_FC_RANGE) == 0) {
		sizes(code, base, en, out, n);
		utf8_trim(out);
		return;
	}
	if (strcmp(code, CS_FC_ENUM) == 0)
		tail = after(en, enum_marks, 3);
	else if (strcmp(code, CS_FC_PATTERN) == 0)
		tail = after(en, pattern_marks, 2);
	if (tail != NULL && *tail != '\0')
		snprintf(out, n, "%s：%s", base, tail);
	else
		snprintf(out, n, "%s", base);
	utf8_trim(out);
}
