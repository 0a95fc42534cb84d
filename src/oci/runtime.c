/* The runc-style container lifecycle over airlock's run lifecycle.
 *
 * `create` forks a detached supervisor that runs al_run_prepare and
 * al_run_spawn: the sandbox is built completely (namespaces, mounts,
 * identity, Landlock, seccomp) and its init waits for the last go before it
 * forks the workload -- runc's "created" state. The supervisor then waits on
 * a control socket in the container's state directory for `start` (or a
 * `kill`), releases the workload and supervises it like `airlock run`; its
 * exit status is the workload's (docs/exit-codes.md). The pid callers get
 * (pid-file, `state`) is the supervisor's: a subreaper (conmon, the
 * containerd shim) waits for it and gets the container's status.
 *
 * State: ROOT/ID/ (0700): state.json (written once by create), ctl.sock
 * (while created), started (once started). Event logs: ROOT/logs/. */
#define _GNU_SOURCE
#include "oci/oci.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evidence/evlog.h"
#include "evidence/jscan.h"
#include "session/proto.h"
#include "session/session.h"
#include "supervisor/supervisor.h"
#include "util/cleanup.h"
#include "util/timeutil.h"

#define STAGE "oci"
#define STATE_MAX 65536

bool al_oci_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 128 || !isalnum((unsigned char)id[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '+' && ch != '-')
			return false;
	}
	return true;
}

static const char *root_of(const struct al_oci_opts *o)
{
	return o->root && o->root[0] ? o->root : AL_OCI_ROOT_DEFAULT;
}

static int state_dir(const struct al_oci_opts *o, const char *id, char *out, size_t cap, struct al_error *err)
{
	if (!al_oci_id_ok(id))
		return al_error_set(err, EINVAL, STAGE,
				    "invalid container id (use letters, digits, '_', '.', '+', '-'; at most 128)");
	if (root_of(o)[0] != '/')
		return al_error_set(err, EINVAL, STAGE, "--root %s: not an absolute path", root_of(o));
	int n = snprintf(out, cap, "%s/%s", root_of(o), id);
	if (n < 0 || (size_t)n >= cap)
		return al_error_set(err, ENAMETOOLONG, STAGE, "--root: path too long");
	return 0;
}

/* mkdir -p of an absolute path, each new level 0700. */
static int mkdirs(const char *path, struct al_error *err)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return al_error_errno(err, STAGE, "mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/* Field 22 of /proc/PID/stat (start time in ticks) and the state letter;
 * -1 when the process does not exist. */
static int proc_start(pid_t pid, unsigned long long *start, char *state)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	/* fields 3..22: skip 19 spaces to reach field 22 */
	for (int i = 0; i < 19; i++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

static int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, struct al_error *err)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return al_error_set(err, ENAMETOOLONG, STAGE, "%s: path too long", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return al_error_errno(err, STAGE, "creating %s", tmp);
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			al_error_errno(err, STAGE, "writing %s", tmp);
			unlink(tmp);
			return -err->code;
		}
		data += w;
		len -= (size_t)w;
	}
	if (rename(tmp, path) < 0) {
		al_error_errno(err, STAGE, "renaming to %s", path);
		unlink(tmp);
		return -err->code;
	}
	return 0;
}

/* ---- the state file ---- */

struct cstate {
	char id[129];
	char bundle[PATH_MAX];
	char created[40];
	char log[PATH_MAX];
	pid_t pid;                 /* the supervisor */
	unsigned long long pid_start;
	pid_t init_pid;            /* the sandbox's init */
	unsigned long long init_start;
	char *annotations;         /* raw JSON object (malloc'd) */
	const char *status;
	long uid, gid;             /* the process's user (-1: not recorded) */
	char cwd[PATH_MAX];
};

static void cstate_free(struct cstate *cs)
{
	free(cs->annotations);
	cs->annotations = NULL;
}

static int read_state(const struct al_oci_opts *o, const char *id, struct cstate *cs, struct al_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], buf[STATE_MAX + 1];
	struct al_jval top, v;
	size_t len = 0;
	uint64_t x;
	int r;

	memset(cs, 0, sizeof *cs);
	r = state_dir(o, id, dir, sizeof dir, err);
	if (r < 0)
		return r;
	snprintf(path, sizeof path, "%s/state.json", dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return al_error_set(err, ENOENT, STAGE, "container %s does not exist", id);
		return al_error_errno(err, STAGE, "reading %s", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return al_error_errno(err, STAGE, "reading %s", path);
		if (n == 0 || (len += (size_t)n) >= sizeof buf - 1)
			break;
	}
	buf[len] = '\0';
	if (al_jscan_value(buf, len, false, &top) < 0 || top.type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, STAGE, "%s: corrupt", path);
	snprintf(cs->id, sizeof cs->id, "%s", id);
	if (al_jobj_get(&top, "bundle", &v))
		al_jstr_unescape(&v, cs->bundle, sizeof cs->bundle);
	if (al_jobj_get(&top, "created", &v))
		al_jstr_unescape(&v, cs->created, sizeof cs->created);
	if (al_jobj_get(&top, "log", &v))
		al_jstr_unescape(&v, cs->log, sizeof cs->log);
	if (!al_jobj_get(&top, "pid", &v) || al_jnum_u64(&v, &x) < 0 || x == 0 || x > INT32_MAX)
		return al_error_set(err, EINVAL, STAGE, "%s: corrupt (pid)", path);
	cs->pid = (pid_t)x;
	cs->uid = cs->gid = -1;
	if (al_jobj_get(&top, "uid", &v) && al_jnum_u64(&v, &x) == 0 && x < 65536)
		cs->uid = (long)x;
	if (al_jobj_get(&top, "gid", &v) && al_jnum_u64(&v, &x) == 0 && x < 65536)
		cs->gid = (long)x;
	if (al_jobj_get(&top, "cwd", &v))
		al_jstr_unescape(&v, cs->cwd, sizeof cs->cwd);
	if (al_jobj_get(&top, "pid_start", &v) && al_jnum_u64(&v, &x) == 0)
		cs->pid_start = x;
	if (al_jobj_get(&top, "init_pid", &v) && al_jnum_u64(&v, &x) == 0 && x <= INT32_MAX)
		cs->init_pid = (pid_t)x;
	if (al_jobj_get(&top, "init_start", &v) && al_jnum_u64(&v, &x) == 0)
		cs->init_start = x;
	if (al_jobj_get(&top, "annotations", &v) && v.type == AL_J_OBJECT) {
		cs->annotations = strndup(v.p, v.n);
		if (cs->annotations == NULL)
			return al_error_set(err, ENOMEM, STAGE, "out of memory");
	}
	/* status: the supervisor alive (same start time, not a zombie) */
	unsigned long long st;
	char pst;
	if (proc_start(cs->pid, &st, &pst) < 0 || st != cs->pid_start || pst == 'Z' || pst == 'X') {
		cs->status = "stopped";
	} else {
		char started[PATH_MAX + 32];
		snprintf(started, sizeof started, "%s/started", dir);
		cs->status = access(started, F_OK) == 0 ? "running" : "created";
	}
	return 0;
}

