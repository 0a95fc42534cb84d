/* The supervisor's event loop: single-threaded epoll over the init's pidfd,
 * the setup socket, the workload's stdout/stderr pipes, the caller's stdin,
 * a signalfd, the timeout and tick timerfds, and (when present) the seccomp
 * listener and the cgroup event fd. Any failure here kills the sandbox:
 * nothing runs on unsupervised. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "evidence/evlog.h"
#include "chaos/chaos.h"
#include "supervisor/egress.h"
#include "session/session.h"
#include "supervisor/notify.h"
#include "monitor/monitor.h"
#include "util/escape.h"
#include "util/fdutil.h"
#include "util/json.h"
#include "util/timeutil.h"

enum tag {
	TAG_PIDFD = 1, TAG_SIGNAL, TAG_TIMEOUT, TAG_TICK, TAG_SYNC, TAG_STDOUT, TAG_STDERR,
	TAG_STDIN_SRC, TAG_STDIN_DST, TAG_NOTIFY, TAG_CGROUP, TAG_STDOUT_OUT, TAG_STDERR_OUT,
	TAG_CHAOS,
	TAG_EGRESS_REPORT, TAG_EGRESS_EXIT,
	TAG_CANARY,
	TAG_GVTRACE_LISTEN, TAG_GVTRACE_CONN,
};

static int ep_add(int epfd, int fd, uint32_t events, enum tag t)
{
	struct epoll_event ev = {.events = events, .data.u64 = t};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void ep_del(int epfd, int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

void al_supervisor_kill(struct al_supervisor *s, enum al_kill_reason why, const char *detail)
{
	struct al_error e;

	if (s->kill_reason == AL_KILL_NONE) {
		s->kill_reason = why;
		snprintf(s->kill_detail, sizeof s->kill_detail, "%s", detail ? detail : "");
	}
	/* A killed run ends now: its output is not worth waiting for a reader
	 * that does not read (the log keeps it all). */
	s->drop_output = true;
	if (!s->init_exited && s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	if (s->cgroup)
		al_cgroup_kill(s->cgroup, &e);
}

/* Something the run depends on failed: kill it. A lost log sink
 * (on_sink_failure: kill) or a full log (log.max_size) is the policy's
 * doing -- no unlogged execution; anything else is airlock's own failure.
 * Either way the sandbox does not go on. */
static void fail_closed(struct al_supervisor *s, const struct al_error *e)
{
	al_supervisor_kill(s, al_evlog_stop_reason(s->log) ? AL_KILL_POLICY : AL_KILL_ERROR, e->msg);
}

/* A record that cannot be made durable stops the run. */
static void log_event(struct al_supervisor *s, const char *type, const char *fields)
{
	struct al_error e = {0};
	if (al_evlog_append(s->log, type, fields, &e) < 0)
		fail_closed(s, &e);
	else
		al_supervisor_monitor_event(s, type, fields);
}

static void output_limit_event(struct al_supervisor *s)
{
	struct al_buf b;
	struct al_json j;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "kind", "output");
	al_json_kv_uint(&j, "limit_bytes", s->spec->limits.output);
	al_json_obj_end(&j);
	log_event(s, "limit", b.data);
	al_buf_free(&b);
}

/* Write what is pending to the caller without ever blocking the loop: a
 * reader that stalls must not stall the supervisor (the timeout, signals,
 * the listener). For a pollable out, POLLOUT guarantees room for PIPE_BUF
 * bytes; a regular file never blocks for long. Returns true when drained. */
static bool flush_output(struct al_stream *st)
{
	while (st->poff < st->plen) {
		size_t chunk = st->plen - st->poff;
		ssize_t w;
		if (st->out_broken) {
			st->undelivered += st->plen - st->poff;
			st->poff = st->plen;
			break;
		}
		if (st->out_pollable) {
			struct pollfd p = {.fd = st->out, .events = POLLOUT};
			if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLOUT | POLLERR | POLLHUP)))
				return false;
			if (chunk > PIPE_BUF)
				chunk = PIPE_BUF;
		}
		w = write(st->out, st->pend + st->poff, chunk);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0) {
			st->out_broken = true; /* EPIPE & co: keep draining, stop writing */
			continue;
		}
		st->poff += (size_t)w;
		st->progress_ns = al_mono_ns();
	}
	st->plen = st->poff = 0;
	return true;
}

