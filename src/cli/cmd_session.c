/* `airlock create | exec | ls | rm`: the session commands. Thin: argument
 * parsing and output here; the session itself is src/session/. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "evidence/jscan.h"
#include "session/control.h"
#include "session/copy.h"
#include "session/proto.h"
#include "session/session.h"
#include "util/escape.h"
#include "util/json.h"
#include "util/timeutil.h"
#include "util/utf8.h"

static int fail(const struct al_error *e)
{
	al_escape_printf(stderr, "airlock: %s\n", e->msg);
	return AL_EXIT_SETUP;
}

/* ---- create ---------------------------------------------------------------- */

int al_cmd_create(int argc, char **argv)
{
	struct al_spec spec;
	struct al_cli_run opts;
	struct al_session_opts so = {.idle_timeout_ns = AL_SESSION_IDLE_DEFAULT_NS};
	struct al_error err = {0};
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	char id[40], dir[200];
	uint64_t lifetime = 0;
	bool json = false, idle_given = false;
	int n = 0, r;

	if (rest == NULL)
		return AL_EXIT_SETUP;
	/* create's own options; the rest are run's */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (i > 0 && strcmp(a, "--") == 0) {
			while (i < argc)
				rest[n++] = argv[i++];
			break;
		}
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if ((strcmp(a, "--name") == 0 || strcmp(a, "--idle-timeout") == 0 ||
			    strcmp(a, "--max-lifetime") == 0 || strcmp(a, "--max-output") == 0)) {
			if (i + 1 >= argc) {
				al_escape_printf(stderr, "airlock: %s: missing argument\n", a);
				free(rest);
				return AL_EXIT_SETUP;
			}
			const char *v = argv[++i];
			int bad = 0;
			if (strcmp(a, "--name") == 0)
				so.name = v;
			else if (strcmp(a, "--idle-timeout") == 0) {
				bad = al_parse_duration(v, &so.idle_timeout_ns) < 0;
				idle_given = true;
			}
			else if (strcmp(a, "--max-lifetime") == 0)
				bad = al_parse_duration(v, &lifetime) < 0 || lifetime == 0;
			else
				bad = al_parse_size(v, &so.max_output) < 0;
			if (bad) {
				al_escape_printf(stderr, "airlock: %s %s: invalid value\n", a, v);
				free(rest);
				return AL_EXIT_SETUP;
			}
		} else {
			rest[n++] = argv[i];
		}
	}
	al_spec_init(&spec);
	/* A session lives until `rm`, its idle timeout, or its maximum
	 * lifetime: limits.timeout (spec or --timeout), else --max-lifetime,
	 * else 24 h -- so a forgotten sandbox dies. */
	spec.limits.timeout_ns = AL_SESSION_LIFETIME_DEFAULT_NS;
	r = al_cli_parse_create(n, rest, &spec, &opts, &err);
	free(rest);
	if (r < 0) {
		al_spec_free(&spec);
		return fail(&err);
	}
	if (opts.help) {
		printf("usage: airlock create [--name NAME] [--idle-timeout D] [--max-lifetime D] [--max-output N]\n"
		       "                      [--json] [OPTIONS as for run] [--spec FILE]\n");
		al_spec_free(&spec);
		return 0;
	}
	/* the spec's session keys, then the command line's options */
	if (spec.session.idle_timeout_set && !idle_given)
		so.idle_timeout_ns = spec.session.idle_timeout_ns;
	if (spec.session.max_lifetime_set)
		spec.limits.timeout_ns = spec.session.max_lifetime_ns;
	if (lifetime)
		spec.limits.timeout_ns = lifetime;
	if (spec.log.path == NULL && spec.log.sink == NULL) {
		/* a session always keeps its log: beside its socket by default */
		if (al_session_dir(dir, sizeof dir, true, &err) < 0) {
			al_spec_free(&spec);
			return fail(&err);
		}
		if (asprintf(&spec.log.path, "%s/{run}.jsonl", dir) < 0) {
			al_spec_free(&spec);
			return AL_EXIT_SETUP;
		}
	}
	r = al_session_create(&spec, &so, id, &err);
	if (r < 0) {
		al_spec_free(&spec);
		return fail(&err);
	}
	if (json) {
		struct al_buf b;
		struct al_json j;
		char *log = NULL;
		const char *q = strstr(spec.log.path ? spec.log.path : "", "{run}");
		if (spec.log.path && q && asprintf(&log, "%.*s%s%s", (int)(q - spec.log.path), spec.log.path, id,
						   q + 5) < 0)
			log = NULL;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "id", id);
		al_json_kv_str(&j, "name", so.name);
		al_json_kv_str(&j, "log", log ? log : spec.log.path);
		al_json_obj_end(&j);
		printf("%s\n", b.data);
		al_buf_free(&b);
		free(log);
	} else {
		printf("%s\n", id);
	}
	al_spec_free(&spec);
	return 0;
}

