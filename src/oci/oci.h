/* airlock as an OCI runtime (`airlock oci ...`, `airlock-runc`): the
 * bundle's config.json read as hostile input (config.c), mapped onto an
 * airlock spec without weakening it (map.c), and the runc-style container
 * lifecycle over the run lifecycle of src/supervisor (runtime.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"
#include "util/json.h"

/* Bounds on config.json: beyond them the bundle is refused. */
#define AL_OCI_CONFIG_MAX (1u << 20)
#define AL_OCI_MAX_ARGS 4096
#define AL_OCI_MAX_ENV AL_SPEC_MAX_ENV
#define AL_OCI_MAX_MOUNTS 256
#define AL_OCI_MAX_ANNOTATIONS 256
#define AL_OCI_MAX_STR 65536
#define AL_OCI_MAX_RLIMITS 32

struct al_oci_mount {
	char *type;        /* "bind", "proc", "tmpfs", ...; "" when absent */
	char *source;      /* or NULL */
	char *destination;
	bool bind;         /* type bind, or option bind/rbind */
	bool ro;           /* option ro */
};

struct al_oci_rlimit {
	char *type;        /* "RLIMIT_NOFILE", ... */
	uint64_t soft, hard;
};

struct al_oci_kv {
	char *key, *value;
};

struct al_oci_config {
	char **args;       /* NULL-terminated */
	size_t n_args;
	char **env;        /* "K=V" */
	size_t n_env;
	char *cwd;
	uint32_t uid, gid;
	bool terminal;
	char *root_path;
	bool root_readonly;
	char *hostname;    /* or NULL */
	struct al_oci_mount *mounts;
	size_t n_mounts;
	struct al_oci_rlimit *rlimits;
	size_t n_rlimits;
	struct al_oci_kv *annotations;
	size_t n_annotations;
	uint64_t memory_limit;  /* 0: not set */
	uint64_t pids_limit;    /* 0: not set */
	uint64_t cpu_quota, cpu_period; /* 0: not set */
	bool has_hooks;
	bool console_socket;    /* create was given --console-socket (process.terminal needs one) */
	/* What config.json asked for that airlock gives in its own, narrower
	 * form (a JSON array of {"field","asked","given"}), for the log. */
	struct al_buf narrowed;
};

void al_oci_config_init(struct al_oci_config *c);
void al_oci_config_free(struct al_oci_config *c);

/* Record that config.json asked for `asked` at `field` and airlock gives
 * `given` (narrower); all of them go into the run's log. */
void al_oci_note_narrowed(struct al_oci_config *c, const char *field, const char *asked, const char *given);

/* Parse config.json text (at most AL_OCI_CONFIG_MAX bytes; strict JSON,
 * bounded depth, every list and string bounded). A field that would weaken
 * airlock (privileged capabilities, host or joined namespaces, devices, an
 * allow-all seccomp profile, ...) is an error naming the field. */
int al_oci_config_parse(struct al_oci_config *c, const char *text, size_t len, struct al_error *err);

/* Read BUNDLE/config.json (regular file, no symlink, bounded) and parse it. */
int al_oci_config_load(struct al_oci_config *c, const char *bundle, struct al_error *err);

/* `exec --process FILE`: read a runtime-spec process object into c (args,
 * env, cwd, user, terminal, capabilities: checked as config.json's). */
int al_oci_process_load(struct al_oci_config *c, const char *path, struct al_error *err);

/* Rootful, a spec file named by annotation must be under this directory
 * (the operator's), and a log named by annotation under AL_OCI_LOG_DIR or
 * the runtime's own log directory; inline specs cannot set what acts on
 * the host (docs/oci.md "Annotations"). */
#define AL_OCI_SPEC_DIR "/etc/airlock"
#define AL_OCI_LOG_DIR "/var/log/airlock"

/* The annotation named key, or NULL. */
const char *al_oci_annotation(const struct al_oci_config *c, const char *key);

/* Build the run's spec: the airlock spec given by annotation (if any) first,
 * then the process, root and hostname of config.json; resources and rlimits
 * only ever lower the spec's limits. log_default is the event log used when
 * neither annotation names one. */
int al_oci_config_to_spec(struct al_oci_config *c, const char *bundle, const char *log_default,
			  struct al_spec *spec, struct al_error *err);

/* ---- the runtime (runtime.c) ---- */

struct al_oci_opts {
	const char *root;        /* state directory; default AL_OCI_ROOT_DEFAULT */
	const char *log;         /* --log file, or NULL */
	bool log_json;           /* --log-format json */
};

#define AL_OCI_ROOT_DEFAULT "/run/airlock-runc"

/* A container id as airlock accepts it: [A-Za-z0-9][A-Za-z0-9_.+-]{0,127}. */
bool al_oci_id_ok(const char *id);

/* console_socket: runc's --console-socket, or NULL; with process.terminal
 * the workload's terminal (a pty of the sandbox's devpts) has its master
 * sent there before create returns. */
int al_oci_create(const struct al_oci_opts *o, const char *id, const char *bundle, const char *pid_file,
		  const char *console_socket, struct al_error *err);
int al_oci_start(const struct al_oci_opts *o, const char *id, struct al_error *err);
/* The state JSON (runtime-spec "state") into out. */
int al_oci_state(const struct al_oci_opts *o, const char *id, struct al_buf *out, struct al_error *err);
int al_oci_kill(const struct al_oci_opts *o, const char *id, int sig, struct al_error *err);
int al_oci_delete(const struct al_oci_opts *o, const char *id, bool force, struct al_error *err);
/* Host pids of the container's processes (JSON array) into out. */
int al_oci_ps(const struct al_oci_opts *o, const char *id, struct al_buf *out, struct al_error *err);
/* `exec`: run a command in a running container, through its supervisor's
 * exec socket (the session engine: forked by the sandbox's init, as the
 * container's user, under its seccomp filter and Landlock domain). */
struct al_oci_exec_opts {
	const char *process;        /* --process FILE, or NULL: args (below) */
	char **args;                /* after the id */
	size_t n_args;
	const char **env;           /* --env K=V */
	size_t n_env;
	const char *cwd;            /* --cwd, or NULL */
	const char *user;           /* --user UID[:GID], or NULL */
	bool tty, detach;
	const char *pid_file, *console_socket;
};
/* Foreground: *status is the command's exit status (docs/oci.md).
 * Detached: returns once the command runs; the pid in pid_file is a relay
 * process that exits with the command's status. */
int al_oci_exec(const struct al_oci_opts *o, const char *id, const struct al_oci_exec_opts *x, int *status,
		struct al_error *err);
/* "TERM", "SIGTERM", "15" -> 15; -EINVAL otherwise. */
int al_oci_signal_parse(const char *s);