/* What the caller has not taken is given up: counted, never waited for. */
static void drop_pending(struct al_stream *st)
{
	st->undelivered += st->plen - st->poff;
	st->plen = st->poff = 0;
}

/* Resume reading the workload's pipe. Unwatched, it would stall the
 * workload on its next write with nobody noticing: fail closed instead. */
static void watch_stream(struct al_supervisor *s, struct al_stream *st, enum tag read_tag)
{
	if (ep_add(s->epfd, st->fd, EPOLLIN, read_tag) < 0) {
		struct al_error e;
		al_error_errno(&e, "supervisor", "epoll_ctl on the workload's output pipe");
		fail_closed(s, &e);
	}
}

/* Back-pressure: while output is pending, stop reading the workload's pipe
 * (it blocks on its own write) and wait for the caller's side instead. */
static void arm_stream(struct al_supervisor *s, struct al_stream *st, enum tag read_tag,
		       enum tag out_tag)
{
	if (s->drop_output && st->plen > st->poff && !flush_output(st))
		drop_pending(st);
	bool pending = st->plen > st->poff;
	if (st->fd >= 0 && pending == st->reading) {
		if (pending)
			ep_del(s->epfd, st->fd);
		else
			watch_stream(s, st, read_tag);
		st->reading = !pending;
	}
	if (pending != st->watching_out) {
		if (pending && ep_add(s->epfd, st->out, EPOLLOUT, out_tag) < 0) {
			/* No way to wait for this caller's side: never block on it
			 * either. What it cannot take now is counted as undelivered. */
			st->out_broken = true;
			drop_pending(st);
			pending = false;
			if (st->fd >= 0 && !st->reading) {
				watch_stream(s, st, read_tag);
				st->reading = true;
			}
		} else if (!pending) {
			ep_del(s->epfd, st->out);
		}
		st->watching_out = pending;
	}
}

static void relay_output(struct al_supervisor *s, struct al_stream *st, int stream)
{
	ssize_t n;
	int i;

	/* Bounded work per wakeup so one chatty stream cannot starve the rest. */
	for (i = 0; i < 16 && st->plen == 0; i++) {
		n = read(st->fd, st->pend, sizeof st->pend);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			al_supervisor_output_eof(s, stream); /* output rules: the last line */
			if (st->reading)
				ep_del(s->epfd, st->fd);
			st->reading = false;
			close(st->fd);
			st->fd = -1;
			return;
		}
		uint64_t total = s->out.bytes + s->err.bytes;
		size_t keep = (size_t)n;
		if (s->spec->limits.output && total + (uint64_t)n > s->spec->limits.output) {
			keep = total >= s->spec->limits.output ? 0 : (size_t)(s->spec->limits.output - total);
			s->output_cap_dropped += (uint64_t)n - keep;
			if (!s->output_cap_hit) {
				s->output_cap_hit = true;
				output_limit_event(s);
			}
		}
		st->bytes += keep;
		if (keep == 0)
			continue;
		struct al_error e = {0};
		if (al_evlog_output(s->log, stream, st->pend, keep, &e) < 0)
			fail_closed(s, &e);
		al_supervisor_output_scan(s, stream, st->pend, (size_t)n);
		st->plen = keep;
		st->poff = 0;
		st->progress_ns = al_mono_ns();
		if (!flush_output(st) && s->drop_output)
			drop_pending(st);
	}
}

/* Enter (or stay in) the ending: drop what is pending for both streams and
 * read the workload's pipes to EOF without waiting for the caller. */
static void drop_output_now(struct al_supervisor *s)
{
	s->drop_output = true;
	flush_output(&s->out);
	flush_output(&s->err);
	drop_pending(&s->out);
	drop_pending(&s->err);
	arm_stream(s, &s->out, TAG_STDOUT, TAG_STDOUT_OUT);
	arm_stream(s, &s->err, TAG_STDERR, TAG_STDERR_OUT);
}