/* ---- finding a session ------------------------------------------------- */

static int read_frame(int fd, struct al_frame_reader *rd, uint8_t *type, const uint8_t **p, size_t *n)
{
	for (;;) {
		uint8_t buf[65536];
		int r = al_frame_reader_next(rd, type, p, n);
		if (r != 0)
			return r;
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		r = al_frame_reader_feed(rd, buf, (size_t)got);
		if (r < 0)
			return r;
	}
}

static bool json_str(const char *js, const char *key, char *out, size_t cap)
{
	struct al_jval obj, v;
	if (al_jscan_value(js, strlen(js), false, &obj) < 0 || obj.type != AL_J_OBJECT ||
	    !al_jobj_get(&obj, key, &v) || v.type != AL_J_STRING)
		return false;
	al_jstr_unescape(&v, out, cap);
	return true;
}

static uint64_t json_u64(const char *js, const char *key)
{
	struct al_jval obj, v;
	uint64_t u = 0;
	if (al_jscan_value(js, strlen(js), false, &obj) < 0 || obj.type != AL_J_OBJECT ||
	    !al_jobj_get(&obj, key, &v) || v.type != AL_J_NUMBER || al_jnum_u64(&v, &u) < 0)
		return 0;
	return u;
}

/* The status JSON of one session, or NULL (stale: *stale set). */
static char *session_status(const char *dir, const char *id, bool *stale)
{
	struct al_error err = {0};
	struct al_frame_reader rd = {0};
	uint8_t type;
	const uint8_t *p;
	size_t n;
	char *out = NULL;
	int fd = al_session_connect(dir, id, &err);

	*stale = fd == -ECONNREFUSED;
	if (fd < 0)
		return NULL;
	if (al_frame_write(fd, AL_FR_STATUS, NULL, 0) == 0 && read_frame(fd, &rd, &type, &p, &n) > 0 &&
	    type == AL_FR_STATUS)
		out = strndup((const char *)p, n);
	al_frame_reader_free(&rd);
	close(fd);
	return out;
}

/* An id, or a name known to one live session. */
static int resolve(const char *dir, const char *want, char id[64], struct al_error *err)
{
	char path[300];
	DIR *d;
	struct dirent *de;
	int found = 0;

	if (!al_session_name_ok(want))
		return al_error_set(err, EINVAL, "session", "'%s' is not a session id or name", want);
	snprintf(path, sizeof path, "%s/%s.sock", dir, want);
	if (access(path, F_OK) == 0) {
		snprintf(id, 64, "%s", want);
		return 0;
	}
	d = opendir(dir);
	if (d == NULL)
		return al_error_errno(err, "session", "%s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		bool stale;
		char cand[64], name[128];
		if (l < 6 || l - 5 >= sizeof cand || strcmp(de->d_name + l - 5, ".sock") != 0)
			continue;
		snprintf(cand, sizeof cand, "%.*s", (int)(l - 5), de->d_name);
		char *st = session_status(dir, cand, &stale);
		if (st && json_str(st, "name", name, sizeof name) && strcmp(name, want) == 0) {
			snprintf(id, 64, "%s", cand);
			found++;
		}
		free(st);
	}
	closedir(d);
	if (found == 1)
		return 0;
	if (found > 1)
		return al_error_set(err, EEXIST, "session", "more than one session is named %s: use its id", want);
	return al_error_set(err, ENOENT, "session", "no session %s", want);
}

/* ---- exec ------------------------------------------------------------------ */

struct collected {
	uint8_t *p;
	size_t n, cap;
};

