/* Watching canaries (canary_watch.h). */
#define _GNU_SOURCE
#include "monitor/canary_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "util/json.h"

/* canary records per run; past it, touches are counted (the rules still
 * see every one) */
#define CANARY_RECORDS 1000

struct fan_msg {
	int fd;
	int32_t pid;
	uint64_t mask;
	uint64_t t_ns; /* when the responder read it */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct al_canary_watch {
	struct al_canary *c;
	size_t n;
	int path_fds[AL_SPEC_MAX_CANARIES];
	int wd[AL_SPEC_MAX_CANARIES];
	nlink_t nlink[AL_SPEC_MAX_CANARIES];
	int ino_fd;             /* inotify */
	int fan_fd;             /* fanotify group, -1 */
	int pipe_r, pipe_w;     /* responder thread -> loop */
	int stop_fd;            /* eventfd: stop the thread */
	pthread_t thread;
	bool thread_running;
	uint64_t records, unrecorded;
	pid_t init_pid; /* host pid of the sandbox's init, 0: unknown */
};

/* The responder thread: no allocation, no locks (the supervisor forks alert
 * children while it runs). */
static void *responder(void *arg)
{
	struct al_canary_watch *w = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	pid_t self = getpid();

	for (;;) {
		struct pollfd p[2] = {{.fd = w->fan_fd, .events = POLLIN},
		                      {.fd = w->stop_fd, .events = POLLIN}};
		ssize_t len;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		len = read(w->fan_fd, buf, sizeof buf);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		struct fanotify_event_metadata *md = (void *)buf;
		for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
			if (md->vers != FANOTIFY_METADATA_VERSION || md->fd < 0)
				continue;
			if (md->pid == self) {
				/* the supervisor itself (hashing an exec's file) */
				struct fanotify_response r = {.fd = md->fd, .response = FAN_ALLOW};
				(void)!write(w->fan_fd, &r, sizeof r);
				close(md->fd);
				continue;
			}
			struct fan_msg m = {
			    .fd = md->fd, .pid = md->pid, .mask = md->mask, .t_ns = mono_ns()};
			if (write(w->pipe_w, &m, sizeof m) != (ssize_t)sizeof m) {
				/* the loop cannot take it: refuse, fail closed */
				struct fanotify_response r = {.fd = md->fd, .response = FAN_DENY};
				(void)!write(w->fan_fd, &r, sizeof r);
				close(md->fd);
			}
		}
	}
	return NULL;
}

static int setup_fanotify(struct al_canary_watch *w)
{
	uint64_t mask = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;
	int p[2];

	w->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (w->fan_fd < 0)
		return -errno;
	for (size_t i = 0; i < w->n; i++) {
		/* an O_PATH fd is not accepted as the object itself (EBADF):
		 * name it through its /proc/self/fd link, which resolves to the
		 * same inode without a lookup of the sandbox's path */
		char p_[64];
		snprintf(p_, sizeof p_, "/proc/self/fd/%d", w->path_fds[i]);
		if (fanotify_mark(w->fan_fd, FAN_MARK_ADD, mask, AT_FDCWD, p_) < 0)
			return -errno;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	w->pipe_r = p[0];
	w->pipe_w = p[1];
	fcntl(w->pipe_r, F_SETFL, O_NONBLOCK);
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0)
		return -errno;
	if (pthread_create(&w->thread, NULL, responder, w) != 0)
		return -EAGAIN;
	w->thread_running = true;
	return 0;
}