int al_oci_state(const struct al_oci_opts *o, const char *id, struct al_buf *out, struct al_error *err)
{
	struct cstate cs;
	struct al_json j;
	int r = read_state(o, id, &cs, err);
	if (r < 0) {
		cstate_free(&cs);
		return r;
	}
	al_json_init(&j, out);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "ociVersion", "1.0.2");
	al_json_kv_str(&j, "id", cs.id);
	al_json_kv_str(&j, "status", cs.status);
	al_json_kv_int(&j, "pid", strcmp(cs.status, "stopped") == 0 ? 0 : cs.pid);
	al_json_kv_str(&j, "bundle", cs.bundle);
	al_json_kv_str(&j, "rootfs", "");
	al_json_kv_str(&j, "created", cs.created);
	al_json_key(&j, "annotations");
	al_json_raw(&j, cs.annotations ? cs.annotations : "{}");
	al_json_kv_str(&j, "dev.airlock.log", cs.log);
	al_json_obj_end(&j);
	cstate_free(&cs);
	return out->oom ? -ENOMEM : 0;
}

/* ---- the control socket (created state only) ---- */

/* Clients' state paths are long (docker: exec-root, runtime, namespace,
 * 64-hex id) and sun_path holds 108 bytes: the socket is named through an
 * O_PATH handle on the state directory, /proc/self/fd/N/ctl.sock. The
 * caller keeps *dfd open while it uses the address. */
