/* Cross-field validation of a resolved spec, the mutators' ownership rules,
 * and the canonical JSON / SHA-256 (stable across key order and YAML vs JSON). */
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

#include "spec/spec.h"

#define MiB (1024ull * 1024)

static void base(struct al_spec *s)
{
	char *argv[] = {(char *)"/bin/true"};

	al_spec_init(s);
	assert_int_equal(al_spec_set_argv(s, argv, 1), 0);
}

/* validate must fail with a message containing want */
static void expect_invalid(struct al_spec *s, const char *want)
{
	struct al_error err = {0};

	if (al_spec_validate(s, &err) >= 0)
		fail_msg("spec validated, expected \"%s\"", want);
	if (strstr(err.msg, want) == NULL)
		fail_msg("wrong error\n  got:  %s\n  want: ...%s...", err.msg, want);
	al_spec_free(s);
}

static void add_vol(struct al_spec *s, const char *arg)
{
	struct al_error err = {0};

	if (al_spec_add_volume(s, arg, &err) < 0)
		fail_msg("add_volume %s: %s", arg, err.msg);
}

static void test_defaults_valid(void **state)
{
	struct al_spec s;
	struct al_error err = {0};

	base(&s);
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);
	/* no command: invalid */
	al_spec_init(&s);
	expect_invalid(&s, "no command given");
}

static void test_paths(void **state)
{
	struct al_spec s;

	base(&s);
	al_spec_set_str(&s, &s.workdir, "relative");
	expect_invalid(&s, "workdir: \"relative\" must be an absolute");
	base(&s);
	al_spec_set_str(&s, &s.workdir, "/a/./b");
	expect_invalid(&s, "workdir:");
	base(&s);
	al_spec_set_str(&s, &s.workdir, "/a//b");
	expect_invalid(&s, "workdir:");
	base(&s);
	add_vol(&s, "/h:/data/../etc");
	expect_invalid(&s,
	               "volumes[0]: sandbox path \"/data/../etc\" must be absolute and normalised");
	base(&s);
	add_vol(&s, "/h:/");
	expect_invalid(&s, "volumes[0]: cannot mount over /");
	base(&s);
	add_vol(&s, "/h:/proc");
	expect_invalid(&s, "volumes[0]: /proc overlaps /proc, which airlock builds itself");
	base(&s);
	add_vol(&s, "/h:/dev/shm");
	expect_invalid(&s, "volumes[0]: /dev/shm overlaps /dev");
	base(&s);
	add_vol(&s, "/h:/etc/passwd");
	expect_invalid(&s, "overlaps /etc");
	base(&s);
	add_vol(&s, "/a:/data");
	add_vol(&s, "/b:/data/sub");
	expect_invalid(&s, "volumes[1]: /data/sub overlaps volumes[0] (/data)");
	base(&s);
	add_vol(&s, "/a:/data");
	add_vol(&s, "/b:/data");
	expect_invalid(&s, "volumes[1]: /data overlaps volumes[0] (/data)");

	/* /etcetera is not /etc; /data and /database do not overlap */
	base(&s);
	add_vol(&s, "/a:/etcetera");
	add_vol(&s, "/a:/data");
	add_vol(&s, "/a:/database:rw");
	{
		struct al_error err = {0};
		if (al_spec_validate(&s, &err) < 0)
			fail_msg("%s", err.msg);
	}
	al_spec_free(&s);

	/* /workspace is free for a volume unless a workspace is mounted there */
	base(&s);
	add_vol(&s, "/a:/workspace");
	{
		struct al_error err = {0};
		assert_int_equal(al_spec_validate(&s, &err), 0);
	}
	al_spec_set_str(&s, &s.workspace, "/task");
	expect_invalid(
	    &s, "volumes[0]: /workspace overlaps /workspace, where the workspace is mounted");
	base(&s);
	al_spec_set_str(&s, &s.workspace, "/task");
	add_vol(&s, "/a:/workspace/x");
	expect_invalid(&s, "overlaps /workspace");

	base(&s);
	al_spec_set_str(&s, &s.export_dir, "/out");
	expect_invalid(&s, "export: needs a workspace");
}

