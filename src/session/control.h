/* Where sessions' control sockets live, and who may use them. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* The caller's session directory: /run/airlock (root), $XDG_RUNTIME_DIR/airlock,
 * or /tmp/airlock-UID. Created 0700 if missing; an existing one must be a
 * real directory (not a link), owned by the caller, with no access for
 * group or others. create: make it if missing. */
int al_session_dir(char *out, size_t outsz, bool create, struct al_error *err);

/* A session id or name is [A-Za-z0-9_.-], 1..63 characters, not starting
 * with '.': it names files in the session directory. */
bool al_session_name_ok(const char *s);

/* Listen on DIR/ID.sock (mode 0600). */
int al_session_listen(const char *dir, const char *id, struct al_error *err);

/* Connect to DIR/ID.sock. -ECONNREFUSED: a stale socket (its supervisor
 * died); -ENOENT: no such session. */
int al_session_connect(const char *dir, const char *id, struct al_error *err);

/* SO_PEERCRED: only the session's owner and root may speak to it. */
bool al_session_peer_allowed(uid_t peer, uid_t owner);
