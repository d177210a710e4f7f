/* config: the settings table, the file parser and the sample config. */
#include "check.h"

#include <stdio.h>

#include "config.h"
#include "cs_err.h"

static char *
write_temp(const char *text)
{
	static char path[] = "/tmp/certsvc-config-XXXXXX";
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/certsvc-config-XXXXXX");
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(defaults)
{
	cs_config c;

	cs_config_defaults(&c);
	CHECK_STR_EQ(c.db, "./certsvc.db");
	CHECK_STR_EQ(c.keys, "./keys");
	CHECK_STR_EQ(c.templates, "./templates");
	CHECK_STR_EQ(c.listen, "127.0.0.1:8080");
	CHECK_INT_EQ(c.max_body, 65536);
	CHECK_INT_EQ(c.tz_offset_minutes, 480);
	CHECK_INT_EQ(c.auth_failures, 20);
	CHECK_INT_EQ(c.auth_failure_refill, 1);
	CHECK_INT_EQ(c.audit_max_lag_ms, 1000);
	CHECK_INT_EQ(cs_config_validate(&c), 0);
}

TEST(set_by_either_spelling)
{
	cs_config c;

	cs_config_defaults(&c);
	CHECK_INT_EQ(cs_config_set(&c, "public-url", "https://a.example"), 0);
	CHECK_STR_EQ(c.public_url, "https://a.example");
	CHECK_INT_EQ(cs_config_set(&c, "rate_limit", "0"), 0);
	CHECK_INT_EQ(c.rate_limit, 0);
	CHECK_INT_EQ(cs_config_set(&c, "no-such", "1"), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "unknown setting 'no-such'");
	CHECK_INT_EQ(cs_config_set(&c, "threads", "0"), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "threads: 0 is outside 1..256");
	CHECK_INT_EQ(cs_config_set(&c, "auth-failures", "0"), 0);
	CHECK_INT_EQ(c.auth_failures, 0);
	CHECK_INT_EQ(cs_config_set(&c, "auth_failure_refill", "0"), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "auth_failure_refill: 0 is outside 1..86400");
	CHECK_INT_EQ(cs_config_set(&c, "auth_failures", "-1"), CS_EINVAL);
	CHECK_INT_EQ(cs_config_set(&c, "max_body", "12k"), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "not a whole number");
}

TEST(validate)
{
	static const struct {
		const char *name, *value, *reason;
	} bad[] = {
		{"listen", "localhost", "not ADDR:PORT"},
		{"listen", "127.0.0.1:70000", "not 0..65535"},
		{"public_url", "ftp://x", "must start with http"},
		{"public_url", "https://x/", "trailing '/'"},
		{"qr_form", "tiny", "not url or compact"},
		{"qr_ecc", "X", "not L, M, Q or H"},
		{"audit_max_lag_ms", "20", "audit_max_lag_ms: 20 must be more "
		    "than audit_flush_ms (20)"},
		{"audit_flush_ms", "1000", "audit_max_lag_ms: 1000 must be more "
		    "than audit_flush_ms (1000)"},
	};
	cs_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cs_config_defaults(&c);
		CHECK_INT_EQ(cs_config_set(&c, bad[i].name, bad[i].value), 0);
		CHECK_INT_EQ(cs_config_validate(&c), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), bad[i].reason);
	}
	/* Reads that wait for their own record have no writer to lag. */
	CHECK_INT_EQ(cs_config_set(&c, "audit_read_wait", "1"), 0);
	CHECK_INT_EQ(cs_config_validate(&c), 0);
}

TEST(file)
{
	cs_config c;
	char *path;

	cs_config_defaults(&c);
	path = write_temp("# comment\n\n db = /var/x.db  # trailing comment\n"
	    "public_url = https://x.example/a#frag\nthreads=8\n");
	CHECK(path != NULL);
	CHECK_INT_EQ(cs_config_load_file(&c, path), 0);
	CHECK_STR_EQ(c.db, "/var/x.db");
	CHECK_STR_EQ(c.public_url, "https://x.example/a#frag");
	CHECK_INT_EQ(c.threads, 8);
	remove(path);
	path = write_temp("db = a\nthis line is wrong\n");
	CHECK_INT_EQ(cs_config_load_file(&c, path), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), ":2: expected 'name = value'");
	remove(path);
	path = write_temp("colour = blue\n");
	CHECK_INT_EQ(cs_config_load_file(&c, path), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), ":1: unknown setting 'colour'");
	remove(path);
	CHECK_INT_EQ(cs_config_load_file(&c, "/nonexistent/x.conf"), CS_EIO);
}

/* The commented sample sets every setting once, and nothing unknown: the
 * table and the sample cannot drift apart. */
TEST(sample_config_matches_table)
{
	char *text = check_slurp(CS_SOURCE_DIR "/keys.example/certsvc.conf", NULL);
	char *flags = NULL, *line, *save = NULL, name[64];
	size_t len = 0;
	FILE *mem = open_memstream(&flags, &len);
	cs_config c;

	CHECK(text != NULL);
	cs_config_defaults(&c);
	CHECK_INT_EQ(cs_config_load_file(&c, CS_SOURCE_DIR "/keys.example/certsvc.conf"), 0);
	cs_config_print_flags(mem, NULL);
	fclose(mem);
	/* Every flag printed by --help appears as a setting in the sample. */
	for (line = strtok_r(flags, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char pattern[80];
		size_t i;

		if (sscanf(line, " --%63s", name) != 1)
			continue;
		for (i = 0; name[i]; i++)
			if (name[i] == '-')
				name[i] = '_';
		snprintf(pattern, sizeof(pattern), "\n%s =", name);
		CHECK_CONTAINS(text, pattern);
	}
	free(flags);
	free(text);
}

static void
test_db_shown(void)
{
	static const struct {
		const char *db, *shown;
	} cases[] = {
		{"/var/lib/certsvc/certsvc.db", "/var/lib/certsvc/certsvc.db"},
		{"postgresql://certsvc:s3cret@db1:5432/lib",
		    "postgresql://certsvc:****@db1:5432/lib"},
		{"postgres://u:p@ss@h1,h2/lib?target_session_attrs=read-write",
		    "postgres://u:****@h1,h2/lib?target_session_attrs=read-write"},
		{"postgresql://certsvc@db/lib", "postgresql://certsvc@db/lib"},
		{"postgresql://db/lib?user=a&password=s3cret&sslmode=require",
		    "postgresql://db/lib?user=a&password=****&sslmode=require"},
		{"host=db password=s3cret dbname=lib",
		    "host=db password=**** dbname=lib"},
		{"postgresql://db/lib?mypassword=x", "postgresql://db/lib?mypassword=x"},
	};
	char out[128], small[20];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cs_config_db_shown(cases[i].db, out, sizeof(out));
		CHECK_STR_EQ(out, cases[i].shown);
		CHECK(strstr(out, "s3cret") == NULL);
	}
	cs_config_db_shown("postgresql://u:s3cret@a-long-host-name/db", small,
	    sizeof(small));
	CHECK_STR_EQ(small, "postgresql://u:****");
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(defaults);
	RUN(set_by_either_spelling);
	RUN(validate);
	RUN(file);
	RUN(sample_config_matches_table);
	RUN(db_shown);
	return check_summary();
}
