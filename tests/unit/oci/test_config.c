/* config.json of an OCI bundle: strict, bounded parsing; the fields that
 * would weaken airlock refused by name; the mapping onto a spec only ever
 * lowers its limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci/oci.h"

#define BASE_PROCESS "\"process\":{\"args\":[\"/bin/sh\",\"-c\",\"x\"],\"env\":[\"PATH=/bin\",\"A=1\"],\"cwd\":\"/w\"," \
	"\"user\":{\"uid\":0,\"gid\":0}}"
#define BASE_NS "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}]"

static char buf[65536];

static const char *cfg(const char *process_extra, const char *linux_extra, const char *top_extra)
{
	snprintf(buf, sizeof buf,
		 "{\"process\":{\"args\":[\"/bin/sh\",\"-c\",\"x\"],\"env\":[\"PATH=/bin\",\"A=1\"],\"cwd\":\"/w\","
		 "\"user\":{\"uid\":0,\"gid\":0}%s},\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
		 "\"linux\":{" BASE_NS "%s}%s}",
		 process_extra, linux_extra, top_extra);
	return buf;
}

static int parse(const char *text, struct al_oci_config *c, struct al_error *err)
{
	al_oci_config_init(c);
	memset(err, 0, sizeof *err);
	return al_oci_config_parse(c, text, strlen(text), err);
}

static void parses_process_and_root(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	(void)state;
	assert_int_equal(parse(cfg(",\"terminal\":false", "", ",\"hostname\":\"h1\""), &c, &err), 0);
	assert_int_equal(c.n_args, 3);
	assert_string_equal(c.args[2], "x");
	assert_null(c.args[3]);
	assert_int_equal(c.n_env, 2);
	assert_string_equal(c.cwd, "/w");
	assert_string_equal(c.root_path, "rootfs");
	assert_true(c.root_readonly);
	assert_string_equal(c.hostname, "h1");
	al_oci_config_free(&c);
}

static void refuses_weakening_fields_by_name(void **state)
{
	static const struct {
		const char *p, *l, *t, *field;
	} cases[] = {
		{",\"capabilities\":{\"bounding\":[\"CAP_SYS_ADMIN\"]}", "", "", "process.capabilities.bounding"},
		{",\"capabilities\":{\"ambient\":[\"CAP_NET_ADMIN\"]}", "", "", "process.capabilities.ambient"},
		{"", ",\"devices\":[{\"path\":\"/dev/kvm\"}]", "", "linux.devices"},
		{"", ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", "", "linux.seccomp.defaultAction"},
		{"", ",\"sysctl\":{\"kernel.modprobe\":\"/x\"}", "", "linux.sysctl.kernel.modprobe"},
		{"", ",\"rootfsPropagation\":\"shared\"", "", "linux.rootfsPropagation"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct al_oci_config c;
		struct al_error err;
		assert_int_equal(parse(cfg(cases[i].p, cases[i].l, cases[i].t), &c, &err), -EPERM);
		assert_non_null(strstr(err.msg, cases[i].field));
		assert_non_null(strstr(err.msg, "refused"));
		al_oci_config_free(&c);
	}
}

static void refuses_host_namespaces(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	(void)state;
	const char *joined = "{" BASE_PROCESS ",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
			     "{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
			     "{\"type\":\"mount\"}]}}";
	assert_int_equal(parse(joined, &c, &err), -EPERM);
	assert_non_null(strstr(err.msg, "linux.namespaces[network].path"));
	al_oci_config_free(&c);
	const char *missing = "{" BASE_PROCESS ",\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
			      "{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"mount\"}]}}";
	assert_int_equal(parse(missing, &c, &err), -EPERM);
	assert_non_null(strstr(err.msg, "no uts namespace"));
	al_oci_config_free(&c);
	const char *nolinux = "{" BASE_PROCESS ",\"root\":{\"path\":\"r\"}}";
	assert_int_equal(parse(nolinux, &c, &err), -EPERM);
	al_oci_config_free(&c);
}

static void narrows_defaults_and_records_them(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	(void)state;
	assert_int_equal(parse(cfg(",\"oomScoreAdj\":5,\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"]}",
				   ",\"sysctl\":{\"net.ipv4.ping_group_range\":\"0 0\"}",
				   ",\"hooks\":{\"prestart\":[{\"path\":\"/x\"}]}"),
			       &c, &err),
			 0);
	assert_non_null(strstr(c.narrowed.data, "process.capabilities"));
	assert_non_null(strstr(c.narrowed.data, "net.ipv4.ping_group_range"));
	assert_non_null(strstr(c.narrowed.data, "\"hooks\""));
	assert_true(c.has_hooks);
	/* a member airlock neither maps nor refuses is recorded, never dropped silently */
	assert_non_null(strstr(c.narrowed.data, "\"process.oomScoreAdj\""));
	assert_int_equal(c.narrowed.data[0], '[');
	assert_int_equal(c.narrowed.data[c.narrowed.len - 1], ']');
	al_oci_config_free(&c);
}

