/* The supervisor side of a session: the control socket in the event loop,
 * commands forked by the sandbox's init on request, their output relayed
 * (capped, counted, recorded) to the client that asked, per-command
 * timeouts, the idle timeout, and `rm`. Every request is in the run's one
 * event log, with who asked (SO_PEERCRED). */
#define _GNU_SOURCE
#include "session/session.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "evidence/evlog.h"
#include "sandbox/sandbox.h"
#include "session/control.h"
#include "session/copy.h"
#include "session/proto.h"
#include "supervisor/supervisor.h"
#include "util/json.h"
#include "util/timeutil.h"

#define MAX_CLIENTS 128
#define OUT_PAUSE (1u << 20)  /* stop reading a command's output past this much unsent */
#define OUT_RESUME (256u << 10)
#define MAX_OUTPUT_LIMIT (256ull << 20)

enum { K_LISTEN, K_CLIENT, K_OUT, K_ERR, K_IN, K_CP };

struct client {
	int fd;                  /* -1: the client has gone */
	uid_t uid;
	pid_t pid;
	struct al_frame_reader rd;
	uint8_t *out;
	size_t olen, ocap, ooff;
	bool closing;            /* close once the output is flushed */
	bool want_out;           /* EPOLLOUT registered */
	bool in_use;

	/* the command, while it runs */
	bool exec;
	bool tty;                /* pipe[0] is a pty's master (-t) */
	bool tty_handed;         /* the master went to the client (AL_EXEC_TTY_FD) */
	bool notify_start;       /* AL_EXEC_NOTIFY_START */
	bool started, exited, paused;
	uint32_t id;
	pid_t cmd_pid;
	int pipe[2];             /* stdout, stderr (supervisor ends) */
	int pin;                 /* stdin (supervisor end), -1 */
	uint8_t *inbuf;
	size_t inlen, inoff;
	bool in_eof;
	uint64_t bytes[2], cap;
	bool trunc[2], keep_tail;
	uint8_t *tail[2];
	size_t tail_len[2], tail_pos[2];
	uint64_t timeout_ns, t0;
	bool timed_out;
	int wstatus, err;
	char what[64];

	/* a copy, while its helper runs (the helper has the client's socket) */
	bool cp, cp_in;
	int cp_pidfd, cp_report;
	pid_t cp_pid;
	char *cp_path;
	char cp_user[8];
};

struct al_session {
	int listen_fd;
	char dir[200];
	char id[40];
	char name[64];
	uid_t owner;
	int ready_fd;
	bool ready;
	uint64_t idle_ns, max_output;
	uint64_t last_active_ns, created_ns, created_realtime_ns;
	uint32_t next_id;
	uint64_t n_cmds;
	int root_fd;             /* the sandbox's root (O_PATH, from the init), or -1 */
	bool exec_only;          /* beside a workload (OCI): exec only, as the workload's user */
	char sock[4200];         /* the control socket's path, removed at the end */
	struct client c[MAX_CLIENTS];
};

static uint64_t ev_data(unsigned kind, size_t idx)
{
	return AL_TAG_SESSION | (uint64_t)kind << 8 | (uint64_t)idx << 16;
}

static int ep(struct al_supervisor *s, int op, int fd, uint32_t events, unsigned kind, size_t idx)
{
	struct epoll_event e = {.events = events, .data.u64 = ev_data(kind, idx)};
	return epoll_ctl(s->epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &e);
}

static void slog(struct al_supervisor *s, const char *type, struct al_buf *b)
{
	struct al_error e = {0};
	if (b->oom || al_evlog_append(s->log, type, b->data, &e) < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, b->oom ? "out of memory for a record" : e.msg);
}

/* ---- output to clients --------------------------------------------------- */

static void client_close(struct al_supervisor *s, struct client *c);

static void client_flush(struct al_supervisor *s, struct client *c, size_t idx)
{
	while (c->fd >= 0 && c->ooff < c->olen) {
		ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			client_close(s, c);
			return;
		}
		c->ooff += (size_t)w;
	}
	if (c->fd < 0)
		return;
	if (c->ooff == c->olen) {
		c->ooff = c->olen = 0;
		if (c->closing) {
			client_close(s, c);
			return;
		}
	}
	bool want = c->ooff < c->olen;
	if (want != c->want_out) {
		ep(s, EPOLL_CTL_MOD, c->fd, EPOLLIN | (want ? EPOLLOUT : 0), K_CLIENT, idx);
		c->want_out = want;
	}
	/* resume a command's output once the client has taken most of it */
	if (c->exec && c->paused && c->olen - c->ooff < OUT_RESUME) {
		c->paused = false;
		for (int i = 0; i < 2; i++)
			if (c->pipe[i] >= 0)
				ep(s, EPOLL_CTL_ADD, c->pipe[i], EPOLLIN, i == 0 ? K_OUT : K_ERR, idx);
	}
}

static void client_send(struct al_supervisor *s, struct client *c, size_t idx, uint8_t type, const void *p,
			size_t n)
{
	if (c->fd < 0)
		return;
	if (al_frame_append(&c->out, &c->olen, &c->ocap, type, p, n) < 0) {
		client_close(s, c);
		return;
	}
	client_flush(s, c, idx);
}

/* Data of any size, as frames of at most AL_FRAME_MAX. */
static void client_send_data(struct al_supervisor *s, struct client *c, size_t idx, uint8_t type,
			     const uint8_t *p, size_t n)
{
	while (n > 0 && c->fd >= 0) {
		size_t k = n < AL_FRAME_MAX - 1 ? n : AL_FRAME_MAX - 1;
		client_send(s, c, idx, type, p, k);
		p += k;
		n -= k;
	}
}

static void client_error(struct al_supervisor *s, struct client *c, size_t idx, const char *msg)
{
	client_send(s, c, idx, AL_FR_ERROR, msg, strlen(msg));
	c->closing = true;
	client_flush(s, c, idx);
}

/* ---- a command ----------------------------------------------------------- */

