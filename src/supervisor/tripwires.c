/* The supervisor's side of the tripwires (src/monitor/): start the monitor,
 * give it the log, and the kill it asks for: the whole sandbox at once
 * (cgroup.kill on v2, freezer + SIGKILL on v1, the pid namespace's init
 * otherwise), then a kill record with the time from the triggering event to
 * the last process gone. docs/tripwires.md. */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "cgroup/cgroup.h"
#include "evidence/evlog.h"
#include "monitor/canary.h"
#include "monitor/canary_watch.h"
#include "monitor/exfil.h"
#include "monitor/monitor.h"
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "util/json.h"
#include "util/timeutil.h"

static int mon_append(void *ctx, const char *type, const char *fields, struct al_error *err)
{
	struct al_supervisor *s = ctx;
	return al_evlog_append(s->log, type, fields, err);
}

/* The dying sandbox must not wait for CPU: its own quota (limits.cpus, 1.0
 * by default) may be used up for this period, and a throttled process does
 * not run its exit until the next period (up to 100 ms). Lifted once the
 * kill is under way: nothing inside can run user code any more. */
static void unthrottle(struct al_supervisor *s)
{
	struct al_error e = {0};

	if (s->cgroup && !s->kill_unthrottled) {
		s->kill_unthrottled = true;
		(void)al_cgroup_kill_boost(s->cgroup, &e); /* best effort */
	}
}

/* The first thing a kill rule does, before any record is written: SIGKILL
 * to the pid namespace's init. Its death makes the kernel SIGKILL every
 * process of the namespace and reap them all before the init's exit is
 * reported (the pidfd becoming readable). */
static void mon_kill_now(void *ctx)
{
	struct al_supervisor *s = ctx;

	if (!s->init_exited && s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	if (s->kill_sent_ns == 0)
		s->kill_sent_ns = al_mono_ns();
	unthrottle(s);
}

static void mon_kill(void *ctx, const char *why, uint64_t t_event_ns)
{
	struct al_supervisor *s = ctx;
	struct al_error e = {0};
	struct al_buf b;
	struct al_json j;
	const char *method;
	bool gone = true;
	uint64_t t_gone;

	mon_kill_now(s); /* (again: harmless, and the callers without kill_now) */
	if (s->cgroup && strcmp(al_cgroup_mode(s->cgroup), "v2") == 0) {
		/* cgroup.kill: one write, the kernel kills every process inside
		 * (also those forking meanwhile); returns once it is empty */
		method = "cgroup.kill";
		al_supervisor_kill(s, AL_KILL_POLICY, why);
		t_gone = al_mono_ns();
	} else {
		/* The pid namespace's init was killed first (mon_kill_now): the
		 * last process is gone when its pidfd reports the exit. The v1
		 * freezer (al_cgroup_kill, below) is not used first: a process
		 * waiting in a seccomp notification the supervisor holds (the exec
		 * that fired the rule) cannot be frozen, it would take the
		 * freezer's full 1 s timeout. */
		struct pollfd p = {.fd = s->pidfd, .events = POLLIN};
		method = s->cgroup && strncmp(al_cgroup_mode(s->cgroup), "none", 4) != 0
		             ? "pidns-init+freezer"
		             : "pidns-init";
		if (!s->init_exited && s->pidfd >= 0)
			gone = poll(&p, 1, 2000) > 0;
		t_gone = al_mono_ns();
		/* then the cgroup, for anything left (nothing, normally: an empty
		 * cgroup is one read of cgroup.procs) */
		al_supervisor_kill(s, AL_KILL_POLICY, why);
		if (!gone)
			t_gone = al_mono_ns();
	}
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "reason", why);
	al_json_kv_str(&j, "method", method);
	al_json_kv_bool(&j, "all_gone", gone);
	al_json_kv_uint(&j, "elapsed_ns", t_gone - t_event_ns);
	al_json_kv_uint(&j, "event_mono_ns", t_event_ns);
	if (s->kill_sent_ns >= t_event_ns)
		al_json_kv_uint(&j, "signal_ns", s->kill_sent_ns - t_event_ns);
	al_json_obj_end(&j);
	if (b.oom || al_evlog_append(s->log, "kill", b.data, &e) < 0)
		s->kill_reason = AL_KILL_ERROR; /* not recorded: airlock's own failure */
	al_buf_free(&b);
}

