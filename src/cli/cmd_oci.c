/* `airlock oci ...` and `airlock-runc ...`: the runc-compatible command
 * line. Parses runc's global and per-command options and calls src/oci/. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "airlock-config.h"
#include "cli/cli.h"
#include "oci/oci.h"
#include "util/escape.h"
#include "util/json.h"

static const char *prog = "airlock-runc";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARGS]\n"
		"\n"
		"an OCI runtime (runc command line) whose containers are airlock sandboxes\n"
		"\n"
		"commands:\n"
		"  create [--bundle DIR] [--pid-file F] ID   build the sandbox, wait for start\n"
		"  start ID                                  run the container's process\n"
		"  state ID                                  print its state (JSON)\n"
		"  kill [--all] ID [SIGNAL]                  signal it (default SIGTERM)\n"
		"  delete [--force] ID                       remove a stopped container (--force: stop it)\n"
		"  ps [--format table|json] ID               its processes (host pids)\n"
		"  exec [--process F] [--detach] [--pid-file F] [--tty] [--console-socket S]\n"
		"       [--env K=V] [--cwd D] ID [COMMAND ARGS]  run a command in the running container\n"
		"  features                                  what this runtime supports (JSON)\n"
		"  --version                                 print the version\n"
		"\n"
		"See docs/oci.md.\n",
		prog);
}

/* runc writes its errors to --log, as JSON lines with --log-format json;
 * containerd's shim reads the last one to report why a command failed. */
static void report(const struct al_oci_opts *o, const char *msg)
{
	al_escape_printf(stderr, "%s: %s\n", prog, msg);
	if (o->log == NULL)
		return;
	int fd = open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	struct al_buf b;
	struct al_json j;
	char ts[40];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	al_buf_init(&b);
	if (o->log_json) {
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "level", "error");
		al_json_kv_str(&j, "msg", msg);
		al_json_kv_str(&j, "time", ts);
		al_json_obj_end(&j);
		al_buf_puts(&b, "\n");
	} else {
		al_buf_printf(&b, "time=\"%s\" level=error msg=\"", ts);
		al_json_escape(&b, msg, strlen(msg));
		al_buf_puts(&b, "\"\n");
	}
	if (!b.oom && write(fd, b.data, b.len) < 0) {
		/* nothing else to tell */
	}
	al_buf_free(&b);
	close(fd);
}