static int ctl_path(const char *dir, int *dfd, struct sockaddr_un *sa, socklen_t *len, struct al_error *err)
{
	*dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return al_error_errno(err, STAGE, "%s", dir);
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/ctl.sock", *dfd);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

/* Send one request line, read the reply line ("OK" or "ERR msg"). */
static int ctl_request(const char *dir, const char *req, struct al_error *err)
{
	struct sockaddr_un sa;
	socklen_t sl;
	char rep[256];
	size_t len = 0;
	_cleanup_close_ int dfd = -1;
	int r = ctl_path(dir, &dfd, &sa, &sl, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return al_error_errno(err, STAGE, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0)
		return al_error_errno(err, STAGE, "connecting to the container's supervisor");
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		return al_error_errno(err, STAGE, "sending to the container's supervisor");
	for (;;) {
		ssize_t n = read(fd, rep + len, sizeof rep - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(rep, '\n', len) || len == sizeof rep - 1)
			break;
	}
	rep[len] = '\0';
	rep[strcspn(rep, "\n")] = '\0';
	if (strcmp(rep, "OK") == 0)
		return 0;
	if (strncmp(rep, "ERR ", 4) == 0)
		return al_error_set(err, EINVAL, STAGE, "%s", rep + 4);
	return al_error_set(err, EIO, STAGE, "the container's supervisor ended without an answer");
}

/* ---- the root, staged ---- */

/* Rootful clients keep the container's root under 0700 directories
 * (/var/lib/containers/storage, /run/containerd) that the sandbox's init --
 * root of its user namespace, never host root -- cannot traverse. Before
 * the clone, host root binds the root read-only, nosuid, nodev at
 * ROOT/mnt/RANDOM (ROOT and ROOT/mnt are 0711: not listable, so the name is
 * the only way in; ROOT is always the default one, as a client's --root
 * may be under a 0700 directory too), and the sandbox is built from there; the bind is
 * detached as soon as the sandbox holds its own mounts. */
static int stage_root(const char *root, const char *src, char *out, size_t cap, struct al_error *err)
{
	unsigned char rnd[16];
	char mnt[PATH_MAX];
	int r;

	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return al_error_errno(err, STAGE, "getrandom");
	snprintf(mnt, sizeof mnt, "%s/mnt", root);
	if (mkdir(mnt, 0711) < 0 && errno != EEXIST)
		return al_error_errno(err, STAGE, "mkdir %s", mnt);
	if (chmod(root, 0711) < 0 || chmod(mnt, 0711) < 0)
		return al_error_errno(err, STAGE, "chmod %s", mnt);
	r = snprintf(out, cap, "%s/", mnt);
	for (size_t i = 0; i < sizeof rnd && (size_t)r + 2 < cap; i++)
		r += snprintf(out + r, cap - (size_t)r, "%02x", rnd[i]);
	if (mkdir(out, 0700) < 0)
		return al_error_errno(err, STAGE, "mkdir %s", out);
	if (mount(src, out, NULL, MS_BIND | MS_REC, NULL) < 0) {
		r = al_error_errno(err, STAGE, "binding the container's root %s", src);
		rmdir(out);
		return r;
	}
	if (mount(NULL, out, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
		r = al_error_errno(err, STAGE, "making the container's root read-only");
		umount2(out, MNT_DETACH);
		rmdir(out);
		return r;
	}
	return 0;
}

static void unstage_root(const char *staged)
{
	if (staged == NULL || staged[0] == '\0')
		return;
	umount2(staged, MNT_DETACH);
	rmdir(staged);
}

/* ---- create: the supervisor ---- */

struct oci_sv {
	const char *dir;
	const char *staged;  /* the staged root (rootful), unmounted once the sandbox holds it */
	const char *id, *bundle;
	struct al_oci_config *cfg;
	const char *console;  /* --console-socket, with process.terminal */
	int ready_fd;
};

static int send_console(const char *path, int master, struct al_error *err);

static void ready_write(int *fd, const char *line)
{
	if (*fd < 0)
		return;
	if (write(*fd, line, strlen(line)) < 0) {
		/* the caller has gone: nothing to tell */
	}
	close(*fd);
	*fd = -1;
}

/* The init ended while it should be waiting for the last go: its setup
 * failed after all (or it was killed). Its report, if it sent one, is in
 * the setup socket: the run fails with that reason. */
static int init_gone(struct al_supervisor *s, struct al_error *err)
{
	for (;;) {
		struct al_msg m;
		ssize_t n = recv(s->sync_fd, &m, sizeof m, MSG_DONTWAIT);
		if (n <= 0)
			break;
		if ((size_t)n >= offsetof(struct al_msg, text) && m.type == AL_MSG_ERROR) {
			m.text[sizeof m.text - 1] = '\0';
			errno = m.err;
			return al_error_set(err, m.err, STAGE, "setting up the sandbox: %s: %s: %s",
					    al_stage_name(m.stage), m.text, strerror(m.err));
		}
	}
	return al_error_set(err, ECHILD, STAGE, "the sandbox's init ended before start");
}

/* The init builds the sandbox while the supervisor goes on; `create` must
 * return only once it is built, so that a failure is create's (as with
 * runc) and "created" means confined. The seccomp filter is the init's
 * last setup step (only the hand-over of its descriptors follows before
 * it waits for the last go), and /proc/PID/status shows it to anyone --
 * also for the non-dumpable init of a rootless run. Bounded: 60 s. */
static int wait_confined(struct al_supervisor *s, struct al_error *err)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
	for (int i = 0; i < 60000; i++) {
		struct pollfd p = {.fd = s->pidfd, .events = POLLIN};
		if (s->pidfd >= 0 && poll(&p, 1, 0) == 1)
			return init_gone(s, err);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return init_gone(s, err);
		ssize_t n = read(fd, buf, sizeof buf - 1);
		if (n > 0) {
			buf[n] = '\0';
			char *q = strstr(buf, "\nSeccomp:");
			if (q && strtol(q + 9, NULL, 10) == 2)
				return 0;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return al_error_set(err, ETIMEDOUT, STAGE, "the sandbox was not built within 60 s");
}

/* process.terminal: the init sent the master of the workload's terminal
 * before its seccomp step (after the egress proxy's sockets, which
 * al_egress_begin took): the next message. It goes to the caller's console
 * socket; the supervisor keeps no copy. */
static int take_terminal(struct al_supervisor *s, const char *console, struct al_error *err)
{
	struct al_msg m;
	int fd = -1;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct pollfd p = {.fd = s->sync_fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 10000) != 1)
		return al_error_set(err, ETIMEDOUT, STAGE, "the sandbox's init sent no terminal");
	n = recvmsg(s->sync_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	if (n != (ssize_t)sizeof m || m.type != AL_MSG_TERMINAL || fd < 0) {
		if (fd >= 0)
			close(fd);
		if (n == (ssize_t)sizeof m && m.type == AL_MSG_ERROR) {
			m.text[sizeof m.text - 1] = '\0';
			return al_error_set(err, m.err, STAGE, "setting up the sandbox: %s: %s", m.text, strerror(m.err));
		}
		return al_error_set(err, EPROTO, STAGE, "the sandbox's init sent no terminal");
	}
	int r = send_console(console, fd, err);
	close(fd);
	return r;
}

/* The sandbox is built; its init waits for the last go. Record what
 * config.json asked that airlock narrowed, tell `create` we exist, and wait
 * for `start` (or a `kill`, or the init's death). */
static int wait_for_start(struct al_run *run, void *arg, struct al_error *err)
{
	struct oci_sv *sv = arg;
	struct al_supervisor *s = &run->s;
	struct sockaddr_un sa;
	socklen_t sl;
	struct al_buf b;
	struct al_json j;
	char line[96];
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "action", "create");
	al_json_kv_str(&j, "id", sv->id);
	al_json_kv_str(&j, "bundle", sv->bundle);
	al_json_kv_str(&j, "root", sv->cfg->root_path);
	al_json_key(&j, "narrowed");
	al_json_raw(&j, sv->cfg->narrowed.len ? sv->cfg->narrowed.data : "[]");
	al_json_key(&j, "annotations");
	al_json_obj_begin(&j);
	for (size_t i = 0; i < sv->cfg->n_annotations; i++)
		if (strncmp(sv->cfg->annotations[i].key, "dev.airlock.", 12) == 0)
			al_json_kv_str(&j, sv->cfg->annotations[i].key, sv->cfg->annotations[i].value);
	al_json_obj_end(&j);
	al_json_obj_end(&j);
	r = b.oom ? al_error_set(err, ENOMEM, STAGE, "out of memory") : al_evlog_append(s->log, "oci", b.data, err);
	al_buf_free(&b);
	if (r < 0)
		return r;

	_cleanup_close_ int dfd = -1;
	r = ctl_path(sv->dir, &dfd, &sa, &sl, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return al_error_errno(err, STAGE, "socket");
	unlink(sa.sun_path);
	if (bind(lfd, (struct sockaddr *)&sa, sl) < 0 || listen(lfd, 8) < 0)
		return al_error_errno(err, STAGE, "listening on %s", sa.sun_path);

	r = wait_confined(s, err);
	if (r < 0)
		return r;
	if (sv->cfg->terminal) {
		r = take_terminal(s, sv->console, err);
		if (r < 0)
			return r;
	}
	unstage_root(sv->staged);
	sv->staged = NULL;
	snprintf(line, sizeof line, "OK %d %s\n", (int)s->pid, s->run_id);
	ready_write(&sv->ready_fd, line);

	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = s->pidfd, .events = POLLIN}};
		int n = poll(p, s->pidfd >= 0 ? 2 : 1, s->pidfd >= 0 ? -1 : 200);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return al_error_errno(err, STAGE, "poll");
		if (p[1].revents || (s->pidfd < 0 && kill(s->pid, 0) < 0)) {
			unlink(sa.sun_path);
			return init_gone(s, err);
		}
		if (!(p[0].revents & POLLIN))
			continue;
		_cleanup_close_ int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		struct ucred cr;
		socklen_t crl = sizeof cr;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || (cr.uid != geteuid() && cr.uid != 0))
			continue;
		/* a request is one short line; a silent client does not hold us */
		struct pollfd cp = {.fd = cfd, .events = POLLIN};
		char req[64];
		ssize_t rn = 0;
		if (poll(&cp, 1, 2000) == 1)
			rn = read(cfd, req, sizeof req - 1);
		if (rn <= 0)
			continue;
		req[rn] = '\0';
		req[strcspn(req, "\n")] = '\0';
		if (strcmp(req, "start") == 0) {
			char started[PATH_MAX];
			snprintf(started, sizeof started, "%s/started", sv->dir);
			_cleanup_close_ int sfd = open(started, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (sfd < 0) {
				r = al_error_errno(err, STAGE, "creating %s", started);
				send(cfd, "ERR cannot record the start\n", 28, MSG_NOSIGNAL);
				return r;
			}
			unlink(sa.sun_path);
			send(cfd, "OK\n", 3, MSG_NOSIGNAL);
			return 0;
		}
		if (strncmp(req, "kill ", 5) == 0) {
			int sig = atoi(req + 5);
			unlink(sa.sun_path);
			send(cfd, "OK\n", 3, MSG_NOSIGNAL);
			return al_error_set(err, EINTR, STAGE, "killed before start (signal %d)", sig);
		}
		send(cfd, "ERR unknown request\n", 20, MSG_NOSIGNAL);
	}
}

/* The exec socket, ROOT/ID/exec.sock (0600, bound through the state
 * directory's handle: clients' paths are long), served by the session
 * engine from the event loop once the container runs. */
static int exec_listen(struct al_run *run, struct oci_sv *sv, struct al_error *err)
{
	struct sockaddr_un sa;
	socklen_t sl;
	char path[PATH_MAX + 16];
	_cleanup_close_ int dfd = -1;
	int r = ctl_path(sv->dir, &dfd, &sa, &sl, err);
	if (r < 0)
		return r;
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/exec.sock", dfd);
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return al_error_errno(err, STAGE, "socket");
	unlink(sa.sun_path);
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sl);
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		r = al_error_errno(err, STAGE, "listening on %s/exec.sock", sv->dir);
		close(fd);
		return r;
	}
	snprintf(path, sizeof path, "%s/exec.sock", sv->dir);
	r = al_session_attach_exec(&run->s, fd, path, err);
	if (r < 0)
		close(fd);
	return r;
}

