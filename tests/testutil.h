/*
 * testutil: what several unit tests share: a scratch directory under /tmp,
 * removed at the end, and small helpers for strings and time.  A store to
 * test on comes from store_fixture.h (any backend, through store.h).
 */
#ifndef CS_TESTUTIL_H
#define CS_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char test_dir[128];

/* Make the scratch directory /tmp/NAME.XXXXXX; -1 (with perror) on failure. */
static inline int
test_dir_make(const char *name)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* Path of a file in the scratch directory (one static buffer per slot). */
static inline const char *
tpath(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", test_dir, name);
	return p;
}

/* Remove a directory and the files in it (no subdirectories). */
static inline void
rm_tree(const char *dir)
{
	char p[512];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Equal strings, or both NULL. */
static inline int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* 480 characters of base64url that do not compress, as a licence's token
 * in a record: out must hold 481. */
static inline void
token_like(char *out)
{
	int i;

	for (i = 0; i < 480; i++)
		out[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_"[(i * 7919 + 13) % 64];
	out[480] = '\0';
}

static inline void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif
