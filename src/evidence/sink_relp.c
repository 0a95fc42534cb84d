/* RELP transport (relp://) over librelp: every message is acknowledged by
 * the server; librelp keeps a window of unacknowledged frames and resends
 * them on reconnect, and a close waits for every acknowledgement. */
#define _GNU_SOURCE
#include "evidence/sink_int.h"
#include "evidence/sink_dl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librelp.h>

#include "util/cleanup.h"
#include "util/timeutil.h"

/* Unacknowledged messages in flight; librelp holds them (bounded memory:
 * at most this many records) and resends them after a reconnect. */
#define RELP_WINDOW 128
#define FD_SCAN_MAX 4096

struct relp_tp {
	relpEngine_t *engine;
	relpClt_t *clt;
	bool session;        /* relpCltConnect succeeded once: reconnects keep the window */
	bool broken;         /* librelp said the session broke */
	bool refused;        /* the server answered a message with an error */
	int fd;              /* librelp's socket, -1 if it could not be identified */
	uint64_t checked_ns; /* last poll of fd */
	char last_err[200];
};

static void relp_on_err(void *usr, char *objinfo, char *errmsg, relpRetVal code)
{
	struct al_sink *s = usr;
	struct relp_tp *t = s ? al_sink_transport_state(s) : NULL;

	if (!t)
		return;
	snprintf(t->last_err, sizeof t->last_err, "%s: %s (librelp %d)", objinfo, errmsg,
	         (int)code);
	if (code == RELP_RET_RSP_STATE_ERR)
		t->refused = true;
	else
		t->broken = true;
}

/* librelp calls its debug hook unconditionally and has none by default. */
static void relp_dbg_quiet(char *fmt, ...)
{
}

/* librelp writes with send(..., 0): a peer that is gone raises SIGPIPE,
 * which would kill the supervisor unless it happens to ignore it. Block it
 * around each librelp call and consume one raised by that call only. */
struct pipe_guard {
	sigset_t old;
	bool active;
	bool was_pending;
};

static void guard_begin(struct pipe_guard *g)
{
	struct sigaction sa;
	sigset_t set, pend;

	/* The supervisor ignores SIGPIPE; then one syscall is all it costs. */
	g->active = !(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN);
	if (!g->active)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigpending(&pend);
	g->was_pending = sigismember(&pend, SIGPIPE);
}

static void guard_end(struct pipe_guard *g)
{
	sigset_t set, pend;
	if (!g->active)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pend);
	if (!g->was_pending && sigismember(&pend, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* librelp offers no way to poll a session, and creates its socket without
 * CLOEXEC. The supervisor is single-threaded, so the one new stream socket
 * that appears across relpCltConnect is librelp's: remember it to watch for
 * hangups between sends, and mark it CLOEXEC ourselves. */
static void fd_snapshot(unsigned char *open_fds)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(open_fds, 0, FD_SCAN_MAX / 8);
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d) || fd >= FD_SCAN_MAX)
			continue;
		open_fds[fd / 8] |= (unsigned char)(1u << (fd % 8));
	}
	closedir(d);
}

static int find_new_socket(const unsigned char *before)
{
	unsigned char after[FD_SCAN_MAX / 8];
	int found = -1, n = 0;

	fd_snapshot(after);
	for (int fd = 0; fd < FD_SCAN_MAX; fd++) {
		struct stat st;
		int type = 0;
		socklen_t sl = sizeof type;
		bool now = after[fd / 8] & (1u << (fd % 8));
		bool then = before[fd / 8] & (1u << (fd % 8));

		if (!now || then || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM)
			continue;
		/* Whatever librelp opened must not leak into a child. */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		found = fd;
		n++;
	}
	/* Poll only a socket we are sure of; otherwise librelp's own reads
	 * at the next send are the only loss detection. */
	return n == 1 ? found : -1;
}

static void clt_destroy(struct relp_tp *t)
{
	struct pipe_guard g;
	if (!t->clt)
		return;
	guard_begin(&g);
	sym_relpEngineCltDestruct(t->engine, &t->clt);
	guard_end(&g);
	t->clt = NULL;
	t->session = false;
	t->fd = -1;
}

