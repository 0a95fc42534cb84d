/* The sandbox spec: every setting of a run, resolved (spec file, then
 * command-line overrides, then defaults). The supervisor and every module
 * read only this struct; nothing re-reads the file or argv later. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/json.h"

struct al_volume {
	char *host;     /* absolute or relative host path (resolved at prepare time) */
	char *sandbox;  /* absolute path inside the sandbox */
	bool rw;        /* default false (read-only) */
};

struct al_env_var {
	char *key;
	char *value;
};

enum al_sink_failure {
	AL_SINK_FAILURE_KILL = 0, /* default: no unlogged execution */
	AL_SINK_FAILURE_SPOOL,
};

struct al_limits {
	uint64_t memory;        /* bytes; default 1 GiB */
	uint64_t pids;          /* default 256 */
	double cpus;            /* CPUs; default 1.0 */
	uint64_t disk;          /* bytes, size of each writable tmpfs area; default 512 MiB */
	uint64_t nofile;        /* RLIMIT_NOFILE; default 1024 */
	uint64_t nproc;         /* RLIMIT_NPROC inside the user namespace; default = pids */
	uint64_t fsize;         /* RLIMIT_FSIZE bytes; default = disk */
	uint64_t output;        /* bytes of stdout+stderr relayed; default 64 MiB; beyond: dropped + event */
	uint64_t timeout_ns;    /* wall clock; default 10 min; 0 = none */
};

struct al_log_spec {
	char *path;             /* JSON Lines file; NULL = no file log ({run} expands to run id) */
	char *sink;             /* "tcp://h:p", "tls://h:p", "relp://h:p" or NULL */
	enum al_sink_failure on_sink_failure;
	char *signing_key;      /* path to an airlock keygen secret key; NULL = per-run key */
	uint32_t checkpoint_every;  /* records between signed checkpoints; default 1000 */
	uint64_t checkpoint_ns;     /* time between signed checkpoints; default 1 s */
	char *spool_dir;        /* for on_sink_failure: spool; default next to the log */
	char *tls_ca;           /* CA file for tls:// sinks */
};

/* Named degradations a user may explicitly accept (spec: allow_degraded: [..],
 * CLI: --allow-degraded NAME). Each accepted one that is actually used is
 * recorded in run_start. */
enum al_degradation {
	AL_DEGRADE_LANDLOCK = 1u << 0,       /* run without Landlock / with a lower ABI */
	AL_DEGRADE_CGROUP = 1u << 1,         /* rootless without a delegated cgroup: rlimits only */
	AL_DEGRADE_TIMENS = 1u << 2,         /* kernel without time namespaces */
	AL_DEGRADE_SECCOMP_NOTIFY = 1u << 3, /* no seccomp user notification: deny without events */
};

struct al_spec {
	char *source;            /* spec file path, or NULL */

	char **argv;             /* command; NULL-terminated; argc entries */
	size_t argc;

	char *image;             /* "host" (default) or a rootfs directory */
	char *workdir;           /* default: /workspace */
	char *workspace;         /* host dir mounted as overlay at /workspace, or NULL */
	char *export_dir;        /* copy changed workspace files here at the end, or NULL */
	char *hostname;          /* default "airlock" */
	uint32_t uid;            /* inside; default 1000 */
	uint32_t gid;            /* inside; default = uid */

	struct al_env_var *env;  /* explicit variables, in order; later wins */
	size_t n_env;

	struct al_volume *volumes;
	size_t n_volumes;

	struct al_limits limits;
	struct al_log_spec log;
	uint32_t allow_degraded; /* enum al_degradation bits */

	bool quiet;              /* no airlock messages on stderr (workload output still relayed) */
};

/* Fill every field with its default (no allocation for defaults). */
void al_spec_init(struct al_spec *spec);
void al_spec_free(struct al_spec *spec);

/* Parse a YAML 1.2 / JSON spec file into spec (which must be initialised; keys
 * present override). Errors name file:line:col and the key; returns -errno. */
int al_spec_load_file(struct al_spec *spec, const char *path, struct al_error *err);
/* Same, from a string (name used in messages). */
int al_spec_load_string(struct al_spec *spec, const char *name, const char *text, size_t len,
			struct al_error *err);

/* Cross-field validation after all overrides: absolute sandbox paths, no
 * overlaps with reserved mount points, sane limits, argv present. */
int al_spec_validate(const struct al_spec *spec, struct al_error *err);

/* Canonical JSON of the resolved spec (sorted keys, no whitespace) and its
 * SHA-256 as 64 lowercase hex chars. */
int al_spec_canonical_json(const struct al_spec *spec, struct al_buf *out);
int al_spec_hash(const struct al_spec *spec, char hex[65]);

/* Helpers shared with the CLI. */
int al_parse_size(const char *s, uint64_t *out);          /* "512MiB", "1G", "1024" */
int al_parse_duration(const char *s, uint64_t *out_ns);   /* "10m", "1.5s", "250ms", "1h" */
int al_spec_add_env(struct al_spec *spec, const char *kv); /* "K=V" */
int al_spec_add_volume(struct al_spec *spec, const char *arg, struct al_error *err); /* HOST:SANDBOX[:ro|rw] */
int al_degradation_parse(const char *name, uint32_t *bit);
const char *al_degradation_name(uint32_t bit);