/* After the workload has ended, a caller that takes nothing for
 * AL_OUTPUT_STALL_NS ends the drain (the tick calls this). */
static void check_output_stall(struct al_supervisor *s)
{
	uint64_t now = al_mono_ns();
	const struct al_stream *st[2] = {&s->out, &s->err};

	if (!s->init_exited || s->drop_output)
		return;
	for (int i = 0; i < 2; i++) {
		uint64_t since = st[i]->progress_ns > s->init_exit_ns ? st[i]->progress_ns : s->init_exit_ns;
		if (st[i]->plen > st[i]->poff && now - since >= AL_OUTPUT_STALL_NS) {
			drop_output_now(s);
			return;
		}
	}
}

/* A caller's stdout/stderr that still cannot take a byte after the run is
 * replaced, in airlock only, by /dev/null: airlock's own closing messages
 * must not block on a reader that never reads. The caller's file
 * description is not touched (dup2 changes only our descriptor table). */
static void detach_stalled_output(const struct al_supervisor *s, struct al_stream *st)
{
	struct pollfd p = {.fd = st->out, .events = POLLOUT};
	int null;

	/* either stream counts: with 2>&1 both are the one stalled pipe */
	if (!st->out_pollable || s->out.undelivered + s->err.undelivered == 0)
		return;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLOUT | POLLERR | POLLHUP)))
		return;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		return;
	dup2(null, st->out);
	close(null);
}

/* ---- stdin ------------------------------------------------------------- */

/* Can fd be waited for with epoll? Regular files, /dev/null, /dev/zero and
 * other files without poll support make epoll_ctl fail with EPERM: they are
 * always ready, so they are read or written directly instead. 1 yes, 0 no,
 * -errno on any other failure (never ignored). */
static int epoll_capable(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events};

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		return 1;
	}
	return errno == EPERM ? 0 : -errno;
}

/* The relay itself broke (epoll refused a descriptor it had accepted): the
 * workload could wait for input forever, so the run does not go on. */
static void stdin_fail(struct al_supervisor *s, int code, const char *what)
{
	char d[160];

	snprintf(d, sizeof d, "relaying stdin: %s: %s", what, strerror(code));
	al_supervisor_kill(s, AL_KILL_ERROR, d);
}

static void stdin_close(struct al_supervisor *s)
{
	struct al_stdin_relay *in = &s->in;
	if (in->registered_src)
		ep_del(s->epfd, in->src);
	if (in->dst >= 0) {
		if (in->registered_dst)
			ep_del(s->epfd, in->dst);
		close(in->dst);
	}
	in->dst = -1;
	in->src = -1;
	in->registered_src = in->registered_dst = false;
}

/* Want to read when the buffer is empty, to write when it holds data. */
static void stdin_arm(struct al_supervisor *s)
{
	struct al_stdin_relay *in = &s->in;
	bool want_write = in->len > in->off;

	if (in->dst < 0)
		return;
	if (!want_write && !in->pollable) {
		/* Regular files never block: drive reads by pipe writability. */
		want_write = true;
	}
	if (want_write && !in->registered_dst) {
		if (ep_add(s->epfd, in->dst, EPOLLOUT, TAG_STDIN_DST) < 0) {
			stdin_fail(s, errno, "epoll_ctl on the workload's stdin pipe");
			stdin_close(s);
			return;
		}
		in->registered_dst = true;
	} else if (!want_write && in->registered_dst) {
		ep_del(s->epfd, in->dst);
		in->registered_dst = false;
	}
	if (in->pollable) {
		bool want_read = !want_write;
		if (want_read && !in->registered_src) {
			if (ep_add(s->epfd, in->src, EPOLLIN, TAG_STDIN_SRC) < 0) {
				stdin_fail(s, errno, "epoll_ctl on the caller's stdin");
				stdin_close(s);
				return;
			}
			in->registered_src = true;
		} else if (!want_read && in->registered_src) {
			ep_del(s->epfd, in->src);
			in->registered_src = false;
		}
	}
}

