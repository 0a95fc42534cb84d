/* `airlock run` option parsing: spec first then overrides, repeatable
 * options, the command, and every class of error. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#define MiB (1024ull * 1024)

static char tmpdir[] = "/tmp/airlock-cli-test-XXXXXX";
static char spec_path[300];

static int setup(void **state)
{
	FILE *f;

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", tmpdir);
	f = fopen(spec_path, "we");
	if (f == NULL)
		return -1;
	fputs("command: [/bin/spec-cmd, from-spec]\n"
	      "hostname: from-spec\n"
	      "limits: {memory: 16MiB, pids: 32, timeout: 5s}\n"
	      "env: {A: spec, S: spec}\n"
	      "volumes: [\"data:/data\"]\n",
	      f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	unlink(spec_path);
	rmdir(tmpdir);
	return 0;
}

/* Parse a NULL-terminated list of arguments after "run". */
static int parse(struct al_spec *s, struct al_cli_run *o, struct al_error *err, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"run";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	al_spec_init(s);
	memset(err, 0, sizeof *err);
	return al_cli_parse_run(argc, argv, s, o, err);
}

#define PARSE(s, o, e, ...) parse((s), (o), (e), __VA_ARGS__, (char *)NULL)

static void expect_fail(const char *want, struct al_spec *s, int r, const struct al_error *err)
{
	if (r >= 0)
		fail_msg("parsed, expected error containing \"%s\"", want);
	if (strstr(err->msg, want) == NULL)
		fail_msg("wrong error\n  got:  %s\n  want: ...%s...", err->msg, want);
	al_spec_free(s);
}

static void test_plain_command(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;

	assert_int_equal(PARSE(&s, &o, &err, "--", "/bin/echo", "-n", "hi"), 0);
	assert_int_equal(s.argc, 3);
	assert_string_equal(s.argv[0], "/bin/echo");
	assert_string_equal(s.argv[1], "-n");
	assert_null(s.argv[3]);
	assert_null(o.spec_path);
	assert_false(o.help);
	al_spec_free(&s);

	/* "+": the first non-option ends our options; the command's own -l stays its own */
	assert_int_equal(PARSE(&s, &o, &err, "-q", "ls", "-l", "--memory", "1"), 0);
	assert_true(s.quiet);
	assert_int_equal(s.argc, 4);
	assert_string_equal(s.argv[1], "-l");
	assert_string_equal(s.argv[2], "--memory");
	assert_int_equal(s.limits.memory, 4096 * MiB); /* the default: "--memory" was the command's */
	al_spec_free(&s);

	/* after "--" even an option-looking word is the command */
	assert_int_equal(PARSE(&s, &o, &err, "--", "-v"), 0);
	assert_string_equal(s.argv[0], "-v");
	al_spec_free(&s);
}