static void collect(struct collected *c, const uint8_t *p, size_t n)
{
	if (c->n + n > c->cap) {
		size_t nc = c->cap ? c->cap : 65536;
		while (nc < c->n + n)
			nc *= 2;
		uint8_t *q = realloc(c->p, nc);
		if (q == NULL)
			return;
		c->p = q;
		c->cap = nc;
	}
	memcpy(c->p + c->n, p, n);
	c->n += n;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void json_bytes(struct al_json *j, const char *key, const struct collected *c)
{
	bool text = al_utf8_valid((const char *)(c->p ? c->p : (uint8_t *)""), c->n);
	char flag[64];
	snprintf(flag, sizeof flag, "%s_base64", key);
	if (text) {
		al_json_key(j, key);
		al_json_strn(j, (const char *)(c->p ? c->p : (uint8_t *)""), c->n);
	} else {
		size_t bl = sodium_base64_encoded_len(c->n, sodium_base64_VARIANT_ORIGINAL);
		char *b = malloc(bl);
		if (b)
			sodium_bin2base64(b, bl, c->p, c->n, sodium_base64_VARIANT_ORIGINAL);
		al_json_kv_str(j, key, b ? b : "");
		free(b);
	}
	al_json_kv_bool(j, flag, !text);
}

static volatile sig_atomic_t winch;
static struct termios tty_saved;
static bool tty_raw;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static void send_winsize(int fd)
{
	struct winsize ws;
	uint8_t b[4];
	if (ioctl(isatty(0) ? 0 : 1, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
		return;
	b[0] = (uint8_t)ws.ws_row;
	b[1] = (uint8_t)(ws.ws_row >> 8);
	b[2] = (uint8_t)ws.ws_col;
	b[3] = (uint8_t)(ws.ws_col >> 8);
	al_frame_write(fd, AL_FR_WINSIZE, b, sizeof b);
}

static void exec_usage(FILE *f)
{
	fputs("usage: airlock exec ID|NAME [-i] [-t] [-e K=V]... [-w DIR] [--user UID|NAME] [--timeout D]\n"
	      "                    [--max-output N] [--json] -- CMD [ARG...]\n",
	      f);
}

int al_cmd_exec(int argc, char **argv)
{
	struct al_exec_request *rq = calloc(1, sizeof *rq);
	struct al_error err = {0};
	struct al_frame_reader rd = {0};
	struct collected out = {0}, errb = {0};
	struct al_exit_info x;
	bool json = false, in = false, got_exit = false, tty = false;
	char dir[200], id[64];
	uint8_t *enc = NULL;
	size_t enclen;
	int i, fd = -1, status = AL_EXIT_SETUP;

	if (rq == NULL)
		return AL_EXIT_SETUP;
	rq->cwd = "";
	rq->user = "";
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		exec_usage(argc < 2 ? stderr : stdout);
		free(rq);
		return argc < 2 ? AL_EXIT_SETUP : 0;
	}
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "-i") == 0 || strcmp(a, "--interactive") == 0) {
			in = true;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-t") == 0 || strcmp(a, "--tty") == 0) {
			tty = true;
		} else if (strcmp(a, "-it") == 0 || strcmp(a, "-ti") == 0) {
			tty = in = true;
		} else if (v == NULL) {
			al_escape_printf(stderr, "airlock: exec: %s: missing argument or unknown option\n", a);
			free(rq);
			return AL_EXIT_SETUP;
		} else if (strcmp(a, "-e") == 0 || strcmp(a, "--env") == 0) {
			if (v[0] == '=' || strchr(v, '=') == NULL || rq->envc >= AL_EXEC_ARGS_MAX) {
				al_escape_printf(stderr, "airlock: exec -e %s: expected KEY=VALUE\n", v);
				free(rq);
				return AL_EXIT_SETUP;
			}
			rq->env[rq->envc++] = v;
			i++;
		} else if (strcmp(a, "-w") == 0 || strcmp(a, "--workdir") == 0) {
			rq->cwd = v;
			i++;
		} else if (strcmp(a, "-u") == 0 || strcmp(a, "--user") == 0) {
			rq->user = v;
			i++;
		} else if (strcmp(a, "--timeout") == 0) {
			if (al_parse_duration(v, &rq->timeout_ns) < 0) {
				al_escape_printf(stderr, "airlock: exec --timeout %s: invalid duration\n", v);
				free(rq);
				return AL_EXIT_SETUP;
			}
			i++;
		} else if (strcmp(a, "--max-output") == 0) {
			if (al_parse_size(v, &rq->max_output) < 0) {
				al_escape_printf(stderr, "airlock: exec --max-output %s: invalid size\n", v);
				free(rq);
				return AL_EXIT_SETUP;
			}
			i++;
		} else {
			al_escape_printf(stderr, "airlock: exec: unknown option %s\n", a);
			free(rq);
			return AL_EXIT_SETUP;
		}
	}
	if (i >= argc) {
		exec_usage(stderr);
		free(rq);
		return AL_EXIT_SETUP;
	}
	for (; i < argc && rq->argc < AL_EXEC_ARGS_MAX; i++)
		rq->argv[rq->argc++] = argv[i];
	rq->flags = (in ? AL_EXEC_STDIN : 0) | (json ? AL_EXEC_KEEP_TAIL : 0) | (tty ? AL_EXEC_TTY : 0);
	/* -t: the caller's TERM, unless -e gave one (the terminal is the caller's kind) */
	char termvar[128];
	if (tty && getenv("TERM") && rq->envc < AL_EXEC_ARGS_MAX) {
		bool given = false;
		for (uint32_t k = 0; k < rq->envc; k++)
			given = given || strncmp(rq->env[k], "TERM=", 5) == 0;
		snprintf(termvar, sizeof termvar, "TERM=%s", getenv("TERM"));
		if (!given && strlen(getenv("TERM")) < 100)
			rq->env[rq->envc++] = termvar;
	}
	if (al_session_dir(dir, sizeof dir, false, &err) < 0 || resolve(dir, argv[1], id, &err) < 0 ||
	    (fd = al_session_connect(dir, id, &err)) < 0)
		goto out_err;
	if (al_exec_request_encode(rq, &enc, &enclen) < 0 ||
	    al_frame_write(fd, AL_FR_EXEC, enc, enclen) < 0) {
		al_error_set(&err, E2BIG, "exec", "sending the request (too large?)");
		goto out_err;
	}
	signal(SIGPIPE, SIG_IGN);
	if (tty) {
		/* the caller's terminal in raw mode while the command has it,
		 * its size now and on every SIGWINCH */
		struct sigaction sa = {.sa_handler = on_winch};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
		if (isatty(0) && tcgetattr(0, &tty_saved) == 0) {
			struct termios raw = tty_saved;
			cfmakeraw(&raw);
			if (tcsetattr(0, TCSADRAIN, &raw) == 0)
				tty_raw = true;
		}
		send_winsize(fd);
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = in ? 0 : -1, .events = POLLIN}};
		if (winch) {
			winch = 0;
			send_winsize(fd);
		}
		uint8_t type;
		const uint8_t *pl;
		size_t n;
		int r;

		/* whole frames already buffered first */
		while ((r = al_frame_reader_next(&rd, &type, &pl, &n)) > 0) {
			if (type == AL_FR_STDOUT) {
				if (json)
					collect(&out, pl, n);
				else
					write_all(1, pl, n);
			} else if (type == AL_FR_STDERR) {
				if (json)
					collect(&errb, pl, n);
				else
					write_all(2, pl, n);
			} else if (type == AL_FR_EXIT && n == sizeof x) {
				memcpy(&x, pl, sizeof x);
				got_exit = true;
			} else if (type == AL_FR_ERROR) {
				al_error_set(&err, EINVAL, "exec", "refused: %.*s", (int)n, (const char *)pl);
				goto out_err;
			}
		}
		if (r < 0 || got_exit)
			break;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			uint8_t buf[65536];
			ssize_t got = read(0, buf, sizeof buf);
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0)
				al_frame_write(fd, AL_FR_STDIN, buf, (size_t)got);
			else {
				al_frame_write(fd, AL_FR_STDIN_EOF, NULL, 0);
				in = false;
			}
		}
		if (p[0].revents) {
			uint8_t buf[65536];
			ssize_t got = read(fd, buf, sizeof buf);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0 || al_frame_reader_feed(&rd, buf, (size_t)got) < 0)
				break;
		}
	}
	if (tty_raw) {
		tcsetattr(0, TCSADRAIN, &tty_saved);
		tty_raw = false;
	}
	if (!got_exit) {
		al_error_set(&err, EPIPE, "exec", "the session ended before the command did");
		goto out_err;
	}
	status = x.exit_status;
	x.what[sizeof x.what - 1] = '\0';
	if (json) {
		struct al_buf b;
		struct al_json j;
		al_buf_init(&b);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_int(&j, "exit_status", x.exit_status);
		if (x.signal)
			al_json_kv_int(&j, "signal", x.signal);
		json_bytes(&j, "stdout", &out);
		json_bytes(&j, "stderr", &errb);
		al_json_kv_bool(&j, "stdout_truncated", x.flags & AL_EXIT_F_STDOUT_TRUNC);
		al_json_kv_bool(&j, "stderr_truncated", x.flags & AL_EXIT_F_STDERR_TRUNC);
		al_json_kv_bool(&j, "timed_out", x.flags & AL_EXIT_F_TIMED_OUT);
		al_json_kv_bool(&j, "sandbox_ended", x.flags & AL_EXIT_F_SANDBOX_ENDED);
		al_json_kv_uint(&j, "stdout_bytes", x.stdout_bytes);
		al_json_kv_uint(&j, "stderr_bytes", x.stderr_bytes);
		al_json_kv_uint(&j, "duration_ns", x.duration_ns);
		if (x.what[0])
			al_json_kv_str(&j, "error", x.what);
		al_json_obj_end(&j);
		printf("%s\n", b.data);
		al_buf_free(&b);
	} else {
		if (x.flags & AL_EXIT_F_TIMED_OUT)
			al_escape_printf(stderr, "airlock: exec: timeout reached: the command was killed\n");
		if (x.flags & (AL_EXIT_F_STDOUT_TRUNC | AL_EXIT_F_STDERR_TRUNC))
			al_escape_printf(stderr, "airlock: exec: output past the cap was dropped (%llu/%llu bytes)\n",
					 (unsigned long long)x.stdout_bytes, (unsigned long long)x.stderr_bytes);
		if (x.what[0])
			al_escape_printf(stderr, "airlock: exec: %s\n", x.what);
	}
	goto out;
