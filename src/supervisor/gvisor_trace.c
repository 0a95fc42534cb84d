/* The gVisor tier's trace points, served by the supervisor: gVisor's
 * sentry connects to the socket the init bound (sandbox/gvisor.c), sends a
 * handshake, then one message per exec and file open inside the sandbox
 * (sandbox/gvisor_wire.h). Each becomes an `exec` or `file_open` record
 * (exec records go through the rules). The sentry is what an attacker
 * inside would own first: one connection only, every message bounded and
 * parsed strictly; a malformed one fails the run closed. Messages the
 * sentry could not send (socket full) are counted by it, reported in
 * run_end.gvisor_trace.dropped, and fail the run closed: a record is
 * missing. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evidence/evlog.h"
#include "monitor/canary.h"
#include "monitor/monitor.h"
#include "sandbox/gvisor_wire.h"
#include "supervisor/supervisor.h"
#include "util/json.h"

/* file_open records per run; more are counted, not recorded (a workload
 * opening files in a loop must not turn the log into its own flood; the
 * log's max_size bounds it anyway) */
#define GVTRACE_MAX_OPEN_RECORDS 20000
/* messages handled per wakeup, so the loop serves its other fds too */
#define GVTRACE_BATCH 256
#define GVTRACE_VERSION 1 /* the wire version airlock speaks */

struct al_gvtrace {
	int listen_fd, conn_fd;
	bool handshaken;
	bool failed;
	uint64_t execs, opens, opens_unrecorded, other, refused_connections;
	uint32_t dropped; /* the sentry's running count */
	unsigned char buf[AL_GVWIRE_MAX_MSG + 1];
};

int al_gvtrace_start(struct al_supervisor *s, int listen_fd, struct al_error *err)
{
	struct al_gvtrace *t = calloc(1, sizeof *t);

	if (t == NULL) {
		close(listen_fd);
		return al_error_set(err, ENOMEM, "gvisor", "trace");
	}
	t->listen_fd = listen_fd;
	t->conn_fd = -1;
	s->gvtrace = t;
	return 0;
}

int al_gvtrace_listen_fd(const struct al_gvtrace *t)
{
	return t ? t->listen_fd : -1;
}

static void trace_fail(struct al_supervisor *s, const char *what)
{
	struct al_gvtrace *t = s->gvtrace;
	char msg[200];

	if (t->failed)
		return;
	t->failed = true;
	snprintf(msg, sizeof msg, "gVisor trace: %s (the sandbox's kernel sent what airlock cannot "
		 "record: fail closed)", what);
	al_supervisor_kill(s, AL_KILL_ERROR, msg);
}

static void record(struct al_supervisor *s, const char *type, struct al_buf *b)
{
	struct al_error e = {0};

	if (b->oom) {
		trace_fail(s, "out of memory");
		return;
	}
	if (al_evlog_append(s->log, type, b->data, &e) < 0) {
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
		return;
	}
	al_supervisor_monitor_event(s, type, b->data);
}

static void kv_strn(struct al_json *j, const char *k, const struct al_gvwire_str *v)
{
	al_json_key(j, k);
	if (v->p)
		al_json_strn(j, v->p, v->len);
	else
		al_json_null(j);
}

static const char *open_syscall(uint64_t sysno)
{
	switch (sysno) {
	case 2:
		return "open";
	case 85:
		return "creat";
	case 257:
		return "openat";
	default:
		return "other";
	}
}

/* The absolute, normalised path an open named ("." and ".." folded, "//"
 * collapsed), from its dir (openat's dirfd path) or cwd; 0, or -1 when it
 * cannot be known (no base for a relative path, or too long). Symlinks are
 * not followed: this is a string, the fanotify watch on the gofer (rootful)
 * sees the real file. */
