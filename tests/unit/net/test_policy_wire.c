/* The policy encoding handed to the exec'd proxy (src/net/policy_wire.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "net/policy_wire.h"

static void round_trip_and_truncation(void **state)
{
	char *allow[] = {"a.test", "*.b.test"}, *deny[] = {"x.b.test"};
	uint16_t ports[] = {80, 8443};
	struct al_egress_cidr cidr[] = {{.family = AF_INET, .addr = {127, 0, 0, 2}, .prefix = 32}};
	struct al_egress_host hosts[1] = {{.name = "h.test"}};
	struct sockaddr_storage res[1] = {{0}};
	struct al_egress_policy pol = {allow,
	                               2,
	                               deny,
	                               1,
	                               ports,
	                               2,
	                               cidr,
	                               1,
	                               hosts,
	                               1,
	                               res,
	                               1,
	                               {true, 42, 1000, 2000, 0.1, 0.2, 1024}};
	struct al_egress_policy out;
	struct al_buf b;
	uint32_t mask = 0;
	size_t cut;
	(void)state;
	hosts[0].addr.ss_family = AF_INET;
	((struct sockaddr_in *)&hosts[0].addr)->sin_addr.s_addr = htonl(0x7f000002);
	hosts[0].addrlen = sizeof(struct sockaddr_in);
	res[0].ss_family = AF_INET;
	al_buf_init(&b);
	assert_int_equal(al_policy_wire_encode(&pol, 0x2d, &b), 0);
	assert_int_equal(al_policy_wire_decode((const uint8_t *)b.data, b.len, &out, &mask), 0);
	assert_int_equal(mask, 0x2d);
	assert_int_equal(out.n_allow_domains, 2);
	assert_string_equal(out.allow_domains[1], "*.b.test");
	assert_string_equal(out.deny_domains[0], "x.b.test");
	assert_int_equal(out.allow_ports[1], 8443);
	assert_memory_equal(&out.allow_cidr[0], &cidr[0], sizeof(cidr[0]));
	assert_string_equal(out.hosts[0].name, "h.test");
	assert_memory_equal(&out.hosts[0].addr, &hosts[0].addr, sizeof(hosts[0].addr));
	assert_int_equal(out.n_resolvers, 1);
	assert_true(out.chaos.enabled);
	assert_int_equal(out.chaos.seed, 42);
	assert_int_equal(out.chaos.bandwidth, 1024);
	al_policy_wire_free(&out);
	/* every truncation, and a trailing byte, is refused */
	for (cut = 0; cut < b.len; cut++) {
		assert_int_equal(al_policy_wire_decode((const uint8_t *)b.data, cut, &out, &mask),
		                 -EINVAL);
		al_policy_wire_free(&out);
	}
	al_buf_append(&b, "x", 1);
	assert_int_equal(al_policy_wire_decode((const uint8_t *)b.data, b.len, &out, &mask),
	                 -EINVAL);
	al_policy_wire_free(&out);
	al_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(round_trip_and_truncation)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
