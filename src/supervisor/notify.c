/* Seccomp user notifications, supervisor side: receive, read what the target
 * asked for (bounded, from its memory, re-validated against pid reuse),
 * record exec / syscall_denied, answer. The supervisor never runs code on
 * the target's behalf; an exec is continued, everything else gets EPERM. */
#define _GNU_SOURCE
#include "supervisor/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <linux/types.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox/seccomp.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/json.h"

/* Linux 6.6+ (uapi linux/seccomp.h), newer than the installed headers */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* bytes of each argv string fetched in the one batched read (most are shorter) */
#define ARG_PREFETCH 128

#define AL_STR_(x) #x
#define AL_STR(x) AL_STR_(x)

/* From the kernel's uapi (linux/nsfs.h, linux/pidfd.h), newer than the
 * installed headers: pid translation without parsing /proc. */
#ifndef NS_GET_PID_IN_PIDNS
#define NS_GET_PID_IN_PIDNS _IOR(0xb7, 0x8, int)
#endif
#ifndef PIDFD_GET_INFO
struct pidfd_info {
	__u64 mask;
	__u64 cgroupid;
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 ruid;
	__u32 rgid;
	__u32 euid;
	__u32 egid;
	__u32 suid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 spare0[1];
};
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
#define PIDFD_INFO_PID (1UL << 0)
#endif

struct al_notify {
	int fd;
	int pidns_fd;        /* the sandbox's pid namespace, once known; -1 before */
	bool pidns_fallback; /* the kernel cannot translate pids: parse /proc instead */
	struct al_evlog *log;
	al_notify_recorder recorder;
	void *recorder_ctx;
	struct seccomp_notif_sizes sizes;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct al_notify_stats st;
	bool suppress_recorded; /* the "denials no longer recorded" record was written */
	char *strbuf;           /* AL_NOTIFY_ARGV_BYTES + AL_NOTIFY_PATH_MAX scratch */
	uint64_t *ptrs;         /* AL_NOTIFY_ARGV_MAX + 1 argv pointers */
	char *prefetch; /* AL_NOTIFY_ARGV_MAX x ARG_PREFETCH: the start of every argv string */
};

int al_notify_open(struct al_notify **out, int listener_fd, struct al_evlog *log,
                   struct al_error *err)
{
	struct al_notify *n;
	int fl;

