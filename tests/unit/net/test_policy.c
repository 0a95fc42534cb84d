/* The egress policy matcher and address classifier (src/net/policy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "net/policy.h"

static bool allowed(const struct al_egress_policy *pol, const char *name)
{
	char norm[AL_NAME_MAX];
	const char *reason = NULL;
	if (al_name_normalize(name, strlen(name), norm) < 0)
		return false;
	return al_policy_domain_allowed(pol, norm, &reason);
}

static void normalize(void **state)
{
	char out[AL_NAME_MAX];
	char big[300];
	(void)state;
	assert_int_equal(al_name_normalize("Example.COM.", 12, out), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(al_name_normalize("xn--bcher-kva.example", 21, out), 0);
	assert_string_equal(out, "xn--bcher-kva.example");
	assert_int_equal(al_name_normalize("", 0, out), -1);
	assert_int_equal(al_name_normalize(".", 1, out), -1);
	assert_int_equal(al_name_normalize("a..b", 4, out), -1);
	assert_int_equal(al_name_normalize(".a", 2, out), -1);
	assert_int_equal(al_name_normalize("a.b..", 5, out), -1);
	assert_int_equal(al_name_normalize("a b", 3, out), -1);
	assert_int_equal(al_name_normalize("a\0b", 3, out), -1);
	assert_int_equal(al_name_normalize("a/b", 3, out), -1);
	assert_int_equal(al_name_normalize("a*b", 3, out), -1);
	memset(big, 'a', 64);
	assert_int_equal(al_name_normalize(big, 64, out), -1); /* label > 63 */
	assert_int_equal(al_name_normalize(big, 63, out), 0);
	for (int i = 0; i < 300; i++)
		big[i] = (i % 2) ? '.' : 'a';
	assert_int_equal(al_name_normalize(big, 253, out), 0);
	assert_int_equal(al_name_normalize(big, 255, out), -1); /* > 253 */
}

static void wildcards(void **state)
{
	char *allow[] = {"*.example.com", "exact.test", "Upper.Test."};
	char *deny[] = {"secret.example.com", "*.internal.example.com"};
	struct al_egress_policy pol = {.allow_domains = allow,
	                               .n_allow_domains = 3,
	                               .deny_domains = deny,
	                               .n_deny_domains = 2};
	(void)state;
	assert_true(allowed(&pol, "a.example.com"));
	assert_true(allowed(&pol, "A.B.Example.Com."));
	assert_false(allowed(&pol, "example.com"));
	assert_false(allowed(&pol, "example.com.evil.test"));
	assert_false(allowed(&pol, "badexample.com"));
	assert_false(allowed(&pol, "a.example.com.evil"));
	assert_false(allowed(&pol, "aexample.com"));
	assert_true(allowed(&pol, "exact.test"));
	assert_true(allowed(&pol, "EXACT.test."));
	assert_false(allowed(&pol, "a.exact.test"));
	assert_false(allowed(&pol, "xexact.test"));
	assert_true(allowed(&pol, "upper.test"));
	assert_false(allowed(&pol, "secret.example.com"));
	assert_true(allowed(&pol, "a.secret.example.com"));
	assert_false(allowed(&pol, "x.internal.example.com"));
	assert_true(allowed(&pol, "internal.example.com"));
}

static void hosts_and_ports(void **state)
{
	struct al_egress_host hosts[1] = {{.name = "Mirror.Local"}};
	uint16_t ports[] = {8080};
	struct al_egress_policy pol = {.hosts = hosts, .n_hosts = 1};
	(void)state;
	/* hosts: says where a name is, not that it is allowed */
	assert_false(allowed(&pol, "mirror.local"));
	assert_non_null(al_policy_host_lookup(&pol, "mirror.local"));
	assert_null(al_policy_host_lookup(&pol, "other.local"));
	assert_true(al_policy_port_allowed(&pol, 80));
	assert_true(al_policy_port_allowed(&pol, 443));
	assert_false(al_policy_port_allowed(&pol, 8080));
	assert_false(al_policy_port_allowed(&pol, 0));
	pol.allow_ports = ports;
	pol.n_allow_ports = 1;
	assert_true(al_policy_port_allowed(&pol, 8080));
	assert_false(al_policy_port_allowed(&pol, 80));
}

static enum al_addr_class cls(const char *text)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, text, a) == 1)
		return al_addr_classify(AF_INET, a);
	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
	return al_addr_classify(AF_INET6, a);
}