static void test_limits(void **state)
{
	struct al_spec s;
	struct al_error err = {0};

	base(&s);
	s.limits.memory = 4 * MiB - 1;
	expect_invalid(&s, "limits.memory: 4194303 bytes is below the minimum");
	base(&s);
	s.limits.memory = 4 * MiB;
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);
	base(&s);
	al_spec_set_pids(&s, 0);
	expect_invalid(&s, "limits.pids: 0 is not in 1..");
	base(&s);
	s.limits.cpus = 0;
	expect_invalid(&s, "limits.cpus: 0 is not in 0.01..1024");
	base(&s);
	s.limits.cpus = 1025;
	expect_invalid(&s, "limits.cpus");
	base(&s);
	s.limits.cpus = -1;
	expect_invalid(&s, "limits.cpus");
	base(&s);
	al_spec_set_disk(&s, 1000);
	expect_invalid(&s, "limits.disk");
	base(&s);
	s.limits.nofile = 2;
	expect_invalid(&s, "limits.open_files");
	base(&s);
	s.limits.nofile = 1u << 21;
	expect_invalid(&s, "limits.open_files");
	base(&s);
	s.limits.fsize = 0;
	expect_invalid(&s, "limits.fsize");
	base(&s);
	s.log.checkpoint_every = 0;
	expect_invalid(&s, "log.checkpoint_every");
	base(&s);
	s.log.checkpoint_ns = 1000;
	expect_invalid(&s, "log.checkpoint_interval");
	/* timeout 0 means none and is valid; output 0 relays nothing and is valid */
	base(&s);
	s.limits.timeout_ns = 0;
	s.limits.output = 0;
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_free(&s);
}

static void test_identity(void **state)
{
	static const char *const good[] = {
	    "airlock", "a", "eval-7", "a.b.c", "A1-b2",
	    /* 63-character label: the most one label may hold */
	    "x23456789012345678901234567890123456789012345678901234567890123",
	    /* 64 characters in all: the most sethostname takes */
	    "x234567890123456789012345678901.x2345678901234567890123456789012"};
	static const char *const bad[] = {
	    "", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b", "ä",
	    /* 64-character label */
	    "x234567890123456789012345678901234567890123456789012345678901234",
	    /* 65 characters in all */
	    "x234567890123456789012345678901.x23456789012345678901234567890123"};
	struct al_spec s;
	struct al_error err = {0};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		base(&s);
		al_spec_set_str(&s, &s.hostname, good[i]);
		if (al_spec_validate(&s, &err) < 0)
			fail_msg("hostname %s: %s", good[i], err.msg);
		al_spec_free(&s);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		base(&s);
		al_spec_set_str(&s, &s.hostname, bad[i]);
		expect_invalid(&s, "is not a valid RFC 1123 host name");
	}
	base(&s);
	s.uid = 65536;
	expect_invalid(&s, "user: 65536:1000 is outside the sandbox's 0..65535 id range");
	base(&s);
	s.gid = 70000;
	expect_invalid(&s, "user:");
	base(&s);
	al_spec_set_str(&s, &s.log.sink, "relp://[::1]:2514");
	assert_int_equal(al_spec_validate(&s, &err), 0);
	al_spec_set_str(&s, &s.log.sink, "relp://::1:2514");
	expect_invalid(&s, "log.sink");
	base(&s);
	al_spec_set_str(&s, &s.log.tls_ca, "/ca.pem");
	al_spec_set_str(&s, &s.log.sink, "tcp://h:1");
	expect_invalid(&s, "log.tls_ca: only meaningful with a tls:// sink");
	base(&s);
	s.allow_degraded = 1u << 30;
	expect_invalid(&s, "allow_degraded");
}

