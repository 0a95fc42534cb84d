/* TLS ClientHello SNI extraction (src/net/tls_parse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/tls_parse.h"

static uint8_t msg[2048];

static size_t put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* Build a ClientHello with the given server names (n = 0: no SNI extension;
 * two_ext: the SNI extension twice). */
static size_t hello(const char *const *names, size_t n, int two_ext, int extra_ext)
{
	uint8_t ext[1024];
	size_t e = 0, h, i, k;

	for (k = 0; k < (two_ext ? 2u : 1u) && n > 0; k++) {
		size_t list = 0;
		for (i = 0; i < n; i++)
			list += 3 + strlen(names[i]);
		e += put16(ext + e, 0);
		e += put16(ext + e, list + 2);
		e += put16(ext + e, list);
		for (i = 0; i < n; i++) {
			ext[e++] = 0;
			e += put16(ext + e, strlen(names[i]));
			memcpy(ext + e, names[i], strlen(names[i]));
			e += strlen(names[i]);
		}
	}
	if (extra_ext) { /* supported_versions */
		e += put16(ext + e, 43);
		e += put16(ext + e, 3);
		ext[e++] = 2;
		ext[e++] = 3;
		ext[e++] = 4;
	}
	h = 9;
	msg[h++] = 3;
	msg[h++] = 3;
	memset(msg + h, 0x42, 32);
	h += 32;
	msg[h++] = 0; /* session id */
	h += put16(msg + h, 2);
	h += put16(msg + h, 0x1301);
	msg[h++] = 1;
	msg[h++] = 0;
	h += put16(msg + h, e);
	memcpy(msg + h, ext, e);
	h += e;
	msg[0] = 0x16;
	msg[1] = 3;
	msg[2] = 1;
	put16(msg + 3, h - 5);
	msg[5] = 1;
	msg[6] = 0;
	put16(msg + 7, h - 9);
	return h;
}

static void found(void **state)
{
	const char *names[] = {"Allowed.Example.COM."};
	char name[AL_NAME_MAX];
	size_t len = hello(names, 1, 0, 1), i;
	(void)state;
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_FOUND);
	assert_string_equal(name, "allowed.example.com");
	/* every prefix asks for more, never "malformed" */
	for (i = 0; i < len; i++)
		assert_int_equal(al_tls_client_hello_sni(msg, i, name), AL_SNI_NEED_MORE);
	/* trailing application data after the record is not looked at */
	msg[len] = 0x17;
	assert_int_equal(al_tls_client_hello_sni(msg, len + 1, name), AL_SNI_FOUND);
}

static void absent_and_not_tls(void **state)
{
	char name[AL_NAME_MAX];
	size_t len = hello(NULL, 0, 0, 1);
	(void)state;
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_ABSENT);
	assert_int_equal(al_tls_client_hello_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name),
	                 AL_SNI_NOT_TLS);
}

static void malformed(void **state)
{
	const char *two[] = {"a.test", "b.test"};
	const char *bad[] = {"a b.test"};
	const char *nul[] = {"a.test\0x"};
	const char *one[] = {"a.test"};
	char name[AL_NAME_MAX];
	size_t len;
	(void)state;
	len = hello(two, 2, 0, 0);
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(one, 1, 1, 0); /* SNI extension twice */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(bad, 1, 0, 0);
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(nul, 1, 0, 0);
	msg[len - 2] = 0; /* NUL inside the name */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(one, 1, 0, 0);
	msg[5] = 2; /* ServerHello */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(one, 1, 0, 0);
	put16(msg + 7, len); /* handshake longer than its record (fragmented) */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(one, 1, 0, 0);
	msg[len - 8] ^= 0x40; /* extension length off */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
	len = hello(one, 1, 0, 0);
	msg[1] = 2; /* SSL 2-ish version */
	assert_int_equal(al_tls_client_hello_sni(msg, len, name), AL_SNI_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(found),
	                                   cmocka_unit_test(absent_and_not_tls),
	                                   cmocka_unit_test(malformed)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