static void test_every_option(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	char *cwd = getcwd(NULL, 0);
	char want[4096];
	int r;

	r = PARSE(&s, &o, &err, "-v", "/h1:/one", "--volume", "rel:/two:rw",
	          "--volume=/h3:/three:ro", "--workspace", "task", "--export", "/out", "-w",
	          "/workspace/sub", "-e", "A=1", "--env", "B=2", "--env=A=3", "--user", "2000:3000",
	          "--hostname", "box", "--image", "/rootfs", "--timeout", "1m30s", "--memory",
	          "256MiB", "--pids", "64", "--cpus", "0.5", "--disk", "64MiB", "--log",
	          "runs/{run}.jsonl", "--log-sink", "relp://127.0.0.1:2514", "--signing-key", "/k",
	          "--allow-degraded", "timens", "--allow-degraded=cgroup", "-q", "--", "/bin/true");
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n_volumes, 3);
	assert_string_equal(s.volumes[0].host, "/h1");
	assert_string_equal(s.volumes[0].sandbox, "/one");
	assert_false(s.volumes[0].rw);
	snprintf(want, sizeof want, "%s/rel", cwd);
	assert_string_equal(s.volumes[1].host, want);
	assert_true(s.volumes[1].rw);
	assert_false(s.volumes[2].rw);
	snprintf(want, sizeof want, "%s/task", cwd);
	assert_string_equal(s.workspace, want);
	assert_string_equal(s.export_dir, "/out");
	assert_string_equal(s.workdir, "/workspace/sub");
	assert_int_equal(s.n_env, 2);
	assert_string_equal(s.env[0].key, "A");
	assert_string_equal(s.env[0].value, "3"); /* later wins */
	assert_string_equal(s.env[1].value, "2");
	assert_int_equal(s.uid, 2000);
	assert_int_equal(s.gid, 3000);
	assert_string_equal(s.hostname, "box");
	assert_string_equal(s.image, "/rootfs");
	assert_int_equal(s.limits.timeout_ns, 90ull * 1000000000ull);
	assert_int_equal(s.limits.memory, 256 * MiB);
	assert_int_equal(s.limits.pids, 64);
	assert_int_equal(s.limits.nproc, 64); /* follows pids */
	assert_true(s.limits.cpus == 0.5);
	assert_int_equal(s.limits.disk, 64 * MiB);
	assert_int_equal(s.limits.fsize, 64 * MiB); /* follows disk */
	snprintf(want, sizeof want, "%s/runs/{run}.jsonl", cwd);
	assert_string_equal(s.log.path, want);
	assert_string_equal(s.log.sink, "relp://127.0.0.1:2514");
	assert_string_equal(s.log.signing_key, "/k");
	assert_int_equal(s.allow_degraded, AL_DEGRADE_TIMENS | AL_DEGRADE_CGROUP);
	assert_true(s.quiet);
	al_spec_free(&s);

	/* --user UID sets gid too; --image host keeps the keyword */
	assert_int_equal(PARSE(&s, &o, &err, "--user", "0", "--image", "host", "x"), 0);
	assert_int_equal(s.uid, 0);
	assert_int_equal(s.gid, 0);
	assert_string_equal(s.image, "host");
	al_spec_free(&s);
	free(cwd);
}

/* Loopback TCP: on by default, off with --no-loopback-tcp, and the old
 * --allow-loopback-tcp still parses (last one wins). Volume options. */
static void test_loopback_and_volume_options(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;

	(void)state;
	assert_int_equal(PARSE(&s, &o, &err, "x"), 0);
	assert_true(s.network.loopback_tcp);
	al_spec_free(&s);
	assert_int_equal(PARSE(&s, &o, &err, "--no-loopback-tcp", "x"), 0);
	assert_false(s.network.loopback_tcp);
	al_spec_free(&s);
	assert_int_equal(PARSE(&s, &o, &err, "--no-loopback-tcp", "--allow-loopback-tcp", "x"), 0);
	assert_true(s.network.loopback_tcp);
	al_spec_free(&s);
	assert_int_equal(PARSE(&s, &o, &err, "-v", "/a:/a:ro,noexec", "-v", "/b:/b:rw,owner=root", "x"),
	                 0);
	assert_true(s.volumes[0].noexec && !s.volumes[0].rw && !s.volumes[0].owner_root);
	assert_true(s.volumes[1].owner_root && s.volumes[1].rw && !s.volumes[1].noexec);
	al_spec_free(&s);
}

static void test_spec_then_overrides(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	char want[400];
	int r;

	/* options before --spec still override it: the spec is loaded first */
	r = PARSE(&s, &o, &err, "--memory", "8MiB", "-e", "A=cli", "--hostname", "cli", "--spec",
	          spec_path, "-v", "/x:/x");
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(o.spec_path, spec_path);
	assert_int_equal(s.limits.memory, 8 * MiB);
	assert_int_equal(s.limits.pids, 32);                         /* from the spec */
	assert_int_equal(s.limits.timeout_ns, 5ull * 1000000000ull); /* from the spec */
	assert_string_equal(s.hostname, "cli");
	assert_int_equal(s.n_env, 2);
	assert_string_equal(s.env[0].value, "cli");
	assert_string_equal(s.env[1].value, "spec");
	/* volumes accumulate: the spec's (relative to the spec's dir), then the CLI's */
	assert_int_equal(s.n_volumes, 2);
	snprintf(want, sizeof want, "%s/data", tmpdir);
	assert_string_equal(s.volumes[0].host, want);
	assert_string_equal(s.volumes[1].host, "/x");
	/* no command on the line: the spec's */
	assert_int_equal(s.argc, 2);
	assert_string_equal(s.argv[0], "/bin/spec-cmd");
	al_spec_free(&s);

	/* a command on the line replaces the spec's */
	assert_int_equal(PARSE(&s, &o, &err,
	                       "--spec="
	                       "/dev/null",
	                       "--", "/bin/true"),
	                 -EINVAL);
	al_spec_free(&s);
	r = PARSE(&s, &o, &err, "--spec", spec_path, "/bin/cli-cmd");
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.argc, 1);
	assert_string_equal(s.argv[0], "/bin/cli-cmd");
	al_spec_free(&s);
}

