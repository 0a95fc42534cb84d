/* Sizes, durations, user ids and degradation names: the unit vocabulary
 * shared by the spec and the CLI, good and bad inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "spec/spec.h"

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int r = al_parse_size(s, &v);

	if (r != 0 || v != want)
		fail_msg("al_parse_size(\"%s\") = %d, %llu; want %llu", s, r, (unsigned long long)v,
		         (unsigned long long)want);
}

static void size_bad(const char *s, int want_r)
{
	uint64_t v = 777;
	int r = al_parse_size(s, &v);

	if (r != want_r)
		fail_msg("al_parse_size(\"%s\") = %d, want %d", s, r, want_r);
	assert_int_equal(v, 777); /* untouched on error */
}

static void test_sizes_good(void **state)
{
	size_ok("0", 0);
	size_ok("1024", 1024);
	size_ok("512B", 512);
	size_ok("1K", 1024);
	size_ok("1k", 1024);
	size_ok("1Ki", 1024);
	size_ok("1KiB", 1024);
	size_ok("1KB", 1000);
	size_ok("1kB", 1000);
	size_ok("512MiB", 512ull << 20);
	size_ok("512M", 512ull << 20);
	size_ok("1MB", 1000000);
	size_ok("1G", 1ull << 30);
	size_ok("1GiB", 1ull << 30);
	size_ok("2GB", 2000000000ull);
	size_ok("1T", 1ull << 40);
	size_ok("1TB", 1000000000000ull);
	size_ok("1.5GiB", 3ull << 29);
	size_ok("0.5K", 512);
	size_ok("18446744073709551615", UINT64_MAX);
}

static void test_sizes_bad(void **state)
{
	size_bad("", -EINVAL);
	size_bad("12QB", -EINVAL);
	size_bad("1 G", -EINVAL);
	size_bad(" 1G", -EINVAL);
	size_bad("-1", -EINVAL);
	size_bad("+1", -EINVAL);
	size_bad("1g", -EINVAL);
	size_bad("G", -EINVAL);
	size_bad("1.", -EINVAL);
	size_bad(".5G", -EINVAL);
	size_bad("1.5", -EINVAL); /* a fraction of a byte */
	size_bad("1.5B", -EINVAL);
	size_bad("1GiBB", -EINVAL);
	size_bad("0x10", -EINVAL);
	size_bad("1e3", -EINVAL);
	size_bad("18446744073709551616", -ERANGE);
	size_bad("16777216T", -ERANGE);
	size_bad("99999999999999999999999", -ERANGE);
	size_bad("1e999", -EINVAL);
	size_bad("1e999G", -EINVAL);
	size_bad("inf", -EINVAL);
	size_bad("nan", -EINVAL);
	/* positive, but rounds down to 0 bytes (which may mean "no limit") */
	size_bad("0.0001K", -EDOM);
	size_bad("0.0000000001G", -EDOM); /* past the 9 fraction digits kept */
	size_bad("0.000000000000000000001T", -EDOM);
}

static void test_sizes_zero_is_only_zero(void **state)
{
	size_ok("0K", 0);
	size_ok("0.0G", 0);
	size_ok("0.001K", 1); /* 1.024 bytes: rounds down, but not to nothing */
}

static void dur_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int r = al_parse_duration(s, &v);

	if (r != 0 || v != want)
		fail_msg("al_parse_duration(\"%s\") = %d, %llu; want %llu", s, r,
		         (unsigned long long)v, (unsigned long long)want);
}

static void dur_bad(const char *s, int want_r)
{
	uint64_t v = 777;
	int r = al_parse_duration(s, &v);

	if (r != want_r)
		fail_msg("al_parse_duration(\"%s\") = %d, want %d", s, r, want_r);
	assert_int_equal(v, 777);
}

#define NS 1ull
#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull

static void test_durations_good(void **state)
{
	dur_ok("0", 0);
	dur_ok("0s", 0);
	dur_ok("1ns", 1);
	dur_ok("250us", 250 * US);
	dur_ok("250\xc2\xb5s", 250 * US);
	dur_ok("250ms", 250 * MS);
	dur_ok("1s", S);
	dur_ok("1.5s", 1500 * MS);
	dur_ok("0.001s", MS);
	dur_ok("10m", 600 * S);
	dur_ok("1h", 3600 * S);
	dur_ok("1m30s", 90 * S);
	dur_ok("1h2m3s4ms5us6ns", 3723 * S + 4 * MS + 5 * US + 6 * NS);
	dur_ok("1.5h", 5400 * S);
	dur_ok("2s2s", 4 * S); /* a sum, like Go's time.ParseDuration */
}