static int relp_connect(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	const struct al_sink_conf *c = al_sink_conf(s);
	struct relp_tp *t = al_sink_transport_state(s);
	unsigned char before[FD_SCAN_MAX / 8];
	struct pipe_guard g;
	relpRetVal rr;

	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			return al_error_set(err, ENOMEM, "sink", "allocating transport");
		t->fd = -1;
		al_sink_set_transport_state(s, t);
		if (sym_relpEngineConstruct(&t->engine) != RELP_RET_OK)
			return al_error_set(err, ENOMEM, "sink", "relpEngineConstruct");
		sym_relpEngineSetDbgprint(t->engine, relp_dbg_quiet);
		sym_relpEngineSetEnableCmd(t->engine, (unsigned char *)"syslog",
		                       eRelpCmdState_Required);
		sym_relpEngineSetOnErr(t->engine, relp_on_err);
	}
	t->broken = t->refused = false;
	t->last_err[0] = '\0';
	fd_snapshot(before);
	/* A reconnect closes the old socket first; its number may come back. */
	if (t->fd >= 0 && t->fd < FD_SCAN_MAX)
		before[t->fd / 8] &= (unsigned char)~(1u << (t->fd % 8));
	guard_begin(&g);
	if (t->session) {
		/* Same session object: librelp reconnects and first resends
		 * every frame the server had not acknowledged, in order. */
		rr = sym_relpCltReconnect(t->clt);
	} else {
		clt_destroy(t);
		rr = sym_relpEngineCltConstruct(t->engine, &t->clt);
		if (rr == RELP_RET_OK) {
			int secs = (timeout_ms + 999) / 1000;
			sym_relpCltSetUsrPtr(t->clt, s);
			sym_relpCltSetTimeout(t->clt, AL_SINK_IO_TIMEOUT_MS / 1000);
			sym_relpCltSetConnTimeout(t->clt, secs > 0 ? secs : 1);
			sym_relpCltSetWindowSize(t->clt, RELP_WINDOW);
			rr = sym_relpCltConnect(t->clt, 0, (unsigned char *)c->url.port,
			                    (unsigned char *)c->url.host);
			if (rr == RELP_RET_OK)
				t->session = true;
		}
	}
	guard_end(&g);
	if (rr != RELP_RET_OK || t->broken) {
		if (!t->session)
			clt_destroy(t);
		t->broken = true;
		return al_error_set(err, ECONNREFUSED, "sink", "RELP connect to %s port %s: %s",
		                    c->url.host, c->url.port,
		                    t->last_err[0] ? t->last_err : "librelp error");
	}
	t->fd = find_new_socket(before);
	return 0;
}

static int relp_send(struct al_sink *s, const char *msg, size_t len, struct al_error *err)
{
	struct relp_tp *t = al_sink_transport_state(s);
	struct pipe_guard g;
	relpRetVal rr;

	if (!t->clt || t->broken)
		return al_error_set(err, ENOTCONN, "sink", "RELP session down");
	guard_begin(&g);
	rr = sym_relpCltSendSyslog(t->clt, (unsigned char *)msg, len);
	guard_end(&g);
	if (t->refused)
		return al_error_set(err, EPROTO, "sink", "RELP server refused a message: %s",
		                    t->last_err);
	if (rr != RELP_RET_OK) {
		t->broken = true;
		return al_error_set(err, rr == RELP_RET_TIMED_OUT ? ETIMEDOUT : ECONNRESET, "sink",
		                    "RELP send: %s",
		                    t->last_err[0] ? t->last_err : "session broken");
	}
	return 0;
}

/* Between sends, watch librelp's socket for the server going away (FIN or
 * RST). Acknowledgements waiting to be read are left to librelp. */
static int relp_check(struct al_sink *s, struct al_error *err)
{
	struct relp_tp *t = al_sink_transport_state(s);
	struct pollfd p = {.fd = t->fd, .events = POLLRDHUP};

	if (t->broken)
		return al_error_set(err, ECONNRESET, "sink", "RELP session broken: %s",
		                    t->last_err);
	/* librelp itself notices a dead peer when it sends (it reads first);
	 * this poll is for quiet periods, so once per 10 ms is enough. */
	uint64_t now = al_mono_ns();
	if (t->fd < 0 || now - t->checked_ns < 10000000)
		return 0;
	t->checked_ns = now;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLERR | POLLHUP | POLLRDHUP))
		return al_error_set(err, EPIPE, "sink", "RELP server closed the connection");
	return 0;
}

/* relpCltDestruct waits up to 1 s for window space, sends "close" and waits
 * for its response up to the session timeout set at connect (5 s, the
 * timeout_ms the caller passes): responses come in order, so that response
 * means every message before it was acknowledged. Any failure on the way
 * arrives through relp_on_err. */
static int relp_finish(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	struct relp_tp *t = al_sink_transport_state(s);
	int r = relp_check(s, err);

	if (r < 0) {
		clt_destroy(t);
		return al_error_wrap(err, "RELP close: messages may be unacknowledged");
	}
	clt_destroy(t);
	if (t->broken || t->refused)
		return al_error_set(err, EPIPE, "sink",
		                    "RELP close: not every message was acknowledged: %s",
		                    t->last_err);
	return 0;
}

static void relp_drop(struct al_sink *s)
{
	struct relp_tp *t = al_sink_transport_state(s);
	/* Keep the client: its window of unacknowledged frames is what a
	 * reconnect resends. Only mark it so the next connect reconnects. */
	t->broken = true;
}

static void relp_destroy(struct al_sink *s)
{
	struct relp_tp *t = al_sink_transport_state(s);
	clt_destroy(t);
	if (t->engine)
		sym_relpEngineDestruct(&t->engine);
	free(t);
	al_sink_set_transport_state(s, NULL);
}

const struct al_sink_transport al_sink_relp_transport = {
    .name = "relp",
    .connect = relp_connect,
    .send = relp_send,
    .check = relp_check,
    .finish = relp_finish,
    .drop = relp_drop,
    .destroy = relp_destroy,
};
