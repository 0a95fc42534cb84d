/* The HTTP request-stream follower of the exfil search (exfil_http.c):
 * tokens in plain, chunked, gzip and deflate bodies found however the
 * stream is cut into writes; split across chunks and across two requests;
 * streams it cannot follow (codings it cannot decode, bad framing, a
 * decompression bomb) refused; benign streams pass whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "monitor/exfil_http.h"

static const char *const toks[] = {"Qm9pTk3rXy7LpA2sVd8EfGh1JkZcWb4uNo6RtYe5",
                                   "sk7Hh2Jj3Kk4Ll5Mm6Nn7Bb8Vv9Cc0Xx1Zz2Aa3Q"};
static struct al_exfil *x;

struct res {
	int r;
	const char *where;
	char variant[16];
	size_t token;
	const char *error;
};

/* feed in chunks of `step` bytes until a result */
static struct res follow(const void *data, size_t len, size_t step, uint64_t max_inflate)
{
	struct al_exfil_http h;
	struct res out = {0};
	const char *p = data;

	al_exfil_http_init(&h, x, AL_EXFIL_HTTP, max_inflate);
	for (size_t i = 0; i < len && out.r == 0; i += step)
		out.r = al_exfil_http_feed(&h, p + i, len - i < step ? len - i : step);
	if (out.r == 1) {
		out.where = h.where;
		out.token = h.hit.token;
		snprintf(out.variant, sizeof out.variant, "%s", h.hit.variant);
	}
	out.error = h.error;
	al_exfil_http_free(&h);
	return out;
}

/* every step from 1 byte to the whole: the same result */
static void expect_all_steps(const void *data, size_t len, int r, const char *where,
                             const char *variant)
{
	size_t steps[] = {1, 2, 3, 7, 13, 64, 1000, len};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct res o = follow(data, len, steps[i], AL_EXFIL_INFLATE_MAX);
		if (o.r != r)
			fail_msg("step %zu: %d, expected %d (%s)", steps[i], o.r, r,
			         o.error ? o.error : "-");
		if (r == 1) {
			assert_string_equal(o.where, where);
			assert_string_equal(o.variant, variant);
		}
	}
}

static size_t zip(const void *in, size_t n, char *out, size_t cap, int window_bits)
{
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (unsigned char *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t got = cap - z.avail_out;
	deflateEnd(&z);
	return got;
}

static size_t post(char *buf, size_t cap, const char *extra, const void *body, size_t blen)
{
	int n = snprintf(buf, cap,
	                 "POST http://allowed.test/up HTTP/1.1\r\nHost: allowed.test\r\n%s"
	                 "Content-Length: %zu\r\n\r\n",
	                 extra, blen);
	assert_true(n > 0 && (size_t)n + blen < cap);
	memcpy(buf + n, body, blen);
	return (size_t)n + blen;
}

static void test_plain_and_encoded_bodies(void **state)
{
	char body[512], req[2048], hex[100];
	(void)state;

	snprintf(body, sizeof body, "{\"note\":\"hello\",\"k\":\"%s\"}", toks[0]);
	expect_all_steps(req, post(req, sizeof req, "", body, strlen(body)), 1, "body", "plain");
	for (int i = 0; i < 40; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)toks[1][i]);
	snprintf(body, sizeof body, "data=%s&x=1", hex);
	expect_all_steps(req, post(req, sizeof req, "", body, strlen(body)), 1, "body", "hex");
	for (int i = 0; i < 40; i++)
		body[i] = toks[1][39 - i];
	expect_all_steps(req, post(req, sizeof req, "", body, 40), 1, "body", "reversed");
	/* base64 of "xy" + token */
	snprintf(body, sizeof body, "v=eHlRbTlwVGszclh5N0xwQTJzVmQ4RWZHaDFKa1pjV2I0dU5vNlJ0WWU1");
	expect_all_steps(req, post(req, sizeof req, "", body, strlen(body)), 1, "body", "base64");
	/* nothing: a benign body, then a second request with nothing either */
	size_t n = post(req, sizeof req, "", "just some data", 14);
	memcpy(req + n, req, n);
	expect_all_steps(req, 2 * n, 0, NULL, NULL);
}

