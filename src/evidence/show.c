/* Timeline printer (show.h). Strings come from the workload (argv, paths),
 * so every one is decoded, cut to a bounded length and printed through
 * put_safe(), which escapes anything a terminal could interpret. */
#include "evidence/show.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "evidence/jscan.h"
#include "evidence/lineio.h"
#include "util/escape.h"

#define FIELD_MAX 256 /* bytes of one decoded string shown */
#define ARGV_MAX 16   /* argv elements shown */

/* Every string from the log goes out through the one escaping that all of
 * airlock's human output uses (util/escape.h). */
static void put_safe(FILE *out, const char *s, size_t n)
{
	al_escape_fput(out, s, n);
}

/* Print a JSON string value decoded (bounded), or a non-string value raw. */
static void put_val(FILE *out, const struct al_jval *v)
{
	char buf[FIELD_MAX + 1];
	size_t n;

	if (v->type != AL_J_STRING) {
		put_safe(out, v->p, v->n < FIELD_MAX ? v->n : FIELD_MAX);
		if (v->n > FIELD_MAX)
			fputs("...", out);
		return;
	}
	n = al_jstr_unescape(v, buf, sizeof buf);
	put_safe(out, buf, n < FIELD_MAX ? n : FIELD_MAX);
	if (n > FIELD_MAX)
		fputs("...", out);
}

static bool get(const struct al_jval *obj, const char *k, struct al_jval *v)
{
	return al_jobj_get(obj, k, v);
}

static void put_field(FILE *out, const struct al_jval *obj, const char *k, const char *dflt)
{
	struct al_jval v;
	if (get(obj, k, &v))
		put_val(out, &v);
	else
		fputs(dflt, out);
}

static bool get_u64(const struct al_jval *obj, const char *k, uint64_t *x)
{
	struct al_jval v;
	return get(obj, k, &v) && al_jnum_u64(&v, x) == 0;
}

static void put_bytes(FILE *out, uint64_t b)
{
	if (b >= 1024 * 1024)
		fprintf(out, "%.1f MiB", (double)b / (1024.0 * 1024.0));
	else if (b >= 1024)
		fprintf(out, "%.1f KiB", (double)b / 1024.0);
	else
		fprintf(out, "%" PRIu64 " B", b);
}

/* One argument, quoted when it would otherwise read ambiguously (empty, or
 * with blanks or quotes); quotes inside are backslash-escaped. */
static void put_arg(FILE *out, const char *a, size_t n)
{
	const char *q;

	if (n > 0 && !memchr(a, ' ', n) && !memchr(a, '\'', n) && !memchr(a, '"', n)) {
		put_safe(out, a, n);
		return;
	}
	fputc('\'', out);
	while ((q = memchr(a, '\'', n)) != NULL) {
		put_safe(out, a, (size_t)(q - a));
		fputs("\\'", out);
		n -= (size_t)(q - a) + 1;
		a = q + 1;
	}
	put_safe(out, a, n);
	fputc('\'', out);
}

static void put_argv(FILE *out, const struct al_jval *obj)
{
	struct al_jval arr, el;
	struct al_jiter it;
	int i = 0;

	if (!get(obj, "argv", &arr) || arr.type != AL_J_ARRAY) {
		put_field(out, obj, "path", "?");
		return;
	}
	al_jiter_init(&it, &arr);
	while (al_jarr_next(&it, &el)) {
		char buf[FIELD_MAX + 1];
		size_t n;

		if (i == ARGV_MAX) {
			fputs(" ...", out);
			break;
		}
		if (i++)
			fputc(' ', out);
		if (el.type != AL_J_STRING) {
			put_val(out, &el);
			continue;
		}
		n = al_jstr_unescape(&el, buf, sizeof buf);
		put_arg(out, buf, n < FIELD_MAX ? n : FIELD_MAX);
		if (n > FIELD_MAX)
			fputs("...", out);
	}
}

/* An exec: the path that was executed first (argv[0] is whatever the caller
 * chose: execv("/tmp/evil", ["/usr/bin/true"]) must not read as true), then
 * argv, the loader environment, the content hash of a file from a writable
 * area, and whether the supervisor refused it. */