static void stdin_fill(struct al_supervisor *s)
{
	struct al_stdin_relay *in = &s->in;
	ssize_t n;

	do
		n = read(in->src, in->buf, sizeof in->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0 && !in->read_errno) {
		/* The workload sees the end of its input; the run's record says why. */
		in->read_errno = errno;
		if (!s->spec->quiet)
			al_escape_printf(stderr,
					 "airlock: reading stdin: %s (the workload's stdin was closed)\n",
					 strerror(errno));
	}
	if (n <= 0) {
		stdin_close(s);
		return;
	}
	in->len = (size_t)n;
	in->off = 0;
}

static void stdin_flush(struct al_supervisor *s)
{
	struct al_stdin_relay *in = &s->in;
	if (in->len == in->off) {
		if (in->pollable)
			return;
		stdin_fill(s);
		if (in->dst < 0)
			return;
	}
	while (in->off < in->len) {
		ssize_t n = write(in->dst, in->buf + in->off, in->len - in->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* EPIPE: the workload closed its stdin */
			stdin_close(s);
			return;
		}
		in->off += (size_t)n;
	}
	in->len = in->off = 0;
}

/* ---- setup socket ------------------------------------------------------- */

static void take_fds(struct al_supervisor *s, struct msghdr *mh, const struct al_msg *m)
{
	struct cmsghdr *cm;
	size_t disk = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int fds[AL_MAX_HANDOVER_FDS + 1];
		size_t n, i;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (n < AL_MAX_HANDOVER_FDS ? n : AL_MAX_HANDOVER_FDS));
		for (i = 0; i < n; i++) {
			int fd;
			char kind = i < sizeof m->text ? m->text[i] : 0;
			if (i >= AL_MAX_HANDOVER_FDS) {
				/* more than the init can send: never keep what we cannot name */
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
				close(fd);
				continue;
			}
			fd = fds[i];
			if (kind == 'L' && s->notify == NULL) {
				struct al_error e = {0};
				if (al_notify_open(&s->notify, fd, s->log, &e) < 0 ||
				    ep_add(s->epfd, al_notify_fd(s->notify), EPOLLIN, TAG_NOTIFY) < 0) {
					/* Unserved, the listener would leave execs unrecorded. */
					if (s->notify == NULL)
						close(fd);
					fail_closed(s, &e);
				} else {
					/* exec and syscall_denied records go through the rules */
					if (s->monitor)
						al_notify_set_recorder(s->notify, al_monitor_record,
						                       s->monitor);
					if (s->chaos) {
						al_chaos_set_init_pid(s->chaos, s->pid);
						al_notify_set_interposer(s->notify, al_chaos_notify,
						                         s->chaos);
					}
				}
			} else if (kind == 'G' && s->gvtrace == NULL && s->plan->gvisor) {
				struct al_error e = {0};
				if (al_gvtrace_start(s, fd, &e) < 0 ||
				    ep_add(s->epfd, fd, EPOLLIN, TAG_GVTRACE_LISTEN) < 0)
					/* unserved, gVisor's execs and opens would go unrecorded */
					fail_closed(s, &e);
			} else if (kind == 'C' && s->n_canary_fds < AL_MAX_CANARIES) {
				s->canary_fds[s->n_canary_fds++] = fd;
			} else if (kind == 'R' && s->session) {
				al_session_take_root(s, fd);
			} else if (kind == 'U' && s->upper_fd < 0) {
				s->upper_fd = fd;
			} else if (kind == 'D' && disk < s->plan->n_disk_areas && s->n_disk_fds < AL_MAX_DISK_AREAS) {
				s->disk[s->n_disk_fds].fd = fd;
				s->disk[s->n_disk_fds].path = s->plan->disk_areas[disk++];
				s->disk[s->n_disk_fds].reported = false;
				s->n_disk_fds++;
			} else {
				close(fd);
			}
		}
	}
	/* Canaries are watched before any workload code runs: the workload's
	 * first exec waits for the listener handed over in this same message. */
	if (s->n_canaries) {
		struct al_error e = {0};
		if (al_supervisor_canaries_watch(s, s->epfd, TAG_CANARY, &e) < 0)
			fail_closed(s, &e);
	}
}

