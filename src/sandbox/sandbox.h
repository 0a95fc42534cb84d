/* The sandbox as the parent prepares it and the init (pid 1 inside) builds
 * it. Everything the child needs is precomputed here, before clone: paths,
 * mount operations, uid maps, argv/envp, file contents. After clone the
 * child only walks these arrays and makes syscalls -- no malloc, no stdio. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

struct al_seccomp;
struct al_landlock;

/* Where the init builds the new root before pivoting into it. The staging
 * tmpfs is mounted on /tmp of the old root and immediately made the root
 * (old root under /oldroot), so host paths stay reachable as /oldroot/PATH
 * while the new root is assembled under /newroot. */
#define AL_STAGE_DIR "/tmp"
#define AL_OLDROOT "/oldroot"
#define AL_NEWROOT "/newroot"
/* gVisor tier: the trace socket, in the init's staging root (gvisor.c) */
#define AL_GVISOR_TRACE_SOCK "/run/trace.sock"

enum al_mount_kind {
	AL_MNT_DIR,        /* mkdir dst (mode) */
	AL_MNT_TMPFS,      /* tmpfs at dst, data = options, flags = MS_* */
	AL_MNT_BIND,       /* bind src (host path under /oldroot) at dst; ro unless flags says rw */
	AL_MNT_BIND_FILE,  /* like BIND but dst is a file placeholder */
	AL_MNT_SYMLINK,    /* symlink src -> dst */
	AL_MNT_FILE,       /* write content to dst (mode) */
	AL_MNT_PROC,       /* fresh procfs at dst */
	AL_MNT_DEVPTS,     /* private devpts instance at dst */
	AL_MNT_MASK,       /* hide dst (file: /dev/null bind; dir: empty ro tmpfs) if it exists */
	AL_MNT_RDONLY,     /* bind dst onto itself read-only (e.g. /proc/sys), if it exists */
	AL_MNT_OVERLAY,    /* overlay at dst: data = options string */
	AL_MNT_MOVE_FD,    /* attach the detached mount plan->move_fds[fd] at dst */
	AL_MNT_REMOUNT_RO, /* remount dst read-only (the root tmpfs, at the end) */
	AL_MNT_CHOWN,      /* chown dst to uid/gid (inside ids) */
};

struct al_mount_op {
	enum al_mount_kind kind;
	const char *src;
	const char *dst;        /* absolute, already prefixed with AL_NEWROOT where needed */
	const char *data;
	unsigned long flags;    /* MS_* for mounts; for BIND: MS_RDONLY to make it ro */
	uint32_t mode;
	uint32_t uid, gid;
	const char *content;    /* AL_MNT_FILE */
	size_t content_len;
	int fd;                 /* AL_MNT_MOVE_FD: index into plan->move_fds */
	bool optional;          /* skip silently if the source doesn't exist */
};

/* Stages the child reports failure from (first byte of the error record). */
enum al_stage {
	AL_STAGE_WAIT = 1,
	AL_STAGE_IDENTITY_MAP,
	AL_STAGE_MOUNTS,
	AL_STAGE_PIVOT,
	AL_STAGE_HOSTNAME,
	AL_STAGE_NETWORK,
	AL_STAGE_RLIMITS,
	AL_STAGE_IDS,
	AL_STAGE_CAPS,
	AL_STAGE_NNP,
	AL_STAGE_LANDLOCK,
	AL_STAGE_SECCOMP,
	AL_STAGE_FDS,
	AL_STAGE_EXEC,
	AL_STAGE_INIT,
	AL_STAGE_CLOCK, /* chaos clock offset (time namespace) */
	AL_STAGE_CGROUP, /* v1: the init moving itself into the run's cgroup */
};
const char *al_stage_name(int stage);

/* Messages from the init to the supervisor over the setup socket. */
enum al_msg_type {
	AL_MSG_ERROR = 1,     /* setup failed: stage, err */
	AL_MSG_FDS,           /* SCM_RIGHTS; status = count, text = kinds (see init.c) */
	AL_MSG_STARTED,       /* workload forked + exec'd: pid (inside pid ns) */
	AL_MSG_EXEC_FAILED,   /* workload exec failed: err (errno) */
	AL_MSG_EXITED,        /* workload exited: wait status in `status` */
	AL_MSG_EGRESS_FDS,    /* proxy mode: SCM_RIGHTS, the proxy's listening sockets;
	                       * status = count, text[i] = '0' + enum al_egress_socket of
	                       * the i-th (TRANSPARENT6 absent without kernel IPv6) */
	/* sessions: the init runs no workload and forks commands on request */
	AL_MSG_SESSION_READY, /* confined and waiting for requests */
	AL_MSG_CMD_STARTED,   /* stage = request id, status = pid (inside) */
	AL_MSG_CMD_FAILED,    /* stage = request id, err = errno, text = what (exec, chdir) */
	AL_MSG_CMD_EXITED,    /* stage = request id, status = wait status */
	/* plan->terminal: SCM_RIGHTS, the master of the workload's terminal
	 * (a pty of the sandbox's own devpts), before the seccomp step */
	AL_MSG_TERMINAL,
};