static void send_kill(struct al_supervisor *s, uint32_t id, int sig)
{
	struct al_init_req q;
	memset(&q, 0, AL_REQ_HEADER_SIZE);
	q.type = AL_REQ_KILL;
	q.id = id;
	q.sig = sig;
	if (s->sync_fd >= 0)
		send(s->sync_fd, &q, AL_REQ_HEADER_SIZE, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void close_pipe(struct al_supervisor *s, struct client *c, int i)
{
	if (c->pipe[i] < 0)
		return;
	if (!c->paused)
		ep(s, EPOLL_CTL_DEL, c->pipe[i], 0, 0, 0);
	close(c->pipe[i]);
	c->pipe[i] = -1;
}

static void close_stdin(struct al_supervisor *s, struct client *c)
{
	if (c->pin >= 0) {
		ep(s, EPOLL_CTL_DEL, c->pin, 0, 0, 0);
		close(c->pin);
		c->pin = -1;
	}
	free(c->inbuf);
	c->inbuf = NULL;
	c->inlen = c->inoff = 0;
}

/* Bytes read from the command: counted always; delivered within the cap.
 * Streaming, the head is delivered and the rest dropped; with keep_tail
 * (--json) the last `cap` bytes are kept and sent at the end. */
static void take_output(struct al_supervisor *s, struct client *c, size_t idx, int i, const uint8_t *p,
			size_t n)
{
	c->bytes[i] += n;
	if (c->keep_tail) {
		size_t cap = (size_t)c->cap;
		if (cap == 0) {
			c->trunc[i] = c->trunc[i] || n > 0;
			return;
		}
		if (c->tail[i] == NULL && (c->tail[i] = malloc(cap)) == NULL) {
			al_supervisor_kill(s, AL_KILL_ERROR, "out of memory for a command's output");
			return;
		}
		if (n >= cap) {
			memcpy(c->tail[i], p + n - cap, cap);
			c->tail_pos[i] = 0;
			c->tail_len[i] = cap;
			c->trunc[i] = c->trunc[i] || c->bytes[i] > cap;
			return;
		}
		for (size_t k = 0; k < n;) {
			size_t room = cap - c->tail_pos[i], m = n - k < room ? n - k : room;
			memcpy(c->tail[i] + c->tail_pos[i], p + k, m);
			c->tail_pos[i] = (c->tail_pos[i] + m) % cap;
			k += m;
		}
		c->tail_len[i] = c->tail_len[i] + n > cap ? cap : c->tail_len[i] + n;
		if (c->bytes[i] > cap)
			c->trunc[i] = true;
		return;
	}
	uint64_t before = c->bytes[i] - n;
	if (before >= c->cap) {
		c->trunc[i] = true;
		return;
	}
	if (before + n > c->cap) {
		n = (size_t)(c->cap - before);
		c->trunc[i] = true;
	}
	client_send_data(s, c, idx, i == 0 ? AL_FR_STDOUT : AL_FR_STDERR, p, n);
}

/* Read what a pipe holds now; at EOF close it. all: ignore flow control
 * (the command has ended: what is in the pipe is bounded by its size). */
static void read_pipe(struct al_supervisor *s, struct client *c, size_t idx, int i, bool all)
{
	static uint8_t buf[65536];
	int rounds = 0;
	while (c->pipe[i] >= 0 && (all || !c->paused)) {
		ssize_t n = read(c->pipe[i], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (all)
				close_pipe(s, c, i);
			return;
		}
		if (n <= 0) {
			close_pipe(s, c, i);
			return;
		}
		take_output(s, c, idx, i, buf, (size_t)n);
		if (!all && ++rounds >= 4)
			break; /* fairness between commands */
	}
	if (!all && c->exec && !c->paused && c->fd >= 0 && c->olen - c->ooff > OUT_PAUSE) {
		for (int k = 0; k < 2; k++)
			if (c->pipe[k] >= 0)
				ep(s, EPOLL_CTL_DEL, c->pipe[k], 0, 0, 0);
		c->paused = true;
	}
}

static int exit_status_of(const struct client *c, int *sig)
{
	*sig = 0;
	if (c->timed_out)
		return AL_EXIT_TIMEOUT;
	if (c->err)
		return strcmp(c->what, "chdir") == 0 || strcmp(c->what, "user") == 0 ? AL_EXIT_SETUP
		       : c->err == ENOENT            ? AL_EXIT_NOTFOUND
						     : AL_EXIT_NOEXEC;
	if (WIFSIGNALED(c->wstatus)) {
		*sig = WTERMSIG(c->wstatus);
		return 128 + *sig;
	}
	return WEXITSTATUS(c->wstatus);
}

/* The command is over and its pipes are drained: the last frames, the
 * record, and the slot is free for the client's next request. */
static void exec_finish(struct al_supervisor *s, struct client *c, size_t idx, bool sandbox_ended)
{
	struct al_exit_info x;
	struct al_buf b;
	struct al_json j;
	int sig;

	for (int i = 0; i < 2; i++)
		read_pipe(s, c, idx, i, true);
	close_stdin(s, c);
	memset(&x, 0, sizeof x);
	x.exit_status = sandbox_ended && !c->exited ? 128 + SIGKILL : exit_status_of(c, &sig);
	x.signal = sandbox_ended && !c->exited ? SIGKILL : sig;
	x.err = c->err;
	x.flags = (c->timed_out ? AL_EXIT_F_TIMED_OUT : 0) | (c->trunc[0] ? AL_EXIT_F_STDOUT_TRUNC : 0) |
		  (c->trunc[1] ? AL_EXIT_F_STDERR_TRUNC : 0) | (sandbox_ended ? AL_EXIT_F_SANDBOX_ENDED : 0) |
		  (c->err ? AL_EXIT_F_NOT_STARTED : 0);
	x.duration_ns = al_mono_ns() - c->t0;
	x.stdout_bytes = c->bytes[0];
	x.stderr_bytes = c->bytes[1];
	if (c->err && strcmp(c->what, "user") == 0 && c->err == ENOENT)
		snprintf(x.what, sizeof x.what, "--user: no such user in the sandbox's /etc/passwd");
	else if (c->err)
		snprintf(x.what, sizeof x.what, "%s: %s", c->what, strerror(c->err));
	else if (sandbox_ended)
		snprintf(x.what, sizeof x.what, "the sandbox ended");
	for (int i = 0; i < 2; i++) {
		if (c->keep_tail && c->tail_len[i]) {
			size_t cap = (size_t)c->cap, start = c->tail_len[i] < cap ? 0 : c->tail_pos[i];
			size_t first = c->tail_len[i] < cap ? c->tail_len[i] : cap - start;
			uint8_t t = i == 0 ? AL_FR_STDOUT : AL_FR_STDERR;
			client_send_data(s, c, idx, t, c->tail[i] + start, first);
			if (c->tail_len[i] == cap && start)
				client_send_data(s, c, idx, t, c->tail[i], start);
		}
		free(c->tail[i]);
		c->tail[i] = NULL;
	}
	/* recorded before the client hears of it: whoever saw the exit can
	 * find its record */
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "exec", c->id);
	al_json_kv_int(&j, "pid", c->cmd_pid);
	al_json_kv_int(&j, "exit_status", x.exit_status);
	if (c->exited && !c->err && !WIFSIGNALED(c->wstatus))
		al_json_kv_int(&j, "status", WEXITSTATUS(c->wstatus));
	if (x.signal)
		al_json_kv_int(&j, "signal", x.signal);
	al_json_kv_bool(&j, "timed_out", c->timed_out);
	al_json_kv_bool(&j, "sandbox_ended", sandbox_ended);
	if (x.what[0])
		al_json_kv_str(&j, "error", x.what);
	al_json_kv_uint(&j, "stdout_bytes", c->bytes[0]);
	al_json_kv_uint(&j, "stderr_bytes", c->bytes[1]);
	al_json_kv_bool(&j, "stdout_truncated", c->trunc[0]);
	al_json_kv_bool(&j, "stderr_truncated", c->trunc[1]);
	al_json_kv_uint(&j, "duration_ns", x.duration_ns);
	al_json_obj_end(&j);
	slog(s, "session_exec_end", &b);
	al_buf_free(&b);
	client_send(s, c, idx, AL_FR_EXIT, &x, sizeof x);
	c->closing = true;
	client_flush(s, c, idx);
	c->exec = false;
	s->session->last_active_ns = al_mono_ns();
	if (c->fd < 0)
		c->in_use = false;
}

static void maybe_finish(struct al_supervisor *s, struct client *c, size_t idx)
{
	if (c->exec && c->exited)
		exec_finish(s, c, idx, false);
}

/* The environment of a command: the sandbox's, with the request's values
 * replacing those of the same name. */
static int put_str(struct al_init_req *q, const char *str)
{
	size_t l = strlen(str) + 1;
	if (q->len + l > sizeof q->data)
		return -E2BIG;
	memcpy(q->data + q->len, str, l);
	q->len += (uint32_t)l;
	return 0;
}

static bool user_ok(const struct al_sandbox_plan *plan, const struct al_spec *spec, const char *user)
{
	char num[16];
	if (user[0] == '\0')
		return true;
	if (!plan->rootless) {
		/* a uid, or a name the init looks up in the sandbox's /etc/passwd */
		size_t n = strlen(user);
		if (n == 0 || n > 32 || user[0] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!((user[i] >= 'a' && user[i] <= 'z') || (user[i] >= 'A' && user[i] <= 'Z') ||
			      (user[i] >= '0' && user[i] <= '9') || user[i] == '_' || user[i] == '-' || user[i] == '.'))
				return false;
		return true;
	}
	snprintf(num, sizeof num, "%u", (unsigned)spec->uid);
	return strcmp(user, num) == 0 || strcmp(user, spec->uid == 0 ? "root" : "agent") == 0;
}

/* -t: open the multiplexer of the sandbox's own devpts instance (mounted
 * newinstance in its mount namespace) from the root handle -- never a
 * link, never the caller's terminal -- and the slave through TIOCGPTPEER.
 * The slave is given to the command's user where its host id is known. */
static int pty_open(struct al_supervisor *s, const char *user, int *slave)
{
	struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
					  RESOLVE_NO_XDEV};
	struct statfs sf;
	struct stat sb;
	int m, unlock = 0, sl;
	int dev = s->session->root_fd < 0 ? -1
		  : (int)syscall(SYS_openat2, s->session->root_fd, "/dev/pts",
				 &(struct open_how){.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
						    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
							       RESOLVE_NO_MAGICLINKS},
				 sizeof(struct open_how));

	if (dev < 0)
		return -1;
	m = (int)syscall(SYS_openat2, dev, "ptmx", &how, sizeof how);
	close(dev);
	if (m < 0)
		return -1;
	if (fstatfs(m, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC || fstat(m, &sb) < 0 || !S_ISCHR(sb.st_mode) ||
	    ioctl(m, TIOCSPTLCK, &unlock) < 0 ||
	    (sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(m);
		return -1;
	}
	if (!s->plan->rootless) {
		long u = user[0] == '\0' ? (long)s->spec->uid : strcmp(user, "root") == 0 ? 0 : -1;
		if (u < 0 && user[0] >= '0' && user[0] <= '9' && strspn(user, "0123456789") == strlen(user))
			u = atol(user);
		if (u >= 0 && u < 65536 && fchown(sl, s->plan->host_uid + (uid_t)u, (gid_t)-1) < 0) {
			/* cosmetic (who `ls -l /dev/pts` says owns it): the fd is the command's anyway */
		}
	}
	*slave = sl;
	return m;
}

static void start_exec(struct al_supervisor *s, struct client *c, size_t idx, const uint8_t *p, size_t n)
{
	struct al_session *ss = s->session;
	struct al_exec_request *r = NULL;
	struct al_init_req *q = NULL;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov;
	struct msghdr mh = {0};
	struct cmsghdr *cm;
	struct al_buf b;
	struct al_json j;
	const char *msg = NULL;
	uint32_t i, k;

	if (c->exec) {
		client_error(s, c, idx, "one command per connection");
		return;
	}
	r = calloc(1, sizeof *r);
	q = malloc(sizeof *q);
	if (r == NULL || q == NULL) {
		msg = "out of memory";
		goto out;
	}
	if (al_exec_request_parse(p, n, r) < 0) {
		msg = "malformed exec request";
		goto out;
	}
	if (ss->exec_only && r->user[0]) {
		msg = "a command runs as the container's own user only";
		goto out;
	}
	if ((r->flags & AL_EXEC_TTY_FD) && !ss->exec_only) {
		msg = "the terminal is relayed for sessions (not handed over)";
		goto out;
	}
	if (!user_ok(s->plan, s->spec, r->user)) {
		msg = s->plan->rootless ? "--user: a rootless session maps one uid: only the sandbox's own user exists"
					: "--user: a uid, or a user name of [A-Za-z0-9_.-] (at most 32)";
		goto out;
	}
	if (r->max_output > MAX_OUTPUT_LIMIT) {
		msg = "--max-output: at most 256 MiB per stream";
		goto out;
	}
	memset(q, 0, AL_REQ_HEADER_SIZE);
	q->type = AL_REQ_EXEC;
	q->id = ++ss->next_id;
	q->argc = r->argc;
	for (i = 0; i < r->argc; i++)
		if (put_str(q, r->argv[i]) < 0)
			goto big;
	for (k = 0; s->plan->envp[k]; k++) {
		const char *e = s->plan->envp[k];
		size_t kl = strcspn(e, "=");
		bool over = false;
		for (i = 0; i < r->envc; i++)
			if (strncmp(r->env[i], e, kl + 1) == 0)
				over = true;
		if (r->cwd[0] && strncmp(e, "PWD=", 4) == 0)
			over = true;
		if (!over) {
			if (put_str(q, e) < 0)
				goto big;
			q->envc++;
		}
	}
	for (i = 0; i < r->envc; i++) {
		bool later = false;
		size_t kl = strcspn(r->env[i], "=");
		for (k = i + 1; k < r->envc; k++)
			if (strncmp(r->env[k], r->env[i], kl + 1) == 0)
				later = true;
		if (later)
			continue;
		if (put_str(q, r->env[i]) < 0)
			goto big;
		q->envc++;
	}
	/* a relative -w is relative to the sandbox's working directory */
	char cwd[4200];
	if (r->cwd[0] == '\0')
		snprintf(cwd, sizeof cwd, "%s", s->spec->workdir);
	else if (r->cwd[0] == '/')
		snprintf(cwd, sizeof cwd, "%s", r->cwd);
	else
		snprintf(cwd, sizeof cwd, "%s/%s", s->spec->workdir, r->cwd);
	if (r->cwd[0]) {
		char pwd[4300];
		snprintf(pwd, sizeof pwd, "PWD=%s", cwd);
		if (put_str(q, pwd) < 0)
			goto big;
		q->envc++;
	}
	if (q->envc > AL_REQ_ARGS_MAX || put_str(q, cwd) < 0 || put_str(q, r->user) < 0)
		goto big;

	if (r->flags & AL_EXEC_TTY) {
		/* -t: a pty of the sandbox's own devpts; the command gets the
		 * slave as stdin, stdout and stderr; we keep the master */
		int m = pty_open(s, r->user, &po[1]);
		if (m < 0) {
			msg = "-t: cannot make a pseudo-terminal in the sandbox";
			goto out;
		}
		po[0] = m;
		pi[1] = fcntl(m, F_DUPFD_CLOEXEC, 3);
		if (pi[1] < 0) {
			msg = "-t: out of descriptors";
			goto out;
		}
		q->sig = AL_REQ_EXEC_TTY;
	} else {
		if (pipe2(po, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0 ||
		    pipe2(pi, O_CLOEXEC) < 0) {
			msg = "pipe failed";
			goto out;
		}
		/* the command's ends are blocking; ours are not */
		fcntl(po[1], F_SETFL, 0);
		fcntl(pe[1], F_SETFL, 0);
		fcntl(pi[1], F_SETFL, O_NONBLOCK);
	}
	int fds[3] = {pi[0], po[1], pe[1]};
	if (r->flags & AL_EXEC_TTY)
		fds[0] = fds[2] = po[1];
	if (r->flags & AL_EXEC_TTY_FD) {
		/* the client owns the terminal (runc's --console-socket): the
		 * master goes to it before the command starts; we keep no copy */
		uint8_t fr[5] = {1, 0, 0, 0, AL_FR_TTY_MASTER};
		char tb[CMSG_SPACE(sizeof(int))];
		struct iovec tv = {.iov_base = fr, .iov_len = sizeof fr};
		struct msghdr th = {.msg_iov = &tv, .msg_iovlen = 1, .msg_control = tb, .msg_controllen = sizeof tb};
		struct cmsghdr *tc;
		memset(tb, 0, sizeof tb);
		tc = CMSG_FIRSTHDR(&th);
		tc->cmsg_level = SOL_SOCKET;
		tc->cmsg_type = SCM_RIGHTS;
		tc->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(tc), &po[0], sizeof(int));
		/* blocking, as a terminal's master is for its owner (the flag
		 * is the open file's: we keep no copy, so it is the caller's) */
		if (fcntl(po[0], F_SETFL, fcntl(po[0], F_GETFL) & ~O_NONBLOCK) < 0 || c->olen != c->ooff || sendmsg(c->fd, &th, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof fr) {
			msg = "cannot hand the terminal to the caller";
			goto out;
		}
	}
	iov.iov_base = q;
	iov.iov_len = AL_REQ_HEADER_SIZE + q->len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(cbuf, 0, sizeof cbuf);
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(cm), fds, sizeof fds);
	if (s->sync_fd < 0 || sendmsg(s->sync_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		msg = "the sandbox's init does not take requests";
		goto out;
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	pi[0] = po[1] = pe[1] = -1;

	c->exec = true;
	c->tty = (r->flags & AL_EXEC_TTY) != 0;
	c->tty_handed = (r->flags & AL_EXEC_TTY_FD) != 0;
	c->notify_start = (r->flags & AL_EXEC_NOTIFY_START) != 0;
	if (c->tty_handed) {
		close(po[0]);
		po[0] = -1;
		close(pi[1]);
		pi[1] = -1;
	}
	c->started = c->exited = c->paused = c->timed_out = false;
	c->id = q->id;
	c->cmd_pid = 0;
	c->pipe[0] = po[0];
	c->pipe[1] = pe[0];
	po[0] = pe[0] = -1;
	c->pin = -1;
	if (r->flags & AL_EXEC_STDIN) {
		c->pin = pi[1];
		pi[1] = -1;
	}
	c->in_eof = false;
	c->bytes[0] = c->bytes[1] = 0;
	c->trunc[0] = c->trunc[1] = false;
	c->tail_len[0] = c->tail_len[1] = c->tail_pos[0] = c->tail_pos[1] = 0;
	c->cap = r->max_output ? r->max_output : ss->max_output;
	c->keep_tail = (r->flags & AL_EXEC_KEEP_TAIL) != 0;
	c->timeout_ns = r->timeout_ns;
	c->t0 = al_mono_ns();
	c->wstatus = c->err = 0;
	c->what[0] = '\0';
	ss->n_cmds++;
	ss->last_active_ns = c->t0;
	if (c->pipe[0] >= 0)
		ep(s, EPOLL_CTL_ADD, c->pipe[0], EPOLLIN, K_OUT, idx);
	if (c->pipe[1] >= 0)
		ep(s, EPOLL_CTL_ADD, c->pipe[1], EPOLLIN, K_ERR, idx);

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "exec", c->id);
	al_json_kv_int(&j, "peer_uid", c->uid);
	al_json_kv_int(&j, "peer_pid", c->pid);
	al_json_key(&j, "argv");
	al_json_arr_begin(&j);
	for (i = 0; i < r->argc; i++)
		al_json_str(&j, r->argv[i]);
	al_json_arr_end(&j);
	al_json_key(&j, "env");
	al_json_arr_begin(&j);
	for (i = 0; i < r->envc; i++)
		al_json_str(&j, r->env[i]);
	al_json_arr_end(&j);
	al_json_kv_str(&j, "cwd", cwd);
	if (r->user[0])
		al_json_kv_str(&j, "user", r->user);
	al_json_kv_uint(&j, "timeout_ns", r->timeout_ns);
	al_json_kv_uint(&j, "max_output", c->cap);
	al_json_kv_bool(&j, "stdin", c->pin >= 0);
	if (r->flags & AL_EXEC_TTY)
		al_json_kv_bool(&j, "tty", true);
	if (c->tty_handed)
		al_json_kv_str(&j, "terminal", "handed to the caller (its output is not counted)");
	if (ss->exec_only)
		al_json_kv_str(&j, "via", "oci");
	al_json_obj_end(&j);
	slog(s, "session_exec", &b);
	al_buf_free(&b);
	goto out;
big:
	msg = "the command and its environment are too large";
out:
	for (int x = 0; x < 2; x++) {
		if (po[x] >= 0)
			close(po[x]);
		if (pe[x] >= 0)
			close(pe[x]);
		if (pi[x] >= 0)
			close(pi[x]);
	}
	free(r);
	free(q);
	if (msg)
		client_error(s, c, idx, msg);
}

/* ---- stdin ----------------------------------------------------------------- */

static void stdin_flush(struct al_supervisor *s, struct client *c, size_t idx)
{
	while (c->pin >= 0 && c->inoff < c->inlen) {
		ssize_t w = write(c->pin, c->inbuf + c->inoff, c->inlen - c->inoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			ep(s, EPOLL_CTL_ADD, c->pin, EPOLLOUT, K_IN, idx);
			/* no more from this client until the command takes it */
			if (c->fd >= 0)
				ep(s, EPOLL_CTL_MOD, c->fd, c->want_out ? EPOLLOUT : 0, K_CLIENT, idx);
			return;
		}
		if (w <= 0) { /* the command closed its stdin: drop the rest */
			close_stdin(s, c);
			break;
		}
		c->inoff += (size_t)w;
	}
	if (c->pin >= 0) {
		ep(s, EPOLL_CTL_DEL, c->pin, 0, 0, 0);
		c->inlen = c->inoff = 0;
		if (c->in_eof)
			close_stdin(s, c);
	}
	if (c->fd >= 0)
		ep(s, EPOLL_CTL_MOD, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0), K_CLIENT, idx);
}

/* ---- requests ------------------------------------------------------------ */

static void status_json(struct al_supervisor *s, struct al_buf *b)
{
	struct al_session *ss = s->session;
	struct al_json j;
	int active = 0;

	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (ss->c[i].in_use && ss->c[i].exec)
			active++;
	al_json_init(&j, b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "id", ss->id);
	al_json_kv_str(&j, "name", ss->name[0] ? ss->name : NULL);
	al_json_kv_str(&j, "state", s->kill_reason != AL_KILL_NONE ? "ending" : ss->ready ? "running" : "starting");
	al_json_kv_uint(&j, "created_ns", ss->created_realtime_ns);
	al_json_kv_uint(&j, "age_ns", al_mono_ns() - ss->created_ns);
	al_json_kv_uint(&j, "commands", ss->n_cmds);
	al_json_kv_int(&j, "active", active);
	al_json_kv_int(&j, "owner_uid", ss->owner);
	al_json_kv_int(&j, "supervisor_pid", getpid());
	al_json_kv_uint(&j, "idle_timeout_ns", ss->idle_ns);
	al_json_kv_uint(&j, "max_lifetime_ns", s->spec->limits.timeout_ns);
	al_json_kv_str(&j, "log", s->spec->log.path);
	al_json_key(&j, "protections");
	al_json_arr_begin(&j);
	al_json_str(&j, s->plan->rootless ? "userns(rootless)" : "userns");
	al_json_str(&j, "pid,mount,net,ipc,uts,cgroup");
	if (s->plan->seccomp)
		al_json_str(&j, "seccomp");
	if (s->plan->landlock)
		al_json_str(&j, "landlock");
	if (s->cgroup)
		al_json_str(&j, "cgroup");
	al_json_str(&j, "no_new_privs");
	al_json_arr_end(&j);
	al_json_obj_end(&j);
}

/* ---- cp ------------------------------------------------------------------ */

static void cp_record(struct al_supervisor *s, struct client *c, const struct al_cp_result *res, bool got)
{
	struct al_buf b;
	struct al_json j;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "direction", c->cp_in ? "in" : "out");
	al_json_kv_str(&j, "path", c->cp_path ? c->cp_path : "");
	if (c->cp_user[0])
		al_json_kv_str(&j, "user", c->cp_user);
	al_json_kv_int(&j, "peer_uid", c->uid);
	al_json_kv_int(&j, "peer_pid", c->pid);
	al_json_kv_uint(&j, "bytes", got ? res->bytes : 0);
	al_json_kv_uint(&j, "files", got ? res->files : 0);
	al_json_kv_uint(&j, "entries", got ? res->entries : 0);
	al_json_kv_uint(&j, "skipped", got ? res->skipped : 0);
	al_json_kv_uint(&j, "duration_ns", al_mono_ns() - c->t0);
	if (!got)
		al_json_kv_str(&j, "error", "the copy helper ended without a report");
	else if (res->err)
		al_json_kv_str(&j, "error", res->what);
	al_json_obj_end(&j);
	slog(s, "session_cp", &b);
	al_buf_free(&b);
}

/* The helper has ended (or the session is ending: kill it first). */
static void cp_finish(struct al_supervisor *s, struct client *c, bool kill_it)
{
	struct al_cp_result res;
	siginfo_t si;
	bool got = false;

	if (kill_it)
		syscall(SYS_pidfd_send_signal, c->cp_pidfd, SIGKILL, NULL, 0);
	memset(&si, 0, sizeof si);
	if (syscall(SYS_waitid, P_PIDFD, c->cp_pidfd, &si, WEXITED | (kill_it ? 0 : WNOHANG), NULL) < 0 ||
	    si.si_pid == 0)
		return; /* not yet */
	ep(s, EPOLL_CTL_DEL, c->cp_pidfd, 0, 0, 0);
	got = read(c->cp_report, &res, sizeof res) == (ssize_t)sizeof res;
	res.what[sizeof res.what - 1] = '\0';
	cp_record(s, c, &res, got);
	close(c->cp_pidfd);
	close(c->cp_report);
	c->cp_pidfd = c->cp_report = -1;
	free(c->cp_path);
	c->cp_path = NULL;
	c->cp = false;
	c->in_use = false;
	s->session->last_active_ns = al_mono_ns();
}

/* A copy runs in a helper process of its own (cp_helper.c) that speaks to
 * the client directly: the event loop never blocks on a file, and the file
 * work is done with the sandbox user's identity, never the supervisor's. */
static void start_cp(struct al_supervisor *s, struct client *c, size_t idx, bool in, const uint8_t *p, size_t n)
{
	struct al_session *ss = s->session;
	struct al_cp_request r;
	struct clone_args args = {0};
	int rep[2], pidfd = -1;
	long pid;

	if (c->exec || c->cp) {
		client_error(s, c, idx, "one request per connection");
		return;
	}
	if (al_cp_request_parse(p, n, &r) < 0) {
		client_error(s, c, idx, "malformed copy request");
		return;
	}
	if (c->rd.len > c->rd.handed) {
		client_error(s, c, idx, "data after a copy request");
		return;
	}
	if (ss->root_fd < 0 || !ss->ready) {
		client_error(s, c, idx, "the sandbox is not ready for copies");
		return;
	}
	if (r.path[0] == '/')
		c->cp_path = strdup(r.path);
	else if (asprintf(&c->cp_path, "%s/%s", s->spec->workdir, r.path) < 0)
		c->cp_path = NULL;
	if (c->cp_path == NULL || pipe2(rep, O_CLOEXEC | O_NONBLOCK) < 0) {
		client_error(s, c, idx, "out of resources for a copy");
		return;
	}
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0) {
		close(rep[0]);
		al_session_cp_child(s, c->fd, ss->root_fd, rep[1], in, r.limit ? r.limit : AL_CP_LIMIT_DEFAULT,
				    c->cp_path, r.base, r.user);
	}
	close(rep[1]);
	if (pid < 0) {
		close(rep[0]);
		client_error(s, c, idx, "cannot start the copy helper");
		return;
	}
	/* r.user points into the frame buffer, freed just below */
	snprintf(c->cp_user, sizeof c->cp_user, "%s", r.user);
	/* the helper has the connection now */
	ep(s, EPOLL_CTL_DEL, c->fd, 0, 0, 0);
	close(c->fd);
	c->fd = -1;
	al_frame_reader_free(&c->rd);
	free(c->out);
	c->out = NULL;
	c->olen = c->ocap = c->ooff = 0;
	c->cp = true;
	c->cp_in = in;
	c->cp_pid = (pid_t)pid;
	c->cp_pidfd = pidfd;
	c->cp_report = rep[0];
	c->t0 = al_mono_ns();
	if (ep(s, EPOLL_CTL_ADD, pidfd, EPOLLIN, K_CP, idx) < 0)
		cp_finish(s, c, true);
}