static void classify(void **state)
{
	(void)state;
	assert_int_equal(cls("93.184.216.34"), AL_ADDR_PUBLIC);
	assert_int_equal(cls("8.8.8.8"), AL_ADDR_PUBLIC);
	assert_int_equal(cls("0.0.0.0"), AL_ADDR_UNSPECIFIED);
	assert_int_equal(cls("0.1.2.3"), AL_ADDR_UNSPECIFIED);
	assert_int_equal(cls("127.0.0.1"), AL_ADDR_LOOPBACK);
	assert_int_equal(cls("127.255.0.9"), AL_ADDR_LOOPBACK);
	assert_int_equal(cls("10.1.2.3"), AL_ADDR_PRIVATE);
	assert_int_equal(cls("172.16.0.1"), AL_ADDR_PRIVATE);
	assert_int_equal(cls("172.31.255.255"), AL_ADDR_PRIVATE);
	assert_int_equal(cls("172.32.0.1"), AL_ADDR_PUBLIC);
	assert_int_equal(cls("192.168.1.1"), AL_ADDR_PRIVATE);
	assert_int_equal(cls("100.64.0.1"), AL_ADDR_CGNAT);
	assert_int_equal(cls("100.127.255.255"), AL_ADDR_CGNAT);
	assert_int_equal(cls("100.128.0.1"), AL_ADDR_PUBLIC);
	assert_int_equal(cls("169.254.169.254"), AL_ADDR_METADATA);
	assert_int_equal(cls("169.254.1.1"), AL_ADDR_LINKLOCAL);
	assert_int_equal(cls("224.0.0.1"), AL_ADDR_MULTICAST);
	assert_int_equal(cls("255.255.255.255"), AL_ADDR_BROADCAST);
	assert_int_equal(cls("240.0.0.1"), AL_ADDR_RESERVED);
	assert_int_equal(cls("192.0.2.1"), AL_ADDR_RESERVED);
	assert_int_equal(cls("198.18.0.1"), AL_ADDR_RESERVED);
	assert_int_equal(cls("::"), AL_ADDR_UNSPECIFIED);
	assert_int_equal(cls("::1"), AL_ADDR_LOOPBACK);
	assert_int_equal(cls("::ffff:127.0.0.1"), AL_ADDR_LOOPBACK);
	assert_int_equal(cls("::ffff:169.254.169.254"), AL_ADDR_METADATA);
	assert_int_equal(cls("::ffff:10.0.0.1"), AL_ADDR_PRIVATE);
	assert_int_equal(cls("::127.0.0.1"), AL_ADDR_LOOPBACK);        /* IPv4-compatible */
	assert_int_equal(cls("::8.8.8.8"), AL_ADDR_RESERVED);          /* deprecated form */
	assert_int_equal(cls("64:ff9b::a9fe:a9fe"), AL_ADDR_METADATA); /* NAT64 */
	assert_int_equal(cls("2002:7f00:1::"), AL_ADDR_LOOPBACK);      /* 6to4 of 127.0.0.1 */
	assert_int_equal(cls("fd00:ec2::254"), AL_ADDR_METADATA);
	assert_int_equal(cls("fc00::1"), AL_ADDR_ULA);
	assert_int_equal(cls("fdff::1"), AL_ADDR_ULA);
	assert_int_equal(cls("fe80::1"), AL_ADDR_LINKLOCAL);
	assert_int_equal(cls("ff02::1"), AL_ADDR_MULTICAST);
	assert_int_equal(cls("2001:db8::1"), AL_ADDR_RESERVED);
	assert_int_equal(cls("2606:4700::1111"), AL_ADDR_PUBLIC);
}

static bool addr_ok(const struct al_egress_policy *pol, const char *text, bool raw)
{
	struct sockaddr_storage ss = {0};
	const char *reason = NULL;
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	bool ok = al_policy_addr_allowed(pol, (struct sockaddr *)&ss, raw, &reason);
	if (!ok)
		assert_non_null(reason);
	return ok;
}

static void cidr(void **state)
{
	struct al_egress_cidr c[2] = {{.family = AF_INET, .addr = {127, 0, 0, 0}, .prefix = 29},
	                              {.family = AF_INET6, .addr = {0xfd, 0}, .prefix = 8}};
	struct al_egress_policy pol = {.allow_cidr = c, .n_allow_cidr = 2};
	(void)state;
	assert_true(addr_ok(&pol, "127.0.0.2", false));
	assert_true(addr_ok(&pol, "127.0.0.7", true));
	assert_false(addr_ok(&pol, "127.0.0.8", false));
	assert_false(addr_ok(&pol, "127.0.0.8", true));
	assert_true(addr_ok(&pol, "::ffff:127.0.0.3", false));
	assert_true(addr_ok(&pol, "fd12::1", false));
	assert_false(addr_ok(&pol, "fc12::1", false));
	assert_false(addr_ok(&pol, "169.254.169.254", false));
	assert_true(addr_ok(&pol, "93.184.216.34", false));
	assert_false(addr_ok(&pol, "93.184.216.34", true)); /* raw IPs only via allow_cidr */
	assert_false(addr_ok(&pol, "::ffff:169.254.169.254", false));
	c[0].prefix = 0; /* 0.0.0.0/0 */
	assert_true(addr_ok(&pol, "169.254.169.254", true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(normalize),
	    cmocka_unit_test(wildcards),
	    cmocka_unit_test(hosts_and_ports),
	    cmocka_unit_test(classify),
	    cmocka_unit_test(cidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
