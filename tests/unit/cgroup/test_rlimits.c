/* Unit tests for the init's rlimits step: each limit is in force afterwards
 * (soft = hard), a request above the inherited hard limit is clamped rather
 * than failing, and the description reports the clamping. Each case runs in
 * a forked child because the limits cannot be raised again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/rlimits.h"

/* What this host lets the step do with RLIMIT_CORE: it wants 1, gets 0 when
 * the caller's hard limit is 0, and refuses that where core_pattern names a
 * helper. The tests judge against this rather than assume a hard limit. */
static bool core_pattern_is_helper(void)
{
	char c = '|';
	int fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '|';
		close(fd);
	}
	return c == '|' || c == '@';
}

static rlim_t expected_core(void)
{
	struct rlimit r;
	assert_int_equal(getrlimit(RLIMIT_CORE, &r), 0);
	return r.rlim_max == 0 ? 0 : 1;
}

static void skip_unless_core_settable(void)
{
	if (expected_core() == 0 && core_pattern_is_helper()) {
		fprintf(stderr,
		        "skipped: hard RLIMIT_CORE is 0 and core_pattern is a helper: "
		        "the step refuses (tested by core_helper_with_hard_zero_refused)\n");
		skip();
	}
}

/* run fn in a child; its exit status is the test's verdict (0 = pass) */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int limits_in_force(void)
{
	struct al_limits lim = {.nofile = 64, .nproc = 4096, .fsize = 1 << 20};
	struct al_error err;
	struct rlimit r;

	if (al_rlimits_child_setup(&lim, &err) != 0)
		return 1;
	/* 1, not 0: the one value that also stops pipe core dumps (0 only where
	 * the hard limit inherited is 0) */
	if (getrlimit(RLIMIT_CORE, &r) || r.rlim_cur != expected_core() ||
	    r.rlim_max != expected_core())
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur != 64 || r.rlim_max != 64)
		return 3;
	if (getrlimit(RLIMIT_NPROC, &r) || r.rlim_cur != 4096 || r.rlim_max != 4096)
		return 4;
	if (getrlimit(RLIMIT_FSIZE, &r) || r.rlim_cur != 1 << 20 || r.rlim_max != 1 << 20)
		return 5;
	return 0;
}

/* the limit bites: opening fds stops at nofile with EMFILE */
static int nofile_bites(void)
{
	struct al_limits lim = {.nofile = 16, .nproc = 4096, .fsize = 1 << 20};
	struct al_error err;
	int n = 0, fd;

	if (al_rlimits_child_setup(&lim, &err) != 0)
		return 1;
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	if (errno != EMFILE)
		return 2;
	/* 0, 1, 2 plus whatever the test harness had open */
	return n > 0 && n <= 13 ? 0 : 3;
}

/* a request above the hard limit is clamped to it, not an error */
static int clamped(void)
{
	struct rlimit hard = {200, 200}, r;
	struct al_limits lim = {.nofile = 100000, .nproc = UINT64_MAX, .fsize = UINT64_MAX};
	struct al_error err;

	if (setrlimit(RLIMIT_NOFILE, &hard))
		return 1;
	if (al_rlimits_child_setup(&lim, &err) != 0)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur != 200 || r.rlim_max != 200)
		return 3;
	return 0;
}

static int described(void)
{
	struct rlimit hard = {200, 200};
	struct al_limits lim = {.nofile = 100000, .nproc = 77, .fsize = 4096};
	struct al_buf b;
	struct al_json j;
	int bad = 0;

	if (setrlimit(RLIMIT_NOFILE, &hard))
		return 1;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_rlimits_describe(&lim, &j);
	bad |= strstr(b.data, "\"nofile\":{\"limit\":200,\"requested\":100000") == NULL;
	bad |= strstr(b.data, "\"nproc\":{\"limit\":77}") == NULL;
	bad |= strstr(b.data, expected_core() ? "\"core\":{\"limit\":1}"
	                                      : "\"core\":{\"limit\":0,\"requested\":1") == NULL;
	bad |= strstr(b.data, "\"fsize\":{\"limit\":4096}") == NULL;
	if (bad)
		fprintf(stderr, "description: %s\n", b.data);
	al_buf_free(&b);
	return bad ? 2 : 0;
}

/* writing past fsize raises SIGXFSZ (default action: terminate) */
static void test_fsize_bites(void **state)
{
	char path[] = "/tmp/al-rlimit-XXXXXX";
	int fd, status;
	pid_t pid;

	skip_unless_core_settable();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct al_limits lim = {.nofile = 64, .nproc = 4096, .fsize = 4096};
		struct al_error err;
		char buf[8192] = {0};
		if (al_rlimits_child_setup(&lim, &err) != 0)
			_exit(1);
		if (write(fd, buf, sizeof buf) != 4096) /* short write up to the limit */
			_exit(2);
		(void)!write(fd, buf, 1); /* at the limit: SIGXFSZ */
		_exit(3);
	}
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGXFSZ);
}

/* A hard core limit of 0 where core_pattern pipes to a helper: the step
 * refuses (0 would not stop the helper). The helper pattern is shown to this
 * child alone, by a bind mount in a private mount namespace: the host's
 * core_pattern is never touched. 77: cannot set that up here. */
static int core_helper_with_hard_zero_refused(void)
{
	struct al_limits lim = {.nofile = 64, .nproc = 4096, .fsize = 1 << 20};
	struct rlimit zero = {0, 0};
	struct al_error err = {0};
	char fake[] = "/tmp/al-core-pattern-XXXXXX";
	int fd;

	if (unshare(CLONE_NEWNS) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	fd = mkstemp(fake);
	if (fd < 0 || write(fd, "|/bin/false %p\n", 14) != 14)
		return 77;
	close(fd);
	if (mount(fake, "/proc/sys/kernel/core_pattern", NULL, MS_BIND, NULL) < 0) {
		unlink(fake);
		return 77;
	}
	unlink(fake);
	if (!core_pattern_is_helper())
		return 3;
	if (setrlimit(RLIMIT_CORE, &zero) < 0)
		return 4;
	if (al_rlimits_child_setup(&lim, &err) == 0)
		return 5; /* went on with 0: a crash would start the helper */
	if (strstr(err.msg, "ulimit -Hc 1") == NULL)
		return 6;
	return 0;
}

static void test_limits_in_force(void **state)
{
	skip_unless_core_settable();
	assert_int_equal(in_child(limits_in_force), 0);
}
static void test_nofile_bites(void **state)
{
	skip_unless_core_settable();
	assert_int_equal(in_child(nofile_bites), 0);
}
static void test_clamped(void **state)
{
	skip_unless_core_settable();
	assert_int_equal(in_child(clamped), 0);
}
static void test_described(void **state)
{
	skip_unless_core_settable();
	assert_int_equal(in_child(described), 0);
}
static void test_core_helper_with_hard_zero_refused(void **state)
{
	int r = in_child(core_helper_with_hard_zero_refused);
	if (r == 77) {
		fprintf(stderr, "skipped: no private mount namespace for a fake core_pattern\n");
		skip();
	}
	assert_int_equal(r, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_in_force),
	    cmocka_unit_test(test_nofile_bites),
	    cmocka_unit_test(test_clamped),
	    cmocka_unit_test(test_described),
	    cmocka_unit_test(test_fsize_bites),
	    cmocka_unit_test(test_core_helper_with_hard_zero_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
