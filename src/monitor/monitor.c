/* The tripwire monitor (monitor.h). */
#define _GNU_SOURCE
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evidence/jscan.h"
#include "monitor/alert.h"
#include "monitor/pkgmgr.h"
#include "util/json.h"
#include "util/timeutil.h"

/* rule_fired records per run; past it, firings are counted (a kill still
 * happens: it ends the run) */
#define MON_FIRED_RECORDS 10000
#define MON_MAX_ALERTS 64
#define MON_PIPES 64
/* output_match records per run; past it, matching lines are counted */
#define MON_OUTPUT_RECORDS 1000
/* argv entries looked at for classification (the record holds at most 256) */
#define MON_ARGV 256

struct pipe_seen {
	uint64_t ino;
	bool fetch_writes, shell_reads;
};

struct al_monitor {
	struct al_ruleset rs;
	struct al_pkgdb db;
	struct al_monitor_ops ops;
	const struct al_alert_spec *alert;
	uint64_t fired, fired_unrecorded;
	bool killed;
	struct al_alert_job jobs[MON_MAX_ALERTS];
	size_t n_jobs;
	uint64_t alerts_dropped;
	struct pipe_seen pipes[MON_PIPES];
	size_t pipe_next;
	bool output_rules;          /* some rule is on output */
	uint64_t output_records;    /* output_match records written */
	uint64_t output_unrecorded; /* matching lines past the cap */
};

int al_monitor_open(struct al_monitor **out, const struct al_spec *spec, const char *image_root,
                    const struct al_monitor_ops *ops, struct al_error *err)
{
	struct al_monitor *m = calloc(1, sizeof *m);
	int r;

	*out = NULL;
	if (m == NULL)
		return al_error_set(err, ENOMEM, "monitor", "allocating the monitor");
	r = al_ruleset_build(&m->rs, spec);
	if (r < 0) {
		free(m);
		return al_error_set(err, -r, "monitor", "building the rules");
	}
	m->ops = *ops;
	m->alert = &spec->alert;
	for (size_t i = 0; i < m->rs.n; i++)
		if (m->rs.rules[i].on == AL_ON_OUTPUT)
			m->output_rules = true;
	if (image_root) {
		r = al_pkgdb_scan(&m->db, image_root);
		if (r < 0 && r != -ENOENT) {
			al_monitor_free(m);
			return al_error_set(err, -r, "monitor",
			                    "hashing the image's package managers under %s",
			                    image_root);
		}
	}
	*out = m;
	return 0;
}

void al_monitor_pkgdb_stats(const struct al_monitor *m, size_t *entries, uint64_t *scan_ns,
                            size_t *bytes)
{
	*entries = m->db.n;
	*scan_ns = m->db.scan_ns;
	*bytes = m->db.bytes_hashed;
}

bool al_monitor_killed(const struct al_monitor *m)
{
	return m->killed;
}

static bool map_type(const char *type, const struct al_jval *obj, enum al_rule_on *on)
{
	struct al_jval v;

	if (strcmp(type, "exec") == 0)
		*on = AL_ON_EXEC;
	else if (strcmp(type, "syscall_denied") == 0)
		*on = AL_ON_SYSCALL_DENIED;
	else if (strcmp(type, "limit") == 0 || strcmp(type, "output_capped") == 0)
		*on = AL_ON_LIMIT;
	else if (strcmp(type, "canary") == 0)
		*on = AL_ON_CANARY;
	else if (strcmp(type, "canary_output") == 0)
		*on = AL_ON_CANARY_OUTPUT;
	else if (strcmp(type, "exfil") == 0)
		*on = AL_ON_EXFIL;
	else if (strcmp(type, "output_match") == 0)
		*on = AL_ON_OUTPUT;
	else if (strncmp(type, "net_", 4) == 0 || strncmp(type, "dns", 3) == 0) {
		/* the egress proxy's records: a refused name or connection */
		if (!al_jobj_get(obj, "allowed", &v) || v.type != AL_J_FALSE)
			return false;
		*on = strstr(type, "dns") ? AL_ON_DNS_DENIED : AL_ON_EGRESS_DENIED;
	} else
		return false;
	return true;
}

