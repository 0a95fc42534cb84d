/* HTTP request head parser and chunked framing checks (src/net/http_parse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

static struct al_http_req req;

static int parse(const char *s)
{
	return al_http_parse_request(s, strlen(s), &req);
}

static void absolute_form(void **state)
{
	const char *s = "GET http://Example.COM:8080/a/b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
	                "Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\nNEXT";
	char out[512];
	long n;
	(void)state;
	assert_int_equal(parse(s), 1);
	assert_int_equal(req.head_len, strlen(s) - 4);
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.host, "example.com");
	assert_int_equal(req.port, 8080);
	assert_false(req.is_connect);
	n = al_http_rewrite_head(s, &req, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out,
	                    "GET /a/b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n"
	                    "Connection: close\r\n\r\n");
	assert_int_equal(parse("GET http://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n"), 1);
	assert_int_equal(req.port, 80);
	n = al_http_rewrite_head("GET http://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n", &req, out,
	                         sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
	assert_int_equal(parse("GET http://a.test?x HTTP/1.1\r\nHost: a.test:80\r\n\r\n"), 1);
	assert_int_equal(parse("GET http://127.0.0.2:8000/ HTTP/1.0\r\n\r\n"), 1);
	assert_true(req.host_is_ip);
	assert_string_equal(req.host, "127.0.0.2");
	assert_int_equal(parse("GET http://[::1]:81/ HTTP/1.1\r\nHost: [::1]:81\r\n\r\n"), 1);
	assert_string_equal(req.host, "::1");
	assert_int_equal(req.port, 81);
}

static void connect_form(void **state)
{
	(void)state;
	assert_int_equal(parse("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n"), 1);
	assert_true(req.is_connect);
	assert_string_equal(req.host, "a.test");
	assert_int_equal(req.port, 443);
	assert_int_equal(parse("CONNECT a.test:443 HTTP/1.1\r\n\r\n"), 1);
	assert_int_equal(parse("CONNECT a.test HTTP/1.1\r\n\r\n"), -1);
	assert_int_equal(parse("CONNECT a.test:0 HTTP/1.1\r\n\r\n"), -1);
	assert_int_equal(parse("CONNECT a.test:65536 HTTP/1.1\r\n\r\n"), -1);
	assert_int_equal(parse("CONNECT a.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n"), -1);
	assert_string_equal(req.reason, "host-mismatch");
}

static void incomplete_and_oversized(void **state)
{
	char *big;
	(void)state;
	assert_int_equal(parse("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n"), 0);
	assert_int_equal(parse(""), 0);
	big = malloc(AL_HTTP_MAX_HEAD + 10);
	memcpy(big, "GET http://a.test/ HTTP/1.1\r\nX: ", 32);
	memset(big + 32, 'a', AL_HTTP_MAX_HEAD + 10 - 32);
	assert_int_equal(al_http_parse_request(big, AL_HTTP_MAX_HEAD + 10, &req), -1);
	assert_int_equal(req.status, 431);
	free(big);
}

static void refused(void **state)
{
	static const char *const bad[] = {
	    /* smuggling: both framings, duplicate or odd lengths, other codings */
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: "
	    "3\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3, 3\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: -1\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: +3\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\n\r\n",
	    "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nX: y\r\n Transfer-Encoding: "
	    "chunked\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\nHost: a.test\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\nHost: a.test\rX: y\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nX: a\x01z\r\n\r\n",
	    /* Host must match the target */
	    "GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\nHost: a.test:81\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\n\r\n",
	    /* targets */
	    "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "GET http://user@b.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
	    "GET http://a.test@b.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
	    "GET http://a.test/#x HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "GET http://a.te st/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "GET http://a.test/ HTTP/2.0\r\nHost: a.test\r\n\r\n",
	    "GET  http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "G(T http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	    "GET http://a.test/ HTTP/1.1\r\n: x\r\nHost: a.test\r\n\r\n",
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(req.reason);
		assert_true(req.status >= 400);
	}
	assert_int_equal(parse(bad[0]), -1);
	assert_string_equal(req.reason, "content-length-with-transfer-encoding");
	assert_int_equal(parse("GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n"), -1);
	assert_string_equal(req.reason, "host-mismatch");
}