static void test_env_and_volume_mutators(void **state)
{
	struct al_spec s;
	struct al_error err = {0};
	char *cwd;
	char want[4096];

	al_spec_init(&s);
	assert_int_equal(al_spec_add_env(&s, "A=1"), 0);
	assert_int_equal(al_spec_add_env(&s, "B="), 0);
	assert_int_equal(al_spec_add_env(&s, "C=x=y"), 0);
	assert_int_equal(al_spec_add_env(&s, "A=2"), 0);        /* later wins, in place */
	assert_int_equal(al_spec_add_env(&s, "HOME"), -EINVAL); /* never imported */
	assert_int_equal(al_spec_add_env(&s, "=v"), -EINVAL);
	assert_int_equal(s.n_env, 3);
	assert_string_equal(s.env[0].key, "A");
	assert_string_equal(s.env[0].value, "2");
	assert_string_equal(s.env[1].value, "");
	assert_string_equal(s.env[2].key, "C");
	assert_string_equal(s.env[2].value, "x=y");

	assert_int_equal(al_spec_add_volume(&s, "/h:/s", &err), 0);
	assert_int_equal(al_spec_add_volume(&s, "/h:/s:rw", &err), 0);
	assert_int_equal(al_spec_add_volume(&s, "/h:/s:ro", &err), 0);
	assert_int_equal(al_spec_add_volume(&s, "rel/dir:/r", &err), 0);
	assert_false(s.volumes[0].rw);
	assert_true(s.volumes[1].rw);
	assert_false(s.volumes[2].rw);
	cwd = getcwd(NULL, 0);
	snprintf(want, sizeof want, "%s/rel/dir", cwd);
	free(cwd);
	assert_string_equal(s.volumes[3].host, want);
	assert_true(al_spec_add_volume(&s, "/h", &err) < 0);
	assert_true(al_spec_add_volume(&s, ":/s", &err) < 0);
	assert_true(al_spec_add_volume(&s, "/h:", &err) < 0);
	assert_true(al_spec_add_volume(&s, "/h:/s:rx", &err) < 0);
	assert_non_null(strstr(err.msg, "unknown option"));
	assert_true(al_spec_add_volume(&s, "/h:/s:ro:x", &err) < 0);
	/* options: each known one at most once, no empty ones */
	static const char *const bad_opts[] = {"/h:/s:ro,rw", "/h:/s:rw,rw", "/h:/s:noexec,noexec",
	                                       "/h:/s:rw,",   "/h:/s:,rw",   "/h:/s:",
	                                       "/h:/s:rw,,noexec", "/h:/s:owner=nobody",
	                                       "/h:/s:owner=root,owner=root", "/h:/s:exec"};
	for (size_t i = 0; i < sizeof bad_opts / sizeof *bad_opts; i++)
		if (al_spec_add_volume(&s, bad_opts[i], &err) >= 0)
			fail_msg("accepted %s", bad_opts[i]);
	assert_int_equal(s.n_volumes, 4);
	assert_int_equal(al_spec_add_volume(&s, "/h:/s:ro,noexec", &err), 0);
	assert_int_equal(al_spec_add_volume(&s, "/h:/t:owner=root,rw", &err), 0);
	assert_int_equal(al_spec_add_volume(&s, "/h:/u:noexec", &err), 0);
	assert_true(!s.volumes[4].rw && s.volumes[4].noexec && !s.volumes[4].owner_root);
	assert_true(s.volumes[5].rw && !s.volumes[5].noexec && s.volumes[5].owner_root);
	assert_true(!s.volumes[6].rw && s.volumes[6].noexec && !s.volumes[6].owner_root);
	assert_false(s.volumes[0].noexec || s.volumes[0].owner_root);
	s.n_volumes = 4;
	for (size_t i = 4; i < 7; i++) {
		free(s.volumes[i].host);
		free(s.volumes[i].sandbox);
	}

	/* overriding a static default and then freeing must not double free
	 * (ASan/valgrind would catch it); setting NULL clears */
	assert_int_equal(al_spec_set_str(&s, &s.hostname, "h1"), 0);
	assert_int_equal(al_spec_set_str(&s, &s.hostname, "h2"), 0);
	assert_int_equal(al_spec_set_str(&s, &s.image, NULL), 0);
	assert_null(s.image);
	al_spec_free(&s);
	al_spec_free(&s); /* idempotent after free */
}

