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
	uint64_t max_size;      /* bytes of the log file; reaching it kills the run; 0 = no cap */
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

/* isolation: which tier serves the workload's syscalls (docs/isolation.md).
 * namespaces (default): the host kernel, behind airlock's namespaces,
 * seccomp and Landlock. gvisor: gVisor's user-space kernel (runsc), with
 * airlock's namespaces, cgroup and supervision around it. microvm: designed,
 * not built: refused. */
enum al_isolation {
	AL_ISOLATION_NAMESPACES = 0,
	AL_ISOLATION_GVISOR = 1,
	AL_ISOLATION_MICROVM = 2,
};
const char *al_isolation_name(enum al_isolation i);
/* "namespaces", "gvisor", "microvm": 0, or -EINVAL. */
int al_isolation_parse(const char *s, enum al_isolation *out);

/* network: "none" (air-gapped: a netns with only lo) or "proxy" (egress only
 * through airlock's inspecting proxy, docs/egress.md). */
enum al_net_mode {
	AL_NET_NONE = 0,
	AL_NET_PROXY = 1,
};

/* An address (network byte order in addr: 4 bytes for AF_INET, 16 for
 * AF_INET6), with a port where one applies (resolvers; 0 = default). */
struct al_net_addr {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

struct al_net_cidr {
	int family;
	uint8_t addr[16];   /* host bits zero (checked on input) */
	uint8_t prefix;
};

struct al_net_host {
	char *name;         /* normalised: lower case, no trailing dot */
	struct al_net_addr addr;
};

struct al_network_spec {
	enum al_net_mode mode;
	/* Allow TCP bind/connect on the sandbox's own loopback (default true).
	 * Only lo exists in mode none, so this cannot reach anything outside; it
	 * lets local servers (tests, notebooks, language servers) work. false:
	 * Landlock denies every TCP bind and connect. */
	bool loopback_tcp;
	/* Proxy mode policy (all empty in mode none; validation says so).
	 * Names are stored normalised (lower case, no trailing dot), unique. */
	char **allow_domains;   /* exact names or "*.suffix" */
	size_t n_allow_domains;
	char **deny_domains;    /* exceptions, same forms */
	size_t n_deny_domains;
	uint16_t *allow_ports;  /* unique; none given = AL_NET_DEFAULT_PORTS */
	size_t n_allow_ports;
	struct al_net_cidr *allow_cidr;
	size_t n_allow_cidr;
	struct al_net_host *hosts;      /* unique names; a later entry replaces */
	size_t n_hosts;
	struct al_net_addr *resolvers;  /* none given = the host's resolv.conf + /etc/hosts */
	size_t n_resolvers;
};

/* chaos: seeded fault injection (docs/chaos.md). Decided in src/chaos/. */
enum al_chaos_trigger {
	AL_CHAOS_RATE = 1, /* each matching call fails with probability `rate` (seeded) */
	AL_CHAOS_AFTER,    /* every matching call after the n-th fails */
	AL_CHAOS_EVERY,    /* every n-th matching call fails */
};

struct al_chaos_syscall {
	char *syscall;      /* name (native x86_64 table), e.g. "openat" */
	int err;            /* errno returned instead of running the call */
	enum al_chaos_trigger trigger;
	double rate;        /* AL_CHAOS_RATE: 0 < rate <= 1 */
	uint64_t n;         /* AL_CHAOS_AFTER / AL_CHAOS_EVERY: >= 1 */
	char *paths;        /* glob over the call's path (path-taking calls only), or NULL */
	uint64_t max;       /* at most this many injections; 0 = no bound */
};

#define AL_CHAOS_RES_MEMORY (1u << 0)
#define AL_CHAOS_RES_CPUS (1u << 1)
#define AL_CHAOS_RES_PIDS (1u << 2)
#define AL_CHAOS_RES_DISK (1u << 3)

/* One step of the resource schedule: at `at_ns` after the workload starts,
 * the live cgroup's limits named in `what` change. */
struct al_chaos_step {
	uint64_t at_ns;
	unsigned what; /* AL_CHAOS_RES_* */
	uint64_t memory, pids, disk;
	double cpus;
};

#define AL_CHAOS_MAX_SYSCALLS 64
#define AL_CHAOS_MAX_STEPS 64

/* chaos: seeded, reproducible fault injection (docs/chaos.md). Network
 * chaos is applied by the egress proxy to the connections it relays;
 * syscalls, resources and the clock by src/chaos/. */
struct al_chaos_spec {
	bool enabled;           /* a chaos: section was given */
	bool seed_set;
	uint64_t seed;          /* not set: a random seed (each part draws its own), recorded */
	bool network;           /* chaos.network given (needs network.mode: proxy) */
	uint64_t latency_ns;    /* added per chunk */
	uint64_t jitter_ns;     /* +- around latency */
	double loss;            /* 0..1 per 16 KiB segment: a stall (one TCP RTO) */
	double reset;           /* 0..1 per segment: the connection is reset */
	uint64_t bandwidth;     /* bytes per second per direction; 0 = no cap */
	struct al_chaos_syscall *syscalls;
	size_t n_syscalls;
	struct al_chaos_step *steps; /* sorted by at_ns (stable) */
	size_t n_steps;
	int64_t clock_offset_ns; /* monotonic + boottime offset of the workload's time namespace */
	int64_t realtime_skew_ns; /* CLOCK_REALTIME skew of the real clock syscalls (not the vDSO) */
};

/* Tripwires (docs/spec.md "rules", src/monitor/): what a rule reacts to. */
enum al_rule_on {
	AL_ON_EXEC = 0,
	AL_ON_CANARY,
	AL_ON_EXFIL,
	AL_ON_CANARY_OUTPUT,
	AL_ON_EGRESS_DENIED,
	AL_ON_DNS_DENIED,
	AL_ON_SYSCALL_DENIED,
	AL_ON_LIMIT,
	AL_ON_OUTPUT,
	AL_ON_COUNT_,
};

enum al_rule_action {
	AL_ACT_LOG = 0,
	AL_ACT_DENY, /* refuse the event where it can still be refused, and log */
	AL_ACT_KILL,
};

enum al_rule_origin {
	AL_ORIGIN_ANY = 0,
	AL_ORIGIN_IMAGE,    /* exec: the executed file is the read-only image's */
	AL_ORIGIN_WRITABLE, /* exec: it is not (a writable area, a volume) */
};

struct al_rule {
	enum al_rule_on on;
	/* globs (fnmatch(3), '*' also crosses '/'); NULL matches anything */
	char *path;
	char *argv;        /* against the argv joined with single spaces */
	char *host;
	char *syscall;
	enum al_rule_origin origin;
	int package_manager; /* exec: -1 any; 1 only package installs; 0 only others */
	/* output: a glob on a line of the workload's output, a substring of it,
	 * which stream (0 both, 1 stdout, 2 stderr) */
	char *text;
	char *contains;
	int stream;
	uint32_t count;      /* 0 or 1: every match; N: fires at the Nth match within `within` */
	uint64_t within_ns;  /* with count; 0: ever */
	enum al_rule_action action;
	bool alert;          /* also run the spec's alert (webhook / command) */
};
#define AL_SPEC_MAX_RULES 256
#define AL_SPEC_MAX_RULE_COUNT 100000

struct al_alert_spec {
	char *webhook;      /* http://HOST[:PORT]/PATH (plain HTTP), or NULL */
	char **command;     /* host argv, NULL-terminated, or NULL */
	size_t command_n;
	uint64_t timeout_ns; /* per alert; default 5 s */
};

/* Canaries (docs/spec.md "canaries"): bait planted in the sandbox, each
 * with a fresh per-run token (src/monitor/canary.c). */
enum al_canary_kind {
	AL_CANARY_AWS = 0,   /* aws-credentials: ~/.aws/credentials */
	AL_CANARY_SSH,       /* ssh-key: ~/.ssh/id_ed25519 */
	AL_CANARY_GCP,       /* gcp-service-account: a service-account JSON */
	AL_CANARY_DOTENV,    /* dotenv: a .env with API keys */
	AL_CANARY_ENV,       /* env: a variable in the workload's environment */
	AL_CANARY_FILE,      /* file: given content, or a synthetic customers.csv */
	AL_CANARY_KIND_COUNT_,
};

struct al_canary_spec {
	enum al_canary_kind kind;
	char *path;    /* sandbox path (file kinds); NULL: the kind's default */
	char *name;    /* env: the variable (default OPENAI_API_KEY) */
	char *content; /* file: the content; "{token}" is replaced by the token */
};
#define AL_SPEC_MAX_CANARIES 16

/* Ownership: every char * in the struct is owned by it and released by
 * al_spec_free, except that al_spec_init points image, workdir and hostname at
 * static default strings (it cannot fail, so it does not allocate). Replace a
 * string field with al_spec_set_str(), which knows the difference. */
struct al_spec {
	char *source;            /* spec file path, or NULL */