/* A writable area filled up (blocks or inodes): one `limit` event per area. */
void al_supervisor_check_disks(struct al_supervisor *s)
{
	size_t i;
	for (i = 0; i < s->n_disk_fds; i++) {
		struct statfs st;
		struct al_buf b;
		struct al_json j;
		if (s->disk[i].reported || fstatfs(s->disk[i].fd, &st) < 0)
			continue;
		if (st.f_bavail > 0 && st.f_ffree > 0)
			continue;
		s->disk[i].reported = true;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "kind", "disk");
		al_json_kv_str(&j, "path", s->disk[i].path);
		al_json_kv_str(&j, "exhausted", st.f_bavail == 0 ? "space" : "inodes");
		al_json_kv_uint(&j, "limit_bytes", (uint64_t)st.f_blocks * (uint64_t)st.f_bsize);
		al_json_obj_end(&j);
		log_event(s, "limit", b.data);
		al_buf_free(&b);
	}
}

static void exec_event(struct al_supervisor *s)
{
	struct al_buf b;
	struct al_json j;
	size_t i;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_int(&j, "pid", s->workload_pid);
	al_json_kv_int(&j, "ppid", 1);
	al_json_kv_str(&j, "path", s->spec->argv[0]);
	al_json_key(&j, "argv");
	al_json_arr_begin(&j);
	for (i = 0; i < s->spec->argc; i++)
		al_json_str(&j, s->spec->argv[i]);
	al_json_arr_end(&j);
	al_json_kv_str(&j, "source", "init");
	al_json_obj_end(&j);
	log_event(s, "exec", b.data);
	al_buf_free(&b);
}

static void read_sync(struct al_supervisor *s)
{
	for (;;) {
		struct al_msg m;
		char cbuf[CMSG_SPACE(sizeof(int) * AL_MAX_HANDOVER_FDS)];
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof cbuf};
		ssize_t n = recvmsg(s->sync_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ep_del(s->epfd, s->sync_fd);
			close(s->sync_fd);
			s->sync_fd = -1;
			return;
		}
		if ((size_t)n != sizeof m)
			continue;
		if (mh.msg_flags & MSG_CTRUNC) {
			/* descriptors were dropped on the way: we would run blind */
			struct al_error e;
			al_error_set(&e, EPROTO, "supervisor", "descriptors from the sandbox init were truncated");
			fail_closed(s, &e);
		}
		m.text[sizeof m.text - 1] = '\0';
		switch (m.type) {
		case AL_MSG_ERROR:
			s->setup_failed = true;
			s->setup_msg = m;
			break;
		case AL_MSG_FDS:
			take_fds(s, &mh, &m);
			break;
		case AL_MSG_STARTED:
			s->workload_pid = m.status;
			s->t_ready_ns = al_mono_ns();
			if (s->notify == NULL)
				exec_event(s);
			if (s->chaos && s->chaos_timerfd < 0) {
				struct al_error e = {0};
				if (al_sv_chaos_start(s, &e) < 0 ||
				    (s->chaos_timerfd >= 0 &&
				     ep_add(s->epfd, s->chaos_timerfd, EPOLLIN, TAG_CHAOS) < 0 &&
				     al_error_errno(&e, "chaos", "epoll_ctl") < 0))
					fail_closed(s, &e);
			}
			break;
		case AL_MSG_EXEC_FAILED:
			s->exec_errno = m.err ? m.err : ENOENT;
			break;
		case AL_MSG_EXITED:
			s->got_exit_msg = true;
			s->workload_status = m.status;
			break;
		case AL_MSG_SESSION_READY:
		case AL_MSG_CMD_STARTED:
		case AL_MSG_CMD_FAILED:
		case AL_MSG_CMD_EXITED:
			if (s->session)
				al_session_init_msg(s, &m);
			break;
		}
	}
}