__attribute__((noreturn)) static void oci_supervisor(const struct al_spec *spec, struct oci_sv *sv)
{
	struct al_run *run = calloc(1, sizeof *run);
	struct al_error err = {0};
	int r;

	if (run == NULL)
		_exit(AL_EXIT_SETUP);
	al_run_init(run, spec);
	run->before_workload = wait_for_start;
	run->before_workload_arg = sv;
	/* `exec`: the init serves exec requests beside the workload (the
	 * session engine), on ROOT/ID/exec.sock */
	run->plan.exec_server = true;
	run->plan.terminal = sv->cfg->terminal;
	r = al_run_prepare(run, &err);
	if (r == 0)
		r = exec_listen(run, sv, &err);
	if (r == 0)
		r = al_run_spawn(run, &err);
	if (r == 0) {
		if (run->release_failed && sv->ready_fd >= 0) {
			char line[600];
			snprintf(line, sizeof line, "ERR %s\n", run->release_err.msg);
			ready_write(&sv->ready_fd, line);
		}
		al_run_supervise(run, &err);
		al_session_detach(&run->s, err.msg[0] ? err.msg : run->verdict);
		al_run_teardown(run);
	} else {
		char line[600];
		snprintf(line, sizeof line, "ERR %s\n", err.msg);
		al_session_detach(&run->s, err.msg);
		ready_write(&sv->ready_fd, line);
	}
	al_run_finish(run, r, NULL, &err);
	_exit(run->status);
}

static void remove_state(const char *dir)
{
	static const char *const files[] = {"ctl.sock", "exec.sock", "started", "state.json"};
	char path[PATH_MAX + 32];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void iso_now(char out[40])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%09ldZ", base, ts.tv_nsec);
}

int al_oci_create(const struct al_oci_opts *o, const char *id, const char *bundle_arg, const char *pid_file,
		  const char *console_socket, struct al_error *err)
{
	char dir[PATH_MAX], bundle[PATH_MAX], logdir[PATH_MAX], log[PATH_MAX + 200], line[640];
	char staged[PATH_MAX] = "";
	struct al_oci_config cfg;
	struct al_spec spec;
	struct oci_sv sv = {0};
	int p[2], r, st;
	size_t len = 0;
	pid_t pid;

	r = state_dir(o, id, dir, sizeof dir, err);
	if (r < 0)
		return r;
	if (realpath(bundle_arg ? bundle_arg : ".", bundle) == NULL)
		return al_error_errno(err, STAGE, "bundle %s", bundle_arg ? bundle_arg : ".");
	snprintf(logdir, sizeof logdir, "%s/logs", root_of(o));
	r = mkdirs(logdir, err);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return al_error_set(err, EEXIST, STAGE, "container %s already exists", id);
		return al_error_errno(err, STAGE, "mkdir %s", dir);
	}
	al_oci_config_init(&cfg);
	al_spec_init(&spec);
	snprintf(log, sizeof log, "%s/%s-{run}.jsonl", logdir, id);
	r = al_oci_config_load(&cfg, bundle, err);
	cfg.console_socket = console_socket != NULL;
	if (r == 0)
		r = al_oci_config_to_spec(&cfg, bundle, log, &spec, err);
	if (r == 0 && geteuid() == 0) {
		r = mkdirs(AL_OCI_ROOT_DEFAULT, err);
		if (r == 0)
			r = stage_root(AL_OCI_ROOT_DEFAULT, spec.image, staged, sizeof staged, err);
		if (r == 0 && al_spec_set_str(&spec, &spec.image, staged) < 0)
			r = al_error_set(err, ENOMEM, STAGE, "out of memory");
	}
	if (r == 0 && pipe2(p, O_CLOEXEC) < 0)
		r = al_error_errno(err, STAGE, "pipe");
	if (r < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		r = al_error_errno(err, STAGE, "fork");
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		/* The supervisor keeps the caller's stdio (the container's) and
		 * the ready pipe, nothing else the caller may have leaked. */
		if (setsid() < 0)
			_exit(AL_EXIT_SETUP);
		if (p[1] > 3)
			syscall(SYS_close_range, 3, (unsigned)p[1] - 1, 0);
		if (syscall(SYS_close_range, (unsigned)p[1] + 1, ~0U, 0) < 0)
			_exit(AL_EXIT_SETUP);
		sv.dir = dir;
		sv.staged = staged;
		sv.id = id;
		sv.bundle = bundle;
		sv.cfg = &cfg;
		sv.console = console_socket;
		sv.ready_fd = p[1];
		oci_supervisor(&spec, &sv);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], line + len, sizeof line - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof line - 1 || memchr(line, '\n', len))
			break;
	}
	close(p[0]);
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "OK ", 3) != 0) {
		if (strncmp(line, "ERR ", 4) == 0)
			r = al_error_set(err, EINVAL, STAGE, "%s", line + 4);
		else
			r = al_error_set(err, EIO, STAGE, "the container's supervisor ended before the sandbox was ready");
		/* it records the failure and removes what it made (cgroup, log's
		 * run_end) before it exits: wait, never cut that short */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	{
		pid_t init_pid = (pid_t)atoi(line + 3);
		unsigned long long sv_start = 0, init_start = 0;
		char ps, created[40], path[PATH_MAX + 32], logpath[PATH_MAX + 64];
		const char *run_id = strchr(line + 3, ' ');
		const char *brace = strstr(spec.log.path, "{run}");

		run_id = run_id ? run_id + 1 : "";
		if (brace)
			snprintf(logpath, sizeof logpath, "%.*s%s%s", (int)(brace - spec.log.path), spec.log.path,
				 run_id, brace + 5);
		else
			snprintf(logpath, sizeof logpath, "%s", spec.log.path);
		struct al_buf b;
		struct al_json j;

		proc_start(pid, &sv_start, &ps);
		proc_start(init_pid, &init_start, &ps);
		iso_now(created);
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "id", id);
		al_json_kv_int(&j, "pid", pid);
		al_json_kv_uint(&j, "pid_start", sv_start);
		al_json_kv_int(&j, "init_pid", init_pid);
		al_json_kv_uint(&j, "init_start", init_start);
		al_json_kv_str(&j, "bundle", bundle);
		al_json_kv_str(&j, "created", created);
		al_json_kv_str(&j, "log", logpath);
		al_json_kv_str(&j, "run", run_id);
		al_json_kv_uint(&j, "uid", cfg.uid);
		al_json_kv_uint(&j, "gid", cfg.gid);
		al_json_kv_str(&j, "cwd", spec.workdir ? spec.workdir : "/");
		al_json_key(&j, "annotations");
		al_json_obj_begin(&j);
		for (size_t i = 0; i < cfg.n_annotations; i++)
			al_json_kv_str(&j, cfg.annotations[i].key, cfg.annotations[i].value);
		al_json_obj_end(&j);
		al_json_obj_end(&j);
		snprintf(path, sizeof path, "%s/state.json", dir);
		r = b.oom ? al_error_set(err, ENOMEM, STAGE, "out of memory")
			  : write_file_atomic(path, b.data, b.len, 0600, err);
		al_buf_free(&b);
		if (r == 0 && pid_file) {
			char pidtxt[32];
			int n = snprintf(pidtxt, sizeof pidtxt, "%d", (int)pid);
			r = write_file_atomic(pid_file, pidtxt, (size_t)n, 0644, err);
		}
		if (r < 0) {
			/* the supervisor waits for start: tell it to end the run (its
			 * teardown and run_end), then wait for it */
			struct al_error kerr = {0};
			ctl_request(dir, "kill 9\n", &kerr);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			goto fail;
		}
	}
	al_oci_config_free(&cfg);
	al_spec_free(&spec);
	return 0;