static void test_host_path(void **state)
{
	struct {
		const char *base, *path, *want;
	} cases[] = {
	    {"/base", "x", "/base/x"},
	    {"/base/", "x", "/base/x"},
	    {"/", "x", "/x"},
	    {"/base", "./x", "/base/x"},
	    {"/base", ".", "/base"},
	    {"/base", "/abs", "/abs"},
	    {"/base", ".//x/y", "/base/x/y"},
	    {"/base", "../x", "/base/../x"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *p = al_spec_host_path(cases[i].base, cases[i].path);
		assert_non_null(p);
		if (strcmp(p, cases[i].want) != 0)
			fail_msg("host_path(%s, %s) = %s, want %s", cases[i].base, cases[i].path, p,
			         cases[i].want);
		free(p);
	}
	assert_null(al_spec_host_path("/b", ""));
}

/* ---- canonical form ---- */

static void load_ok(struct al_spec *s, const char *name, const char *text)
{
	struct al_error err = {0};

	al_spec_init(s);
	if (al_spec_load_string(s, name, text, strlen(text), &err) < 0)
		fail_msg("%s", err.msg);
}

static void hash_of(const char *name, const char *text, char hex[65])
{
	struct al_spec s;

	load_ok(&s, name, text);
	assert_int_equal(al_spec_hash(&s, hex), 0);
	al_spec_free(&s);
}

static void test_canonical_defaults(void **state)
{
	struct al_spec s;
	struct al_buf b;
	static const char want[] =
	    "{\"allow_degraded\":[],\"command\":[\"/bin/true\"],\"env\":{},\"export\":null,"
	    "\"hostname\":\"airlock\",\"image\":\"host\","
	    "\"limits\":{\"cpus\":1,\"disk\":2147483648,\"fsize\":2147483648,\"memory\":4294967296,"
	    "\"nproc\":256,\"open_files\":1024,\"output\":67108864,\"pids\":256,\"timeout\":"
	    "600000000000},"
	    "\"log\":{\"checkpoint_every\":1000,\"checkpoint_interval\":1000000000,\"max_size\":1073741824,\"on_sink_"
	    "failure\":\"kill\","
	    "\"path\":null,\"signing_key\":null,\"sink\":null,\"spool_dir\":null,\"tls_ca\":null},"
	    "\"network\":{\"loopback_tcp\":true,\"mode\":\"none\"},\"user\":{\"gid\":1000,\"uid\":1000},\"version\":1,"
	    "\"volumes\":[],\"workdir\":\"/workspace\",\"workspace\":null}";

	base(&s);
	al_buf_init(&b);
	assert_int_equal(al_spec_canonical_json(&s, &b), 0);
	assert_string_equal(b.data, want);
	al_buf_free(&b);
	al_spec_free(&s);
}

static void test_canonical_stable(void **state)
{
	static const char yaml_a[] = "command: [/bin/echo, hi]\n"
	                             "env: {B: \"2\", A: \"1\"}\n"
	                             "limits: {memory: 512MiB, cpus: 0.5, timeout: 90s}\n"
	                             "volumes: [\"/srv:/srv\", {host: /x, path: /x, mode: rw}]\n"
	                             "allow_degraded: [timens, landlock]\n";
	/* same policy, keys and map entries in another order, other spellings */
	static const char yaml_b[] = "allow_degraded: [landlock, timens, landlock]\n"
	                             "volumes:\n"
	                             "  - {host: /srv, path: /srv, mode: ro}\n"
	                             "  - /x:/x:rw\n"
	                             "limits:\n"
	                             "  timeout: 1m30s\n"
	                             "  cpus: 0.50\n"
	                             "  memory: 536870912\n"
	                             "env:\n"
	                             "  A: '1'\n"
	                             "  B: \"2\"\n"
	                             "command:\n"
	                             "  - /bin/echo\n"
	                             "  - hi\n";
	static const char json[] =
	    "{\"volumes\":[\"/srv:/srv:ro\",{\"host\":\"/x\",\"path\":\"/x\",\"mode\":\"rw\"}],"
	    "\"command\":[\"/bin/echo\",\"hi\"],\"env\":{\"A\":\"1\",\"B\":\"2\"},"
	    "\"allow_degraded\":[\"timens\",\"landlock\"],"
	    "\"limits\":{\"timeout\":\"90000ms\",\"memory\":\"0.5GiB\",\"cpus\":0.5}}";
	char ha[65], hb[65], hj[65], hd[65];

	hash_of("a.yaml", yaml_a, ha);
	hash_of("b.yaml", yaml_b, hb);
	hash_of("c.json", json, hj);
	assert_string_equal(ha, hb);
	assert_string_equal(ha, hj);
	assert_int_equal(strlen(ha), 64);
	assert_int_equal(strspn(ha, "0123456789abcdef"), 64);

	/* any policy difference changes the hash */
	hash_of("d.yaml", "command: [/bin/echo, hi]\n", hd);
	assert_string_not_equal(ha, hd);
	{
		static const char *const variants[] = {
		    "command: [/bin/echo, hi]\nhostname: other\n",
		    "command: [/bin/echo, hi]\nlimits: {cpus: 0.51}\n",
		    "command: [/bin/echo, hi]\nvolumes: [\"/srv:/srv:rw\"]\n",
		    "command: [/bin/echo, hi]\nvolumes: [\"/srv:/srv\"]\n",
		    "command: [/bin/echo, hi]\nvolumes: [\"/srv:/srv:noexec\"]\n",
		    "command: [/bin/echo, hi]\nvolumes: [\"/srv:/srv:owner=root\"]\n",
		    "command: [/bin/echo, hi]\nvolumes: [{host: /srv, path: /srv, noexec: true, owner: root}]\n",
		    "command: [/bin/echo, hi]\nenv: {A: \"1 \"}\n",
		    "command: [/bin/echo, hi, \"\"]\n",
		    "command: [/bin/echo, hi]\nlog: {on_sink_failure: spool}\n",
		    "command: [/bin/echo, hi]\nuser: \"1000:1001\"\n",
		    "command: [/bin/echo, hi]\nallow_degraded: [cgroup]\n",
		    "command: [/bin/echo, hi]\nnetwork: {loopback_tcp: false}\n",
		};
		for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
			char hv[65];
			hash_of("v.yaml", variants[i], hv);
			if (strcmp(hv, hd) == 0)
				fail_msg("variant %zu hashes like the base", i);
		}
	}
	/* the hash is the SHA-256 of the canonical JSON (known vector for the defaults + /bin/true)
	 */
	{
		struct al_spec s;
		char h1[65], h2[65];
		base(&s);
		assert_int_equal(al_spec_hash(&s, h1), 0);
		assert_int_equal(al_spec_hash(&s, h2), 0);
		assert_string_equal(h1, h2);
		al_spec_free(&s);
	}
}

