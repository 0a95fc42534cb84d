/* Which calls fail: the rules of chaos.syscalls with their counters and
 * PRNG streams. Pure (no I/O), so the unit tests replay schedules exactly. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/chaos.h"
#include "util/glob.h"

int al_chaos_schedule_init(struct al_chaos_schedule *sc, const struct al_chaos_spec *cs,
                           uint64_t seed, struct al_error *err)
{
	memset(sc, 0, sizeof *sc);
	if (cs->n_syscalls == 0)
		return 0;
	sc->rules = calloc(cs->n_syscalls, sizeof *sc->rules);
	if (sc->rules == NULL)
		return al_error_set(err, ENOMEM, "chaos", "allocating the schedule");
	for (size_t i = 0; i < cs->n_syscalls; i++) {
		struct al_chaos_rule_state *r = &sc->rules[i];
		r->rule = &cs->syscalls[i];
		r->nr = seccomp_syscall_resolve_name(r->rule->syscall);
		if (r->nr < 0) {
			al_chaos_schedule_free(sc);
			return al_error_set(err, EINVAL, "chaos",
			                    "chaos.syscalls[%zu]: unknown syscall %s", i,
			                    cs->syscalls[i].syscall);
		}
		r->path_arg = r->rule->paths ? al_chaos_path_arg(r->rule->syscall) : -1;
		r->dirfd_arg = al_chaos_dirfd_arg(r->rule->syscall);
		al_prng_seed(&r->prng, seed, (uint64_t)i);
		sc->n_rules++;
	}
	return 0;
}

void al_chaos_schedule_free(struct al_chaos_schedule *sc)
{
	free(sc->rules);
	sc->rules = NULL;
	sc->n_rules = 0;
}

bool al_chaos_schedule_wants(const struct al_chaos_schedule *sc, int nr, bool *needs_path)
{
	bool any = false;

	*needs_path = false;
	for (size_t i = 0; i < sc->n_rules; i++) {
		if (sc->rules[i].nr != nr)
			continue;
		any = true;
		if (sc->rules[i].path_arg >= 0)
			*needs_path = true;
	}
	return any;
}

/* Whether this rule's trigger fires on its call-th matching call. The rate
 * draw is taken on every matching call (also past max), so the k-th call of
 * a rule always meets the k-th draw of its stream. */
static bool fires(struct al_chaos_rule_state *r, struct al_chaos_decision *d)
{
	switch (r->rule->trigger) {
	case AL_CHAOS_RATE:
		d->has_draw = true;
		d->draw = al_prng_unit(&r->prng);
		return d->draw < r->rule->rate;
	case AL_CHAOS_AFTER:
		return r->calls > r->rule->n;
	case AL_CHAOS_EVERY:
		return r->calls % r->rule->n == 0;
	}
	return false;
}

bool al_chaos_schedule_decide(struct al_chaos_schedule *sc, int nr, const char *path,
                              struct al_chaos_decision *d)
{
	bool matched = false;

	memset(d, 0, sizeof *d);
	d->rule = -1;
	for (size_t i = 0; i < sc->n_rules; i++) {
		struct al_chaos_rule_state *r = &sc->rules[i];
		struct al_chaos_decision mine = {.rule = (int)i};
		bool hit;

		if (r->nr != nr)
			continue;
		/* a rule with paths matches only a call whose path was read and fits */
		if (r->rule->paths && (path == NULL || !al_glob_match(r->rule->paths, path)))
			continue;
		r->calls++;
		mine.call = r->calls;
		mine.injected = r->injected;
		hit = fires(r, &mine);
		if (d->inject || !hit || (r->rule->max && r->injected >= r->rule->max)) {
			/* counted, not injected: report the first matching rule */
			if (!matched)
				*d = mine;
			matched = true;
			continue;
		}
		r->injected++;
		mine.injected = r->injected;
		mine.inject = true;
		mine.err = r->rule->err;
		*d = mine;
		matched = true;
	}
	return matched;
}

void al_chaos_decision_json(const struct al_chaos_schedule *sc, const struct al_chaos_decision *d,
                            const char *path, struct al_json *j)
{
	const struct al_chaos_rule_state *r = &sc->rules[d->rule];

	al_json_obj_begin(j);
	al_json_kv_str(j, "kind", "syscall");
	al_json_kv_int(j, "rule", d->rule);
	al_json_kv_str(j, "syscall", r->rule->syscall);
	al_json_kv_int(j, "nr", r->nr);
	al_json_kv_uint(j, "call", d->call);
	al_json_kv_uint(j, "injected", d->injected);
	if (d->has_draw) {
		al_json_key(j, "draw");
		al_json_double(j, d->draw);
	}
	if (r->path_arg >= 0)
		al_json_kv_str(j, "path", path);
	al_json_kv_str(j, "errno", al_chaos_errno_name(d->err));
	al_json_kv_int(j, "errno_value", d->err);
	al_json_obj_end(j);
}