fail:
	unstage_root(staged);
	al_oci_config_free(&cfg);
	al_spec_free(&spec);
	remove_state(dir);
	return r;
}

/* ---- start, kill, delete, ps ---- */

/* Why a run ended, from the run_end record at the end of its log (the
 * last 64 KiB are enough: run_end is followed by one checkpoint). */
static void run_end_reason(const char *log, char *out, size_t cap)
{
	char buf[65537];
	ssize_t n;
	off_t size;

	out[0] = '\0';
	_cleanup_close_ int fd = open(log, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || (size = lseek(fd, 0, SEEK_END)) < 0)
		return;
	n = pread(fd, buf, sizeof buf - 1, size > (off_t)sizeof buf - 1 ? size - (off_t)(sizeof buf - 1) : 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		struct al_jval top, v;
		nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (al_jscan_value(line, len, false, &top) < 0 || top.type != AL_J_OBJECT)
			continue;
		if (!al_jobj_get(&top, "type", &v) || !al_jstr_eq(&v, "run_end"))
			continue;
		if (al_jobj_get(&top, "reason", &v) || al_jobj_get(&top, "error", &v))
			al_jstr_unescape(&v, out, cap);
	}
}

int al_oci_start(const struct al_oci_opts *o, const char *id, struct al_error *err)
{
	char dir[PATH_MAX], why[400];
	struct cstate cs;
	int r = read_state(o, id, &cs, err);
	if (r < 0) {
		cstate_free(&cs);
		return r;
	}
	if (strcmp(cs.status, "stopped") == 0) {
		run_end_reason(cs.log, why, sizeof why);
		cstate_free(&cs);
		if (why[0])
			return al_error_set(err, EINVAL, STAGE, "cannot start a container that is stopped: %s", why);
	}
	cstate_free(&cs);
	if (strcmp(cs.status, "created") != 0)
		return al_error_set(err, EINVAL, STAGE, "cannot start a container that is %s", cs.status);
	r = state_dir(o, id, dir, sizeof dir, err);
	if (r < 0)
		return r;
	return ctl_request(dir, "start\n", err);
}

int al_oci_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
		{"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"ALRM", SIGALRM},
		{"PIPE", SIGPIPE}, {"WINCH", SIGWINCH},
	};
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end || v <= 0 || v >= NSIG)
			return -EINVAL;
		return (int)v;
	}
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].sig;
	return -EINVAL;
}

/* Signal the sandbox's init (it forwards every signal to the workload;
 * SIGKILL ends the init and with it every process of the sandbox). The
 * pidfd is taken and the start time checked, so a reused pid is never hit. */
static int signal_init(const struct cstate *cs, int sig, struct al_error *err)
{
	unsigned long long st;
	char ps;
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, cs->init_pid, 0);
	if (pfd < 0)
		return al_error_set(err, ESRCH, STAGE, "container %s is not running", cs->id);
	if (proc_start(cs->init_pid, &st, &ps) < 0 || st != cs->init_start)
		return al_error_set(err, ESRCH, STAGE, "container %s is not running", cs->id);
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0) {
		if (errno == ESRCH)
			return al_error_set(err, ESRCH, STAGE, "container %s is not running", cs->id);
		return al_error_errno(err, STAGE, "signalling container %s", cs->id);
	}
	return 0;
}

/* SIGKILL for a running container: runc's KILL ends the container's
 * process. Here that process is the workload, the init's first child (the
 * init itself cannot pass SIGKILL on, and killed it would end the run as
 * airlock's own failure, 125, instead of the workload's 128+9). The child
 * is taken by pidfd and checked to be the init's child after it is held;
 * with no child to take, the init is signalled as before. */
