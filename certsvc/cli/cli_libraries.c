/*
 * cli_libraries.c: the libraries `certsvc verify` checks a token against
 * (SPEC §11): this one (its key directory, or one trust list file), or
 * several, each a trust list file named by its file name (without .json)
 * or every *.json file of a directory, given by --trust-list as often as
 * needed.  Each --status-list file goes to the library whose key signed
 * it (the newer, when one library gets two); a list no library signed is
 * refused.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_libraries.h"
#include "cose.h"
#include "cs_err.h"
#include "pkcs11.h"
#include "status_list.h"

/* A trust list file is small. */
#define TRUST_FILE_MAX (1024 * 1024)

/* Every value of option --name in argv (the parser keeps the last). */
static size_t
option_values(int argc, char **argv, const char *name, const char **out,
    size_t max)
{
	size_t k = 0, n = strlen(name);
	int i;

	for (i = 0; i < argc && k < max; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
			continue;
		if (a[2 + n] == '=')
			out[k++] = a + 3 + n;
		else if (a[2 + n] == '\0' && i + 1 < argc)
			out[k++] = argv[++i];
	}
	return k;
}

static int
add_file(cs_cli_libs *ls, const char *path)
{
	const char *base = strrchr(path, '/');
	char *text, *name;
	size_t len = 0, nlen;
	cs_keyring *ring = NULL;

	if (ls->n == CS_CLI_LIBS_MAX) {
		fprintf(stderr, "certsvc verify: more than %d trust lists\n",
		    CS_CLI_LIBS_MAX);
		return 2;
	}
	if ((text = cs_cli_slurp(path, TRUST_FILE_MAX, &len)) == NULL) {
		fprintf(stderr, "certsvc verify: cannot read %s\n", path);
		return 2;
	}
	if (cs_keyring_from_jwks(text, len, &ring) != 0) {
		fprintf(stderr, "certsvc verify: %s: %s\n", path, cs_err_msg());
		free(text);
		return 2;
	}
	free(text);
	base = base ? base + 1 : path;
	nlen = strlen(base);
	if (nlen > 5 && strcmp(base + nlen - 5, ".json") == 0)
		nlen -= 5;
	if ((name = strndup(base, nlen)) == NULL) {
		cs_keyring_free(ring);
		return 2;
	}
	ls->rings[ls->n] = ring;
	ls->names[ls->n] = name;
	ls->lib[ls->n].keys = ring;
	ls->lib[ls->n].name = name;
	ls->n++;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json file of dir, in name order. */
static int
add_dir(cs_cli_libs *ls, const char *dir)
{
	char *names[CS_CLI_LIBS_MAX], path[4096];
	struct dirent *e;
	size_t k = 0, i, n;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "certsvc verify: cannot read %s\n", dir);
		return 2;
	}
	while ((e = readdir(d)) != NULL && k < CS_CLI_LIBS_MAX)
		if ((n = strlen(e->d_name)) > 5 && e->d_name[0] != '.' &&
		    strcmp(e->d_name + n - 5, ".json") == 0)
			if ((names[k] = strdup(e->d_name)) != NULL)
				k++;
	closedir(d);
	if (k > 0)
		qsort(names, k, sizeof(names[0]), by_name);
	for (i = 0; i < k; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == 0)
			rc = add_file(ls, path);
		free(names[i]);
	}
	if (rc == 0 && k == 0) {
		fprintf(stderr, "certsvc verify: %s holds no .json trust list\n",
		    dir);
		rc = 2;
	}
	return rc;
}

/* The status list file path, given to the library whose key signed it. */
static int
add_list(cs_cli_libs *ls, const char *path)
{
	cs_status_list *sl = NULL;
	cs_cose_msg *msg = NULL;
	const cs_keyring *ring = NULL;
	size_t n = 0, i, which = 0;
	char *buf;
	int rc = 2;

	if ((buf = cs_cli_slurp(path, CS_SL_MAX + 1, &n)) == NULL) {
		fprintf(stderr, "certsvc verify: cannot read %s\n", path);
		return 2;
	}
	/* The kid picks the library; the read then checks everything. */
	if (cs_cose_parse_max((const uint8_t *)buf, n, CS_SL_MAX, &msg) == 0)
		for (i = 0; i < ls->n && ring == NULL; i++)
			if (cs_keyring_find(ls->rings[i], msg->kid,
			    msg->kid_len) != NULL) {
				ring = ls->rings[i];
				which = i;
			}
	cs_cose_msg_free(msg);
	if (cs_status_list_read(ring, (const uint8_t *)buf, n, &sl) != 0) {
		fprintf(stderr, "certsvc verify: %s: refused: %s\n", path,
		    cs_err_msg());
		goto out;
	}
	if (ls->lists[which] == NULL || cs_status_list_iat(
	    ls->lists[which]) < cs_status_list_iat(sl)) {
		cs_status_list_free(ls->lists[which]);
		ls->lists[which] = sl;
		ls->lib[which].list = sl;
		sl = NULL;
	}
	rc = 0;
out:
	cs_status_list_free(sl);
	free(buf);
	return rc;
}

int
cs_cli_libs_load(const cs_cli *c, int argc, char **argv, cs_cli_libs *ls)
{
	const char *tl[CS_CLI_LIBS_MAX], *sl[CS_CLI_LIBS_MAX];
	size_t nt, ns, i;
	struct stat st;
	int rc = 0, named;

	memset(ls, 0, sizeof(*ls));
	nt = option_values(argc, argv, "trust-list", tl, CS_CLI_LIBS_MAX);
	ns = option_values(argc, argv, "status-list", sl, CS_CLI_LIBS_MAX);
	named = nt > 1;
	for (i = 0; i < nt && rc == 0; i++) {
		if (stat(tl[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			named = 1;
			rc = add_dir(ls, tl[i]);
		} else
			rc = add_file(ls, tl[i]);
	}
	if (nt == 0) {
		if (cs_keyring_load(c->cfg.keys, c->cfg.pkcs11_module,
		    &ls->rings[0]) != 0) {
			cs_cli_fail(c, NULL);
			return 2;
		}
		ls->lib[0].keys = ls->rings[0];
		ls->n = 1;
	}
	/* One library: the answer names none, as before peers. */
	for (i = 0; i < ls->n; i++)
		ls->lib[i].name = named ? ls->names[i] : NULL;
	for (i = 0; i < ns && rc == 0; i++)
		rc = add_list(ls, sl[i]);
	return rc;
}

void
cs_cli_libs_free(cs_cli_libs *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		cs_keyring_free(ls->rings[i]);
		cs_status_list_free(ls->lists[i]);
		free(ls->names[i]);
	}
	memset(ls, 0, sizeof(*ls));
}