static void strict_and_bounded(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	(void)state;
	/* a NUL inside a string */
	assert_int_not_equal(parse(cfg("", "", ",\"hostname\":\"a\\u0000b\""), &c, &err), 0);
	al_oci_config_free(&c);
	/* not JSON, trailing garbage, empty args, uid out of range */
	assert_int_not_equal(parse("{\"process\":", &c, &err), 0);
	al_oci_config_free(&c);
	assert_int_not_equal(parse("{\"process\":{\"args\":[]},\"root\":{\"path\":\"r\"}}", &c, &err), 0);
	al_oci_config_free(&c);
	snprintf(buf, sizeof buf, "{\"process\":{\"args\":[\"x\"],\"user\":{\"uid\":65536}},\"root\":{\"path\":\"r\"},"
				  "\"linux\":{" BASE_NS "}}");
	assert_int_equal(parse(buf, &c, &err), -ERANGE);
	al_oci_config_free(&c);
	/* too many mounts */
	size_t n = (size_t)snprintf(buf, sizeof buf, "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"r\"},\"mounts\":[");
	for (int i = 0; i <= AL_OCI_MAX_MOUNTS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{\"destination\":\"/m\"}", i ? "," : "");
	snprintf(buf + n, sizeof buf - n, "],\"linux\":{" BASE_NS "}}");
	assert_int_equal(parse(buf, &c, &err), -E2BIG);
	al_oci_config_free(&c);
	/* bigger than the cap: refused before any parsing */
	char *big = malloc(AL_OCI_CONFIG_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', AL_OCI_CONFIG_MAX + 1);
	big[AL_OCI_CONFIG_MAX + 1] = '\0';
	al_oci_config_init(&c);
	assert_int_equal(al_oci_config_parse(&c, big, AL_OCI_CONFIG_MAX + 1, &err), -E2BIG);
	al_oci_config_free(&c);
	free(big);
}

static void mapping_only_lowers_limits(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	struct al_spec spec;
	(void)state;
	assert_int_equal(parse(cfg(",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":64,\"hard\":100000}]",
				   ",\"resources\":{\"memory\":{\"limit\":1099511627776},\"pids\":{\"limit\":32}}",
				   ",\"annotations\":{\"dev.airlock.spec\":\"limits: {memory: 100MiB}\\n\","
				   "\"dev.airlock.network.allow_domains\":\"example.com, *.example.org\"}"),
			       &c, &err),
			 0);
	al_spec_init(&spec);
	assert_int_equal(al_oci_config_to_spec(&c, "/b", "/l/{run}.jsonl", &spec, &err), 0);
	assert_int_equal(spec.limits.memory, 100ull << 20); /* 1 TiB asked: the spec's stays */
	assert_int_equal(spec.limits.pids, 32);             /* lower: taken */
	assert_int_equal(spec.limits.nofile, 64);
	assert_int_equal(spec.limits.timeout_ns, 0);
	assert_int_equal(spec.network.mode, AL_NET_PROXY);
	assert_int_equal(spec.network.n_allow_domains, 2);
	assert_string_equal(spec.image, "/b/rootfs");
	assert_string_equal(spec.workdir, "/w");
	assert_int_equal(spec.uid, 0);
	assert_string_equal(spec.log.path, "/l/{run}.jsonl");
	al_spec_free(&spec);
	al_oci_config_free(&c);
}

static void mounts_map_to_volumes_or_are_refused(void **state)
{
	struct al_oci_config c;
	struct al_error err;
	struct al_spec spec;
	(void)state;
	assert_int_equal(parse(cfg("", "",
				   ",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\"},"
				   "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/d\",\"options\":[\"ro\"]},"
				   "{\"destination\":\"/out\",\"source\":\"/srv/o\",\"options\":[\"rbind\"]}]"),
			       &c, &err),
			 0);
	al_spec_init(&spec);
	assert_int_equal(al_oci_config_to_spec(&c, "/b", NULL, &spec, &err), 0);
	assert_int_equal(spec.n_volumes, 2);
	assert_string_equal(spec.volumes[0].sandbox, "/data");
	assert_false(spec.volumes[0].rw);
	assert_string_equal(spec.volumes[1].host, "/srv/o");
	assert_true(spec.volumes[1].rw);
	al_spec_free(&spec);
	al_oci_config_free(&c);

	assert_int_equal(parse(cfg("", "", ",\"mounts\":[{\"destination\":\"/x\",\"type\":\"nfs\",\"source\":\"h:/e\"}]"),
			       &c, &err),
			 0);
	al_spec_init(&spec);
	assert_int_equal(al_oci_config_to_spec(&c, "/b", NULL, &spec, &err), -EPERM);
	assert_non_null(strstr(err.msg, "mounts[0]"));
	al_spec_free(&spec);
	al_oci_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_process_and_root),
		cmocka_unit_test(refuses_weakening_fields_by_name),
		cmocka_unit_test(refuses_host_namespaces),
		cmocka_unit_test(narrows_defaults_and_records_them),
		cmocka_unit_test(strict_and_bounded),
		cmocka_unit_test(mapping_only_lowers_limits),
		cmocka_unit_test(mounts_map_to_volumes_or_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
