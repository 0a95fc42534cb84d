/* Unit test for the parser of gVisor's remote-sink messages
 * (sandbox/gvisor_wire.c): what a real runsc sends is read field by field,
 * and hostile bytes -- short headers, truncated or overlong varints,
 * lengths past the end, groups, too many argv entries, oversize messages --
 * are refused or bounded, never read past. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/gvisor_wire.h"

/* header: size 8, type, dropped */
static size_t hdr(unsigned char *m, uint16_t type, uint32_t dropped)
{
	m[0] = 8;
	m[1] = 0;
	m[2] = (unsigned char)type;
	m[3] = (unsigned char)(type >> 8);
	m[4] = (unsigned char)dropped;
	m[5] = (unsigned char)(dropped >> 8);
	m[6] = (unsigned char)(dropped >> 16);
	m[7] = (unsigned char)(dropped >> 24);
	return 8;
}

static size_t put_str(unsigned char *m, unsigned field, const char *s)
{
	size_t n = strlen(s);
	m[0] = (unsigned char)(field << 3 | 2);
	m[1] = (unsigned char)n; /* tests keep strings < 128 bytes */
	memcpy(m + 2, s, n);
	return 2 + n;
}

static int streq(const struct al_gvwire_str *s, const char *want)
{
	return s->p && s->len == strlen(want) && memcmp(s->p, want, s->len) == 0;
}

/* A message as runsc 2022-12 sent it here: ExecveInfo with ContextData
 * {thread_group_id 2, cwd "/workspace"}, binary_path, argv. */
static void exec_message_is_read(void **state)
{
	unsigned char m[256], ctx[64];
	size_t n, c = 0;
	struct al_gvwire_event ev;

	(void)state;
	ctx[c++] = 4 << 3; /* thread_group_id */
	ctx[c++] = 2;
	c += put_str(ctx + c, 8, "/workspace");
	n = hdr(m, AL_GVWIRE_SENTRY_EXEC, 7);
	m[n++] = 1 << 3 | 2;
	m[n++] = (unsigned char)c;
	memcpy(m + n, ctx, c);
	n += c;
	n += put_str(m + n, 2, "/usr/bin/cat");
	n += put_str(m + n, 3, "cat");
	n += put_str(m + n, 3, "/etc/hostname");
	n += put_str(m + n, 4, "HOME=/"); /* env: ignored */
	assert_int_equal(al_gvwire_parse(m, n, &ev), 0);
	assert_int_equal(ev.type, AL_GVWIRE_SENTRY_EXEC);
	assert_int_equal(ev.dropped, 7);
	assert_int_equal(ev.tgid, 2);
	assert_true(streq(&ev.cwd, "/workspace"));
	assert_true(streq(&ev.path, "/usr/bin/cat"));
	assert_int_equal(ev.argc, 2);
	assert_int_equal(ev.argc_total, 2);
	assert_true(streq(&ev.argv[1], "/etc/hostname"));
}

/* The bytes of a real Open from runsc (openat(AT_FDCWD, "/etc/hostname",
 * O_RDONLY|O_CLOEXEC), no context fields asked). */
static void open_message_is_read(void **state)
{
	static const unsigned char payload[] = {0x18, 0x81, 0x02, 0x20, 0x9c, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0x01, 0x32, 0x0d, '/', 'e',
						't', 'c', '/', 'h', 'o', 's', 't', 'n', 'a', 'm',
						'e', 0x38, 0x80, 0x80, 0x20};
	unsigned char m[64];
	size_t n = hdr(m, AL_GVWIRE_SYSCALL_OPEN, 0);
	struct al_gvwire_event ev;

	(void)state;
	memcpy(m + n, payload, sizeof payload);
	n += sizeof payload;
	assert_int_equal(al_gvwire_parse(m, n, &ev), 0);
	assert_int_equal(ev.sysno, 257);
	assert_int_equal(ev.fd, -100);
	assert_true(streq(&ev.path, "/etc/hostname"));
	assert_int_equal(ev.flags, 0x80000);
	assert_int_equal(ev.tgid, -1);
	assert_null(ev.cwd.p);
}