int al_canary_watch_open(struct al_canary_watch **out, struct al_canary *canaries, size_t n,
                         int *fds, bool want_fanotify, struct al_error *err)
{
	struct al_canary_watch *w = calloc(1, sizeof *w);
	uint32_t imask = IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
	int r;

	*out = NULL;
	if (w == NULL)
		return al_error_set(err, ENOMEM, "canary", "allocating the watch");
	w->c = canaries;
	w->n = n > AL_SPEC_MAX_CANARIES ? AL_SPEC_MAX_CANARIES : n;
	w->ino_fd = w->fan_fd = w->pipe_r = w->pipe_w = w->stop_fd = -1;
	for (size_t i = 0; i < w->n; i++) {
		struct stat st;
		w->path_fds[i] = fds[i];
		fds[i] = -1;
		if (fstat(w->path_fds[i], &st) == 0) {
			canaries[i].dev = st.st_dev;
			canaries[i].ino = st.st_ino;
			w->nlink[i] = st.st_nlink;
		}
	}
	if (want_fanotify) {
		r = setup_fanotify(w);
		if (r < 0) {
			al_canary_watch_free(w);
			return al_error_set(err, -r, "canary",
			                    "fanotify permission marks on the canaries: %s",
			                    strerror(-r));
		}
	} else {
		imask |= IN_OPEN | IN_ACCESS | IN_MODIFY;
	}
	w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ino_fd < 0) {
		al_canary_watch_free(w);
		return al_error_errno(err, "canary", "inotify_init1");
	}
	for (size_t i = 0; i < w->n; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", w->path_fds[i]);
		w->wd[i] = inotify_add_watch(w->ino_fd, p, imask);
		if (w->wd[i] < 0) {
			int e = errno;
			al_canary_watch_free(w);
			return al_error_set(err, e, "canary", "inotify watch on the canary %s",
			                    canaries[i].path);
		}
	}
	*out = w;
	return 0;
}

void al_canary_watch_set_init(struct al_canary_watch *w, pid_t init_host_pid)
{
	w->init_pid = init_host_pid;
}

/* ---- who holds it (inotify events carry no pid) ---- */

#define TREE_MAX 4096

/* the init and its descendants (host pids), through /proc/PID/task/TID/children */
static size_t sandbox_tree(pid_t init, pid_t *out, size_t max)
{
	size_t n = 0;

	out[n++] = init;
	for (size_t i = 0; i < n; i++) {
		char path[64], buf[4096];
		DIR *d;
		struct dirent *e;
		snprintf(path, sizeof path, "/proc/%d/task", (int)out[i]);
		d = opendir(path);
		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL && n < max) {
			char cp[96];
			ssize_t len;
			int fd;
			if (e->d_name[0] == '.')
				continue;
			snprintf(cp, sizeof cp, "/proc/%d/task/%.20s/children", (int)out[i], e->d_name);
			fd = open(cp, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			len = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (len <= 0)
				continue;
			buf[len] = '\0';
			for (char *p = buf, *end; n < max; p = end) {
				long v = strtol(p, &end, 10);
				if (end == p)
					break;
				if (v > 0)
					out[n++] = (pid_t)v;
			}
		}
		closedir(d);
	}
	return n;
}

