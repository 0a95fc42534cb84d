/* `airlock cp`: a file or directory tree as a stream of frames (proto.h:
 * ENTRY, DATA, END), sent from one side and rebuilt on the other. The same
 * code serves the host side (the `airlock cp` client, as the caller) and
 * the sandbox side (a helper of the supervisor with the sandbox user's
 * identity, resolving inside the sandbox's root). */
#pragma once

#include <linux/openat2.h>
#include <stdint.h>

#include "session/proto.h"
#include "util/error.h"

struct al_cp_stats {
	uint64_t bytes;   /* file content carried */
	uint64_t files;   /* regular files */
	uint64_t entries; /* everything */
	/* devices, fifos, sockets, pseudo file systems below the top: not copied */
	uint64_t skipped;
};

#define AL_CP_LIMIT_DEFAULT (1ull << 30) /* bytes of content per copy */
#define AL_CP_MAX_ENTRIES 1000000u
#define AL_CP_MAX_DEPTH 256

/* Resolution flags for openat2 from a sandbox's root: never a magic link,
 * `..` and absolute symlinks stay inside. 0 for the host side. */
#define AL_CP_RESOLVE_SANDBOX ((uint64_t)(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS))

/* Send the object at path (from dirfd, with the openat2 resolve flags) as
 * a tree stream on fd. The top is followed if it is a symbolic link (as
 * the side that owns it resolves it); below the top nothing is followed
 * (links are sent as links). Only regular files, directories and links are
 * sent: a device, fifo or socket at the top is an error, below it skipped
 * and counted; so are procfs/sysfs-like file systems. At most limit bytes
 * of content: a file that would pass it is an error naming it. */
int al_cp_send(int fd, int dirfd, const char *path, uint64_t resolve, uint64_t limit,
               struct al_cp_stats *st, struct al_error *err);

/* Where a copy lands: if path (from dirfd, resolve flags) names an existing
 * directory, the entry `base` in it (base "": an error, EISDIR); otherwise path itself, with its
 * missing parent directories made (0755). *parent gets the directory's fd,
 * name the entry's name. */
int al_cp_dest(int dirfd, const char *path, uint64_t resolve, const char *base, int *parent,
               char name[256], struct al_error *err);

/* Receive a tree stream from fd (frames through rd) into parent/name: built
 * beside it under a temporary name, never following a link, renamed over
 * name when complete (a file or link replaces one; a directory replaces at
 * most an empty one). Permission bits are kept, set-id bits never made. At
 * most limit bytes. An ERROR frame from the peer becomes err. */
int al_cp_recv(int fd, struct al_frame_reader *rd, int parent, const char *name, uint64_t limit,
               struct al_cp_stats *st, struct al_error *err);

/* The last component of path (trailing '/' ignored) into out; "" for "/". */
void al_cp_basename(const char *path, char out[256]);

/* Read the next frame (blocking). >0 a frame, 0 EOF, <0 error. */
int al_cp_read_frame(int fd, struct al_frame_reader *rd, uint8_t *type, const uint8_t **p,
                     size_t *n);
