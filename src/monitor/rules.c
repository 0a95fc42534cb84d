/* The tripwire rules engine (see rules.h). */
#include "monitor/rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

/* The defaults when the spec says nothing (docs/spec.md): a canary touch,
 * exfiltration of a canary token and a package install kill the run; a
 * denied syscall is logged. */
static const struct al_rule default_rules[] = {
    {.on = AL_ON_CANARY, .package_manager = -1, .action = AL_ACT_KILL},
    {.on = AL_ON_EXFIL, .package_manager = -1, .action = AL_ACT_KILL},
    {.on = AL_ON_EXEC, .package_manager = 1, .action = AL_ACT_KILL},
    {.on = AL_ON_SYSCALL_DENIED, .package_manager = -1, .action = AL_ACT_LOG},
};

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int copy_rule(struct al_rule *dst, const struct al_rule *src)
{
	*dst = *src;
	dst->path = dst->argv = dst->host = dst->syscall = dst->text = dst->contains = NULL;
	if (dup_str(&dst->path, src->path) < 0 || dup_str(&dst->argv, src->argv) < 0 ||
	    dup_str(&dst->host, src->host) < 0 || dup_str(&dst->syscall, src->syscall) < 0 ||
	    dup_str(&dst->text, src->text) < 0 || dup_str(&dst->contains, src->contains) < 0)
		return -ENOMEM;
	return 0;
}

void al_ruleset_free(struct al_ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->rules[i].path);
		free(rs->rules[i].argv);
		free(rs->rules[i].host);
		free(rs->rules[i].syscall);
		free(rs->rules[i].text);
		free(rs->rules[i].contains);
		if (rs->st)
			free(rs->st[i].ring);
	}
	free(rs->rules);
	free(rs->st);
	memset(rs, 0, sizeof *rs);
}

int al_ruleset_build(struct al_ruleset *rs, const struct al_spec *spec)
{
	size_t nd = spec->default_rules ? sizeof default_rules / sizeof default_rules[0] : 0;
	size_t total = spec->n_rules + nd;

	memset(rs, 0, sizeof *rs);
	rs->rules = calloc(total ? total : 1, sizeof *rs->rules);
	rs->st = calloc(total ? total : 1, sizeof *rs->st);
	if (rs->rules == NULL || rs->st == NULL)
		goto oom;
	for (size_t i = 0; i < total; i++) {
		const struct al_rule *src = i < spec->n_rules ? &spec->rules[i]
		                                              : &default_rules[i - spec->n_rules];
		rs->n = i + 1;
		if (copy_rule(&rs->rules[i], src) < 0)
			goto oom;
		if (src->count >= 2) {
			rs->st[i].ring = calloc(src->count, sizeof *rs->st[i].ring);
			if (rs->st[i].ring == NULL)
				goto oom;
		}
	}
	rs->n_spec = spec->n_rules;
	return 0;
oom:
	al_ruleset_free(rs);
	return -ENOMEM;
}

static bool glob(const char *pat, const char *s)
{
	if (pat == NULL)
		return true;
	if (s == NULL)
		return false;
	return fnmatch(pat, s, 0) == 0;
}

/* argv joined with single spaces, matched without building it when it
 * fits a fixed buffer (argv is bounded by the exec record anyway). */
static bool argv_glob(const char *pat, const char *const *argv, size_t argc)
{
	char buf[16384 + 256 + 1];
	size_t used = 0;

	if (pat == NULL)
		return true;
	if (argv == NULL)
		return false;
	for (size_t i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (used + l + 2 > sizeof buf)
			l = sizeof buf - used - 2;
		if (i)
			buf[used++] = ' ';
		memcpy(buf + used, argv[i], l);
		used += l;
		if (used + 2 >= sizeof buf)
			break;
	}
	buf[used] = '\0';
	return fnmatch(pat, buf, 0) == 0;
}

bool al_rule_matches(const struct al_rule *r, const struct al_mon_event *ev)
{
	if (r->on != ev->on)
		return false;
	if (r->origin != AL_ORIGIN_ANY && r->origin != ev->origin)
		return false;
	if (r->package_manager >= 0 && (r->package_manager == 1) != ev->package_manager)
		return false;
	if (r->stream && r->stream != ev->stream)
		return false;
	if (r->contains && (ev->text == NULL || strstr(ev->text, r->contains) == NULL))
		return false;
	return glob(r->text, ev->text) && glob(r->path, ev->path) && glob(r->host, ev->host) &&
	       glob(r->syscall, ev->syscall) && argv_glob(r->argv, ev->argv, ev->argc);
}

