/* The shared UTF-8 decoder: every layer that must not let malformed bytes
 * through (log records, spec files, the timeline) relies on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/utf8.h"

static size_t dec(const char *s, size_t n, uint32_t *cp)
{
	return al_utf8_decode((const unsigned char *)s, n, cp);
}

static void well_formed(void **state)
{
	uint32_t cp = 0;
	(void)state;
	assert_int_equal(dec("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(dec("\xc3\xa9", 2, &cp), 2); /* é */
	assert_int_equal(cp, 0xe9);
	assert_int_equal(dec("\xe2\x82\xac", 3, &cp), 3); /* € */
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(dec("\xf0\x9f\x98\x80", 4, &cp), 4); /* U+1F600 */
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(dec("\xf4\x8f\xbf\xbf", 4, &cp), 4); /* U+10FFFF */
	const char *mixed = "plain \xc3\xa9 \xe2\x82\xac";
	assert_true(al_utf8_valid(mixed, strlen(mixed)));
	assert_false(al_utf8_valid(mixed, strlen(mixed) - 1)); /* cut inside the euro sign */
}

static void malformed(void **state)
{
	uint32_t cp;
	(void)state;
	assert_int_equal(dec("\x80", 1, &cp), 0);             /* lone continuation */
	assert_int_equal(dec("\xc0\xaf", 2, &cp), 0);         /* overlong '/' */
	assert_int_equal(dec("\xe0\x80\xaf", 3, &cp), 0);     /* overlong, 3 bytes */
	assert_int_equal(dec("\xf0\x80\x80\xaf", 4, &cp), 0); /* overlong, 4 bytes */
	assert_int_equal(dec("\xed\xa0\x80", 3, &cp), 0);     /* surrogate U+D800 */
	assert_int_equal(dec("\xf4\x90\x80\x80", 4, &cp), 0); /* U+110000 */
	assert_int_equal(dec("\xf5\x80\x80\x80", 4, &cp), 0); /* lead byte beyond */
	assert_int_equal(dec("\xe2\x82", 2, &cp), 0);         /* cut short */
	assert_int_equal(dec("\xe2\x28\xa1", 3, &cp), 0);     /* bad continuation */
	assert_false(al_utf8_valid("ok\xff", 3));
	assert_false(al_utf8_valid("\xc3", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(well_formed),
	    cmocka_unit_test(malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
