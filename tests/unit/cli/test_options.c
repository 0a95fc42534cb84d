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
	assert_int_equal(s.limits.memory, 1024 * MiB);
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
	expect_fail("--volume: volume \"/only\": expected HOST:SANDBOX[:ro|rw]", &s, r, &err);
	r = PARSE(&s, &o, &err, "-v", "/a:/b:wr", "x");
	expect_fail("mode must be ro or rw", &s, r, &err);
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
	    "-v, --volume HOST:SANDBOX[:ro|rw]",
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
	    cmocka_unit_test(test_spec_then_overrides),
	    cmocka_unit_test(test_help_version),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_spec_error_located),
	    cmocka_unit_test(test_parse_twice),
	    cmocka_unit_test(test_network_options),
	    cmocka_unit_test(test_usage_complete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