	*out = NULL;
	n = calloc(1, sizeof *n);
	if (n == NULL) {
		close(listener_fd);
		return al_error_set(err, ENOMEM, "notify", "allocating the notification handler");
	}
	n->fd = listener_fd;
	n->log = log;
	n->pidns_fd = -1;
	/* The kernel's structs may be larger than our headers' (newer fields):
	 * size the buffers as the kernel says (seccomp_unotify(2)). */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &n->sizes) < 0) {
		int r = al_error_errno(err, "notify", "seccomp(SECCOMP_GET_NOTIF_SIZES)");
		al_notify_free(n);
		return r;
	}
	if (n->sizes.seccomp_notif < sizeof(struct seccomp_notif))
		n->sizes.seccomp_notif = sizeof(struct seccomp_notif);
	if (n->sizes.seccomp_notif_resp < sizeof(struct seccomp_notif_resp))
		n->sizes.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
	n->req = calloc(1, n->sizes.seccomp_notif);
	n->resp = calloc(1, n->sizes.seccomp_notif_resp);
	n->strbuf = malloc(AL_NOTIFY_ARGV_BYTES + AL_NOTIFY_PATH_MAX);
	n->ptrs = calloc(AL_NOTIFY_ARGV_MAX + 1, sizeof *n->ptrs);
	n->prefetch = malloc(AL_NOTIFY_ARGV_MAX * ARG_PREFETCH);
	if (n->req == NULL || n->resp == NULL || n->strbuf == NULL || n->ptrs == NULL ||
	    n->prefetch == NULL) {
		al_notify_free(n);
		return al_error_set(err, ENOMEM, "notify", "allocating notification buffers");
	}
	/* The target waits for our answer and we wait for its notification:
	 * synchronous wake-ups (6.6+) let the scheduler hand the CPU straight
	 * over when both share one CPU. Best effort (older kernels lack it);
	 * on this 2-CPU build machine it made no measurable difference. */
	(void)ioctl(n->fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
	            (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	/* O_NONBLOCK is set for tidiness only: the receive ioctl ignores it
	 * (see al_notify_handle for how blocking is avoided). */
	fl = fcntl(n->fd, F_GETFL);
	if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(n->fd, F_SETFD, FD_CLOEXEC) < 0) {
		int r = al_error_errno(err, "notify", "fcntl seccomp listener");
		al_notify_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int al_notify_fd(const struct al_notify *n)
{
	return n->fd;
}

void al_notify_set_recorder(struct al_notify *n, al_notify_recorder fn, void *ctx)
{
	n->recorder = fn;
	n->recorder_ctx = ctx;
}

void al_notify_stats(const struct al_notify *n, struct al_notify_stats *st)
{
	*st = n->st;
}

static int record(struct al_notify *n, const char *type, const char *json, struct al_error *err)
{
	if (n->recorder)
		return n->recorder(n->recorder_ctx, type, json, err);
	if (n->log)
		return al_evlog_append(n->log, type, json, err);
	return 0;
}

/* Copy len bytes at addr of pid, never across a page the target did not
 * map: process_vm_readv stops at the first bad page, so read page-sized
 * pieces. Returns bytes read (maybe short) or -errno when nothing could be. */
static ssize_t peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t a = addr + done;
		size_t chunk = 4096 - (size_t)(a & 4095);
		struct iovec local, remote;
		ssize_t r;

		if (chunk > len - done)
			chunk = len - done;
		local = (struct iovec){.iov_base = (char *)buf + done, .iov_len = chunk};
		remote = (struct iovec){.iov_base = (void *)(uintptr_t)a, .iov_len = chunk};
		r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (r <= 0) {
			if (done > 0)
				break;
			return r < 0 ? -errno : -EFAULT;
		}
		done += (size_t)r;
		if ((size_t)r < chunk)
			break;
	}
	return (ssize_t)done;
}

/* A NUL-terminated string at addr, at most cap-1 bytes (page by page, so a
 * string at the end of a mapping is read). Sets *truncated when longer. */