static void handle_signal(struct al_supervisor *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		char d[64];
		snprintf(d, sizeof d, "airlock received %s", strsignal((int)si.ssi_signo));
		if (s->kill_reason == AL_KILL_NONE)
			s->kill_signal = (int)si.ssi_signo;
		al_supervisor_kill(s, AL_KILL_SIGNAL, d);
	}
}

static void handle_init_exit(struct al_supervisor *s)
{
	siginfo_t si = {0};
	struct rusage ru = {0};
	/* The raw syscall takes a rusage: the init's CPU time includes every
	 * process it reaped -- the workload, orphans, and all the namespace's
	 * processes, which its exit reaps -- so it is the run's CPU time. */
	if (syscall(SYS_waitid, P_PIDFD, s->pidfd, &si, WEXITED | WNOHANG, &ru) < 0 || si.si_pid == 0)
		return;
	s->rusage_cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
			   ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
	s->init_exited = true;
	s->init_exit_ns = al_mono_ns();
	ep_del(s->epfd, s->pidfd);
	/* Whatever is left is killed now: the namespace died with its init,
	 * and the cgroup kill catches anything that is not in the namespace. */
	if (s->cgroup) {
		struct al_error e;
		al_cgroup_kill(s->cgroup, &e);
	}
}

static void cgroup_events(struct al_supervisor *s)
{
	struct al_cgroup_events ev = {0};
	struct al_error e = {0};
	if (al_cgroup_read_events(s->cgroup, &ev, &e) < 0)
		return;
	if (ev.oom_kills) {
		char f[128];
		snprintf(f, sizeof f, "{\"kind\":\"oom\",\"count\":%llu,\"limit_bytes\":%llu}",
			 (unsigned long long)ev.oom_kills, (unsigned long long)s->spec->limits.memory);
		log_event(s, "limit", f);
	}
	if (ev.pids_max_hits) {
		char f[128];
		snprintf(f, sizeof f, "{\"kind\":\"pids\",\"count\":%llu,\"limit\":%llu}",
			 (unsigned long long)ev.pids_max_hits, (unsigned long long)s->spec->limits.pids);
		log_event(s, "limit", f);
	}
}

/* Proxy mode: the proxy's reports become records; one that cannot be read
 * as a report, or a record that cannot be written, stops the run. */
static void egress_reports(struct al_supervisor *s)
{
	struct al_error e = {0};
	int fd = al_egress_report_fd(s->egress);
	int r = al_egress_handle_reports(s, &e);

	if (r < 0) {
		if (fd >= 0 && al_egress_report_fd(s->egress) >= 0)
			ep_del(s->epfd, fd);
		fail_closed(s, &e);
	} else if (r == 1 && !s->init_exited) {
		/* A proxy that stops reporting but goes on relaying would leave
		 * the sandbox's traffic unrecorded: the channel closing is as bad
		 * as the proxy dying. */
		log_event(s, "net_error",
			  "{\"conn\":0,\"reason\":\"the egress proxy closed its report channel\"}");
		al_supervisor_kill(s, AL_KILL_ERROR,
				   "the egress proxy closed its report channel: the sandbox has no "
				   "recorded way out, killed");
	}
}

/* The proxy is the sandbox's only way out and the recorder of every
 * attempt: if it dies while the sandbox lives, the run fails closed. */
static void egress_exit(struct al_supervisor *s)
{
	char why[160], f[320];
	struct al_buf b;
	struct al_json j;

	if (al_egress_check_alive(s, why, sizeof why))
		return;
	ep_del(s->epfd, al_egress_pidfd(s->egress));
	if (s->init_exited)
		return;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "conn", 0);
	al_json_kv_str(&j, "reason", why);
	al_json_obj_end(&j);
	log_event(s, "net_error", b.data);
	al_buf_free(&b);
	snprintf(f, sizeof f, "%s: the sandbox has no recorded way out, killed", why);
	al_supervisor_kill(s, AL_KILL_ERROR, f);
}


