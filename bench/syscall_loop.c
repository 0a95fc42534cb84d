/* syscall_loop: the workload of bench/syscall_overhead.py, built static so it
 * runs unchanged bare, under bwrap, inside airlock and under runsc. Times
 * only its own loop (sandbox startup is not in the figure), ROUNDS rounds,
 * and prints the medians as one JSON line: "cpu" is CPU time (the loop's own
 * thread, plus waited-for children where there are any), which a busy shared
 * machine disturbs far less than "wall", the elapsed time.
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

struct sample {
	double wall, cpu; /* ns */
};

static double clock_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static double children_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static struct sample start(void)
{
	return (struct sample){clock_ns(CLOCK_MONOTONIC),
	                       clock_ns(CLOCK_PROCESS_CPUTIME_ID) + children_cpu_ns()};
}

static struct sample since(struct sample s0, double per)
{
	struct sample s1 = start();
	return (struct sample){(s1.wall - s0.wall) / per, (s1.cpu - s0.cpu) / per};
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static struct sample round_getppid(long n)
{
	struct sample s0 = start();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return since(s0, n);
}

static struct sample round_ioctl(long n)
{
	int p[2], avail;
	struct sample s0, r;

	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	s0 = start();
	for (long i = 0; i < n; i++)
		ioctl(p[0], FIONREAD, &avail);
	r = since(s0, n);
	close(p[0]);
	close(p[1]);
	return r;
}

static struct sample round_rw1(long n)
{
	int in = open("/dev/zero", O_RDONLY | O_CLOEXEC),
	    out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char c;
	struct sample s0, r;

	if (in < 0 || out < 0)
		exit(1);
	s0 = start();
	for (long i = 0; i < n; i++)
		if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
			exit(1);
	r = since(s0, n);
	close(in);
	close(out);
	return r;
}

static struct sample round_exec(long n)
{
	static char *const argv[] = {"true", NULL};
	static char *const envp[] = {NULL};
	struct sample s0 = start();

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
	return since(s0, n * 1000.0); /* microseconds */
}

static void report(const char *mode, long n, int rounds, struct sample *r, const char *unit)
{
	double wall[64], cpu[64];

	for (int i = 0; i < rounds; i++) {
		wall[i] = r[i].wall;
		cpu[i] = r[i].cpu;
	}
	qsort(wall, rounds, sizeof wall[0], cmp);
	qsort(cpu, rounds, sizeof cpu[0], cmp);
	printf("{\"mode\":\"%s\",\"n\":%ld,\"rounds\":%d,\"wall\":%.3f,\"cpu\":%.3f,"
	       "\"wall_min\":%.3f,\"cpu_min\":%.3f,\"unit\":\"%s\"}\n",
	       mode, n, rounds, wall[rounds / 2], cpu[rounds / 2], wall[0], cpu[0], unit);
}

/* A whole program, R times: for realistic workloads (tar, python). */
static int run_prog(long rounds, char **argv)
{
	struct sample r[64];
	extern char **environ;

	if (rounds < 1 || rounds > 64)
		return 2;
	for (long i = -1; i < rounds; i++) {
		struct sample s0 = start();
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
			r[i] = since(s0, 1e6); /* milliseconds */
	}
	report("run", 1, (int)rounds, r, "ms");
	return 0;
}

int main(int argc, char **argv)
{
	struct sample r[ROUNDS];
	struct sample (*fn)(long);
	const char *unit = "ns";
	long n;

	if (argc >= 4 && strcmp(argv[1], "run") == 0)
		return run_prog(atol(argv[2]), argv + 3);
	if (argc != 3) {
		fprintf(stderr, "usage: syscall_loop getppid|ioctl|rw1|exec N | run R PROG...\n");
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
	report(argv[1], n, ROUNDS, r, unit);
	return 0;
}