static ssize_t peek_string(pid_t pid, uint64_t addr, char *buf, size_t cap, bool *truncated)
{
	size_t len = 0;

	*truncated = false;
	if (cap == 0)
		return -ENOSPC;
	while (len < cap - 1) {
		size_t want = 4096 - (size_t)((addr + len) & 4095);
		ssize_t r;
		char *nul;

		if (want > cap - 1 - len)
			want = cap - 1 - len;
		r = peek(pid, addr + len, buf + len, want);
		if (r <= 0) {
			if (len > 0)
				break;
			return r < 0 ? r : -EFAULT;
		}
		nul = memchr(buf + len, '\0', (size_t)r);
		if (nul != NULL)
			return nul - buf;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*truncated = true;
	return (ssize_t)len;
}

/* From /proc/<pid>/status in one read: the innermost value of NSpid (the
 * pid as seen inside the sandbox), how many pid namespaces deep it is, and
 * PPid (as the supervisor sees it). -1 where unknown. */
struct pid_status {
	long nspid;
	int levels;
	long ppid;
};

static void read_pid_status(pid_t pid, struct pid_status *ps)
{
	char path[64], buf[4096], *p, *line_end;

	ps->nspid = ps->ppid = -1;
	ps->levels = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (al_read_file_at(AT_FDCWD, path, buf, sizeof buf) <= 0)
		return;
	for (p = buf; p && *p; p = line_end ? line_end + 1 : NULL) {
		line_end = strchr(p, '\n');
		if (strncmp(p, "PPid:", 5) == 0) {
			ps->ppid = strtol(p + 5, NULL, 10);
		} else if (strncmp(p, "NSpid:", 6) == 0) {
			char *q = p + 6, *end;
			for (;;) {
				long x = strtol(q, &end, 10);
				if (end == q)
					break;
				ps->nspid = x;
				ps->levels++;
				q = end;
			}
			break; /* NSpid comes after PPid */
		}
	}
}

static bool notif_still_valid(struct al_notify *n, uint64_t id)
{
	return ioctl(n->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int respond(struct al_notify *n, uint64_t id, int error, uint32_t flags,
                   struct al_error *err)
{
	memset(n->resp, 0, n->sizes.seccomp_notif_resp);
	n->resp->id = id;
	n->resp->error = error;
	n->resp->val = 0;
	n->resp->flags = flags;
	if (ioctl(n->fd, SECCOMP_IOCTL_NOTIF_SEND, n->resp) < 0) {
		if (errno == ENOENT) { /* the target died or was interrupted meanwhile */
			n->st.vanished++;
			return 0;
		}
		return al_error_errno(err, "notify", "seccomp notification answer");
	}
	return 0;
}

/* Inner pid and ppid through the kernel's translation: the host ppid from a
 * pidfd (PIDFD_GET_INFO, 6.13+), both translated into the sandbox's pid
 * namespace (NS_GET_PID_IN_PIDNS, 6.11+). A handful of cheap syscalls where
 * /proc/PID/status costs ~10 us per read. Every process inside shares one pid
 * namespace (nested ones are denied), learned from the first target. Returns
 * false where the kernel cannot do it. */
static bool translate_pids(struct al_notify *n, pid_t host_pid, long *pid, long *ppid)
{
	struct pidfd_info info = {.mask = PIDFD_INFO_PID};
	int pidfd, r;

	if (n->pidns_fallback)
		return false;
	pidfd = (int)syscall(SYS_pidfd_open, host_pid, 0);
	if (pidfd < 0)
		return false; /* e.g. a non-leader thread */
	r = ioctl(pidfd, PIDFD_GET_INFO, &info);
	if (r == 0 && n->pidns_fd < 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)host_pid);
		n->pidns_fd = open(path, O_RDONLY | O_CLOEXEC);
		/* named by pid: only trusted if that process is still the one
		 * the pidfd names (alive after the open) */
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		if (n->pidns_fd >= 0 && poll(&p, 1, 0) != 0) {
			close(n->pidns_fd);
			n->pidns_fd = -1;
		}
	}
	close(pidfd);
	if (r < 0 || n->pidns_fd < 0) {
		if (r < 0 && (errno == ENOTTY || errno == EINVAL))
			n->pidns_fallback = true;
		return false;
	}
	*pid = ioctl(n->pidns_fd, NS_GET_PID_IN_PIDNS, (unsigned long)host_pid);
	if (*pid < 0) {
		if (errno == ENOTTY || errno == EINVAL)
			n->pidns_fallback = true;
		return false;
	}
	/* a parent outside the sandbox (the init's: the supervisor) has no pid
	 * there: 0, as the kernel shows it inside */
	*ppid = ioctl(n->pidns_fd, NS_GET_PID_IN_PIDNS, (unsigned long)info.ppid);
	if (*ppid < 0)
		*ppid = 0;
	return true;
}

/* pid and ppid as seen inside the sandbox, and the host pid. */
static void pid_fields(struct al_notify *n, struct al_json *j, pid_t host_pid)
{
	struct pid_status self, parent = {-1, 0, -1};
	long pid, ppid;

	if (!translate_pids(n, host_pid, &pid, &ppid)) {
		read_pid_status(host_pid, &self);
		if (self.ppid > 0)
			read_pid_status((pid_t)self.ppid, &parent);
		/* a parent in a shallower pid namespace is outside the sandbox */
		if (parent.levels < self.levels)
			parent.nspid = 0;
		pid = self.nspid;
		ppid = parent.nspid;
	}
	al_json_kv_int(j, "pid", pid);
	al_json_kv_int(j, "ppid", ppid);
	al_json_kv_int(j, "host_pid", host_pid);
}

/* Build the exec record into b from the target's memory. Returns 0, or
 * -errno when the target's memory could not be read at all. */
/* The first zero among n words, or NULL. */
static const uint64_t *memchr_u64(const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i] == 0)
			return &w[i];
	return NULL;
}

