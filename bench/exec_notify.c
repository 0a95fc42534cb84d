/* exec_notify: what exec supervision costs, in isolation. Runs a loop of
 * fork + execve(/bin/true) + wait under airlock's own seccomp filter, once
 * compiled with the user-notification listener (every exec is received,
 * read from the target's memory, recorded in a real event log, continued)
 * and once without (exec is a plain allow): the difference is the cost per
 * exec. Rounds alternate; the medians are printed as one JSON line.
 *   exec_notify N ROUNDS LOGDIR */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evidence/evlog.h"
#include "sandbox/seccomp.h"
#include "spec/spec.h"
#include "supervisor/notify.h"

static double clock_us(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/* CPU time of this process and of its waited-for descendants */
static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return clock_us(CLOCK_PROCESS_CPUTIME_ID) +
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

struct cost {
	double wall, cpu; /* us per exec; cpu = the exec'ing side + the supervisor */
};

static void die(const char *what, const struct al_error *e)
{
	fprintf(stderr, "exec_notify: %s: %s\n", what, e ? e->msg : strerror(errno));
	exit(1);
}

/* Child: filter, hand the listener over, exec loop; writes us/exec to out. */
static void child(const struct al_seccomp *sc, int sock, int out, long n)
{
	static char *const argv[] = {"true", NULL};
	static char *const envp[] = {NULL};
	struct al_error err = {0};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0}, byte = 'L';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int lfd = -1;
	double t0, c0;
	struct cost us;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    al_seccomp_child_setup(sc, &lfd, &err) < 0)
		_exit(2);
	if (lfd >= 0) {
		struct cmsghdr *cm;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &lfd, sizeof lfd);
	}
	if (sendmsg(sock, &mh, 0) != 1)
		_exit(3);
	if (lfd >= 0)
		close(lfd);
	t0 = now_us();
	c0 = cpu_us();
	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();
		if (pid == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			_exit(4);
	}
	us.wall = (now_us() - t0) / n;
	us.cpu = (cpu_us() - c0) / n;
	if (write(out, &us, sizeof us) != sizeof us)
		_exit(5);
	_exit(0);
}

/* CPU time of the supervisor's thread in each al_notify_handle call (not
 * elapsed time: answering wakes the target, which may run first) */
#define MAX_SAMPLES 200000
static double handle_us[MAX_SAMPLES];
static long handled;

static struct cost one_round(bool notify, long n, const char *logdir, int round)
{
	struct al_seccomp *sc = NULL;
	struct al_notify *nt = NULL;
	struct al_evlog *log = NULL;
	struct al_error err = {0};
	struct al_spec spec;
	char cbuf[CMSG_SPACE(sizeof(int))], byte, path[512];
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	int sp[2], op[2], st, lfd = -1;
	struct cost us = {-1, -1};
	double sup_cpu0;
	pid_t pid;

	if (al_seccomp_compile(&sc, notify, &err) < 0)
		die("compile", &err);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(op, O_CLOEXEC) < 0)
		die("socketpair", NULL);
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		close(op[0]);
		child(sc, sp[1], op[1], n);
	}
	close(sp[1]);
	close(op[1]);
	if (recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg", NULL);
	if (notify) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
			die("no listener", NULL);
		memcpy(&lfd, CMSG_DATA(cm), sizeof lfd);
		al_spec_init(&spec);
		snprintf(path, sizeof path, "%s/exec-notify-%d-%d.jsonl", logdir, (int)getpid(),
		         round);
		spec.log.path = path;
		if (al_evlog_open(&log, &spec.log, "bench", &err) < 0)
			die("evlog", &err);
		if (al_notify_open(&nt, lfd, log, &err) < 0)
			die("notify", &err);
	}
	sup_cpu0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	for (;;) {
		struct pollfd p[2] = {{.fd = op[0], .events = POLLIN},
		                      {.fd = nt ? al_notify_fd(nt) : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll", NULL);
		if (p[1].revents) {
			double t0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
			if (al_notify_handle(nt, &err) < 0)
				die("handle", &err);
			if (handled < MAX_SAMPLES)
				handle_us[handled++] = clock_us(CLOCK_THREAD_CPUTIME_ID) - t0;
		}
		if (p[0].revents) {
			if (read(op[0], &us, sizeof us) != sizeof us)
				die("child result", NULL);
			break;
		}
	}
	/* the supervisor's CPU while it served this round */
	us.cpu += (clock_us(CLOCK_PROCESS_CPUTIME_ID) - sup_cpu0) / n;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child failed", NULL);
	close(op[0]);
	close(sp[0]);
	if (nt)
		al_notify_free(nt);
	if (log) {
		al_evlog_close(log, &err);
		al_evlog_free(log);
		unlink(path);
	}
	al_seccomp_free(sc);
	return us;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(struct cost *c, long n, bool cpu)
{
	double v[64];
	for (long i = 0; i < n; i++)
		v[i] = cpu ? c[i].cpu : c[i].wall;
	qsort(v, n, sizeof v[0], cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	struct cost with[64], without[64];
	long n, rounds;

	if (argc != 4) {
		fprintf(stderr, "usage: exec_notify N ROUNDS LOGDIR\n");
		return 2;
	}
	n = atol(argv[1]);
	rounds = atol(argv[2]);
	if (n <= 0 || rounds <= 0 || rounds > 64)
		return 2;
	for (long r = 0; r < rounds; r++) {
		/* alternate which goes first, against drift */
		if (r % 2) {
			with[r] = one_round(true, n, argv[3], (int)r);
			without[r] = one_round(false, n, argv[3], (int)r);
		} else {
			without[r] = one_round(false, n, argv[3], (int)r);
			with[r] = one_round(true, n, argv[3], (int)r);
		}
	}
	qsort(handle_us, handled, sizeof handle_us[0], cmp);
	printf("{\"n\":%ld,\"rounds\":%ld,\"wall_notify\":%.1f,\"wall_plain\":%.1f,"
	       "\"cpu_notify\":%.1f,\"cpu_plain\":%.1f,\"handle_us_median\":%.1f,"
	       "\"handle_us_p99\":%.1f,\"handle_us_max\":%.1f}\n",
	       n, rounds, median_of(with, rounds, false), median_of(without, rounds, false),
	       median_of(with, rounds, true), median_of(without, rounds, true),
	       handled ? handle_us[handled / 2] : 0.0,
	       handled ? handle_us[handled * 99 / 100] : 0.0,
	       handled ? handle_us[handled - 1] : 0.0);
	return 0;
}