static void hostile_headers_are_refused(void **state)
{
	unsigned char m[AL_GVWIRE_MAX_MSG + 8];
	struct al_gvwire_event ev;

	(void)state;
	memset(m, 0, sizeof m);
	assert_int_equal(al_gvwire_parse(m, 7, &ev), -EINVAL);     /* short */
	hdr(m, 3, 0);
	m[0] = 4; /* header size below 8 */
	assert_int_equal(al_gvwire_parse(m, 8, &ev), -EINVAL);
	m[0] = 200; /* header size past the message */
	assert_int_equal(al_gvwire_parse(m, 100, &ev), -EINVAL);
	hdr(m, 3, 0);
	assert_int_equal(al_gvwire_parse(m, AL_GVWIRE_MAX_MSG + 1, &ev), -EINVAL); /* oversize */
	/* a longer header (a newer runsc) is skipped, not misread */
	m[0] = 12;
	memset(m + 8, 0xff, 4);
	assert_int_equal(al_gvwire_parse(m, 12, &ev), 0);
	/* an unknown type's payload is not parsed at all */
	hdr(m, 999, 0);
	memset(m + 8, 0xff, 32);
	assert_int_equal(al_gvwire_parse(m, 40, &ev), 0);
	assert_int_equal(ev.type, 999);
}

static void hostile_protobuf_is_refused(void **state)
{
	static const unsigned char bad[][12] = {
	    {0x12, 0x05, 'a'},                     /* length past the end */
	    {0x12},                                /* length missing */
	    {0x12, 0xff, 0xff, 0xff, 0xff, 0x0f},  /* huge length */
	    {0x0b},                                /* group start (wire type 3) */
	    {0x0e},                                /* wire type 6 */
	    {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* 11-byte varint */
	    {0x10, 0x80},                          /* truncated varint */
	    {0x00, 0x01},                          /* field number 0 */
	    {0x10, 0x05},                          /* binary_path (2) as a varint */
	    {0x0a, 0x02, 0x22, 0x05},              /* context: cwd as a varint... (wt 2 expected) */
	    {0x0a, 0x02, 0x42, 0x09},              /* context: cwd length past its message */
	};
	static const size_t lens[] = {3, 1, 6, 1, 1, 12, 2, 2, 2, 4, 4};
	unsigned char m[64];
	struct al_gvwire_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t n = hdr(m, AL_GVWIRE_SENTRY_EXEC, 0);
		memcpy(m + n, bad[i], lens[i]);
		/* 0x22 in case 9 is field 4 wt 2 inside context: fine in itself;
		 * its length 5 runs past: refused */
		assert_int_equal(al_gvwire_parse(m, n + lens[i], &ev), -EINVAL);
		hdr(m, AL_GVWIRE_SYSCALL_OPEN, 0);
		/* the same bytes as an Open are refused too, or read within bounds */
		(void)al_gvwire_parse(m, n + lens[i], &ev);
	}
	/* Open: fd (4) as a string is refused */
	{
		size_t n = hdr(m, AL_GVWIRE_SYSCALL_OPEN, 0);
		n += put_str(m + n, 4, "x");
		assert_int_equal(al_gvwire_parse(m, n, &ev), -EINVAL);
	}
}

static void argv_is_bounded(void **state)
{
	size_t cap = 8 + 3 * 1000;
	unsigned char *m = malloc(cap);
	size_t n;
	struct al_gvwire_event ev;

	(void)state;
	assert_non_null(m);
	n = hdr(m, AL_GVWIRE_SENTRY_EXEC, 0);
	for (int i = 0; i < 1000; i++)
		n += put_str(m + n, 3, "a");
	assert_int_equal(al_gvwire_parse(m, n, &ev), 0);
	assert_int_equal(ev.argc, AL_GVWIRE_MAX_ARGV);
	assert_int_equal(ev.argc_total, 1000);
	free(m);
}

static void handshake(void **state)
{
	static const unsigned char v1[] = {0x08, 0x01}, v2[] = {0x08, 0x02},
				   bad[] = {0x08}, str[] = {0x0a, 0x01, 'x'};
	(void)state;
	assert_int_equal(al_gvwire_handshake(v1, sizeof v1), 1);
	assert_int_equal(al_gvwire_handshake(v2, sizeof v2), 2);
	assert_int_equal(al_gvwire_handshake(bad, sizeof bad), -EINVAL);
	assert_int_equal(al_gvwire_handshake(str, sizeof str), -EINVAL); /* no version */
	assert_int_equal(al_gvwire_handshake(v1, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exec_message_is_read),
	    cmocka_unit_test(open_message_is_read),
	    cmocka_unit_test(hostile_headers_are_refused),
	    cmocka_unit_test(hostile_protobuf_is_refused),
	    cmocka_unit_test(argv_is_bounded),
	    cmocka_unit_test(handshake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