out_err:
	if (tty_raw) {
		tcsetattr(0, TCSADRAIN, &tty_saved);
		tty_raw = false;
	}
	status = AL_EXIT_SETUP;
	al_escape_printf(stderr, "airlock: %s\n", err.msg);
out:
	if (fd >= 0)
		close(fd);
	al_frame_reader_free(&rd);
	free(out.p);
	free(errb.p);
	free(enc);
	free(rq);
	return status;
}

/* ---- ls ---------------------------------------------------------------------- */

int al_cmd_ls(int argc, char **argv)
{
	struct al_error err = {0};
	struct al_buf b;
	struct al_json j;
	char dir[200];
	bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
	DIR *d;
	struct dirent *de;

	if (al_session_dir(dir, sizeof dir, false, &err) < 0) {
		if (err.code == ENOENT) {
			printf(json ? "[]\n" : "");
			return 0;
		}
		return fail(&err);
	}
	d = opendir(dir);
	if (d == NULL)
		return 0;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_arr_begin(&j);
	if (!json)
		printf("%-24s  %-16s  %-8s  %8s  %8s  %s\n", "ID", "NAME", "STATE", "AGE", "COMMANDS", "PROTECTIONS");
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char id[64], name[128] = "", state[32] = "";
		bool stale;
		if (l < 6 || l - 5 >= sizeof id || strcmp(de->d_name + l - 5, ".sock") != 0)
			continue;
		snprintf(id, sizeof id, "%.*s", (int)(l - 5), de->d_name);
		char *st = session_status(dir, id, &stale);
		if (json) {
			if (st)
				al_json_raw(&j, st);
			else {
				al_json_obj_begin(&j);
				al_json_kv_str(&j, "id", id);
				al_json_kv_str(&j, "state", stale ? "dead" : "unreachable");
				al_json_kv_str(&j, "detail", stale ? "its supervisor is gone (stale socket); "
								     "airlock rm removes it"
								   : "the control socket did not answer");
				al_json_obj_end(&j);
			}
		} else if (st) {
			struct al_jval obj, v, e;
			char prot[256] = "";
			json_str(st, "name", name, sizeof name);
			json_str(st, "state", state, sizeof state);
			if (al_jscan_value(st, strlen(st), false, &obj) == 0 && al_jobj_get(&obj, "protections", &v) &&
			    v.type == AL_J_ARRAY) {
				struct al_jiter it;
				al_jiter_init(&it, &v);
				while (al_jarr_next(&it, &e) > 0 && e.type == AL_J_STRING) {
					char one[64];
					al_jstr_unescape(&e, one, sizeof one);
					if (strlen(prot) + strlen(one) + 2 < sizeof prot) {
						if (prot[0])
							strcat(prot, ",");
						strcat(prot, one);
					}
				}
			}
			al_escape_printf(stdout, "%-24s  %-16s  %-8s  %7llus  %8llu  %s\n", id, name[0] ? name : "-",
					 state, (unsigned long long)(json_u64(st, "age_ns") / 1000000000ull),
					 (unsigned long long)json_u64(st, "commands"), prot);
		} else {
			al_escape_printf(stdout, "%-24s  %-16s  %-8s\n", id, "-", stale ? "dead" : "unreachable");
		}
		free(st);
	}
	closedir(d);
	al_json_arr_end(&j);
	if (json)
		printf("%s\n", b.data);
	al_buf_free(&b);
	return 0;
}