static int setup_loop(struct al_supervisor *s, struct al_error *err)
{
	sigset_t set;
	int r;
	struct itimerspec tick = {.it_interval = {0, 100000000}, .it_value = {0, 100000000}};

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return al_error_errno(err, "supervisor", "epoll_create1");
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return al_error_errno(err, "supervisor", "signalfd");
	s->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->tickfd < 0 || timerfd_settime(s->tickfd, 0, &tick, NULL) < 0)
		return al_error_errno(err, "supervisor", "tick timer");
	if (s->spec->limits.timeout_ns) {
		struct itimerspec t = {.it_value = {(time_t)(s->spec->limits.timeout_ns / 1000000000ull),
						    (long)(s->spec->limits.timeout_ns % 1000000000ull)}};
		s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (s->timerfd < 0 || timerfd_settime(s->timerfd, 0, &t, NULL) < 0)
			return al_error_errno(err, "supervisor", "timeout timer");
		if (ep_add(s->epfd, s->timerfd, EPOLLIN, TAG_TIMEOUT) < 0)
			return al_error_errno(err, "supervisor", "epoll timeout");
	}
	if (ep_add(s->epfd, s->pidfd, EPOLLIN, TAG_PIDFD) < 0 ||
	    ep_add(s->epfd, s->sigfd, EPOLLIN, TAG_SIGNAL) < 0 ||
	    ep_add(s->epfd, s->tickfd, EPOLLIN, TAG_TICK) < 0 ||
	    ep_add(s->epfd, s->sync_fd, EPOLLIN, TAG_SYNC) < 0 ||
	    ep_add(s->epfd, s->out.fd, EPOLLIN, TAG_STDOUT) < 0 ||
	    ep_add(s->epfd, s->err.fd, EPOLLIN, TAG_STDERR) < 0)
		return al_error_errno(err, "supervisor", "epoll_ctl");
	s->out.reading = s->err.reading = true;
	/* The caller's stdout/stderr: a pipe, socket or terminal can block a
	 * writer and is waited for; a file or /dev/null (EPERM) is written
	 * directly. A closed or write-only-broken one counts as a file. */
	r = epoll_capable(s->epfd, s->out.out, EPOLLOUT);
	s->out.out_pollable = r > 0;
	r = epoll_capable(s->epfd, s->err.out, EPOLLOUT);
	s->err.out_pollable = r > 0;
	if (s->in.src >= 0) {
		r = epoll_capable(s->epfd, s->in.src, EPOLLIN);
		if (r < 0) {
			errno = -r;
			return al_error_errno(err, "supervisor", "relaying stdin: epoll_ctl");
		}
		s->in.pollable = r > 0;
	}
	if (s->cgroup && al_cgroup_event_fd(s->cgroup) >= 0 &&
	    ep_add(s->epfd, al_cgroup_event_fd(s->cgroup), EPOLLIN, TAG_CGROUP) < 0)
		return al_error_errno(err, "supervisor", "epoll cgroup events");
	if (s->egress && al_egress_pidfd(s->egress) >= 0 &&
	    (ep_add(s->epfd, al_egress_report_fd(s->egress), EPOLLIN, TAG_EGRESS_REPORT) < 0 ||
	     ep_add(s->epfd, al_egress_pidfd(s->egress), EPOLLIN, TAG_EGRESS_EXIT) < 0))
		return al_error_errno(err, "supervisor", "epoll egress proxy");
	stdin_arm(s);
	if (s->session)
		return al_session_loop_setup(s, err);
	return 0;
}