/* Requests from the supervisor to a session's init (SOCK_SEQPACKET, one
 * request a message). AL_REQ_EXEC carries three descriptors (SCM_RIGHTS):
 * the command's stdin, stdout and stderr; data holds argc NUL-terminated
 * arguments, envc NUL-terminated KEY=VALUE strings, then the working
 * directory (NUL-terminated). AL_REQ_KILL signals the command's process
 * group. */
enum { AL_REQ_EXEC = 1, AL_REQ_KILL = 2 };
#define AL_REQ_DATA_MAX 65536
#define AL_REQ_ARGS_MAX 4096
struct al_init_req {
	uint32_t type;
	uint32_t id;
	int32_t sig;        /* KILL: the signal; EXEC: AL_REQ_EXEC_TTY or 0 */
	uint32_t argc, envc;
	uint32_t len;       /* bytes of data used */
	char data[AL_REQ_DATA_MAX];
};
#define AL_REQ_HEADER_SIZE offsetof(struct al_init_req, data)
#define AL_REQ_EXEC_TTY 1   /* stdio is a pty's slave: make it the controlling terminal */

/* Proxy mode (docs/egress.md): the proxy's sockets inside the sandbox. */
#define AL_EGRESS_PORT_HTTP 3128        /* HTTP_PROXY / HTTPS_PROXY */
#define AL_EGRESS_PORT_SOCKS 1080       /* ALL_PROXY=socks5h:// */
#define AL_EGRESS_PORT_TRANSPARENT 3129 /* where nftables redirects all other TCP */
#define AL_EGRESS_PORT_DNS 53           /* /etc/resolv.conf: nameserver 127.0.0.1 */
enum al_egress_socket {
	AL_EGRESS_HTTP = 0,     /* TCP 127.0.0.1:3128 */
	AL_EGRESS_SOCKS,        /* TCP 127.0.0.1:1080 */
	AL_EGRESS_TRANSPARENT,  /* TCP 127.0.0.1:3129 */
	AL_EGRESS_TRANSPARENT6, /* TCP [::1]:3129 */
	AL_EGRESS_DNS_UDP,      /* UDP 127.0.0.1:53 */
	AL_EGRESS_DNS_TCP,      /* TCP 127.0.0.1:53 */
	AL_EGRESS_NFDS
};
#define AL_STR_(x) #x
#define AL_STR(x) AL_STR_(x)

struct al_msg {
	uint32_t type;
	int32_t stage;
	int32_t err;         /* errno */
	int32_t status;      /* wait status or pid */
	char text[256];      /* what failed, e.g. "mounting /newroot/proc" */
};

/* Messages from the supervisor to the init. */
enum { AL_GO = 'G', AL_GO_WORKLOAD = 'W' };

/* What the init exits with when setup fails (the message says why). */
#define AL_EXIT_SETUP_STATUS 125

#define AL_MAX_MOVE_FDS 64
/* v1 cgroups: at most this many "tasks" fds come with the second go */
#define AL_MAX_CGROUP_TASKS_FDS 8
#define AL_MAX_DISK_AREAS 8
#define AL_MAX_CANARIES 16
#define AL_MAX_HANDOVER_FDS (3 + AL_MAX_DISK_AREAS + AL_MAX_CANARIES)

/* A canary file the init plants before the workload starts (src/monitor/
 * canary.c makes it): created new (never through a symlink), owned by the
 * workload's uid/gid, mode 0600; missing parent directories are made
 * (0700, the workload's). Its O_PATH handle goes to the supervisor ('C'),
 * which watches the inode. */
struct al_canary_file {
	const char *path;
	const char *content;
	size_t len;
};
#define AL_MOVE_FD_BASE 4 /* 0-2 stdio, 3 the setup socket */

struct al_sandbox_plan {
	const struct al_spec *spec;
	bool rootless;
	uid_t host_uid;          /* rootless: caller; rootful: base of the mapped range */
	gid_t host_gid;
	char uid_map[96];
	char gid_map[96];

	struct al_mount_op *ops;
	size_t n_ops;
	size_t cap_ops;

	char *const *argv;       /* workload argv (spec->argv) */
	char **envp;             /* scrubbed environment */
	const char *path_env;    /* PATH value used to resolve argv[0] inside */
	const char *workdir;
	bool session;            /* no workload: serve exec requests (sessions) */
	bool terminal;           /* the workload's stdio is a pty of the sandbox's devpts;
	                          * its master goes to the supervisor (AL_MSG_TERMINAL) */
	bool exec_server;        /* a workload, and exec requests beside it as its own
	                          * user (OCI containers: `airlock-runc exec`) */
	/* The supervisor's secrets (the event log's signing keys): the init
	 * is a copy of the supervisor's memory and wipes them first thing. */
	void *wipe[4];
	size_t wipe_len[4];
	int n_wipe;

