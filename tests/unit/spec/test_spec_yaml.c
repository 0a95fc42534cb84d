/* The YAML/JSON spec loader: every key, and every class of error with its
 * exact file:line:col and dotted key. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/spec.h"
#include "util/json.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

static int load(struct al_spec *s, const char *text, struct al_error *err)
{
	al_spec_init(s);
	memset(err, 0, sizeof *err);
	return al_spec_load_string(s, "spec.yaml", text, strlen(text), err);
}

/* Loading text must fail with exactly this message. */
static void expect_error(const char *text, const char *msg)
{
	struct al_spec s;
	struct al_error err;
	int r = load(&s, text, &err);

	if (r >= 0)
		fail_msg("spec loaded, expected error \"%s\"\n--- spec:\n%s", msg, text);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("wrong error\n  got:  %s\n  want: %s\n--- spec:\n%s", err.msg, msg, text);
	al_spec_free(&s);
}

static void test_full_spec(void **state)
{
	static const char text[] = "# every key\n"
	                           "command: [python3, -c, \"print(1)\"]\n"
	                           "image: /srv/rootfs\n"
	                           "workdir: /workspace/sub\n"
	                           "workspace: /srv/task\n"
	                           "export: /srv/out\n"
	                           "hostname: eval-7\n"
	                           "user: \"2000:3000\"\n"
	                           "env:\n"
	                           "  LANG: C.UTF-8\n"
	                           "  DEBUG: 1\n"
	                           "  EMPTY: \"\"\n"
	                           "volumes:\n"
	                           "  - /srv/data:/data\n"
	                           "  - /srv/rw:/rw:rw\n"
	                           "  - { host: /srv/m, path: /m, mode: rw }\n"
	                           "  - { host: /srv/n, path: /n }\n"
	                           "limits:\n"
	                           "  memory: 2GiB\n"
	                           "  pids: 100\n"
	                           "  cpus: 1.5\n"
	                           "  disk: 1G\n"
	                           "  open_files: 4096\n"
	                           "  nproc: 50\n"
	                           "  fsize: 10MB\n"
	                           "  output: 1MiB\n"
	                           "  timeout: 1m30s\n"
	                           "log:\n"
	                           "  path: /var/log/airlock/{run}.jsonl\n"
	                           "  sink: tls://logs.example:6514\n"
	                           "  on_sink_failure: spool\n"
	                           "  signing_key: /etc/airlock/key\n"
	                           "  checkpoint_every: 500\n"
	                           "  checkpoint_interval: 250ms\n"
	                           "  spool_dir: /var/spool/airlock\n"
	                           "  tls_ca: /etc/ssl/ca.pem\n"
	                           "network:\n"
	                           "  mode: none\n"
	                           "  loopback_tcp: true\n"
	                           "allow_degraded: [landlock, timens]\n";
	struct al_spec s;
	struct al_error err;

	assert_int_equal(load(&s, text, &err), 0);
	assert_int_equal(s.argc, 3);
	assert_string_equal(s.argv[0], "python3");
	assert_string_equal(s.argv[1], "-c");
	assert_string_equal(s.argv[2], "print(1)");
	assert_null(s.argv[3]);
	assert_string_equal(s.image, "/srv/rootfs");
	assert_string_equal(s.workdir, "/workspace/sub");
	assert_string_equal(s.workspace, "/srv/task");
	assert_string_equal(s.export_dir, "/srv/out");
	assert_string_equal(s.hostname, "eval-7");
	assert_int_equal(s.uid, 2000);
	assert_int_equal(s.gid, 3000);
	assert_int_equal(s.n_env, 3);
	assert_string_equal(s.env[0].key, "LANG");
	assert_string_equal(s.env[0].value, "C.UTF-8");
	assert_string_equal(s.env[1].key, "DEBUG");
	assert_string_equal(s.env[1].value, "1");
	assert_string_equal(s.env[2].value, "");
	assert_int_equal(s.n_volumes, 4);
	assert_string_equal(s.volumes[0].host, "/srv/data");
	assert_string_equal(s.volumes[0].sandbox, "/data");
	assert_false(s.volumes[0].rw);
	assert_true(s.volumes[1].rw);
	assert_string_equal(s.volumes[2].host, "/srv/m");
	assert_string_equal(s.volumes[2].sandbox, "/m");
	assert_true(s.volumes[2].rw);
	assert_false(s.volumes[3].rw);
	assert_int_equal(s.limits.memory, 2 * GiB);
	assert_int_equal(s.limits.pids, 100);
	assert_true(s.limits.cpus == 1.5);
	assert_int_equal(s.limits.disk, GiB);
	assert_int_equal(s.limits.nofile, 4096);
	assert_int_equal(s.limits.nproc, 50);
	assert_int_equal(s.limits.fsize, 10000000);
	assert_int_equal(s.limits.output, MiB);
	assert_int_equal(s.limits.timeout_ns, 90ull * 1000000000ull);
	assert_string_equal(s.log.path, "/var/log/airlock/{run}.jsonl");
	assert_string_equal(s.log.sink, "tls://logs.example:6514");
	assert_int_equal(s.log.on_sink_failure, AL_SINK_FAILURE_SPOOL);
	assert_string_equal(s.log.signing_key, "/etc/airlock/key");
	assert_int_equal(s.log.checkpoint_every, 500);
	assert_int_equal(s.log.checkpoint_ns, 250000000ull);
	assert_string_equal(s.log.spool_dir, "/var/spool/airlock");
	assert_string_equal(s.log.tls_ca, "/etc/ssl/ca.pem");
	assert_int_equal(s.network.mode, AL_NET_NONE);
	assert_true(s.network.loopback_tcp);
	assert_int_equal(s.allow_degraded, AL_DEGRADE_LANDLOCK | AL_DEGRADE_TIMENS);
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);
}