static void test_help_version(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;

	/* no command needed, and nothing else is looked at */
	assert_int_equal(PARSE(&s, &o, &err, "--help"), 0);
	assert_true(o.help);
	al_spec_free(&s);
	assert_int_equal(PARSE(&s, &o, &err, "--memory", "junk", "-h"), 0);
	assert_true(o.help);
	al_spec_free(&s);
	assert_int_equal(PARSE(&s, &o, &err, "--version"), 0);
	assert_true(o.version);
	assert_false(o.help);
	al_spec_free(&s);
	/* after the command, --help belongs to the command */
	assert_int_equal(PARSE(&s, &o, &err, "ls", "--help"), 0);
	assert_false(o.help);
	assert_string_equal(s.argv[1], "--help");
	al_spec_free(&s);
}

static void test_errors(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	int r;

	r = PARSE(&s, &o, &err, "-q");
	expect_fail("no command given", &s, r, &err);
	r = PARSE(&s, &o, &err, "--");
	expect_fail("no command given", &s, r, &err);
	r = PARSE(&s, &o, &err, "--bogus", "x");
	expect_fail("unknown option --bogus", &s, r, &err);
	r = PARSE(&s, &o, &err, "-Z", "x");
	expect_fail("unknown option -Z", &s, r, &err);
	r = PARSE(&s, &o, &err, "--memory");
	expect_fail("--memory: missing argument", &s, r, &err);
	r = PARSE(&s, &o, &err, "x", "-e");
	assert_int_equal(r, 0); /* "-e" belongs to the command x */
	al_spec_free(&s);
	r = PARSE(&s, &o, &err, "-e");
	expect_fail("-e: missing argument", &s, r, &err);
	r = PARSE(&s, &o, &err, "-e", "HOME", "x");
	expect_fail("--env HOME: expected NAME=VALUE", &s, r, &err);
	r = PARSE(&s, &o, &err, "-e", "=v", "x");
	expect_fail("--env =v", &s, r, &err);
	r = PARSE(&s, &o, &err, "-v", "/only", "x");
	expect_fail("--volume: volume \"/only\": expected HOST:SANDBOX[:OPTIONS]", &s, r, &err);
	r = PARSE(&s, &o, &err, "-v", "/a:/b:wr", "x");
	expect_fail("unknown option \"wr\"", &s, r, &err);
	r = PARSE(&s, &o, &err, "--memory", "12QB", "x");
	expect_fail("--memory 12QB: invalid size", &s, r, &err);
	r = PARSE(&s, &o, &err, "--memory", "1K", "x");
	expect_fail("limits.memory: 1024 bytes is below the minimum", &s, r, &err);
	r = PARSE(&s, &o, &err, "--disk", "lots", "x");
	expect_fail("--disk lots: invalid size", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "10", "x");
	expect_fail("--timeout 10: invalid duration", &s, r, &err);
	r = PARSE(&s, &o, &err, "--pids", "10k", "x");
	expect_fail("--pids 10k: expected a positive integer", &s, r, &err);
	r = PARSE(&s, &o, &err, "--pids", "-1", "x");
	expect_fail("--pids -1", &s, r, &err);
	r = PARSE(&s, &o, &err, "--pids", "0", "x");
	expect_fail("limits.pids: 0 is not in", &s, r, &err);
	r = PARSE(&s, &o, &err, "--cpus", "nan", "x");
	expect_fail("--cpus nan: expected a number", &s, r, &err);
	r = PARSE(&s, &o, &err, "--cpus", "0", "x");
	expect_fail("limits.cpus: 0 is not in", &s, r, &err);
	r = PARSE(&s, &o, &err, "--user", "root", "x");
	expect_fail("--user root: expected UID or UID:GID", &s, r, &err);
	r = PARSE(&s, &o, &err, "--user", "70000", "x");
	expect_fail("--user 70000: ids must be below 65536", &s, r, &err);
	r = PARSE(&s, &o, &err, "--hostname", "bad_name", "x");
	expect_fail("hostname: \"bad_name\" is not a valid RFC 1123", &s, r, &err);
	r = PARSE(&s, &o, &err, "-w", "relative", "x");
	expect_fail("workdir: \"relative\" must be an absolute", &s, r, &err);
	r = PARSE(&s, &o, &err, "-v", "/a:/proc/x", "x");
	expect_fail("overlaps /proc", &s, r, &err);
	r = PARSE(&s, &o, &err, "--allow-degraded", "seccomp", "x");
	expect_fail("--allow-degraded seccomp: unknown degradation", &s, r, &err);
	r = PARSE(&s, &o, &err, "--log-sink", "udp://h:1", "x");
	expect_fail("log.sink: \"udp://h:1\"", &s, r, &err);
	r = PARSE(&s, &o, &err, "--export", "/out", "x");
	expect_fail("export: needs a workspace", &s, r, &err);
	r = PARSE(&s, &o, &err, "--spec", spec_path, "--spec", spec_path, "x");
	expect_fail("--spec given more than once", &s, r, &err);
	r = PARSE(&s, &o, &err, "--spec", "/nonexistent/spec.yaml", "x");
	expect_fail("opening spec /nonexistent/spec.yaml", &s, r, &err);
	assert_int_equal(r, -ENOENT);
	r = PARSE(&s, &o, &err, "--workspace", "", "x");
	expect_fail("--workspace: empty path", &s, r, &err);
}