static void show_exec(FILE *out, const struct al_jval *obj)
{
	struct al_jval path, v, f, el;
	struct al_jiter it;

	fputs("exec      pid ", out);
	put_field(out, obj, "pid", "?");
	fputs(": ", out);
	if (!get(obj, "path", &path)) { /* records of older versions: argv only */
		put_argv(out, obj);
		return;
	}
	if (path.type == AL_J_STRING)
		put_val(out, &path);
	else
		fputs("(path unreadable)", out);
	if (get(obj, "argv", &v) && v.type == AL_J_ARRAY) {
		fputs("  argv: ", out);
		put_argv(out, obj);
	}
	if (get(obj, "argv_truncated", &v) && v.type == AL_J_TRUE)
		fputs(" (argv truncated)", out);
	if (get(obj, "ld_env", &v) && v.type == AL_J_ARRAY) {
		al_jiter_init(&it, &v);
		while (al_jarr_next(&it, &el)) {
			fputs("  env: ", out);
			put_val(out, &el);
		}
	}
	if (get(obj, "file", &f) && f.type == AL_J_OBJECT) {
		if (get(&f, "sha256", &v) && v.type == AL_J_STRING) {
			fputs("  sha256 ", out);
			put_val(out, &v);
		} else if (get(&f, "hash_skipped", &v)) {
			fputs("  not hashed: ", out);
			put_val(out, &v);
		}
	}
	/* a script's interpreters: what the kernel runs for it */
	if (get(obj, "interpreters", &v) && v.type == AL_J_ARRAY) {
		al_jiter_init(&it, &v);
		while (al_jarr_next(&it, &el)) {
			struct al_jval h;
			fputs("  #! ", out);
			put_field(out, &el, "path", "?");
			if (get(&el, "file", &f) && f.type == AL_J_OBJECT &&
			    get(&f, "sha256", &h) && h.type == AL_J_STRING) {
				fputs(" sha256 ", out);
				put_val(out, &h);
			}
		}
	}
	if (get(obj, "refused", &v) && v.type == AL_J_TRUE) {
		fputs("  REFUSED errno ", out);
		put_field(out, obj, "errno", "?");
		if (get(obj, "read_error", &v)) {
			fputs(" (unreadable ", out);
			put_field(out, obj, "read_what", "path");
			fputc(')', out);
		} else if (get(obj, "file_error", &v)) {
			fputs(" (file not identified)", out);
		}
	}
}

/* Every member except the envelope, as key=value (types this reader does
 * not know are shown this way: readers ignore nothing silently). */
static void put_members(FILE *out, const struct al_jval *obj)
{
	static const char *const skip[] = {"v", "seq", "time", "mono_ns", "run", "type", "prev"};
	struct al_jiter it;
	struct al_jval k, v;
	int shown = 0;

	al_jiter_init(&it, obj);
	while (al_jiter_next(&it, &k, &v)) {
		bool env = false;
		for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
			env = env || al_jstr_eq(&k, skip[i]);
		if (env)
			continue;
		if (shown++ == 12) {
			fputs(" ...", out);
			break;
		}
		fputc(' ', out);
		put_val(out, &k);
		fputc('=', out);
		put_val(out, &v);
	}
}

static void show_run_start(FILE *out, const struct al_jval *obj)
{
	struct al_jval v, el;
	struct al_jiter it;

	fputs("run started: airlock ", out);
	put_field(out, obj, "airlock_version", "?");
	fputs(" on ", out);
	put_field(out, obj, "host", "?");
	fputs(" (kernel ", out);
	put_field(out, obj, "kernel", "?");
	fputs(")\n           image ", out);
	put_field(out, obj, "image", "?");
	fputs(", spec sha256 ", out);
	put_field(out, obj, "spec_hash", "?");
	fputs("\n           signing key ", out);
	put_field(out, obj, "pubkey", "(not recorded)");
	if (get(obj, "degraded", &v) && v.type == AL_J_ARRAY) {
		int n = 0;
		al_jiter_init(&it, &v);
		while (al_jarr_next(&it, &el)) {
			fputs(n++ ? ", " : "\n           DEGRADED: ", out);
			put_val(out, &el);
			if (n == ARGV_MAX)
				break;
		}
	}
}

static void show_exit(FILE *out, const struct al_jval *obj)
{
	uint64_t sig = 0;

	fputs("exit      pid ", out);
	put_field(out, obj, "pid", "?");
	if (get_u64(obj, "signal", &sig) && sig) {
		fprintf(out, " killed by signal %" PRIu64, sig);
	} else {
		fputs(" exited with status ", out);
		put_field(out, obj, "status", "?");
	}
}

static void show_run_end(FILE *out, const struct al_jval *obj)
{
	struct al_jval peaks;
	uint64_t x;

	fputs("run ended: ", out);
	put_field(out, obj, "verdict", "?");
	fputs(", exit status ", out);
	put_field(out, obj, "exit_status", "?");
	if (get_u64(obj, "duration_ns", &x))
		fprintf(out, ", after %.3f s", (double)x / 1e9);
	if (get(obj, "peaks", &peaks) && peaks.type == AL_J_OBJECT) {
		fputs("\n           peaks:", out);
		if (get_u64(&peaks, "memory_bytes", &x)) {
			fputs(" memory ", out);
			put_bytes(out, x);
		}
		if (get_u64(&peaks, "cpu_ns", &x))
			fprintf(out, ", cpu %.3f s", (double)x / 1e9);
		if (get_u64(&peaks, "pids", &x))
			fprintf(out, ", pids %" PRIu64, x);
	}
}

