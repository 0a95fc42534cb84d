/* Seccomp user notifications, supervisor side: receive, read what the target
 * asked for (bounded, from its memory, re-validated against pid reuse),
 * record exec / syscall_denied, answer. The supervisor never runs code on
 * the target's behalf; an exec is continued, everything else gets EPERM. */
#define _GNU_SOURCE
#include "supervisor/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "supervisor/exec_file.h"
#include "supervisor/tmem.h"
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
/* pointers read per batch of an argv/envp array (one page of them) */
#define VEC_BATCH 512

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
	char *strbuf;           /* AL_NOTIFY_ARGV_BYTES + AL_NOTIFY_PATH_MAX + 1 scratch */
	uint64_t *ptrs;         /* AL_NOTIFY_ARGV_MAX + 1 argv pointers */
	char *prefetch;         /* VEC_BATCH x ARG_PREFETCH: the start of every argv/envp string */
	char *envbuf;           /* AL_NOTIFY_LD_BYTES + 1: one LD_ variable */
	int root_fd;            /* the sandbox's root directory, once known; -1 before */
	al_notify_interposer interposer; /* sees every notification first (chaos) */
	void *interposer_ctx;
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
	n->root_fd = -1;
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
	n->strbuf = malloc(AL_NOTIFY_ARGV_BYTES + AL_NOTIFY_PATH_MAX + 1);
	/* argv pointers kept, then one batch of any pointer array */
	n->ptrs = calloc(AL_NOTIFY_ARGV_MAX + 1 + VEC_BATCH, sizeof *n->ptrs);
	n->prefetch = malloc(VEC_BATCH * ARG_PREFETCH);
	n->envbuf = malloc(AL_NOTIFY_LD_BYTES + 1);
	if (n->req == NULL || n->resp == NULL || n->strbuf == NULL || n->ptrs == NULL ||
	    n->prefetch == NULL || n->envbuf == NULL) {
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

void al_notify_stats_json(const struct al_notify_stats *st, struct al_json *j)
{
	char name[64];

	al_json_kv_uint(j, "execs_refused", st->execs_refused);
	al_json_key(j, "unrecorded_by_syscall");
	al_json_obj_begin(j);
	for (int nr = 0; nr < AL_NOTIFY_NR_SLOTS; nr++) {
		if (st->unrecorded_by_nr[nr] == 0)
			continue;
		if (nr == AL_NOTIFY_NR_SLOTS - 1)
			snprintf(name, sizeof name, "nr>=%d", nr);
		else
			al_seccomp_syscall_name(nr, name, sizeof name);
		al_json_kv_uint(j, name, st->unrecorded_by_nr[nr]);
	}
	al_json_obj_end(j);
}

static int record(struct al_notify *n, const char *type, const char *json, struct al_error *err)
{
	if (n->recorder)
		return n->recorder(n->recorder_ctx, type, json, err);
	if (n->log)
		return al_evlog_append(n->log, type, json, err);
	return 0;
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

/* ---- exec: what was asked, read completely or refused ---- */

/* One exec being read: the target's memory, and what to refuse with. */
struct exec_read {
	struct al_notify *n;
	uint64_t id;                  /* the notification */
	struct al_exec_target target; /* for resolving the file */
	struct al_tmem mem;
	int refuse;            /* errno the exec is answered with; 0: continue */
	int read_error;        /* errno of a failed read (EFAULT), or 0 */
	const char *read_what; /* which part could not be read */
	size_t argc, envc;
	size_t ld_used, ld_count;
	bool ld_truncated;
	struct al_json *j; /* ld_env entries go here while envp is walked */
};

static bool notif_still_valid(struct al_notify *n, uint64_t id);

static bool exec_target_alive(void *ctx)
{
	struct exec_read *x = ctx;
	return notif_still_valid(x->n, x->id);
}

static void exec_refuse(struct exec_read *x, int e, const char *what)
{
	if (x->refuse == 0) {
		x->refuse = e;
		if (e == EFAULT) {
			x->read_error = e;
			x->read_what = what;
		}
	}
}

/* Walk the NULL-terminated pointer array at addr one page of pointers at a
 * time, handing each batch to fn. Returns the number of entries, or -EFAULT
 * (a pointer before the NULL could not be read: the kernel would fault
 * too), -E2BIG (more entries than the kernel accepts), or fn's error. */
static ssize_t walk_vector(struct exec_read *x, uint64_t addr, uint64_t *batch,
                           const uint64_t *head, size_t head_k,
                           int (*fn)(struct exec_read *x, const uint64_t *p, size_t k,
                                     size_t first))
{
	size_t count = 0;

	if (addr == 0)
		return 0; /* a NULL argv/envp is an empty one to the kernel */
	for (;;) {
		uint64_t a = addr + count * sizeof *batch;
		size_t rest = 4096 - (size_t)(a & 4095), k;
		const uint64_t *b = batch;
		int r;

		k = rest / sizeof *batch;
		if (k == 0)
			k = 1; /* a pointer straddling two pages */
		if (k > VEC_BATCH)
			k = VEC_BATCH;
		if (count == 0 && head_k > 0) {
			b = head; /* already read with the path */
			k = head_k;
		} else if (al_tmem_read(&x->mem, a, batch, k * sizeof *batch) < 0) {
			return -EFAULT;
		}
		for (size_t i = 0; i < k; i++)
			if (b[i] == 0) {
				r = i ? fn(x, b, i, count) : 0;
				return r < 0 ? r : (ssize_t)(count + i);
			}
		r = fn(x, b, k, count);
		if (r < 0)
			return r;
		count += k;
		if (count > AL_NOTIFY_VEC_MAX)
			return -E2BIG;
	}
}

/* The start of the path, the argv array and the envp array in one vectored
 * read (each piece within its page): most execs need nothing more for them.
 * Sets the sizes of the pieces read; 0 for those not read. */
struct exec_head {
	char path[256];
	uint64_t argv[32], envp[64];
	size_t path_len, argv_k, envp_k;
};

static void read_head(struct exec_read *x, struct exec_head *h, uint64_t path_addr,
                      uint64_t argv_addr, uint64_t envp_addr)
{
	struct iovec loc[3], rem[3];
	size_t len[3], k = 0, got;
	uint64_t addr[3] = {path_addr, argv_addr, envp_addr};
	void *dst[3] = {h->path, h->argv, h->envp};
	size_t cap[3] = {sizeof h->path, sizeof h->argv, sizeof h->envp};

	for (size_t i = 0; i < 3; i++) {
		size_t rest = 4096 - (size_t)(addr[i] & 4095);
		len[i] = rest < cap[i] ? rest : cap[i];
		if (i > 0)
			len[i] -= len[i] % sizeof(uint64_t);
		if (addr[i] == 0 || len[i] == 0)
			break; /* keep the pieces a prefix: stop at the first unusable */
		loc[k] = (struct iovec){.iov_base = dst[i], .iov_len = len[i]};
		rem[k] = (struct iovec){.iov_base = (void *)(uintptr_t)addr[i], .iov_len = len[i]};
		k++;
	}
	got = al_tmem_readv_prefix(&x->mem, loc, rem, k);
	h->path_len = got > 0 ? len[0] : 0;
	h->argv_k = got > 1 ? len[1] / sizeof(uint64_t) : 0;
	h->envp_k = got > 2 ? len[2] / sizeof(uint64_t) : 0;
}

/* argv batches: keep the first AL_NOTIFY_ARGV_MAX pointers */
static int keep_argv(struct exec_read *x, const uint64_t *p, size_t k, size_t first)
{
	for (size_t i = 0; i < k && first + i < AL_NOTIFY_ARGV_MAX; i++)
		x->n->ptrs[first + i] = p[i];
	return 0;
}

/* Prefetch the start of every string of a batch in one vectored read; the
 * pieces not read that way are read one by one by the caller. */
static size_t prefetch(struct exec_read *x, char *dst, const uint64_t *p, size_t k, size_t *lens)
{
	struct iovec loc[VEC_BATCH], rem[VEC_BATCH];

	for (size_t i = 0; i < k; i++) {
		size_t c = 4096 - (size_t)(p[i] & 4095);
		lens[i] = c < ARG_PREFETCH ? c : ARG_PREFETCH;
		loc[i] = (struct iovec){.iov_base = dst + i * ARG_PREFETCH, .iov_len = lens[i]};
		rem[i] = (struct iovec){.iov_base = (void *)(uintptr_t)p[i], .iov_len = lens[i]};
	}
	return al_tmem_readv_prefix(&x->mem, loc, rem, k);
}

/* envp batches: every string is looked at (its first bytes), the LD_ ones
 * are recorded whole: they change what the dynamic loader runs. */
static int scan_env(struct exec_read *x, const uint64_t *p, size_t k, size_t first)
{
	struct al_notify *n = x->n;
	size_t lens[VEC_BATCH], fetched = prefetch(x, n->prefetch, p, k, lens);

	(void)first;
	for (size_t i = 0; i < k; i++) {
		const char *pre = n->prefetch + i * ARG_PREFETCH;
		char head[4], *s = n->envbuf;
		bool t = false;
		ssize_t len;

		if (i >= fetched || (lens[i] < 3 && memchr(pre, '\0', lens[i]) == NULL)) {
			/* not read at once: its first three bytes one by one */
			if (al_tmem_string(&x->mem, p[i], head, sizeof head, &t) < 0)
				return -EFAULT;
			pre = head;
		}
		if (strncmp(pre, "LD_", 3) != 0)
			continue;
		if (x->ld_count >= AL_NOTIFY_LD_MAX || x->ld_used >= AL_NOTIFY_LD_BYTES) {
			x->ld_truncated = true;
			continue;
		}
		len = al_tmem_string(&x->mem, p[i], s, AL_NOTIFY_LD_BYTES - x->ld_used + 1, &t);
		if (len < 0)
			return -EFAULT;
		al_json_strn(x->j, s, (size_t)len);
		x->ld_used += (size_t)len;
		x->ld_count++;
		if (t)
			x->ld_truncated = true;
	}
	return 0;
}

/* The argv strings whose pointers are in n->ptrs, within the byte budget. */
static void read_argv_strings(struct al_notify *n, struct exec_read *x, size_t nptr,
                              struct al_json *j, bool *argv_trunc)
{
	size_t used = 0, lens[VEC_BATCH], fetched;
	char *args = n->strbuf;

	fetched = prefetch(x, n->prefetch, n->ptrs, nptr, lens);
	for (size_t i = 0; i < nptr; i++) {
		const char *pre = n->prefetch + i * ARG_PREFETCH;
		const char *nul = i < fetched ? memchr(pre, '\0', lens[i]) : NULL;
		bool t = false;
		ssize_t len;

		if (used + 1 >= AL_NOTIFY_ARGV_BYTES) {
			*argv_trunc = true;
			break;
		}
		if (nul != NULL && (size_t)(nul - pre) + 1 <= AL_NOTIFY_ARGV_BYTES - used) {
			len = nul - pre;
			memcpy(args + used, pre, (size_t)len + 1);
		} else {
			/* longer than the prefetched piece, or not readable at once */
			len = al_tmem_string(&x->mem, n->ptrs[i], args + used,
			                     AL_NOTIFY_ARGV_BYTES - used, &t);
		}
		if (len < 0) {
			/* the kernel would copy this string: what we hold is partial */
			exec_refuse(x, EFAULT, "argv");
			break;
		}
		al_json_strn(j, args + used, (size_t)len);
		used += (size_t)len + 1;
		if (t) {
			*argv_trunc = true;
			break;
		}
	}
}

static void file_fields(struct al_json *j, const struct al_exec_file *f)
{
	char dev[48];

	al_json_key(j, "file");
	al_json_obj_begin(j);
	snprintf(dev, sizeof dev, "%" PRIu64 ":%" PRIu64, f->dev_major, f->dev_minor);
	al_json_kv_str(j, "dev", dev);
	al_json_kv_uint(j, "ino", f->ino);
	al_json_kv_uint(j, "size", f->size);
	al_json_kv_uint(j, "mode", f->mode);
	al_json_kv_bool(j, "image", f->image);
	if (f->hashed)
		al_json_kv_str(j, "sha256", f->sha256);
	if (f->skipped)
		al_json_kv_str(j, "hash_skipped", f->skipped);
	al_json_kv_str(j, "resolved", f->resolved);
	al_json_obj_end(j);
}

/* errnos the kernel itself gives for a path it cannot open: answered as
 * such, so callers (execvp's PATH search) behave as without airlock */
static bool kernel_like(int e)
{
	return e == ENOENT || e == ENOTDIR || e == EACCES || e == ELOOP || e == ENAMETOOLONG ||
	       e == EBADF;
}

/* A file from a writable area the supervisor cannot read (rootless: mode
 * 0111, say) could be a script whose interpreter nobody would see, and has
 * no hash: refused (EACCES), not run unrecorded. */
static void unreadable_refuses(struct exec_read *x, const struct al_exec_file *f)
{
	if (f->skipped != NULL && strcmp(f->skipped, "unreadable") == 0)
		exec_refuse(x, EACCES, NULL);
}

/* A script from a writable area runs its "#!" interpreter, an ELF program
 * its PT_INTERP loader, without another exec call, so the interpreter is
 * identified here, as the kernel will find it (relative to the cwd), and
 * so on for a script interpreting a script. An image file's interpreter is
 * named by the image and is not read. An interpreter that cannot be
 * identified refuses the exec. */
static void interpreter_fields(struct exec_read *x, struct al_json *j, const struct al_exec_file *f)
{
	struct al_exec_file in;
	char name[sizeof f->interpreter];
	const char *kind;
	int depth = 0, e;

	if (f->interpreter[0] == '\0')
		return;
	memcpy(name, f->interpreter, sizeof name);
	kind = f->interp_kind;
	al_json_key(j, "interpreters");
	al_json_arr_begin(j);
	for (;;) {
		al_json_obj_begin(j);
		al_json_kv_str(j, "path", name);
		al_json_kv_str(j, "kind", kind);
		if (++depth > AL_EXEC_INTERP_DEPTH) {
			al_json_kv_int(j, "file_error", ELOOP);
			al_json_obj_end(j);
			exec_refuse(x, ELOOP, NULL); /* the kernel's answer too */
			break;
		}
		e = al_exec_file_identify(&in, &x->n->root_fd, &x->target, name, AT_FDCWD, 0);
		if (e < 0) {
			al_json_kv_int(j, "file_error", -e);
			al_json_obj_end(j);
			exec_refuse(x, kernel_like(-e) ? -e : EPERM, NULL);
			break;
		}
		file_fields(j, &in);
		al_json_obj_end(j);
		unreadable_refuses(x, &in);
		if (in.interpreter[0] == '\0')
			break;
		memcpy(name, in.interpreter, sizeof name);
		kind = in.interp_kind;
	}
	al_json_arr_end(j);
}

/* Build the exec record into b; x->refuse says whether to refuse. */
static int exec_record(struct al_notify *n, const struct seccomp_notif *req, struct al_buf *b,
                       struct exec_read *x)
{
	pid_t pid = (pid_t)req->pid;
	bool at = req->data.nr == __NR_execveat;
	uint64_t path_addr = req->data.args[at ? 1 : 0];
	uint64_t argv_addr = req->data.args[at ? 2 : 1];
	uint64_t envp_addr = req->data.args[at ? 3 : 2];
	int dirfd = at ? (int)(int32_t)req->data.args[0] : AT_FDCWD;
	int flags = at ? (int)req->data.args[4] : 0;
	char *path = n->strbuf + AL_NOTIFY_ARGV_BYTES;
	bool path_trunc = false, argv_trunc = false;
	ssize_t plen, r;
	struct al_json j;
	struct al_exec_file f;
	struct exec_head head;
	const char *nul;

	read_head(x, &head, path_addr, argv_addr, envp_addr);
	nul = head.path_len ? memchr(head.path, '\0', head.path_len) : NULL;
	if (nul != NULL) {
		plen = nul - head.path;
		memcpy(path, head.path, (size_t)plen + 1);
	} else {
		/* one byte more than PATH_MAX: a path of PATH_MAX - 1 characters
		 * has its NUL there, and is the longest the kernel takes */
		plen =
		    al_tmem_string(&x->mem, path_addr, path, AL_NOTIFY_PATH_MAX + 1, &path_trunc);
	}

	al_json_init(&j, b);
	x->j = &j;
	al_json_obj_begin(&j);
	pid_fields(n, &j, pid);
	al_json_kv_str(&j, "syscall", at ? "execveat" : "execve");
	if (at) {
		al_json_kv_int(&j, "dirfd", dirfd);
		al_json_kv_int(&j, "flags", (int64_t)req->data.args[4]);
	}
	if (plen < 0) {
		/* The kernel would fail the exec with EFAULT -- unless another
		 * thread maps the page between our read and the kernel's, which
		 * would make an exec with no path on record: refused. */
		exec_refuse(x, EFAULT, "path");
		al_json_kv_str(&j, "path", NULL);
		goto done;
	}
	al_json_key(&j, "path");
	al_json_strn(&j, path, (size_t)plen);
	if (path_trunc) {
		/* no NUL within PATH_MAX: the kernel's answer too */
		al_json_kv_bool(&j, "path_truncated", true);
		exec_refuse(x, ENAMETOOLONG, NULL);
	}

	/* argv: every pointer up to the NULL is read (the kernel reads them
	 * all), the first AL_NOTIFY_ARGV_MAX strings are recorded */
	r = walk_vector(x, argv_addr, n->ptrs + AL_NOTIFY_ARGV_MAX + 1, head.argv, head.argv_k,
	                keep_argv);
	if (r < 0) {
		exec_refuse(x, -r, "argv");
		r = 0;
	}
	x->argc = (size_t)r;
	al_json_key(&j, "argv");
	al_json_arr_begin(&j);
	if (x->refuse == 0) {
		size_t nptr = x->argc < AL_NOTIFY_ARGV_MAX ? x->argc : AL_NOTIFY_ARGV_MAX;
		if (nptr < x->argc)
			argv_trunc = true;
		read_argv_strings(n, x, nptr, &j, &argv_trunc);
	}
	al_json_arr_end(&j);
	if (argv_trunc)
		al_json_kv_bool(&j, "argv_truncated", true);
	al_json_kv_uint(&j, "argc", x->argc);

	/* the loader-affecting environment */
	al_json_key(&j, "ld_env");
	al_json_arr_begin(&j);
	if (x->refuse == 0) {
		r = walk_vector(x, envp_addr, n->ptrs + AL_NOTIFY_ARGV_MAX + 1, head.envp,
		                head.envp_k, scan_env);
		if (r < 0)
			exec_refuse(x, -r, "envp");
		else
			x->envc = (size_t)r;
	}
	al_json_arr_end(&j);
	if (x->ld_truncated)
		al_json_kv_bool(&j, "ld_env_truncated", true);
	if (x->refuse == 0)
		al_json_kv_uint(&j, "envc", x->envc);

	/* what the path names now, in the target's view */
	if (x->refuse == 0) {
		int e = al_exec_file_identify(&f, &n->root_fd, &x->target, path, dirfd, flags);
		if (e < 0) {
			al_json_kv_str(&j, "file", NULL);
			al_json_kv_int(&j, "file_error", -e);
			exec_refuse(x, kernel_like(-e) ? -e : EPERM, NULL);
		} else {
			file_fields(&j, &f);
			unreadable_refuses(x, &f);
			interpreter_fields(x, &j, &f);
		}
	}
	if (x->mem.used_mem)
		al_json_kv_bool(&j, "read_via_proc_mem", true);
done:
	if (x->read_error) {
		al_json_kv_int(&j, "read_error", x->read_error);
		if (x->read_what && strcmp(x->read_what, "path") != 0)
			al_json_kv_str(&j, "read_what", x->read_what);
	}
	if (x->refuse) {
		al_json_kv_bool(&j, "refused", true);
		al_json_kv_int(&j, "errno", x->refuse);
	}
	al_json_kv_str(&j, "source", "seccomp");
	al_json_obj_end(&j);
	x->j = NULL;
	return b->oom ? -ENOMEM : 0;
}

static int handle_exec(struct al_notify *n, const struct seccomp_notif *req, struct al_error *err)
{
	struct exec_read x = {.n = n, .id = req->id};
	bool root_was_open = n->root_fd >= 0;
	struct al_buf b;
	int r;

	al_buf_init(&b);
	al_tmem_init(&x.mem, (pid_t)req->pid);
	x.target =
	    (struct al_exec_target){.pid = (pid_t)req->pid, .alive = exec_target_alive, .ctx = &x};
	r = exec_record(n, req, &b, &x);
	al_tmem_close(&x.mem);
	/* Everything read above (memory, /proc/PID/...) is only trusted if the
	 * notification is still live: otherwise the pid may now name another
	 * process -- and a root directory opened from it must not be kept. */
	if (!notif_still_valid(n, req->id)) {
		if (!root_was_open && n->root_fd >= 0) {
			close(n->root_fd);
			n->root_fd = -1;
		}
		al_buf_free(&b);
		n->st.vanished++;
		return 0;
	}
	if (r < 0) {
		al_buf_free(&b);
		respond(n, req->id, -EPERM, 0, err);
		return al_error_set(err, -r, "notify", "building an exec record");
	}
	r = record(n, "exec", b.data, err);
	al_buf_free(&b);
	if (r < 0) {
		/* Not recorded, so not allowed: fail closed. */
		respond(n, req->id, -EPERM, 0, err);
		return al_error_wrap(err, "recording an exec");
	}
	if (x.refuse) {
		n->st.execs_refused++;
		return respond(n, req->id, -x.refuse, 0, err);
	}
	n->st.execs++;
	/* CONTINUE lets the kernel run the exec as asked. The record is what
	 * was asked when it was read, and the file the path named then: another
	 * thread of the target can rewrite the strings, or the workload swap
	 * the file, before the kernel reads them (docs/seccomp.md). */
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
		n->st.unrecorded_by_nr[req->data.nr < AL_NOTIFY_NR_SLOTS - 1
		                           ? req->data.nr
		                           : AL_NOTIFY_NR_SLOTS - 1]++;
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
	if (n->interposer) {
		int r = n->interposer(n->interposer_ctx, n, req, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (req->data.nr == __NR_execve || req->data.nr == __NR_execveat)
		return handle_exec(n, req, err);
	return handle_denied(n, req, err);
}

void al_notify_set_interposer(struct al_notify *n, al_notify_interposer fn, void *ctx)
{
	n->interposer = fn;
	n->interposer_ctx = ctx;
}

int al_notify_respond(struct al_notify *n, uint64_t id, int error, uint32_t flags,
                      struct al_error *err)
{
	return respond(n, id, error, flags, err);
}

int al_notify_respond_value(struct al_notify *n, uint64_t id, int64_t val, struct al_error *err)
{
	memset(n->resp, 0, n->sizes.seccomp_notif_resp);
	n->resp->id = id;
	n->resp->val = val;
	if (ioctl(n->fd, SECCOMP_IOCTL_NOTIF_SEND, n->resp) < 0) {
		if (errno == ENOENT) {
			n->st.vanished++;
			return 0;
		}
		return al_error_errno(err, "notify", "seccomp notification answer");
	}
	return 0;
}

int al_notify_record(struct al_notify *n, const char *type, const char *json,
                     struct al_error *err)
{
	return record(n, type, json, err);
}

void al_notify_pid_fields(struct al_notify *n, struct al_json *j, pid_t host_pid)
{
	pid_fields(n, j, host_pid);
}

bool al_notify_valid(struct al_notify *n, uint64_t id)
{
	return notif_still_valid(n, id);
}

void al_notify_free(struct al_notify *n)
{
	if (n == NULL)
		return;
	if (n->fd >= 0)
		close(n->fd);
	if (n->pidns_fd >= 0)
		close(n->pidns_fd);
	if (n->root_fd >= 0)
		close(n->root_fd);
	free(n->req);
	free(n->resp);
	free(n->strbuf);
	free(n->ptrs);
	free(n->prefetch);
	free(n->envbuf);
	free(n);
}