static void test_defaults_and_empty(void **state)
{
	static const char *const empties[] = {"", "# only a comment\n", "---\n", "{}", "~\n"};

	for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
		struct al_spec s;
		struct al_error err;

		assert_int_equal(load(&s, empties[i], &err), 0);
		assert_string_equal(s.image, "host");
		assert_string_equal(s.workdir, "/workspace");
		assert_string_equal(s.hostname, "airlock");
		assert_int_equal(s.uid, 1000);
		assert_int_equal(s.gid, 1000);
		assert_int_equal(s.limits.memory, 4 * GiB);
		assert_int_equal(s.limits.pids, 256);
		assert_true(s.limits.cpus == 1.0);
		assert_int_equal(s.limits.disk, 2 * GiB);
		assert_int_equal(s.limits.nofile, 1024);
		assert_int_equal(s.limits.nproc, 256);
		assert_int_equal(s.limits.fsize, 2 * GiB);
		assert_int_equal(s.limits.output, 64 * MiB);
		assert_int_equal(s.limits.timeout_ns, 600ull * 1000000000ull);
		assert_int_equal(s.log.checkpoint_every, 1000);
		assert_int_equal(s.log.checkpoint_ns, 1000000000ull);
		assert_int_equal(s.log.on_sink_failure, AL_SINK_FAILURE_KILL);
		assert_null(s.log.path);
		assert_null(s.workspace);
		assert_int_equal(s.argc, 0);
		assert_int_equal(s.allow_degraded, 0);
		al_spec_free(&s);
	}
}

static void test_followers(void **state)
{
	struct al_spec s;
	struct al_error err;

	/* nproc follows pids and fsize follows disk unless given */
	assert_int_equal(load(&s, "limits: {pids: 77, disk: 2MiB}", &err), 0);
	assert_int_equal(s.limits.nproc, 77);
	assert_int_equal(s.limits.fsize, 2 * MiB);
	al_spec_free(&s);
	/* explicit values stick, whatever the key order */
	assert_int_equal(load(&s, "limits: {nproc: 10, fsize: 1MiB, pids: 77, disk: 2MiB}", &err),
	                 0);
	assert_int_equal(s.limits.nproc, 10);
	assert_int_equal(s.limits.fsize, MiB);
	assert_int_equal(s.limits.pids, 77);
	al_spec_free(&s);
}

static void test_command_forms(void **state)
{
	struct al_spec s;
	struct al_error err;

	assert_int_equal(load(&s, "command: echo hi | wc -c\n", &err), 0);
	assert_int_equal(s.argc, 3);
	assert_string_equal(s.argv[0], "/bin/sh");
	assert_string_equal(s.argv[1], "-c");
	assert_string_equal(s.argv[2], "echo hi | wc -c");
	al_spec_free(&s);
	/* scalars of any YAML type are strings in argv, as written */
	assert_int_equal(load(&s, "command: [sleep, 10, true]\n", &err), 0);
	assert_string_equal(s.argv[1], "10");
	assert_string_equal(s.argv[2], "true");
	al_spec_free(&s);
}

static void test_user_int(void **state)
{
	struct al_spec s;
	struct al_error err;

	assert_int_equal(load(&s, "user: 0\n", &err), 0);
	assert_int_equal(s.uid, 0);
	assert_int_equal(s.gid, 0);
	al_spec_free(&s);
	assert_int_equal(load(&s, "user: 4242\n", &err), 0);
	assert_int_equal(s.uid, 4242);
	assert_int_equal(s.gid, 4242);
	al_spec_free(&s);
}

/* session: (airlock create): given or not, and in the canonical form only
 * when given, so specs without it keep their hash. */
static void test_session_keys(void **state)
{
	struct al_spec s;
	struct al_error err;
	struct al_buf a, b;
	(void)state;

	assert_int_equal(load(&s, "command: [true]\n", &err), 0);
	assert_false(s.session.idle_timeout_set || s.session.max_lifetime_set);
	al_buf_init(&a);
	assert_int_equal(al_spec_canonical_json(&s, &a), 0);
	assert_null(strstr(a.data, "\"session\""));
	al_spec_free(&s);
	assert_int_equal(load(&s, "command: [true]\nsession:\n  idle_timeout: 0s\n  max_lifetime: 2h\n", &err), 0);
	assert_true(s.session.idle_timeout_set && s.session.max_lifetime_set);
	assert_int_equal(s.session.idle_timeout_ns, 0);
	assert_int_equal(s.session.max_lifetime_ns, 2ull * 3600 * 1000000000ull);
	al_buf_init(&b);
	assert_int_equal(al_spec_canonical_json(&s, &b), 0);
	assert_non_null(strstr(b.data, "\"session\":{\"idle_timeout_ns\":0,\"max_lifetime_ns\":7200000000000}"));
	al_spec_free(&s);
	al_buf_free(&a);
	al_buf_free(&b);
	assert_true(load(&s, "session:\n  max_lifetime: 0s\n", &err) < 0);
	assert_non_null(strstr(err.msg, "max_lifetime"));
	al_spec_free(&s);
	assert_true(load(&s, "session:\n  idle: 5m\n", &err) < 0);
	al_spec_free(&s);
}

/* image_digest: pins the image (docs/images.md); image: may name an image
 * of the local store, which is kept as written rather than made a path. */
static void test_image_digest_and_store_refs(void **state)
{
	static const char pin[] =
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char text[256];
	struct al_spec s;
	struct al_error err;
	struct al_buf canon;
	(void)state;

	snprintf(text, sizeof text, "image: tools/busybox:1\nimage_digest: %s\n", pin);
	assert_int_equal(load(&s, text, &err), 0);
	assert_string_equal(s.image, "tools/busybox:1");
	assert_string_equal(s.image_digest, pin);
	al_buf_init(&canon);
	assert_int_equal(al_spec_canonical_json(&s, &canon), 0);
	assert_non_null(strstr(canon.data, "\"image_digest\":\"sha256:0123"));
	al_buf_free(&canon);
	al_spec_free(&s);

	snprintf(text, sizeof text, "image: %s\n", pin);
	assert_int_equal(load(&s, text, &err), 0);
	assert_string_equal(s.image, pin);
	assert_null(s.image_digest);
	/* unpinned specs keep their canonical form: no image_digest key */
	al_buf_init(&canon);
	assert_int_equal(al_spec_canonical_json(&s, &canon), 0);
	assert_null(strstr(canon.data, "image_digest"));
	al_buf_free(&canon);
	al_spec_free(&s);

	expect_error("image_digest: sha256:abc\n",
		     "spec.yaml:1:15: image_digest: \"sha256:abc\" is not an image digest (expected "
		     "sha256: and 64 lowercase hex digits, as printed by `airlock image digest`)");
	assert_true(al_spec_image_is_store_ref("a/b:1"));
	assert_true(al_spec_image_is_store_ref(pin));
	assert_false(al_spec_image_is_store_ref("./a:1"));
	assert_false(al_spec_image_is_store_ref("/srv/img:1"));
	assert_false(al_spec_image_is_store_ref("rootfs"));
	assert_false(al_spec_image_is_store_ref("host"));
}