static int kill_workload(const struct cstate *cs, struct al_error *err)
{
	char path[64], buf[256];
	unsigned long long st;
	char ps;
	long child = 0;
	int fd, r;
	ssize_t n;

	if (proc_start(cs->init_pid, &st, &ps) < 0 || st != cs->init_start)
		return signal_init(cs, SIGKILL, err);
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)cs->init_pid, (int)cs->init_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return signal_init(cs, SIGKILL, err);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		child = strtol(buf, NULL, 10);
	}
	if (child <= 0)
		return signal_init(cs, SIGKILL, err);
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, (pid_t)child, 0);
	if (pfd < 0)
		return signal_init(cs, SIGKILL, err);
	/* held: is it still the init's child (not a reused pid)? */
	snprintf(path, sizeof path, "/proc/%ld/status", child);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return signal_init(cs, SIGKILL, err);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	const char *pp = strstr(buf, "\nPPid:");
	if (pp == NULL || strtol(pp + 7, NULL, 10) != (long)cs->init_pid)
		return signal_init(cs, SIGKILL, err);
	r = (int)syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
	if (r < 0)
		return signal_init(cs, SIGKILL, err);
	return 0;
}

int al_oci_kill(const struct al_oci_opts *o, const char *id, int sig, struct al_error *err)
{
	char dir[PATH_MAX], req[32];
	struct cstate cs;
	int r = read_state(o, id, &cs, err);
	cstate_free(&cs);
	if (r < 0)
		return r;
	if (strcmp(cs.status, "stopped") == 0)
		return al_error_set(err, ESRCH, STAGE, "container %s is not running", id);
	if (strcmp(cs.status, "created") == 0) {
		r = state_dir(o, id, dir, sizeof dir, err);
		if (r < 0)
			return r;
		snprintf(req, sizeof req, "kill %d\n", sig);
		r = ctl_request(dir, req, err);
		if (r < 0 && sig == SIGKILL)
			return signal_init(&cs, sig, err);
		return r;
	}
	if (sig == SIGKILL)
		return kill_workload(&cs, err);
	return signal_init(&cs, sig, err);
}

/* Wait (bounded) until the supervisor has ended: it records the run's end
 * and removes its cgroup before it exits. */
static void wait_supervisor(const struct cstate *cs, int timeout_ms)
{
	unsigned long long st;
	char ps;
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, cs->pid, 0);
	if (pfd < 0 || proc_start(cs->pid, &st, &ps) < 0 || st != cs->pid_start)
		return;
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
		;
}

int al_oci_delete(const struct al_oci_opts *o, const char *id, bool force, struct al_error *err)
{
	char dir[PATH_MAX];
	struct cstate cs;
	int r = read_state(o, id, &cs, err);
	cstate_free(&cs);
	if (r < 0)
		return r;
	r = state_dir(o, id, dir, sizeof dir, err);
	if (r < 0)
		return r;
	if (strcmp(cs.status, "stopped") != 0) {
		struct al_error kerr = {0};
		if (!force)
			return al_error_set(err, EBUSY, STAGE, "cannot delete container %s that is %s (use --force)",
					    id, cs.status);
		al_oci_kill(o, id, SIGKILL, &kerr);
		wait_supervisor(&cs, 15000);
		r = read_state(o, id, &cs, err);
		cstate_free(&cs);
		if (r < 0)
			return r;
		if (strcmp(cs.status, "stopped") != 0)
			return al_error_set(err, EBUSY, STAGE, "container %s did not stop", id);
	}
	remove_state(dir);
	return 0;
}

/* The sandbox's processes: its init and every descendant (in a pid
 * namespace, orphans are adopted by the init, so nothing escapes the
 * tree). From /proc/PID/stat, which is readable for non-dumpable
 * processes too (rootless, the init's namespace links are not). */
#define PS_MAX 65536
struct proc_pp {
	pid_t pid, ppid;
	bool in;
};

static int proc_pp_cmp(const void *a, const void *b)
{
	const struct proc_pp *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

int al_oci_ps(const struct al_oci_opts *o, const char *id, struct al_buf *out, struct al_error *err)
{
	struct cstate cs;
	struct al_json j;
	unsigned long long st;
	char ps;
	int r = read_state(o, id, &cs, err);
	cstate_free(&cs);
	if (r < 0)
		return r;
	al_json_init(&j, out);
	al_json_arr_begin(&j);
	if (strcmp(cs.status, "stopped") != 0 && proc_start(cs.init_pid, &st, &ps) == 0 && st == cs.init_start) {
		struct proc_pp *pp = malloc(PS_MAX * sizeof *pp);
		size_t n = 0;
		DIR *d = opendir("/proc");
		struct dirent *e;
		if (pp == NULL || d == NULL) {
			free(pp);
			if (d)
				closedir(d);
			return al_error_set(err, ENOMEM, STAGE, "listing processes");
		}
		while ((e = readdir(d)) != NULL && n < PS_MAX) {
			char path[64], buf[512];
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t k = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (k <= 0)
				continue;
			buf[k] = '\0';
			char *q = strrchr(buf, ')');
			if (q == NULL || q[1] != ' ' || q[2] == '\0' || q[3] != ' ')
				continue;
			pp[n].pid = atoi(e->d_name);
			pp[n].ppid = atoi(q + 4);
			pp[n].in = pp[n].pid == cs.init_pid;
			n++;
		}
		closedir(d);
		qsort(pp, n, sizeof *pp, proc_pp_cmp);
		/* grow the tree until nothing changes: passes = its depth */
		for (bool changed = true; changed;) {
			changed = false;
			for (size_t a = 0; a < n; a++) {
				struct proc_pp key = {.pid = pp[a].ppid}, *parent;
				if (pp[a].in)
					continue;
				parent = bsearch(&key, pp, n, sizeof *pp, proc_pp_cmp);
				if (parent && parent->in)
					pp[a].in = changed = true;
			}
		}
		for (size_t a = 0; a < n; a++)
			if (pp[a].in)
				al_json_int(&j, pp[a].pid);
		free(pp);
	}
	al_json_arr_end(&j);
	return out->oom ? -ENOMEM : 0;
}

/* ---- exec ---- */

static void write_all_fd(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the reader is gone: the command's output goes nowhere */
		p += w;
		n -= (size_t)w;
	}
}

/* runc's --console-socket: connect, send the terminal's master with
 * SCM_RIGHTS (the message text is the terminal's name, as runc sends it);
 * the caller owns the terminal from then on. */