int al_supervise(struct al_supervisor *s, struct al_error *err)
{
	int r = setup_loop(s, err);
	if (r < 0) {
		al_supervisor_kill(s, AL_KILL_ERROR, err->msg);
		/* fall through: still reap and drain so nothing is left behind */
	}
	/* Done when the init is gone, both pipes are at EOF, the setup socket is
	 * closed and everything read has been handed to the caller. */
	while (!(s->init_exited && s->out.fd < 0 && s->err.fd < 0 && s->sync_fd < 0 &&
		 s->out.plen == 0 && s->err.plen == 0)) {
		struct epoll_event evs[16];
		int i, n;

		n = epoll_wait(s->epfd, evs, 16, s->epfd < 0 ? 10 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			al_supervisor_kill(s, AL_KILL_ERROR, "epoll_wait failed");
			/* Without the loop, wait synchronously for the init. */
			siginfo_t si;
			waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED);
			s->init_exited = true;
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t ticks;
			struct al_error e = {0};
			if (evs[i].data.u64 >= AL_TAG_SESSION) {
				if (s->session)
					al_session_event(s, evs[i].data.u64, evs[i].events);
				continue;
			}
			switch ((enum tag)evs[i].data.u64) {
			case TAG_PIDFD: handle_init_exit(s); break;
			case TAG_SIGNAL: handle_signal(s); break;
			case TAG_TIMEOUT:
				if (read(s->timerfd, &ticks, sizeof ticks) <= 0)
					break;
				/* The timeout bounds the whole run, the output drain after
				 * the workload's exit included. */
				if (!s->init_exited)
					al_supervisor_kill(s, AL_KILL_TIMEOUT, "timeout reached");
				else
					drop_output_now(s);
				break;
			case TAG_TICK:
				if (read(s->tickfd, &ticks, sizeof ticks) > 0 && al_evlog_tick(s->log, &e) < 0)
					fail_closed(s, &e);
				al_supervisor_check_disks(s);
				check_output_stall(s);
				al_monitor_tick(s->monitor);
				if (s->session)
					al_session_tick(s);
				break;
			case TAG_SYNC: read_sync(s); break;
			case TAG_STDOUT:
				relay_output(s, &s->out, 1);
				arm_stream(s, &s->out, TAG_STDOUT, TAG_STDOUT_OUT);
				break;
			case TAG_STDERR:
				relay_output(s, &s->err, 2);
				arm_stream(s, &s->err, TAG_STDERR, TAG_STDERR_OUT);
				break;
			case TAG_STDOUT_OUT:
				flush_output(&s->out);
				arm_stream(s, &s->out, TAG_STDOUT, TAG_STDOUT_OUT);
				break;
			case TAG_STDERR_OUT:
				flush_output(&s->err);
				arm_stream(s, &s->err, TAG_STDERR, TAG_STDERR_OUT);
				break;
			case TAG_STDIN_SRC: stdin_fill(s); stdin_flush(s); stdin_arm(s); break;
			case TAG_STDIN_DST: stdin_flush(s); stdin_arm(s); break;
			case TAG_CANARY:
				al_supervisor_canaries_handle(s);
				break;
			case TAG_NOTIFY:
				if (al_notify_handle(s->notify, &e) < 0 && e.code != ENOENT) {
					/* A listener we can no longer serve would leave the
					 * sandbox blocked or unrecorded: fail closed. */
					ep_del(s->epfd, al_notify_fd(s->notify));
					fail_closed(s, &e);
				}
				break;
			case TAG_CGROUP: cgroup_events(s); break;
			case TAG_CHAOS:
				if (!s->init_exited && al_sv_chaos_fire(s, &e) < 0)
					fail_closed(s, &e);
				break;
			case TAG_GVTRACE_LISTEN: al_gvtrace_accept(s, s->epfd, TAG_GVTRACE_CONN); break;
			case TAG_GVTRACE_CONN: al_gvtrace_read(s, s->epfd); break;
			case TAG_EGRESS_REPORT: egress_reports(s); break;
			case TAG_EGRESS_EXIT: egress_exit(s); break;
			}
		}
		/* After the init is gone, pipes whose writers all died give EOF;
		 * the setup socket too. Nothing can keep them open. A kill (here
		 * or in a handler above) stops waiting for the caller's side. */
		if (s->drop_output && (s->out.plen || s->err.plen || s->out.watching_out ||
				       s->err.watching_out))
			drop_output_now(s);
	}
	detach_stalled_output(s, &s->out);
	detach_stalled_output(s, &s->err);
	/* Limit hits that raced the init's exit (an OOM kill of the last
	 * process, a fork bomb shorter than v1's 100 ms pids sampling) are
	 * still in the counters: record them before the run ends. */
	if (s->cgroup)
		cgroup_events(s);
	stdin_close(s);
	return r;
}