void al_session_take_root(struct al_supervisor *s, int fd)
{
	if (s->session->root_fd >= 0)
		close(s->session->root_fd);
	s->session->root_fd = fd;
}

static void handle_frame(struct al_supervisor *s, struct client *c, size_t idx, uint8_t type, const uint8_t *p,
			 size_t n)
{
	struct al_buf b;
	struct al_json j;

	switch (type) {
	case AL_FR_EXEC:
		start_exec(s, c, idx, p, n);
		return;
	case AL_FR_STDIN:
		if (!c->exec || c->pin < 0 || c->in_eof)
			return;
		c->inbuf = realloc(c->inbuf, n ? n : 1); /* one frame pending at most */
		if (c->inbuf == NULL) {
			close_stdin(s, c);
			return;
		}
		memcpy(c->inbuf, p, n);
		c->inlen = n;
		c->inoff = 0;
		stdin_flush(s, c, idx);
		return;
	case AL_FR_WINSIZE:
		if (c->exec && c->tty && c->pipe[0] >= 0 && n == 4) {
			struct winsize ws = {.ws_row = (unsigned short)(p[0] | p[1] << 8),
					     .ws_col = (unsigned short)(p[2] | p[3] << 8)};
			ioctl(c->pipe[0], TIOCSWINSZ, &ws);
		}
		return;
	case AL_FR_STDIN_EOF:
		if (!c->exec || c->pin < 0)
			return;
		c->in_eof = true;
		if (c->inoff >= c->inlen)
			close_stdin(s, c);
		return;
	case AL_FR_STATUS:
		al_buf_init(&b);
		status_json(s, &b);
		client_send(s, c, idx, AL_FR_STATUS, b.data, b.len);
		al_buf_free(&b);
		c->closing = true;
		client_flush(s, c, idx);
		return;
	case AL_FR_CP_OUT:
	case AL_FR_CP_IN:
		if (s->session->exec_only) {
			client_error(s, c, idx, "not served for a container");
			return;
		}
		start_cp(s, c, idx, type == AL_FR_CP_IN, p, n);
		return;
	case AL_FR_REMOVE:
		if (s->session->exec_only) {
			client_error(s, c, idx, "not served for a container");
			return;
		}
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_int(&j, "peer_uid", c->uid);
		al_json_kv_int(&j, "peer_pid", c->pid);
		al_json_obj_end(&j);
		slog(s, "session_rm", &b);
		al_buf_free(&b);
		client_send(s, c, idx, AL_FR_REMOVE, "removing", 8);
		c->closing = true;
		client_flush(s, c, idx);
		al_supervisor_kill(s, AL_KILL_REMOVED, "removed (airlock rm)");
		return;
	default:
		client_error(s, c, idx, "unknown request");
	}
}