/* The start of every argv string in one vectored process_vm_readv, each
 * piece ending at its page boundary (so one unmapped page cannot fail the
 * others before it). Returns how many pieces were read whole; lens[i] is the
 * size of piece i. */
static size_t prefetch_args(struct al_notify *n, pid_t pid, size_t nptr, size_t *lens)
{
	struct iovec loc[AL_NOTIFY_ARGV_MAX], rem[AL_NOTIFY_ARGV_MAX];
	size_t done = 0, acc = 0;
	ssize_t r;

	for (size_t i = 0; i < nptr; i++) {
		uint64_t a = n->ptrs[i];
		size_t c = 4096 - (size_t)(a & 4095);
		lens[i] = c < ARG_PREFETCH ? c : ARG_PREFETCH;
		loc[i] =
		    (struct iovec){.iov_base = n->prefetch + i * ARG_PREFETCH, .iov_len = lens[i]};
		rem[i] = (struct iovec){.iov_base = (void *)(uintptr_t)a, .iov_len = lens[i]};
	}
	r = nptr ? process_vm_readv(pid, loc, nptr, rem, nptr, 0) : 0;
	while (r > 0 && done < nptr && acc + lens[done] <= (size_t)r)
		acc += lens[done++];
	return done;
}

static int exec_record(struct al_notify *n, const struct seccomp_notif *req, struct al_buf *b)
{
	pid_t pid = (pid_t)req->pid;
	bool at = req->data.nr == __NR_execveat;
	uint64_t path_addr = req->data.args[at ? 1 : 0];
	uint64_t argv_addr = req->data.args[at ? 2 : 1];
	char *path = n->strbuf + AL_NOTIFY_ARGV_BYTES;
	char *args = n->strbuf;
	size_t used = 0, nptr = 0, fetched, lens[AL_NOTIFY_ARGV_MAX];
	bool trunc = false, argv_trunc = false;
	ssize_t plen, r;
	struct al_json j;

	plen = peek_string(pid, path_addr, path, AL_NOTIFY_PATH_MAX, &trunc);
	if (plen < 0)
		return (int)plen;

	al_json_init(&j, b);
	al_json_obj_begin(&j);
	pid_fields(n, &j, pid);
	al_json_kv_str(&j, "syscall", at ? "execveat" : "execve");
	if (at) {
		al_json_kv_int(&j, "dirfd", (int32_t)req->data.args[0]);
		al_json_kv_int(&j, "flags", (int64_t)req->data.args[4]);
	}
	al_json_key(&j, "path");
	al_json_strn(&j, path, (size_t)plen);
	if (trunc)
		al_json_kv_bool(&j, "path_truncated", true);

	/* argv: the pointer array, then each string, within the byte budget */
	if (argv_addr != 0) {
		/* the first 32 pointers, then the rest only if no NULL was among them */
		size_t first = 32 * sizeof *n->ptrs;
		r = peek(pid, argv_addr, n->ptrs, first);
		if (r == (ssize_t)first && memchr_u64(n->ptrs, 32) == NULL) {
			ssize_t more = peek(pid, argv_addr + first, n->ptrs + 32,
			                    (AL_NOTIFY_ARGV_MAX + 1) * sizeof *n->ptrs - first);
			r += more > 0 ? more : 0;
		}
		if (r < 0)
			r = 0;
		for (nptr = 0; nptr < (size_t)r / sizeof *n->ptrs; nptr++)
			if (n->ptrs[nptr] == 0)
				break;
		if (nptr == (size_t)r / sizeof *n->ptrs && nptr > 0)
			argv_trunc = true; /* no terminating NULL within what we read */
		if (nptr > AL_NOTIFY_ARGV_MAX) {
			nptr = AL_NOTIFY_ARGV_MAX;
			argv_trunc = true;
		}
	}
	al_json_key(&j, "argv");
	al_json_arr_begin(&j);
	fetched = prefetch_args(n, pid, nptr, lens);
	for (size_t i = 0; i < nptr; i++) {
		const char *pre = n->prefetch + i * ARG_PREFETCH;
		const char *nul = i < fetched ? memchr(pre, '\0', lens[i]) : NULL;
		bool t = false;
		ssize_t len;

		if (used + 1 >= AL_NOTIFY_ARGV_BYTES) {
			argv_trunc = true;
			break;
		}
		if (nul != NULL && (size_t)(nul - pre) + 1 <= AL_NOTIFY_ARGV_BYTES - used) {
			len = nul - pre;
			memcpy(args + used, pre, (size_t)len + 1);
		} else {
			/* longer than the prefetched piece, or not readable at once */
			len = peek_string(pid, n->ptrs[i], args + used, AL_NOTIFY_ARGV_BYTES - used,
			                  &t);
		}
		if (len < 0) {
			argv_trunc = true;
			break;
		}
		al_json_strn(&j, args + used, (size_t)len);
		used += (size_t)len + 1;
		if (t) {
			argv_trunc = true;
			break;
		}
	}
	al_json_arr_end(&j);
	if (argv_trunc)
		al_json_kv_bool(&j, "argv_truncated", true);
	al_json_kv_str(&j, "source", "seccomp");
	al_json_obj_end(&j);
	return b->oom ? -ENOMEM : 0;
}

