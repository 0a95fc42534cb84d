/* Workload output through the log: stream files beside the log, chunk
 * records with offsets and hashes, coalescing, the output cap, and the
 * guarantee that hostile bytes never become a line of the log. Also the
 * writer's refusals (bad fields, oversized records, existing files). */
#include "evtest.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "evidence/chain.h"
#include "evidence/jscan.h"

struct fixture {
	char *dir;
	char *log;
	struct al_evlog *ev;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct al_log_spec ls = {0};
	struct al_error err = {0};

	f->dir = scratch_dir();
	f->log = path_in(f->dir, "out.jsonl");
	ls.path = f->log;
	ls.checkpoint_every = 1000;
	assert_int_equal(al_evlog_open(&f->ev, &ls, "run-out", &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	al_evlog_free(f->ev);
	rm_rf(f->dir);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

static void close_log(struct fixture *f)
{
	struct al_error err = {0};
	assert_int_equal(al_evlog_close(f->ev, &err), 0);
}

static size_t count_type(const struct lines *l, const char *type)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct al_jval obj, t;
		assert_int_equal(al_jscan_value(l->v[i], strlen(l->v[i]), true, &obj), 0);
		assert_true(al_jobj_get(&obj, "type", &t));
		n += al_jstr_eq(&t, type);
	}
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "re");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void test_hostile_bytes_stay_in_stream_file(void **state)
{
	struct fixture *f = *state;
	static const char evil[] =
	    "ok\n{\"v\":1,\"seq\":2,\"type\":\"run_end\",\"verdict\":\"exited\"}\n"
	    "\xff\xfe\xc0\x80 invalid utf-8 \x1b[2J\r\n\0NUL\n\"},{\"prev\":\"";
	struct al_error err = {0};
	struct al_verify v;
	struct lines l;
	char *outp = path_in(f->dir, "out.jsonl.stdout"), *data;
	size_t len;
	uint8_t h[32];
	char hex[65];

	append_kv(f->ev, "run_start", "pubkey", al_evlog_pubkey_hex(f->ev));
	assert_int_equal(al_evlog_output(f->ev, 1, evil, sizeof evil, &err), 0);
	close_log(f);

	/* run_start, one stdout chunk, streams, final checkpoint: 4 lines */
	lines_read(f->log, &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(count_type(&l, "stdout"), 1);
	assert_int_equal(count_type(&l, "run_end"), 0);
	/* byte-exact in the stream file, and the record's hash matches it */
	data = slurp(outp, &len);
	assert_int_equal(len, sizeof evil);
	assert_memory_equal(data, evil, sizeof evil);
	crypto_hash_sha256(h, (unsigned char *)evil, sizeof evil);
	al_hex(h, 32, hex);
	assert_non_null(strstr(l.v[1], hex));
	assert_non_null(strstr(l.v[1], "\"offset\":0,\"len\":"));
	assert_int_equal(verify_path(f->log, NULL, &v), AL_VERIFY_OK);
	{
		int checked;
		FILE *fp;
		assert_int_equal(al_verify_stream_files(&v, f->dir, &checked), AL_VERIFY_OK);
		assert_int_equal(checked, 2);
		/* one byte more in the stream file: no longer the recorded output */
		fp = fopen(outp, "ae");
		fputc('x', fp);
		fclose(fp);
		assert_int_equal(al_verify_stream_files(&v, f->dir, &checked), AL_VERIFY_EDITED);
		assert_non_null(strstr(v.reason, "out.jsonl.stdout"));
	}
	{
		/* a stream file the log names that is gone, a link, or a FIFO is
		 * not the evidence: each fails, and the FIFO is never read */
		char *errp = NULL;
		int checked;
		struct al_verify w;
		assert_int_equal(truncate(outp, sizeof evil), 0); /* stdout as recorded again */
		assert_true(asprintf(&errp, "%s.stderr", f->log) > 0);
		for (int kind = 0; kind < 3; kind++) {
			unlink(errp);
			if (kind == 1)
				assert_int_equal(symlink(outp, errp), 0);
			else if (kind == 2)
				assert_int_equal(mkfifo(errp, 0600), 0);
			assert_int_equal(verify_path(f->log, NULL, &w), AL_VERIFY_OK);
			assert_int_equal(al_verify_stream_files(&w, f->dir, &checked),
			                 AL_VERIFY_STREAM_MISSING);
			assert_non_null(strstr(w.reason, "out.jsonl.stderr"));
			al_verify_free(&w);
		}
		unlink(errp);
		free(errp);
	}
	al_verify_free(&v);
	lines_free(&l);
	free(data);
	free(outp);
}

static void test_coalescing(void **state)
{
	struct fixture *f = *state;
	struct al_error err = {0};
	struct al_evlog_stream_stats s;
	struct lines l;

	/* a workload writing one byte at a time must not make one record each */
	for (int i = 0; i < 20000; i++)
		assert_int_equal(al_evlog_output(f->ev, i % 2 ? 2 : 1, "x", 1, &err), 0);
	assert_int_equal(al_evlog_stream_stats(f->ev, 1, &s), 0);
	assert_int_equal(s.bytes, 10000);
	/* another event flushes the pending chunks first, preserving order */
	append_kv(f->ev, "exec", "path", "/bin/true");
	for (int i = 0; i < 3 * 1024; i++) {
		static char kib[1024];
		assert_int_equal(al_evlog_output(f->ev, 1, kib, sizeof kib, &err), 0);
	}
	close_log(f);
	lines_read(f->log, &l);
	/* 1 stdout + 1 stderr before exec; 3 MiB in 1 MiB chunks after it */
	assert_int_equal(count_type(&l, "stdout"), 4);
	assert_int_equal(count_type(&l, "stderr"), 1);
	assert_non_null(strstr(l.v[0], "\"type\":\"stdout\",\"offset\":0,\"len\":10000,"));
	assert_non_null(strstr(l.v[1], "\"type\":\"stderr\",\"offset\":0,\"len\":10000,"));
	assert_non_null(strstr(l.v[2], "\"type\":\"exec\""));
	assert_non_null(strstr(l.v[3], "\"type\":\"stdout\",\"offset\":10000,\"len\":1048576,"));
	lines_free(&l);
}

static void test_output_cap(void **state)
{
	struct fixture *f = *state;
	struct al_error err = {0};
	struct al_evlog_stream_stats s1, s2;
	struct al_verify v;
	struct lines l;
	struct stat st;
	char *outp = path_in(f->dir, "out.jsonl.stdout"),
	     *errp = path_in(f->dir, "out.jsonl.stderr");
	char buf[100];

	memset(buf, 'a', sizeof buf);
	al_evlog_set_output_cap(f->ev, 1000);
	/* 600 bytes of stderr, then 5000 of stdout: the cap is for both together */
	for (int i = 0; i < 6; i++)
		assert_int_equal(al_evlog_output(f->ev, 2, buf, sizeof buf, &err), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(al_evlog_output(f->ev, 1, buf, sizeof buf, &err), 0);
	assert_int_equal(al_evlog_stream_stats(f->ev, 1, &s1), 0);
	assert_int_equal(al_evlog_stream_stats(f->ev, 2, &s2), 0);
	assert_int_equal(s1.bytes, 5000);
	assert_int_equal(s1.stored, 400);
	assert_int_equal(s1.dropped, 4600);
	assert_int_equal(s2.stored, 600);
	assert_int_equal(s2.dropped, 0);
	close_log(f);

	assert_int_equal(stat(outp, &st), 0);
	assert_int_equal(st.st_size, 400);
	assert_int_equal(stat(errp, &st), 0);
	assert_int_equal(st.st_size, 600);
	lines_read(f->log, &l);
	/* one output_capped record, however much more is written */
	assert_int_equal(count_type(&l, "output_capped"), 1);
	assert_non_null(
	    strstr(l.v[l.n - 2], "\"stdout\":{\"bytes\":5000,\"stored\":400,\"dropped\":4600,"));
	assert_non_null(strstr(l.v[l.n - 2], s1.sha256));
	assert_int_equal(verify_path(f->log, NULL, &v), AL_VERIFY_OK);
	al_verify_free(&v);
	lines_free(&l);
	free(outp);
	free(errp);
}

static void test_stream_hash_matches_file(void **state)
{
	struct fixture *f = *state;
	struct al_error err = {0};
	struct al_evlog_stream_stats s;
	char *outp = path_in(f->dir, "out.jsonl.stdout"), *data, hex[65];
	size_t len;
	uint8_t h[32];

	for (int i = 0; i < 1000; i++) {
		char chunk[64];
		int n = snprintf(chunk, sizeof chunk, "line %d \xe2\x82\xac\n", i);
		assert_int_equal(al_evlog_output(f->ev, 1, chunk, (size_t)n, &err), 0);
	}
	assert_int_equal(al_evlog_stream_stats(f->ev, 1, &s), 0);
	close_log(f);
	data = slurp(outp, &len);
	assert_int_equal(len, s.stored);
	crypto_hash_sha256(h, (unsigned char *)data, len);
	al_hex(h, 32, hex);
	assert_string_equal(hex, s.sha256);
	free(data);
	free(outp);
}

static void test_field_refusals(void **state)
{
	struct fixture *f = *state;
	struct al_error err = {0};
	struct al_verify v;
	char *big;
	size_t n = AL_EVLOG_LINE_MAX + 10;

	assert_int_equal(al_evlog_append(f->ev, "exec", "{\"a\":1,\n\"b\":2}", &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "exec", "[1,2]", &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "exec", "{\"a\":", &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "exec", "{\"prev\":\"00\"}", &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "exec", "{\"se\\u0071\":1}", &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "checkpoint", NULL, &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "Bad Type", NULL, &err), -EINVAL);
	assert_int_equal(al_evlog_append(f->ev, "exec", "{\"path\":\"/bin/sh\"}", &err), 0);

	/* an oversized record is refused without breaking the chain */
	big = malloc(n + 20);
	memcpy(big, "{\"x\":\"", 6);
	memset(big + 6, 'y', n);
	memcpy(big + 6 + n, "\"}", 3);
	assert_int_equal(al_evlog_append(f->ev, "exec", big, &err), -E2BIG);
	free(big);
	assert_int_equal(al_evlog_append(f->ev, "exit", "{\"status\":0}", &err), 0);
	close_log(f);
	assert_int_equal(al_evlog_append(f->ev, "exit", NULL, &err), -EBADF);
	assert_int_equal(verify_path(f->log, NULL, &v), AL_VERIFY_OK);
	assert_int_equal(v.next_seq, 4);
	al_verify_free(&v);
}

static void test_refuses_existing_log(void **state)
{
	struct fixture *f = *state;
	struct al_log_spec ls = {0};
	struct al_evlog *other = NULL;
	struct al_error err = {0};

	ls.path = f->log;
	assert_int_equal(al_evlog_open(&other, &ls, "run-out", &err), -EEXIST);
	ls.path = "/nonexistent-dir/{run}.jsonl";
	assert_int_equal(al_evlog_open(&other, &ls, "run-out", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/run-out.jsonl"));
	ls.path = NULL;
	assert_int_equal(al_evlog_open(&other, &ls, "bad/run", &err), -EINVAL);
}

static void test_time_checkpoint_and_memory_log(void **state)
{
	struct al_log_spec ls = {0};
	struct al_evlog *log = NULL;
	struct al_error err = {0};
	uint64_t seq;

	(void)state;
	/* no file: records are chained in memory, nothing is written */
	ls.checkpoint_every = 0;
	ls.checkpoint_ns = 1;
	assert_int_equal(al_evlog_open(&log, &ls, "run-mem", &err), 0);
	assert_null(al_evlog_path(log));
	assert_int_equal(strlen(al_evlog_pubkey_hex(log)), 64);
	append_kv(log, "exec", "path", "/bin/true");
	assert_int_equal(al_evlog_seq(log), 1);
	usleep(1000);
	assert_int_equal(al_evlog_tick(log, &err), 0);
	/* the tick found a record not yet covered and time past: a checkpoint */
	assert_int_equal(al_evlog_seq(log), 2);
	seq = al_evlog_seq(log);
	assert_int_equal(al_evlog_tick(log, &err), 0);
	assert_int_equal(al_evlog_seq(log), seq); /* nothing new: no checkpoint */
	assert_int_equal(al_evlog_close(log, &err), 0);
	assert_null(al_evlog_sink_failure(log));
	al_evlog_free(log);
}

/* The sink drops away mid-run (policy kill): the caller is told once, and
 * the local log goes on -- checkpoints (and their key ratchet) included -- so
 * the file still verifies and holds the records saying why the run ended. */
static void test_sink_loss_keeps_local_log(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	struct al_log_spec ls = {0};
	struct al_evlog *log = NULL;
	struct al_error err = {0};
	struct al_verify v;
	char url[64], *p = path_in(f->dir, "sunk.jsonl");
	int lfd, cfd, failures = 0, r;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof url, "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	ls.path = p;
	ls.sink = url;
	ls.on_sink_failure = AL_SINK_FAILURE_KILL;
	ls.checkpoint_every = 2;
	assert_int_equal(al_evlog_open(&log, &ls, "run-sink", &err), 0);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(cfd >= 0);
	append_kv(log, "run_start", "pubkey", al_evlog_pubkey_hex(log));
	close(cfd);
	close(lfd);
	usleep(20000);
	/* every record still lands locally; the loss is reported exactly once */
	for (int i = 0; i < 9; i++) {
		r = al_evlog_append(log, "exec", "{\"path\":\"/bin/true\"}", &err);
		if (r < 0) {
			failures++;
			assert_non_null(strstr(err.msg, "log sink lost"));
		}
	}
	assert_int_equal(failures, 1);
	assert_non_null(al_evlog_sink_failure(log));
	append_kv(log, "run_end", "verdict", "policy");
	assert_int_equal(al_evlog_close(log, &err), 0);
	al_evlog_free(log);
	assert_int_equal(verify_path(p, NULL, &v), AL_VERIFY_OK);
	assert_int_equal(v.next_seq, 1 + 9 + 1 + 1 + 5 + 1); /* + streams, 5 checkpoints, final */
	al_verify_free(&v);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hostile_bytes_stay_in_stream_file, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_coalescing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_hash_matches_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_field_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_existing_log, setup, teardown),
	    cmocka_unit_test(test_time_checkpoint_and_memory_log),
	    cmocka_unit_test_setup_teardown(test_sink_loss_keeps_local_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