static void client_close(struct al_supervisor *s, struct client *c)
{
	if (c->fd >= 0) {
		ep(s, EPOLL_CTL_DEL, c->fd, 0, 0, 0);
		close(c->fd);
		c->fd = -1;
	}
	al_frame_reader_free(&c->rd);
	free(c->out);
	c->out = NULL;
	c->olen = c->ocap = c->ooff = 0;
	c->want_out = false;
	if (c->exec) {
		/* The caller went away (^C on `airlock exec`): its command
		 * goes too, and the record says how it ended. */
		if (c->started && !c->exited)
			send_kill(s, c->id, SIGKILL);
		if (c->paused) {
			c->paused = false;
			for (int i = 0; i < 2; i++)
				if (c->pipe[i] >= 0)
					ep(s, EPOLL_CTL_ADD, c->pipe[i], EPOLLIN, i == 0 ? K_OUT : K_ERR,
					   (size_t)(c - s->session->c));
		}
		return; /* the slot stays until the command has ended */
	}
	c->in_use = false;
}

/* Handle the whole frames already read, unless the command's stdin is
 * backed up (then the rest waits until the command reads). false: the
 * client is gone or broke the protocol. */
static bool client_frames(struct al_supervisor *s, struct client *c, size_t idx)
{
	uint8_t type;
	const uint8_t *p;
	size_t plen;
	int r;

	while (c->fd >= 0) {
		if (c->pin >= 0 && c->inoff < c->inlen)
			return true;
		r = al_frame_reader_next(&c->rd, &type, &p, &plen);
		if (r == 0)
			return true;
		if (r < 0) {
			client_close(s, c);
			return false;
		}
		handle_frame(s, c, idx, type, p, plen);
	}
	return false;
}