static void test_relative_paths(void **state)
{
	char dir[] = "/tmp/airlock-spec-test-XXXXXX";
	char path[256], want[512];
	static const char text[] = "workspace: ./task\n"
	                           "export: out\n"
	                           "image: rootfs\n"
	                           "volumes: [\"data:/data\", {host: ../up, path: /up}]\n"
	                           "log: {path: \"runs/{run}.jsonl\", signing_key: key}\n";
	struct al_spec s;
	struct al_error err = {0};
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/spec.yaml", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	al_spec_init(&s);
	if (al_spec_load_file(&s, path, &err) < 0)
		fail_msg("%s", err.msg);
	snprintf(want, sizeof want, "%s/task", dir);
	assert_string_equal(s.workspace, want);
	snprintf(want, sizeof want, "%s/out", dir);
	assert_string_equal(s.export_dir, want);
	snprintf(want, sizeof want, "%s/rootfs", dir);
	assert_string_equal(s.image, want);
	snprintf(want, sizeof want, "%s/data", dir);
	assert_string_equal(s.volumes[0].host, want);
	snprintf(want, sizeof want, "%s/../up", dir);
	assert_string_equal(s.volumes[1].host, want);
	snprintf(want, sizeof want, "%s/runs/{run}.jsonl", dir);
	assert_string_equal(s.log.path, want);
	snprintf(want, sizeof want, "%s/key", dir);
	assert_string_equal(s.log.signing_key, want);
	assert_string_equal(s.source, path);
	al_spec_free(&s);

	/* a file error names the file */
	al_spec_init(&s);
	snprintf(path, sizeof path, "%s/missing.yaml", dir);
	assert_int_equal(al_spec_load_file(&s, path, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing.yaml"));
	/* a directory is not a spec */
	assert_int_equal(al_spec_load_file(&s, dir, &err), -EINVAL);
	/* nor is a FIFO, and opening one must not block */
	snprintf(path, sizeof path, "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(al_spec_load_file(&s, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not a regular file"));
	unlink(path);
	al_spec_free(&s);

	snprintf(path, sizeof path, "%s/spec.yaml", dir);
	unlink(path);
	rmdir(dir);
}

static void test_json_input(void **state)
{
	static const char json[] =
	    "{\n"
	    "  \"command\": [\"/bin/echo\", \"hi\"],\n"
	    "  \"env\": {\"A\": \"1\"},\n"
	    "  \"limits\": {\"memory\": \"256MiB\", \"pids\": 64, \"cpus\": 0.5, \"timeout\": "
	    "\"30s\"},\n"
	    "  \"volumes\": [{\"host\": \"/srv\", \"path\": \"/srv\", \"mode\": \"ro\"}]\n"
	    "}\n";
	struct al_spec s;
	struct al_error err;

	assert_int_equal(load(&s, json, &err), 0);
	assert_int_equal(s.argc, 2);
	assert_string_equal(s.argv[1], "hi");
	assert_int_equal(s.limits.memory, 256 * MiB);
	assert_int_equal(s.limits.pids, 64);
	assert_true(s.limits.cpus == 0.5);
	assert_int_equal(s.limits.timeout_ns, 30ull * 1000000000ull);
	assert_int_equal(s.n_volumes, 1);
	al_spec_free(&s);

	/* a .json name parses in JSON mode, errors still located */
	al_spec_init(&s);
	memset(&err, 0, sizeof err);
	assert_true(al_spec_load_string(&s, "spec.json", "{\"limits\": {\"pids\": \"many\"}}",
	                                strlen("{\"limits\": {\"pids\": \"many\"}}"), &err) < 0);
	assert_string_equal(err.msg,
	                    "spec.json:1:21: limits.pids: expected an integer, got a string");
	al_spec_free(&s);
}

static void test_errors_keys(void **state)
{
	expect_error("imgae: host\n", "spec.yaml:1:1: imgae: unknown key");
	expect_error("limits:\n  memroy: 1G\n", "spec.yaml:2:3: limits.memroy: unknown key");
	expect_error("log: {path: /x, colour: red}\n", "spec.yaml:1:17: log.colour: unknown key");
	expect_error("hostname: a\nhostname: b\n",
	             "spec.yaml:2:1: hostname: duplicate key (first at line 1)");
	expect_error("env:\n  A: 1\n  A: 2\n",
	             "spec.yaml:3:3: env.A: duplicate key (first at line 2)");
	expect_error("volumes:\n  - {host: /a, path: /a, size: 1}\n",
	             "spec.yaml:2:26: volumes[0].size: unknown key (expected host, path, mode, noexec, owner)");
	expect_error("rules:\n  - {on: output, action: kill}\n",
	             "spec.yaml:2:5: rules[0]: an output rule needs match.text (a glob on a line) "
	             "or match.contains (a string)");
	expect_error("rules:\n  - {on: exec, match: {text: '*x*'}, action: kill}\n",
	             "spec.yaml:2:5: rules[0]: text, contains and stream apply to output rules only");
	expect_error("rules:\n  - {on: output, match: {contains: x, stream: tty}, action: kill}\n",
	             "spec.yaml:2:47: rules[0].match.stream: must be stdout or stderr, not \"tty\"");
	expect_error("network: {mode: none, allow_hosts: [x]}\n",
	             "spec.yaml:1:23: network.allow_hosts: unknown key");
	expect_error("[1, 2]\n", "spec.yaml:1:1: the spec must be a mapping of keys, got a list");
	expect_error("just words\n",
	             "spec.yaml:1:1: the spec must be a mapping of keys, got a scalar");
	expect_error("? [a]\n: b\n", "spec.yaml:1:3: keys must be strings, got a list");
}

static void test_errors_types(void **state)
{
	expect_error("limits: 5\n", "spec.yaml:1:9: limits: expected a mapping, got a scalar");
	expect_error("command: {a: b}\n", "spec.yaml:1:10: command: expected a list of strings (or "
	                                  "one shell command string), got a mapping");
	expect_error("command: []\n", "spec.yaml:1:10: command: must not be empty");
	expect_error("command: [ls, [x]]\n",
	             "spec.yaml:1:15: command[1]: expected a string, got a list");
	expect_error("command: [\"\", x]\n",
	             "spec.yaml:1:11: command: the program name must not be empty");
	expect_error("hostname:\n", "spec.yaml:1:10: hostname: expected a string, got null");
	expect_error("hostname: [a]\n", "spec.yaml:1:11: hostname: expected a string, got a list");
	expect_error("env: [A=1]\n",
	             "spec.yaml:1:6: env: expected a mapping of NAME: value, got a list");
	expect_error("env: {A: [1]}\n", "spec.yaml:1:10: env.A: expected a string, got a list");
	expect_error("env: {\"A=B\": 1}\n",
	             "spec.yaml:1:7: env: invalid variable name (non-empty, without '=')");
	expect_error("env: {A: null}\n", "spec.yaml:1:10: env.A: expected a string, got null");
	expect_error("volumes: /a:/b\n", "spec.yaml:1:10: volumes: expected a list, got a scalar");
	expect_error("volumes: [[a]]\n",
	             "spec.yaml:1:11: volumes[0]: expected \"HOST:SANDBOX[:OPTIONS]\" or {host, "
	             "path, mode, noexec, owner}, got a list");
	expect_error("limits: {pids: \"256\"}\n",
	             "spec.yaml:1:16: limits.pids: expected an integer, got a string");
	expect_error("limits: {pids: 1.5}\n",
	             "spec.yaml:1:16: limits.pids: expected an integer, got \"1.5\"");
	expect_error("limits: {cpus: \"2\"}\n",
	             "spec.yaml:1:16: limits.cpus: expected a number, got a string");
	expect_error("limits: {cpus: .inf}\n",
	             "spec.yaml:1:16: limits.cpus: expected a number, got \".inf\"");
	expect_error("limits: {memory: [1]}\n",
	             "spec.yaml:1:18: limits.memory: expected a size such as 512MiB, got a list");
	expect_error("limits: {timeout: ~}\n",
	             "spec.yaml:1:19: limits.timeout: expected a duration such as 10m, got null");
	expect_error("allow_degraded: landlock\n",
	             "spec.yaml:1:17: allow_degraded: expected a list of names, got a scalar");
	expect_error("user: [1]\n",
	             "spec.yaml:1:7: user: expected a uid or \"uid:gid\", got a list");
}

static void test_errors_values(void **state)
{
	expect_error("limits:\n  memory: 12QB\n",
	             "spec.yaml:2:11: limits.memory: invalid size \"12QB\"");
	expect_error(
	    "limits:\n  memory: 1\n",
	    "spec.yaml:2:11: limits.memory: 1 bytes is below the minimum of 4194304 (4 MiB)");
	expect_error("limits: {disk: 99999999999T}\n",
	             "spec.yaml:1:16: limits.disk: size \"99999999999T\" is too large");
	expect_error("limits: {timeout: 10}\n",
	             "spec.yaml:1:19: limits.timeout: invalid duration \"10\" (use a number with a "
	             "unit: ns, us, ms, s, m, h)");
	expect_error("limits: {timeout: 99999999999h}\n",
	             "spec.yaml:1:19: limits.timeout: duration \"99999999999h\" is too large");
	expect_error("limits: {timeout: 0.5ns}\n",
	             "spec.yaml:1:19: limits.timeout: duration \"0.5ns\" is positive but below 1ns "
	             "(it would round to 0, which means no limit)");
	expect_error("limits: {output: 0.0001K}\n",
	             "spec.yaml:1:18: limits.output: size \"0.0001K\" is positive but below 1 byte");
	expect_error("limits: {pids: 0}\n", "spec.yaml:1:16: limits.pids: 0 is not in 1..4194304");
	expect_error("limits: {pids: -5}\n",
	             "spec.yaml:1:16: limits.pids: must not be negative (got -5)");
	expect_error("limits: {pids: 0x10}\n",
	             "spec.yaml:1:16: limits.pids: expected an integer, got \"0x10\"");
	expect_error("limits: {pids: 99999999999999999999999}\n",
	             "spec.yaml:1:16: limits.pids: 99999999999999999999999 is too large");
	expect_error("limits: {cpus: 0}\n", "spec.yaml:1:16: limits.cpus: 0 is not in 0.01..1024");
	expect_error("limits: {cpus: 2000}\n",
	             "spec.yaml:1:16: limits.cpus: 2000 is not in 0.01..1024");
	expect_error("limits: {open_files: 2}\n",
	             "spec.yaml:1:22: limits.open_files: 2 is not in 3..1048576");
	expect_error("limits: {nproc: 0}\n",
	             "spec.yaml:1:17: limits.nproc: 0 is not in 1..4194304");
	expect_error("limits: {fsize: 0}\n",
	             "spec.yaml:1:17: limits.fsize: 0 bytes is below the minimum of 1 (0 MiB)");
	expect_error(
	    "user: 65536\n",
	    "spec.yaml:1:7: user: \"65536\": ids must be below 65536 (the sandbox maps 65536 ids)");
	expect_error("user: root\n",
	             "spec.yaml:1:7: user: expected a uid or \"uid:gid\", got \"root\"");
	expect_error("user: -1\n",
	             "spec.yaml:1:7: user: expected a uid or \"uid:gid\", got \"-1\"");
	expect_error("hostname: -bad\n", "spec.yaml:1:11: hostname: \"-bad\" is not a valid RFC "
	                                 "1123 host name of at most 64 characters");
	expect_error("workdir: tmp\n",
	             "spec.yaml:1:10: workdir: \"tmp\" must be an absolute, normalised path (no "
	             "\"..\", \".\", \"//\" or trailing \"/\")");
	expect_error("workdir: /a/../b\n",
	             "spec.yaml:1:10: workdir: \"/a/../b\" must be an absolute, normalised path "
	             "(no \"..\", \".\", \"//\" or trailing \"/\")");
	expect_error("workspace: \"\"\n", "spec.yaml:1:12: workspace: must not be empty");
	expect_error("volumes: [\"/a\"]\n",
	             "spec.yaml:1:11: volumes[0]: volume \"/a\": expected HOST:SANDBOX[:OPTIONS]");
	expect_error(
	    "volumes: [\"/a:/b:rx\"]\n",
	    "spec.yaml:1:11: volumes[0]: volume \"/a:/b:rx\": unknown option \"rx\" (expected ro, rw, noexec, owner=root)");
	expect_error("volumes: [\"/a:b\"]\n",
	             "spec.yaml:1:11: volumes[0]: sandbox path \"b\" must be absolute and "
	             "normalised (no \"..\", \".\", \"//\" or trailing \"/\")");
	expect_error("volumes: [{host: /a}]\n", "spec.yaml:1:11: volumes[0]: missing key path");
	expect_error("volumes: [{path: /a}]\n", "spec.yaml:1:11: volumes[0]: missing key host");
	expect_error("volumes: [{host: /a, path: /b, mode: rwx}]\n",
	             "spec.yaml:1:38: volumes[0].mode: must be ro or rw, not \"rwx\"");
	expect_error("volumes: [{host: /a, path: /b/, mode: rw}]\n",
	             "spec.yaml:1:28: volumes[0].path: \"/b/\" must be an absolute, normalised "
	             "path (no \"..\", \".\", \"//\" or trailing \"/\")");
	expect_error("log: {sink: \"http://x:1\"}\n",
	             "spec.yaml:1:13: log.sink: \"http://x:1\" is not tcp://HOST:PORT, "
	             "tls://HOST:PORT or relp://HOST:PORT");
	expect_error("log: {sink: \"tcp://x:70000\"}\n",
	             "spec.yaml:1:13: log.sink: \"tcp://x:70000\" is not tcp://HOST:PORT, "
	             "tls://HOST:PORT or relp://HOST:PORT");
	expect_error("log: {on_sink_failure: ignore}\n",
	             "spec.yaml:1:24: log.on_sink_failure: must be kill or spool, not \"ignore\"");
	expect_error("log: {checkpoint_every: 0}\n",
	             "spec.yaml:1:25: log.checkpoint_every: 0 is not in 1..4294967295");
	expect_error("log: {checkpoint_every: 4294967296}\n",
	             "spec.yaml:1:25: log.checkpoint_every: 4294967296 is not in 1..4294967295");
	expect_error("log: {checkpoint_interval: 10us}\n",
	             "spec.yaml:1:28: log.checkpoint_interval: must be at least 1ms");
	expect_error("network: {mode: host}\n", "spec.yaml:1:17: network.mode: unknown network "
	                                        "mode \"host\" (none or proxy)");
	expect_error("network: {loopback_tcp: yes}\n",
	             "spec.yaml:1:25: network.loopback_tcp: expected true or false, got a scalar \"yes\"");
	expect_error("network: {loopback_tcp: \"true\"}\n",
	             "spec.yaml:1:25: network.loopback_tcp: expected true or false, got a string \"true\"");
	expect_error("allow_degraded: [landlock, seccomp]\n",
	             "spec.yaml:1:28: allow_degraded[1]: unknown degradation \"seccomp\" (known: "
	             "landlock, cgroup, timens, seccomp-notify)");
}

/* network.mode: proxy and its policy keys: normalised on loading, every
 * malformed value reported at its own position. */
static void test_network_proxy(void **state)
{
	static const char text[] = "network:\n"
	                           "  mode: proxy\n"
	                           "  allow_domains: [PyPI.org., \"*.pythonhosted.org\", pypi.org]\n"
	                           "  deny_domains: [evil.pythonhosted.org]\n"
	                           "  allow_ports: [443, 8080, 443]\n"
	                           "  allow_cidr: [127.0.0.2, 10.0.0.0/8, \"fd00::/8\"]\n"
	                           "  hosts: {Mirror.Test: 127.0.0.2, v6.test: \"::1\"}\n"
	                           "  resolver: [127.0.0.5:5353, \"[::1]:53\", 9.9.9.9]\n";
	struct al_spec s;
	struct al_error err;
	char buf[80];

	(void)state;
	if (load(&s, text, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.network.mode, AL_NET_PROXY);
	assert_int_equal(s.network.n_allow_domains, 2);
	assert_string_equal(s.network.allow_domains[0], "pypi.org");
	assert_string_equal(s.network.allow_domains[1], "*.pythonhosted.org");
	assert_int_equal(s.network.n_deny_domains, 1);
	assert_int_equal(s.network.n_allow_ports, 2);
	assert_int_equal(s.network.n_allow_cidr, 3);
	al_net_cidr_format(&s.network.allow_cidr[0], buf, sizeof buf);
	assert_string_equal(buf, "127.0.0.2/32");
	al_net_cidr_format(&s.network.allow_cidr[2], buf, sizeof buf);
	assert_string_equal(buf, "fd00::/8");
	assert_int_equal(s.network.n_hosts, 2);
	assert_string_equal(s.network.hosts[0].name, "mirror.test");
	assert_int_equal(s.network.n_resolvers, 3);
	al_net_addr_format(&s.network.resolvers[0], true, buf, sizeof buf);
	assert_string_equal(buf, "127.0.0.5:5353");
	al_net_addr_format(&s.network.resolvers[1], true, buf, sizeof buf);
	assert_string_equal(buf, "[::1]:53");
	al_spec_free(&s);

	expect_error("network: {mode: proxy, allow_domains: [\"*.\"]}\n",
	             "spec.yaml:1:40: network.allow_domains[0]: \"*.\" is not a domain name "
	             "(example.com or *.example.com)");
	expect_error("network: {mode: proxy, allow_domains: [\"a.*.com\"]}\n",
	             "spec.yaml:1:40: network.allow_domains[0]: \"a.*.com\" is not a domain name "
	             "(example.com or *.example.com)");
	expect_error("network: {mode: proxy, allow_domains: [\"ex ample.com\"]}\n",
	             "spec.yaml:1:40: network.allow_domains[0]: \"ex ample.com\" is not a domain "
	             "name (example.com or *.example.com)");
	expect_error("network: {mode: proxy, allow_domains: [a..b]}\n",
	             "spec.yaml:1:40: network.allow_domains[0]: \"a..b\" is not a domain name "
	             "(example.com or *.example.com)");
	expect_error("network: {mode: proxy, allow_domains: example.com}\n",
	             "spec.yaml:1:39: network.allow_domains: expected a list of a domain name "
	             "(example.com or *.example.com), got a scalar");
	expect_error("network: {mode: proxy, allow_ports: [0]}\n",
	             "spec.yaml:1:38: network.allow_ports[0]: port 0 is not a port");
	expect_error("network: {mode: proxy, allow_ports: [65536]}\n",
	             "spec.yaml:1:38: network.allow_ports[0]: 65536 is too large (at most 65535)");
	expect_error("network: {mode: proxy, allow_cidr: [10.0.0.1/8]}\n",
	             "spec.yaml:1:37: network.allow_cidr[0]: \"10.0.0.1/8\" has bits set beyond "
	             "its prefix length");
	expect_error("network: {mode: proxy, allow_cidr: [10.0.0.0/33]}\n",
	             "spec.yaml:1:37: network.allow_cidr[0]: \"10.0.0.0/33\" is not an address or "
	             "CIDR (10.0.0.0/8, fd00::/8, 127.0.0.2)");
	expect_error("network: {mode: proxy, allow_cidr: [0x7f.1]}\n",
	             "spec.yaml:1:37: network.allow_cidr[0]: \"0x7f.1\" is not an address or CIDR "
	             "(10.0.0.0/8, fd00::/8, 127.0.0.2)");
	expect_error("network: {mode: proxy, hosts: {a.test: 999.1.1.1}}\n",
	             "spec.yaml:1:40: network.hosts.a.test: \"999.1.1.1\" is not an IPv4 or IPv6 "
	             "address");
	expect_error("network: {mode: proxy, hosts: {\"*.test\": 127.0.0.2}}\n",
	             "spec.yaml:1:32: network.hosts.*.test: \"*.test\" is not a host name");
	expect_error("network: {mode: proxy, hosts: {a.test: 127.0.0.2, a.test: 127.0.0.3}}\n",
	             "spec.yaml:1:51: network.hosts.a.test: duplicate key (first at line 1)");
	expect_error("network: {mode: proxy, resolver: [\"[::1]\"]}\n",
	             "spec.yaml:1:35: network.resolver[0]: \"[::1]\" is not a resolver address "
	             "(ADDR, ADDR:PORT or [V6ADDR]:PORT)");
}

/* The policy keys mean nothing without proxy mode: saying so beats
 * silently ignoring an allowlist the user believes is in force. */
static void test_network_policy_needs_proxy(void **state)
{
	struct al_spec s;
	struct al_error err;

	(void)state;
	assert_int_equal(load(&s, "command: [x]\nnetwork: {allow_domains: [a.test]}\n", &err), 0);
	assert_true(al_spec_validate(&s, &err) < 0);
	assert_string_equal(err.msg, "network.allow_domains: only meaningful with network.mode: "
	                             "proxy (--net proxy); in mode none nothing leaves the sandbox");
	al_spec_free(&s);
	assert_int_equal(load(&s, "command: [x]\nnetwork: {mode: proxy, allow_domains: [a.test]}\n",
	                      &err),
	                 0);
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);
}

/* chaos.network: durations, probabilities, a rate; only with proxy mode. */
static void test_chaos_network(void **state)
{
	struct al_spec s;
	struct al_error err;

	(void)state;
	if (load(&s, "command: [x]\nnetwork: {mode: proxy}\nchaos:\n  seed: 42\n"
	             "  network: {latency: 50ms, jitter: 10ms, loss: 0.02, reset: 0.01, "
	             "bandwidth: 1MiB/s}\n",
	         &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(s.chaos.seed_set);
	assert_int_equal(s.chaos.seed, 42);
	assert_true(s.chaos.network);
	assert_int_equal(s.chaos.latency_ns, 50000000);
	assert_int_equal(s.chaos.jitter_ns, 10000000);
	assert_true(s.chaos.loss == 0.02 && s.chaos.reset == 0.01);
	assert_int_equal(s.chaos.bandwidth, 1048576);
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);

	assert_int_equal(load(&s, "command: [x]\nchaos: {network: {latency: 1ms}}\n", &err), 0);
	assert_true(al_spec_validate(&s, &err) < 0);
	assert_string_equal(err.msg, "chaos.network: applies to the connections the egress proxy "
	                             "relays; needs network.mode: proxy");
	al_spec_free(&s);

	expect_error("chaos: {network: {loss: 1.5}}\n",
	             "spec.yaml:1:25: chaos.network.loss: 1.5 is not a probability between 0 and 1");
	expect_error("chaos: {network: {reset: nan}}\n",
	             "spec.yaml:1:26: chaos.network.reset: expected a probability between 0 and 1, "
	             "got \"nan\"");
	expect_error("chaos: {network: {bandwidth: fast}}\n",
	             "spec.yaml:1:30: chaos.network.bandwidth: invalid rate \"fast\" (e.g. 1MiB/s, "
	             "at least 1 byte/s)");
	expect_error("chaos: {network: {delay: 1ms}}\n",
	             "spec.yaml:1:19: chaos.network.delay: unknown key");
	expect_error("chaos: {seed: -1}\n", "spec.yaml:1:15: chaos.seed: must not be negative (got -1)");
}

static void test_errors_syntax(void **state)
{
	expect_error("a: [1\n", "spec.yaml:2:1: flow sequence without a closing bracket");
	expect_error("hostname: \"\\q\"\n",
	             "spec.yaml:1:12: invalid escape 'q' in double-quoted string");
	expect_error("hostname: x\n---\nhostname: y\n",
	             "spec.yaml:2:1: a spec is a single YAML document");
	expect_error("base: &b {memory: 1G}\nlimits: *b\n",
	             "spec.yaml:1:7: anchors and aliases (&, *) are not supported in a spec");
	expect_error("hostname: !!str 5\n",
	             "spec.yaml:1:11: YAML tags (!...) are not supported in a spec");
	expect_error("hostname: \"a\\0b\"\n", "spec.yaml:1:11: string contains a NUL byte");
	/* checked before libfyaml sees them (0.7.12 hangs on some of these) */
	expect_error("hostname: x\n%x \xaa\n", "spec.yaml:2:4: invalid UTF-8");
	expect_error("a: \xc3\xa9\xc0\x80\n", "spec.yaml:1:5: invalid UTF-8"); /* overlong NUL */
	expect_error("a: \xed\xa0\x80\n", "spec.yaml:1:4: invalid UTF-8");     /* surrogate */
	expect_error("a: \xe2\x82\n", "spec.yaml:1:4: invalid UTF-8");         /* truncated */
	expect_error("env:\n  A: \"x\x01\"\n",
	             "spec.yaml:2:8: control character U+0001 is not allowed in YAML");
	expect_error("a: b\x7f\n",
	             "spec.yaml:1:5: control character U+007F is not allowed in YAML");
	{
		/* a raw NUL byte inside the given length */
		struct al_spec s;
		struct al_error err;
		al_spec_init(&s);
		assert_true(al_spec_load_string(&s, "spec.yaml", "a: b\0c\n", 7, &err) < 0);
		assert_string_equal(
		    err.msg, "spec.yaml:1:5: control character U+0000 is not allowed in YAML");
		al_spec_free(&s);
	}
	/* and good UTF-8 passes through untouched */
	{
		struct al_spec s;
		struct al_error err;
		assert_int_equal(load(&s,
		                      "\xef\xbb\xbf"
		                      "env: {GREETING: \"gr\xc3\xbc\xc3\x9f \xf0\x9f\x91\x8b\"}\n",
		                      &err),
		                 0);
		assert_string_equal(s.env[0].value, "gr\xc3\xbc\xc3\x9f \xf0\x9f\x91\x8b");
		al_spec_free(&s);
	}
}

static void test_error_limits(void **state)
{
	struct al_spec s;
	struct al_error err;
	char *deep;
	size_t n = 0;

	/* deep nesting is refused, not recursed into */
	deep = malloc(4096);
	assert_non_null(deep);
	n += (size_t)sprintf(deep + n, "command: ");
	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	for (int i = 0; i < 200; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	assert_true(load(&s, deep, &err) < 0);
	assert_non_null(strstr(err.msg, "spec.yaml:1:"));
	al_spec_free(&s);
	free(deep);

	/* a huge input is refused before parsing */
	al_spec_init(&s);
	deep = calloc(1, 2 * 1024 * 1024 + 1);
	assert_non_null(deep);
	memset(deep, '#', 2 * 1024 * 1024);
	assert_int_equal(al_spec_load_string(&s, "big.yaml", deep, 2 * 1024 * 1024, &err), -EFBIG);
	al_spec_free(&s);
	free(deep);
}

static void test_override_keeps_others(void **state)
{
	struct al_spec s;
	struct al_error err;

	/* keys present override; the rest keep their defaults, and a later
	 * load over the same spec overrides again (no leak, no double free) */
	assert_int_equal(load(&s, "hostname: one\nlimits: {memory: 8MiB}\n", &err), 0);
	assert_int_equal(al_spec_load_string(&s, "b.yaml", "hostname: two\n", 14, &err), 0);
	assert_string_equal(s.hostname, "two");
	assert_int_equal(s.limits.memory, 8 * MiB);
	assert_string_equal(s.image, "host");
	al_spec_free(&s);
}

/* ---- chaos ---- */

static void test_chaos_keys(void **state)
{
	static const char text[] = "chaos:\n"
	                           "  seed: 42\n"
	                           "  syscalls:\n"
	                           "    - {syscall: openat, errno: EIO, rate: 0.05, paths: \"/workspace/**\"}\n"
	                           "    - {syscall: write, errno: ENOSPC, after: 1000}\n"
	                           "    - {syscall: connect, errno: ECONNREFUSED, every: 10, max: 3}\n"
	                           "  resources:\n"
	                           "    - {at: 30s, memory: 256MiB}\n"
	                           "    - {at: 60s, cpus: 0.2}\n"
	                           "    - {at: 90s, pids: 32}\n"
	                           "    - {at: 2m, disk: 10MiB}\n"
	                           "  clock: {offset: +3d}\n";
	struct al_spec s;
	struct al_error err;
	struct al_buf b;

	assert_int_equal(load(&s, text, &err), 0);
	assert_true(s.chaos.enabled);
	assert_int_equal(s.chaos.seed, 42);
	assert_int_equal(s.chaos.n_syscalls, 3);
	assert_string_equal(s.chaos.syscalls[0].syscall, "openat");
	assert_int_equal(s.chaos.syscalls[0].err, EIO);
	assert_int_equal(s.chaos.syscalls[0].trigger, AL_CHAOS_RATE);
	assert_true(s.chaos.syscalls[0].rate == 0.05);
	assert_string_equal(s.chaos.syscalls[0].paths, "/workspace/**");
	assert_int_equal(s.chaos.syscalls[1].trigger, AL_CHAOS_AFTER);
	assert_int_equal(s.chaos.syscalls[1].n, 1000);
	assert_int_equal(s.chaos.syscalls[2].trigger, AL_CHAOS_EVERY);
	assert_int_equal(s.chaos.syscalls[2].max, 3);
	assert_int_equal(s.chaos.n_steps, 4);
	assert_int_equal(s.chaos.steps[0].at_ns, 30000000000ull);
	assert_int_equal(s.chaos.steps[0].what, AL_CHAOS_RES_MEMORY);
	assert_int_equal(s.chaos.steps[0].memory, 256 * MiB);
	assert_true(s.chaos.steps[1].cpus == 0.2);
	assert_int_equal(s.chaos.steps[2].pids, 32);
	assert_int_equal(s.chaos.steps[3].at_ns, 120000000000ull);
	assert_int_equal(s.chaos.steps[3].disk, 10 * MiB);
	assert_int_equal(s.chaos.clock_offset_ns, 3ll * 86400 * 1000000000ll);
	assert_true(s.limits.cpus == 1.0); /* a step's cpus is not the limit's */
	al_buf_init(&b);
	assert_int_equal(al_spec_canonical_json(&s, &b), 0);
	assert_non_null(strstr(b.data,
	    "\"chaos\":{\"clock\":{\"offset\":259200000000000},\"network\":null,\"resources\":[{\"at\":30000000000,"
	    "\"memory\":268435456},{\"at\":60000000000,\"cpus\":0.2},{\"at\":90000000000,\"pids\":32},"
	    "{\"at\":120000000000,\"disk\":10485760}],\"seed\":42,\"syscalls\":[{\"errno\":\"EIO\","
	    "\"max\":0,\"paths\":\"/workspace/**\",\"rate\":0.05,\"syscall\":\"openat\"},{\"after\":1000,"
	    "\"errno\":\"ENOSPC\",\"max\":0,\"paths\":null,\"syscall\":\"write\"},{\"errno\":"
	    "\"ECONNREFUSED\",\"every\":10,\"max\":3,\"paths\":null,\"syscall\":\"connect\"}]},"
	    "\"command\""));
	al_buf_free(&b);
	al_spec_free(&s);

	/* no chaos section: no chaos key, so older hashes stay what they were */
	assert_int_equal(load(&s, "image: host\n", &err), 0);
	al_buf_init(&b);
	assert_int_equal(al_spec_canonical_json(&s, &b), 0);
	assert_null(strstr(b.data, "chaos"));
	al_buf_free(&b);
	al_spec_free(&s);

	assert_int_equal(load(&s, "chaos:\n  clock: {offset: -90m, realtime: +1h}\n", &err), 0);
	assert_int_equal(s.chaos.clock_offset_ns, -90ll * 60 * 1000000000ll);
	assert_int_equal(s.chaos.realtime_skew_ns, 3600ll * 1000000000ll);
	al_spec_free(&s);
}

static void test_chaos_errors(void **state)
{
	expect_error("chaos:\n  sead: 1\n", "spec.yaml:2:3: chaos.sead: unknown key");
	expect_error("chaos:\n  seed: -1\n", "spec.yaml:2:9: chaos.seed: must not be negative (got -1)");
	expect_error("chaos:\n  syscalls:\n    - {syscall: opnat, errno: EIO, rate: 0.1}\n",
	             "spec.yaml:3:17: chaos.syscalls[0].syscall: unknown syscall \"opnat\"");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIOO, rate: 0.1}\n",
	             "spec.yaml:3:32: chaos.syscalls[0].errno: unknown or unsupported errno \"EIOO\" "
	             "(a name such as EIO, ENOSPC, ECONNREFUSED; docs/chaos.md lists them)");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, rate: 1.5}\n",
	             "spec.yaml:3:43: chaos.syscalls[0].rate: expected a number in (0, 1], got 1.5");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, rate: 0}\n",
	             "spec.yaml:3:43: chaos.syscalls[0].rate: expected a number in (0, 1], got 0");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, rate: 0.1, every: 2}\n",
	             "spec.yaml:3:48: chaos.syscalls[0].every: only one of rate, after, every "
	             "(already rate at line 3)");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO}\n",
	             "spec.yaml:3:7: chaos.syscalls[0]: needs one of rate, after, every");
	expect_error("chaos:\n  syscalls:\n    - {syscall: write, errno: EIO, every: 0}\n",
	             "spec.yaml:3:43: chaos.syscalls[0].every: must be at least 1");
	expect_error("chaos:\n  syscalls:\n    - {syscall: write, errno: EIO, every: 1, paths: \"/a/**\"}\n",
	             "spec.yaml:3:7: chaos.syscalls[0]: paths: write takes no path (docs/chaos.md "
	             "lists the calls)");
	expect_error("chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, every: 1, paths: \"a/**\"}\n",
	             "spec.yaml:3:54: chaos.syscalls[0].paths: invalid path glob \"a/**\" (absolute; *, "
	             "**, ?, [set]; ** only as a whole component)");
	expect_error("chaos:\n  syscalls:\n    - {syscall: execve, errno: EIO, every: 1}\n",
	             "spec.yaml:3:17: chaos.syscalls[0].syscall: execve cannot be a chaos target (every "
	             "exec is already supervised and recorded)");
	expect_error("chaos:\n  syscalls:\n    - {errno: EIO, every: 1}\n",
	             "spec.yaml:3:7: chaos.syscalls[0]: missing key \"syscall\"");
	expect_error("chaos:\n  syscalls:\n    - {syscall: write, every: 1, colour: red}\n",
	             "spec.yaml:3:34: chaos.syscalls[0].colour: unknown key");
	expect_error("chaos:\n  resources:\n    - {at: 2s, memory: 1GiB}\n    - {at: 1s, pids: 3}\n",
	             "spec.yaml:4:7: chaos.resources[1]: steps must be in order of \"at\"");
	expect_error("chaos:\n  resources:\n    - {memory: 1GiB}\n",
	             "spec.yaml:3:7: chaos.resources[0]: missing key \"at\"");
	expect_error("chaos:\n  resources:\n    - {at: 1s}\n",
	             "spec.yaml:3:7: chaos.resources[0]: names no resource (memory, cpus, pids, disk)");
	expect_error("chaos:\n  resources:\n    - {at: 1s, cpus: 0}\n",
	             "spec.yaml:3:22: chaos.resources[0].cpus: 0 is not in 0.01..1024");
	expect_error("chaos:\n  clock: {offset: 3x}\n",
	             "spec.yaml:2:19: chaos.clock.offset: invalid offset \"3x\" (e.g. +3d, -2h, 90m)");
	expect_error("chaos:\n  clock: {offset: +4000d}\n",
	             "spec.yaml:2:19: chaos.clock.offset: offset \"+4000d\" is out of range (at most "
	             "3650d)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_spec),
	    cmocka_unit_test(test_defaults_and_empty),
	    cmocka_unit_test(test_followers),
	    cmocka_unit_test(test_command_forms),
	    cmocka_unit_test(test_user_int),
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test(test_json_input),
	    cmocka_unit_test(test_errors_keys),
	    cmocka_unit_test(test_errors_types),
	    cmocka_unit_test(test_errors_values),
	    cmocka_unit_test(test_network_proxy),
	    cmocka_unit_test(test_network_policy_needs_proxy),
	    cmocka_unit_test(test_chaos_network),
	    cmocka_unit_test(test_errors_syntax),
	    cmocka_unit_test(test_error_limits),
	    cmocka_unit_test(test_override_keeps_others),
	    cmocka_unit_test(test_chaos_keys),
	    cmocka_unit_test(test_chaos_errors),
	    cmocka_unit_test(test_image_digest_and_store_refs),
	    cmocka_unit_test(test_session_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
