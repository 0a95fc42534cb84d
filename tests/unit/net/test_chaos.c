/* The seeded network chaos schedule (src/net/chaos.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/chaos.h"

static void schedule(const struct al_egress_policy *pol, uint64_t seed, uint32_t id, int dir,
                     int *out, int n)
{
	struct al_chaos_dir d;
	al_chaos_dir_init(&d, seed, id, dir, 0);
	for (int i = 0; i < n; i++)
		out[i] = (int)al_chaos_segment_fault(pol, &d);
}

static void same_seed_same_schedule(void **state)
{
	struct al_egress_policy pol = {0};
	int a[2000], b[2000], c[2000], e[2000];
	int stalls = 0, resets = 0;
	(void)state;
	pol.chaos.enabled = true;
	pol.chaos.loss = 0.1;
	pol.chaos.reset = 0.02;
	schedule(&pol, 42, 7, 1, a, 2000);
	schedule(&pol, 42, 7, 1, b, 2000);
	assert_memory_equal(a, b, sizeof(a));
	schedule(&pol, 43, 7, 1, c, 2000);
	assert_memory_not_equal(a, c, sizeof(a));
	schedule(&pol, 42, 8, 1, e, 2000);
	assert_memory_not_equal(a, e, sizeof(a)); /* per connection */
	schedule(&pol, 42, 7, 0, e, 2000);
	assert_memory_not_equal(a, e, sizeof(a)); /* per direction */
	for (int i = 0; i < 2000; i++) {
		stalls += a[i] == AL_CHAOS_STALL;
		resets += a[i] == AL_CHAOS_RESET;
	}
	/* rates roughly as asked (binomial, wide bounds: this is not a timing) */
	assert_in_range(resets, 15, 70);
	assert_in_range(stalls, 120, 290);
	/* the reset schedule does not move when the loss rate changes */
	pol.chaos.loss = 0.5;
	schedule(&pol, 42, 7, 1, b, 2000);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(a[i] == AL_CHAOS_RESET, b[i] == AL_CHAOS_RESET);
}

static void no_faults_when_rates_are_zero(void **state)
{
	struct al_egress_policy pol = {0};
	int a[500];
	(void)state;
	schedule(&pol, 1, 1, 0, a, 500);
	for (int i = 0; i < 500; i++)
		assert_int_equal(a[i], AL_CHAOS_NONE);
}

static void latency_and_jitter(void **state)
{
	struct al_egress_policy pol = {0};
	struct al_chaos_dir d;
	(void)state;
	pol.chaos.latency_ns = 50000000;
	pol.chaos.jitter_ns = 10000000;
	al_chaos_dir_init(&d, 9, 1, 0, 0);
	for (int i = 0; i < 1000; i++) {
		uint64_t v = al_chaos_chunk_delay(&pol, &d);
		assert_in_range(v, 40000000, 60000000);
	}
	pol.chaos.latency_ns = 1000000;
	pol.chaos.jitter_ns = 5000000;
	for (int i = 0; i < 1000; i++)
		assert_in_range(al_chaos_chunk_delay(&pol, &d), 0, 6000000); /* never negative */
}

static void allowance_segments_and_bandwidth(void **state)
{
	struct al_egress_policy pol = {0};
	struct al_chaos_dir d;
	uint64_t until, n;
	(void)state;
	al_chaos_dir_init(&d, 1, 1, 0, 0);
	/* writes stop at each segment boundary, where the next fault is drawn */
	assert_int_equal(al_chaos_allowance(&pol, &d, 100000, 0, &until), AL_CHAOS_SEGMENT);
	al_chaos_consumed(&d, 1000);
	assert_int_equal(al_chaos_allowance(&pol, &d, 100000, 0, &until), AL_CHAOS_SEGMENT - 1000);
	/* 1 MB/s: a full bucket (one segment), then a wait proportional to the need */
	pol.chaos.bandwidth = 1000000;
	al_chaos_dir_init(&d, 1, 1, 0, 0);
	n = al_chaos_allowance(&pol, &d, 100000, 0, &until);
	assert_int_equal(n, AL_CHAOS_SEGMENT);
	al_chaos_consumed(&d, n);
	n = al_chaos_allowance(&pol, &d, 100000, 0, &until);
	assert_int_equal(n, 0);
	assert_in_range(until, 4000000, 4200000);                   /* 4096 bytes at 1 MB/s */
	n = al_chaos_allowance(&pol, &d, 100000, 10000000, &until); /* 10 ms later: 10 kB */
	assert_in_range(n, 9999, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(same_seed_same_schedule),
	    cmocka_unit_test(no_faults_when_rates_are_zero),
	    cmocka_unit_test(latency_and_jitter),
	    cmocka_unit_test(allowance_segments_and_bandwidth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