static int fail(const struct al_oci_opts *o, const struct al_error *err)
{
	report(o, err->msg);
	return 1;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i. */
static bool opt_val(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return false;
	*val = argv[++*i];
	return true;
}

static bool is_flag(const char *a, const char *name)
{
	size_t n = strlen(name);
	return strncmp(a, name, n) == 0 && (a[n] == '\0' || strcmp(a + n, "=true") == 0);
}

static int features(void)
{
	fputs("{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.1.0\",\"hooks\":[],"
	      "\"mountOptions\":[\"bind\",\"rbind\",\"ro\",\"rw\"],"
	      "\"linux\":{\"namespaces\":[\"pid\",\"network\",\"ipc\",\"uts\",\"mount\",\"user\",\"cgroup\"],"
	      "\"capabilities\":[],\"cgroup\":{\"v1\":true,\"v2\":true,\"systemd\":false,\"systemdUser\":false},"
	      "\"seccomp\":{\"enabled\":true,\"actions\":[],\"operators\":[],\"archs\":[]},"
	      "\"apparmor\":{\"enabled\":false},\"selinux\":{\"enabled\":false}},"
	      "\"annotations\":{\"dev.airlock.runtime\":\"airlock-runc\","
	      "\"dev.airlock.annotations\":\"dev.airlock.spec dev.airlock.network.allow_domains "
	      "dev.airlock.timeout dev.airlock.log dev.airlock.log.sink\"}}\n",
	      stdout);
	return 0;
}

/* exec [OPTIONS] ID [COMMAND ARGS...]: options end at the id; what
 * follows it is the command. */
static int exec_cmd(const struct al_oci_opts *o, int argc, char **argv, int i)
{
	struct al_oci_exec_opts x = {0};
	struct al_error err = {0};
	const char *v;
	const char **env = calloc((size_t)argc + 1, sizeof *env);
	int status = 0, r;

	if (env == NULL)
		return 1;
	x.env = env;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (opt_val(argc, argv, &i, "--process", &v) || opt_val(argc, argv, &i, "-p", &v))
			x.process = v;
		else if (opt_val(argc, argv, &i, "--pid-file", &v))
			x.pid_file = v;
		else if (opt_val(argc, argv, &i, "--console-socket", &v))
			x.console_socket = v;
		else if (opt_val(argc, argv, &i, "--cwd", &v))
			x.cwd = v;
		else if (opt_val(argc, argv, &i, "--env", &v) || opt_val(argc, argv, &i, "-e", &v))
			env[x.n_env++] = v;
		else if (opt_val(argc, argv, &i, "--user", &v) || opt_val(argc, argv, &i, "-u", &v))
			x.user = v;
		else if (is_flag(a, "--detach") || strcmp(a, "-d") == 0)
			x.detach = true;
		else if (is_flag(a, "--tty") || strcmp(a, "-t") == 0)
			x.tty = true;
		else if (is_flag(a, "--no-new-privs"))
			; /* always so */
		else if (opt_val(argc, argv, &i, "--apparmor", &v) || opt_val(argc, argv, &i, "--process-label", &v))
			; /* not applied: airlock's Landlock and seccomp are (as for create) */
		else if (opt_val(argc, argv, &i, "--preserve-fds", &v) && strcmp(v, "0") == 0)
			;
		else if (strncmp(a, "--preserve-fds", 14) == 0) {
			al_error_set(&err, ENOTSUP, "oci", "--preserve-fds: passing descriptors into the sandbox is not supported");
			free(env);
			return fail(o, &err);
		} else if (opt_val(argc, argv, &i, "--cap", &v) || opt_val(argc, argv, &i, "-c", &v)) {
			al_error_set(&err, EPERM, "oci", "exec --cap %s: refused: a command in an airlock container has no capabilities", v);
			free(env);
			return fail(o, &err);
		} else if (opt_val(argc, argv, &i, "--additional-gids", &v) || opt_val(argc, argv, &i, "-g", &v)) {
			al_error_set(&err, EPERM, "oci", "exec --additional-gids: refused: a command runs as the container's user only");
			free(env);
			return fail(o, &err);
		} else {
			char msg[200];
			snprintf(msg, sizeof msg, "exec: unknown option %s", a);
			report(o, msg);
			free(env);
			return 1;
		}
	}
	if (i >= argc) {
		al_error_set(&err, EINVAL, "oci", "exec: a container id is required");
		free(env);
		return fail(o, &err);
	}
	const char *id = argv[i++];
	x.args = argv + i;
	x.n_args = (size_t)(argc - i);
	r = al_oci_exec(o, id, &x, &status, &err);
	free(env);
	if (r < 0) {
		report(o, err.msg);
		/* runc's statuses for a command that could not start */
		return err.code == ENOENT && strstr(err.msg, "exec failed") ? 127
		       : err.code == EACCES && strstr(err.msg, "exec failed") ? 126
								 : 1;
	}
	return status;
}