static int send_console(const char *path, int master, struct al_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[] = "/dev/ptmx";
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof name - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm;

	if (strlen(path) >= sizeof sa.sun_path)
		return al_error_set(err, ENAMETOOLONG, STAGE, "--console-socket %s: path too long", path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return al_error_errno(err, STAGE, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return al_error_errno(err, STAGE, "--console-socket %s", path);
	memset(cbuf, 0, sizeof cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof master);
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return al_error_errno(err, STAGE, "sending the terminal to --console-socket %s", path);
	return 0;
}

/* Relay one exec over its connection: stdin in (unless the terminal went
 * to a console socket), stdout/stderr out, the master to the console
 * socket, "OK" on ready_fd once the command was exec'd. 0 with *status
 * the command's exit status, or an error (refused, not started). */
static int exec_relay(int fd, bool send_stdin, const char *console, int *ready_fd, int *status,
		      struct al_error *err)
{
	struct al_frame_reader rd = {0};
	struct al_exit_info x;
	bool in = send_stdin;
	int r = 1;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		uint8_t type;
		const uint8_t *pl;
		size_t n;
		int got_fd = -1;

		while ((r = al_frame_reader_next(&rd, &type, &pl, &n)) > 0) {
			if (type == AL_FR_STDOUT) {
				write_all_fd(1, pl, n);
			} else if (type == AL_FR_STDERR) {
				write_all_fd(2, pl, n);
			} else if (type == AL_FR_STARTED) {
				if (*ready_fd >= 0) {
					ready_write(ready_fd, "OK\n");
					/* detached: stdin stays the caller's to give */
				}
			} else if (type == AL_FR_EXIT && n == sizeof x) {
				memcpy(&x, pl, sizeof x);
				x.what[sizeof x.what - 1] = '\0';
				al_frame_reader_free(&rd);
				if (x.flags & AL_EXIT_F_NOT_STARTED) {
					/* ENOENT / EACCES only for the exec itself: the CLI
					 * exits 127 / 126 for them, as runc's callers expect */
					bool ex = strncmp(x.what, "exec", 4) == 0;
					if (x.err == ENOENT && ex)
						return al_error_set(err, ENOENT, STAGE,
								    "exec failed: executable file not found in $PATH (%s)",
								    x.what);
					if ((x.err == EACCES || x.err == ENOEXEC || x.err == EPERM) && ex)
						return al_error_set(err, EACCES, STAGE, "exec failed: permission denied (%s)",
								    x.what);
					return al_error_set(err, EINVAL, STAGE, "exec failed: %s", x.what);
				}
				*status = x.exit_status;
				return 0;
			} else if (type == AL_FR_ERROR) {
				al_error_set(err, EINVAL, STAGE, "exec refused: %.*s", (int)(n > 300 ? 300 : n),
					     (const char *)pl);
				al_frame_reader_free(&rd);
				return -EINVAL;
			} else if (type == AL_FR_TTY_MASTER) {
				/* handled below with the descriptor */
			}
		}
		if (r < 0)
			break;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = in ? 0 : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			uint8_t buf[65536];
			ssize_t got = read(0, buf, sizeof buf);
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) {
				if (al_frame_write(fd, AL_FR_STDIN, buf, (size_t)got) < 0)
					in = false;
			} else {
				al_frame_write(fd, AL_FR_STDIN_EOF, NULL, 0);
				in = false;
			}
		}
		if (p[0].revents) {
			uint8_t buf[65536];
			char cbuf[CMSG_SPACE(4 * sizeof(int))];
			struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					    .msg_controllen = sizeof cbuf};
			ssize_t got = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
			if (got < 0 && errno == EINTR)
				continue;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
				if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
					continue;
				size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < k; i++) {
					int f;
					memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
					if (got_fd < 0 && console)
						got_fd = f;
					else
						close(f);
				}
			}
			if (got_fd >= 0) {
				/* the terminal: to the caller, never kept here */
				int e = send_console(console, got_fd, err);
				close(got_fd);
				console = NULL;
				if (e < 0) {
					al_frame_reader_free(&rd);
					return e;
				}
			}
			if (got <= 0 || al_frame_reader_feed(&rd, buf, (size_t)got) < 0)
				break;
		}
	}
	al_frame_reader_free(&rd);
	return al_error_set(err, EPIPE, STAGE, "the container ended before the command did");
}

/* "UID" or "UID:GID" */
static int parse_user(const char *u, long *uid, long *gid)
{
	char *end;
	long a = strtol(u, &end, 10), b;
	if (end == u || a < 0 || a >= 65536)
		return -EINVAL;
	if (*end == '\0') {
		*uid = a;
		*gid = -1;
		return 0;
	}
	if (*end != ':')
		return -EINVAL;
	const char *g = end + 1;
	b = strtol(g, &end, 10);
	if (end == g || *end || b < 0 || b >= 65536)
		return -EINVAL;
	*uid = a;
	*gid = b;
	return 0;
}

int al_oci_exec(const struct al_oci_opts *o, const char *id, const struct al_oci_exec_opts *x, int *status,
		struct al_error *err)
{
	struct al_exec_request *rq = NULL;
	struct al_oci_config pc;
	struct cstate cs;
	char dir[PATH_MAX];
	uint8_t *enc = NULL;
	size_t enclen;
	bool tty = x->tty;
	long uid, gid;
	int r, p[2] = {-1, -1}, ready = -1;
	pid_t relay = -1;