static void client_read(struct al_supervisor *s, struct client *c, size_t idx)
{
	uint8_t buf[65536];

	if (!client_frames(s, c, idx))
		return;
	for (int rounds = 0; c->fd >= 0 && rounds < 8; rounds++) {
		if (c->pin >= 0 && c->inoff < c->inlen)
			return; /* stdin backed up: resume when the command reads */
		ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* the client's end: an exec's stdin ends with it */
			if (c->exec && c->pin >= 0) {
				c->in_eof = true;
				if (c->inoff >= c->inlen)
					close_stdin(s, c);
			}
			if (!c->exec || c->exited)
				client_close(s, c);
			else {
				/* half-closed: keep sending, stop reading */
				ep(s, EPOLL_CTL_MOD, c->fd, c->want_out ? EPOLLOUT : 0, K_CLIENT, idx);
			}
			return;
		}
		if (al_frame_reader_feed(&c->rd, buf, (size_t)n) < 0) {
			client_close(s, c);
			return;
		}
		if (!client_frames(s, c, idx))
			return;
	}
}

static void accept_clients(struct al_supervisor *s)
{
	struct al_session *ss = s->session;
	for (;;) {
		struct ucred cr;
		socklen_t cl = sizeof cr;
		int fd = accept4(ss->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		size_t i;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    !al_session_peer_allowed(cr.uid, ss->owner)) {
			struct al_buf b;
			struct al_json j;
			al_buf_init(&b);
			al_json_init(&j, &b);
			al_json_obj_begin(&j);
			al_json_kv_int(&j, "peer_uid", cl == sizeof cr ? (int64_t)cr.uid : -1);
			al_json_kv_int(&j, "peer_pid", cl == sizeof cr ? (int64_t)cr.pid : -1);
			al_json_obj_end(&j);
			slog(s, "session_refused", &b);
			al_buf_free(&b);
			close(fd);
			continue;
		}
		for (i = 0; i < MAX_CLIENTS && ss->c[i].in_use; i++)
			;
		if (i == MAX_CLIENTS) {
			close(fd);
			continue;
		}
		struct client *c = &ss->c[i];
		memset(c, 0, sizeof *c);
		c->in_use = true;
		c->fd = fd;
		c->uid = cr.uid;
		c->pid = cr.pid;
		c->pipe[0] = c->pipe[1] = c->pin = c->cp_pidfd = c->cp_report = -1;
		if (ep(s, EPOLL_CTL_ADD, fd, EPOLLIN, K_CLIENT, i) < 0) {
			close(fd);
			c->in_use = false;
		}
	}
}

