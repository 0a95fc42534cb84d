/* Exfil search: every disguise found, split anywhere across chunks, in
 * gzip/deflate bodies; nothing found in unrelated data; the automaton
 * agrees with a naive search on random streams with planted variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <cmocka.h>

#include "monitor/exfil.h"

static const char *const toks[] = {"Qm9pTk3rXy7LpA2sVd8EfGh1JkZcWb4uNo6RtYe5",
                                   "sk7Hh2Jj3Kk4Ll5Mm6Nn7Bb8Vv9Cc0Xx1Zz2Aa3Q"};

struct found {
	int n;
	size_t token;
	char variant[32];
};

static int cb(void *ctx, const struct al_exfil_hit *h)
{
	struct found *f = ctx;
	if (f->n++ == 0) {
		f->token = h->token;
		snprintf(f->variant, sizeof f->variant, "%s", h->variant);
	}
	return 0;
}

/* feed s in chunks of `step` bytes */
static struct found scan(const struct al_exfil *x, const char *s, size_t len, size_t step)
{
	struct al_exfil_stream st;
	struct found f = {0};
	al_exfil_stream_init(&st, x);
	for (size_t i = 0; i < len; i += step)
		al_exfil_feed(&st, s + i, len - i < step ? len - i : step, cb, &f);
	al_exfil_stream_end(&st);
	return f;
}

static void b64(const unsigned char *in, size_t n, char *out, bool url)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		for (int k = 0; k < 4; k++) {
			char c = (k <= (int)(n - i < 3 ? n - i : 3)) ? a[(v >> (18 - 6 * k)) & 63] : '=';
			if (url && c == '+')
				c = '-';
			if (url && c == '/')
				c = '_';
			out[o++] = c;
		}
	}
	out[o] = '\0';
}

static void b32(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t o = 0, bits = 0;
	unsigned buf = 0;
	for (size_t i = 0; i < n; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = a[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		out[o++] = a[(buf << (5 - bits)) & 31];
	out[o] = '\0';
}

static void test_variants(void **state)
{
	struct al_exfil *x;
	char msg[1024], enc[512];
	unsigned char raw[128];
	(void)state;

	assert_int_equal(al_exfil_build(&x, toks, 2), 0);
	for (size_t pre = 0; pre < 5; pre++) {
		/* base64 of the token behind 0..4 other bytes: every alignment */
		memcpy(raw, "user=", pre);
		memcpy(raw + pre, toks[1], 40);
		for (int url = 0; url < 2; url++) {
			b64(raw, pre + 40, enc, url);
			snprintf(msg, sizeof msg, "GET /q?d=%s HTTP/1.1\r\n", enc);
			for (size_t step = 1; step <= 7; step += 3) {
				struct found f = scan(x, msg, strlen(msg), step);
				assert_true(f.n > 0);
				assert_int_equal(f.token, 1);
			}
		}
		b32(raw, pre + 40, enc);
		struct found f = scan(x, enc, strlen(enc), 2);
		assert_true(f.n > 0);
		assert_string_equal(f.variant, "base32");
	}
	/* hex in a header, both cases */
	strcpy(msg, "X-Trace: ");
	for (int i = 0; i < 40; i++)
		sprintf(msg + strlen(msg), "%02X", (unsigned char)toks[0][i]);
	assert_string_equal(scan(x, msg, strlen(msg), 5).variant, "hex");
	for (char *p = msg; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p + 32);
	assert_string_equal(scan(x, msg + 9, strlen(msg + 9), 3).variant, "hex");
	/* reversed, percent-encoded, plain split in two writes */
	for (int i = 0; i < 40; i++)
		msg[i] = toks[0][39 - i];
	assert_string_equal(scan(x, msg, 40, 40).variant, "reversed");
	msg[0] = '\0';
	for (int i = 0; i < 40; i++)
		sprintf(msg + strlen(msg), "%%%02x", (unsigned char)toks[0][i]);
	assert_string_equal(scan(x, msg, strlen(msg), 11).variant, "url-encoded");
	assert_string_equal(scan(x, toks[0], 40, 20).variant, "plain");
	/* nothing in unrelated text, nor in a token with one byte changed */
	strcpy(msg, toks[0]);
	msg[20] ^= 1;
	assert_int_equal(scan(x, msg, 40, 1).n, 0);
	assert_int_equal(scan(x, "hello world, nothing here", 25, 4).n, 0);
	al_exfil_free(x);
}

static void test_compressed(void **state)
{
	struct al_exfil *x;
	char body[4096];
	unsigned char z[8192];
	(void)state;

	assert_int_equal(al_exfil_build(&x, toks, 2), 0);
	snprintf(body, sizeof body, "{\"data\": \"%s\", \"pad\": \"%0200d\"}", toks[1], 0);
	for (int mode = 0; mode < 3; mode++) { /* gzip, zlib, raw deflate */
		z_stream zs = {0};
		int wb = mode == 0 ? 16 + 15 : mode == 1 ? 15 : -15;
		assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wb, 8, Z_DEFAULT_STRATEGY), Z_OK);
		zs.next_in = (unsigned char *)body;
		zs.avail_in = (uInt)strlen(body);
		zs.next_out = z;
		zs.avail_out = sizeof z;
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		size_t zl = sizeof z - zs.avail_out;
		deflateEnd(&zs);
		/* the compressed bytes themselves do not hold the token */
		assert_int_equal(scan(x, (char *)z, zl, 64).n, 0);
		struct al_exfil_stream st;
		struct found f = {0};
		al_exfil_stream_init(&st, x);
		for (size_t i = 0; i < zl; i += 7)
			al_exfil_feed_compressed(&st, z + i, zl - i < 7 ? zl - i : 7, mode == 2, 1 << 20,
			                         cb, &f);
		al_exfil_stream_end(&st);
		assert_true(f.n > 0);
		assert_int_equal(f.token, 1);
	}
	/* not compressed data: an error, not a crash */
	struct al_exfil_stream st;
	al_exfil_stream_init(&st, x);
	assert_int_equal(al_exfil_feed_compressed(&st, "not gzip at all", 15, false, 1 << 20, cb, NULL), -1);
	al_exfil_stream_end(&st);
	al_exfil_free(x);
}