static void show_streams(FILE *out, const struct al_jval *obj)
{
	static const char *const names[] = {"stdout", "stderr"};

	fputs("output:", out);
	for (int i = 0; i < 2; i++) {
		struct al_jval s;
		uint64_t x;
		if (!get(obj, names[i], &s) || s.type != AL_J_OBJECT)
			continue;
		fprintf(out, "%s %s ", i ? ";" : "", names[i]);
		if (get_u64(&s, "bytes", &x))
			put_bytes(out, x);
		if (get_u64(&s, "dropped", &x) && x) {
			fputs(" (", out);
			put_bytes(out, x);
			fputs(" dropped over the cap)", out);
		}
		fputs(" sha256 ", out);
		put_field(out, &s, "sha256", "?");
	}
}

void al_show_line(const char *line, size_t len, FILE *out, struct al_show_stats *st, uint64_t *t0)
{
	struct al_jval obj, type;
	uint64_t mono = 0, x;
	bool have_mono;

	st->lines++;
	if (al_jscan_value(line, len, false, &obj) < 0 || obj.type != AL_J_OBJECT ||
	    !get(&obj, "type", &type) || type.type != AL_J_STRING) {
		st->unreadable++;
		fprintf(out, "           (line %" PRIu64 ": not a record, skipped)\n", st->lines);
		return;
	}
	st->records++;
	have_mono = get_u64(&obj, "mono_ns", &mono);
	if (have_mono && *t0 == UINT64_MAX)
		*t0 = mono;
	if (have_mono && mono >= *t0)
		fprintf(out, "%+10.3fs ", (double)(mono - *t0) / 1e9);
	else
		fputs("         ? ", out);

	if (al_jstr_eq(&type, "run_start")) {
		show_run_start(out, &obj);
	} else if (al_jstr_eq(&type, "exec")) {
		st->execs++;
		show_exec(out, &obj);
	} else if (al_jstr_eq(&type, "exit")) {
		show_exit(out, &obj);
	} else if (al_jstr_eq(&type, "stdout") || al_jstr_eq(&type, "stderr")) {
		put_val(out, &type);
		fputs("    ", out);
		if (get_u64(&obj, "len", &x))
			put_bytes(out, x);
		else
			fputc('?', out);
		fputs(" at offset ", out);
		put_field(out, &obj, "offset", "?");
	} else if (al_jstr_eq(&type, "syscall_denied")) {
		st->denied++;
		fputs("DENIED    syscall ", out);
		put_field(out, &obj, "syscall", "?");
		fputs(" by pid ", out);
		put_field(out, &obj, "pid", "?");
	} else if (al_jstr_eq(&type, "limit") || al_jstr_eq(&type, "output_capped")) {
		st->limits++;
		fputs("LIMIT    ", out);
		put_members(out, &obj);
	} else if (al_jstr_eq(&type, "teardown")) {
		struct al_jval ok;
		fputs(get(&obj, "ok", &ok) && ok.type == AL_J_TRUE ? "teardown  clean:"
		                                                   : "teardown  NOT CLEAN:",
		      out);
		put_members(out, &obj);
	} else if (al_jstr_eq(&type, "run_end")) {
		show_run_end(out, &obj);
	} else if (al_jstr_eq(&type, "streams")) {
		show_streams(out, &obj);
	} else if (al_jstr_eq(&type, "checkpoint")) {
		struct al_jval fin;
		st->checkpoints++;
		fputs(get(&obj, "final", &fin) && fin.type == AL_J_TRUE
		          ? "checkpoint (final, signed) epoch "
		          : "checkpoint (signed) epoch ",
		      out);
		put_field(out, &obj, "epoch", "?");
	} else {
		put_val(out, &type);
		fputc(' ', out);
		put_members(out, &obj);
	}
	fputc('\n', out);
}

int al_show_fd(int fd, FILE *out, struct al_show_stats *st)
{
	struct al_linereader lr;
	uint64_t t0 = UINT64_MAX;
	int r;

	memset(st, 0, sizeof *st);
	r = al_linereader_init(&lr, fd);
	if (r < 0)
		return r;
	while ((r = al_linereader_next(&lr)) != 0) {
		if (r == -E2BIG) {
			st->lines++;
			st->unreadable++;
			fprintf(out, "           (line %" PRIu64 ": too long, skipped)\n",
			        st->lines);
			continue;
		}
		if (r < 0)
			break;
		al_show_line(lr.line, lr.len, out, st, &t0);
	}
	al_linereader_free(&lr);
	if (r < 0)
		return r;
	fprintf(out,
	        "\n%" PRIu64 " records: %" PRIu64 " exec, %" PRIu64 " denied, %" PRIu64
	        " limit, %" PRIu64 " checkpoints; %" PRIu64
	        " unreadable lines. Not verified here: run `airlock log verify`.\n",
	        st->records, st->execs, st->denied, st->limits, st->checkpoints, st->unreadable);
	return 0;
}