/* ---- rm ------------------------------------------------------------------------ */

/* Ask the supervisor to remove its sandbox, then wait for the supervisor
 * itself to exit: by then the teardown is verified and the log closed. */
static int remove_one(const char *dir, const char *want, bool quiet)
{
	struct al_error err = {0};
	struct al_frame_reader rd = {0};
	struct ucred cr;
	socklen_t cl = sizeof cr;
	char id[64], path[300];
	uint8_t type;
	const uint8_t *p;
	size_t n;
	int fd, pidfd = -1, rc = AL_EXIT_SETUP;

	if (resolve(dir, want, id, &err) < 0)
		return fail(&err);
	fd = al_session_connect(dir, id, &err);
	if (fd == -ECONNREFUSED) {
		/* its supervisor died (and took the sandbox with it): only the
		 * socket is left */
		snprintf(path, sizeof path, "%s/%s.sock", dir, id);
		unlink(path);
		if (!quiet)
			printf("%s (stale: its supervisor was already gone)\n", id);
		return 0;
	}
	if (fd < 0)
		return fail(&err);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
		pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
	if (al_frame_write(fd, AL_FR_REMOVE, NULL, 0) < 0 || read_frame(fd, &rd, &type, &p, &n) <= 0 ||
	    type != AL_FR_REMOVE) {
		al_escape_printf(stderr, "airlock: rm %s: the session did not accept the request\n", id);
		goto out;
	}
	if (pidfd >= 0) {
		struct pollfd q = {.fd = pidfd, .events = POLLIN};
		/* bounded: a teardown takes milliseconds; a minute means trouble */
		if (poll(&q, 1, 60000) <= 0) {
			al_escape_printf(stderr, "airlock: rm %s: the supervisor has not finished after 60 s\n", id);
			goto out;
		}
	}
	if (!quiet)
		printf("%s\n", id);
	rc = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	al_frame_reader_free(&rd);
	close(fd);
	return rc;
}