	al_oci_config_init(&pc);
	r = read_state(o, id, &cs, err);
	cstate_free(&cs);
	if (r < 0)
		goto out;
	if (strcmp(cs.status, "running") != 0) {
		r = al_error_set(err, EINVAL, STAGE, "cannot exec in a container that is %s", cs.status);
		goto out;
	}
	r = state_dir(o, id, dir, sizeof dir, err);
	if (r < 0)
		goto out;
	rq = calloc(1, sizeof *rq);
	if (rq == NULL) {
		r = al_error_set(err, ENOMEM, STAGE, "out of memory");
		goto out;
	}
	uid = cs.uid;
	gid = cs.gid;
	rq->cwd = cs.cwd[0] ? cs.cwd : "";
	rq->user = "";
	if (x->process) {
		r = al_oci_process_load(&pc, x->process, err);
		if (r < 0)
			goto out;
		if (pc.n_args > AL_EXEC_ARGS_MAX || pc.n_env > AL_EXEC_ARGS_MAX) {
			r = al_error_set(err, E2BIG, STAGE, "process.json: too many args or env entries");
			goto out;
		}
		for (size_t i = 0; i < pc.n_args; i++)
			rq->argv[rq->argc++] = pc.args[i];
		for (size_t i = 0; i < pc.n_env; i++)
			if (strchr(pc.env[i], '=') && pc.env[i][0] != '=')
				rq->env[rq->envc++] = pc.env[i];
		if (pc.cwd && pc.cwd[0])
			rq->cwd = pc.cwd;
		uid = pc.uid;
		gid = pc.gid;
		tty = tty || pc.terminal;
	} else {
		if (x->n_args == 0 || x->n_args > AL_EXEC_ARGS_MAX || x->n_env > AL_EXEC_ARGS_MAX) {
			r = al_error_set(err, EINVAL, STAGE, "exec: a command is required (or --process)");
			goto out;
		}
		for (size_t i = 0; i < x->n_args; i++)
			rq->argv[rq->argc++] = x->args[i];
		for (size_t i = 0; i < x->n_env; i++) {
			if (strchr(x->env[i], '=') == NULL || x->env[i][0] == '=') {
				r = al_error_set(err, EINVAL, STAGE, "--env %s: expected KEY=VALUE", x->env[i]);
				goto out;
			}
			rq->env[rq->envc++] = x->env[i];
		}
		if (x->cwd)
			rq->cwd = x->cwd;
		if (x->user) {
			long g;
			if (parse_user(x->user, &uid, &g) < 0) {
				r = al_error_set(err, EINVAL, STAGE, "--user %s: UID[:GID] expected", x->user);
				goto out;
			}
			if (g >= 0)
				gid = g;
		}
	}
	if (rq->argv[0] == NULL || rq->argv[0][0] == '\0') {
		r = al_error_set(err, EINVAL, STAGE, "exec: empty command");
		goto out;
	}
	/* The init forks every command with the container's own identity
	 * and no capabilities: another user cannot be given (and root of the
	 * user namespace would be no more than the container's uid 0). */
	if (uid != cs.uid || gid != cs.gid) {
		r = al_error_set(err, EPERM, STAGE,
				 "exec: user %ld:%ld refused: a command runs as the container's user (%ld:%ld) only",
				 uid, gid, cs.uid, cs.gid);
		goto out;
	}
	if (x->console_socket && !tty) {
		r = al_error_set(err, EINVAL, STAGE, "--console-socket needs a terminal (--tty or process.terminal)");
		goto out;
	}
	if (tty && x->detach && !x->console_socket) {
		r = al_error_set(err, EINVAL, STAGE, "--detach with a terminal needs --console-socket");
		goto out;
	}
	rq->flags = AL_EXEC_NOTIFY_START | (tty ? AL_EXEC_TTY : 0) |
		    (tty && x->console_socket ? AL_EXEC_TTY_FD : AL_EXEC_STDIN);
	if (al_exec_request_encode(rq, &enc, &enclen) < 0) {
		r = al_error_set(err, E2BIG, STAGE, "exec: the command and its environment are too large");
		goto out;
	}
	if (x->detach) {
		/* The relay: what the pid file names. It keeps the caller's
		 * stdio (the command's streams), and exits with the command's
		 * status, as create's supervisor does for the container. */
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = al_error_errno(err, STAGE, "pipe");
			goto out;
		}
		relay = fork();
		if (relay < 0) {
			r = al_error_errno(err, STAGE, "fork");
			goto out;
		}
		if (relay == 0) {
			struct al_error e2 = {0};
			int st = 255;
			close(p[0]);
			setsid();
			/* nothing of the caller's but its stdio and the ready pipe */
			if (p[1] > 3)
				syscall(SYS_close_range, 3, (unsigned)p[1] - 1, 0);
			syscall(SYS_close_range, (unsigned)p[1] + 1, ~0U, 0);
			ready = p[1];
			struct sockaddr_un sa;
			socklen_t sl;
			int dfd = -1, fd = -1;
			if (ctl_path(dir, &dfd, &sa, &sl, &e2) == 0) {
				snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/exec.sock", dfd);
				sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1);
				fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sl) < 0)
					al_error_errno(&e2, STAGE, "connecting to the container's supervisor");
				else if (al_frame_write(fd, AL_FR_EXEC, enc, enclen) < 0)
					al_error_errno(&e2, STAGE, "sending the request");
				else if (exec_relay(fd, !(rq->flags & AL_EXEC_TTY_FD), x->console_socket, &ready, &st,
						    &e2) < 0)
					st = 255;
			}
			if (ready >= 0) {
				char line[600];
				snprintf(line, sizeof line, "ERR %d %s\n", e2.code ? e2.code : EIO,
					 e2.msg[0] ? e2.msg : "the command ended at once");
				ready_write(&ready, line);
			}
			_exit(st);
		}
		close(p[1]);
		p[1] = -1;
		char line[640];
		size_t len = 0;
		for (;;) {
			ssize_t n = read(p[0], line + len, sizeof line - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
			if (len == sizeof line - 1 || memchr(line, '\n', len))
				break;
		}
		line[len] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "OK") != 0) {
			int st;
			char *msg = NULL;
			long code = strncmp(line, "ERR ", 4) == 0 ? strtol(line + 4, &msg, 10) : 0;
			if (msg && *msg == ' ' && code > 0 && code < 4096)
				r = al_error_set(err, (int)code, STAGE, "%s", msg + 1);
			else
				r = al_error_set(err, EIO, STAGE, "the exec relay ended without an answer");
			while (waitpid(relay, &st, 0) < 0 && errno == EINTR)
				;
			goto out;
		}
		if (x->pid_file) {
			char pidtxt[32];
			int n = snprintf(pidtxt, sizeof pidtxt, "%d", (int)relay);
			r = write_file_atomic(x->pid_file, pidtxt, (size_t)n, 0644, err);
			if (r < 0) {
				kill(relay, SIGKILL); /* its connection closes: the command is killed */
				goto out;
			}
		}
		*status = 0;
		r = 0;
		goto out;
	}
	{
		struct sockaddr_un sa;
		socklen_t sl;
		_cleanup_close_ int dfd = -1;
		_cleanup_close_ int fd = -1;
		r = ctl_path(dir, &dfd, &sa, &sl, err);
		if (r < 0)
			goto out;
		snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/exec.sock", dfd);
		sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sl) < 0) {
			r = al_error_errno(err, STAGE, "connecting to the container's supervisor");
			goto out;
		}
		if (al_frame_write(fd, AL_FR_EXEC, enc, enclen) < 0) {
			r = al_error_errno(err, STAGE, "sending the request");
			goto out;
		}
		r = exec_relay(fd, !(rq->flags & AL_EXEC_TTY_FD), x->console_socket, &ready, status, err);
	}
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	free(enc);
	free(rq);
	al_oci_config_free(&pc);
	return r;
}
