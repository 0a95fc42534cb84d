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

#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <netdb.h>
#include <netinet/in.h>

#include <librelp.h>

#include "util/cleanup.h"
#include "util/timeutil.h"

/* Unacknowledged messages in flight; librelp holds them (bounded memory:
 * at most this many records) and resends them after a reconnect. */
#define RELP_WINDOW 128
#define FD_SCAN_MAX 4096

/* Hang detection and flow control (librelp has no API for either): the
 * kernel counts every byte the server sent us (tcpi_bytes_received), read
 * by librelp or not. A message handed to librelp at time S with no byte
 * from the server since is "unanswered"; unanswered for
 * AL_SINK_IO_TIMEOUT_MS means the server is hung (it accepts but does not
 * answer), whether or not more records follow. And since every answer to a
 * syslog command is "TXNR rsp 6 200 OK\n", the bytes received say how many
 * messages were answered: a send that would find librelp's window full
 * (where librelp would block for its own 5 s from *then*) waits here
 * instead, bounded by the same deadline from S. */
struct relp_flow {
	bool known;           /* counting is exact (a fresh session, not a librelp reconnect) */
	uint64_t rx;          /* tcpi_bytes_received last seen */
	uint64_t rx_counted;  /* of it, the bytes of answers already counted */
	uint64_t next_txnr;   /* txnr of the next message we send */
	uint64_t answer_txnr; /* txnr of the oldest message not known answered */
	uint64_t waiting_ns;  /* an answer awaited since, no byte from the server; 0: none */
	uint64_t stalled_ns;  /* time spent waiting for the window, not yet reported */
	uint64_t stall_max_ns;
};