int al_cmd_rm(int argc, char **argv)
{
	struct al_error err = {0};
	char dir[200];
	int rc = 0;

	if (argc < 2) {
		fputs("usage: airlock rm ID|NAME... | --all\n", stderr);
		return AL_EXIT_SETUP;
	}
	if (al_session_dir(dir, sizeof dir, false, &err) < 0) {
		if (err.code == ENOENT && strcmp(argv[1], "--all") == 0)
			return 0;
		return fail(&err);
	}
	if (strcmp(argv[1], "--all") == 0) {
		DIR *d = opendir(dir);
		struct dirent *de;
		if (d == NULL)
			return 0;
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			char id[64];
			if (l < 6 || l - 5 >= sizeof id || strcmp(de->d_name + l - 5, ".sock") != 0)
				continue;
			snprintf(id, sizeof id, "%.*s", (int)(l - 5), de->d_name);
			if (remove_one(dir, id, false) != 0)
				rc = AL_EXIT_SETUP;
		}
		closedir(d);
		return rc;
	}
	for (int i = 1; i < argc; i++)
		if (remove_one(dir, argv[i], false) != 0)
			rc = AL_EXIT_SETUP;
	return rc;
}

/* ---- cp ---------------------------------------------------------------------- */

static void cp_usage(FILE *f)
{
	fputs("usage: airlock cp [-T] [--user root|UID] [--max-size N] [--json] LOCAL ID:PATH\n"
	      "       airlock cp [-T] [--user root|UID] [--max-size N] [--json] ID:PATH LOCAL\n",
	      f);
}