static int abs_path(const struct al_gvwire_event *ev, char *out, size_t cap)
{
	char tmp[4096];
	const struct al_gvwire_str *base = ev->fd == -100 ? &ev->cwd : &ev->fd_path;
	size_t n = 0, o = 0;

	if (ev->path.len == 0 || ev->path.len >= sizeof tmp)
		return -1;
	if (ev->path.p[0] != '/') {
		if (base->p == NULL || base->len == 0 || base->p[0] != '/' ||
		    base->len + 1 + ev->path.len >= sizeof tmp)
			return -1;
		memcpy(tmp, base->p, base->len);
		n = base->len;
		tmp[n++] = '/';
	}
	memcpy(tmp + n, ev->path.p, ev->path.len);
	n += ev->path.len;
	tmp[n] = '\0';
	if (memchr(tmp, '\0', n))
		return -1;
	/* fold component by component into out */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && tmp[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && tmp[i] == '.')) {
			/* nothing */
		} else if (len == 2 && tmp[i] == '.' && tmp[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + len >= cap)
				return -1;
			out[o++] = '/';
			memcpy(out + o, tmp + i, len);
			o += len;
		}
		i = j + 1;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* An open of a planted canary, as gVisor reports it: a `canary` record
 * (source gvisor), through the rules like the host's own watch. */
static void canary_open(struct al_supervisor *s, const struct al_gvwire_event *ev)
{
	char path[4096];
	struct al_error e = {0};

	if (s->n_canaries == 0 || abs_path(ev, path, sizeof path) < 0)
		return;
	for (size_t i = 0; i < s->n_canaries; i++) {
		const struct al_canary *c = &s->canaries[i];
		struct al_buf b;
		struct al_json j;
		int r;

		if (c->path[0] == '\0' || strcmp(c->path, path) != 0)
			continue;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "path", c->path);
		al_json_kv_str(&j, "kind", al_canary_kind_name(c->kind));
		al_json_kv_str(&j, "token_sha256", c->token_sha256);
		al_json_kv_str(&j, "access", "open");
		al_json_kv_int(&j, "pid", ev->tgid);
		al_json_kv_uint(&j, "flags", ev->flags);
		al_json_kv_str(&j, "source", "gvisor");
		al_json_obj_end(&j);
		if (b.oom)
			r = al_error_set(&e, ENOMEM, "canary", "a canary record");
		else if (s->monitor)
			r = al_monitor_record(s->monitor, "canary", b.data, &e);
		else
			r = al_evlog_append(s->log, "canary", b.data, &e);
		al_buf_free(&b);
		if (r < 0)
			al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
		return;
	}
}

static void on_event(struct al_supervisor *s, const struct al_gvwire_event *ev)
{
	struct al_gvtrace *t = s->gvtrace;
	struct al_buf b;
	struct al_json j;

	/* The sentry could not send some trace points (its socket was full):
	 * an exec among them would be an unrecorded execution -- and a flood
	 * of opens is how a workload would try to hide one. Fail closed. */
	if (ev->dropped > t->dropped) {
		char what[96];
		snprintf(what, sizeof what, "%u trace point(s) dropped by gVisor (records are missing)",
			 ev->dropped);
		t->dropped = ev->dropped;
		trace_fail(s, what);
	}
	if (ev->type != AL_GVWIRE_SENTRY_EXEC && ev->type != AL_GVWIRE_SYSCALL_OPEN) {
		t->other++;
		return;
	}
	if (ev->type == AL_GVWIRE_SYSCALL_OPEN) {
		t->opens++;
		if (t->opens > GVTRACE_MAX_OPEN_RECORDS) {
			t->opens_unrecorded++;
			canary_open(s, ev); /* a canary is never past a cap */
			return;
		}
	} else {
		t->execs++;
	}
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_int(&j, "pid", ev->tgid);
	kv_strn(&j, "path", &ev->path);
	if (ev->type == AL_GVWIRE_SENTRY_EXEC) {
		al_json_key(&j, "argv");
		al_json_arr_begin(&j);
		for (size_t i = 0; i < ev->argc; i++)
			al_json_strn(&j, ev->argv[i].p, ev->argv[i].len);
		al_json_arr_end(&j);
		al_json_kv_uint(&j, "argc", ev->argc_total);
	} else {
		al_json_kv_str(&j, "syscall", open_syscall(ev->sysno));
		al_json_kv_int(&j, "dirfd", ev->fd);
		kv_strn(&j, "dir", &ev->fd_path);
		al_json_kv_uint(&j, "flags", ev->flags);
		al_json_kv_uint(&j, "mode", ev->mode);
	}
	kv_strn(&j, "cwd", &ev->cwd);
	al_json_kv_str(&j, "source", "gvisor");
	al_json_obj_end(&j);
	record(s, ev->type == AL_GVWIRE_SENTRY_EXEC ? "exec" : "file_open", &b);
	al_buf_free(&b);
	if (ev->type == AL_GVWIRE_SYSCALL_OPEN)
		canary_open(s, ev);
}

