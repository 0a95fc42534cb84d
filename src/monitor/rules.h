/* The tripwire rules engine: pure (no I/O). The spec's rules, then the
 * defaults, are checked in order against each event; the first rule that
 * fires decides (docs/spec.md "rules", docs/tripwires.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spec/spec.h"

/* One event as the rules see it (fields not known for its kind are NULL). */
struct al_mon_event {
	enum al_rule_on on;
	uint64_t t_ns;            /* monotonic time of the event */
	const char *path;         /* exec: the path asked; canary: the canary's path */
	const char *const *argv;  /* exec */
	size_t argc;
	const char *host;         /* egress, dns, exfil */
	const char *syscall;      /* syscall-denied */
	enum al_rule_origin origin; /* exec: AL_ORIGIN_IMAGE or _WRITABLE; ANY: unknown */
	bool package_manager;     /* exec: detected as a package install (pkgmgr.c) */
	const char *text;         /* output: one line (NUL-terminated, no newline) */
	int stream;               /* output: 1 stdout, 2 stderr */
};

struct al_rule_state {
	uint64_t *ring; /* the last `count` match times (count >= 2) */
	uint32_t head, filled;
	uint64_t matches, fired;
};

struct al_ruleset {
	struct al_rule *rules; /* owned copies: the spec's, then the defaults */
	size_t n;
	size_t n_spec;         /* the first n_spec come from the spec */
	struct al_rule_state *st;
};

/* Build from the spec (its rules, then the defaults unless
 * spec->default_rules is false). -ENOMEM. */
int al_ruleset_build(struct al_ruleset *rs, const struct al_spec *spec);
void al_ruleset_free(struct al_ruleset *rs);

/* Does rule r match event ev (ignoring count/within)? */
bool al_rule_matches(const struct al_rule *r, const struct al_mon_event *ev);

/* Check ev against the rules in order; returns the index of the first rule
 * that fires, or -1. A rate rule (count >= 2) that matches but stays below
 * its count within its window does not fire, and the next rules are
 * checked. A rate rule that fires starts counting afresh. */
int al_ruleset_eval(struct al_ruleset *rs, const struct al_mon_event *ev);

/* One rule as JSON members (on, match, count, within_ns, action, alert,
 * source) into an open object. */
struct al_json;
void al_rule_json(const struct al_rule *r, bool from_spec, struct al_json *j);

/* Human-readable listing of the effective rules (airlock rules explain). */
void al_ruleset_explain(const struct al_ruleset *rs, FILE *out);