/* Record a match at t; true when the count is reached within the window. */
static bool rate_hit(const struct al_rule *r, struct al_rule_state *st, uint64_t t)
{
	uint32_t n = r->count;

	st->ring[st->head] = t;
	st->head = (st->head + 1) % n;
	if (st->filled < n)
		st->filled++;
	if (st->filled < n)
		return false;
	/* the oldest of the last n matches is at head now */
	if (r->within_ns && t - st->ring[st->head] > r->within_ns)
		return false;
	st->filled = 0; /* fired: count afresh */
	st->head = 0;
	return true;
}

int al_ruleset_eval(struct al_ruleset *rs, const struct al_mon_event *ev)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct al_rule *r = &rs->rules[i];
		if (!al_rule_matches(r, ev))
			continue;
		rs->st[i].matches++;
		if (r->count >= 2 && !rate_hit(r, &rs->st[i], ev->t_ns))
			continue;
		rs->st[i].fired++;
		return (int)i;
	}
	return -1;
}

void al_rule_json(const struct al_rule *r, bool from_spec, struct al_json *j)
{
	al_json_kv_str(j, "on", al_rule_on_name(r->on));
	if (r->path || r->argv || r->host || r->syscall || r->origin || r->package_manager >= 0 ||
	    r->text || r->contains || r->stream) {
		al_json_key(j, "match");
		al_json_obj_begin(j);
		if (r->path)
			al_json_kv_str(j, "path", r->path);
		if (r->argv)
			al_json_kv_str(j, "argv", r->argv);
		if (r->host)
			al_json_kv_str(j, "host", r->host);
		if (r->syscall)
			al_json_kv_str(j, "syscall", r->syscall);
		if (r->origin)
			al_json_kv_str(j, "origin",
			               r->origin == AL_ORIGIN_IMAGE ? "image" : "writable");
		if (r->package_manager >= 0)
			al_json_kv_bool(j, "package_manager", r->package_manager == 1);
		if (r->text)
			al_json_kv_str(j, "text", r->text);
		if (r->contains)
			al_json_kv_str(j, "contains", r->contains);
		if (r->stream)
			al_json_kv_str(j, "stream", r->stream == 1 ? "stdout" : "stderr");
		al_json_obj_end(j);
	}
	if (r->count >= 2) {
		al_json_kv_uint(j, "count", r->count);
		if (r->within_ns)
			al_json_kv_uint(j, "within_ns", r->within_ns);
	}
	al_json_kv_str(j, "action", al_rule_action_name(r->action));
	if (r->alert)
		al_json_kv_bool(j, "alert", true);
	al_json_kv_str(j, "source", from_spec ? "spec" : "default");
}

void al_ruleset_explain(const struct al_ruleset *rs, FILE *out)
{
	if (rs->n == 0) {
		fputs("no rules: every event is only recorded\n", out);
		return;
	}
	fputs("rules, checked in order; the first that fires decides:\n", out);
	for (size_t i = 0; i < rs->n; i++) {
		const struct al_rule *r = &rs->rules[i];
		fprintf(out, "%3zu. on %s", i + 1, al_rule_on_name(r->on));
		if (r->package_manager == 1)
			fputs(" that installs packages", out);
		else if (r->package_manager == 0)
			fputs(" that does not install packages", out);
		if (r->origin)
			fprintf(out, " of a file from %s",
			        r->origin == AL_ORIGIN_IMAGE ? "the image" : "a writable area");
		if (r->path)
			fprintf(out, " path~\"%s\"", r->path);
		if (r->argv)
			fprintf(out, " argv~\"%s\"", r->argv);
		if (r->host)
			fprintf(out, " host~\"%s\"", r->host);
		if (r->syscall)
			fprintf(out, " syscall~\"%s\"", r->syscall);
		if (r->stream)
			fprintf(out, " on %s", r->stream == 1 ? "stdout" : "stderr");
		if (r->text)
			fprintf(out, " line~\"%s\"", r->text);
		if (r->contains)
			fprintf(out, " containing \"%s\"", r->contains);
		if (r->count >= 2) {
			fprintf(out, ", the %u%s time", r->count,
			        r->count % 10 == 1 && r->count % 100 != 11   ? "st"
			        : r->count % 10 == 2 && r->count % 100 != 12 ? "nd"
			        : r->count % 10 == 3 && r->count % 100 != 13 ? "rd"
			                                                     : "th");
			if (r->within_ns)
				fprintf(out, " within %.3f s", (double)r->within_ns / 1e9);
		}
		fprintf(out, " -> %s%s  [%s]\n", al_rule_action_name(r->action),
		        r->alert ? " + alert" : "", i < rs->n_spec ? "spec" : "default");
	}
	fputs("anything else: recorded only\n", out);
}
