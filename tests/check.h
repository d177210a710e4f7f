/*
 * check: the unit-test harness.  A test file defines TEST(name) functions and
 * a main(argc, argv) that calls check_args() and runs them with RUN(name);
 * CHECK* record a failure with its place and go on, so one run shows every
 * failing assertion.  main returns check_summary(), which is non-zero when
 * anything failed.  Names on the command line run those tests alone
 * (`test_store_sqlite group_commit`); a name that matches no test is an
 * error.
 */
#ifndef CS_CHECK_H
#define CS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;
static const char *check_current = "";
static char **check_names;   /* the tests asked for, or none: all */
static int check_n_names;
static int check_ran;        /* of those asked for */
static const char *check_skipped;  /* why the running test skipped */

/* The test names on the command line, if any, select what RUN runs. */
static inline void
check_args(int argc, char **argv)
{
	check_names = argv + 1;
	check_n_names = argc > 1 ? argc - 1 : 0;
}

static inline int
check_selected(const char *name)
{
	int i;

	for (i = 0; i < check_n_names; i++)
		if (strcmp(check_names[i], name) == 0)
			return 1;
	return check_n_names == 0;
}

/* A test that cannot run here says why with SKIP(why) and returns: RUN
 * prints "skip", not "ok" (unless a check of it failed). */
#define SKIP(why) (check_skipped = (why))
#define TEST(name) static void test_##name(void)
#define RUN(name)                                                            \
	do {                                                                 \
		int before_ = check_failures;                                \
		if (!check_selected(#name))                                  \
			break;                                               \
		check_ran++;                                                 \
		check_current = #name;                                       \
		check_skipped = NULL;                                        \
		test_##name();                                               \
		if (check_failures == before_ && check_skipped != NULL)      \
			printf("skip %s: %s\n", #name, check_skipped);       \
		else                                                         \
			printf("%s %s\n", check_failures == before_ ?         \
			    "ok  " : "FAIL", #name);                         \
	} while (0)

#define CHECK(cond)                                                          \
	do {                                                                 \
		check_count++;                                               \
		if (!(cond)) {                                               \
			check_failures++;                                    \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n",     \
			    __FILE__, __LINE__, check_current, #cond);       \
		}                                                            \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                   \
	do {                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);          \
		check_count++;                                               \
		if (a_ != b_) {                                              \
			check_failures++;                                    \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected %lld\n", \
			    __FILE__, __LINE__, check_current, #a, a_, b_);  \
		}                                                            \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                   \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		check_count++;                                               \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {       \
			check_failures++;                                    \
			fprintf(stderr, "%s:%d: %s: %s is \"%s\", expected \"%s\"\n", \
			    __FILE__, __LINE__, check_current, #a,           \
			    a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
		}                                                            \
	} while (0)

/* The message (cs_err_msg) must contain a substring. */
#define CHECK_CONTAINS(hay, needle)                                          \
	do {                                                                 \
		const char *h_ = (hay), *n_ = (needle);                      \
		check_count++;                                               \
		if (h_ == NULL || strstr(h_, n_) == NULL) {                  \
			check_failures++;                                    \
			fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", \
			    __FILE__, __LINE__, check_current,               \
			    h_ ? h_ : "(null)", n_);                         \
		}                                                            \
	} while (0)

static inline int
check_summary(void)
{
	printf("%d checks, %d failed\n", check_count, check_failures);
	if (check_ran < check_n_names) {
		fprintf(stderr, "%d of the %d tests named ran: a name matches "
		    "no test\n", check_ran, check_n_names);
		return 2;
	}
	return check_failures ? 1 : 0;
}

/* Read a whole file into a NUL-terminated malloc'd buffer; NULL on error. */
static inline char *
check_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

#endif
