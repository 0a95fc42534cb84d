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
	char *host;     /* absolute host path (relative ones are resolved on loading:
			 * against the spec file's directory, or the cwd on the CLI) */
	char *sandbox;  /* absolute path inside the sandbox */
	bool rw;        /* default false (read-only) */
	bool noexec;    /* "noexec": mounted noexec, no Landlock EXECUTE (default: executable) */
	bool owner_root; /* "owner=root": a volume owned by host uid/gid 0 is mapped as such
			  * (rootful; files written through it are root's on the host). Without
			  * it such a volume is refused rw and shown unmapped ro (docs/isolation.md) */
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
	bool nproc_set;         /* nproc given explicitly; otherwise it follows pids */
	bool fsize_set;         /* fsize given explicitly; otherwise it follows disk */
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

/* network: only "none" (air-gapped: a netns with only lo) in this version. */
enum al_net_mode {
	AL_NET_NONE = 0,
};

struct al_network_spec {
	enum al_net_mode mode;
	/* Allow TCP bind/connect on the sandbox's own loopback (default true).
	 * Only lo exists in mode none, so this cannot reach anything outside; it
	 * lets local servers (tests, notebooks, language servers) work. false:
	 * Landlock denies every TCP bind and connect. */
	bool loopback_tcp;
};

/* Ownership: every char * in the struct is owned by it and released by
 * al_spec_free, except that al_spec_init points image, workdir and hostname at
 * static default strings (it cannot fail, so it does not allocate). Replace a
 * string field with al_spec_set_str(), which knows the difference. */
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

	struct al_env_var *env;  /* explicit variables, in order; one per key (the
	                          * later setting replaces the value in place) */
	size_t n_env;            /* at most AL_SPEC_MAX_ENV */
	uint32_t *env_index;     /* spec.c: hash of the keys -> position + 1 */
	size_t env_index_cap;    /* slots; a power of two, or 0 */

	struct al_volume *volumes;
	size_t n_volumes;

	struct al_limits limits;
	struct al_log_spec log;
	struct al_network_spec network;
	uint32_t allow_degraded; /* enum al_degradation bits */

	bool quiet;              /* no airlock messages on stderr (workload output still relayed) */
};

/* Fill every field with its default (no allocation for defaults). */
void al_spec_init(struct al_spec *spec);
void al_spec_free(struct al_spec *spec);
/* Replace the string at *field (a member of spec) with a copy of value (NULL
 * clears it). Returns -ENOMEM on allocation failure, leaving *field as it was. */
int al_spec_set_str(struct al_spec *spec, char **field, const char *value);
/* Set pids / disk, keeping nproc / fsize following them unless those were
 * set explicitly (limits.nproc_set / fsize_set). */
void al_spec_set_pids(struct al_spec *spec, uint64_t pids);
void al_spec_set_disk(struct al_spec *spec, uint64_t disk);
/* Replace spec->argv with a copy of argv[0..argc). */
int al_spec_set_argv(struct al_spec *spec, char *const *argv, size_t argc);

/* Parse a YAML 1.2 / JSON spec file into spec (which must be initialised; keys
 * present override). Errors name file:line:col and the key; returns -errno. */
int al_spec_load_file(struct al_spec *spec, const char *path, struct al_error *err);
/* Same, from a string (name used in messages). */
int al_spec_load_string(struct al_spec *spec, const char *name, const char *text, size_t len,
			struct al_error *err);

/* Cross-field validation after all overrides: absolute sandbox paths, no
 * overlaps with reserved mount points, sane limits, argv present. */
int al_spec_validate(const struct al_spec *spec, struct al_error *err);
/* The same without requiring a command: a session's commands come later
 * (`airlock exec`). */
int al_spec_validate_session(const struct al_spec *spec, struct al_error *err);

/* Canonical JSON of the resolved spec (sorted keys, no whitespace) and its
 * SHA-256 as 64 lowercase hex chars. */
int al_spec_canonical_json(const struct al_spec *spec, struct al_buf *out);
int al_spec_hash(const struct al_spec *spec, char hex[65]);

/* Helpers shared with the CLI. 0, or -EINVAL (syntax), -ERANGE (does not fit
 * 64 bits) or -EDOM (a positive value that would round down to 0). */
int al_parse_size(const char *s, uint64_t *out);          /* "512MiB", "1G", "1024" */
int al_parse_duration(const char *s, uint64_t *out_ns);   /* "10m", "1.5s", "250ms", "1h" */
/* "UID" or "UID:GID" (gid defaults to uid), decimal; -ERANGE when >= 65536. */
int al_parse_user(const char *s, uint32_t *uid, uint32_t *gid);
/* "K=V"; a bare "K" is -EINVAL (the caller's environment is never imported).
 * A key given again replaces the earlier value in place (constant time: keys
 * are hashed). More than AL_SPEC_MAX_ENV distinct keys is -E2BIG: one cap
 * for the spec file and -e alike. */
#define AL_SPEC_MAX_ENV 4096
int al_spec_add_env(struct al_spec *spec, const char *kv);
int al_spec_set_env(struct al_spec *spec, const char *key, const char *value);
/* "HOST:SANDBOX[:OPTS]", OPTS a comma list of ro|rw, noexec, owner=root (default ro); a relative HOST resolves against the cwd. */
int al_spec_add_volume(struct al_spec *spec, const char *arg, struct al_error *err);
/* A host path made absolute against base_dir (NULL: the cwd), lexically (the
 * filesystem is not touched: prepare opens it safely later). Returns a
 * malloc'd string, or NULL with errno set. */
char *al_spec_host_path(const char *base_dir, const char *path);
int al_degradation_parse(const char *name, uint32_t *bit);
const char *al_degradation_name(uint32_t bit);
