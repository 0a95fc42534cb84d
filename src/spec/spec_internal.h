/* Helpers shared between the files of src/spec only (not part of the API the
 * rest of airlock links against). */
#pragma once

#include "spec/spec.h"

/* al_spec_add_volume with relative host paths resolved against base_dir
 * (NULL: the cwd). */
int al_spec_add_volume_at(struct al_spec *spec, const char *arg, const char *base_dir,
                          struct al_error *err);

/* Per-field checks shared by the loader (which reports file:line:col) and
 * al_spec_validate (which sees the merged result). */
bool al_spec_sandbox_path_normal(const char *p);
bool al_spec_hostname_valid(const char *h);
bool al_spec_sink_url_valid(const char *url);
/* Range check of one numeric limit by its spec key ("memory", "pids", ...,
 * "checkpoint_every"); on failure writes why into buf and returns false. */
bool al_spec_limit_ok(const char *key, uint64_t v, char *buf, size_t len);

/* network.c: the network part of the spec. */
void al_net_spec_free(struct al_network_spec *net);
int al_net_spec_validate(const struct al_network_spec *net, struct al_error *err);
int al_net_spec_canonical(struct al_json *j, const struct al_network_spec *net);
int al_chaos_spec_validate(const struct al_spec *spec, struct al_error *err);
int al_chaos_spec_canonical(struct al_json *j, const struct al_chaos_spec *ch);

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */

/* spec_chaos.c: drop the chaos syscall rules (a later spec replaces them). */
void al_chaos_spec_free_syscalls(struct al_chaos_spec *c);
/* spec_chaos.c: the members of the canonical chaos object for syscalls,
 * resources and the clock, each written only when set (so a network-only
 * chaos section hashes as it did before they existed); called by
 * al_chaos_spec_canonical in key order. */
bool al_chaos_canon_has_faults(const struct al_chaos_spec *c);
void al_chaos_canon_clock(struct al_json *j, const struct al_chaos_spec *c);
void al_chaos_canon_resources(struct al_json *j, const struct al_chaos_spec *c);
void al_chaos_canon_syscalls(struct al_json *j, const struct al_chaos_spec *c);