static void get_str(const struct al_jval *obj, const char *key, char *out, size_t len)
{
	struct al_jval v;

	out[0] = '\0';
	if (al_jobj_get(obj, key, &v) && v.type == AL_J_STRING)
		al_jstr_unescape(&v, out, len);
}

static bool get_u64(const struct al_jval *obj, const char *key, uint64_t *out)
{
	struct al_jval v;
	return al_jobj_get(obj, key, &v) && v.type == AL_J_NUMBER && al_jnum_u64(&v, out) == 0;
}

static void file_of(const struct al_jval *fo, struct al_pkg_file *f, char *sha, size_t shalen)
{
	char dev[48];
	unsigned long long ma, mi;

	memset(f, 0, sizeof *f);
	get_str(fo, "sha256", sha, shalen);
	f->sha256 = sha[0] ? sha : NULL;
	get_str(fo, "dev", dev, sizeof dev);
	f->have_size = get_u64(fo, "size", &f->size);
	if (sscanf(dev, "%llu:%llu", &ma, &mi) == 2 && get_u64(fo, "ino", &f->ino)) {
		f->dev_major = ma;
		f->dev_minor = mi;
		f->have_id = true;
	}
}

/* pipe:[N] on /proc/PID/fd/FD, or 0 */
static uint64_t fd_pipe(uint64_t host_pid, int fd)
{
	char p[64], link[64];
	ssize_t n;
	unsigned long long ino;

	snprintf(p, sizeof p, "/proc/%" PRIu64 "/fd/%d", host_pid, fd);
	n = readlink(p, link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	return sscanf(link, "pipe:[%llu]", &ino) == 1 ? ino : 0;
}

/* curl | sh across two execs: the fetcher writes a pipe a shell reads as
 * its script. Whichever of the two execs comes second is the one caught. */
static bool pipe_pair(struct al_monitor *m, uint64_t ino, bool fetch)
{
	struct pipe_seen *ps = NULL;

	if (ino == 0)
		return false;
	for (size_t i = 0; i < MON_PIPES; i++)
		if (m->pipes[i].ino == ino)
			ps = &m->pipes[i];
	if (ps == NULL) {
		ps = &m->pipes[m->pipe_next++ % MON_PIPES];
		memset(ps, 0, sizeof *ps);
		ps->ino = ino;
	}
	if (fetch)
		ps->fetch_writes = true;
	else
		ps->shell_reads = true;
	return ps->fetch_writes && ps->shell_reads;
}

/* A shell that reads its script from stdin: no operand but options, and no -c. */
static bool shell_reads_stdin(const char *const *argv, size_t argc)
{
	for (size_t i = 1; i < argc; i++) {
		if (argv[i][0] != '-' && argv[i][0] != '+')
			return false;
		if (strcmp(argv[i], "-s") == 0)
			return true;
		if (argv[i][1] != '-' && strchr(argv[i], 'c'))
			return false;
	}
	return true;
}

struct exec_view {
	char path[4097];
	char *argv_store;
	const char *argv[MON_ARGV];
	size_t argc;
	struct al_pkg_file files[1 + 5];
	char shas[6][65];
	size_t n_files;
	enum al_rule_origin origin;
	uint64_t host_pid;
};

static void read_exec(const struct al_jval *obj, struct exec_view *x)
{
	struct al_jval v, el, fo;
	struct al_jiter it;
	size_t used = 0, cap = 16384 + MON_ARGV + 1;

	get_str(obj, "path", x->path, sizeof x->path);
	x->argc = 0;
	x->argv_store = malloc(cap);
	if (x->argv_store && al_jobj_get(obj, "argv", &v) && v.type == AL_J_ARRAY) {
		al_jiter_init(&it, &v);
		while (x->argc < MON_ARGV && al_jarr_next(&it, &el)) {
			if (el.type != AL_J_STRING || used >= cap)
				break;
			size_t l = al_jstr_unescape(&el, x->argv_store + used, cap - used);
			if (l >= cap - used)
				l = cap - used - 1;
			x->argv[x->argc++] = x->argv_store + used;
			used += l + 1;
		}
	}
	x->origin = AL_ORIGIN_ANY;
	x->n_files = 0;
	if (al_jobj_get(obj, "file", &fo) && fo.type == AL_J_OBJECT) {
		struct al_jval im;
		if (al_jobj_get(&fo, "image", &im))
			x->origin = im.type == AL_J_TRUE ? AL_ORIGIN_IMAGE : AL_ORIGIN_WRITABLE;
		file_of(&fo, &x->files[0], x->shas[0], sizeof x->shas[0]);
		x->n_files = 1;
	}
	if (al_jobj_get(obj, "interpreters", &v) && v.type == AL_J_ARRAY) {
		al_jiter_init(&it, &v);
		while (x->n_files < 6 && al_jarr_next(&it, &el)) {
			if (el.type != AL_J_OBJECT || !al_jobj_get(&el, "file", &fo) ||
			    fo.type != AL_J_OBJECT)
				continue;
			file_of(&fo, &x->files[x->n_files], x->shas[x->n_files],
			        sizeof x->shas[0]);
			x->n_files++;
		}
	}
	x->host_pid = 0;
	get_u64(obj, "host_pid", &x->host_pid);
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void start_alert(struct al_monitor *m, int rule, const char *type, const char *json)
{
	bool both[2] = {m->alert->webhook != NULL, m->alert->command != NULL};

	for (int k = 0; k < 2; k++) {
		if (!both[k])
			continue;
		if (m->n_jobs >= MON_MAX_ALERTS) {
			m->alerts_dropped++;
			continue;
		}
		if (al_alert_start(m->alert, type, json, rule, k == 0, &m->jobs[m->n_jobs]) == 0)
			m->n_jobs++;
		else
			m->alerts_dropped++;
	}
}

/* What the rules made of one event (decide), for act. */
struct decision {
	struct al_mon_event ev;
	struct al_jval obj;
	struct exec_view *x;
	char why[256], path[4097], host[512], sc[64];
	char text[AL_MONITOR_LINE_MAX + 1], stream[8];
	int idx;
};

static void decision_free(struct decision *d)
{
	if (d->x) {
		free(d->x->argv_store);
		free(d->x);
		d->x = NULL;
	}
}

/* Classify the event and check the rules: the index of the rule that fires,
 * -1 for none; -errno below that. Counts rate rules (once per event). A kill
 * rule starts the kill here, before anything is written. */
static int decide(struct al_monitor *m, const char *type, const char *fields_json,
                  uint64_t t_event_ns, struct decision *d, struct al_error *err)
{
	struct al_mon_event *ev = &d->ev;

	d->idx = -1;
	if (m->killed || fields_json == NULL)
		return -1;
	if (al_jscan_value(fields_json, strlen(fields_json), false, &d->obj) < 0 ||
	    d->obj.type != AL_J_OBJECT)
		return -1;
	if (!map_type(type, &d->obj, &ev->on))
		return -1;
	ev->t_ns = t_event_ns ? t_event_ns : al_mono_ns();
	if (ev->on == AL_ON_EXEC) {
		struct exec_view *x = d->x = calloc(1, sizeof *x);
		if (x == NULL)
			return al_error_set(err, ENOMEM, "monitor", "reading an exec record");
		read_exec(&d->obj, x);
		struct al_pkg_exec pe = {.path = x->path, .argv = x->argv, .argc = x->argc,
		                         .files = x->files, .n_files = x->n_files};
		ev->path = x->path;
		ev->argv = x->argv;
		ev->argc = x->argc;
		ev->origin = x->origin;
		/* the image's package managers a copy could equal: hashed now,
		 * once (pkgdb.c), not at every run's start */
		al_pkgdb_hash_for(&m->db, x->files, x->n_files);
		ev->package_manager = al_pkgmgr_match(&m->db, &pe, d->why, sizeof d->why);
		if (!ev->package_manager && x->host_pid && x->argc > 0) {
			const char *nm = base(x->argv[0]), *pn = base(x->path);
			if (al_pkgmgr_is_fetcher(nm) || al_pkgmgr_is_fetcher(pn)) {
				if (pipe_pair(m, fd_pipe(x->host_pid, 1), true))
					snprintf(d->why, sizeof d->why,
					         "download piped into a shell (%s | sh)", nm);
			} else if ((al_pkgmgr_is_shell(nm) || al_pkgmgr_is_shell(pn)) &&
			           shell_reads_stdin(x->argv, x->argc)) {
				if (pipe_pair(m, fd_pipe(x->host_pid, 0), false))
					snprintf(d->why, sizeof d->why,
					         "download piped into a shell (curl | %s)", nm);
			}
			ev->package_manager = d->why[0] != '\0';
		}
	} else {
		get_str(&d->obj, "path", d->path, sizeof d->path);
		get_str(&d->obj, "host", d->host, sizeof d->host);
		if (d->host[0] == '\0')
			get_str(&d->obj, "name", d->host, sizeof d->host);
		get_str(&d->obj, "syscall", d->sc, sizeof d->sc);
		if (ev->on == AL_ON_OUTPUT) {
			get_str(&d->obj, "line", d->text, sizeof d->text);
			get_str(&d->obj, "stream", d->stream, sizeof d->stream);
			ev->text = d->text;
			ev->stream = strcmp(d->stream, "stdout") == 0   ? 1
			             : strcmp(d->stream, "stderr") == 0 ? 2
			                                                : 0;
		}
		ev->path = d->path[0] ? d->path : NULL;
		ev->host = d->host[0] ? d->host : NULL;
		ev->syscall = d->sc[0] ? d->sc : NULL;
	}
	d->idx = al_ruleset_eval(&m->rs, ev);
	if (d->idx >= 0 && m->rs.rules[d->idx].action == AL_ACT_KILL) {
		m->killed = true;
		if (m->ops.kill_now)
			m->ops.kill_now(m->ops.ctx);
	}
	return d->idx;
}

/* The rule decided: rule_fired, then the kill (the callee waits for the
 * last process and records it), then alerts. */
static int act(struct al_monitor *m, const char *type, const char *fields_json,
               struct decision *d, struct al_error *err)
{
	const struct al_rule *rule = &m->rs.rules[d->idx];
	const struct al_mon_event *ev = &d->ev;
	bool from_spec = (size_t)d->idx < m->rs.n_spec;
	int idx = d->idx, r = 0;

	m->fired++;
	if (m->fired <= MON_FIRED_RECORDS || rule->action == AL_ACT_KILL) {
		struct al_buf b;
		struct al_json j;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_uint(&j, "rule", (uint64_t)idx + 1);
		al_json_key(&j, "rule_def");
		al_json_obj_begin(&j);
		al_rule_json(rule, from_spec, &j);
		al_json_obj_end(&j);
		al_json_kv_str(&j, "event", type);
		al_json_kv_str(&j, "action", al_rule_action_name(rule->action));
		if (d->why[0])
			al_json_kv_str(&j, "package_install", d->why);
		if (ev->path)
			al_json_kv_str(&j, "path", ev->path);
		if (ev->host)
			al_json_kv_str(&j, "host", ev->host);
		if (ev->syscall)
			al_json_kv_str(&j, "syscall", ev->syscall);
		{
			struct al_jval pv;
			if (al_jobj_get(&d->obj, "pid", &pv) && pv.type == AL_J_NUMBER)
				al_json_kv_int(&j, "pid", strtoll(pv.p, NULL, 10));
		}
		if (rule->count >= 2)
			al_json_kv_uint(&j, "count", rule->count);
		if (rule->alert)
			al_json_kv_bool(&j, "alert", true);
		al_json_obj_end(&j);
		r = b.oom ? al_error_set(err, ENOMEM, "monitor", "building rule_fired")
		          : m->ops.append(m->ops.ctx, "rule_fired", b.data, err);
		al_buf_free(&b);
	} else {
		m->fired_unrecorded++;
	}
	if (rule->action == AL_ACT_KILL) {
		char desc[300];
		snprintf(desc, sizeof desc, "rule %d (on %s%s%s)", idx + 1, al_rule_on_name(rule->on),
		         d->why[0] ? ": " : "", d->why);
		m->ops.kill(m->ops.ctx, desc, ev->t_ns);
	}
	/* alerts only after the kill: they never delay it */
	if (rule->alert)
		start_alert(m, idx + 1, type, fields_json);
	if (r == 0 && rule->action == AL_ACT_DENY)
		r = AL_MONITOR_DENY;
	return r;
}

int al_monitor_event(struct al_monitor *m, const char *type, const char *fields_json,
                     struct al_error *err)
{
	struct decision d = {0};
	int r = decide(m, type, fields_json, 0, &d, err);

	if (r >= 0)
		r = act(m, type, fields_json, &d, err);
	else if (r == -1)
		r = 0;
	decision_free(&d);
	return r;
}

int al_monitor_record_at(struct al_monitor *m, const char *type, const char *fields_json,
                         uint64_t t_event_ns, struct al_error *err)
{
	struct decision d = {0};
	int r = decide(m, type, fields_json, t_event_ns, &d, err), a;

	if (r < -1) {
		decision_free(&d);
		return r;
	}
	/* then the event's record (a kill, if any, is already under way) */
	a = m->ops.append(m->ops.ctx, type, fields_json, err);
	if (a < 0) {
		if (d.idx >= 0 && m->rs.rules[d.idx].action == AL_ACT_KILL) {
			/* the kill still completes (and its record is tried) */
			struct al_error e2 = {0};
			(void)act(m, type, fields_json, &d, &e2);
		}
		decision_free(&d);
		return a;
	}
	r = d.idx >= 0 ? act(m, type, fields_json, &d, err) : 0;
	decision_free(&d);
	return r;
}

int al_monitor_record(void *monitor, const char *type, const char *fields_json,
                      struct al_error *err)
{
	return al_monitor_record_at(monitor, type, fields_json, 0, err);
}

bool al_monitor_has_output_rules(const struct al_monitor *m)
{
	return m && m->output_rules;
}

int al_monitor_output_line(struct al_monitor *m, int stream, uint64_t offset, const char *line,
                           size_t len, struct al_error *err)
{
	struct al_mon_event ev = {.on = AL_ON_OUTPUT, .stream = stream};
	struct al_jval obj, lv;
	char text[AL_MONITOR_LINE_MAX + 1];
	struct al_buf b;
	struct al_json j;
	bool any = false;
	int r;

	if (!m->output_rules || m->killed)
		return 0;
	if (len > AL_MONITOR_LINE_MAX)
		len = AL_MONITOR_LINE_MAX;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "stream", stream == 1 ? "stdout" : "stderr");
	al_json_kv_uint(&j, "offset", offset);
	al_json_key(&j, "line");
	al_json_strn(&j, line, len);
	al_json_obj_end(&j);
	if (b.oom) {
		al_buf_free(&b);
		return al_error_set(err, ENOMEM, "monitor", "an output_match record");
	}
	/* the rules see the line as the record holds it (one source of truth:
	 * bytes that are not UTF-8 appear as escaped there) */
	text[0] = '\0';
	if (al_jscan_value(b.data, b.len, false, &obj) == 0 && al_jobj_get(&obj, "line", &lv) &&
	    lv.type == AL_J_STRING)
		al_jstr_unescape(&lv, text, sizeof text);
	ev.text = text;
	for (size_t i = 0; i < m->rs.n && !any; i++)
		any = al_rule_matches(&m->rs.rules[i], &ev);
	if (!any) {
		al_buf_free(&b);
		return 0;
	}
	if (m->output_records < MON_OUTPUT_RECORDS) {
		m->output_records++;
		r = al_monitor_record_at(m, "output_match", b.data, 0, err);
	} else {
		/* past the cap: still checked (a kill still happens), not recorded */
		m->output_unrecorded++;
		r = al_monitor_event(m, "output_match", b.data, err);
	}
	al_buf_free(&b);
	return r < 0 ? r : 0;
}

static void record_alert(struct al_monitor *m, struct al_alert_job *job)
{
	char res[256];
	struct al_buf b;
	struct al_json j;
	struct al_error e = {0};

	al_alert_result(job, res, sizeof res);
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "rule", (uint64_t)job->rule);
	al_json_kv_str(&j, "target", job->target);
	al_json_kv_bool(&j, "ok", strncmp(res, "ok", 2) == 0);
	al_json_kv_str(&j, "result", res);
	al_json_kv_uint(&j, "elapsed_ns", al_mono_ns() - job->started_ns);
	al_json_obj_end(&j);
	if (!b.oom)
		(void)m->ops.append(m->ops.ctx, "alert", b.data, &e);
	al_buf_free(&b);
}