struct relp_tp {
	relpEngine_t *engine;
	relpClt_t *clt;
	bool session;        /* relpCltConnect succeeded once: reconnects keep the window */
	bool broken;         /* librelp said the session broke */
	bool refused;        /* the server answered a message with an error */
	int fd;              /* librelp's socket, -1 if it could not be identified */
	uint64_t checked_ns; /* last poll of fd */
	struct relp_flow flow;
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

static bool rx_bytes(const struct relp_tp *t, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (t->fd < 0 || getsockopt(t->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
		return false;
	*out = ti.tcpi_bytes_received;
	return true;
}

static uint64_t answer_len(uint64_t txnr)
{
	uint64_t digits = 1;

	for (uint64_t x = txnr; x >= 10; x /= 10)
		digits++;
	return digits + 14; /* "TXNR rsp 6 200 OK\n" */
}

/* Take in what the server sent since we last looked: any byte ends the
 * unanswered period; whole answers advance answer_txnr. */
static void flow_update(struct relp_tp *t)
{
	struct relp_flow *f = &t->flow;
	uint64_t rx;

	if (!rx_bytes(t, &rx) || rx == f->rx)
		return;
	f->rx = rx;
	while (f->known && f->answer_txnr < f->next_txnr &&
	       rx - f->rx_counted >= answer_len(f->answer_txnr)) {
		f->rx_counted += answer_len(f->answer_txnr);
		f->answer_txnr++;
	}
	/* More bytes than the answers to everything sent: this server says
	 * more than "200 OK" (or something else); stop counting and leave the
	 * window to librelp (hang detection stays). */
	if (f->known && f->answer_txnr == f->next_txnr && rx != f->rx_counted)
		f->known = false;
	/* the server is alive: the clock restarts, and stops when nothing is
	 * outstanding (without exact counting: assume so) */
	f->waiting_ns = f->known && f->answer_txnr < f->next_txnr ? al_mono_ns() : 0;
}

static void flow_reset(struct relp_tp *t, bool fresh_session)
{
	struct relp_flow *f = &t->flow;
	uint64_t rx = 0;
	bool have = rx_bytes(t, &rx);

	f->rx = f->rx_counted = rx;
	f->waiting_ns = 0;
	/* After relpCltConnect the open was answered and read; its txnr was 1.
	 * After a librelp reconnect the numbering is librelp's business: only
	 * hang detection stays. */
	f->known = fresh_session && have;
	f->next_txnr = f->answer_txnr = 2;
}

static int hung(struct relp_tp *t, struct al_error *err)
{
	uint64_t now = al_mono_ns();

	if (t->flow.waiting_ns &&
	    now - t->flow.waiting_ns >= (uint64_t)AL_SINK_IO_TIMEOUT_MS * 1000000) {
		t->broken = true;
		return al_error_set(err, ETIMEDOUT, "sink",
		                    "RELP server has not answered for %llu ms (hung: it accepts "
		                    "but does not answer)",
		                    (unsigned long long)((now - t->flow.waiting_ns) / 1000000));
	}
	return 0;
}

/* Before a send: if librelp's window may be full, wait (here, bounded by
 * the hang deadline) for answers rather than let librelp block on its own
 * clock. The wait is counted for the record (al_sink_take_stall). */
static int flow_wait(struct relp_tp *t, struct al_error *err)
{
	struct relp_flow *f = &t->flow;
	uint64_t t0 = 0;
	int r = 0;

	flow_update(t);
	while (f->known && f->next_txnr - f->answer_txnr >= RELP_WINDOW - 1) {
		uint64_t now = al_mono_ns(), deadline;
		struct pollfd p = {.fd = t->fd, .events = POLLIN | POLLRDHUP};
		int ms;

		if (!t0)
			t0 = now;
		r = hung(t, err);
		if (r < 0)
			break;
		if (!f->waiting_ns)
			f->waiting_ns = now; /* outstanding messages: an answer is awaited */
		deadline = f->waiting_ns + (uint64_t)AL_SINK_IO_TIMEOUT_MS * 1000000;
		ms = deadline > now ? (int)((deadline - now + 999999) / 1000000) : 0;
		/* librelp reads the answers at the next call; until then the
		 * kernel's counter is what moves */
		if (poll(&p, 1, ms > 20 ? 20 : ms) > 0 &&
		    (p.revents & (POLLERR | POLLHUP | POLLRDHUP))) {
			t->broken = true;
			r = al_error_set(err, EPIPE, "sink", "RELP server closed the connection");
			break;
		}
		flow_update(t);
	}
	if (t0) {
		uint64_t d = al_mono_ns() - t0;
		f->stalled_ns += d;
		if (d > f->stall_max_ns)
			f->stall_max_ns = d;
	}
	return r;
}

static void clt_destroy(struct relp_tp *t)
{
	struct pipe_guard g;
	if (!t->clt)
		return;
	/* A session we gave up on gets no polite close: librelp would wait up
	 * to 1 s for window space and 5 s for the answer to "close" from a
	 * server that is not answering. */
	if (t->broken && t->fd >= 0)
		shutdown(t->fd, SHUT_RDWR);
	guard_begin(&g);
	sym_relpEngineCltDestruct(t->engine, &t->clt);
	guard_end(&g);
	t->clt = NULL;
	t->session = false;
	t->fd = -1;
}

/* Before a librelp reconnect mid-run: is anyone answering? librelp's
 * reconnect waits its whole session timeout (5 s) for the answer to
 * "open" -- against a server that accepts but never answers (hung, or
 * SIGSTOPped) every attempt would stall the supervisor's loop, and so the
 * workload, that long. A RELP open of our own, answered within timeout_ms,
 * is the proof that the reconnect will not hang; then librelp reconnects
 * (and resends its window). */
static int relp_probe(const struct al_sink_url *u, int timeout_ms, struct al_error *err)
{
	static const char open_cmd[] =
	    "1 open 58 relp_version=0\nrelp_software=airlock-probe\ncommands=syslog\n";
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	uint64_t deadline = al_mono_ns() + (uint64_t)timeout_ms * 1000000;
	_cleanup_close_ int fd = -1;
	size_t sent = 0;
	char buf[64];
	int r;

	_Static_assert(sizeof open_cmd - 1 == 10 + 58 + 1, "RELP open frame length");
	r = getaddrinfo(u->host, u->port, &hints, &ai);
	if (r != 0)
		return al_error_set(err, EHOSTUNREACH, "sink", "resolving %s: %s", u->host,
		                    gai_strerror(r));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
		r = errno;
		freeaddrinfo(ai);
		return al_error_set(err, r, "sink", "RELP probe of %s port %s", u->host, u->port);
	}
	freeaddrinfo(ai);
	for (;;) {
		uint64_t now = al_mono_ns();
		struct pollfd p = {.fd = fd,
		                   .events = sent < sizeof open_cmd - 1 ? POLLOUT : POLLIN};
		ssize_t n;

		if (now >= deadline)
			return al_error_set(err, ETIMEDOUT, "sink",
			                    "RELP server at %s port %s did not answer within %d ms "
			                    "(hung?)",
			                    u->host, u->port, timeout_ms);
		r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (r <= 0)
			continue;
		if (p.revents & POLLOUT) {
			n = send(fd, open_cmd + sent, sizeof open_cmd - 1 - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return al_error_errno(err, "sink", "RELP probe of %s port %s",
				                      u->host, u->port);
			sent += n > 0 ? (size_t)n : 0;
			continue;
		}
		n = recv(fd, buf, sizeof buf, 0);
		if (n > 0)
			return 0; /* it answers; librelp checks what */
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return al_error_set(err, ECONNRESET, "sink",
			                    "RELP server at %s port %s closed the probe", u->host,
			                    u->port);
	}
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
	bool reconnect = t->session;
	uint64_t t0 = al_mono_ns();
	if (reconnect) {
		int pr = relp_probe(&c->url, timeout_ms, err);
		uint64_t d = al_mono_ns() - t0;
		t->flow.stalled_ns += d >= 10000000 ? d : 0;
		if (d > t->flow.stall_max_ns && d >= 10000000)
			t->flow.stall_max_ns = d;
		if (pr < 0) {
			t->broken = true;
			return pr;
		}
		t0 = al_mono_ns();
	}
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
	if (reconnect) {
		/* a reconnect mid-run blocks the loop too (up to the session
		 * timeout against a server that accepts but does not answer) */
		uint64_t d = al_mono_ns() - t0;
		t->flow.stalled_ns += d;
		if (d > t->flow.stall_max_ns)
			t->flow.stall_max_ns = d;
	}
	if (rr != RELP_RET_OK || t->broken) {
		if (!t->session)
			clt_destroy(t);
		t->broken = true;
		return al_error_set(err, ECONNREFUSED, "sink", "RELP connect to %s port %s: %s",
		                    c->url.host, c->url.port,
		                    t->last_err[0] ? t->last_err : "librelp error");
	}
	t->fd = find_new_socket(before);
	flow_reset(t, !reconnect);
	return 0;
}

static int relp_send(struct al_sink *s, const char *msg, size_t len, struct al_error *err)
{
	struct relp_tp *t = al_sink_transport_state(s);
	struct pipe_guard g;
	relpRetVal rr;

	if (!t->clt || t->broken)
		return al_error_set(err, ENOTCONN, "sink", "RELP session down");
	if (flow_wait(t, err) < 0)
		return -ETIMEDOUT;
	if (hung(t, err) < 0)
		return -ETIMEDOUT;
	if (!t->flow.waiting_ns)
		t->flow.waiting_ns = al_mono_ns(); /* this one awaits its answer */
	uint64_t t0 = al_mono_ns(), d;
	guard_begin(&g);
	rr = sym_relpCltSendSyslog(t->clt, (unsigned char *)msg, len);
	guard_end(&g);
	/* librelp blocks on a full window it counts itself (after a librelp
	 * reconnect, where our count is not exact): that is a stall too */
	d = al_mono_ns() - t0;
	if (d >= 10000000) {
		t->flow.stalled_ns += d;
		if (d > t->flow.stall_max_ns)
			t->flow.stall_max_ns = d;
	}
	if (rr == RELP_RET_OK) {
		t->flow.next_txnr++;
		flow_update(t);
	}
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
	flow_update(t);
	if (hung(t, err) < 0)
		return -ETIMEDOUT;
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

static uint64_t relp_take_stall(struct al_sink *s, uint64_t *max_ns)
{
	struct relp_tp *t = al_sink_transport_state(s);
	uint64_t d;

	if (!t)
		return 0;
	d = t->flow.stalled_ns;
	*max_ns = t->flow.stall_max_ns;
	t->flow.stalled_ns = t->flow.stall_max_ns = 0;
	return d;
}

const struct al_sink_transport al_sink_relp_transport = {
    .name = "relp",
    .connect = relp_connect,
    .send = relp_send,
    .check = relp_check,
    .finish = relp_finish,
    .drop = relp_drop,
    .destroy = relp_destroy,
    .take_stall = relp_take_stall,
};