/* ---- the loop's hooks --------------------------------------------------- */

int al_session_loop_setup(struct al_supervisor *s, struct al_error *err)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = ev_data(K_LISTEN, 0)};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->session->listen_fd, &e) < 0)
		return al_error_errno(err, "session", "epoll_ctl on the control socket");
	return 0;
}

void al_session_event(struct al_supervisor *s, uint64_t data, uint32_t events)
{
	struct al_session *ss = s->session;
	unsigned kind = (unsigned)(data >> 8) & 0xff;
	size_t idx = (size_t)(data >> 16);
	struct client *c;

	if (kind == K_LISTEN) {
		accept_clients(s);
		return;
	}
	if (idx >= MAX_CLIENTS || !ss->c[idx].in_use)
		return;
	c = &ss->c[idx];
	switch (kind) {
	case K_CLIENT:
		if (events & EPOLLOUT)
			client_flush(s, c, idx);
		if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			client_read(s, c, idx);
		/* Hung up both ways (not a half-close): the caller is gone, and
		 * with it its command, even one that never writes again. */
		if (c->fd >= 0 && (events & (EPOLLHUP | EPOLLERR)))
			client_close(s, c);
		break;
	case K_OUT:
	case K_ERR:
		read_pipe(s, c, idx, kind == K_OUT ? 0 : 1, false);
		break;
	case K_CP:
		if (c->cp)
			cp_finish(s, c, false);
		break;
	case K_IN:
		stdin_flush(s, c, idx);
		if (c->fd >= 0 && !(c->pin >= 0 && c->inoff < c->inlen))
			client_read(s, c, idx);
		break;
	}
}