static void reap(struct al_monitor *m, bool wait_all)
{
	for (size_t i = 0; i < m->n_jobs;) {
		struct al_alert_job *job = &m->jobs[i];
		int status;
		pid_t p = waitpid(job->pid, &status, WNOHANG);

		if (p == 0 && al_mono_ns() - job->started_ns > job->timeout_ns + 100000000ull) {
			kill(job->pid, SIGKILL);
			job->killed = true;
			p = waitpid(job->pid, &status, 0);
		} else if (p == 0 && wait_all) {
			poll(NULL, 0, 5);
			continue;
		}
		if (p == 0) {
			i++;
			continue;
		}
		if (p > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			job->killed = true;
		record_alert(m, job);
		m->jobs[i] = m->jobs[--m->n_jobs];
	}
}

void al_monitor_tick(struct al_monitor *m)
{
	if (m && m->n_jobs)
		reap(m, false);
}

void al_monitor_finish(struct al_monitor *m)
{
	if (m == NULL)
		return;
	if (m->n_jobs)
		reap(m, true);
	if (m->fired_unrecorded || m->alerts_dropped || m->output_unrecorded) {
		char buf[224];
		struct al_error e = {0};
		snprintf(buf, sizeof buf,
		         "{\"rule_fired_unrecorded\":%" PRIu64 ",\"alerts_dropped\":%" PRIu64
		         ",\"output_match_unrecorded\":%" PRIu64 "}",
		         m->fired_unrecorded, m->alerts_dropped, m->output_unrecorded);
		(void)m->ops.append(m->ops.ctx, "rules_summary", buf, &e);
		m->fired_unrecorded = m->alerts_dropped = m->output_unrecorded = 0;
	}
}

void al_monitor_free(struct al_monitor *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_jobs; i++) {
		kill(m->jobs[i].pid, SIGKILL);
		waitpid(m->jobs[i].pid, NULL, 0);
		if (m->jobs[i].result_fd >= 0)
			close(m->jobs[i].result_fd);
	}
	al_ruleset_free(&m->rs);
	al_pkgdb_free(&m->db);
	free(m);
}
