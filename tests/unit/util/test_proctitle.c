/* The sandbox init blanks its inherited command line and environment (the
 * caller's, secrets included): what /proc/PID/cmdline and /proc/PID/environ
 * show afterwards must hold none of it. Checked in a forked child, whose
 * memory is what the kernel reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fdutil.h"
#include "util/proctitle.h"

static int saved_argc;
static char **saved_argv;

static int contains(const char *buf, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(buf + i, needle, k) == 0)
			return 1;
	return 0;
}

static void blanked_in_proc(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[65536];
		ssize_t n;
		al_proctitle_set("airlock-init");
		al_proctitle_clear_environ();
		n = al_read_file_at(AT_FDCWD, "/proc/self/environ", buf, sizeof buf);
		if (n < 0 || contains(buf, (size_t)n, "PROCTITLE_SECRET=") ||
		    contains(buf, (size_t)n, "hunter2"))
			_exit(1);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\0')
				_exit(2);
		n = al_read_file_at(AT_FDCWD, "/proc/self/cmdline", buf, sizeof buf);
		if (n < 12 || memcmp(buf, "airlock-init", 12) != 0 ||
		    contains(buf, (size_t)n, "--secret-arg"))
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(blanked_in_proc)};
	/* The test needs a secret in its own startup environment and argv:
	 * re-exec itself once with them. */
	if (getenv("PROCTITLE_SECRET") == NULL) {
		char *env[] = {"PROCTITLE_SECRET=hunter2", NULL};
		char *args[] = {argv[0], "--secret-arg", NULL};
		execve("/proc/self/exe", args, env);
		return 1;
	}
	saved_argc = argc;
	saved_argv = argv;
	al_proctitle_save(saved_argc, saved_argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
