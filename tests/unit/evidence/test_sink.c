/* Unit tests for the remote sink's pure parts: URL parsing, the RFC 5424
 * message, RFC 6587 octet framing, MSGID extraction, SD escaping, and the
 * spool (order, truncation when drained, file mode, damage detection). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/sink_int.h"

static void url_ok(const char *url, enum al_sink_scheme scheme, const char *host, const char *port)
{
	struct al_sink_url u;
	struct al_error err = {0};
	int r = al_sink_url_parse(url, &u, &err);
	if (r != 0)
		fail_msg("%s: %s", url, err.msg);
	assert_int_equal(u.scheme, scheme);
	assert_string_equal(u.host, host);
	assert_string_equal(u.port, port);
}

static void url_bad(const char *url)
{
	struct al_sink_url u;
	struct al_error err = {0};
	if (al_sink_url_parse(url, &u, &err) != -EINVAL)
		fail_msg("accepted %s", url);
	/* The message names the URL the user wrote. */
	assert_non_null(strstr(err.msg, url));
}

static void test_url(void **state)
{
	url_ok("tcp://127.0.0.1:1514", AL_SINK_TCP, "127.0.0.1", "1514");
	url_ok("tls://logs.example.org:6514", AL_SINK_TLS, "logs.example.org", "6514");
	url_ok("relp://127.0.0.1:2514", AL_SINK_RELP, "127.0.0.1", "2514");
	url_ok("relp://[::1]:20514", AL_SINK_RELP, "::1", "20514");
	url_ok("tcp://loghost", AL_SINK_TCP, "loghost", "514");
	url_ok("tls://loghost", AL_SINK_TLS, "loghost", "6514");
	url_ok("relp://loghost/", AL_SINK_RELP, "loghost", "2514");
	url_ok("tcp://h:00514", AL_SINK_TCP, "h", "514");

	url_bad("udp://127.0.0.1:514");
	url_bad("127.0.0.1:514");
	url_bad("tcp://");
	url_bad("tcp://:514");
	url_bad("tcp://host:0");
	url_bad("tcp://host:65536");
	url_bad("tcp://host:99999999999999999999");
	url_bad("tcp://host:");
	url_bad("tcp://host:-1");
	url_bad("tcp://host:514x");
	url_bad("tcp://user@host:514");
	url_bad("tcp://host:514/path");
	url_bad("tcp://[::1:514");
	url_bad("tcp://[zz::1]:514");
	url_bad("tcp://host name:514");
	url_bad("RELP://host:514");
}

static void test_msgid(void **state)
{
	char id[33];
	const char *l;

	l = "{\"v\":1,\"seq\":3,\"type\":\"run_start\",\"prev\":\"ab\"}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "run_start");

	/* The envelope's type wins over a "type" key in the payload. */
	l = "{\"seq\":3,\"type\":\"exec\",\"argv\":[\"x\"],\"o\":{\"type\":\"evil\"}}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "exec");

	/* A workload-controlled string cannot fake it: quotes are escaped. */
	l = "{\"seq\":3,\"data\":\"\\\"type\\\":\\\"x\\\"\"}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");

	/* Not PRINTUSASCII-safe, too long, empty, unterminated or reserved. */
	l = "{\"type\":\"a b\"}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");
	l = "{\"type\":\"abcdefghijabcdefghijabcdefghijabc\"}"; /* 33 chars */
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");
	l = "{\"type\":\"abcdefghijabcdefghijabcdefghijab\"}"; /* 32 chars */
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "abcdefghijabcdefghijabcdefghijab");
	l = "{\"type\":\"\"}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");
	l = "{\"type\":\"exec";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");
	l = "{\"type\":\"" AL_SINK_GAP_MSGID "\"}";
	al_sink_msgid(l, strlen(l), id);
	assert_string_equal(id, "event");
	/* Only the given length counts. */
	l = "{\"type\":\"exec\"}";
	al_sink_msgid(l, 12, id);
	assert_string_equal(id, "event");
}

static void test_sd_escape(void **state)
{
	struct al_buf b;
	al_buf_init(&b);
	al_sink_sd_escape(&b, "a\"b\\c]d[e");
	assert_string_equal(b.data, "a\\\"b\\\\c\\]d[e");
	al_buf_free(&b);
}