int al_supervisor_monitor_start(struct al_supervisor *s, struct al_error *err)
{
	struct al_monitor_ops ops = {
	    .append = mon_append, .kill = mon_kill, .kill_now = mon_kill_now, .ctx = s};
	const char *root = strcmp(s->spec->image, "host") == 0 ? "/" : s->spec->image;

	return al_monitor_open(&s->monitor, s->spec, root, &ops, err);
}

/* what was planted: path (or variable), kind, the token's hash */
static int log_planted(struct al_supervisor *s, struct al_error *err)
{
	int r;

	/* what was planted: path (or variable), kind, the token's hash */
	for (size_t i = 0; i < s->n_canaries; i++) {
		const struct al_canary *c = &s->canaries[i];
		struct al_buf b;
		struct al_json j;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "kind", al_canary_kind_name(c->kind));
		if (c->kind == AL_CANARY_ENV)
			al_json_kv_str(&j, "name", c->name);
		else
			al_json_kv_str(&j, "path", c->path);
		al_json_kv_str(&j, "token_sha256", c->token_sha256);
		al_json_obj_end(&j);
		r = b.oom ? al_error_set(err, ENOMEM, "canary", "recording a canary")
		          : al_evlog_append(s->log, "canary_planted", b.data, err);
		al_buf_free(&b);
		if (r < 0)
			return r;
	}
	return 0;
}

static int output_build(struct al_supervisor *s);

int al_supervisor_canaries_prepare(struct al_supervisor *s, struct al_sandbox_plan *plan,
                                   struct al_error *err)
{
	const struct al_spec *sp = s->spec;
	const char *home = sp->uid == 0 ? "/root" : "/home/agent";
	size_t nenv = 0;

	if (sp->n_canaries == 0)
		return 0;
	s->canaries = calloc(sp->n_canaries, sizeof *s->canaries);
	if (s->canaries == NULL)
		return al_error_set(err, ENOMEM, "canary", "making the canaries");
	for (size_t i = 0; i < sp->n_canaries; i++) {
		struct al_canary *c = &s->canaries[i];
		int r = al_canary_make(&sp->canaries[i], home, c);
		if (r < 0)
			return al_error_set(err, -r, "canary", "making canary %zu", i);
		s->n_canaries++;
		if (c->kind == AL_CANARY_ENV) {
			nenv++;
			continue;
		}
		for (size_t k = 0; k < plan->n_canaries; k++)
			if (strcmp(plan->canaries[k].path, c->path) == 0)
				return al_error_set(err, EEXIST, "canary", "two canaries at %s", c->path);
		if (plan->n_canaries >= AL_MAX_CANARIES)
			return al_error_set(err, E2BIG, "canary", "too many canaries");
		plan->canaries[plan->n_canaries++] =
		    (struct al_canary_file){.path = c->path, .content = c->content, .len = c->len};
	}
	if (output_build(s) < 0)
		return al_error_set(err, ENOMEM, "canary", "the output scanner");
	if (nenv) {
		size_t n = 0;
		char **env;
		while (plan->envp && plan->envp[n])
			n++;
		env = realloc(plan->envp, (n + nenv + 1) * sizeof *env);
		if (env == NULL)
			return al_error_set(err, ENOMEM, "canary", "the environment");
		plan->envp = env;
		for (size_t i = 0; i < s->n_canaries; i++) {
			if (s->canaries[i].kind != AL_CANARY_ENV)
				continue;
			/* replaces a variable of the same name */
			size_t nl = strlen(s->canaries[i].name), k;
			char *v = strdup(s->canaries[i].content);
			if (v == NULL)
				return al_error_set(err, ENOMEM, "canary", "the environment");
			for (k = 0; k < n; k++)
				if (strncmp(env[k], s->canaries[i].name, nl) == 0 && env[k][nl] == '=')
					break;
			if (k < n) {
				free(env[k]);
				env[k] = v;
			} else {
				env[n++] = v;
			}
		}
		env[n] = NULL;
	}
	return 0;
}