/* ID:PATH names a session's path when the part before the first ':' is a
 * session id or name (no '/'); write ./a:b for a local name with a colon. */
static bool cp_remote(const char *arg, char sess[64], const char **path)
{
	const char *colon = strchr(arg, ':');
	if (colon == NULL || colon == arg || (size_t)(colon - arg) >= 64 || colon[1] == '\0')
		return false;
	snprintf(sess, 64, "%.*s", (int)(colon - arg), arg);
	if (!al_session_name_ok(sess))
		return false;
	*path = colon + 1;
	return true;
}

/* The sandbox side's last word: DONE (its counts) or an ERROR. */
static int cp_done(int fd, struct al_frame_reader *rd, struct al_cp_stats *peer, struct al_error *err)
{
	uint8_t type;
	const uint8_t *p;
	size_t n;
	int r = read_frame(fd, rd, &type, &p, &n);
	if (r <= 0)
		return al_error_set(err, EPIPE, "cp", "the session ended the copy without a word");
	if (type == AL_FR_ERROR)
		return al_error_set(err, EIO, "cp", "%.*s", (int)(n < 400 ? n : 400), (const char *)p);
	if (type != AL_FR_CP_DONE || n >= 96)
		return al_error_set(err, EPROTO, "cp", "unexpected reply");
	char text[96];
	unsigned long long b = 0, f = 0, sk = 0;
	memcpy(text, p, n);
	text[n] = '\0';
	if (sscanf(text, "%llu %llu %llu", &b, &f, &sk) != 3)
		return al_error_set(err, EPROTO, "cp", "unexpected reply");
	peer->bytes = b;
	peer->files = f;
	peer->skipped = sk;
	return 0;
}

