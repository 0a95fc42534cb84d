/* The sandbox side of `airlock cp` (session.h: al_session_cp_child). A
 * short-lived child of the supervisor: it keeps nothing of the supervisor
 * that matters (the log's keys are wiped, its descriptors closed but three),
 * takes the identity of the sandbox's user -- so it can read and write
 * exactly what a command of the sandbox could, through the sandbox's own
 * mounts -- and moves one tree between the client's socket and the sandbox's
 * root. It never exec()s and nothing inside can name it (it is in the host's
 * pid namespace). */
#define _GNU_SOURCE
#include "session/session.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "session/copy.h"
#include "session/proto.h"
#include "supervisor/supervisor.h"
#include "util/cleanup.h"

enum { FD_CLIENT = 3, FD_ROOT = 4, FD_REPORT = 5 };

static int become_sandbox_user(const struct al_supervisor *s, const char *user,
                               struct al_error *err)
{
	uint32_t in_uid = s->spec->uid, in_gid = s->spec->gid;
	if (user[0]) {
		/* root, or a uid (the request parser checked: at most 65535) */
		in_uid = in_gid = strcmp(user, "root") == 0 ? 0 : (uint32_t)atol(user);
	}
	if (s->plan->rootless) {
		/* one uid is mapped: the caller's, the sandbox's user */
		if (user[0] && in_uid != s->spec->uid)
			return al_error_set(err, EPERM, "cp",
			                    "--user: a rootless session maps one uid: only the "
			                    "sandbox's own user exists");
		return 0;
	}
	/* no capability at all, even for root: as root of the sandbox cp
	 * writes what root owns, never past the permissions of the files */
	uid_t uid = s->plan->host_uid + in_uid;
	gid_t gid = s->plan->host_gid + in_gid;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return al_error_errno(err, "cp", "taking the sandbox user's identity: %s",
		                      strerror(errno));
	/* setresuid away from 0 cleared every capability; make sure */
	if (getuid() != uid || geteuid() != uid || getegid() != gid || setresuid(0, 0, 0) == 0)
		return al_error_set(err, EPERM, "cp", "the copy helper kept privileges");
	return 0;
}

__attribute__((noreturn)) void al_session_cp_child(struct al_supervisor *s, int client_fd,
                                                   int root_fd, int report_fd, bool in,
                                                   uint64_t limit, const char *path,
                                                   const char *base, const char *user)
{
	struct al_cp_result res;
	struct al_cp_stats st = {0};
	struct al_error err = {0};
	struct al_frame_reader rd = {0};
	char text[96];
	int r, fds[3] = {client_fd, root_fd, report_fd};

	memset(&res, 0, sizeof res);
	/* the supervisor's secrets are not ours */
	for (int i = 0; i < s->plan->n_wipe && i < (int)AL_ARRAY_SIZE(s->plan->wipe); i++)
		explicit_bzero(s->plan->wipe[i], s->plan->wipe_len[i]);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	/* three descriptors, nothing else: out of the way first, then 3, 4, 5 */
	for (int i = 0; i < 3; i++) {
		int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
		if (hi < 0)
			_exit(1);
		fds[i] = hi;
	}
	for (int i = 0; i < 3; i++)
		if (dup3(fds[i], FD_CLIENT + i, O_CLOEXEC) < 0)
			_exit(1);
	if (syscall(SYS_close_range, FD_REPORT + 1, ~0U, 0) < 0)
		_exit(1);
	if (getppid() == 1)
		_exit(1);
	r = become_sandbox_user(s, user, &err);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = al_error_errno(&err, "cp", "no_new_privs");
	if (r == 0 && fcntl(FD_CLIENT, F_SETFL, 0) < 0)
		r = al_error_errno(&err, "cp", "fcntl");
	if (r == 0 && !in) {
		r = al_cp_send(FD_CLIENT, FD_ROOT, path, AL_CP_RESOLVE_SANDBOX, limit, &st, &err);
	} else if (r == 0) {
		int parent = -1;
		char name[256];
		r = al_cp_dest(FD_ROOT, path, AL_CP_RESOLVE_SANDBOX, base, &parent, name, &err);
		if (r == 0 && al_frame_write(FD_CLIENT, AL_FR_CP_READY, NULL, 0) < 0)
			r = al_error_set(&err, EPIPE, "cp", "the client went away");
		if (r == 0)
			r = al_cp_recv(FD_CLIENT, &rd, parent, name, limit, &st, &err);
		if (parent >= 0)
			close(parent);
	}
	if (r == 0) {
		int n = snprintf(text, sizeof text, "%llu %llu %llu", (unsigned long long)st.bytes,
		                 (unsigned long long)st.files, (unsigned long long)st.skipped);
		if (al_frame_write(FD_CLIENT, AL_FR_CP_DONE, text, (size_t)n) < 0) {
			r = -EPIPE;
			snprintf(err.msg, sizeof err.msg, "the client went away before the end");
		}
	} else {
		al_frame_write(FD_CLIENT, AL_FR_ERROR, err.msg, strlen(err.msg));
	}
	res.err = r < 0 ? -r : 0;
	res.bytes = st.bytes;
	res.files = st.files;
	res.entries = st.entries;
	res.skipped = st.skipped;
	if (r < 0)
		snprintf(res.what, sizeof res.what, "%s", err.msg);
	if (write(FD_REPORT, &res, sizeof res) != (ssize_t)sizeof res)
		_exit(1);
	_exit(0);
}