struct al_output_scan {
	struct al_exfil *x;
	char *tokens[AL_SPEC_MAX_CANARIES]; /* into s->canaries[i].token */
	struct al_exfil_stream st[2];
	uint32_t seen[2]; /* canaries already reported, per stream */
	struct al_supervisor *s;
	int stream;
};

static int output_build(struct al_supervisor *s)
{
	const char *toks[AL_SPEC_MAX_CANARIES];
	struct al_output_scan *o;

	for (size_t i = 0; i < s->n_canaries; i++)
		toks[i] = s->canaries[i].token;
	o = calloc(1, sizeof *o);
	if (o)
		for (size_t i = 0; i < s->n_canaries; i++)
			o->tokens[i] = s->canaries[i].token;
	if (o == NULL || al_exfil_build(&o->x, toks, s->n_canaries) < 0) {
		free(o);
		return -ENOMEM;
	}
	al_exfil_stream_init(&o->st[0], o->x);
	al_exfil_stream_init(&o->st[1], o->x);
	o->s = s;
	s->out_scan = o;
	return 0;
}

static int output_hit(void *ctx, const struct al_exfil_hit *h)
{
	struct al_output_scan *o = ctx;
	struct al_supervisor *s = o->s;
	const struct al_canary *c = &s->canaries[h->token];
	uint32_t bit = 1u << h->token;
	struct al_buf b;
	struct al_json j;
	struct al_error e = {0};
	int r;

	if (o->seen[o->stream - 1] & bit)
		return 0; /* once per canary and stream */
	o->seen[o->stream - 1] |= bit;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "stream", o->stream == 1 ? "stdout" : "stderr");
	al_json_kv_uint(&j, "offset", h->end);
	al_json_kv_str(&j, "kind", al_canary_kind_name(c->kind));
	if (c->kind == AL_CANARY_ENV)
		al_json_kv_str(&j, "name", c->name);
	else
		al_json_kv_str(&j, "path", c->path);
	al_json_kv_str(&j, "token_sha256", c->token_sha256);
	al_json_kv_str(&j, "encoding", h->variant);
	al_json_obj_end(&j);
	if (b.oom)
		r = al_error_set(&e, ENOMEM, "canary", "a canary_output record");
	else if (s->monitor)
		r = al_monitor_record(s->monitor, "canary_output", b.data, &e);
	else
		r = al_evlog_append(s->log, "canary_output", b.data, &e);
	al_buf_free(&b);
	if (r < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
	return 0;
}

/* Output rules: each stream cut in lines for the monitor. */
struct al_output_lines {
	char buf[2][AL_MONITOR_LINE_MAX];
	size_t len[2];
	uint64_t start[2]; /* stream offset of buf[k][0] */
	uint64_t seen[2];  /* bytes of the stream so far */
};

