/* src/chaos: the PRNG (pinned outputs: a seed must give the same schedule
 * in every version), schedules (rate, after, every, max, paths), the glob
 * matcher, and the BPF interpreter against the real seccomp program. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "chaos/chaos.h"
#include "chaos/matrix.h"
#include "sandbox/seccomp.h"
#include "util/glob.h"

static void test_prng_pinned(void **state)
{
	struct al_prng p;
	uint64_t first[3];

	al_prng_seed(&p, 42, 0);
	for (int i = 0; i < 3; i++)
		first[i] = al_prng_next(&p);
	/* pinned when written: changing the generator changes every schedule */
	assert_int_equal(first[0], 0x19e479e2aaa77bfbull);
	assert_int_equal(first[1], 0x5e3efe753be27527ull);
	assert_int_equal(first[2], 0xc3ed7125b780200aull);
}

static void test_prng_streams(void **state)
{
	struct al_prng a, b, c;
	int same_ab = 0, same_ac = 0;

	al_prng_seed(&a, 7, 0);
	al_prng_seed(&b, 7, 0);
	al_prng_seed(&c, 7, 1);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = al_prng_next(&a), y = al_prng_next(&b), z = al_prng_next(&c);
		same_ab += x == y;
		same_ac += x == z;
	}
	assert_int_equal(same_ab, 1000);
	assert_int_equal(same_ac, 0);
	/* (seed, 1) is not (seed + 1, 0) */
	al_prng_seed(&a, 8, 0);
	al_prng_seed(&b, 7, 1);
	assert_true(al_prng_next(&a) != al_prng_next(&b));
	/* unit draws lie in [0, 1) and are roughly uniform */
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		double u = al_prng_unit(&a);
		assert_true(u >= 0 && u < 1);
		sum += u;
	}
	assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);
}

static void test_glob(void **state)
{
	assert_true(al_glob_valid("/workspace/**"));
	assert_true(al_glob_valid("/a/**/b/*.txt"));
	assert_true(al_glob_valid("/x/[a-c]?"));
	assert_false(al_glob_valid("workspace/**")); /* relative */
	assert_false(al_glob_valid(""));
	assert_false(al_glob_valid("/a**")); /* ** inside a component */
	assert_false(al_glob_valid("/a/**b"));
	assert_false(al_glob_valid("/a/[bc")); /* unclosed */

	assert_true(al_glob_match("/workspace/**", "/workspace/a"));
	assert_true(al_glob_match("/workspace/**", "/workspace/a/b/c"));
	assert_true(al_glob_match("/workspace/**", "/workspace/"));
	assert_false(al_glob_match("/workspace/**", "/workspace"));
	assert_false(al_glob_match("/workspace/**", "/workspaces/a"));
	assert_false(al_glob_match("/workspace/**", "/etc/passwd"));
	assert_true(al_glob_match("/a/*.txt", "/a/x.txt"));
	assert_false(al_glob_match("/a/*.txt", "/a/b/x.txt")); /* * stays in a component */
	assert_true(al_glob_match("/a/**/x.txt", "/a/x.txt")); /* ** can be none */
	assert_true(al_glob_match("/a/**/x.txt", "/a/b/c/x.txt"));
	assert_false(al_glob_match("/a/**/x.txt", "/a/b/c/y.txt"));
	assert_true(al_glob_match("/x/[a-c]?", "/x/bz"));
	assert_false(al_glob_match("/x/[a-c]?", "/x/dz"));
	assert_false(al_glob_match("/x/[!a-c]", "/x/a"));
	assert_true(al_glob_match("/x/[!a-c]", "/x/d"));
	assert_false(al_glob_match("/x/?", "/x//"));
	assert_true(al_glob_match("/a/*/c/**", "/a/b/c/d/e"));
	assert_false(al_glob_match("/a/*/c/**", "/a/b/x/c/d"));
	/* a hostile path does not make the matcher blow up */
	{
		static char path[65536];
		memset(path, 'a', sizeof path - 1);
		path[0] = '/';
		for (size_t i = 2; i < sizeof path - 1; i += 2)
			path[i] = '/';
		assert_false(al_glob_match("/**/*a*a*a*a*a*a*b", path));
	}
}

static struct al_chaos_syscall rule(const char *name, int err, enum al_chaos_trigger t, double rate,
                                    uint64_t n, const char *paths, uint64_t max)
{
	return (struct al_chaos_syscall){(char *)name, err, t, rate, n, (char *)paths, max};
}