/* Durations and sizes that would silently change meaning are refused. */
static void test_hostile_units(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	int r;

	r = PARSE(&s, &o, &err, "--timeout", "0.5ns", "x");
	expect_fail("--timeout 0.5ns: a positive duration below 1ns rounds to 0", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "0.0000000001s", "x");
	expect_fail("rounds to 0", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "1e999s", "x");
	expect_fail("--timeout 1e999s: invalid duration", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "99999999999h", "x");
	expect_fail("--timeout 99999999999h: duration too large", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "-1s", "x");
	expect_fail("--timeout -1s: invalid duration", &s, r, &err);
	r = PARSE(&s, &o, &err, "--memory", "0.0001K", "x");
	expect_fail("--memory 0.0001K: a positive size below 1 byte", &s, r, &err);
	r = PARSE(&s, &o, &err, "--disk", "99999999999T", "x");
	expect_fail("--disk 99999999999T: size too large", &s, r, &err);
	r = PARSE(&s, &o, &err, "--cpus", "1e999", "x");
	expect_fail("--cpus 1e999: expected a number", &s, r, &err);
	r = PARSE(&s, &o, &err, "--pids", "99999999999999999999999", "x");
	expect_fail("--pids 99999999999999999999999", &s, r, &err);
	r = PARSE(&s, &o, &err, "--timeout", "0", "x");
	assert_int_equal(r, 0); /* an explicit 0 is "no limit" */
	assert_int_equal(s.limits.timeout_ns, 0);
	al_spec_free(&s);
}

/* argv of "run", n times "-e" KEY=V (distinct keys or one key), then "x". */
static int parse_many_env(struct al_spec *s, struct al_cli_run *o, struct al_error *err, size_t n,
                          bool same_key)
{
	char **argv = calloc(2 * n + 3, sizeof *argv);
	size_t argc = 0;
	int r;

	assert_non_null(argv);
	argv[argc++] = (char *)"run";
	for (size_t i = 0; i < n; i++) {
		argv[argc++] = (char *)"-e";
		if (asprintf(&argv[argc++], same_key ? "K=%zu" : "K%zu=v", i) < 0)
			fail();
	}
	argv[argc++] = (char *)"x";
	al_spec_init(s);
	memset(err, 0, sizeof *err);
	r = al_cli_parse_run((int)argc, argv, s, o, err);
	for (size_t i = 2; i < argc - 1; i += 2)
		free(argv[i]);
	free(argv);
	return r;
}

/* One cap for -e and the spec's env: (AL_SPEC_MAX_ENV distinct keys); the
 * same key given again does not count, and the last value wins. */