static void test_durations_bad(void **state)
{
	dur_bad("", -EINVAL);
	dur_bad("10", -EINVAL); /* no unit: seconds? milliseconds? */
	dur_bad("1.5", -EINVAL);
	dur_bad("s", -EINVAL);
	dur_bad("-1s", -EINVAL);
	dur_bad("1 s", -EINVAL);
	dur_bad("1d", -EINVAL);
	dur_bad("1sec", -EINVAL);
	dur_bad("1m30", -EINVAL);
	dur_bad("1.s", -EINVAL);
	dur_bad(".5s", -EINVAL);
	dur_bad("1e3s", -EINVAL);
	dur_bad("10M", -EINVAL); /* minutes are m; M is not a time unit */
	dur_bad("5124096h", -ERANGE);
	dur_bad("18446744073709551615s", -ERANGE);
	dur_bad("5000000h5000000h", -ERANGE);
	dur_bad("1e999s", -EINVAL);
	dur_bad("inf", -EINVAL);
	dur_bad("-0.5ns", -EINVAL);
	/* a positive duration that rounds to 0 must never mean "no limit" */
	dur_bad("0.5ns", -EDOM);
	dur_bad("0.9ns", -EDOM);
	dur_bad("0.0000000001s", -EDOM); /* past the 9 fraction digits kept */
	dur_bad("0s0.5ns", -EDOM);
	dur_bad("0.00000000000000000000000001h", -EDOM);
}

static void test_durations_zero_is_only_zero(void **state)
{
	dur_ok("0.0s", 0);
	dur_ok("0m0s", 0);
	dur_ok("0.000000001s", 1);
	dur_ok("0.5ns1ns", 1);
}

static void test_user(void **state)
{
	uint32_t u = 7, g = 7;

	assert_int_equal(al_parse_user("1000", &u, &g), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1000);
	assert_int_equal(al_parse_user("0:5", &u, &g), 0);
	assert_int_equal(u, 0);
	assert_int_equal(g, 5);
	assert_int_equal(al_parse_user("65535:65535", &u, &g), 0);
	assert_int_equal(al_parse_user("65536", &u, &g), -ERANGE);
	assert_int_equal(al_parse_user("1:65536", &u, &g), -ERANGE);
	assert_int_equal(al_parse_user("-1", &u, &g), -EINVAL);
	assert_int_equal(al_parse_user("root", &u, &g), -EINVAL);
	assert_int_equal(al_parse_user("1000:", &u, &g), -EINVAL);
	assert_int_equal(al_parse_user("1000:x", &u, &g), -EINVAL);
	assert_int_equal(al_parse_user("1000:2:3", &u, &g), -EINVAL);
	assert_int_equal(al_parse_user("", &u, &g), -EINVAL);
}

static void test_degradations(void **state)
{
	static const char *const names[] = {"landlock", "cgroup", "timens", "seccomp-notify"};
	uint32_t seen = 0;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		uint32_t bit = 0;
		assert_int_equal(al_degradation_parse(names[i], &bit), 0);
		assert_true(bit != 0 && (bit & (bit - 1)) == 0); /* one bit */
		assert_false(seen & bit);                        /* distinct */
		seen |= bit;
		assert_string_equal(al_degradation_name(bit), names[i]);
	}
	assert_int_equal(seen, AL_DEGRADE_LANDLOCK | AL_DEGRADE_CGROUP | AL_DEGRADE_TIMENS |
	                           AL_DEGRADE_SECCOMP_NOTIFY);
	{
		uint32_t bit = 99;
		assert_int_equal(al_degradation_parse("seccomp", &bit), -EINVAL);
		assert_int_equal(al_degradation_parse("Landlock", &bit), -EINVAL);
		assert_int_equal(al_degradation_parse("", &bit), -EINVAL);
		assert_int_equal(bit, 99);
	}
	assert_null(al_degradation_name(1u << 20));
	assert_null(al_degradation_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes_good),     cmocka_unit_test(test_sizes_bad),
	    cmocka_unit_test(test_durations_good), cmocka_unit_test(test_durations_bad),
	    cmocka_unit_test(test_sizes_zero_is_only_zero),
	    cmocka_unit_test(test_durations_zero_is_only_zero),
	    cmocka_unit_test(test_user),           cmocka_unit_test(test_degradations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