/* Which of calls 1..n of nr inject, as a bit string ("01101..."). */
static void run_schedule(struct al_chaos_spec *cs, int nr, const char *path, int n, char *out)
{
	struct al_chaos_schedule sc;
	struct al_chaos_decision d;
	struct al_error err = {0};

	assert_int_equal(al_chaos_schedule_init(&sc, cs, cs->seed, &err), 0);
	for (int i = 0; i < n; i++) {
		bool m = al_chaos_schedule_decide(&sc, nr, path, &d);
		out[i] = !m ? '-' : d.inject ? '1' : '0';
	}
	out[n] = '\0';
	al_chaos_schedule_free(&sc);
}

static void test_schedule_triggers(void **state)
{
	struct al_chaos_syscall r[1];
	struct al_chaos_spec cs = {.enabled = true, .seed = 1, .syscalls = r, .n_syscalls = 1};
	char got[64];

	r[0] = rule("write", ENOSPC, AL_CHAOS_AFTER, 0, 5, NULL, 0);
	run_schedule(&cs, SYS_write, NULL, 10, got);
	assert_string_equal(got, "0000011111");
	r[0] = rule("write", ENOSPC, AL_CHAOS_AFTER, 0, 5, NULL, 3);
	run_schedule(&cs, SYS_write, NULL, 10, got);
	assert_string_equal(got, "0000011100");
	r[0] = rule("connect", ECONNREFUSED, AL_CHAOS_EVERY, 0, 3, NULL, 0);
	run_schedule(&cs, SYS_connect, NULL, 10, got);
	assert_string_equal(got, "0010010010");
	run_schedule(&cs, SYS_write, NULL, 3, got); /* another syscall: no rule */
	assert_string_equal(got, "---");
	r[0] = rule("openat", EIO, AL_CHAOS_RATE, 1.0, 0, "/workspace/**", 0);
	run_schedule(&cs, SYS_openat, "/workspace/f", 4, got);
	assert_string_equal(got, "1111");
	run_schedule(&cs, SYS_openat, "/etc/passwd", 4, got);
	assert_string_equal(got, "----");
	run_schedule(&cs, SYS_openat, NULL, 2, got); /* unreadable path: no match */
	assert_string_equal(got, "--");
}

static void test_schedule_rate_seeded(void **state)
{
	struct al_chaos_syscall r[2];
	struct al_chaos_spec cs = {.enabled = true, .seed = 42, .syscalls = r, .n_syscalls = 1};
	char a[1001], b[1001], c[1001], d[1001];
	int ones = 0;

	r[0] = rule("openat", EIO, AL_CHAOS_RATE, 0.05, 0, NULL, 0);
	run_schedule(&cs, SYS_openat, "/x", 1000, a);
	run_schedule(&cs, SYS_openat, "/x", 1000, b);
	assert_string_equal(a, b); /* same seed, same schedule */
	for (int i = 0; i < 1000; i++)
		ones += a[i] == '1';
	assert_true(ones > 20 && ones < 90); /* ~50 expected */
	cs.seed = 43;
	run_schedule(&cs, SYS_openat, "/x", 1000, c);
	assert_string_not_equal(a, c);
	/* adding a rule for another syscall does not shift this rule's draws */
	cs.seed = 42;
	r[1] = rule("write", EIO, AL_CHAOS_RATE, 0.5, 0, NULL, 0);
	cs.n_syscalls = 2;
	run_schedule(&cs, SYS_openat, "/x", 1000, d);
	assert_string_equal(a, d);
}

/* two rules on one syscall: both count, the first that fires injects */
static void test_schedule_two_rules(void **state)
{
	struct al_chaos_syscall r[2];
	struct al_chaos_spec cs = {.enabled = true, .seed = 3, .syscalls = r, .n_syscalls = 2};
	struct al_chaos_schedule sc;
	struct al_chaos_decision d;
	struct al_error err = {0};

	r[0] = rule("write", EIO, AL_CHAOS_EVERY, 0, 2, NULL, 0);
	r[1] = rule("write", ENOSPC, AL_CHAOS_EVERY, 0, 3, NULL, 0);
	assert_int_equal(al_chaos_schedule_init(&sc, &cs, cs.seed, &err), 0);
	int want[6] = {0, EIO, ENOSPC, EIO, 0, EIO};
	for (int i = 0; i < 6; i++) {
		assert_true(al_chaos_schedule_decide(&sc, SYS_write, NULL, &d));
		assert_int_equal(d.inject ? d.err : 0, want[i]);
	}
	/* call 6 fired both: rule 0 won; rule 1 counted it all the same */
	assert_int_equal(sc.rules[0].calls, 6);
	assert_int_equal(sc.rules[1].calls, 6);
	assert_int_equal(sc.rules[1].injected, 1);
	al_chaos_schedule_free(&sc);
}