static void test_format_5424(void **state)
{
	struct al_buf b;
	const char *rec = "{\"seq\":7,\"type\":\"exec\",\"s\":\"\xc3\xa9\"}";
	/* 2026-11-26T18:39:04.123456789Z */
	uint64_t ns = 1795718344ull * 1000000000ull + 123456789ull;

	al_buf_init(&b);
	assert_int_equal(al_sink_format_5424(&b, AL_SINK_PRI_RECORD, ns, "host-1", "4242", "exec",
	                                     "run=\"r1\" seq=\"7\"", rec, strlen(rec)),
	                 0);
	/* PRI 134 = local0.info; 6 fraction digits (RFC 5424 max); MSG is
	 * the record, byte for byte, after exactly one space. */
	assert_string_equal(b.data, "<134>1 2026-11-26T18:39:04.123456Z host-1 airlock 4242 exec "
	                            "[airlock@32473 run=\"r1\" seq=\"7\"] "
	                            "{\"seq\":7,\"type\":\"exec\",\"s\":\"\xc3\xa9\"}");
	assert_int_equal(b.len, strlen(b.data));

	/* Gap markers: local0.warning. */
	assert_int_equal(al_sink_format_5424(&b, AL_SINK_PRI_GAP, 0, "h", "1", AL_SINK_GAP_MSGID,
	                                     "run=\"r\" first=\"1\" last=\"2\"", "{}", 2),
	                 0);
	assert_string_equal(b.data, "<132>1 1970-01-01T00:00:00.000000Z h airlock 1 sink-gap "
	                            "[airlock@32473 run=\"r\" first=\"1\" last=\"2\"] {}");
	al_buf_free(&b);
}

static void test_frame_octets(void **state)
{
	struct al_buf b;
	al_buf_init(&b);
	assert_int_equal(al_sink_frame_octets(&b, "<134>1 x", 8), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "8 <134>1 x", 10);
	/* Appends: frames follow one another; the length counts bytes, and
	 * embedded newlines or NULs are just bytes. */
	assert_int_equal(al_sink_frame_octets(&b, "a\nb\0c", 5), 0);
	assert_int_equal(b.len, 17);
	assert_memory_equal(b.data + 10, "5 a\nb\0c", 7);
	al_buf_reset(&b);
	char big[1000];
	memset(big, 'z', sizeof big);
	assert_int_equal(al_sink_frame_octets(&b, big, sizeof big), 0);
	assert_int_equal(b.len, 1005);
	assert_memory_equal(b.data, "1000 z", 6);
	al_buf_free(&b);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/al-spool-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

/* Every fd open on path must be CLOEXEC (a leaked fd is an escape). */
static int fds_on_path_cloexec(const char *path)
{
	int found = 0;
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], target[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path))
			continue;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			return -1;
		found++;
	}
	return found;
}