static void line_out(struct al_supervisor *s, struct al_output_lines *l, int k)
{
	struct al_error e = {0};
	size_t n = l->len[k];

	if (n > 0 && l->buf[k][n - 1] == '\r')
		n--;
	if (al_monitor_output_line(s->monitor, k + 1, l->start[k], l->buf[k], n, &e) < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
	l->len[k] = 0;
}

static void output_lines(struct al_supervisor *s, int stream, const char *p, size_t len)
{
	struct al_output_lines *l = s->out_lines;
	int k = stream - 1;

	if (l == NULL) {
		if (!al_monitor_has_output_rules(s->monitor))
			return;
		l = s->out_lines = calloc(1, sizeof *l);
		if (l == NULL) {
			al_supervisor_kill(s, AL_KILL_ERROR, "out of memory for the output rules");
			return;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (l->len[k] == 0)
			l->start[k] = l->seen[k] + i;
		if (p[i] == '\n') {
			line_out(s, l, k);
			continue;
		}
		/* a NUL would end the line for the glob: matched as a space */
		l->buf[k][l->len[k]++] = p[i] ? p[i] : ' ';
		if (l->len[k] == AL_MONITOR_LINE_MAX)
			line_out(s, l, k); /* a long line: in pieces */
	}
	l->seen[k] += len;
}

void al_supervisor_output_eof(struct al_supervisor *s, int stream)
{
	struct al_output_lines *l = s->out_lines;

	if (l && (stream == 1 || stream == 2) && l->len[stream - 1] > 0)
		line_out(s, l, stream - 1);
}

void al_supervisor_output_scan(struct al_supervisor *s, int stream, const void *data, size_t len)
{
	struct al_output_scan *o = s->out_scan;

	if (stream != 1 && stream != 2)
		return;
	if (s->monitor)
		output_lines(s, stream, data, len);
	if (o == NULL)
		return;
	o->stream = stream;
	/* line breaks left out: base64(1) wraps at 76 columns */
	al_exfil_feed_unwrapped(&o->st[stream - 1], data, len, output_hit, o);
}

struct name_hit {
	bool hit;
	struct al_exfil_hit h;
};

static int name_cb(void *ctx, const struct al_exfil_hit *h)
{
	struct name_hit *nh = ctx;
	nh->hit = true;
	nh->h = *h;
	return 1;
}

static bool scan_name(const struct al_exfil *x, const char *name, bool strip_dots,
                      struct name_hit *nh)
{
	struct al_exfil_stream st;
	char buf[512];
	size_t n = 0;

	for (const char *p = name; *p && n < sizeof buf; p++)
		if (!strip_dots || *p != '.')
			buf[n++] = *p;
	al_exfil_stream_init(&st, x);
	al_exfil_feed(&st, buf, n, name_cb, nh);
	return nh->hit;
}

void al_supervisor_exfil_tokens(struct al_supervisor *s, char ***tokens, size_t *n)
{
	*tokens = s->out_scan ? s->out_scan->tokens : NULL;
	*n = s->out_scan ? s->n_canaries : 0;
}

static int exfil_record(struct al_supervisor *s, const char *channel, const char *proto,
                        const char *where, const char *host, size_t token, const char *variant,
                        struct al_error *err)
{
	const struct al_canary *c = &s->canaries[token];
	struct al_buf b;
	struct al_json j;
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "channel", channel);
	al_json_kv_str(&j, "proto", proto);
	al_json_kv_str(&j, "where", where);
	al_json_kv_str(&j, "host", host);
	al_json_kv_str(&j, "kind", al_canary_kind_name(c->kind));
	if (c->kind == AL_CANARY_ENV)
		al_json_kv_str(&j, "name", c->name);
	else
		al_json_kv_str(&j, "path", c->path);
	al_json_kv_str(&j, "token_sha256", c->token_sha256);
	al_json_kv_str(&j, "encoding", variant);
	al_json_obj_end(&j);
	if (b.oom)
		r = al_error_set(err, ENOMEM, "exfil", "an exfil record");
	else if (s->monitor)
		r = al_monitor_record(s->monitor, "exfil", b.data, err);
	else
		r = al_evlog_append(s->log, "exfil", b.data, err);
	al_buf_free(&b);
	return r < 0 ? r : 0;
}

int al_supervisor_exfil_report(struct al_supervisor *s, size_t token, const char *variant,
                               const char *where, const char *proto, const char *host,
                               struct al_error *err)
{
	static const char *const known[] = {"plain", "reversed", "hex", "base64", "base64url",
	                                    "base32", "url-encoded"};
	static const char *const places[] = {"head", "body", "body-gzip", "body-deflate",
	                                     "stream"};
	const char *v = NULL, *w = NULL;

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(variant, known[i]) == 0)
			v = known[i];
	for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
		if (strcmp(where, places[i]) == 0)
			w = places[i];
	if (token >= s->n_canaries || v == NULL || w == NULL)
		return al_error_set(err, EPROTO, "exfil", "the proxy reported an unknown token");
	return exfil_record(s, "request", proto, w, host, token, v, err);
}

