/* Watching the planted canaries from outside the sandbox (docs/tripwires.md).
 *
 * Rootful: a fanotify group (FAN_CLASS_CONTENT) in the host's namespaces
 * with permission marks on each canary inode (FAN_OPEN_PERM,
 * FAN_ACCESS_PERM, FAN_OPEN_EXEC_PERM): the access waits in the kernel
 * until the supervisor has recorded it and decided (allow, deny, or kill
 * first and then deny). A small responder thread answers the supervisor's
 * own accesses at once (the exec record hashes files it opens: it must not
 * wait on itself) and hands every other event to the loop through a pipe.
 * Both modes: inotify on the inodes for what fanotify permission events do
 * not cover (attribute changes, link count changes from link/unlink, rename,
 * delete) -- and, rootless, for the opens and reads too (after the fact; the
 * kernel reports no pid to inotify: the process is looked for among those of
 * the sandbox holding the canary open or mapped at the event). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/canary.h"
#include "util/error.h"

struct al_canary_watch;

/* fds: O_PATH handles on the planted canaries (taken over, closed on free),
 * in the order of canaries[]. want_fanotify: try permission events. */
int al_canary_watch_open(struct al_canary_watch **out, struct al_canary *canaries, size_t n,
                         int *fds, bool want_fanotify, struct al_error *err);

/* The sandbox's init (host pid): an inotify event (no pid from the kernel)
 * is attributed by looking, at once, for the processes of the sandbox (the
 * init's descendants) that hold the canary open or mapped. 0: no lookup. */
void al_canary_watch_set_init(struct al_canary_watch *w, pid_t init_host_pid);

/* The fds to poll for EPOLLIN: up to two (-1 when absent). */
void al_canary_watch_fds(const struct al_canary_watch *w, int fds[2]);
/* "fanotify-perm+inotify" or "inotify" */
const char *al_canary_watch_mechanism(const struct al_canary_watch *w);

/* For each pending event: build the canary record, call cb (which records
 * it and applies the rules: returns 0 allow, 1 deny, -errno), answer a
 * permission event accordingly. */
/* t_ns: when the watch first saw the event (CLOCK_MONOTONIC) */
typedef int (*al_canary_cb)(void *ctx, const char *fields_json, uint64_t t_ns,
                            struct al_error *err);
int al_canary_watch_handle(struct al_canary_watch *w, al_canary_cb cb, void *ctx,
                           struct al_error *err);

/* Stop holding anything (allow every pending and future access) and free. */
void al_canary_watch_free(struct al_canary_watch *w);
