/* The timeline printer on hostile records: what the workload put in argv or
 * paths must never reach the terminal as control characters or bidi
 * overrides, and garbage lines are reported, not fatal. */
#include "evtest.h"

#include "evidence/show.h"

static char *show(const char *line, struct al_show_stats *st)
{
	char *buf = NULL;
	size_t len = 0;
	uint64_t t0 = UINT64_MAX;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	al_show_line(line, strlen(line), out, st, &t0);
	fclose(out);
	return buf;
}

static void test_escapes_terminal_controls(void **state)
{
	struct al_show_stats st = {0};
	char *o;

	(void)state;
	o = show("{\"v\":1,\"seq\":1,\"mono_ns\":5,\"type\":\"exec\",\"pid\":7,"
	         "\"argv\":[\"sh\",\"-c\",\"\\u001b]0;owned\\u0007\\u009b2J\",\"\\u202eevil\",\"a "
	         "b\",\"\"]}",
	         &st);
	assert_non_null(
	    strstr(o, "exec      pid 7: sh -c \\x1b]0;owned\\x07\\x9b2J \\u202eevil 'a b' ''"));
	for (const char *p = o; *p; p++)
		assert_false((unsigned char)*p < 0x20 && *p != '\n');
	assert_null(strstr(o, "\xe2\x80\xae"));
	assert_int_equal(st.execs, 1);
	free(o);
}

/* The path that was executed leads, whatever argv[0] claims; then argv, the
 * loader environment, the content hash; a refusal is said. */
static void test_exec_shows_the_executed_path(void **state)
{
	struct al_show_stats st = {0};
	char *o;

	(void)state;
	o = show("{\"type\":\"exec\",\"pid\":3,\"path\":\"/tmp/evil\",\"argv\":[\"/usr/bin/"
	         "true\"],\"argc\":1,\"ld_env\":[\"LD_PRELOAD=/tmp/x.so\"],\"file\":{\"dev\":"
	         "\"0:1\",\"ino\":5,\"image\":false,\"sha256\":\"abc\"},\"source\":\"seccomp\"}",
	         &st);
	assert_non_null(strstr(o, "exec      pid 3: /tmp/evil  argv: /usr/bin/true  env: "
	                          "LD_PRELOAD=/tmp/x.so  sha256 abc"));
	free(o);
	o = show("{\"type\":\"exec\",\"pid\":3,\"path\":\"/bin/echo\",\"argv\":[],\"argc\":2,"
	         "\"ld_env\":[],\"read_error\":14,\"read_what\":\"argv\",\"refused\":true,"
	         "\"errno\":14}",
	         &st);
	assert_non_null(strstr(o,
	                       "exec      pid 3: /bin/echo  argv:   REFUSED errno 14 (unreadable "
	                       "argv)"));
	free(o);
	o = show("{\"type\":\"exec\",\"pid\":3,\"path\":null,\"read_error\":14,\"refused\":true,"
	         "\"errno\":14}",
	         &st);
	assert_non_null(strstr(o,
	                       "exec      pid 3: (path unreadable)  REFUSED errno 14 (unreadable "
	                       "path)"));
	free(o);
	o = show("{\"type\":\"exec\",\"pid\":4,\"path\":\"/tmp/s\",\"argv\":[\"s\"],\"file\":{"
	         "\"sha256\":\"aa\"},\"interpreters\":[{\"path\":\"/tmp/evil\",\"file\":{"
	         "\"sha256\":\"bb\"}}]}",
	         &st);
	assert_non_null(
	    strstr(o, "exec      pid 4: /tmp/s  argv: s  sha256 aa  #! /tmp/evil sha256 bb"));
	free(o);
	assert_int_equal(st.execs, 4);
}

static void test_garbage_and_unknown(void **state)
{
	struct al_show_stats st = {0};
	char *o;

	(void)state;
	o = show("\x1b[2J{not json", &st);
	assert_non_null(strstr(o, "not a record, skipped"));
	assert_null(strchr(o, '\x1b'));
	free(o);
	o = show("{\"type\":\"canary\",\"path\":\"/home/agent/.aws/credentials\",\"n\":3}", &st);
	assert_non_null(strstr(o, "canary  path=/home/agent/.aws/credentials n=3"));
	free(o);
	assert_int_equal(st.unreadable, 1);
	assert_int_equal(st.records, 1);
}

static void test_run_end_and_exit(void **state)
{
	struct al_show_stats st = {0};
	char *o;

	(void)state;
	o = show("{\"type\":\"exit\",\"pid\":2,\"status\":null,\"signal\":9}", &st);
	assert_non_null(strstr(o, "exit      pid 2 killed by signal 9"));
	free(o);
	o = show("{\"type\":\"run_end\",\"verdict\":\"timeout\",\"exit_status\":124,\"duration_"
	         "ns\":1500000000,"
	         "\"peaks\":{\"memory_bytes\":2097152,\"cpu_ns\":250000000,\"pids\":4}}",
	         &st);
	assert_non_null(strstr(o, "run ended: timeout, exit status 124, after 1.500 s"));
	assert_non_null(strstr(o, "peaks: memory 2.0 MiB, cpu 0.250 s, pids 4"));
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escapes_terminal_controls),
	    cmocka_unit_test(test_exec_shows_the_executed_path),
	    cmocka_unit_test(test_garbage_and_unknown),
	    cmocka_unit_test(test_run_end_and_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