/* Proxy mode: the policy is in the canonical form, normalised and sorted,
 * so the same policy written two ways hashes alike and any change differs. */
static void test_canonical_network_proxy(void **state)
{
	static const char a[] = "command: [x]\n"
	                        "network:\n"
	                        "  mode: proxy\n"
	                        "  allow_domains: [b.test, \"*.A.test\"]\n"
	                        "  allow_cidr: [127.0.0.2, 10.0.0.0/8]\n"
	                        "  hosts: {b.test: 127.0.0.2, a.test: \"::1\"}\n";
	static const char b[] = "command: [x]\n"
	                        "network:\n"
	                        "  hosts: {A.test.: \"0:0::1\", b.test: 127.0.0.2}\n"
	                        "  allow_cidr: [10.0.0.0/8, 127.0.0.2/32, 127.0.0.2]\n"
	                        "  allow_ports: [443, 80]\n"
	                        "  allow_domains: [\"*.a.test\", B.TEST.]\n"
	                        "  mode: proxy\n";
	static const char want[] =
	    "\"network\":{\"allow_cidr\":[\"10.0.0.0/8\",\"127.0.0.2/32\"],"
	    "\"allow_domains\":[\"*.a.test\",\"b.test\"],\"allow_ports\":[80,443],"
	    "\"deny_domains\":[],\"hosts\":{\"a.test\":\"::1\",\"b.test\":\"127.0.0.2\"},"
	    "\"loopback_tcp\":true,\"mode\":\"proxy\",\"resolver\":[]}";
	static const char *const variants[] = {
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, \"*.a.test\"], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.3, a.test: \"::1\"}}\n",
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, a.test], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.2, a.test: \"::1\"}}\n",
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, \"*.a.test\"], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.2, a.test: \"::1\"}, allow_ports: "
	    "[443]}\n",
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, \"*.a.test\"], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.2, a.test: \"::1\"}, resolver: "
	    "[127.0.0.1]}\n",
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, \"*.a.test\"], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.2, a.test: \"::1\"}, deny_domains: "
	    "[x.a.test]}\n",
	    "command: [x]\nnetwork: {mode: proxy, allow_domains: [b.test, \"*.a.test\"], allow_cidr: "
	    "[127.0.0.2, 10.0.0.0/8], hosts: {b.test: 127.0.0.2, a.test: \"::1\"}}\n"
	    "chaos: {seed: 1, network: {loss: 0.1}}\n",
	};
	struct al_spec s;
	struct al_buf buf;
	char ha[65], hb[65];

	(void)state;
	load_ok(&s, "a.yaml", a);
	al_buf_init(&buf);
	assert_int_equal(al_spec_canonical_json(&s, &buf), 0);
	if (strstr(buf.data, want) == NULL)
		fail_msg("canonical form\n  got:  %s\n  want: ...%s...", buf.data, want);
	al_buf_free(&buf);
	al_spec_free(&s);
	hash_of("a.yaml", a, ha);
	hash_of("b.yaml", b, hb);
	assert_string_equal(ha, hb);
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		char hv[65];
		hash_of("v.yaml", variants[i], hv);
		if (strcmp(hv, ha) == 0)
			fail_msg("variant %zu hashes like the base", i);
	}
}

