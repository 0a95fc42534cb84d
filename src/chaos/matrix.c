/* The chaos matrix runner (matrix.h). Each combination is the base spec,
 * then one YAML overlay per varied key, loaded exactly as `airlock run
 * --spec` loads a file (same checks, same file:line:col errors), then run by
 * al_run in a child process of its own, with its own event log in out_dir.
 * The outcome comes back over a pipe (al_run's result) and from the log's
 * run_end record (faults, rules). */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaos/matrix.h"
#include "evidence/jscan.h"
#include "supervisor/run.h"
#include "util/json.h"
#include "util/timeutil.h"

static char *read_value_file(const char *path, struct al_error *err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		al_error_errno(err, "chaos", "--vary: opening %s", path);
		return NULL;
	}
	buf = calloc(1, 65537);
	n = buf ? fread(buf, 1, 65536, f) : 0;
	if (buf && (ferror(f) || !feof(f))) {
		al_error_set(err, EFBIG, "chaos", "--vary: %s: unreadable or larger than 64 KiB",
		             path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	else if (!err->msg[0])
		al_error_set(err, ENOMEM, "chaos", "allocating");
	return buf;
}

static bool key_valid(const char *k, size_t n)
{
	if (n == 0 || k[0] == '.' || k[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) || k[i] == '_' ||
		      (k[i] == '.' && k[i + 1] != '.')))
			return false;
	return true;
}

static int add_value(struct al_matrix_dim *d, const char *s, size_t n, struct al_error *err)
{
	char *v;

	if (d->n >= AL_MATRIX_MAX_VALUES)
		return al_error_set(err, E2BIG, "chaos", "--vary %s: more than %d values", d->key,
		                    AL_MATRIX_MAX_VALUES);
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return al_error_set(err, EINVAL, "chaos", "--vary %s: an empty value", d->key);
	if (s[0] == '@') {
		char *path = strndup(s + 1, n - 1);
		if (path == NULL)
			return al_error_set(err, ENOMEM, "chaos", "allocating");
		v = read_value_file(path, err);
		free(path);
		if (v == NULL)
			return -err->code;
	} else if ((v = strndup(s, n)) == NULL) {
		return al_error_set(err, ENOMEM, "chaos", "allocating");
	}
	d->values[d->n++] = v;
	return 0;
}