static void test_env_cap(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	int r;

	r = parse_many_env(&s, &o, &err, AL_SPEC_MAX_ENV, false);
	assert_int_equal(r, 0);
	assert_int_equal(s.n_env, AL_SPEC_MAX_ENV);
	assert_string_equal(s.env[AL_SPEC_MAX_ENV - 1].key, "K4095");
	al_spec_free(&s);
	r = parse_many_env(&s, &o, &err, AL_SPEC_MAX_ENV + 1, false);
	expect_fail("--env: more than 4096 variables", &s, r, &err);
	r = parse_many_env(&s, &o, &err, 40000, false);
	expect_fail("--env: more than 4096 variables", &s, r, &err);
	r = parse_many_env(&s, &o, &err, 100000, true);
	assert_int_equal(r, 0);
	assert_int_equal(s.n_env, 1);
	assert_string_equal(s.env[0].value, "99999");
	al_spec_free(&s);
}

/* A spec is read to EOF whatever stat says; devices are refused; a pipe is
 * read, and a FIFO nobody writes is not waited for forever. */
static void test_spec_files(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	char path[400], fdpath[64];
	int p[2], r;

	/* procfs says size 0: it used to load as the empty (all-defaults) spec */
	r = PARSE(&s, &o, &err, "--spec", "/proc/cpuinfo", "x");
	expect_fail("/proc/cpuinfo:1:", &s, r, &err);
	r = PARSE(&s, &o, &err, "--spec", "/dev/zero", "x");
	expect_fail("spec /dev/zero is not a regular file or a pipe", &s, r, &err);
	r = PARSE(&s, &o, &err, "--spec", "/", "x");
	expect_fail("spec / is not a regular file or a pipe", &s, r, &err);

	/* a pipe (`--spec <(gen)`) is read to its end */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "hostname: from-pipe\n", 20), 20);
	close(p[1]);
	snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", p[0]);
	r = PARSE(&s, &o, &err, "--spec", fdpath, "x");
	close(p[0]);
	assert_int_equal(r, 0);
	assert_string_equal(s.hostname, "from-pipe");
	al_spec_free(&s);

	/* more than the cap through a pipe: refused, not cut */
	assert_int_equal(pipe(p), 0);
	if (fork() == 0) {
		static char junk[65536];
		memset(junk, '#', sizeof junk);
		close(p[0]);
		for (int i = 0; i < 20; i++)
			if (write(p[1], junk, sizeof junk) < 0)
				_exit(0);
		_exit(0);
	}
	close(p[1]);
	snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", p[0]);
	r = PARSE(&s, &o, &err, "--spec", fdpath, "x");
	close(p[0]);
	expect_fail("is larger than 1048576 bytes", &s, r, &err);
	while (wait(NULL) > 0)
		;

	/* a pipe whose writer neither writes nor closes: an error after a
	 * bounded wait, never a hang */
	assert_int_equal(pipe(p), 0);
	snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", p[0]);
	r = PARSE(&s, &o, &err, "--spec", fdpath, "x");
	close(p[0]);
	close(p[1]);
	expect_fail("nothing written to the pipe", &s, r, &err);

	/* a named FIFO (anyone, or no one, may write it) is not a spec */
	snprintf(path, sizeof path, "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	r = PARSE(&s, &o, &err, "--spec", path, "x");
	unlink(path);
	expect_fail("is not a regular file", &s, r, &err);
}

static void test_spec_error_located(void **state)
{
	char path[400];
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	FILE *f;
	int r;

	snprintf(path, sizeof path, "%s/bad.yaml", tmpdir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("limits:\n  memory: 12QB\n", f);
	fclose(f);
	r = PARSE(&s, &o, &err, "--spec", path, "--", "x");
	{
		char want[500];
		snprintf(want, sizeof want, "%s:2:11: limits.memory: invalid size \"12QB\"", path);
		expect_fail(want, &s, r, &err);
	}
	unlink(path);
}

static void test_parse_twice(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;

	/* getopt's global state is reset: a second parse sees all its options */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(PARSE(&s, &o, &err, "--pids", "9", "-q", "x"), 0);
		assert_int_equal(s.limits.pids, 9);
		assert_true(s.quiet);
		al_spec_free(&s);
	}
}

/* The egress options build the same policy the spec keys do, repeatable,
 * and every malformed value names the option and what was expected. */
