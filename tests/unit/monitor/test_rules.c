/* The rules engine: spec parsing of rules:, defaults, first-match order,
 * globs, origin, rate rules at and below the threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/rules.h"
#include "spec/spec.h"

static int load(struct al_spec *s, const char *yaml, struct al_error *err)
{
	al_spec_init(s);
	return al_spec_load_string(s, "t.yaml", yaml, strlen(yaml), err);
}

static void test_defaults(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	struct al_mon_event ev = {.on = AL_ON_CANARY};
	(void)state;

	assert_int_equal(load(&s, "command: [true]\n", &err), 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	assert_int_equal(rs.n, 4);
	int i = al_ruleset_eval(&rs, &ev);
	assert_true(i >= 0);
	assert_int_equal(rs.rules[i].action, AL_ACT_KILL);
	ev.on = AL_ON_EXFIL;
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_KILL);
	ev.on = AL_ON_SYSCALL_DENIED;
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_LOG);
	ev.on = AL_ON_EXEC; /* not a package install: nothing fires */
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	ev.package_manager = true;
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_KILL);
	ev.on = AL_ON_LIMIT;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_replace_defaults(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	struct al_mon_event ev = {.on = AL_ON_CANARY};
	(void)state;

	assert_int_equal(load(&s,
	                      "default_rules: false\n"
	                      "rules:\n"
	                      "  - {on: canary, action: log}\n",
	                      &err),
	                 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_LOG);
	ev.on = AL_ON_EXEC;
	ev.package_manager = true;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	al_ruleset_free(&rs);
	al_spec_free(&s);

	/* a spec rule before the defaults wins for what it matches */
	assert_int_equal(load(&s, "rules:\n  - {on: canary, match: {path: /home/*/.aws/*}, action: log}\n", &err), 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	ev = (struct al_mon_event){.on = AL_ON_CANARY, .path = "/home/u/.aws/credentials"};
	assert_int_equal(al_ruleset_eval(&rs, &ev), 0);
	ev.path = "/tmp/customers.csv";
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_KILL);
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_globs_origin(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	const char *argv[] = {"git", "push", "--force"};
	struct al_mon_event ev = {.on = AL_ON_EXEC, .path = "/usr/bin/git", .argv = argv, .argc = 3,
	                          .origin = AL_ORIGIN_IMAGE};
	(void)state;

	assert_int_equal(load(&s,
	                      "rules:\n"
	                      "  - {on: exec, match: {argv: 'git push*--force*'}, action: [kill, alert]}\n"
	                      "  - {on: exec, match: {origin: writable}, action: deny}\n"
	                      "  - {on: syscall-denied, match: {syscall: 'ptrace'}, action: kill}\n",
	                      &err),
	                 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	assert_int_equal(al_ruleset_eval(&rs, &ev), 0);
	assert_true(rs.rules[0].alert);
	ev.argc = 2;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	ev.origin = AL_ORIGIN_WRITABLE;
	assert_int_equal(al_ruleset_eval(&rs, &ev), 1);
	assert_int_equal(rs.rules[1].action, AL_ACT_DENY);
	ev = (struct al_mon_event){.on = AL_ON_SYSCALL_DENIED, .syscall = "ptrace"};
	assert_int_equal(al_ruleset_eval(&rs, &ev), 2);
	ev.syscall = "mount";
	assert_int_equal(rs.rules[al_ruleset_eval(&rs, &ev)].action, AL_ACT_LOG); /* default */
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_rate(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	struct al_mon_event ev = {.on = AL_ON_EGRESS_DENIED, .host = "x.example"};
	(void)state;

	assert_int_equal(
	    load(&s, "rules:\n  - {on: egress-denied, count: 5, within: 10s, action: kill}\n", &err),
	    0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	/* 4 within the window: below the threshold */
	for (int i = 0; i < 4; i++) {
		ev.t_ns = (uint64_t)i * 1000000000ull;
		assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	}
	/* the 5th, 11 s after the first: the first fell out of the window */
	ev.t_ns = 11000000000ull;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	/* 6th at 12 s: the last 5 are at 1,2,3,11,12 s: 11 s apart, still no */
	ev.t_ns = 12000000000ull;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	/* at 12.5 s the last 5 are 2,3,11,12,12.5: within 10.5 s: no; at 12.9 .. */
	ev.t_ns = 12500000000ull;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	ev.t_ns = 12600000000ull; /* 3,11,12,12.5,12.6: 9.6 s: fires at the threshold */
	assert_int_equal(al_ruleset_eval(&rs, &ev), 0);
	/* counting starts afresh */
	ev.t_ns = 12700000000ull;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_rate_exact(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	struct al_mon_event ev = {.on = AL_ON_EXEC};
	(void)state;

	assert_int_equal(load(&s, "default_rules: false\nrules:\n  - {on: exec, count: 3, action: log}\n", &err), 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	assert_int_equal(al_ruleset_eval(&rs, &ev), 0);
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_output_rules(void **state)
{
	struct al_spec s;
	struct al_ruleset rs;
	struct al_error err = {0};
	struct al_mon_event ev = {.on = AL_ON_OUTPUT, .stream = 1};
	(void)state;

	assert_int_equal(load(&s,
	                      "rules:\n"
	                      "  - {on: output, match: {text: 'ERROR *', stream: stderr}, action: kill}\n"
	                      "  - {on: output, match: {contains: 'sk-', stream: stdout}, action: log}\n"
	                      "  - {on: output, match: {text: '*[Pp]assword*', contains: '='}, "
	                      "action: log}\n",
	                      &err),
	                 0);
	assert_int_equal(al_ruleset_build(&rs, &s), 0);
	ev.text = "ERROR disk full";
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1); /* on stdout: not the first rule */
	ev.stream = 2;
	assert_int_equal(al_ruleset_eval(&rs, &ev), 0);
	ev.text = "an ERROR here"; /* the glob is on the whole line */
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	ev.stream = 1;
	ev.text = "key: sk-abc";
	assert_int_equal(al_ruleset_eval(&rs, &ev), 1);
	ev.text = "password: x";
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1); /* both must match */
	ev.text = "Password=x";
	assert_int_equal(al_ruleset_eval(&rs, &ev), 2);
	ev.on = AL_ON_EXEC; /* other events never match output rules */
	ev.text = NULL;
	assert_int_equal(al_ruleset_eval(&rs, &ev), -1);
	al_ruleset_free(&rs);
	al_spec_free(&s);
}

static void test_bad_specs(void **state)
{
	struct al_spec s;
	struct al_error err = {0};
	static const char *const bad[] = {
	    "rules: [{on: nope, action: log}]\n",
	    "rules: [{on: exec}]\n",
	    "rules: [{action: log}]\n",
	    "rules: [{on: exfil, action: deny}]\n",
	    "rules: [{on: exec, action: explode}]\n",
	    "rules: [{on: exec, action: [log, kill]}]\n",
	    "rules: [{on: exec, count: 0, action: log}]\n",
	    "rules: [{on: exec, within: 5s, action: log}]\n",
	    "rules: [{on: canary, match: {origin: image}, action: log}]\n",
	    "rules: [{on: exec, match: {origin: somewhere}, action: log}]\n",
	    "rules: [{on: exec, match: {colour: red}, action: log}]\n",
	    "alert: {webhook: 'https://x/'}\n",
	    "alert: {webhook: 'http://x y/'}\n",
	    "alert: {command: [relative]}\n",
	    "rules: exec\n",
	    "canaries: [{kind: env, name: LD_PRELOAD}]\n",
	    "canaries: [{kind: env, path: /tmp/x}]\n",
	    "canaries: [{kind: file, content: no-token-here}]\n",
	    "canaries: [{kind: ssh-key, content: '{token}'}]\n",
	    "canaries: [{kind: honeypot}]\n",
	    "canaries: [{path: /tmp/x}]\n",
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = load(&s, bad[i], &err);
		if (r == 0)
			fail_msg("accepted: %s", bad[i]);
		al_spec_free(&s);
	}
	assert_int_equal(load(&s, "alert: {webhook: 'http://127.0.0.1:8080/hook', timeout: 2s, command: [/bin/true]}\n", &err), 0);
	assert_string_equal(s.alert.webhook, "http://127.0.0.1:8080/hook");
	assert_int_equal(s.alert.timeout_ns, 2000000000ull);
	al_spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),   cmocka_unit_test(test_replace_defaults),
	    cmocka_unit_test(test_globs_origin), cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_rate_exact), cmocka_unit_test(test_bad_specs),
	    cmocka_unit_test(test_output_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
