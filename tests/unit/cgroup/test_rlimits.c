/* Unit tests for the init's rlimits step: each limit is in force afterwards
 * (soft = hard), a request above the inherited hard limit is clamped rather
 * than failing, and the description reports the clamping. Each case runs in
 * a forked child because the limits cannot be raised again. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/rlimits.h"

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
	/* 1, not 0: the one value that also stops pipe core dumps */
	if (getrlimit(RLIMIT_CORE, &r) || r.rlim_cur != 1 || r.rlim_max != 1)
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
	bad |= strstr(b.data, "\"core\":{\"limit\":1}") == NULL;
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
	int fd = mkstemp(path), status;
	pid_t pid;

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

static void test_limits_in_force(void **state)
{
	assert_int_equal(in_child(limits_in_force), 0);
}
static void test_nofile_bites(void **state)
{
	assert_int_equal(in_child(nofile_bites), 0);
}
static void test_clamped(void **state)
{
	assert_int_equal(in_child(clamped), 0);
}
static void test_described(void **state)
{
	assert_int_equal(in_child(described), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_in_force), cmocka_unit_test(test_nofile_bites),
	    cmocka_unit_test(test_clamped),         cmocka_unit_test(test_described),
	    cmocka_unit_test(test_fsize_bites),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
