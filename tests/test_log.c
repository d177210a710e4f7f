/* log: one line per event, whatever the values hold. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* No byte below 0x20 (nor DEL) may reach the line. */
static int
one_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

TEST(escape_table)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"alice", "alice"},
		{"", "-"},
		{"a\nb", "a\\nb"},
		{"a\r\nstatus=200 forged", "a\\r\\nstatus=200\\x20forged"},
		{"tab\there", "tab\\there"},
		{"say \"hi\"", "say\\x20\\\"hi\\\""},
		{"back\\slash", "back\\\\slash"},
		{"bell\a esc\x1b del\x7f", "bell\\x07\\x20esc\\x1b\\x20del\\x7f"},
		{"广东省生态环境厅", "广东省生态环境厅"},
		/* Invalid UTF-8, an overlong '/', a C1 control, U+2028. */
		{"\xff\xfe", "\\xff\\xfe"},
		{"\xc0\xaf", "\\xc0\\xaf"},
		{"\xc2\x85", "\\xc2\\x85"},
		{"a\xe2\x80\xa8" "b", "a\\xe2\\x80\\xa8b"},
		{"cut\xe4\xb8", "cut\\xe4\\xb8"},
	};
	char out[256];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = cs_log_escape(out, sizeof(out), cases[i].in);
		CHECK_STR_EQ(out, cases[i].out);
		CHECK_INT_EQ(n, strlen(cases[i].out));
		CHECK(one_line(out));
	}
	cs_log_escape(out, sizeof(out), NULL);
	CHECK_STR_EQ(out, "-");
}

TEST(escape_truncates_on_a_character)
{
	char out[12];

	/* Fits exactly: 11 bytes and the NUL. */
	cs_log_escape(out, sizeof(out), "abcdefghijk");
	CHECK_STR_EQ(out, "abcdefghijk");
	cs_log_escape(out, sizeof(out), "abcdefghijkl");
	CHECK_STR_EQ(out, "abcdefgh...");
	/* An escape is never cut in half. */
	cs_log_escape(out, sizeof(out), "abcdef\n\n\n\n");
	CHECK_STR_EQ(out, "abcdef\\n...");
	/* Nor is a UTF-8 character (3 bytes each). */
	cs_log_escape(out, sizeof(out), "证照证照证照");
	CHECK_STR_EQ(out, "证照...");
	CHECK_INT_EQ(cs_log_escape(out, 1, "abc"), 0);
	CHECK_STR_EQ(out, "");
}

TEST(request_line)
{
	cs_log_request r = {
		.time_ms = 1795507200123LL,  /* 2026-11-24T08:00:00.123Z */
		.request_id = "abcd1234abcd1234",
		.client = "evil\nname\r\"x\"\x01",
		.method = "POST",
		.route = "/api/v1/certificates",
		.status = 201,
		.ms = 1.234,
		.remote = "127.0.0.1",
	};
	char line[512];

	cs_log_format_request(line, sizeof(line), &r);
	CHECK_STR_EQ(line, "2026-11-24T08:00:00.123Z req=abcd1234abcd1234 "
	    "client=evil\\nname\\r\\\"x\\\"\\x01 method=POST "
	    "route=/api/v1/certificates status=201 ms=1.23 remote=127.0.0.1");
	CHECK(one_line(line));
	r.client = NULL;
	r.status = 0;
	cs_log_format_request(line, sizeof(line), &r);
	CHECK_CONTAINS(line, " client=- ");
	CHECK_CONTAINS(line, " status=0 ");
}

TEST(request_line_forged_fields)
{
	/* A value may not add a field: spaces are escaped too. */
	cs_log_request r = {
		.time_ms = 0, .request_id = "x", .client = "a status=500",
		.method = "GET", .route = "/healthz", .status = 200, .ms = 0,
		.remote = "::1",
	};
	char line[512];

	cs_log_format_request(line, sizeof(line), &r);
	CHECK_CONTAINS(line, "client=a\\x20status=500 ");
	CHECK(strstr(line, " status=500") == NULL);
	CHECK_CONTAINS(line, "1970-01-01T00:00:00.000Z ");
}

TEST(request_line_cut)
{
	/* A long value is cut at its field's width with "...", a short buffer
	 * ends the line early, and either way the line is one C string. */
	char route[600], line[1024], small[30];
	cs_log_request r = {
		.time_ms = 1795507200123LL, .request_id = "r1", .client = "c",
		.method = "GET", .route = route, .status = 200, .ms = 250.5,
		.remote = "10.0.0.1",
	};
	size_t n;

	memset(route, 'a', sizeof(route) - 1);
	route[sizeof(route) - 1] = '\0';
	n = cs_log_format_request(line, sizeof(line), &r);
	CHECK_INT_EQ(n, strlen(line));
	CHECK(n < 400);
	CHECK_CONTAINS(line, "aaa... status=200 ms=250.50 remote=10.0.0.1");
	n = cs_log_format_request(small, sizeof(small), &r);
	CHECK_INT_EQ(n, sizeof(small) - 1);
	CHECK_STR_EQ(small, "2026-11-24T08:00:00.123Z req=");
	r.ms = 0.004;
	cs_log_format_request(line, sizeof(line), &r);
	CHECK_CONTAINS(line, " ms=0.00 ");
}

TEST(lines_in_a_file)
{
	char path[] = "/tmp/test_log_XXXXXX", *text;
	int fd = mkstemp(path), newlines = 0;
	size_t len = 0, i;
	cs_log_request r = {
		.time_ms = 0, .request_id = "id\nid", .client = "c",
		.method = "GET", .route = "/v/{token}", .status = 200, .ms = 0.5,
		.remote = "127.0.0.1",
	};

	CHECK(fd >= 0);
	close(fd);
	CHECK_INT_EQ(cs_log_open(path), 0);
	cs_log_request_line(&r);
	cs_log_msg("certsvc: error: %s", "line one\nline two\r\n");
	cs_log_close();
	text = check_slurp(path, &len);
	CHECK(text != NULL);
	for (i = 0; text != NULL && i < len; i++)
		newlines += text[i] == '\n';
	CHECK_INT_EQ(newlines, 2);
	CHECK_CONTAINS(text, "req=id\\nid ");
	CHECK_CONTAINS(text, "certsvc: error: line one\\nline two\\r\\n\n");
	free(text);
	unlink(path);
	CHECK(cs_log_open("/nonexistent-dir/x.log") != 0);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(escape_table);
	RUN(escape_truncates_on_a_character);
	RUN(request_line);
	RUN(request_line_forged_fields);
	RUN(request_line_cut);
	RUN(lines_in_a_file);
	return check_summary();
}