static void body_framing(void **state)
{
	(void)state;
	assert_int_equal(parse("POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\n"
	                       "Content-Length: 12\r\n\r\n"),
	                 1);
	assert_true(req.has_content_length);
	assert_int_equal(req.content_length, 12);
	assert_int_equal(parse("POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\n"
	                       "transfer-encoding: Chunked\r\n\r\n"),
	                 1);
	assert_true(req.chunked);
}

static int chunk_all(const char *s, size_t *used)
{
	struct al_chunk c = {0};
	return al_chunk_feed(&c, s, strlen(s), used);
}

static void chunked(void **state)
{
	const char *ok =
	    "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
	struct al_chunk c = {0};
	size_t used = 0, i, total = 0;
	int r = 0;
	(void)state;
	assert_int_equal(chunk_all(ok, &used), 1);
	assert_int_equal(used, strlen(ok) - 4);
	/* byte by byte gives the same end */
	for (i = 0; i < strlen(ok); i++) {
		r = al_chunk_feed(&c, ok + i, 1, &used);
		total += used;
		if (r != 0)
			break;
	}
	assert_int_equal(r, 1);
	assert_int_equal(total, strlen(ok) - 4);
	assert_int_equal(chunk_all("0\r\n\r\n", &used), 1);
	assert_int_equal(chunk_all("5\r\nhel", &used), 0);
	assert_int_equal(chunk_all("5\r\nhelloX\r\n", &used), -1);
	assert_int_equal(chunk_all("5\nhello\r\n", &used), -1);
	assert_int_equal(chunk_all("g\r\n", &used), -1);
	assert_int_equal(chunk_all("\r\n", &used), -1);
	assert_int_equal(chunk_all(" 5\r\n", &used), -1);
	assert_int_equal(chunk_all("5 \r\n", &used), -1);
	assert_int_equal(chunk_all("-5\r\n", &used), -1);
	assert_int_equal(chunk_all("1000000000000000\r\n", &used), -1); /* 16 hex digits */
	assert_int_equal(chunk_all("0\r\n folded\r\n\r\n", &used), -1);
	assert_int_equal(chunk_all("0\r\nX: 1\n\r\n", &used), -1);
}

static int sniff(const char *s, char host[AL_NAME_MAX], uint16_t *port)
{
	bool is_ip = false, pg = false;
	*port = 0;
	return al_http_sniff_host(s, strlen(s), host, &is_ip, port, &pg);
}

static void sniff_host(void **state)
{
	char host[AL_NAME_MAX];
	uint16_t port;
	(void)state;
	assert_int_equal(
	    sniff("GET /x HTTP/1.1\r\nAccept: */*\r\nHost: Web.Test:8080\r\n\r\n", host, &port), 1);
	assert_string_equal(host, "web.test");
	assert_int_equal(port, 8080);
	assert_int_equal(sniff("GET / HTTP/1.0\r\nhost:  127.0.0.2 \r\n\r\n", host, &port), 1);
	assert_string_equal(host, "127.0.0.2");
	assert_int_equal(sniff("GET / HTTP/1.1\r\nHost: a.test\r\n", host, &port), 0);
	assert_int_equal(sniff("GET / HTTP/1.1\r\nX: y\r\n\r\n", host, &port), -1); /* no Host */
	assert_int_equal(
	    sniff("GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", host, &port), -1);
	assert_int_equal(sniff("GET / HTTP/1.1\r\nX: y\r\n Host: b.test\r\n\r\n", host, &port), -1);
	assert_int_equal(sniff("GET / HTTP/1.1\nHost: a.test\r\n\r\n", host, &port),
	                 -1); /* bare LF */
	assert_int_equal(sniff("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", host, &port),
	                 -1);
	assert_int_equal(sniff("GET / SSH/2.0\r\nHost: a.test\r\n\r\n", host, &port), -1);
	assert_int_equal(sniff("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", host, &port), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(absolute_form),
	    cmocka_unit_test(connect_form),
	    cmocka_unit_test(incomplete_and_oversized),
	    cmocka_unit_test(refused),
	    cmocka_unit_test(body_framing),
	    cmocka_unit_test(chunked),
	    cmocka_unit_test(sniff_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
