/*
 * test_sbuf: the one growable buffer (crypto/sbuf.h): appends of text and
 * bytes across growth, printf of any length, the HTML escape, the sticky
 * failure.  Links cscrypto alone.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "sbuf.h"

TEST(empty)
{
	cs_sbuf b = CS_SBUF_INIT;

	CHECK(b.p == NULL && b.len == 0 && !b.failed);
	/* An empty append still gives a string: a writer of "" returns "". */
	cs_sb_add(&b, NULL, 0);
	CHECK(b.p != NULL && b.len == 0 && b.p[0] == '\0');
	cs_sb_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
}

TEST(grows)
{
	cs_sbuf b = CS_SBUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < 10000; i++)
		cs_sb_add(&b, i % 2 ? "ab" : "c", i % 2 ? 2 : 1);
	CHECK_INT_EQ(b.len, 15000);
	CHECK(b.cap > b.len && b.p[b.len] == '\0');
	for (i = 0; i < 10000; i++)
		ok &= memcmp(b.p + (i / 2) * 3, "cab", 3) == 0;
	CHECK(ok);
	cs_sb_free(&b);
}

TEST(bytes)
{
	static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x00, 0x0a, 0xff};
	cs_sbuf b = CS_SBUF_INIT;

	cs_sb_add(&b, png, sizeof(png));
	cs_sb_add(&b, png, sizeof(png));
	CHECK_INT_EQ(b.len, 2 * sizeof(png));
	CHECK(memcmp(b.p + sizeof(png), png, sizeof(png)) == 0);
	CHECK_INT_EQ(b.p[b.len], '\0');
	cs_sb_free(&b);
}

TEST(printf)
{
	cs_sbuf b = CS_SBUF_INIT;
	char big[3000];

	cs_sb_printf(&b, "%d-%s", 42, "x");
	CHECK_STR_EQ(b.p, "42-x");
	/* Past the 512-byte stack copy: formatted again at its size. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cs_sb_printf(&b, "[%s]", big);
	CHECK_INT_EQ(b.len, 4 + 2 + sizeof(big) - 1);
	CHECK_INT_EQ(b.p[4], '[');
	CHECK_INT_EQ(b.p[b.len - 1], ']');
	cs_sb_puts(&b, "!");
	CHECK_INT_EQ(b.p[b.len - 1], '!');
	cs_sb_free(&b);
}

TEST(html)
{
	cs_sbuf b = CS_SBUF_INIT;

	cs_sb_html(&b, "a<b>&\"c\" 'd' \xE4\xB8\xAD");
	CHECK_STR_EQ(b.p, "a&lt;b&gt;&amp;&quot;c&quot; &#39;d&#39; \xE4\xB8\xAD");
	cs_sb_free(&b);
}

TEST(failure_is_sticky)
{
	cs_sbuf b = CS_SBUF_INIT;

	cs_sb_puts(&b, "kept");
	/* A length no buffer can hold fails without touching memory. */
	cs_sb_add(&b, "x", SIZE_MAX - 2);
	CHECK(b.failed);
	cs_sb_puts(&b, " dropped");
	cs_sb_printf(&b, "%s", " dropped");
	CHECK_INT_EQ(b.len, 4);
	CHECK_STR_EQ(b.p, "kept");
	cs_sb_free(&b);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(empty);
	RUN(grows);
	RUN(bytes);
	RUN(printf);
	RUN(html);
	RUN(failure_is_sticky);
	return check_summary();
}