int al_cmd_cp(int argc, char **argv)
{
	struct al_error err = {0};
	struct al_frame_reader rd = {0};
	struct al_cp_stats st = {0}, peer = {0};
	struct al_cp_request rq = {.limit = AL_CP_LIMIT_DEFAULT, .base = "", .user = ""};
	const char *args[2], *rpath = NULL;
	char sess[64], dir[200], id[64], base[256], name[256];
	bool json = false, out_dir, exact = false;
	uint8_t *enc = NULL;
	size_t enclen;
	int i, na = 0, fd = -1, parent = -1, r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cp_usage(stdout);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-T") == 0 || strcmp(a, "--no-target-directory") == 0) {
			exact = true;
		} else if ((strcmp(a, "--user") == 0 || strcmp(a, "-u") == 0) && i + 1 < argc) {
			rq.user = argv[++i];
		} else if (strcmp(a, "--max-size") == 0 && i + 1 < argc) {
			if (al_parse_size(argv[++i], &rq.limit) < 0 || rq.limit == 0) {
				al_escape_printf(stderr, "airlock: cp --max-size %s: invalid size\n", argv[i]);
				return AL_EXIT_SETUP;
			}
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc && na < 2; i++)
				args[na++] = argv[i];
			if (i < argc)
				na = 3;
			break;
		} else if (a[0] == '-' && a[1] != '\0') {
			al_escape_printf(stderr, "airlock: cp: unknown option %s\n", a);
			return AL_EXIT_SETUP;
		} else if (na < 2) {
			args[na++] = a;
		} else {
			na = 3;
		}
	}
	if (na != 2) {
		cp_usage(stderr);
		return AL_EXIT_SETUP;
	}
	bool r0 = cp_remote(args[0], sess, &rpath), r1 = false;
	if (!r0)
		r1 = cp_remote(args[1], sess, &rpath);
	if (r0 == r1) {
		al_escape_printf(stderr, "airlock: cp: exactly one of the two must be ID:PATH\n");
		return AL_EXIT_SETUP;
	}
	out_dir = r0; /* copying out of the session */
	rq.path = rpath;
	if (out_dir) {
		/* where it lands, before asking: parents made, never through a
		 * link the sandbox could have named (every name below the
		 * destination is made by us, relative to held directories) */
		al_cp_basename(rpath, base);
		if (exact)
			base[0] = '\0';
		if (al_cp_dest(AT_FDCWD, args[1], 0, base, &parent, name, &err) < 0)
			goto out_err;
	} else {
		al_cp_basename(args[0], base);
		rq.base = exact ? "" : base;
	}
	if (al_session_dir(dir, sizeof dir, false, &err) < 0 || resolve(dir, sess, id, &err) < 0 ||
	    (fd = al_session_connect(dir, id, &err)) < 0)
		goto out_err;
	signal(SIGPIPE, SIG_IGN);
	if (al_cp_request_encode(&rq, &enc, &enclen) < 0 ||
	    al_frame_write(fd, out_dir ? AL_FR_CP_OUT : AL_FR_CP_IN, enc, enclen) < 0) {
		al_error_set(&err, EIO, "cp", "sending the request");
		goto out_err;
	}
	if (out_dir) {
		r = al_cp_recv(fd, &rd, parent, name, rq.limit, &st, &err);
		if (r == 0)
			r = cp_done(fd, &rd, &peer, &err);
	} else {
		uint8_t type;
		const uint8_t *p;
		size_t n;
		r = read_frame(fd, &rd, &type, &p, &n);
		if (r > 0 && type == AL_FR_ERROR)
			r = al_error_set(&err, EIO, "cp", "%.*s", (int)(n < 400 ? n : 400), (const char *)p);
		else if (r <= 0 || type != AL_FR_CP_READY)
			r = al_error_set(&err, EPROTO, "cp", "the session did not take the copy");
		else
			r = 0;
		if (r == 0) {
			r = al_cp_send(fd, AT_FDCWD, args[0], 0, rq.limit, &st, &err);
			if (r < 0 && err.code != EPIPE) {
				/* our side failed: the sandbox side drops what it built */
				al_frame_write(fd, AL_FR_ERROR, err.msg, strlen(err.msg));
			} else if (r < 0) {
				struct al_error e2 = {0};
				if (cp_done(fd, &rd, &peer, &e2) < 0 && e2.code == EIO)
					err = e2;
			}
		}
		if (r == 0)
			r = cp_done(fd, &rd, &peer, &err);
	}
	if (r < 0)
		goto out_err;
	if (json)
		printf("{\"bytes\":%llu,\"files\":%llu,\"skipped\":%llu}\n", (unsigned long long)st.bytes,
		       (unsigned long long)st.files, (unsigned long long)(out_dir ? st.skipped : peer.skipped) +
		       (out_dir ? peer.skipped : st.skipped));
	else if (st.skipped + peer.skipped)
		al_escape_printf(stderr, "airlock: cp: %llu entries not copied (devices, fifos, sockets, kernel "
				 "file systems)\n", (unsigned long long)(st.skipped + peer.skipped));
	free(enc);
	al_frame_reader_free(&rd);
	close(fd);
	if (parent >= 0)
		close(parent);
	return 0;
out_err:
	free(enc);
	al_frame_reader_free(&rd);
	if (fd >= 0)
		close(fd);
	if (parent >= 0)
		close(parent);
	al_escape_printf(stderr, "airlock: cp: %s\n", err.msg);
	return AL_EXIT_SETUP;
}

/* ---- shell ----------------------------------------------------------------- */

/* `airlock shell ID [--user U]`: an interactive login shell on a pty made
 * inside the sandbox (exec -t -i); bash when the sandbox has it. */
int al_cmd_shell(int argc, char **argv)
{
	static char *login = "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi";
	char *args[16];
	int n = 0;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    (argc != 2 && !(argc == 4 && (strcmp(argv[2], "--user") == 0 || strcmp(argv[2], "-u") == 0)))) {
		fputs("usage: airlock shell ID|NAME [--user UID|NAME]\n", argc < 2 ? stderr : stdout);
		return argc < 2 || (argc >= 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help")) ? AL_EXIT_SETUP
												     : 0;
	}
	args[n++] = "exec";
	args[n++] = argv[1];
	args[n++] = "-t";
	args[n++] = "-i";
	if (argc == 4) {
		args[n++] = "--user";
		args[n++] = argv[3];
	}
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = login;
	args[n] = NULL;
	return al_cmd_exec(n, args);
}