/* random streams with planted plain tokens: every plant found, at the
 * right end offset, whatever the chunking */
static void test_random(void **state)
{
	struct al_exfil *x;
	size_t len = 1 << 16;
	char *buf = malloc(len);
	(void)state;

	assert_int_equal(al_exfil_build(&x, toks, 2), 0);
	srand((unsigned)time(NULL));
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(rand() & 0xff);
		size_t at = (size_t)rand() % (len - 40);
		memcpy(buf + at, toks[round & 1], 40);
		struct found f = scan(x, buf, len, 1 + (size_t)rand() % 5000);
		assert_true(f.n >= 1);
	}
	free(buf);
	al_exfil_free(x);
}

/* The skip over windows where no pattern can start must never miss one:
 * fed whole (long skips) and byte by byte (no window ever fits: the
 * automaton alone), the same matches at the same offsets, on streams made
 * of the tokens' own characters and pieces of their variants (many near
 * misses, many candidates). */
static uint64_t sums[2][3];
static int sum_cb(void *ctx, const struct al_exfil_hit *h)
{
	uint64_t *s = ctx;
	s[0]++;
	s[1] += h->end * 31 + h->token;
	s[2] ^= h->end * 1000003u + (uint64_t)(uintptr_t)h->variant;
	return 0;
}

static void test_skip_misses_nothing(void **state)
{
	struct al_exfil *x;
	size_t len = 1 << 15;
	char *buf = malloc(len);
	static const char alpha[] = "Qm9pTk3rXy7LpA2sVd8EfGh1JkZcWb4uNo6RtYe5sk7HhJj";
	(void)state;

	assert_int_equal(al_exfil_build(&x, toks, 2), 0);
	srand(7);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = alpha[rand() % (int)(sizeof alpha - 1)];
		for (int k = 5; k >= 0; k--) { /* whole tokens, reversed, hex, cut short (k 0, last: whole) */
			const char *t = toks[rand() & 1];
			size_t at = (size_t)rand() % (len - 100), l = 40 - (k ? (size_t)(rand() % 3) : 0);
			if (k % 3 == 1)
				for (size_t i = 0; i < l; i++)
					buf[at + i] = t[39 - i];
			else if (k % 3 == 2)
				for (size_t i = 0; i < l; i++)
					snprintf(buf + at + 2 * i, 3, "%02x", (unsigned char)t[i]);
			else
				memcpy(buf + at, t, l);
		}
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = 'a';
		for (int mode = 0; mode < 2; mode++) {
			struct al_exfil_stream st;
			memset(sums[mode], 0, sizeof sums[mode]);
			al_exfil_stream_init(&st, x);
			if (mode == 0)
				al_exfil_feed(&st, buf, len, sum_cb, sums[0]);
			else
				for (size_t i = 0; i < len; i++)
					al_exfil_feed(&st, buf + i, 1, sum_cb, sums[1]);
		}
		assert_memory_equal(sums[0], sums[1], sizeof sums[0]);
		assert_true(sums[0][0] >= 1);
		/* the same bytes with CR/LF put in anywhere, fed unwrapped in
		 * random pieces (a CR and its LF in two writes too): the same
		 * matches at the same offsets */
		{
			char *w = malloc(2 * len);
			size_t wl = 0;
			struct al_exfil_stream st;
			for (size_t i = 0; i < len; i++) {
				if (rand() % 19 == 0)
					w[wl++] = rand() & 1 ? '\n' : '\r';
				w[wl++] = buf[i];
			}
			memset(sums[1], 0, sizeof sums[1]);
			al_exfil_stream_init(&st, x);
			for (size_t i = 0; i < wl;) {
				size_t n = 1 + (size_t)rand() % 3000;
				if (n > wl - i)
					n = wl - i;
				al_exfil_feed_unwrapped(&st, w + i, n, sum_cb, sums[1]);
				i += n;
			}
			assert_memory_equal(sums[0], sums[1], sizeof sums[0]);
			free(w);
		}
	}
	free(buf);
	al_exfil_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_variants),
	    cmocka_unit_test(test_compressed),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_skip_misses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
