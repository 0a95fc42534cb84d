/* The seccomp filter and its supervisor, end to end without the sandbox
 * core: a forked child sets no_new_privs, installs the filter, hands the
 * listener over a socketpair (SCM_RIGHTS, as the sandbox init does) and
 * execs the try_syscall probe; this process serves the listener with
 * al_notify_handle and captures the records. Proves: every denied syscall
 * fails with EPERM *and* is recorded with its name and number, exec is
 * recorded with its argv, foreign ABIs are killed, clone3 is ENOSYS,
 * allowed calls pass unrecorded. argv[1] = path of the try_syscall probe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/seccomp.h"
#include "spec/spec.h"
#include "supervisor/notify.h"
#include "util/json.h"

static const char *probe_path;

struct capture {
	struct al_buf records; /* "type\tjson\n" per record */
	int n;
};

static int capture_record(void *ctx, const char *type, const char *json, struct al_error *err)
{
	struct capture *c = ctx;

	(void)err;
	al_buf_printf(&c->records, "%s\t%s\n", type, json ? json : "{}");
	c->n++;
	return 0;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 'L';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

struct run {
	struct al_buf out; /* the probe's stdout */
	struct capture cap;
	int status;
	struct al_notify_stats st;
};

/* Run the probe with args under the filter, serving notifications. */
static void run_probe(struct run *r, char *const args[])
{
	struct al_seccomp *sc = NULL;
	struct al_notify *n = NULL;
	struct al_spec spec;
	struct al_error err = {0};
	int sp[2], outp[2], listener;
	pid_t pid;

	memset(r, 0, sizeof *r);
	al_buf_init(&r->out);
	al_buf_init(&r->cap.records);
	al_spec_init(&spec);
	assert_int_equal(al_seccomp_prepare(&sc, &spec, &err), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(outp, O_CLOEXEC), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct al_error cerr = {0};
		int lfd = -1;
		close(sp[0]);
		close(outp[0]);
		if (dup2(outp[1], 1) < 0)
			_exit(120);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(121);
		if (al_seccomp_child_setup(sc, &lfd, &cerr) < 0 || lfd < 0) {
			dprintf(2, "child setup: %s\n", cerr.msg);
			_exit(122);
		}
		if (send_fd(sp[1], lfd) < 0)
			_exit(123);
		close(lfd);
		execv(probe_path, args);
		_exit(124);
	}
	close(sp[1]);
	close(outp[1]);
	listener = recv_fd(sp[0]);
	close(sp[0]);
	assert_true(listener >= 0);
	assert_int_equal(al_notify_open(&n, listener, NULL, &err), 0);
	al_notify_set_recorder(n, capture_record, &r->cap);

	for (int open_out = 1; open_out;) {
		struct pollfd p[2] = {{.fd = outp[0], .events = POLLIN},
		                      {.fd = al_notify_fd(n), .events = POLLIN}};
		int k = poll(p, al_notify_fd(n) >= 0 ? 2 : 1, 10000);
		assert_true(k > 0); /* a hang here is a bug: fail, don't wait forever */
		if (p[1].revents & (POLLIN | POLLHUP))
			assert_int_equal(al_notify_handle(n, &err), 0);
		if (p[0].revents & (POLLIN | POLLHUP)) {
			char buf[4096];
			ssize_t got = read(outp[0], buf, sizeof buf);
			if (got <= 0)
				open_out = 0;
			else
				al_buf_append(&r->out, buf, (size_t)got);
		}
	}
	close(outp[0]);
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
	/* drain what is left (the listener hangs up once the probe is gone) */
	while (al_notify_fd(n) >= 0) {
		struct pollfd p = {.fd = al_notify_fd(n), .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0)
			break;
		assert_int_equal(al_notify_handle(n, &err), 0);
	}
	al_notify_stats(n, &r->st);
	al_notify_free(n);
	al_seccomp_free(sc);
}

static void free_run(struct run *r)
{
	al_buf_free(&r->out);
	al_buf_free(&r->cap.records);
}

/* The probe's result line for case name, or NULL. */
static const char *line_for(const struct run *r, const char *name, char *buf, size_t len)
{
	char key[96];
	const char *p;

	snprintf(key, sizeof key, "{\"syscall\":\"%s\",", name);
	p = r->out.data ? strstr(r->out.data, key) : NULL;
	if (p == NULL)
		return NULL;
	snprintf(buf, len, "%.*s", (int)(strchrnul(p, '\n') - p), p);
	return buf;
}

static int count_records(const struct run *r, const char *needle)
{
	int n = 0;
	for (const char *p = r->cap.records.data; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* How the bare host (no filter) answers a foreign-ABI case: the probe's
 * line, run unconfined. Some kernels refuse the i386 entry themselves
 * (SIGSEGV from int $0x80 when ia32 emulation is off), so "killed by the
 * filter" is judged against this. */
static void bare_host_line(const char *name, char *buf, size_t len)
{
	int p[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(120);
		execl(probe_path, "try_syscall", name, (char *)NULL);
		_exit(124);
	}
	close(p[1]);
	while ((n = read(p[0], buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	buf[got] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The property: a foreign-ABI call never executes. Where the bare host
 * executes it, the filter must kill the caller with SIGSYS; where the bare
 * host already refuses the entry (killed by another signal), the sandboxed
 * call must end the same way and never reach its exit. */
static void check_foreign_never_runs(const char *name, const char *sandboxed)
{
	char bare[512];

	bare_host_line(name, bare, sizeof bare);
	if (strstr(bare, "\"exit\":") != NULL) {
		if (strstr(sandboxed, "\"signal\":\"SIGSYS\"") == NULL)
			fail_msg("%s: host runs it (%s), filtered: %s", name, bare, sandboxed);
		return;
	}
	if (strstr(bare, "\"signal\":") == NULL)
		fail_msg("%s: unexpected bare-host result %s", name, bare);
	if (strstr(sandboxed, "\"signal\":") == NULL)
		fail_msg("%s: host refuses it (%s), yet filtered: %s", name, bare, sandboxed);
	fprintf(stderr,
	        "note: %s: this kernel refuses the entry itself (%s); the filter's "
	        "own verdict cannot be observed here (see test_seccomp_table)\n",
	        name, bare);
}

static void denied_syscalls_get_eperm_and_are_recorded(void **state)
{
	static char *const args[] = {"try_syscall", "list", NULL};
	static char *const all[] = {"try_syscall", "all", NULL};
	struct run lr, r;
	char line[512], needle[160];
	int n_denied = 0;

	(void)state;
	run_probe(&lr, args);
	run_probe(&r, all);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);

	for (char *p = lr.out.data, *e; p && *p; p = e + 1) {
		char kind[16], name[64];
		e = strchrnul(p, '\n');
		if (sscanf(p, "%15s %63s", kind, name) != 2)
			break;
		if (strcmp(kind, "denied") == 0) {
			if (line_for(&r, name, line, sizeof line) == NULL)
				fail_msg("no result for %s", name);
			if (strstr(line, "\"errno\":\"EPERM\"") == NULL)
				fail_msg("%s: %s", name, line);
			n_denied++;
		} else if (strcmp(kind, "enosys") == 0) {
			assert_non_null(line_for(&r, name, line, sizeof line));
			if (strstr(line, "\"errno\":\"ENOSYS\"") == NULL)
				fail_msg("%s: %s", name, line);
		} else if (strcmp(kind, "allowed") == 0) {
			assert_non_null(line_for(&r, name, line, sizeof line));
			if (strstr(line, "EPERM") != NULL)
				fail_msg("%s: %s", name, line);
		} else if (strcmp(kind, "killed") == 0) {
			assert_non_null(line_for(&r, name, line, sizeof line));
			check_foreign_never_runs(name, line);
		}
		if (*e == '\0')
			break;
	}
	assert_true(n_denied >= 50);
	/* one syscall_denied record per denied attempt, with the real name */
	assert_int_equal(count_records(&r, "syscall_denied\t"), n_denied);
	assert_int_equal(r.st.denied, (uint64_t)n_denied);
	static const char *const names[] = {
	    "bpf",         "io_uring_setup", "unshare", "mount", "open_tree", "ptrace",    "keyctl",
	    "personality", "ioctl",          "socket",  "clone", "sysfs",     "kexec_load"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(needle, sizeof needle, "\"syscall\":\"%s\"", names[i]);
		if (count_records(&r, needle) < 1)
			fail_msg("no syscall_denied record for %s", names[i]);
	}
	assert_true(count_records(&r, "\"nr\":321,") == 1); /* bpf */
	/* clone3 (ENOSYS) and the allowed calls leave no record */
	assert_int_equal(count_records(&r, "\"syscall\":\"clone3\""), 0);
	assert_int_equal(count_records(&r, "\"syscall\":\"getppid\""), 0);
	free_run(&lr);
	free_run(&r);
}

static void exec_is_recorded_with_argv(void **state)
{
	static char *const args[] = {"try_syscall", "getppid", "--marker=a b\"c", "clone3", NULL};
	struct run r;
	char needle[512];

	(void)state;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_int_equal(count_records(&r, "exec\t"), 1);
	assert_int_equal(r.st.execs, 1);
	snprintf(needle, sizeof needle, "\"path\":\"%s\"", probe_path);
	assert_int_equal(count_records(&r, needle), 1);
	assert_int_equal(
	    count_records(
	        &r, "\"argv\":[\"try_syscall\",\"getppid\",\"--marker=a b\\\"c\",\"clone3\"]"),
	    1);
	/* the exec'ing process is our child: its pid and our pid as ppid */
	snprintf(needle, sizeof needle, "\"ppid\":%d,", (int)getpid());
	assert_int_equal(count_records(&r, needle), 1);
	assert_int_equal(count_records(&r, "syscall_denied\t"), 0);
	free_run(&r);
}

static void huge_argv_is_bounded(void **state)
{
	enum { N = 300 };
	static char *args[N + 2];
	static char big[4000];
	struct run r;

	(void)state;
	/* "--marker=" arguments are ignored by the probe */
	memset(big, 'x', sizeof big - 1);
	memcpy(big, "--marker=", 9);
	args[0] = "try_syscall";
	for (int i = 1; i <= N; i++)
		args[i] = i == 1 ? "getppid" : big;
	args[N + 1] = NULL;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_int_equal(count_records(&r, "exec\t"), 1);
	assert_int_equal(count_records(&r, "\"argv_truncated\":true,\"argc\":301"), 1);
	assert_true(r.cap.records.len < AL_NOTIFY_ARGV_BYTES + 6 * 4096);
	free_run(&r);
}

static void execveat_is_recorded(void **state)
{
	static char *const args[] = {"try_syscall", "execveat", "/bin/echo",
	                             "via",         "execveat", NULL};
	struct run r;

	(void)state;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_string_equal(r.out.data, "via execveat\n");
	assert_int_equal(r.st.execs, 2);
	assert_int_equal(count_records(&r, "\"syscall\":\"execveat\""), 1);
	assert_int_equal(count_records(&r, "\"path\":\"/bin/echo\",\"argv\":[\"/bin/echo\","
	                                   "\"via\",\"execveat\"]"),
	                 1);
	free_run(&r);
}

static void unreadable_exec_is_refused_and_recorded(void **state)
{
	static char *const args[] = {"try_syscall", "execve_badpath", NULL};
	struct run r;

	(void)state;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_non_null(strstr(r.out.data, "\"errno\":\"EFAULT\""));
	/* the probe's own exec, then the refused one */
	assert_int_equal(count_records(&r, "exec\t"), 2);
	assert_int_equal(count_records(&r, "\"path\":null,\"read_error\":14,\"refused\":true"), 1);
	free_run(&r);
}

static void write_only_strings_are_read(void **state)
{
	static char *const args[] = {"try_syscall", "exec_wronly", "all", "/bin/echo", "hi", NULL};
	struct run r;

	(void)state;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_string_equal(r.out.data, "hi\n");
	assert_int_equal(
	    count_records(&r, "\"path\":\"/bin/echo\",\"argv\":[\"/bin/echo\",\"hi\"]"), 1);
	assert_int_equal(count_records(&r, "\"ld_env\":[\"LD_LIBRARY_PATH=/probe-ld-path\"]"), 1);
	assert_int_equal(count_records(&r, "\"read_via_proc_mem\":true"), 1);
	assert_int_equal(count_records(&r, "\"refused\""), 0);
	free_run(&r);
}

static void partly_unmapped_exec_is_refused(void **state)
{
	static char *const path[] = {"try_syscall", "exec_path_unmapped", "/bin/echo", NULL};
	static char *const argv[] = {"try_syscall", "exec_argv_unmapped", "/bin/echo", NULL};
	struct run r;

	(void)state;
	run_probe(&r, path);
	assert_non_null(strstr(r.out.data, "\"errno\":\"EFAULT\""));
	assert_int_equal(count_records(&r, "\"path\":null,\"read_error\":14,\"refused\":true"), 1);
	assert_int_equal(r.st.execs_refused, 1);
	free_run(&r);
	run_probe(&r, argv);
	assert_non_null(strstr(r.out.data, "\"errno\":\"EFAULT\""));
	assert_int_equal(
	    count_records(&r, "\"read_error\":14,\"read_what\":\"argv\",\"refused\":true"), 1);
	assert_int_equal(r.st.execs_refused, 1);
	free_run(&r);
}

/* fexecve of a memfd holding the probe: identified through the fd, hashed
 * (a memfd is writable content), the same hash as the probe's own exec */
static void fexecve_memfd_is_hashed(void **state)
{
	char *args[] = {"try_syscall", "fexecve_memfd", (char *)probe_path, "getppid", NULL};
	char first[65], second[65];
	const char *p, *q;
	struct run r;

	(void)state;
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_non_null(strstr(r.out.data, "\"syscall\":\"getppid\""));
	p = strstr(r.cap.records.data, "\"sha256\":\"");
	assert_non_null(p);
	q = strstr(p + 1, "\"sha256\":\"");
	assert_non_null(q);
	snprintf(first, sizeof first, "%.64s", p + 10);
	snprintf(second, sizeof second, "%.64s", q + 10);
	assert_string_equal(first, second);
	assert_int_equal(count_records(&r, "\"resolved\":\"fd\""), 1);
	free_run(&r);
}

static void denial_flood_is_capped(void **state)
{
	char n[32];
	char *args[] = {"try_syscall", "repeat", n, "sysfs", NULL};
	struct run r;

	(void)state;
	snprintf(n, sizeof n, "%d", AL_NOTIFY_DENIED_RECORDS + 25);
	run_probe(&r, args);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	/* every call refused, only the first AL_NOTIFY_DENIED_RECORDS recorded */
	assert_non_null(strstr(r.out.data, "\"eperm\":10025}"));
	assert_int_equal(count_records(&r, "syscall_denied\t"), AL_NOTIFY_DENIED_RECORDS);
	assert_int_equal(count_records(&r, "syscall_denied_unrecorded\t"), 1);
	assert_int_equal(r.st.denied, AL_NOTIFY_DENIED_RECORDS + 25);
	assert_int_equal(r.st.denied_unrecorded, 25);
	assert_int_equal(r.st.unrecorded_by_nr[__NR_sysfs], 25);
	free_run(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(denied_syscalls_get_eperm_and_are_recorded),
	    cmocka_unit_test(exec_is_recorded_with_argv),
	    cmocka_unit_test(huge_argv_is_bounded),
	    cmocka_unit_test(execveat_is_recorded),
	    cmocka_unit_test(denial_flood_is_capped),
	    cmocka_unit_test(unreadable_exec_is_refused_and_recorded),
	    cmocka_unit_test(write_only_strings_are_read),
	    cmocka_unit_test(partly_unmapped_exec_is_refused),
	    cmocka_unit_test(fexecve_memfd_is_hashed),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-try_syscall\n", argv[0]);
		return 2;
	}
	probe_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