static struct client *by_id(struct al_session *ss, uint32_t id, size_t *idx)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (ss->c[i].in_use && ss->c[i].exec && ss->c[i].id == id) {
			*idx = i;
			return &ss->c[i];
		}
	return NULL;
}

static void log_ready(struct al_supervisor *s)
{
	struct al_session *ss = s->session;
	struct al_buf b;
	struct al_json j;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "id", ss->id);
	al_json_kv_str(&j, "name", ss->name[0] ? ss->name : NULL);
	al_json_kv_int(&j, "owner_uid", ss->owner);
	al_json_kv_uint(&j, "idle_timeout_ns", ss->idle_ns);
	al_json_kv_uint(&j, "max_lifetime_ns", s->spec->limits.timeout_ns);
	al_json_obj_end(&j);
	slog(s, "session_ready", &b);
	al_buf_free(&b);
}

void al_session_init_msg(struct al_supervisor *s, const struct al_msg *m)
{
	struct al_session *ss = s->session;
	struct client *c;
	size_t idx;

	if (m->type == AL_MSG_SESSION_READY) {
		if (ss->ready)
			return;
		ss->ready = true;
		s->t_ready_ns = al_mono_ns();
		ss->last_active_ns = s->t_ready_ns;
		log_ready(s);
		if (ss->ready_fd >= 0) {
			char line[64];
			int n = snprintf(line, sizeof line, "OK %s\n", ss->id);
			if (write(ss->ready_fd, line, (size_t)n) < 0) {
				/* the creator is gone: nobody knows this sandbox's id */
				al_supervisor_kill(s, AL_KILL_ERROR, "the creating process went away");
			}
			close(ss->ready_fd);
			ss->ready_fd = -1;
		}
		return;
	}
	c = by_id(ss, (uint32_t)m->stage, &idx);
	if (c == NULL)
		return;
	switch (m->type) {
	case AL_MSG_CMD_STARTED:
		c->started = true;
		c->cmd_pid = m->status;
		if (c->notify_start)
			client_send(s, c, idx, AL_FR_STARTED, NULL, 0);
		break;
	case AL_MSG_CMD_FAILED:
		c->exited = true;
		c->err = m->err ? m->err : EINVAL;
		snprintf(c->what, sizeof c->what, "%s", m->text);
		maybe_finish(s, c, idx);
		break;
	case AL_MSG_CMD_EXITED:
		c->exited = true;
		c->wstatus = m->status;
		maybe_finish(s, c, idx);
		break;
	}
}

void al_session_tick(struct al_supervisor *s)
{
	struct al_session *ss = s->session;
	uint64_t now = al_mono_ns();
	bool active = false;

	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &ss->c[i];
		if (c->in_use && c->cp)
			active = true;
		if (!c->in_use || !c->exec)
			continue;
		active = true;
		if (c->timeout_ns && !c->timed_out && !c->exited && now - c->t0 >= c->timeout_ns) {
			/* the command and its process group, not the sandbox */
			c->timed_out = true;
			send_kill(s, c->id, SIGKILL);
		}
	}
	if (active)
		ss->last_active_ns = now;
	if (ss->ready && ss->idle_ns && !active && now - ss->last_active_ns >= ss->idle_ns &&
	    s->kill_reason == AL_KILL_NONE)
		al_supervisor_kill(s, AL_KILL_TIMEOUT, "idle timeout reached");
}

/* After the loop: the sandbox is gone. Commands still counted as running
 * end now (the sandbox ended), every client gets its last frames (best
 * effort, never blocking), the control socket goes away. Before the
 * teardown check, which counts every fd of the run. */