/* pid has an fd on dev:ino, or a mapping of it */
static bool holds(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64], buf[8192];
	int dfd, fd;
	bool found = false;
	size_t have = 0;
	ssize_t len;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		DIR *d = fdopendir(dfd);
		struct dirent *e;
		if (d == NULL) {
			close(dfd);
		} else {
			while (!found && (e = readdir(d)) != NULL) {
				struct stat st;
				if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
				    st.st_dev == dev && st.st_ino == ino)
					found = true;
			}
			closedir(d);
		}
	}
	if (found)
		return true;
	/* "start-end perms offset MAJ:MIN inode path", line by line */
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (!found && (len = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
		char *line = buf, *nl;
		have += (size_t)len;
		buf[have] = '\0';
		while (!found && (nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
			unsigned int ma, mi;
			unsigned long long in;
			*nl = '\0';
			if (sscanf(line, "%*s %*s %*s %x:%x %llu", &ma, &mi, &in) == 3 &&
			    makedev(ma, mi) == dev && in == (unsigned long long)ino)
				found = true;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			have = 0; /* a line longer than the buffer: drop it */
	}
	close(fd);
	return found;
}

/* The first process of the sandbox holding canary idx, and how many do. */
static pid_t find_holder(struct al_canary_watch *w, size_t idx, size_t *holders)
{
	pid_t *tree, first = 0;
	size_t n;

	*holders = 0;
	if (w->init_pid <= 0)
		return 0;
	tree = malloc(TREE_MAX * sizeof *tree);
	if (tree == NULL)
		return 0;
	n = sandbox_tree(w->init_pid, tree, TREE_MAX);
	for (size_t i = 1; i < n; i++) /* (not the init: it never opens one) */
		if (holds(tree[i], w->c[idx].dev, w->c[idx].ino) && (*holders)++ == 0)
			first = tree[i];
	free(tree);
	return first;
}

void al_canary_watch_fds(const struct al_canary_watch *w, int fds[2])
{
	fds[0] = w->ino_fd;
	fds[1] = w->pipe_r;
}

const char *al_canary_watch_mechanism(const struct al_canary_watch *w)
{
	return w->fan_fd >= 0 ? "fanotify-perm+inotify" : "inotify";
}

/* The process behind a fanotify event (host pid; it waits in the kernel,
 * so the pid is its): pid inside the sandbox, its command line. */
static void process_fields(struct al_json *j, pid_t pid)
{
	char path[64], buf[4096];
	long nspid = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			char *l = strstr(buf, "\nNSpid:");
			if (l) {
				char *q = l + 7, *end;
				for (;;) {
					long x = strtol(q, &end, 10);
					if (end == q)
						break;
					nspid = x;
					q = end;
				}
			}
		}
	}
	al_json_kv_int(j, "pid", nspid);
	al_json_kv_int(j, "host_pid", pid);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	al_json_key(j, "argv");
	al_json_arr_begin(j);
	if (fd >= 0) {
		n = read(fd, buf, sizeof buf);
		close(fd);
		for (ssize_t i = 0; n > 0 && i < n;) {
			size_t l = strnlen(buf + i, (size_t)(n - i));
			al_json_strn(j, buf + i, l);
			i += (ssize_t)l + 1;
		}
	}
	al_json_arr_end(j);
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = '\0';
		al_json_kv_str(j, "exe", buf);
	}
}

static int emit(struct al_canary_watch *w, size_t idx, const char *access, pid_t pid,
                const char *mech, uint64_t t_ns, al_canary_cb cb, void *ctx,
                struct al_error *err)
{
	struct al_buf b;
	struct al_json j;
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "path", w->c[idx].path);
	al_json_kv_str(&j, "kind", al_canary_kind_name(w->c[idx].kind));
	al_json_kv_str(&j, "token_sha256", w->c[idx].token_sha256);
	al_json_kv_str(&j, "access", access);
	if (pid > 0) {
		process_fields(&j, pid);
		al_json_kv_str(&j, "pid_source", "fanotify");
	} else {
		/* inotify: whoever holds it open or mapped right now */
		size_t holders = 0;
		pid_t h = find_holder(w, idx, &holders);
		if (h > 0) {
			process_fields(&j, h);
			al_json_kv_str(&j, "pid_source", "fd-scan");
			al_json_kv_uint(&j, "holders", holders);
		} else {
			al_json_kv_str(&j, "pid", NULL);
			al_json_kv_str(&j, "pid_source", "none");
		}
	}
	al_json_kv_str(&j, "source", mech);
	al_json_obj_end(&j);
	w->records++;
	if (b.oom)
		r = al_error_set(err, ENOMEM, "canary", "building a canary record");
	else
		r = cb(ctx, b.data, t_ns, err);
	al_buf_free(&b);
	return r;
}

