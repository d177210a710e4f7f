/*
 * fuzz_catalog: a licence type template (one JSON file of templates/) through
 * cs_catalog_load, in a temporary directory that holds the shipped face
 * layouts.  An input with a NUL byte is split there: the JSON before it,
 * and after it a face layout written as fuzz.svg (which the JSON may name).
 *
 * A type that loads is then used: its numbering rule expanded (large
 * sequences, small buffers), the face fields of every shipped sample
 * request validated against it, and its face rendered for a sample licence.
 *
 * Templates come from the operator, not from callers; this target is about
 * the loader failing cleanly (a message naming the problem) on any file,
 * never about trusting one.
 */
#include "fuzz.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "cs_err.h"
#include "face.h"

static char dir[600];
static json_t *samples;  /* the "fields" of each docs/examples request */

static void
copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	if (in == NULL || out == NULL)
		fuzz_fail("cannot copy %s to %s", from, to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	if (fclose(out) != 0)
		fuzz_fail("cannot write %s", to);
}

static void
free_samples(void)
{
	json_decref(samples);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char from[1200], to[1200];
	struct dirent *e;
	json_t *req;
	DIR *d;
	size_t n;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/templates", fuzz_tmpdir());
	if (mkdir(dir, 0700) != 0)
		fuzz_fail("cannot create %s", dir);
	/* The shipped face layouts, so the shipped templates load. */
	snprintf(from, sizeof(from), "%s/templates", CS_SOURCE_DIR);
	if ((d = opendir(from)) == NULL)
		fuzz_fail("cannot read %s", from);
	while ((e = readdir(d)) != NULL)
		if ((n = strlen(e->d_name)) > 4 &&
		    strcmp(e->d_name + n - 4, ".svg") == 0) {
			snprintf(from, sizeof(from), "%s/templates/%s",
			    CS_SOURCE_DIR, e->d_name);
			snprintf(to, sizeof(to), "%s/%s", dir, e->d_name);
			copy_file(from, to);
		}
	closedir(d);
	samples = json_array();
	snprintf(from, sizeof(from), "%s/docs/examples", CS_SOURCE_DIR);
	if ((d = opendir(from)) == NULL)
		fuzz_fail("cannot read %s", from);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "issue-", 6) != 0)
			continue;
		snprintf(from, sizeof(from), "%s/docs/examples/%s", CS_SOURCE_DIR,
		    e->d_name);
		if ((req = json_load_file(from, 0, NULL)) != NULL)
			json_array_append(samples, json_object_get(req, "fields"));
		json_decref(req);
	}
	closedir(d);
	atexit(free_samples);
	return 0;
}

static void
write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fuzz_fail("cannot write %s", path);
}

static void
use_type(const cs_type *t)
{
	static const long long seqs[] = {0, 1, 99999, 100000, LLONG_MAX};
	cs_problems p = CS_PROBLEMS_INIT;
	cs_qr_opts qo = {CS_QR_ECC_M, 4, 4};
	char num[128], tiny[4];
	json_t *fields, *lic;
	char *svg = NULL;
	size_t i;

	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		cs_type_format_number(t, seqs[i], 2026, num, sizeof(num));
		cs_type_format_number(t, seqs[i], 2026, tiny, sizeof(tiny));
	}
	json_array_foreach(samples, i, fields) {
		cs_catalog_validate_fields(t, fields, "fields", &p);
		cs_problems_reset(&p);
	}
	fields = json_array_get(samples, 0);
	lic = json_pack("{ss ss ss ss s{ss ss ss} s{ss ss} ss ss ss sO}",
	    "id", "1.2.156.3005.2.11100000000013338W032.11440000006939756B.A1.001.0",
	    "type", t->code, "type_name", t->name, "number", "N-1",
	    "holder", "name", "<h&>", "code_type", "USCC", "code",
	    "91440300708461136T", "issuer", "name", "广东省生态环境厅", "code",
	    "11440000006939756B", "issued_at", "2026-01-02T03:04:05Z",
	    "valid_from", "2026-01-02", "valid_until", "2031-01-01",
	    "fields", fields);
	if (lic != NULL && cs_face_svg(t, lic, "https://lic.example.gov.cn/v/x",
	    &qo, &svg) == 0)
		free(svg);
	json_decref(lic);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t jlen = nul != NULL ? (size_t)(nul - data) : size;
	cs_catalog *cat = NULL;
	json_t *msg;
	size_t i;

	write_file("fuzz.json", data, jlen);
	if (nul != NULL)
		write_file("fuzz.svg", nul + 1, size - jlen - 1);
	if (cs_catalog_load(dir, &cat) != 0) {
		/* The message is what `serve --check` prints. */
		if ((msg = json_string(cs_err_msg())) != NULL)
			json_decref(msg);
		goto out;
	}
	for (i = 0; i < cat->n; i++)
		use_type(&cat->types[i]);
out:
	cs_catalog_free(cat);
	return 0;
}