int al_matrix_parse_vary(const char *arg, struct al_matrix_dim *d, struct al_error *err)
{
	const char *eq = strchr(arg, '='), *vals, *p, *start;
	long long a, b;
	char tail;
	int depth = 0, r;
	char quote = 0;

	memset(d, 0, sizeof *d);
	if (eq == NULL || !key_valid(arg, (size_t)(eq - arg)))
		return al_error_set(err, EINVAL, "chaos",
		                    "--vary %s: expected KEY=VALUES with a dotted spec key "
		                    "(chaos.seed=1..5, chaos.syscalls=@a.yaml,@b.yaml)",
		                    arg);
	d->key = strndup(arg, (size_t)(eq - arg));
	d->values = calloc(AL_MATRIX_MAX_VALUES, sizeof *d->values);
	if (d->key == NULL || d->values == NULL)
		return al_error_set(err, ENOMEM, "chaos", "allocating");
	vals = eq + 1;
	if (sscanf(vals, "%lld..%lld%c", &a, &b, &tail) == 2 && strstr(vals, "..")) {
		if (b < a || b - a >= AL_MATRIX_MAX_VALUES)
			return al_error_set(err, EINVAL, "chaos",
			                    "--vary %s: range %s is empty or longer than %d",
			                    d->key, vals, AL_MATRIX_MAX_VALUES);
		for (long long x = a; x <= b; x++) {
			char num[32];
			snprintf(num, sizeof num, "%lld", x);
			r = add_value(d, num, strlen(num), err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	/* a comma list; commas inside brackets, braces or quotes do not split */
	for (p = start = vals;; p++) {
		if (*p == '\0' || (*p == ',' && depth == 0 && !quote)) {
			r = add_value(d, start, (size_t)(p - start), err);
			if (r < 0)
				return r;
			if (*p == '\0')
				break;
			start = p + 1;
		} else if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '[' || *p == '{') {
			depth++;
		} else if ((*p == ']' || *p == '}') && depth > 0) {
			depth--;
		}
	}
	if (depth || quote)
		return al_error_set(err, EINVAL, "chaos",
		                    "--vary %s: unbalanced brackets or quotes", d->key);
	return 0;
}

void al_matrix_dim_free(struct al_matrix_dim *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->values[i]);
	free(d->values);
	free(d->key);
	memset(d, 0, sizeof *d);
}

/* The value goes on lines of its own, indented under the innermost key, so
 * block YAML (a file's text) and flow YAML both work. */
char *al_matrix_overlay(const char *key, const char *value)
{
	struct al_buf b;
	const char *p = key, *dot;
	int level = 0;

	al_buf_init(&b);
	for (;; level++) {
		dot = strchr(p, '.');
		al_buf_printf(&b, "%*s%.*s:\n", level * 2, "",
		              dot ? (int)(dot - p) : (int)strlen(p), p);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	level++;
	for (p = value; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		al_buf_printf(&b, "%*s%.*s\n", level * 2, "", (int)n, p);
		p += n + (nl != NULL);
	}
	if (b.oom) {
		al_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* ---- building and running ---- */

struct job {
	struct al_spec spec;
	bool built;
	pid_t pid;
	int fd; /* result pipe */
	uint64_t t0;
};

static int build_spec(const struct al_matrix_opts *o, const char *out_dir, const size_t *idx,
                      struct al_matrix_row *row, struct al_spec *s, size_t n, struct al_error *err)
{
	struct al_buf label;
	int r = 0;

	al_spec_init(s);
	al_buf_init(&label);
	if (o->base_spec)
		r = al_spec_load_file(s, o->base_spec, err);
	for (size_t d = 0; r == 0 && d < o->n_dims; d++) {
		const char *v = o->dims[d].values[idx[d]];
		char *ov = al_matrix_overlay(o->dims[d].key, v), name[300];
		if (ov == NULL)
			return al_error_set(err, ENOMEM, "chaos", "allocating");
		snprintf(name, sizeof name, "--vary %s (value %zu)", o->dims[d].key, idx[d] + 1);
		r = al_spec_load_string(s, name, ov, strlen(ov), err);
		free(ov);
		al_buf_printf(&label, "%s%s=", d ? " " : "", o->dims[d].key);
		/* one line in the table: newlines of a file's text become spaces */
		for (const char *q = v; *q; q++)
			al_buf_printf(&label, "%c", *q == '\n' ? ' ' : *q);
	}
	row->label = label.data ? label.data : strdup("(base)");
	if (r < 0)
		return r;
	s->allow_degraded |= o->allow_degraded;
	s->quiet = true;
	snprintf(row->log, sizeof row->log, "%s/run-%03zu.jsonl", out_dir, n);
	if (access(row->log, F_OK) == 0)
		return al_error_set(err, EEXIST, "chaos",
		                    "%s exists: give the matrix a fresh --out directory", row->log);
	r = al_spec_set_str(s, &s->log.path, row->log);
	if (r == 0 && o->argc)
		r = al_spec_set_argv(s, o->argv, o->argc);
	if (r < 0)
		return al_error_set(err, -r, "chaos", "allocating");
	return al_spec_validate(s, err);
}

/* The child: its stdout/stderr go to files beside its log; al_run's
 * result (and its error text) comes back over the pipe. */
__attribute__((noreturn)) static void run_child(const struct al_spec *s, const char *log, int wfd)
{
	struct {
		struct al_run_result res;
		char msg[256];
	} out = {0};
	struct al_error err = {0};
	char path[4200];
	int fd;

	snprintf(path, sizeof path, "%s.console", log);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(125);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0)
		_exit(125);
	signal(SIGINT, SIG_DFL);
	al_run(s, &out.res, &err);
	snprintf(out.msg, sizeof out.msg, "%s", err.msg);
	if (write(wfd, &out, sizeof out) != (ssize_t)sizeof out)
		_exit(125);
	_exit(out.res.exit_status & 0xff);
}

/* faults from the log's run_end record; rules fired: the rule_fired
 * records plus those counted past the record cap (rules_summary) */
static void read_run_end(struct al_matrix_row *row)
{
	FILE *f = fopen(row->log, "re");
	char *line = NULL, *last = NULL;
	size_t cap = 0;
	ssize_t n;
	struct al_jval v, ch, x;
	int64_t fired = 0;

	row->faults = -1;
	row->rules_fired = -1;
	if (f == NULL)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strstr(line, "\"type\":\"run_end\"")) {
			free(last);
			last = strndup(line, (size_t)n);
		} else if (strstr(line, "\"type\":\"rule_fired\"")) {
			fired++;
		} else if (strstr(line, "\"type\":\"rules_summary\"") &&
			   al_jscan_value(line, strcspn(line, "\n"), true, &v) == 0 &&
			   v.type == AL_J_OBJECT) {
			uint64_t u;
			if (al_jobj_get(&v, "rule_fired_unrecorded", &x) && al_jnum_u64(&x, &u) == 0)
				fired += (int64_t)u;
		}
	}
	free(line);
	fclose(f);
	if (last && al_jscan_value(last, strcspn(last, "\n"), true, &v) == 0 &&
	    v.type == AL_J_OBJECT) {
		uint64_t u;
		row->faults = 0; /* a run without chaos injected none */
		if (al_jobj_get(&v, "chaos", &ch) && ch.type == AL_J_OBJECT &&
		    al_jobj_get(&ch, "faults", &x) && al_jnum_u64(&x, &u) == 0)
			row->faults = (int64_t)u;
		/* a run that ended (run_end) has every firing recorded or counted */
		row->rules_fired = fired;
	}
	free(last);
}

static void progress(const struct al_matrix_opts *o, size_t done, size_t total, size_t running)
{
	char bar[41];
	size_t w = total ? done * 40 / total : 40;

	if (!o->progress)
		return;
	memset(bar, '#', w);
	memset(bar + w, '.', 40 - w);
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu done, %zu running ", bar, done, total, running);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void finish(struct job *j, struct al_matrix_row *row, int status)
{
	struct {
		struct al_run_result res;
		char msg[256];
	} out = {0};
	ssize_t n = read(j->fd, &out, sizeof out);

	close(j->fd);
	row->duration_ns = al_mono_ns() - j->t0;
	if (n == (ssize_t)sizeof out) {
		row->exit_status = out.res.exit_status;
		snprintf(row->verdict, sizeof row->verdict, "%s", out.res.verdict);
		snprintf(row->error, sizeof row->error, "%s", out.msg);
	} else {
		row->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		snprintf(row->verdict, sizeof row->verdict, "runner-died");
	}
	read_run_end(row);
}

int al_matrix_run(const struct al_matrix_opts *o, struct al_matrix *m, struct al_error *err)
{
	size_t total = 1, idx[AL_MATRIX_MAX_DIMS] = {0}, next = 0, done = 0, running = 0;
	char out_abs[PATH_MAX];
	struct job *jobs;
	int r = 0;

	memset(m, 0, sizeof *m);
	for (size_t d = 0; d < o->n_dims; d++) {
		total *= o->dims[d].n;
		if (total > AL_MATRIX_MAX_RUNS)
			return al_error_set(err, E2BIG, "chaos", "more than %d combinations",
			                    AL_MATRIX_MAX_RUNS);
	}
	if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST)
		return al_error_errno(err, "chaos", "creating %s", o->out_dir);
	/* absolute, so every row's log can be opened (and linked) from anywhere */
	if (realpath(o->out_dir, out_abs) == NULL)
		return al_error_errno(err, "chaos", "resolving %s", o->out_dir);
	m->rows = calloc(total, sizeof *m->rows);
	jobs = calloc(total, sizeof *jobs);
	if (m->rows == NULL || jobs == NULL) {
		free(jobs);
		return al_error_set(err, ENOMEM, "chaos", "allocating");
	}
	m->n = total;
	/* every spec is built and checked before the first run: a typo in the
	 * tenth value should not surface after nine runs */
	for (size_t i = 0; i < total; i++) {
		size_t rest = i;
		for (size_t d = o->n_dims; d-- > 0;) {
			idx[d] = rest % o->dims[d].n;
			rest /= o->dims[d].n;
		}
		r = build_spec(o, out_abs, idx, &m->rows[i], &jobs[i].spec, i, err);
		jobs[i].built = true;
		if (r < 0) {
			al_error_wrap(err, "combination %zu (%s)", i + 1,
			              m->rows[i].label ? m->rows[i].label : "");
			goto out;
		}
	}
	progress(o, 0, total, 0);
	while (done < total) {
		while (next < total && running < o->parallel) {
			int p[2];
			struct job *j = &jobs[next];
			if (pipe2(p, O_CLOEXEC) < 0) {
				r = al_error_errno(err, "chaos", "pipe");
				goto out;
			}
			fflush(NULL);
			j->t0 = al_mono_ns();
			j->pid = fork();
			if (j->pid < 0) {
				close(p[0]);
				close(p[1]);
				r = al_error_errno(err, "chaos", "fork");
				goto out;
			}
			if (j->pid == 0) {
				close(p[0]);
				run_child(&j->spec, m->rows[next].log, p[1]);
			}
			close(p[1]);
			j->fd = p[0];
			next++;
			running++;
		}
		int status;
		pid_t w = waitpid(-1, &status, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = al_error_errno(err, "chaos", "waitpid");
			goto out;
		}
		for (size_t i = 0; i < next; i++)
			if (jobs[i].pid == w) {
				finish(&jobs[i], &m->rows[i], status);
				jobs[i].pid = 0;
				running--;
				done++;
			}
		progress(o, done, total, running);
	}
out:
	/* on an error while runs are going, let them finish: each is a sandbox
	 * that tears itself down, and its log is evidence */
	while (running > 0) {
		int status;
		pid_t w = waitpid(-1, &status, 0);
		if (w < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < next; i++)
			if (w > 0 && jobs[i].pid == w) {
				finish(&jobs[i], &m->rows[i], status);
				jobs[i].pid = 0;
				running--;
			}
	}
	for (size_t i = 0; i < total; i++)
		if (jobs[i].built)
			al_spec_free(&jobs[i].spec);
	free(jobs);
	return r;
}

/* ---- output ---- */

static void fmt_count(int64_t v, char *buf, size_t n)
{
	if (v < 0)
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

void al_matrix_print_table(const struct al_matrix *m, FILE *out)
{
	size_t wl = strlen("combination");

	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].label && strlen(m->rows[i].label) > wl)
			wl = strlen(m->rows[i].label);
	if (wl > 60)
		wl = 60;
	fprintf(out, "%-4s %-*s %-12s %5s %10s %7s %6s  %s\n", "#", (int)wl, "combination",
	        "verdict", "exit", "duration", "faults", "rules", "log");
	for (size_t i = 0; i < m->n; i++) {
		const struct al_matrix_row *r = &m->rows[i];
		char f[24], ru[24], dur[24];
		fmt_count(r->faults, f, sizeof f);
		fmt_count(r->rules_fired, ru, sizeof ru);
		snprintf(dur, sizeof dur, "%.3fs", (double)r->duration_ns / 1e9);
		fprintf(out, "%-4zu %-*.*s %-12s %5d %10s %7s %6s  %s\n", i + 1, (int)wl, (int)wl,
		        r->label ? r->label : "", r->verdict, r->exit_status, dur, f, ru, r->log);
	}
}

