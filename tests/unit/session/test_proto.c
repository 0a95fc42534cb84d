/* The session control protocol: frames and the exec request are parsed
 * strictly (hostile bytes from any local client of the socket). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/proto.h"

static struct al_exec_request req;

static void encode_parse_round_trip(void **state)
{
	struct al_exec_request in = {0};
	uint8_t *b = NULL;
	size_t n;
	(void)state;
	in.argc = 3;
	in.argv[0] = "sh";
	in.argv[1] = "-c";
	in.argv[2] = "echo hi";
	in.envc = 1;
	in.env[0] = "A=b=c";
	in.cwd = "/tmp";
	in.user = "";
	in.timeout_ns = 5;
	in.max_output = 7;
	in.flags = AL_EXEC_STDIN;
	assert_int_equal(al_exec_request_encode(&in, &b, &n), 0);
	assert_int_equal(al_exec_request_parse(b, n, &req), 0);
	assert_int_equal(req.argc, 3);
	assert_string_equal(req.argv[2], "echo hi");
	assert_null(req.argv[3]);
	assert_string_equal(req.env[0], "A=b=c");
	assert_string_equal(req.cwd, "/tmp");
	assert_string_equal(req.user, "");
	assert_int_equal(req.timeout_ns, 5);
	assert_int_equal(req.max_output, 7);
	/* every truncation is refused, and so is a trailing byte */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(al_exec_request_parse(b, k, &req), -EINVAL);
	uint8_t *longer = malloc(n + 1);
	memcpy(longer, b, n);
	longer[n] = 'x';
	assert_int_equal(al_exec_request_parse(longer, n + 1, &req), -EINVAL);
	free(longer);
	free(b);
}

static void hostile_requests_refused(void **state)
{
	uint8_t b[64] = {0};
	(void)state;
	/* argc 0 */
	assert_int_equal(al_exec_request_parse(b, 28 + 2, &req), -EINVAL);
	/* argc beyond the limit */
	b[20] = 0xff;
	b[21] = 0xff;
	assert_int_equal(al_exec_request_parse(b, sizeof b, &req), -EINVAL);
	/* an empty program name */
	memset(b, 0, sizeof b);
	b[20] = 1;
	assert_int_equal(al_exec_request_parse(b, 28 + 3, &req), -EINVAL);
	/* an env entry without '=' */
	memset(b, 0, sizeof b);
	b[20] = 1;
	b[24] = 1;
	memcpy(b + 28, "x\0NOEQ\0\0\0", 9);
	assert_int_equal(al_exec_request_parse(b, 28 + 9, &req), -EINVAL);
	/* unknown flags */
	memset(b, 0, sizeof b);
	b[16] = 0x80;
	b[20] = 1;
	memcpy(b + 28, "x\0\0\0", 4);
	assert_int_equal(al_exec_request_parse(b, 28 + 4, &req), -EINVAL);
	b[16] = 0;
	assert_int_equal(al_exec_request_parse(b, 28 + 4, &req), 0);
	/* the terminal handed over (OCI exec) only with a terminal */
	b[16] = AL_EXEC_TTY_FD;
	assert_int_equal(al_exec_request_parse(b, 28 + 4, &req), -EINVAL);
	b[16] = AL_EXEC_TTY_FD | AL_EXEC_TTY | AL_EXEC_NOTIFY_START;
	assert_int_equal(al_exec_request_parse(b, 28 + 4, &req), 0);
	assert_int_equal(req.flags, AL_EXEC_TTY_FD | AL_EXEC_TTY | AL_EXEC_NOTIFY_START);
}

static void frames_split_and_bounded(void **state)
{
	struct al_frame_reader rd = {0};
	uint8_t *buf = NULL, type;
	size_t len = 0, cap = 0, plen;
	const uint8_t *p;
	(void)state;
	assert_int_equal(al_frame_append(&buf, &len, &cap, 'X', "abc", 3), 0);
	assert_int_equal(al_frame_append(&buf, &len, &cap, 'S', NULL, 0), 0);
	/* byte by byte: whole frames come out, in order */
	int got = 0;
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(al_frame_reader_feed(&rd, buf + i, 1), 0);
		while (al_frame_reader_next(&rd, &type, &p, &plen) > 0) {
			if (got == 0) {
				assert_int_equal(type, 'X');
				assert_int_equal(plen, 3);
				assert_memory_equal(p, "abc", 3);
			} else {
				assert_int_equal(type, 'S');
				assert_int_equal(plen, 0);
			}
			got++;
		}
	}
	assert_int_equal(got, 2);
	al_frame_reader_free(&rd);
	/* a zero or oversized length is refused at once, before any allocation */
	uint8_t zero[4] = {0, 0, 0, 0};
	assert_int_equal(al_frame_reader_feed(&rd, zero, 4), -EMSGSIZE);
	al_frame_reader_free(&rd);
	uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(al_frame_reader_feed(&rd, huge, 4), -EMSGSIZE);
	al_frame_reader_free(&rd);
	uint8_t over[4] = {1, 0, 0x10, 0}; /* AL_FRAME_MAX + 1 */
	assert_int_equal(al_frame_reader_feed(&rd, over, 4), -EMSGSIZE);
	al_frame_reader_free(&rd);
	free(buf);
}