void al_gvtrace_accept(struct al_supervisor *s, int epfd, uint64_t conn_tag)
{
	struct al_gvtrace *t = s->gvtrace;
	struct epoll_event ev = {.events = EPOLLIN};
	int fd;

	if (t == NULL || t->listen_fd < 0)
		return;
	fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (t->conn_fd >= 0) {
		/* one sandbox, one sentry, one connection */
		t->refused_connections++;
		close(fd);
		return;
	}
	t->conn_fd = fd;
	/* nothing more to accept: the socket goes (the sandbox never gets a
	 * second way to write into the supervisor) */
	epoll_ctl(epfd, EPOLL_CTL_DEL, t->listen_fd, NULL);
	close(t->listen_fd);
	t->listen_fd = -1;
	ev.data.u64 = conn_tag;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		trace_fail(s, "cannot watch the trace connection");
}

static void conn_close(struct al_gvtrace *t, int epfd)
{
	if (t->conn_fd < 0)
		return;
	if (epfd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, t->conn_fd, NULL);
	close(t->conn_fd);
	t->conn_fd = -1;
}

/* 1: the batch ran out (more may be queued); 0: nothing more now. */
static int trace_read(struct al_supervisor *s, int epfd)
{
	struct al_gvtrace *t = s->gvtrace;

	for (int i = 0; t && t->conn_fd >= 0 && i < GVTRACE_BATCH; i++) {
		struct al_gvwire_event ev;
		ssize_t n = recv(t->conn_fd, t->buf, sizeof t->buf, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) { /* EOF (the sandbox is gone) or an error */
			conn_close(t, epfd);
			return 0;
		}
		if ((size_t)n > AL_GVWIRE_MAX_MSG) {
			trace_fail(s, "message over 64 KiB");
			conn_close(t, epfd);
			return 0;
		}
		if (!t->handshaken) {
			static const unsigned char reply[] = {0x08, GVTRACE_VERSION};
			int64_t v = al_gvwire_handshake(t->buf, (size_t)n);
			if (v < GVTRACE_VERSION) {
				trace_fail(s, "bad handshake");
				conn_close(t, epfd);
				return 0;
			}
			if (send(t->conn_fd, reply, sizeof reply, MSG_DONTWAIT | MSG_NOSIGNAL) !=
			    (ssize_t)sizeof reply) {
				trace_fail(s, "handshake reply");
				conn_close(t, epfd);
				return 0;
			}
			t->handshaken = true;
			continue;
		}
		if (al_gvwire_parse(t->buf, (size_t)n, &ev) < 0) {
			trace_fail(s, "malformed message");
			conn_close(t, epfd);
			return 0;
		}
		on_event(s, &ev);
	}
	return t && t->conn_fd >= 0;
}

void al_gvtrace_read(struct al_supervisor *s, int epfd)
{
	trace_read(s, epfd);
}

void al_gvtrace_finish(struct al_supervisor *s)
{
	struct al_gvtrace *t = s->gvtrace;

	if (t == NULL)
		return;
	/* what the sentry sent before it died is still queued: record it */
	while (t->conn_fd >= 0 && !t->failed && trace_read(s, s->epfd) == 1)
		;
	conn_close(t, s->epfd);
	if (t->listen_fd >= 0) {
		if (s->epfd >= 0)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, t->listen_fd, NULL);
		close(t->listen_fd);
		t->listen_fd = -1;
	}
}

void al_gvtrace_counts(const struct al_gvtrace *t, struct al_json *j)
{
	if (t == NULL)
		return;
	al_json_key(j, "gvisor_trace");
	al_json_obj_begin(j);
	al_json_kv_bool(j, "connected", t->handshaken);
	al_json_kv_uint(j, "execs", t->execs);
	al_json_kv_uint(j, "opens", t->opens);
	al_json_kv_uint(j, "opens_unrecorded", t->opens_unrecorded);
	al_json_kv_uint(j, "dropped", t->dropped);
	al_json_kv_uint(j, "other_messages", t->other);
	al_json_kv_uint(j, "refused_connections", t->refused_connections);
	al_json_obj_end(j);
}

void al_gvtrace_free(struct al_supervisor *s)
{
	struct al_gvtrace *t = s->gvtrace;

	if (t == NULL)
		return;
	if (t->conn_fd >= 0)
		close(t->conn_fd);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	free(t);
	s->gvtrace = NULL;
}