	int sync_fd;             /* child end of the setup socketpair */
	int stdout_fd, stderr_fd, stdin_fd; /* child ends; stdin -1 = /dev/null inside */
	bool want_upper_fd;      /* send the workspace overlay's upper dir to the supervisor */
	const char *disk_areas[AL_MAX_DISK_AREAS]; /* writable tmpfs areas (sandbox paths) */
	size_t n_disk_areas;
	struct al_canary_file canaries[AL_MAX_CANARIES];
	size_t n_canaries;

	/* Detached (idmapped) mounts made by the parent; the init finds them at
	 * fds AL_MOVE_FD_BASE + i and attaches them. */
	int move_fds[AL_MAX_MOVE_FDS];
	size_t n_move_fds;
	uint32_t idmap_owner_uid, idmap_owner_gid;
	int idmap_userns_fd;     /* -1 until needed */

	const struct al_seccomp *seccomp;
	const struct al_landlock *landlock;

	/* network (netns.c): proxy mode, and its nftables ruleset text */
	bool egress;
	const char *nft_ruleset;

	/* isolation: gvisor (gvisor.c): the init builds the root as always, then
	 * execs runsc on it (these) instead of the workload */
	bool gvisor;
	char *gvisor_argv[16];
	char *gvisor_envp[3];
	const char *gvisor_runsc; /* its host path (run_start.protections) */

	/* strings owned by the plan (freed with it) */
	char **owned;
	size_t n_owned, cap_owned;
};

/* rootfs.c: build the mount list for spec (parent, before clone). */
int al_rootfs_plan(struct al_sandbox_plan *plan, struct al_error *err);
/* rootfs.c: run the mount list and pivot (child). */
int al_rootfs_child_setup(const struct al_sandbox_plan *plan, struct al_error *err);

/* userns.c: decide the id mapping (parent, before clone) and write it (parent, after clone). */
int al_userns_prepare(struct al_sandbox_plan *plan, struct al_error *err);
int al_userns_parent_setup(const struct al_sandbox_plan *plan, pid_t pid, struct al_error *err);

/* idmap.c (rootful only): a detached bind mount of host_path (with the
 * MOUNT_ATTR_* bits attrs, always nosuid and nodev) whose files owned by the
 * directory's owner appear owned by the sandbox user; returns the index for
 * an AL_MNT_MOVE_FD op. The owner rule (al_idmap_owner_rule) decides first:
 * a root-owned directory is refused read-write and bound unmapped read-only,
 * unless owner_root. */
int al_idmap_mount(struct al_sandbox_plan *plan, const char *host_path, uint64_t attrs,
		   bool owner_root, struct al_error *err);

/* The owner rule alone: 1 map the owner, 0 bind unmapped (read-only, owned
 * by uid or gid 0), <0 refused (read-write, owned by uid or gid 0, without
 * owner_root). */
int al_idmap_owner_rule(const char *host_path, uid_t uid, gid_t gid, bool rw, bool owner_root,
			struct al_error *err);

/* caps.c: drop every capability, lock securebits, set ids (child). */
int al_caps_child_setup(const struct al_sandbox_plan *plan, struct al_error *err);
/* Rootful sessions: the init stays uid 0 of the user namespace with only
 * al_caps_session_root_set() (for `exec --user root`); each command takes
 * its identity with al_caps_become (a non-zero uid ends with no capability
 * at all, verified). */
int al_caps_child_setup_session_root(const struct al_sandbox_plan *plan, struct al_error *err);
uint64_t al_caps_session_root_set(void);
int al_caps_become(uid_t uid, gid_t gid);

/* netns.c: decide the network setup (parent, before clone); bring lo up and,
 * in proxy mode, add the route, the nftables rules and the proxy's listening
 * sockets, returned in egress_fds (child). */
int al_netns_prepare(struct al_sandbox_plan *plan, struct al_error *err);
int al_netns_child_setup(const struct al_sandbox_plan *plan, int egress_fds[AL_EGRESS_NFDS],
			 struct al_error *err);

/* init.c: the body of pid 1 inside; never returns. */
__attribute__((noreturn)) void al_init_main(const struct al_sandbox_plan *plan);

/* plan helpers (rootfs.c) */
int al_plan_add(struct al_sandbox_plan *plan, const struct al_mount_op *op);
const char *al_plan_strdup(struct al_sandbox_plan *plan, const char *s);
const char *al_plan_printf(struct al_sandbox_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void al_plan_free(struct al_sandbox_plan *plan);

/* features.c: kernel facts probed once per run, cheaply. */
struct al_features {
	bool userns;
	bool timens;
	bool seccomp_notify;
	int landlock_abi;
	bool cgroup_v2;
};
int al_features_probe(struct al_features *f, struct al_error *err);
