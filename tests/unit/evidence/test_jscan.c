/* The strict JSON reader used on hostile log lines: what it accepts, what
 * it refuses, and the helpers verify and show rely on. */
#include "evtest.h"

#include "evidence/jscan.h"

static bool ok(const char *s)
{
	struct al_jval v;
	return al_jscan_value(s, strlen(s), true, &v) == 0;
}

static void test_accepts(void **state)
{
	(void)state;
	assert_true(ok("{}"));
	assert_true(ok("[]"));
	assert_true(ok("{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\n\"],\"b\":{}}"));
	assert_true(ok("\"\xe2\x82\xac\xf0\x9f\x98\x80\""));
	assert_true(ok("0"));
	assert_true(ok("{ \"a\" : 1 }"));
}

static void test_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    " {}",
	    "{}x",
	    "{",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{a:1}",
	    "[1,]",
	    "{\"a\":1,}",
	    "01",
	    "1.",
	    "-",
	    "1e",
	    "tru",
	    "\"abc",
	    "\"a\\x\"",
	    "\"\\u12g4\"",
	    "\"\x01\"",
	    "\"\n\"",
	    "\"\xc0\x80\"",         /* overlong */
	    "\"\xed\xa0\x80\"",     /* surrogate */
	    "\"\xf4\x90\x80\x80\"", /* > U+10FFFF */
	    "\"\xff\"",
	    "\"\xe2\x82\"",
	    "{}{}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ok(bad[i]))
			fail_msg("accepted bad JSON #%zu: %s", i, bad[i]);
	/* a NUL inside is not the end of the input */
	{
		struct al_jval v;
		assert_int_equal(al_jscan_value("{}\0", 3, true, &v), -EINVAL);
	}
}

static void test_depth_limit(void **state)
{
	char deep[2 * AL_JSCAN_MAX_DEPTH + 10];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < AL_JSCAN_MAX_DEPTH + 2; i++)
		deep[n++] = '[';
	for (int i = 0; i < AL_JSCAN_MAX_DEPTH + 2; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	assert_false(ok(deep));
	/* shallow enough is fine */
	assert_true(ok("[[[[[[[[[[]]]]]]]]]]"));
}

static void test_members_and_numbers(void **state)
{
	const char *s =
	    "{\"seq\":18446744073709551615,\"n\":18446744073709551616,\"f\":1.5,\"z\":01,"
	    "\"s\":\"a\\\"b\\u0041\\ud83d\\ude00\\ud800\"}";
	struct al_jval obj, v;
	uint64_t x;
	char buf[32];

	(void)state;
	/* "z":01 is invalid JSON: check the valid part only */
	assert_false(ok(s));
	s = "{\"seq\":18446744073709551615,\"n\":18446744073709551616,\"f\":1.5,"
	    "\"s\":\"a\\\"b\\u0041\\ud83d\\ude00\\ud800\",\"arr\":[1,\"two\",[3]]}";
	assert_int_equal(al_jscan_value(s, strlen(s), true, &obj), 0);
	assert_true(al_jobj_get(&obj, "seq", &v));
	assert_int_equal(al_jnum_u64(&v, &x), 0);
	assert_true(x == UINT64_MAX);
	assert_true(al_jobj_get(&obj, "n", &v));
	assert_int_equal(al_jnum_u64(&v, &x), -EINVAL);
	assert_true(al_jobj_get(&obj, "f", &v));
	assert_int_equal(al_jnum_u64(&v, &x), -EINVAL);
	assert_true(al_jobj_get(&obj, "s", &v));
	assert_int_equal(al_jstr_unescape(&v, buf, sizeof buf), 4 + 4 + 3);
	assert_string_equal(buf, "a\"bA\xf0\x9f\x98\x80\xef\xbf\xbd");
	/* truncation keeps the NUL */
	assert_int_equal(al_jstr_unescape(&v, buf, 3), 11);
	assert_string_equal(buf, "a\"");
	assert_false(al_jobj_get(&obj, "missing", &v));
	assert_true(al_jobj_get(&obj, "arr", &v));
	{
		struct al_jiter it;
		struct al_jval el;
		int n = 0;
		al_jiter_init(&it, &v);
		while (al_jarr_next(&it, &el))
			n++;
		assert_int_equal(n, 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_refuses),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_members_and_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
