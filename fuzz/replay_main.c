/*
 * replay_main: runs a fuzz target's LLVMFuzzerTestOneInput on files, without
 * libFuzzer, so the normal test suite (any compiler, with or without
 * sanitizers) replays every input of fuzz/regressions/ that once crashed.
 *
 *   replay_<target> FILE...
 *
 * A target aborts on a broken property; a memory error shows only under
 * the sanitizers (CERTSVC_SANITIZE=1 scripts/test.sh), which is where CI
 * replays them too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Targets without an initialiser get this one (weak, so a target's own
 * definition wins). */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;
	int rc = 1;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		goto out;
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL)
				goto out;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		goto out;
	}
	/* An exact-size copy, so ASan sees a read past the input. */
	if ((nb = malloc(n ? n : 1)) == NULL)
		goto out;
	if (n > 0)
		memcpy(nb, buf, n);
	LLVMFuzzerTestOneInput(nb, n);
	free(nb);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, failed = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (replay(argv[i]) != 0)
			failed++;
		else
			printf("replayed %s\n", argv[i]);
	}
	return failed ? 1 : 0;
}