static void test_decision_json(void **state)
{
	struct al_chaos_syscall r[1] = {rule("openat", EIO, AL_CHAOS_EVERY, 0, 1, "/w/**", 0)};
	struct al_chaos_spec cs = {.enabled = true, .seed = 9, .syscalls = r, .n_syscalls = 1};
	struct al_chaos_schedule sc;
	struct al_chaos_decision d;
	struct al_error err = {0};
	struct al_buf b;
	struct al_json j;

	assert_int_equal(al_chaos_schedule_init(&sc, &cs, cs.seed, &err), 0);
	assert_true(al_chaos_schedule_decide(&sc, SYS_openat, "/w/\"q\"", &d));
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_chaos_decision_json(&sc, &d, "/w/\"q\"", &j);
	assert_string_equal(b.data,
	                    "{\"kind\":\"syscall\",\"rule\":0,\"syscall\":\"openat\",\"nr\":257,"
	                    "\"call\":1,\"injected\":1,\"path\":\"/w/\\\"q\\\"\","
	                    "\"errno\":\"EIO\",\"errno_value\":5}");
	al_buf_free(&b);
	al_chaos_schedule_free(&sc);
}

static uint32_t run_prog(const struct al_seccomp *sc, uint32_t arch, int nr, uint64_t a0,
                         uint64_t a1, uint64_t a2, uint64_t a3)
{
	size_t n;
	const struct sock_filter *p = al_seccomp_program(sc, &n);
	struct seccomp_data d = {.nr = nr, .arch = arch, .args = {a0, a1, a2, a3}};
	return al_bpf_run(p, n, &d);
}

#define X86 AUDIT_ARCH_X86_64
#define ACT(x) ((x)&SECCOMP_RET_ACTION_FULL)