static int handle_exec(struct al_notify *n, const struct seccomp_notif *req, struct al_error *err)
{
	struct al_buf b;
	int r;

	al_buf_init(&b);
	r = exec_record(n, req, &b);
	/* Everything read above is only trusted if the notification is still
	 * live: otherwise the pid may now name another process. */
	if (!notif_still_valid(n, req->id)) {
		al_buf_free(&b);
		n->st.vanished++;
		return 0;
	}
	if (r < 0) {
		/* The path could not be read. The kernel would fail the exec with
		 * EFAULT -- unless another thread maps the page between our read
		 * and the kernel's, which would make an unrecorded exec. So this
		 * exec is refused (EFAULT), and recorded as such. */
		struct al_json j;
		int read_errno = -r;
		al_buf_reset(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		pid_fields(n, &j, (pid_t)req->pid);
		al_json_kv_str(&j, "syscall",
		               req->data.nr == __NR_execveat ? "execveat" : "execve");
		al_json_kv_str(&j, "path", NULL);
		al_json_kv_int(&j, "read_error", read_errno);
		al_json_kv_bool(&j, "refused", true);
		al_json_kv_str(&j, "source", "seccomp");
		al_json_obj_end(&j);
		r = record(n, "exec", b.data, err);
		al_buf_free(&b);
		if (r < 0) {
			respond(n, req->id, -EPERM, 0, err);
			return al_error_wrap(err, "recording an exec");
		}
		return respond(n, req->id, -EFAULT, 0, err);
	}
	r = record(n, "exec", b.data, err);
	al_buf_free(&b);
	if (r < 0) {
		/* Not recorded, so not allowed: fail closed. */
		respond(n, req->id, -EPERM, 0, err);
		return al_error_wrap(err, "recording an exec");
	}
	n->st.execs++;
	/* CONTINUE lets the kernel run the exec as asked. The record is
	 * evidence, not enforcement: another thread of the target can rewrite
	 * the path or argv between our read and the kernel's (docs/seccomp.md). */
	return respond(n, req->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, err);
}

static int handle_denied(struct al_notify *n, const struct seccomp_notif *req, struct al_error *err)
{
	const struct al_seccomp_rule *rule = al_seccomp_rule_lookup((int)req->data.nr);
	char name[64];
	struct al_buf b;
	struct al_json j;
	int r = 0;

	n->st.denied++;
	if (n->st.denied > AL_NOTIFY_DENIED_RECORDS) {
		/* A workload looping on a denied call must not flood the log;
		 * say once that recording stopped, then only count. */
		n->st.denied_unrecorded++;
		if (!n->suppress_recorded) {
			n->suppress_recorded = true;
			r = record(n, "syscall_denied_unrecorded",
			           "{\"reason\":\"more than " AL_STR(
			               AL_NOTIFY_DENIED_RECORDS) " denied syscalls; further ones "
			                                         "are only counted\"}",
			           err);
		}
		if (r < 0) {
			respond(n, req->id, -EPERM, 0, err);
			return r;
		}
		return respond(n, req->id, -EPERM, 0, err);
	}
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	pid_fields(n, &j, (pid_t)req->pid);
	al_json_kv_str(&j, "syscall",
	               al_seccomp_syscall_name((int)req->data.nr, name, sizeof name));
	al_json_kv_int(&j, "nr", (int32_t)req->data.nr);
	al_json_key(&j, "args");
	al_json_arr_begin(&j);
	for (int i = 0; i < 6; i++)
		al_json_uint(&j, req->data.args[i]);
	al_json_arr_end(&j);
	al_json_kv_str(&j, "group", rule ? rule->group : NULL);
	al_json_kv_str(&j, "reason", rule ? rule->reason : "not in the allowlist");
	al_json_kv_int(&j, "errno", EPERM);
	al_json_obj_end(&j);
	/* pid_fields read /proc: only meaningful while the call is pending */
	if (!notif_still_valid(n, req->id)) {
		al_buf_free(&b);
		n->st.vanished++;
		return 0;
	}
	r = b.oom ? al_error_set(err, ENOMEM, "notify", "building a syscall_denied record")
	          : record(n, "syscall_denied", b.data, err);
	al_buf_free(&b);
	if (r < 0) {
		respond(n, req->id, -EPERM, 0, err);
		return al_error_wrap(err, "recording a denied syscall");
	}
	return respond(n, req->id, -EPERM, 0, err);
}

int al_notify_handle(struct al_notify *n, struct al_error *err)
{
	struct seccomp_notif *req = n->req;
	struct pollfd p = {.fd = n->fd, .events = POLLIN};

	if (n->fd < 0)
		return 0;
	/*
	 * The receive ioctl ignores O_NONBLOCK: it sleeps on a semaphore that
	 * every posted notification raises once. So ask poll first. POLLIN
	 * means one was posted and not yet taken, and we are the only reader,
	 * so the receive cannot sleep (a notification withdrawn since, because
	 * its target was killed, makes it fail with ENOENT instead). POLLHUP
	 * alone means no process uses the filter any more: close the listener
	 * (which also drops it from any epoll set) instead of spinning on it.
	 */
	if (poll(&p, 1, 0) < 0)
		return errno == EINTR ? 0 : al_error_errno(err, "notify", "poll seccomp listener");
	if (!(p.revents & POLLIN)) {
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) {
			close(n->fd);
			n->fd = -1;
		}
		return 0;
	}
	memset(req, 0, n->sizes.seccomp_notif); /* the kernel insists on a zeroed buffer */
	if (ioctl(n->fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
		if (errno == EINTR || errno == ENOENT) {
			n->st.vanished += errno == ENOENT;
			return 0;
		}
		return al_error_errno(err, "notify", "seccomp notification receive");
	}
	if (req->data.nr == __NR_execve || req->data.nr == __NR_execveat)
		return handle_exec(n, req, err);
	return handle_denied(n, req, err);
}

void al_notify_free(struct al_notify *n)
{
	if (n == NULL)
		return;
	if (n->fd >= 0)
		close(n->fd);
	if (n->pidns_fd >= 0)
		close(n->pidns_fd);
	free(n->req);
	free(n->resp);
	free(n->strbuf);
	free(n->ptrs);
	free(n->prefetch);
	free(n);
}