void al_supervisor_exfil_names(struct al_supervisor *s, const char *channel, const char *proto,
                               const char *const *names, size_t n)
{
	struct al_output_scan *o = s->out_scan;

	if (o == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct name_hit nh = {0};
		if (names[i] == NULL || names[i][0] == '\0')
			continue;
		if (!scan_name(o->x, names[i], false, &nh) && !scan_name(o->x, names[i], true, &nh))
			continue;
		struct al_error e = {0};
		if (exfil_record(s, channel, proto, i == 0 ? "name" : "sni", names[i], nh.h.token,
		                 nh.h.variant, &e) < 0)
			al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
		return; /* one record per report */
	}
}

static int canary_cb(void *ctx, const char *fields, uint64_t t_ns, struct al_error *err)
{
	struct al_supervisor *s = ctx;
	int r;

	if (s->monitor == NULL)
		return al_evlog_append(s->log, "canary", fields, err);
	r = al_monitor_record_at(s->monitor, "canary", fields, t_ns, err);
	if (r < 0)
		return r;
	/* killed: the access waiting in the kernel is refused too */
	return al_monitor_killed(s->monitor) ? 1 : r;
}

int al_supervisor_canaries_watch(struct al_supervisor *s, int epfd, uint32_t tag,
                                 struct al_error *err)
{
	size_t nfile = 0;
	int fds[2], r;

	if (s->canary_watch)
		return 0;
	r = log_planted(s, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_canaries; i++)
		nfile += s->canaries[i].kind != AL_CANARY_ENV;
	if (nfile == 0)
		return 0;
	if (s->n_canary_fds != nfile)
		return al_error_set(err, EPROTO, "canary", "the init planted %zu of %zu canaries",
		                    s->n_canary_fds, nfile);
	/* the file canaries in the plan's order */
	struct al_canary *files = calloc(nfile, sizeof *files);
	if (files == NULL)
		return al_error_set(err, ENOMEM, "canary", "watching");
	/* the watch fills dev/ino into these copies; keep them with the watch */
	for (size_t i = 0, k = 0; i < s->n_canaries; i++)
		if (s->canaries[i].kind != AL_CANARY_ENV)
			files[k++] = s->canaries[i];
	r = al_canary_watch_open(&s->canary_watch, files, nfile, s->canary_fds,
	                         !s->plan->rootless, err);
	if (r < 0) {
		free(files);
		return r;
	}
	s->n_canary_fds = 0;
	s->canary_files = files;
	al_canary_watch_set_init(s->canary_watch, s->pid);
	al_canary_watch_fds(s->canary_watch, fds);
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
		if (fds[i] >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return al_error_errno(err, "canary", "epoll");
	}
	return 0;
}

void al_supervisor_canaries_handle(struct al_supervisor *s)
{
	struct al_error e = {0};

	if (s->canary_watch && al_canary_watch_handle(s->canary_watch, canary_cb, s, &e) < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
}

void al_supervisor_canaries_end(struct al_supervisor *s)
{
	al_canary_watch_free(s->canary_watch);
	s->canary_watch = NULL;
	free(s->canary_files);
	s->canary_files = NULL;
	for (size_t i = 0; i < s->n_canary_fds; i++)
		close(s->canary_fds[i]);
	s->n_canary_fds = 0;
	free(s->out_lines);
	s->out_lines = NULL;
	if (s->out_scan) {
		al_exfil_stream_end(&s->out_scan->st[0]);
		al_exfil_stream_end(&s->out_scan->st[1]);
		al_exfil_free(s->out_scan->x);
		free(s->out_scan);
		s->out_scan = NULL;
	}
	for (size_t i = 0; i < s->n_canaries; i++)
		al_canary_free(&s->canaries[i]);
	free(s->canaries);
	s->canaries = NULL;
	s->n_canaries = 0;
}

void al_supervisor_monitor_event(struct al_supervisor *s, const char *type, const char *fields)
{
	struct al_error e = {0};

	if (s->monitor && al_monitor_event(s->monitor, type, fields, &e) < 0)
		al_supervisor_kill(s, AL_KILL_ERROR, e.msg);
}