static void test_canonical_bytes(void **state)
{
	struct al_spec a, b;
	struct al_buf buf;
	char ha[65], hb[65];
	char *argv_a[] = {(char *)"/bin/printf", (char *)"\xff"};
	char *argv_b[] = {(char *)"/bin/printf", (char *)"\xfe"};
	struct al_error err = {0};

	/* two different invalid-UTF-8 arguments must not hash alike (the JSON
	 * writer alone would turn both into U+FFFD) */
	al_spec_init(&a);
	al_spec_init(&b);
	assert_int_equal(al_spec_set_argv(&a, argv_a, 2), 0);
	assert_int_equal(al_spec_set_argv(&b, argv_b, 2), 0);
	assert_int_equal(al_spec_hash(&a, ha), 0);
	assert_int_equal(al_spec_hash(&b, hb), 0);
	assert_string_not_equal(ha, hb);
	al_buf_init(&buf);
	assert_int_equal(al_spec_canonical_json(&a, &buf), 0);
	assert_non_null(strstr(buf.data, "\"command\":[\"/bin/printf\",{\"hex\":\"ff\"}]"));
	al_buf_free(&buf);
	/* valid UTF-8 and control characters stay plain (escaped) strings */
	al_spec_set_str(&b, &b.hostname, "h\xc3\xa9");
	al_buf_init(&buf);
	assert_int_equal(al_spec_canonical_json(&b, &buf), 0);
	assert_non_null(strstr(buf.data, "\"hostname\":\"h\xc3\xa9\""));
	al_buf_free(&buf);
	/* an environment name that is not UTF-8 is refused outright */
	assert_int_equal(al_spec_set_env(&a, "N\xff", "v"), 0);
	assert_true(al_spec_validate(&a, &err) < 0);
	assert_non_null(strstr(err.msg, "env: invalid variable name"));
	al_spec_free(&a);
	al_spec_free(&b);
}