static void row_json(struct al_json *j, const struct al_matrix_row *r)
{
	al_json_obj_begin(j);
	al_json_kv_str(j, "combination", r->label);
	al_json_kv_str(j, "verdict", r->verdict);
	al_json_kv_int(j, "exit_status", r->exit_status);
	al_json_kv_uint(j, "duration_ns", r->duration_ns);
	al_json_key(j, "faults");
	if (r->faults < 0)
		al_json_null(j);
	else
		al_json_int(j, r->faults);
	al_json_key(j, "rules_fired");
	if (r->rules_fired < 0)
		al_json_null(j);
	else
		al_json_int(j, r->rules_fired);
	al_json_kv_str(j, "log", r->log);
	al_json_kv_str(j, "error", r->error[0] ? r->error : NULL);
	al_json_obj_end(j);
}

int al_matrix_write_json(const struct al_matrix *m, FILE *out)
{
	struct al_buf b;
	struct al_json j;
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_arr_begin(&j);
	for (size_t i = 0; i < m->n; i++)
		row_json(&j, &m->rows[i]);
	al_json_arr_end(&j);
	r = b.oom ? -ENOMEM : (fprintf(out, "%s\n", b.data) < 0 ? -EIO : 0);
	al_buf_free(&b);
	return r;
}