static void test_spool_order(void **state)
{
	char *dir = tmpdir();
	struct al_spool *sp = NULL;
	struct al_error err = {0};
	struct al_buf line;
	uint64_t seq;
	char rec[64];
	struct stat st;

	al_buf_init(&line);
	assert_int_equal(al_spool_open(&sp, dir, "run1", &err), 0);
	/* Private: records carry the workload's output. */
	assert_int_equal(stat(al_spool_path(sp), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fds_on_path_cloexec(al_spool_path(sp)), 1);

	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 0);
	for (int i = 1; i <= 1000; i++) {
		int n = snprintf(rec, sizeof rec, "{\"seq\":%d}", i);
		assert_int_equal(al_spool_append(sp, (uint64_t)i, rec, (size_t)n, &err), 0);
	}
	/* An empty record and one bigger than the read chunk survive too. */
	assert_int_equal(al_spool_append(sp, 1001, "", 0, &err), 0);
	size_t bign = 100000;
	char *big = malloc(bign);
	for (size_t i = 0; i < bign; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(al_spool_append(sp, 1002, big, bign, &err), 0);
	assert_int_equal(al_spool_pending(sp), 1002);

	/* Peek is idempotent until pop. */
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 1);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 1);
	for (int i = 1; i <= 500; i++) {
		int n = snprintf(rec, sizeof rec, "{\"seq\":%d}", i);
		assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
		assert_int_equal(seq, (uint64_t)i);
		assert_int_equal(line.len, (size_t)n);
		assert_memory_equal(line.data, rec, (size_t)n);
		assert_int_equal(al_spool_pop(sp, &err), 0);
	}
	/* Appends during the drain land behind what is queued. */
	assert_int_equal(al_spool_append(sp, 1003, "late", 4, &err), 0);
	for (int i = 501; i <= 1000; i++) {
		assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
		assert_int_equal(seq, (uint64_t)i);
		assert_int_equal(al_spool_pop(sp, &err), 0);
	}
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 1001);
	assert_int_equal(line.len, 0);
	assert_int_equal(al_spool_pop(sp, &err), 0);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 1002);
	assert_int_equal(line.len, bign);
	assert_memory_equal(line.data, big, bign);
	assert_int_equal(al_spool_pop(sp, &err), 0);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 1003);
	assert_memory_equal(line.data, "late", 4);
	assert_int_equal(al_spool_pop(sp, &err), 0);

	/* Drained: the file is truncated so outages do not accumulate. */
	assert_int_equal(al_spool_pending(sp), 0);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 0);
	assert_int_equal(stat(al_spool_path(sp), &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_not_equal(al_spool_pop(sp, &err), 0); /* pop without peek */

	/* Reused after truncation. */
	assert_int_equal(al_spool_append(sp, 2000, "again", 5, &err), 0);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 2000);
	assert_int_equal(al_spool_pop(sp, &err), 0);

	char *path = strdup(al_spool_path(sp));
	al_spool_free(sp);
	/* Empty at close: removed. */
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(big);
	al_buf_free(&line);
	rmdir(dir);
	free(dir);
}

static void test_spool_kept_and_exclusive(void **state)
{
	char *dir = tmpdir();
	struct al_spool *sp = NULL, *sp2 = NULL;
	struct al_error err = {0};

	assert_int_equal(al_spool_open(&sp, dir, "run2", &err), 0);
	/* Never reuse or follow an existing file. */
	assert_int_equal(al_spool_open(&sp2, dir, "run2", &err), -EEXIST);
	assert_non_null(strstr(err.msg, "run2.sink-spool"));
	assert_int_equal(al_spool_append(sp, 1, "x", 1, &err), 0);
	char *path = strdup(al_spool_path(sp));
	al_spool_free(sp);
	/* Undelivered records stay on disk for the operator. */
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	free(path);

	/* A run id cannot escape the directory. */
	assert_int_equal(al_spool_open(&sp2, dir, "../x", &err), -EINVAL);
	assert_int_equal(al_spool_open(&sp2, dir, "..", &err), -EINVAL);
	rmdir(dir);
	free(dir);
}

static void test_spool_damage(void **state)
{
	char *dir = tmpdir();
	struct al_spool *sp = NULL;
	struct al_error err = {0};
	struct al_buf line;
	uint64_t seq;

	al_buf_init(&line);
	assert_int_equal(al_spool_open(&sp, dir, "run3", &err), 0);
	assert_int_equal(al_spool_append(sp, 1, "hello", 5, &err), 0);
	/* Someone rewrites the length field to claim more than the file has. */
	int fd = open(al_spool_path(sp), O_WRONLY | O_CLOEXEC);
	unsigned char bad[4] = {0xff, 0xff, 0, 0};
	assert_int_equal(pwrite(fd, bad, 4, 8), 4);
	close(fd);
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), -EIO);
	assert_non_null(strstr(err.msg, "damaged"));
	unlink(al_spool_path(sp));
	al_spool_free(sp);
	al_buf_free(&line);
	rmdir(dir);
	free(dir);
}

/* Skip + commit + rewind: records read (shipped) but not committed
 * (acknowledged) stay pending and come out again, in order, after a
 * rewind; appends land behind them; commit of the last one truncates. */