	char **argv;             /* command; NULL-terminated; argc entries */
	size_t argc;

	char *image;             /* "host" (default) or a rootfs directory */
	char *image_digest;      /* pinned image digest "sha256:<64 hex>", or NULL */
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
	struct al_chaos_spec chaos;
	uint32_t allow_degraded; /* enum al_degradation bits */
	enum al_isolation isolation; /* default namespaces */
	char *runsc;             /* gvisor: the runsc binary; NULL = search PATH */
	bool trace_opens;        /* gvisor: also record every open (default false: execs only) */

	/* tripwires: the spec's rules, in order (first firing rule wins), then
	 * the defaults unless default_rules is false (src/monitor/rules.c) */
	struct al_rule *rules;
	size_t n_rules;
	bool default_rules;      /* default true */
	struct al_alert_spec alert;
	/* `airlock create` (docs/sessions.md): how long a session may stay
	 * idle, and live at most. _set: given in the spec (the CLI's
	 * --idle-timeout / --max-lifetime still override). */
	struct {
		uint64_t idle_timeout_ns;  /* 0: none */
		uint64_t max_lifetime_ns;
		bool idle_timeout_set, max_lifetime_set;
	} session;
	struct al_canary_spec *canaries;
	size_t n_canaries;

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
/* chaos helpers (spec_chaos.c): errno by name ("EIO") and back; the index of
 * the path argument of a path-taking syscall (-1: none); release. */
int al_chaos_errno_parse(const char *name);
const char *al_chaos_errno_name(int e);
int al_chaos_path_arg(const char *syscall);
/* ... and of the directory fd a relative path is resolved against (-1: the cwd). */
int al_chaos_dirfd_arg(const char *syscall);
void al_chaos_spec_free(struct al_chaos_spec *c);
/* An image digest as airlock writes it: "sha256:" and 64 lowercase hex digits. */
bool al_spec_image_digest_valid(const char *s);
/* An image: value naming an image of the local store (sha256:HEX, or
 * NAME:TAG not starting with / or .), kept as written; not a host path. */
bool al_spec_image_is_store_ref(const char *s);

/* network.c: the proxy-mode policy keys, shared by the YAML loader and the
 * CLI. Each returns 0 or -EINVAL (malformed), -ENOMEM; a duplicate is not an
 * error (it is merged). */
int al_net_mode_parse(const char *s, enum al_net_mode *mode);
const char *al_net_mode_name(enum al_net_mode mode);
/* "example.com", "*.example.com" (wildcard only as the whole first label);
 * case-insensitive, one trailing dot allowed; LDH labels (and '_'),
 * 1..63 bytes each, 253 in all. */
int al_spec_add_domain(struct al_spec *spec, bool deny, const char *name);
int al_spec_add_port(struct al_spec *spec, const char *port);
/* "10.0.0.0/8", "fd00::/8", or a bare address (/32, /128); -EDOM when bits
 * beyond the prefix are set (a typo more often than not). */
int al_spec_add_cidr(struct al_spec *spec, const char *cidr);
/* name -> address (IPv4 or IPv6, no port); the name is a plain domain. */
int al_spec_add_host(struct al_spec *spec, const char *name, const char *addr);
/* "NAME:ADDR" as --add-host takes it (the first ':' splits: names have none). */
int al_spec_add_host_arg(struct al_spec *spec, const char *arg);
/* "ADDR", "ADDR:PORT" (IPv4), "V6ADDR" or "[V6ADDR]:PORT". */
int al_spec_add_resolver(struct al_spec *spec, const char *addr);
/* The ports in force: the spec's, or the default {80, 443}. */
const uint16_t *al_net_ports(const struct al_network_spec *net, size_t *n);
/* Text forms: "10.0.0.0/8"; "1.2.3.4", "::1", with ":PORT" / "[..]:PORT"
 * when port != 0 and with_port. buf needs 64 bytes. */
void al_net_cidr_format(const struct al_net_cidr *c, char *buf, size_t len);
void al_net_addr_format(const struct al_net_addr *a, bool with_port, char *buf, size_t len);
/* Parse a literal address (no port) into a; -EINVAL if it is not one. */
int al_net_addr_parse(const char *s, struct al_net_addr *a);
const char *al_degradation_name(uint32_t bit);

/* spec_rules.c: names of rule fields (spec, CLI, records, `rules explain`). */
int al_rule_on_parse(const char *s, enum al_rule_on *out);
const char *al_rule_on_name(enum al_rule_on on);
int al_rule_action_parse(const char *s, enum al_rule_action *out);
const char *al_rule_action_name(enum al_rule_action a);
/* deny is accepted only where the event can still be refused */
bool al_rule_deny_possible(enum al_rule_on on);
/* "http://HOST[:PORT][/PATH]" with HOST a name or IPv4 address (plain HTTP). */
bool al_alert_url_valid(const char *url);
int al_canary_kind_parse(const char *s, enum al_canary_kind *out);
const char *al_canary_kind_name(enum al_canary_kind k);