static void test_network_options(void **state)
{
	struct al_spec s;
	struct al_cli_run o;
	struct al_error err;
	int r;

	(void)state;
	r = PARSE(&s, &o, &err, "--net", "proxy", "--allow-domain", "A.test", "--allow-domain",
	          "*.b.test", "--deny-domain", "x.b.test", "--allow-port", "8080", "--allow-cidr",
	          "127.0.0.2", "--add-host", "a.test:127.0.0.2", "--add-host", "v6.test:::1",
	          "--resolver", "127.0.0.5:5353", "--", "/bin/true");
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.network.mode, AL_NET_PROXY);
	assert_int_equal(s.network.n_allow_domains, 2);
	assert_string_equal(s.network.allow_domains[0], "a.test");
	assert_int_equal(s.network.n_deny_domains, 1);
	assert_int_equal(s.network.n_allow_ports, 1);
	assert_int_equal(s.network.allow_ports[0], 8080);
	assert_int_equal(s.network.n_hosts, 2);
	assert_string_equal(s.network.hosts[1].name, "v6.test");
	assert_int_equal(s.network.n_resolvers, 1);
	al_spec_free(&s);

	r = PARSE(&s, &o, &err, "--net", "host", "/bin/true");
	expect_fail("--net host: expected none or proxy", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--allow-domain", "a..b", "/bin/true");
	expect_fail("--allow-domain a..b: expected a domain name", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--allow-port", "0", "/bin/true");
	expect_fail("--allow-port 0: expected a port number 1..65535", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--allow-port", "65536", "/bin/true");
	expect_fail("--allow-port 65536: expected a port number", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--allow-cidr", "10.0.0.1/8", "/bin/true");
	expect_fail("--allow-cidr 10.0.0.1/8: bits set beyond the prefix length", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--add-host", "a.test", "/bin/true");
	expect_fail("--add-host a.test: expected NAME:ADDR", &s, r, &err);
	r = PARSE(&s, &o, &err, "--net", "proxy", "--add-host", "a.test:localhost", "/bin/true");
	expect_fail("--add-host a.test:localhost: expected NAME:ADDR", &s, r, &err);
	/* without --net proxy an allowlist would be silently meaningless */
	r = PARSE(&s, &o, &err, "--allow-domain", "a.test", "/bin/true");
	expect_fail("network.allow_domains: only meaningful with network.mode: proxy", &s, r, &err);
}

static void test_usage_complete(void **state)
{
	static const char *const opts[] = {
	    "--spec FILE",
	    "-v, --volume HOST:SANDBOX[:OPTIONS]",
	    "--workspace DIR",
	    "--export DIR",
	    "-w, --workdir DIR",
	    "-e, --env NAME=VALUE",
	    "--user UID[:GID]",
	    "--hostname NAME",
	    "--image host|DIR",
	    "--timeout DURATION",
	    "--memory SIZE",
	    "--pids N",
	    "--cpus N",
	    "--disk SIZE",
	    "--log FILE",
	    "--log-sink URL",
	    "--signing-key FILE",
	    "--allow-degraded NAME",
	    "--net none|proxy",
	    "--allow-domain NAME",
	    "--deny-domain NAME",
	    "--allow-port N",
	    "--allow-cidr CIDR",
	    "--add-host NAME:ADDR",
	    "--resolver ADDR[:PORT]",
	    "-q, --quiet",
	    "--version",
	    "-h, --help",
	    "landlock, cgroup, timens,",
	    "seccomp-notify",
	    "124",
	    "125",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	al_cli_usage_run(f);
	fclose(f);
	char problem[200] = "";

	for (size_t i = 0; i < sizeof opts / sizeof opts[0] && !problem[0]; i++)
		if (strstr(text, opts[i]) == NULL)
			snprintf(problem, sizeof problem, "usage does not mention \"%s\"", opts[i]);
	/* 80 columns, for terminals and man-like reading */
	for (char *line = text, *nl; *line && !problem[0]; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			snprintf(problem, sizeof problem, "usage does not end in a newline");
		else if (nl - line > 80)
			snprintf(problem, sizeof problem, "usage line longer than 80 columns: %.*s",
			         (int)(nl - line), line);
		if (nl == NULL)
			break;
	}
	free(text);
	if (problem[0])
		fail_msg("%s", problem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_command),
	    cmocka_unit_test(test_every_option),
	    cmocka_unit_test(test_loopback_and_volume_options),
	    cmocka_unit_test(test_spec_then_overrides),
	    cmocka_unit_test(test_help_version),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_spec_error_located),
	    cmocka_unit_test(test_hostile_units),
	    cmocka_unit_test(test_env_cap),
	    cmocka_unit_test(test_spec_files),
	    cmocka_unit_test(test_parse_twice),
	    cmocka_unit_test(test_network_options),
	    cmocka_unit_test(test_usage_complete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