static void test_spool_commit_rewind(void **state)
{
	char *dir = tmpdir();
	struct al_spool *sp = NULL;
	struct al_error err = {0};
	struct al_buf line;
	uint64_t seq;
	struct stat st;

	al_buf_init(&line);
	assert_int_equal(al_spool_open(&sp, dir, "run4", &err), 0);
	for (uint64_t i = 1; i <= 4; i++)
		assert_int_equal(al_spool_append(sp, i, "rec", 3, &err), 0);
	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
		assert_int_equal(seq, i);
		assert_int_equal(al_spool_skip(sp, &err), 0);
	}
	assert_int_equal(al_spool_pending(sp), 4);
	assert_int_equal(al_spool_commit(sp, &err), 0); /* 1 acknowledged */
	assert_int_equal(al_spool_pending(sp), 3);
	/* a pop behind uncommitted entries would lose them: refused */
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
	assert_int_equal(seq, 4);
	assert_int_not_equal(al_spool_pop(sp, &err), 0);
	al_spool_rewind(sp);
	assert_int_equal(al_spool_append(sp, 5, "new", 3, &err), 0);
	for (uint64_t i = 2; i <= 5; i++) {
		assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 1);
		assert_int_equal(seq, i);
		assert_int_equal(al_spool_skip(sp, &err), 0);
	}
	assert_int_equal(al_spool_peek(sp, &seq, &line, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(al_spool_commit(sp, &err), 0);
	/* nothing read is left to commit */
	assert_int_not_equal(al_spool_commit(sp, &err), 0);
	assert_int_equal(al_spool_pending(sp), 0);
	assert_int_equal(stat(al_spool_path(sp), &st), 0);
	assert_int_equal(st.st_size, 0);
	char *path = strdup(al_spool_path(sp));
	al_spool_free(sp);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	al_buf_free(&line);
	rmdir(dir);
	free(dir);
}

/* A scripted acknowledging transport (like RELP): it records what arrives
 * (seq of a record, or the first/last of a gap marker) and acknowledges
 * what the test says. */
#define FAKE_MAX 256
static struct fake {
	bool up, lose;   /* connected; the next check/send reports a loss */
	uint64_t sent;   /* messages sent in this session */
	uint64_t acked;  /* of them, acknowledged */
	unsigned n;      /* what arrived, over all sessions */
	long got[FAKE_MAX];        /* seq, or -1 for a gap marker */
	uint64_t gap_first[FAKE_MAX], gap_last[FAKE_MAX];
} fk;

static int fake_connect(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	if (fk.lose)
		return al_error_set(err, ECONNREFUSED, "sink", "fake: down");
	fk.up = true;
	fk.sent = fk.acked = 0;
	return 0;
}

static uint64_t param(const char *msg, size_t len, const char *key)
{
	char *p = memmem(msg, len, key, strlen(key));
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

static int fake_send(struct al_sink *s, const char *msg, size_t len, struct al_error *err)
{
	if (!fk.up || fk.lose)
		return al_error_set(err, EPIPE, "sink", "fake: lost");
	assert_true(fk.n < FAKE_MAX);
	if (memmem(msg, len, "sink-gap", 8)) {
		fk.got[fk.n] = -1;
		fk.gap_first[fk.n] = param(msg, len, " first=\"");
		fk.gap_last[fk.n] = param(msg, len, " last=\"");
	} else {
		fk.got[fk.n] = (long)param(msg, len, " seq=\"");
	}
	fk.n++;
	fk.sent++;
	return 0;
}

static int fake_check(struct al_sink *s, struct al_error *err)
{
	return fk.lose ? al_error_set(err, EPIPE, "sink", "fake: lost") : 0;
}

static int fake_finish(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	fk.up = false;
	if (fk.lose)
		return al_error_set(err, EPIPE, "sink", "fake: close unanswered");
	fk.acked = fk.sent;
	return 0;
}

static void fake_drop(struct al_sink *s)
{
	fk.up = false;
}

static void fake_destroy(struct al_sink *s)
{
	al_sink_set_transport_state(s, NULL);
}

static uint64_t fake_unacked(struct al_sink *s)
{
	return fk.sent - fk.acked;
}

static const struct al_sink_transport fake_tp = {
    .name = "fake",
    .connect = fake_connect,
    .send = fake_send,
    .check = fake_check,
    .finish = fake_finish,
    .drop = fake_drop,
    .destroy = fake_destroy,
    .unacked = fake_unacked,
    .window = 8,
};

static void send_rec(struct al_sink *s, uint64_t seq)
{
	struct al_error err = {0};
	char rec[64];
	int n = snprintf(rec, sizeof rec, "{\"seq\":%llu,\"type\":\"x\"}", (unsigned long long)seq);
	if (al_sink_send(s, seq, rec, (size_t)n, &err) < 0)
		fail_msg("send %llu: %s", (unsigned long long)seq, err.msg);
}

/* Tick until the sink reconnected and drained its spool (the first
 * reconnect is due 100 ms after the loss). */
static void restore(struct al_sink *s)
{
	struct al_error err = {0};
	struct al_sink_stats st0, st;
	al_sink_get_stats(s, &st0);
	for (int i = 0; i < 100; i++) {
		usleep(20000);
		assert_int_equal(al_sink_tick(s, &err), 0);
		al_sink_get_stats(s, &st);
		if (st.gaps > st0.gaps)
			return;
	}
	fail_msg("the sink did not reconnect");
}

static void expect(unsigned from, const long *seqs, unsigned n)
{
	assert_int_equal(fk.n - from, n);
	for (unsigned i = 0; i < n; i++)
		if (fk.got[from + i] != seqs[i])
			fail_msg("message %u: got %ld, expected %ld", from + i, fk.got[from + i],
			         seqs[i]);
}

/* The records shipped but not acknowledged when the session is given up
 * are spooled before the record that revealed the loss, and come back in
 * seq order behind the gap marker -- also when the loss hits records that
 * were themselves being redelivered from the spool. */
static void test_unacked_spooled_in_order(void **state)
{
	char *dir = tmpdir();
	struct al_log_spec ls = {0};
	struct al_sink *s = NULL;
	struct al_error err = {0};
	char path[4200];

	memset(&fk, 0, sizeof fk);
	ls.sink = (char *)"relp://127.0.0.1:9";
	ls.on_sink_failure = AL_SINK_FAILURE_SPOOL;
	ls.spool_dir = dir;
	assert_int_equal(al_sink_open_tp(&s, &ls, "runu", &fake_tp, &err), 0);
	snprintf(path, sizeof path, "%s/runu.sink-spool", dir);

	for (uint64_t i = 1; i <= 5; i++)
		send_rec(s, i);
	fk.acked = 2; /* 3, 4, 5 written, never acknowledged */
	fk.lose = true;
	send_rec(s, 6); /* reveals the loss */
	send_rec(s, 7);
	fk.lose = false;
	restore(s);
	/* gap marker, then 3..7: nothing lost, in order */
	expect(5, (const long[]){-1, 3, 4, 5, 6, 7}, 6);
	assert_int_equal(fk.gap_first[5], 3);
	assert_int_equal(fk.gap_last[5], 7);

	/* The gap marker and 3 are acknowledged, 4..7 are not: they are still
	 * kept in the spool, 8 goes live. */
	fk.acked = 2;
	send_rec(s, 8);
	fk.lose = true;
	send_rec(s, 9);
	fk.lose = false;
	restore(s);
	expect(12, (const long[]){-1, 4, 5, 6, 7, 8, 9}, 7);
	assert_int_equal(fk.gap_first[12], 4);
	assert_int_equal(fk.gap_last[12], 9);

	/* A lost close: everything since the session began is spooled. */
	send_rec(s, 10);
	fk.acked = fk.sent - 1; /* only 10 outstanding */
	fk.lose = true;
	assert_int_not_equal(al_sink_settle(s, &err), 0);
	fk.lose = false;
	restore(s);
	expect(20, (const long[]){-1, 10}, 2);

	/* Everything acknowledged at settle: the spool is empty. */
	assert_int_equal(al_sink_settle(s, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* The final close goes unanswered: the record sent after settle is
	 * kept in the spool, for `airlock log push`. */
	send_rec(s, 11);
	fk.lose = true;
	assert_int_not_equal(al_sink_close(s, &err), 0);
	assert_non_null(strstr(err.msg, "runu.sink-spool"));
	al_sink_free(s);
	unsigned char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	assert_true(n > 12);
	assert_int_equal(buf[0], 11); /* u64 seq, little-endian */
	for (int i = 1; i < 8; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal((size_t)n, 12 + (size_t)(buf[8] | buf[9] << 8));
	unlink(path);
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_msgid),
	    cmocka_unit_test(test_sd_escape),
	    cmocka_unit_test(test_format_5424),
	    cmocka_unit_test(test_frame_octets),
	    cmocka_unit_test(test_spool_order),
	    cmocka_unit_test(test_spool_kept_and_exclusive),
	    cmocka_unit_test(test_spool_damage),
	    cmocka_unit_test(test_spool_commit_rewind),
	    cmocka_unit_test(test_unacked_spooled_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
