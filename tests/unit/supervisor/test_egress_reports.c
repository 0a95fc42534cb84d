/* The supervisor's side of the trust boundary with the egress proxy: a
 * report is accepted only by its exact shape, and whatever its strings
 * hold (quotes, backslashes, control bytes, invalid UTF-8, no terminator)
 * never breaks the record it becomes. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "evidence/jscan.h"
#include "net/egress.h"
#include "supervisor/egress.h"
#include "util/json.h"

static struct al_net_report good(void)
{
	struct al_net_report r;

	memset(&r, 0, sizeof r);
	r.kind = AL_NET_CONNECT;
	r.conn_id = 7;
	strcpy(r.proto, "transparent");
	strcpy(r.name, "mirror.test");
	strcpy(r.addr, "127.0.0.2");
	r.port = 8080;
	r.allowed = 1;
	return r;
}

static void test_shape(void **state)
{
	struct al_net_report r = good();
	char big[sizeof r + 8];

	(void)state;
	assert_true(al_egress_report_valid(&r, sizeof r));
	assert_false(al_egress_report_valid(&r, sizeof r - 1));
	memset(big, 0, sizeof big);
	memcpy(big, &r, sizeof r);
	assert_false(al_egress_report_valid(big, sizeof big));
	r.kind = 0;
	assert_false(al_egress_report_valid(&r, sizeof r));
	r = good();
	r.kind = AL_NET_ERROR + 1;
	assert_false(al_egress_report_valid(&r, sizeof r));
	r = good();
	r.allowed = 2;
	assert_false(al_egress_report_valid(&r, sizeof r));
	/* every string field must end inside its array */
	r = good();
	memset(r.name, 'a', sizeof r.name);
	assert_false(al_egress_report_valid(&r, sizeof r));
	r = good();
	memset(r.chaos, 'a', sizeof r.chaos);
	assert_false(al_egress_report_valid(&r, sizeof r));
	r = good();
	memset(r.proto, 'a', sizeof r.proto);
	assert_false(al_egress_report_valid(&r, sizeof r));
}

static void test_hostile_strings_escaped(void **state)
{
	static const char hostile[] = "a\"b\\c\x01\x1b[31m\n\xff\xfe}{\"type\":\"x\"";
	struct al_net_report r = good();
	struct al_jval obj, v;
	struct al_buf b;
	char out[512];
	const char *type;
	size_t n;

	(void)state;
	memcpy(r.name, hostile, sizeof hostile);
	memcpy(r.sni, hostile, sizeof hostile);
	memcpy(r.reason, hostile, sizeof hostile);
	r.allowed = 0;
	assert_true(al_egress_report_valid(&r, sizeof r));
	al_buf_init(&b);
	type = al_egress_report_json(&r, &b);
	assert_string_equal(type, "net_connect");
	assert_false(b.oom);
	/* one JSON object, no raw control bytes, the fields where they belong */
	assert_int_equal(al_jscan_value(b.data, b.len, false, &obj), 0);
	assert_int_equal(obj.type, AL_J_OBJECT);
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)b.data[i] >= 0x20);
	assert_true(al_jobj_get(&obj, "name", &v));
	n = al_jstr_unescape(&v, out, sizeof out);
	assert_true(n >= 6);
	assert_memory_equal(out, "a\"b\\c\x01", 6);
	assert_false(al_jobj_get(&obj, "type", &v));
	assert_true(al_jobj_get(&obj, "allowed", &v));
	assert_int_equal(v.type, AL_J_FALSE);
	al_buf_free(&b);
}

static void test_every_kind(void **state)
{
	static const struct {
		uint32_t kind;
		const char *type;
	} kinds[] = {{AL_NET_DNS, "net_dns"},     {AL_NET_CONNECT, "net_connect"},
		     {AL_NET_CLOSE, "net_close"}, {AL_NET_CHAOS, "chaos"},
		     {AL_NET_ERROR, "net_error"}};

	(void)state;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct al_net_report r = good();
		struct al_jval obj;
		struct al_buf b;
		r.kind = kinds[i].kind;
		al_buf_init(&b);
		assert_string_equal(al_egress_report_json(&r, &b), kinds[i].type);
		assert_int_equal(al_jscan_value(b.data, b.len, false, &obj), 0);
		al_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape),
	    cmocka_unit_test(test_hostile_strings_escaped),
	    cmocka_unit_test(test_every_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
