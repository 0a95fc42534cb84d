/* DNS query parsing and answer building (src/net/dns_msg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "net/dns_msg.h"

static size_t query(uint8_t *b, const char *name, uint16_t qtype, int opt)
{
	size_t off = 12;
	const char *p = name;
	memset(b, 0, 12);
	b[0] = 0x12;
	b[1] = 0x34;
	b[2] = 0x01; /* RD */
	b[5] = 1;
	b[11] = opt ? 1 : 0;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		b[off++] = (uint8_t)l;
		memcpy(b + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	b[off++] = 0;
	b[off++] = (uint8_t)(qtype >> 8);
	b[off++] = (uint8_t)qtype;
	b[off++] = 0;
	b[off++] = 1;
	if (opt) {
		static const uint8_t o[11] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
		memcpy(b + off, o, 11);
		off += 11;
	}
	return off;
}

static void parse_ok(void **state)
{
	uint8_t b[512];
	struct al_dns_query q;
	bool idk;
	size_t n = query(b, "WWW.Example.com", AL_DNS_T_A, 0);
	char t[8];
	(void)state;
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), 0);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_true(q.name_ok);
	assert_string_equal(q.qname_norm, "www.example.com");
	assert_int_equal(q.qtype, AL_DNS_T_A);
	n = query(b, "a.test", AL_DNS_T_AAAA, 1);
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), 0);
	assert_int_equal(q.qtype, AL_DNS_T_AAAA);
	al_dns_qtype_text(65, t);
	assert_string_equal(t, "TYPE65");
	al_dns_qtype_text(28, t);
	assert_string_equal(t, "AAAA");
}

static void parse_odd_names(void **state)
{
	uint8_t b[512];
	struct al_dns_query q;
	bool idk;
	size_t n;
	(void)state;
	/* a tunnelling-style label with binary bytes: parsed, shown escaped, not a host name */
	n = query(b, "x.test", AL_DNS_T_A, 0);
	b[13] = 0xff;
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), 0);
	assert_false(q.name_ok);
	assert_string_equal(q.qname_text, "\\255.test");
	n = query(b, "", AL_DNS_T_A, 0); /* the root */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), 0);
	assert_false(q.name_ok);
}

static void parse_refused(void **state)
{
	uint8_t b[512];
	struct al_dns_query q;
	bool idk;
	size_t n = query(b, "a.test", AL_DNS_T_A, 0);
	(void)state;
	assert_int_equal(al_dns_parse_query(b, 11, &q, &idk), -1);
	assert_false(idk);
	assert_int_equal(al_dns_parse_query(b, n - 1, &q, &idk), -1);
	assert_true(idk);
	b[n] = 0;
	assert_int_equal(al_dns_parse_query(b, n + 1, &q, &idk), -1); /* trailing byte */
	b[2] |= 0x80;                                                 /* a response */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
	n = query(b, "a.test", AL_DNS_T_A, 0);
	b[5] = 2; /* two questions */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
	n = query(b, "a.test", AL_DNS_T_A, 0);
	b[12] = 0xc0; /* compression pointer */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
	n = query(b, "a.test", AL_DNS_T_A, 0);
	b[12] = 64; /* label too long (past the end) */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
	n = query(b, "a.test", AL_DNS_T_A, 0);
	b[7] = 1; /* an answer in a query */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
	n = query(b, "a.test", AL_DNS_T_A, 1);
	b[n - 9] = 1; /* additional record not OPT */
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), -1);
}

static void build(void **state)
{
	uint8_t b[512], out[512];
	struct al_dns_query q;
	bool idk;
	const uint8_t addrs[2][16] = {{127, 0, 0, 2}, {127, 0, 0, 3}};
	size_t n = query(b, "a.test", AL_DNS_T_A, 1);
	long r;
	(void)state;
	assert_int_equal(al_dns_parse_query(b, n, &q, &idk), 0);
	r = al_dns_build_response(&q, AL_DNS_RCODE_NOERROR, AF_INET, addrs, 2, 60, out,
	                          sizeof(out));
	assert_int_equal(r, 12 + 8 + 4 + 2 * 16);
	assert_int_equal(out[0], 0x12);
	assert_int_equal(out[2] & 0x80, 0x80);
	assert_int_equal(out[3] & 0xf, 0);
	assert_int_equal(out[7], 2);
	assert_memory_equal(out + 12, b + 12, 8 + 4);
	assert_memory_equal(out + 24,
	                    "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x02", 16);
	r = al_dns_build_response(&q, AL_DNS_RCODE_NXDOMAIN, AF_INET, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(r, 24);
	assert_int_equal(out[3] & 0xf, 3);
	assert_int_equal(al_dns_build_response(&q, 0, AF_INET, addrs, 2, 60, out, 30), -1);
	assert_int_equal(al_dns_build_error(0x1234, AL_DNS_RCODE_FORMERR, out, sizeof(out)), 12);
	assert_int_equal(out[3] & 0xf, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_ok), cmocka_unit_test(parse_odd_names),
	    cmocka_unit_test(parse_refused), cmocka_unit_test(build)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