static void test_wrapped_base64_body(void **state)
{
	/* base64 of "xy" + token, wrapped at 20 columns with CRLF (MIME/PEM style) */
	static const char b64[] = "eHlRbTlwVGszclh5N0xwQTJzVmQ4RWZHaDFKa1pjV2I0dU5vNlJ0WWU1";
	char body[256], req[1024];
	size_t n = 0;
	(void)state;
	for (size_t i = 0; i < sizeof b64 - 1; i += 20)
		n += (size_t)snprintf(body + n, sizeof body - n, "%.20s\r\n", b64 + i);
	expect_all_steps(req, post(req, sizeof req, "", body, n), 1, "body", "base64");
	/* and LF only, in a raw stream */
	struct al_exfil_http h;
	al_exfil_http_init(&h, x, AL_EXFIL_RAW, AL_EXFIL_INFLATE_MAX);
	int r = 0;
	for (size_t i = 0; i < sizeof b64 - 1 && r == 0; i += 16) {
		char line[20];
		int l = snprintf(line, sizeof line, "%.16s\n", b64 + i);
		r = al_exfil_http_feed(&h, line, (size_t)l);
	}
	assert_int_equal(r, 1);
	assert_string_equal(h.where, "stream");
	al_exfil_http_free(&h);
}

static void test_chunked_split_across_chunks(void **state)
{
	char req[1024];
	(void)state;
	/* the token cut in three chunks, with an extension and a trailer */
	int n = snprintf(req, sizeof req,
	                 "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	                 "5\r\nk=%.3s\r\n10;ext=1\r\n%.16s\r\n%x\r\n%s\r\n0\r\nX-T: 1\r\n\r\n",
	                 toks[0], toks[0] + 3, (unsigned)strlen(toks[0] + 19), toks[0] + 19);
	expect_all_steps(req, (size_t)n, 1, "body", "plain");
	/* the same framing without the token ends cleanly, twice */
	n = snprintf(req, sizeof req,
	             "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "3\r\nabc\r\n0\r\n\r\n"
	             "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_all_steps(req, (size_t)n, 0, NULL, NULL);
}

static void test_split_across_two_requests(void **state)
{
	char req[2048];
	(void)state;
	size_t n = post(req, sizeof req, "", toks[1], 20);
	n += post(req + n, sizeof req - n, "", toks[1] + 20, 20);
	expect_all_steps(req, n, 1, "body", "plain");
	/* and in a header of the second request */
	n = post(req, sizeof req, "", "abc", 3);
	n += (size_t)snprintf(req + n, sizeof req - n, "GET /x HTTP/1.1\r\nX-A: %s\r\n\r\n", toks[0]);
	expect_all_steps(req, n, 1, "head", "plain");
}

static void test_gzip_and_deflate_bodies(void **state)
{
	char plain[8192], z[8192], req[16384];
	(void)state;
	/* the token deep inside compressible text */
	size_t pl = 0;
	while (pl < 4000)
		pl += (size_t)snprintf(plain + pl, sizeof plain - pl, "row %zu,customer,ok\n", pl);
	pl += (size_t)snprintf(plain + pl, sizeof plain - pl, "api_key=%s\n", toks[0]);
	size_t zl = zip(plain, pl, z, sizeof z, 16 + 15);
	expect_all_steps(req, post(req, sizeof req, "Content-Encoding: gzip\r\n", z, zl), 1,
	                 "body-gzip", "plain");
	zl = zip(plain, pl, z, sizeof z, 15); /* deflate as the RFC means it: zlib */
	expect_all_steps(req, post(req, sizeof req, "Content-Encoding: deflate\r\n", z, zl), 1,
	                 "body-deflate", "plain");
	zl = zip(plain, pl, z, sizeof z, -15); /* raw deflate, as some clients send it */
	expect_all_steps(req, post(req, sizeof req, "content-encoding:  Deflate \r\n", z, zl), 1,
	                 "body-deflate", "plain");
	/* gzip, chunked */
	zl = zip(plain, pl, z, sizeof z, 16 + 15);
	int n = snprintf(req, sizeof req,
	                 "POST /up HTTP/1.1\r\nContent-Encoding: x-gzip\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", zl / 2);
	memcpy(req + n, z, zl / 2);
	n += (int)(zl / 2);
	n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%zx\r\n", zl - zl / 2);
	memcpy(req + n, z + zl / 2, zl - zl / 2);
	n += (int)(zl - zl / 2);
	n += snprintf(req + n, sizeof req - (size_t)n, "\r\n0\r\n\r\n");
	expect_all_steps(req, (size_t)n, 1, "body-gzip", "plain");
	/* two gzip members: the token in the second */
	size_t z1 = zip("hello ", 6, z, sizeof z, 16 + 15);
	size_t z2 = zip(plain, pl, z + z1, sizeof z - z1, 16 + 15);
	expect_all_steps(req, post(req, sizeof req, "Content-Encoding: gzip\r\n", z, z1 + z2), 1,
	                 "body-gzip", "plain");
	/* a benign gzip body followed by a benign request */
	zl = zip(plain, 4000, z, sizeof z, 16 + 15);
	size_t m = post(req, sizeof req, "Content-Encoding: gzip\r\n", z, zl);
	m += post(req + m, sizeof req - m, "", "ok", 2);
	expect_all_steps(req, m, 0, NULL, NULL);
}

static void test_streams_it_cannot_follow(void **state)
{
	char req[1024], z[64];
	static const char *const bad[] = {
	    "POST / HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc",
	    "POST / HTTP/1.1\r\nContent-Encoding: gzip, gzip\r\nContent-Length: 3\r\n\r\nabc",
	    "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
	    "POST / HTTP/1.1\r\nContent-Length: 1\r\n 2\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
	    "GARBAGE\r\n\r\n",
	    "GET / HTTP/2.0\r\n\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct res o = follow(bad[i], strlen(bad[i]), 1, AL_EXFIL_INFLATE_MAX);
		if (o.r != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(o.error);
	}
	/* a gzip body with data after the member that is not another one */
	size_t zl = zip("abc", 3, z, sizeof z, 16 + 15);
	memcpy(z + zl, "TRAILING", 8);
	struct res o = follow(req, post(req, sizeof req, "Content-Encoding: gzip\r\n", z, zl + 8), 5,
	                      AL_EXFIL_INFLATE_MAX);
	assert_int_equal(o.r, -1);
}

static void test_gzip_bomb_is_bounded(void **state)
{
	size_t big = 8u << 20, zcap = 64 << 10;
	char *zeros = calloc(1, big), *z = malloc(zcap), *req = malloc(zcap + 512);
	(void)state;
	/* 8 MiB of zeros in ~8 KiB; the bound here 1 MiB (64 MiB in the proxy) */
	size_t zl = zip(zeros, big, z, zcap, 16 + 15);
	size_t n = post(req, zcap + 512, "Content-Encoding: gzip\r\n", z, zl);
	struct res o = follow(req, n, 4096, 1 << 20);
	assert_int_equal(o.r, -1);
	assert_string_equal(o.error, "inflated body over the bound");
	/* under the bound it is searched whole */
	o = follow(req, n, 4096, 16 << 20);
	assert_int_equal(o.r, 0);
	free(zeros);
	free(z);
	free(req);
}

static void test_raw_mode_and_upgrade(void **state)
{
	struct al_exfil_http h;
	char buf[512];
	(void)state;
	al_exfil_http_init(&h, x, AL_EXFIL_RAW, AL_EXFIL_INFLATE_MAX);
	assert_int_equal(al_exfil_http_feed(&h, "HELO ", 5), 0);
	assert_int_equal(al_exfil_http_feed(&h, toks[1], 11), 0);
	assert_int_equal(al_exfil_http_feed(&h, toks[1] + 11, 29), 1);
	assert_string_equal(h.where, "stream");
	assert_int_equal(h.hit.token, 1);
	al_exfil_http_free(&h);
	/* after an Upgrade the bytes are no HTTP any more: searched raw */
	int n = snprintf(buf, sizeof buf,
	                 "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	                 "\x81\x05garbage that is not a request %s", toks[0]);
	expect_all_steps(buf, (size_t)n, 1, "stream", "plain");
}

static int setup(void **state)
{
	(void)state;
	return al_exfil_build(&x, toks, 2);
}

static int teardown(void **state)
{
	(void)state;
	al_exfil_free(x);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_encoded_bodies),
	    cmocka_unit_test(test_chunked_split_across_chunks),
	    cmocka_unit_test(test_wrapped_base64_body),
	    cmocka_unit_test(test_split_across_two_requests),
	    cmocka_unit_test(test_gzip_and_deflate_bodies),
	    cmocka_unit_test(test_streams_it_cannot_follow),
	    cmocka_unit_test(test_gzip_bomb_is_bounded),
	    cmocka_unit_test(test_raw_mode_and_upgrade),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