static void html_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

int al_matrix_write_html(const struct al_matrix *m, FILE *out)
{
	fputs("<!doctype html>\n<meta charset=\"utf-8\">\n<title>airlock chaos matrix</title>\n"
	      "<style>td,th{padding:2px 8px;border-bottom:1px solid #ccc;font-family:monospace}"
	      "</style>\n<table>\n<tr><th>#</th><th>combination</th><th>verdict</th><th>exit</th>"
	      "<th>duration</th><th>faults</th><th>rules</th><th>log</th></tr>\n",
	      out);
	for (size_t i = 0; i < m->n; i++) {
		const struct al_matrix_row *r = &m->rows[i];
		char f[24], ru[24];
		fmt_count(r->faults, f, sizeof f);
		fmt_count(r->rules_fired, ru, sizeof ru);
		fprintf(out, "<tr><td>%zu</td><td>", i + 1);
		html_text(out, r->label);
		fputs("</td><td>", out);
		html_text(out, r->verdict);
		fprintf(out, "</td><td>%d</td><td>%.3fs</td><td>%s</td><td>%s</td><td><a href=\"",
		        r->exit_status, (double)r->duration_ns / 1e9, f, ru);
		fputs("file://", out);
		html_text(out, r->log);
		fputs("\">", out);
		html_text(out, r->log);
		fputs("</a></td></tr>\n", out);
	}
	fputs("</table>\n", out);
	return ferror(out) ? -EIO : 0;
}

void al_matrix_free(struct al_matrix *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->rows[i].label);
	free(m->rows);
	memset(m, 0, sizeof *m);
}
