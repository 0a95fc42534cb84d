/* syscall_loop: the workload of bench/syscall_overhead.py, built static so it
 * runs unchanged bare, under bwrap, inside airlock and under runsc. Times
 * itself (CLOCK_MONOTONIC around the loop only, so sandbox startup is not
 * in the figure), ROUNDS rounds, and prints the median as one JSON line.
 *   syscall_loop getppid N   N x getppid()                  -> ns per call
 *   syscall_loop ioctl N     N x ioctl(FIONREAD) on a pipe  -> ns per call
 *   syscall_loop rw1 N       N x (read 1 B of /dev/zero, write it to /dev/null)
 *   syscall_loop exec N      N x fork + execve(/bin/true) + wait -> us per exec
 *   syscall_loop run R PROG ARGS...   PROG R times (after one warm-up) -> ms per run */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double round_getppid(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / n;
}

static double round_ioctl(long n)
{
	int p[2], avail;
	double t0;

	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		ioctl(p[0], FIONREAD, &avail);
	t0 = (now_ns() - t0) / n;
	close(p[0]);
	close(p[1]);
	return t0;
}

static double round_rw1(long n)
{
	int in = open("/dev/zero", O_RDONLY | O_CLOEXEC),
	    out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char c;
	double t0;

	if (in < 0 || out < 0)
		exit(1);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
			exit(1);
	t0 = (now_ns() - t0) / n;
	close(in);
	close(out);
	return t0;
}

static double round_exec(long n)
{
	static char *const argv[] = {"true", NULL};
	static char *const envp[] = {NULL};
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();
		if (pid < 0)
			exit(1);
		if (pid == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			exit(1);
	}
	return (now_ns() - t0) / n / 1000.0; /* microseconds */
}

/* A whole program, R times: for realistic workloads (tar, python). */
static int run_prog(long rounds, char **argv)
{
	double r[64];
	extern char **environ;

	if (rounds < 1 || rounds > 64)
		return 2;
	for (long i = -1; i < rounds; i++) {
		double t0 = now_ns();
		int st;
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (devnull >= 0)
				dup2(devnull, 1);
			execve(argv[0], argv, environ);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "syscall_loop: %s failed (status %#x)\n", argv[0], st);
			return 1;
		}
		if (i >= 0)
			r[i] = (now_ns() - t0) / 1e6;
	}
	qsort(r, rounds, sizeof r[0], cmp);
	printf("{\"mode\":\"run\",\"n\":1,\"rounds\":%ld,\"median\":%.3f,\"min\":%.3f,\"unit\":"
	       "\"ms\"}\n",
	       rounds, r[rounds / 2], r[0]);
	return 0;
}

int main(int argc, char **argv)
{
	double r[ROUNDS];
	double (*fn)(long);
	const char *unit = "ns";
	long n;

	if (argc >= 4 && strcmp(argv[1], "run") == 0)
		return run_prog(atol(argv[2]), argv + 3);
	if (argc != 3) {
		fprintf(stderr, "usage: syscall_loop getppid|ioctl|rw1|exec N\n");
		return 2;
	}
	n = atol(argv[2]);
	if (strcmp(argv[1], "getppid") == 0)
		fn = round_getppid;
	else if (strcmp(argv[1], "ioctl") == 0)
		fn = round_ioctl;
	else if (strcmp(argv[1], "rw1") == 0)
		fn = round_rw1;
	else if (strcmp(argv[1], "exec") == 0) {
		fn = round_exec;
		unit = "us";
	} else
		return 2;
	if (n <= 0)
		return 2;
	fn(n / 10 + 1); /* warm-up */
	for (int i = 0; i < ROUNDS; i++)
		r[i] = fn(n);
	qsort(r, ROUNDS, sizeof r[0], cmp);
	printf("{\"mode\":\"%s\",\"n\":%ld,\"rounds\":%d,\"median\":%.3f,\"min\":%.3f,\"unit\":\"%"
	       "s\"}\n",
	       argv[1], n, ROUNDS, r[ROUNDS / 2], r[0], unit);
	return 0;
}