/* isolation: parsed, canonical only when not the default (older specs keep
 * their hash), and what a tier cannot give refused by name. */
static void test_isolation(void **state)
{
	struct al_spec s;
	struct al_buf b;
	char h1[65], h2[65];
	enum al_isolation iso;

	(void)state;
	assert_int_equal(al_isolation_parse("gvisor", &iso), 0);
	assert_int_equal(iso, AL_ISOLATION_GVISOR);
	assert_int_equal(al_isolation_parse("Gvisor", &iso), -EINVAL);
	assert_int_equal(al_isolation_parse("", &iso), -EINVAL);

	hash_of("a.yaml", "command: [/bin/true]\n", h1);
	hash_of("b.yaml", "command: [/bin/true]\nisolation: namespaces\n", h2);
	assert_string_equal(h1, h2);
	hash_of("c.yaml", "command: [/bin/true]\nisolation: gvisor\n", h2);
	assert_string_not_equal(h1, h2);

	load_ok(&s, "d.yaml", "command: [/bin/true]\nisolation: gvisor\nrunsc: /usr/bin/runsc\n");
	al_buf_init(&b);
	assert_int_equal(al_spec_canonical_json(&s, &b), 0);
	assert_non_null(strstr(b.data, "\"image\":\"host\",\"isolation\":\"gvisor\","));
	assert_non_null(strstr(b.data, "\"runsc\":\"/usr/bin/runsc\",\"user\""));
	al_buf_free(&b);
	{
		struct al_error err = {0};
		assert_int_equal(al_spec_validate(&s, &err), 0);
	}
	al_spec_free(&s);

	load_ok(&s, "e.yaml", "command: [/bin/true]\nisolation: microvm\n");
	expect_invalid(&s, "microvm is not available");
	load_ok(&s, "f.yaml", "command: [/bin/true]\nrunsc: /usr/bin/runsc\n");
	expect_invalid(&s, "only meaningful with isolation: gvisor");
	load_ok(&s, "g.yaml", "command: [/bin/true]\nisolation: gvisor\n"
	                      "chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, rate: 1}\n");
	expect_invalid(&s, "chaos.syscalls");
	load_ok(&s, "h.yaml", "command: [/bin/true]\nisolation: gvisor\nchaos:\n  clock: {offset: +1h}\n");
	expect_invalid(&s, "chaos.clock");
	load_ok(&s, "i.yaml", "command: [/bin/true]\nisolation: gvisor\n"
	                      "rules:\n  - {on: syscall-denied, action: log}\n");
	expect_invalid(&s, "on: syscall-denied");
	load_ok(&s, "j.yaml", "command: [/bin/true]\nisolation: gvisor\n"
	                      "rules:\n  - {on: exec, action: deny}\n");
	expect_invalid(&s, "action deny");
	/* exec rules that log or kill are fine: gVisor's trace feeds them */
	load_ok(&s, "k.yaml", "command: [/bin/true]\nisolation: gvisor\n"
	                      "rules:\n  - {on: exec, match: {path: '*/pip'}, action: kill}\n");
	{
		struct al_error err = {0};
		assert_int_equal(al_spec_validate(&s, &err), 0);
		/* sessions do not have the tier */
		assert_true(al_spec_validate_session(&s, &err) < 0);
		assert_non_null(strstr(err.msg, "not to sessions"));
	}
	al_spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_valid),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_env_and_volume_mutators),
	    cmocka_unit_test(test_host_path),
	    cmocka_unit_test(test_canonical_defaults),
	    cmocka_unit_test(test_canonical_stable),
	    cmocka_unit_test(test_canonical_network_proxy),
	    cmocka_unit_test(test_canonical_bytes),
	    cmocka_unit_test(test_isolation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