static void session_end(struct al_supervisor *s, const char *verdict)
{
	struct al_session *ss = s->session;

	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &ss->c[i];
		if (!c->in_use)
			continue;
		if (c->cp) {
			cp_finish(s, c, true);
			continue;
		}
		if (c->exec)
			exec_finish(s, c, i, true);
		if (c->in_use) {
			client_flush(s, c, i);
			if (c->in_use)
				client_close(s, c);
		}
	}
	if (ss->root_fd >= 0) {
		close(ss->root_fd);
		ss->root_fd = -1;
	}
	if (ss->listen_fd >= 0) {
		if (ss->sock[0])
			unlink(ss->sock);
		close(ss->listen_fd);
		ss->listen_fd = -1;
	}
	if (ss->ready_fd >= 0) {
		char line[600];
		int n = snprintf(line, sizeof line, "ERR %s\n", verdict);
		if (write(ss->ready_fd, line, (size_t)n) < 0) {
			/* nobody to tell */
		}
		close(ss->ready_fd);
		ss->ready_fd = -1;
	}
}

/* ---- create -------------------------------------------------------------- */

static int session_attach(struct al_supervisor *s, const char *dir, const struct al_session_opts *o,
			  int ready_fd, struct al_error *err)
{
	struct al_session *ss = calloc(1, sizeof *ss);
	if (ss == NULL)
		return al_error_set(err, ENOMEM, "session", "allocating the session");
	ss->listen_fd = -1;
	ss->root_fd = -1;
	ss->ready_fd = ready_fd;
	snprintf(ss->dir, sizeof ss->dir, "%s", dir);
	snprintf(ss->id, sizeof ss->id, "%s", s->run_id);
	if (o->name)
		snprintf(ss->name, sizeof ss->name, "%s", o->name);
	ss->owner = geteuid();
	ss->idle_ns = o->idle_timeout_ns;
	ss->max_output = o->max_output ? o->max_output : AL_SESSION_MAX_OUTPUT_DEFAULT;
	ss->created_ns = al_mono_ns();
	ss->created_realtime_ns = al_realtime_ns();
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		ss->c[i].fd = ss->c[i].pipe[0] = ss->c[i].pipe[1] = ss->c[i].pin = ss->c[i].cp_pidfd =
			ss->c[i].cp_report = -1;
	s->session = ss;
	snprintf(ss->sock, sizeof ss->sock, "%s/%s.sock", dir, ss->id);
	ss->listen_fd = al_session_listen(dir, ss->id, err);
	if (ss->listen_fd < 0)
		ss->sock[0] = '\0';
	return ss->listen_fd < 0 ? ss->listen_fd : 0;
}

int al_session_attach_exec(struct al_supervisor *s, int listen_fd, const char *sock_path, struct al_error *err)
{
	struct al_session *ss = calloc(1, sizeof *ss);
	if (ss == NULL)
		return al_error_set(err, ENOMEM, "session", "allocating the exec server");
	ss->listen_fd = listen_fd;
	ss->root_fd = -1;
	ss->ready_fd = -1;
	ss->exec_only = true;
	snprintf(ss->sock, sizeof ss->sock, "%s", sock_path);
	snprintf(ss->id, sizeof ss->id, "%s", s->run_id);
	ss->owner = geteuid();
	ss->max_output = UINT64_MAX; /* runc's exec relays all of it */
	ss->created_ns = al_mono_ns();
	ss->created_realtime_ns = al_realtime_ns();
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		ss->c[i].fd = ss->c[i].pipe[0] = ss->c[i].pipe[1] = ss->c[i].pin = ss->c[i].cp_pidfd =
			ss->c[i].cp_report = -1;
	s->session = ss;
	return 0;
}

void al_session_detach(struct al_supervisor *s, const char *verdict)
{
	if (s->session)
		session_end(s, verdict);
}

/* The detached supervisor: the same lifecycle as `airlock run`, with the
 * init serving requests instead of running one workload. */
__attribute__((noreturn)) static void session_supervisor(const struct al_spec *spec, const char *dir,
							 const struct al_session_opts *o, int ready_fd)
{
	struct al_run *run = calloc(1, sizeof *run);
	struct al_error err = {0};
	int r, null;

	if (run == NULL)
		_exit(AL_EXIT_SETUP);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(AL_EXIT_SETUP);
	close(null);
	/* The detached supervisor keeps nothing of its caller but the ready
	 * pipe: a descriptor the caller leaked to `airlock create` (a pipe it
	 * waits on for EOF, a lock) must not live as long as the session. */
	if (ready_fd > 3)
		syscall(SYS_close_range, 3, (unsigned)ready_fd - 1, 0);
	if (syscall(SYS_close_range, (unsigned)ready_fd + 1, ~0U, 0) < 0)
		_exit(AL_EXIT_SETUP);
	al_run_init(run, spec);
	run->plan.session = true;
	r = al_run_prepare(run, &err);
	if (r == 0)
		r = session_attach(&run->s, dir, o, ready_fd, &err);
	if (r == 0)
		r = al_run_spawn(run, &err);
	if (r == 0) {
		al_run_supervise(run, &err);
		session_end(&run->s, err.msg[0] ? err.msg : run->verdict);
		al_run_teardown(run);
	} else if (run->s.session) {
		session_end(&run->s, err.msg);
	} else {
		char line[600];
		int n = snprintf(line, sizeof line, "ERR %s\n", err.msg);
		if (write(ready_fd, line, (size_t)n) < 0) {
			/* nobody to tell */
		}
	}
	al_run_finish(run, r, NULL, &err);
	_exit(run->status);
}

int al_session_create(const struct al_spec *spec, const struct al_session_opts *o, char id_out[40],
		      struct al_error *err)
{
	char dir[200], buf[640];
	int p[2], st;
	size_t len = 0;
	pid_t pid;
	int r;

	r = al_session_dir(dir, sizeof dir, true, err);
	if (r < 0)
		return r;
	if (o->name && !al_session_name_ok(o->name))
		return al_error_set(err, EINVAL, "session",
				    "--name %s: use letters, digits, '_', '-', '.' (at most 63)", o->name);
	if (pipe2(p, O_CLOEXEC) < 0)
		return al_error_errno(err, "session", "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return al_error_errno(err, "session", "fork");
	}
	if (pid == 0) {
		close(p[0]);
		/* detach: a new session, and a second fork so the supervisor is
		 * not a session leader and is adopted away from the caller */
		if (setsid() < 0)
			_exit(AL_EXIT_SETUP);
		pid = fork();
		if (pid < 0)
			_exit(AL_EXIT_SETUP);
		if (pid > 0)
			_exit(0);
		session_supervisor(spec, dir, o, p[1]);
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	for (;;) {
		ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1 || memchr(buf, '\n', len))
			break;
	}
	close(p[0]);
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "OK ", 3) == 0) {
		snprintf(id_out, 40, "%s", buf + 3);
		return 0;
	}
	if (strncmp(buf, "ERR ", 4) == 0)
		return al_error_set(err, EINVAL, "session", "%s", buf + 4);
	return al_error_set(err, EIO, "session", "the session's supervisor ended before the sandbox was ready");
}