int al_cmd_oci(int argc, char **argv, const char *name)
{
	struct al_oci_opts o = {0};
	struct al_error err = {0};
	const char *v;
	int i = 1;

	prog = name;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (opt_val(argc, argv, &i, "--root", &v))
			o.root = v;
		else if (opt_val(argc, argv, &i, "--log", &v))
			o.log = v;
		else if (opt_val(argc, argv, &i, "--log-format", &v)) {
			if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0) {
				fprintf(stderr, "%s: --log-format: text or json\n", prog);
				return 1;
			}
			o.log_json = strcmp(v, "json") == 0;
		} else if (is_flag(argv[i], "--systemd-cgroup")) {
			al_error_set(&err, ENOTSUP, "oci",
				     "--systemd-cgroup: airlock manages its own cgroup per run (cgroupfs); "
				     "configure the client for cgroupfs (docs/oci.md)");
			return fail(&o, &err);
		} else if (is_flag(argv[i], "--debug")) {
			/* nothing more to say */
		} else if (opt_val(argc, argv, &i, "--rootless", &v) || opt_val(argc, argv, &i, "--criu", &v)) {
			/* accepted: airlock decides rootless by who runs it; no checkpointing */
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
			printf("%s version %s\nairlock %s\nspec: 1.0.2\n", prog, AIRLOCK_VERSION, AIRLOCK_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			al_escape_printf(stderr, "%s: unknown global option %s\n", prog, argv[i]);
			return 1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	const char *cmd = argv[i++];
	if (strcmp(cmd, "features") == 0)
		return features();
	if (strcmp(cmd, "version") == 0) {
		printf("%s version %s\nspec: 1.0.2\n", prog, AIRLOCK_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}

	if (strcmp(cmd, "exec") == 0)
		return exec_cmd(&o, argc, argv, i);

	const char *bundle = NULL, *pid_file = NULL, *format = "table", *console = NULL;
	bool force = false;
	const char *pos[2] = {NULL, NULL};
	size_t npos = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (npos < 2)
				pos[npos] = a;
			npos++;
			continue;
		}
		if (opt_val(argc, argv, &i, "--bundle", &v) || opt_val(argc, argv, &i, "-b", &v))
			bundle = v;
		else if (opt_val(argc, argv, &i, "--pid-file", &v))
			pid_file = v;
		else if (opt_val(argc, argv, &i, "--console-socket", &v))
			console = v;
		/* -f is runc's short form of --format for ps, of --force for delete */
		else if (opt_val(argc, argv, &i, "--format", &v) ||
		         (strcmp(cmd, "ps") == 0 && opt_val(argc, argv, &i, "-f", &v)))
			format = v;
		else if (is_flag(a, "--force") || strcmp(a, "-f") == 0)
			force = true;
		else if (is_flag(a, "--all") || strcmp(a, "-a") == 0 || is_flag(a, "--no-pivot") ||
			 is_flag(a, "--no-new-keyring") || is_flag(a, "--detach") || strcmp(a, "-d") == 0)
			; /* --all: the init's end ends them all anyway; the rest change nothing in airlock */
		else if (opt_val(argc, argv, &i, "--preserve-fds", &v)) {
			if (strcmp(v, "0") != 0) {
				al_error_set(&err, ENOTSUP, "oci", "--preserve-fds: passing descriptors into the sandbox is not supported");
				return fail(&o, &err);
			}
		} else {
			char msg[200];
			snprintf(msg, sizeof msg, "%s: unknown option %s", cmd, a);
			report(&o, msg);
			return 1;
		}
	}
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "pause") == 0 ||
	    strcmp(cmd, "resume") == 0 || strcmp(cmd, "update") == 0 || strcmp(cmd, "checkpoint") == 0 ||
	    strcmp(cmd, "restore") == 0 || strcmp(cmd, "events") == 0) {
		al_error_set(&err, ENOTSUP, "oci", "%s: not supported by this version of airlock-runc (docs/oci.md)", cmd);
		return fail(&o, &err);
	}
	if (npos == 0) {
		al_error_set(&err, EINVAL, "oci", "%s: a container id is required", cmd);
		return fail(&o, &err);
	}
	const char *id = pos[0];
	int r;
	if (strcmp(cmd, "create") == 0) {
		r = al_oci_create(&o, id, bundle, pid_file, console, &err);
	} else if (strcmp(cmd, "start") == 0) {
		r = al_oci_start(&o, id, &err);
	} else if (strcmp(cmd, "state") == 0 || strcmp(cmd, "ps") == 0) {
		struct al_buf b;
		al_buf_init(&b);
		r = strcmp(cmd, "state") == 0 ? al_oci_state(&o, id, &b, &err) : al_oci_ps(&o, id, &b, &err);
		if (r == -ENOMEM)
			al_error_set(&err, ENOMEM, "oci", "out of memory");
		if (r == 0 && strcmp(cmd, "ps") == 0 && strcmp(format, "json") != 0) {
			/* table: one pid a line under a header */
			printf("PID\n");
			for (char *p = b.data + 1; *p && *p != ']'; p++)
				putchar(*p == ',' ? '\n' : *p);
			if (b.len > 2)
				putchar('\n');
		} else if (r == 0) {
			printf("%s\n", b.data);
		}
		al_buf_free(&b);
	} else if (strcmp(cmd, "kill") == 0) {
		int sig = SIGTERM;
		if (npos >= 2) {
			sig = al_oci_signal_parse(pos[1]);
			if (sig < 0) {
				al_error_set(&err, EINVAL, "oci", "kill: unknown signal");
				return fail(&o, &err);
			}
		}
		r = al_oci_kill(&o, id, sig, &err);
	} else if (strcmp(cmd, "delete") == 0) {
		r = al_oci_delete(&o, id, force, &err);
	} else {
		char msg[160];
		snprintf(msg, sizeof msg, "unknown command %s", cmd);
		report(&o, msg);
		usage(stderr);
		return 1;
	}
	return r < 0 ? fail(&o, &err) : 0;
}