static void test_bpf_on_policy(void **state)
{
	struct al_seccomp *sc = NULL;
	struct al_error err = {0};

	assert_int_equal(al_seccomp_embedded(&sc, true, &err), 0);
	assert_int_equal(ACT(run_prog(sc, X86, SYS_getpid, 0, 0, 0, 0)), SECCOMP_RET_ALLOW);
	assert_int_equal(ACT(run_prog(sc, X86, SYS_write, 1, 0, 0, 0)), SECCOMP_RET_ALLOW);
	assert_int_equal(ACT(run_prog(sc, X86, SYS_mount, 0, 0, 0, 0)), SECCOMP_RET_USER_NOTIF);
	assert_int_equal(ACT(run_prog(sc, X86, SYS_execve, 0, 0, 0, 0)), SECCOMP_RET_USER_NOTIF);
	/* argument checks: openat creating a setuid file is denied, a plain open is not */
	assert_int_equal(ACT(run_prog(sc, X86, SYS_openat, AT_FDCWD, 0, O_RDONLY, 0)),
	                 SECCOMP_RET_ALLOW);
	assert_int_equal(ACT(run_prog(sc, X86, SYS_openat, AT_FDCWD, 0, O_CREAT, S_ISUID | 0755)),
	                 SECCOMP_RET_USER_NOTIF);
	assert_int_equal(run_prog(sc, X86, SYS_openat2, 0, 0, 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
	/* a foreign architecture is killed */
	assert_int_equal(ACT(run_prog(sc, AUDIT_ARCH_I386, 20, 0, 0, 0, 0)),
	                 SECCOMP_RET_KILL_PROCESS);
	al_seccomp_free(sc);
}

static void test_bpf_rejects_bad_programs(void **state)
{
	struct seccomp_data d = {0};
	struct sock_filter off_end[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5)};
	struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_IMM, 1)};
	struct sock_filter bad_load[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 1000),
	                                 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	assert_int_equal(al_bpf_run(off_end, 1, &d), SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(al_bpf_run(no_ret, 1, &d), SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(al_bpf_run(bad_load, 2, &d), SECCOMP_RET_KILL_PROCESS);
}

/* The prologue sends exactly the named calls to the listener and leaves
 * the answer to every other call -- every number, native or foreign --
 * what the policy says. */
static void test_divert_prologue(void **state)
{
	struct al_seccomp *base = NULL, *div = NULL;
	struct al_error err = {0};
	int nrs[] = {SYS_getppid, SYS_openat, SYS_connect};

	assert_int_equal(al_seccomp_embedded(&base, true, &err), 0);
	assert_int_equal(al_seccomp_embedded(&div, true, &err), 0);
	assert_int_equal(al_seccomp_divert_to_listener(div, nrs, 3, &err), 0);
	for (int nr = 0; nr < 520; nr++) {
		uint32_t b = run_prog(base, X86, nr, 0, 0, 0, 0);
		uint32_t v = run_prog(div, X86, nr, 0, 0, 0, 0);
		if (nr == SYS_getppid || nr == SYS_openat || nr == SYS_connect)
			assert_int_equal(v, SECCOMP_RET_USER_NOTIF);
		else
			assert_int_equal(v, b);
		/* x32 numbers and i386 never take the diversion */
		assert_int_equal(run_prog(div, X86, nr | 0x40000000, 0, 0, 0, 0),
		                 run_prog(base, X86, nr | 0x40000000, 0, 0, 0, 0));
		assert_int_equal(run_prog(div, AUDIT_ARCH_I386, nr, 0, 0, 0, 0),
		                 run_prog(base, AUDIT_ARCH_I386, nr, 0, 0, 0, 0));
	}
	al_seccomp_free(base);
	al_seccomp_free(div);
	/* without a listener there is nothing to divert to */
	assert_int_equal(al_seccomp_embedded(&base, false, &err), 0);
	assert_int_equal(al_seccomp_divert_to_listener(base, nrs, 3, &err), -EINVAL);
	al_seccomp_free(base);
}

static void test_matrix_vary(void **state)
{
	struct al_matrix_dim d;
	struct al_error err = {0};

	assert_int_equal(al_matrix_parse_vary("chaos.seed=1..5", &d, &err), 0);
	assert_string_equal(d.key, "chaos.seed");
	assert_int_equal(d.n, 5);
	assert_string_equal(d.values[0], "1");
	assert_string_equal(d.values[4], "5");
	al_matrix_dim_free(&d);

	assert_int_equal(
	    al_matrix_parse_vary(
	        "chaos.syscalls=[{syscall: write, errno: EIO, every: 2}], [] ,'a,b'", &d, &err),
	    0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.values[0], "[{syscall: write, errno: EIO, every: 2}]");
	assert_string_equal(d.values[1], "[]");
	assert_string_equal(d.values[2], "'a,b'");
	al_matrix_dim_free(&d);

	assert_true(al_matrix_parse_vary("chaos.seed", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("Chaos.seed=1", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos..seed=1", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos.seed=5..1", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos.seed=1..100000", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos.syscalls=[{a: 1}", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos.seed=1,,2", &d, &err) < 0);
	al_matrix_dim_free(&d);
	assert_true(al_matrix_parse_vary("chaos.seed=@/nonexistent/file", &d, &err) < 0);
	al_matrix_dim_free(&d);
}

static void test_matrix_overlay(void **state)
{
	char *o = al_matrix_overlay("chaos.seed", "3");
	assert_string_equal(o, "chaos:\n  seed:\n    3\n");
	free(o);
	o = al_matrix_overlay(
	    "chaos.syscalls",
	    "- {syscall: write, errno: EIO, every: 1}\n- {syscall: read, errno: EIO, every: 2}\n");
	assert_string_equal(o, "chaos:\n  syscalls:\n    - {syscall: write, errno: EIO, every: 1}\n"
	                       "    - {syscall: read, errno: EIO, every: 2}\n");
	free(o);
	/* the overlay loads on top of a spec, keeping what it does not name */
	struct al_spec s;
	struct al_error err = {0};
	al_spec_init(&s);
	const char *base =
	    "chaos:\n  seed: 1\n  syscalls: [{syscall: write, errno: EIO, every: 2}]\n";
	assert_int_equal(al_spec_load_string(&s, "base", base, strlen(base), &err), 0);
	o = al_matrix_overlay("chaos.seed", "9");
	assert_int_equal(al_spec_load_string(&s, "ov", o, strlen(o), &err), 0);
	free(o);
	assert_int_equal(s.chaos.seed, 9);
	assert_int_equal(s.chaos.n_syscalls, 1);
	o = al_matrix_overlay("chaos.syscalls", "[]");
	assert_int_equal(al_spec_load_string(&s, "ov", o, strlen(o), &err), 0);
	free(o);
	assert_int_equal(s.chaos.n_syscalls, 0);
	o = al_matrix_overlay("chaos.sed", "1");
	assert_true(al_spec_load_string(&s, "--vary chaos.sed (value 1)", o, strlen(o), &err) < 0);
	assert_string_equal(err.msg, "--vary chaos.sed (value 1):2:3: chaos.sed: unknown key");
	free(o);
	al_spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prng_pinned),
	    cmocka_unit_test(test_prng_streams),
	    cmocka_unit_test(test_glob),
	    cmocka_unit_test(test_schedule_triggers),
	    cmocka_unit_test(test_schedule_rate_seeded),
	    cmocka_unit_test(test_schedule_two_rules),
	    cmocka_unit_test(test_decision_json),
	    cmocka_unit_test(test_bpf_on_policy),
	    cmocka_unit_test(test_bpf_rejects_bad_programs),
	    cmocka_unit_test(test_divert_prologue),
	    cmocka_unit_test(test_matrix_vary),
	    cmocka_unit_test(test_matrix_overlay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