static int handle_fan(struct al_canary_watch *w, al_canary_cb cb, void *ctx, struct al_error *err)
{
	struct fan_msg m;
	int r = 0;

	while (read(w->pipe_r, &m, sizeof m) == (ssize_t)sizeof m) {
		struct stat st;
		size_t idx = w->n;
		int verdict = 0;

		if (fstat(m.fd, &st) == 0)
			for (size_t i = 0; i < w->n; i++)
				if (w->c[i].ino == st.st_ino && w->c[i].dev == st.st_dev)
					idx = i;
		if (idx < w->n) {
			const char *acc = (m.mask & FAN_OPEN_EXEC_PERM) ? "exec"
			                  : (m.mask & FAN_ACCESS_PERM) ? "read"
			                                               : "open";
			verdict = emit(w, idx, acc, m.pid, "fanotify", m.t_ns, cb, ctx, err);
		}
		/* a denied, killed or unrecordable access does not happen */
		struct fanotify_response resp = {.fd = m.fd,
		                                 .response = verdict == 0 ? FAN_ALLOW : FAN_DENY};
		(void)!write(w->fan_fd, &resp, sizeof resp);
		close(m.fd);
		if (verdict < 0 && r == 0)
			r = verdict;
	}
	return r;
}

static int handle_ino(struct al_canary_watch *w, al_canary_cb cb, void *ctx, struct al_error *err)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	int r = 0;

	while ((len = read(w->ino_fd, buf, sizeof buf)) > 0) {
		uint64_t t_ns = mono_ns();
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (void *)p;
			p += sizeof *ev + ev->len;
			for (size_t i = 0; i < w->n; i++) {
				if (w->wd[i] != ev->wd)
					continue;
				static const struct {
					uint32_t bit;
					const char *name;
				} acc[] = {{IN_OPEN, "open"},         {IN_ACCESS, "read"},
				           {IN_MODIFY, "write"},      {IN_MOVE_SELF, "rename"},
				           {IN_DELETE_SELF, "delete"}};
				for (size_t k = 0; k < sizeof acc / sizeof acc[0]; k++)
					if ((ev->mask & acc[k].bit) && r >= 0) {
						int x = emit(w, i, acc[k].name, 0, "inotify", t_ns,
						             cb, ctx, err);
						if (x < 0)
							r = x;
					}
				if ((ev->mask & IN_ATTRIB) && r >= 0) {
					/* link count up: a hard link; down: unlink; else
					 * mode/owner/times/xattrs */
					struct stat st;
					const char *what = "attrib";
					if (fstat(w->path_fds[i], &st) == 0) {
						if (st.st_nlink > w->nlink[i])
							what = "link";
						else if (st.st_nlink < w->nlink[i])
							what = "unlink";
						w->nlink[i] = st.st_nlink;
					}
					int x = emit(w, i, what, 0, "inotify", t_ns, cb, ctx, err);
					if (x < 0)
						r = x;
				}
			}
		}
	}
	return r;
}

int al_canary_watch_handle(struct al_canary_watch *w, al_canary_cb cb, void *ctx,
                           struct al_error *err)
{
	int r1 = 0, r2;

	if (w->pipe_r >= 0)
		r1 = handle_fan(w, cb, ctx, err);
	r2 = handle_ino(w, cb, ctx, err);
	return r1 < 0 ? r1 : r2 < 0 ? r2 : 0;
}

void al_canary_watch_free(struct al_canary_watch *w)
{
	if (w == NULL)
		return;
	if (w->thread_running) {
		uint64_t one = 1;
		(void)!write(w->stop_fd, &one, sizeof one);
		pthread_join(w->thread, NULL);
	}
	/* pending events: closing the group allows them */
	if (w->pipe_r >= 0) {
		struct fan_msg m;
		while (read(w->pipe_r, &m, sizeof m) == (ssize_t)sizeof m)
			close(m.fd);
	}
	if (w->fan_fd >= 0)
		close(w->fan_fd);
	if (w->ino_fd >= 0)
		close(w->ino_fd);
	if (w->pipe_r >= 0)
		close(w->pipe_r);
	if (w->pipe_w >= 0)
		close(w->pipe_w);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	for (size_t i = 0; i < w->n; i++)
		if (w->path_fds[i] >= 0)
			close(w->path_fds[i]);
	free(w);
}
