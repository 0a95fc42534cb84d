/* SOCKS5 greeting and request parsing (src/net/socks_parse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/socks_parse.h"

static void greeting(void **state)
{
	(void)state;
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05\x01\x00", 3), 3);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05\x02\x02\x00", 4), 4);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05\x02\x00", 3), 0);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05", 1), 0);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x04\x01\x00", 3), -1);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05\x00", 2), -1);
	assert_int_equal(al_socks_parse_greeting((const uint8_t *)"\x05\x01\x02", 3), -2);
}

static void request(void **state)
{
	struct al_socks_req r;
	const uint8_t name[] = "\x05\x01\x00\x03\x06"
	                       "A.Test"
	                       "\x01\xbb";
	const uint8_t v4[] = "\x05\x01\x00\x01\x7f\x00\x00\x02\x1f\x40";
	uint8_t v6[22] = {5, 1, 0, 4};
	(void)state;
	assert_int_equal(al_socks_parse_request(name, sizeof(name) - 1, &r), 13);
	assert_int_equal(r.atyp, 3);
	assert_string_equal(r.host, "a.test");
	assert_int_equal(r.port, 443);
	assert_int_equal(al_socks_parse_request(name, 12, &r), 0);
	assert_int_equal(al_socks_parse_request(name, 4, &r), 0);
	assert_int_equal(al_socks_parse_request(v4, 10, &r), 10);
	assert_string_equal(r.host, "127.0.0.2");
	assert_int_equal(r.port, 8000);
	v6[19] = 1;
	v6[21] = 80;
	assert_int_equal(al_socks_parse_request(v6, 22, &r), 22);
	assert_string_equal(r.host, "::1");
	/* BIND and UDP ASSOCIATE refused with "command not supported" */
	assert_int_equal(al_socks_parse_request(
	                     (const uint8_t *)"\x05\x02\x00\x01\x7f\x00\x00\x02\x1f\x40", 10, &r),
	                 -1);
	assert_int_equal(r.reply, 7);
	assert_int_equal(al_socks_parse_request(
	                     (const uint8_t *)"\x05\x03\x00\x01\x7f\x00\x00\x02\x1f\x40", 10, &r),
	                 -1);
	assert_int_equal(r.reply, 7);
	assert_string_equal(r.reason, "udp-associate-not-supported");
	assert_int_equal(al_socks_parse_request((const uint8_t *)"\x05\x01\x00\x02\x00", 5, &r),
	                 -1);
	assert_int_equal(r.reply, 8);
	assert_int_equal(al_socks_parse_request(
	                     (const uint8_t *)"\x05\x01\x01\x01\x7f\x00\x00\x02\x1f\x40", 10, &r),
	                 -1);
	assert_int_equal(
	    al_socks_parse_request((const uint8_t *)"\x05\x01\x00\x03\x00\x00\x50", 7, &r), -1);
	assert_int_equal(al_socks_parse_request((const uint8_t *)"\x05\x01\x00\x03\x03"
	                                                         "a b\x00\x50",
	                                        10, &r),
	                 -1);
	assert_int_equal(al_socks_parse_request((const uint8_t *)"\x05\x01\x00\x03\x03"
	                                                         "a\0b\x00\x50",
	                                        10, &r),
	                 -1);
	assert_int_equal(al_socks_parse_request(
	                     (const uint8_t *)"\x05\x01\x00\x01\x7f\x00\x00\x02\x00\x00", 10, &r),
	                 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(greeting), cmocka_unit_test(request)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
