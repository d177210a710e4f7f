/*
 * test_json_text: cs_json_text and cs_json_dumps write what
 * json_dumps(v, JSON_COMPACT) writes, byte for byte (answers are held to
 * docs/openapi.json and to clients that compare them), over the values
 * the answers hold: escapes, every control character, UTF-8 of each
 * length, integers at their limits, nesting, insertion order, keys with
 * escapes; and they refuse what jansson refuses.  Links csutil alone.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "json_text.h"

/* v written both ways: the same text. */
static void
same_as_jansson(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT), *got = cs_json_dumps(v);
	cs_sbuf b = CS_SBUF_INIT;

	CHECK(want != NULL && got != NULL);
	if (want != NULL && got != NULL)
		CHECK_STR_EQ(got, want);
	CHECK_INT_EQ(cs_json_text(&b, v), 0);
	if (want != NULL && b.p != NULL)
		CHECK_STR_EQ(b.p, want);
	cs_sb_free(&b);
	free(want);
	free(got);
}

TEST(escapes)
{
	char s[40];
	json_t *o = json_object();
	int c;

	for (c = 1; c < 0x20; c++) {
		snprintf(s, sizeof(s), "a%cb\"c\\d/e\x7f", c);
		json_object_set_new(o, s, json_string(s));
	}
	json_object_set_new(o, "nul", json_stringn("x\0y", 3));
	json_object_set_new(o, "empty", json_string(""));
	same_as_jansson(o);
	json_decref(o);
}

TEST(utf8)
{
	json_t *a = json_pack("[s s s s s]", "真实有效 / genuine",
	    "é", "€", "\xf0\x9f\x98\x80", "mixed é\n真\t\xf0\x9f\x98\x80\"");

	same_as_jansson(a);
	json_decref(a);
}

TEST(numbers_and_literals)
{
	json_t *a = json_pack("[I I I I i i b b n]", (json_int_t)INT64_MAX,
	    (json_int_t)INT64_MIN, (json_int_t)0, (json_int_t)-1, 7, -65537,
	    1, 0);

	same_as_jansson(a);
	json_decref(a);
}

TEST(nesting_and_order)
{
	json_t *o = json_pack("{s{s[{}[]s{si}]} sn s[] s{} sO}", "z",
	    "b", "x", "y", 1, "a", "list", "obj", "c", json_null());

	/* Insertion order, not key order: z before a. */
	json_object_set_new(o, "0", json_string("last"));
	same_as_jansson(o);
	json_decref(o);
}

/* A string that is not UTF-8 (made without jansson's check) is refused
 * by both; a real is left to jansson and still written right. */
TEST(refusals)
{
	json_t *bad = json_array(), *real = json_pack("{sf}", "r", 1.5);
	cs_sbuf b = CS_SBUF_INIT;

	json_array_append_new(bad, json_string_nocheck("\xff"));
	CHECK(json_dumps(bad, JSON_COMPACT) == NULL);
	CHECK(cs_json_dumps(bad) == NULL);
	cs_sb_puts(&b, "kept");
	CHECK_INT_EQ(cs_json_text(&b, bad), -1);
	CHECK_STR_EQ(b.p, "kept");
	CHECK_INT_EQ(cs_json_text(&b, real), -1);
	CHECK_STR_EQ(b.p, "kept");
	{
		char *want = json_dumps(real, JSON_COMPACT), *got = cs_json_dumps(real);

		CHECK(want != NULL && got != NULL && strcmp(got, want) == 0);
		free(want);
		free(got);
	}
	/* Not an object or array: json_dumps's NULL. */
	CHECK(cs_json_dumps(json_true()) == NULL);
	cs_sb_free(&b);
	json_decref(bad);
	json_decref(real);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(escapes);
	RUN(utf8);
	RUN(numbers_and_literals);
	RUN(nesting_and_order);
	RUN(refusals);
	return check_summary();
}