/* Found by fuzz_session_proto: a frame followed by a length word with the
 * high bit set was taken for the reader's own "handed out" mark and
 * memmoved with a negative size. */
static void high_bit_length_after_a_frame(void **state)
{
	static const uint8_t in[] = {1, 0, 0, 0, 0xa5, 0xff, 0x2f, 0x00, 0xa5, 0xff, 0xfd, 0xff};
	struct al_frame_reader rd = {0};
	uint8_t type;
	const uint8_t *p;
	size_t plen;
	(void)state;
	assert_int_equal(al_frame_reader_feed(&rd, in, 9), 0);
	assert_int_equal(al_frame_reader_next(&rd, &type, &p, &plen), 1);
	assert_int_equal(type, 0xa5);
	assert_int_equal(al_frame_reader_next(&rd, &type, &p, &plen), -EMSGSIZE);
	assert_int_equal(al_frame_reader_feed(&rd, in + 9, 3), -EMSGSIZE);
	assert_int_equal(al_frame_reader_next(&rd, &type, &p, &plen), -EMSGSIZE);
	al_frame_reader_free(&rd);
}

/* `airlock cp` streams: an entry can never name a path outside the tree
 * it builds, carry set-id bits, or be a device. */
static void cp_entries_strict(void **state)
{
	struct al_cp_entry e = {.kind = 'f', .mode = 0755, .size = 3, .rel = "a/b", .link = ""}, o;
	struct al_cp_request rq = {.limit = 9, .path = "/x", .base = "y"}, ro;
	uint8_t *b = NULL;
	size_t n;
	(void)state;
	assert_int_equal(al_cp_entry_encode(&e, &b, &n), 0);
	assert_int_equal(al_cp_entry_parse(b, n, &o), 0);
	assert_string_equal(o.rel, "a/b");
	assert_int_equal(o.size, 3);
	assert_int_equal(al_cp_entry_parse(b, n - 1, &o), -EINVAL);
	free(b);
	const char *bad_rel[] = {"..", "a/..", "../a", "/a", "a/", "a//b", ".", "a/./b"};
	for (size_t i = 0; i < sizeof bad_rel / sizeof *bad_rel; i++) {
		e.rel = bad_rel[i];
		assert_false(al_cp_rel_ok(bad_rel[i]));
		assert_int_equal(al_cp_entry_encode(&e, &b, &n), 0);
		assert_int_equal(al_cp_entry_parse(b, n, &o), -EINVAL);
		free(b);
	}
	assert_true(al_cp_rel_ok(""));
	assert_true(al_cp_rel_ok("..a/b..c/.d"));
	e.rel = "ok";
	struct al_cp_entry bad[] = {
		{.kind = 'f', .mode = 04755, .rel = "ok", .link = ""},  /* set-uid */
		{.kind = 'c', .mode = 0644, .rel = "ok", .link = ""},   /* a device */
		{.kind = 'p', .mode = 0644, .rel = "ok", .link = ""},   /* a fifo */
		{.kind = 'd', .mode = 0755, .size = 1, .rel = "ok", .link = ""},
		{.kind = 'l', .mode = 0777, .rel = "ok", .link = ""},   /* a link to nothing */
		{.kind = 'f', .mode = 0644, .rel = "ok", .link = "x"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(al_cp_entry_encode(&bad[i], &b, &n), 0);
		assert_int_equal(al_cp_entry_parse(b, n, &o), -EINVAL);
		free(b);
	}
	assert_int_equal(al_cp_request_encode(&rq, &b, &n), 0);
	assert_int_equal(al_cp_request_parse(b, n, &ro), 0);
	assert_string_equal(ro.path, "/x");
	assert_string_equal(ro.base, "y");
	assert_int_equal(al_cp_request_parse(b, n - 1, &ro), -EINVAL);
	free(b);
	rq.base = "a/b";
	assert_int_equal(al_cp_request_encode(&rq, &b, &n), 0);
	assert_int_equal(al_cp_request_parse(b, n, &ro), -EINVAL);
	free(b);
	rq.base = "";
	const char *users[] = {"root", "0", "65535", "", "65536", "-1", "bob", "1a", "123456"};
	for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
		rq.user = users[i];
		assert_int_equal(al_cp_request_encode(&rq, &b, &n), 0);
		assert_int_equal(al_cp_request_parse(b, n, &ro), i < 4 ? 0 : -EINVAL);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_parse_round_trip),
		cmocka_unit_test(hostile_requests_refused),
		cmocka_unit_test(frames_split_and_bounded),
		cmocka_unit_test(high_bit_length_after_a_frame),
		cmocka_unit_test(cp_entries_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
