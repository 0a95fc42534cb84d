/* airlock rules explain SPEC: the effective tripwire rules of a spec (its
 * rules, then the defaults), in the order they are checked. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "monitor/rules.h"
#include "spec/spec.h"
#include "util/escape.h"

static void usage(FILE *out)
{
	fputs("usage: airlock rules explain [SPEC]\n"
	      "  print the effective tripwire rules of SPEC (without SPEC: the defaults)\n",
	      out);
}

int al_cmd_rules(int argc, char **argv)
{
	struct al_spec spec;
	struct al_ruleset rs;
	struct al_error err = {0};

	if (argc < 2 || strcmp(argv[1], "explain") != 0 || argc > 3) {
		usage(argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		          ? stdout
		          : stderr);
		return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		           ? 0
		           : 125;
	}
	al_spec_init(&spec);
	if (argc == 3 && al_spec_load_file(&spec, argv[2], &err) < 0) {
		al_escape_printf(stderr, "airlock: %s\n", err.msg);
		al_spec_free(&spec);
		return 125;
	}
	if (al_ruleset_build(&rs, &spec) < 0) {
		fputs("airlock: out of memory\n", stderr);
		al_spec_free(&spec);
		return 125;
	}
	al_ruleset_explain(&rs, stdout);
	if (!spec.default_rules)
		fputs("(default_rules: false: the built-in defaults are off)\n", stdout);
	if (spec.alert.webhook)
		al_escape_printf(stdout, "alert webhook: POST %s (timeout %.3f s)\n", spec.alert.webhook,
		                 (double)spec.alert.timeout_ns / 1e9);
	if (spec.alert.command)
		al_escape_printf(stdout, "alert command: %s ... (timeout %.3f s)\n", spec.alert.command[0],
		                 (double)spec.alert.timeout_ns / 1e9);
	al_ruleset_free(&rs);
	al_spec_free(&spec);
	return 0;
}
