/* The session control protocol: length-prefixed frames over a unix stream
 * socket between a client (`airlock exec/ls/rm`, the Python client through
 * the CLI) and a session's supervisor. Strict and bounded: the parser is a
 * pure function, fuzzed (tests/fuzz/fuzz_session_proto.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame: u32 little-endian length N (1 <= N <= AL_FRAME_MAX), then N
 * bytes: a type byte and N - 1 bytes of payload. */
#define AL_FRAME_MAX (1u << 20)

enum al_frame_type {
	/* client -> supervisor */
	AL_FR_EXEC = 'X',      /* run a command: struct al_exec_request */
	AL_FR_STDIN = 'I',     /* bytes for the command's stdin */
	AL_FR_STDIN_EOF = 'i', /* close the command's stdin */
	AL_FR_WINSIZE = 'W',   /* -t: the terminal's size: u16 rows, u16 cols (little-endian) */
	AL_FR_STATUS = 'S',    /* describe the session (reply: 'S' + JSON) */
	AL_FR_REMOVE = 'K',    /* remove the session (reply: 'K' + text) */
	AL_FR_CP_OUT = 'G',    /* copy a path out: struct al_cp_request; reply: a tree stream */
	AL_FR_CP_IN = 'P',     /* copy into a path: struct al_cp_request; after 'k', a tree stream */
	/* a tree stream (either way): entries, each file's bytes, then the end */
	AL_FR_CP_ENTRY = 'N',  /* struct al_cp_entry */
	AL_FR_CP_DATA = 'D',   /* bytes of the last file entry */
	AL_FR_CP_END = 'e',    /* the stream is complete */
	AL_FR_CP_READY = 'k',  /* the sandbox side is ready for a CP_IN stream */
	AL_FR_CP_DONE = 'R',   /* the copy is complete: text "BYTES FILES SKIPPED" */
	/* supervisor -> client */
	AL_FR_STDOUT = 'O',
	AL_FR_STDERR = 'E',
	AL_FR_EXIT = 'Z',      /* the command ended: struct al_exit_info */
	AL_FR_ERROR = '!',     /* request refused: text */
	AL_FR_STARTED = 's',   /* AL_EXEC_NOTIFY_START: the command was exec'd (empty) */
	AL_FR_TTY_MASTER = 'T',/* AL_EXEC_TTY_FD: the pty's master, SCM_RIGHTS with this frame (empty) */
};

#define AL_EXEC_STDIN 1u      /* the client sends stdin frames */
#define AL_EXEC_KEEP_TAIL 2u  /* past the cap keep the tail (sent at the end), not the head */
#define AL_EXEC_TTY 4u        /* a pseudo-terminal made in the sandbox's own devpts */
#define AL_EXEC_NOTIFY_START 8u /* send AL_FR_STARTED once the command was exec'd */
#define AL_EXEC_TTY_FD 16u    /* with TTY: hand the master to the client (AL_FR_TTY_MASTER), no relay */

struct al_exec_request {
	uint64_t timeout_ns;      /* 0: none */
	uint64_t max_output;      /* per stream; 0: the session's default */
	uint32_t flags;
	uint32_t argc, envc;
	const char *argv[4097];   /* point into the frame; argv[argc] = NULL */
	const char *env[4097];    /* KEY=VALUE */
	const char *cwd;          /* "" = the sandbox's workdir */
	const char *user;         /* "" = the sandbox's user */
};
#define AL_EXEC_ARGS_MAX 4096

/* Parse an AL_FR_EXEC payload (after the type byte). 0, or -EINVAL for
 * anything malformed: truncated fields, counts beyond the limits, a string
 * without its NUL, an empty argv[0], an env entry without '=', bytes left
 * over. */
int al_exec_request_parse(const uint8_t *p, size_t n, struct al_exec_request *r);

/* Encode one (the client side); the caller frees *out. */
int al_exec_request_encode(const struct al_exec_request *r, uint8_t **out, size_t *len);

struct al_exit_info {
	int32_t exit_status;     /* what `airlock exec` exits with */
	int32_t signal;          /* the signal that ended it, or 0 */
	int32_t err;             /* errno when it did not start */
	uint32_t flags;          /* AL_EXIT_F_* */
	uint64_t duration_ns;
	uint64_t stdout_bytes, stderr_bytes;
	char what[128];          /* why it did not start or end normally */
};
#define AL_EXIT_F_TIMED_OUT 1u
#define AL_EXIT_F_STDOUT_TRUNC 2u
#define AL_EXIT_F_STDERR_TRUNC 4u
#define AL_EXIT_F_SANDBOX_ENDED 8u
#define AL_EXIT_F_NOT_STARTED 16u

/* `airlock cp`: the request names a path inside the sandbox and the most
 * bytes of file content the copy may carry. */
struct al_cp_request {
	uint64_t limit;
	const char *path;      /* non-empty; relative: to the sandbox's workdir; resolved inside its root */
	const char *base;      /* CP_IN: the source's name, used when path is a directory; or "" */
	const char *user;      /* "" (the sandbox's user), "root", or a uid */
};
int al_cp_request_parse(const uint8_t *p, size_t n, struct al_cp_request *r);
int al_cp_request_encode(const struct al_cp_request *r, uint8_t **out, size_t *len);

/* One entry of a tree stream. rel is "" for the top (the copied object
 * itself) and a relative path of plain components below it; only regular
 * files, directories and symbolic links exist in a stream. */
struct al_cp_entry {
	uint8_t kind;          /* 'f', 'd', 'l' */
	uint32_t mode;         /* permission bits only (no set-id bits: refused) */
	uint64_t size;         /* 'f': bytes that follow in DATA frames */
	const char *rel;
	const char *link;      /* 'l': the target; "" otherwise */
};
#define AL_CP_PATH_MAX 4096
/* -EINVAL for anything malformed: unknown kind, mode bits beyond 01777,
 * a size on a non-file, a rel with an empty, "." or ".." component or a
 * leading or trailing '/', a link target on a non-link or none on a link,
 * strings without NUL or longer than AL_CP_PATH_MAX, bytes left over. */
int al_cp_entry_parse(const uint8_t *p, size_t n, struct al_cp_entry *e);
int al_cp_entry_encode(const struct al_cp_entry *e, uint8_t **out, size_t *len);
/* rel is "" or plain components joined by '/' */
bool al_cp_rel_ok(const char *rel);

/* Frame accumulation: bytes in, whole frames out. */
struct al_frame_reader {
	uint8_t *buf;
	size_t len, cap;
	size_t handed;   /* bytes of the frame handed out last, dropped at the next call */
	bool broken;     /* a bad length was seen: nothing more is accepted */
};
/* Append n bytes. -EMSGSIZE when a frame announces more than AL_FRAME_MAX
 * or 0 bytes (the peer is then not spoken to any more). */
int al_frame_reader_feed(struct al_frame_reader *fr, const void *p, size_t n);
/* The next whole frame (type, payload), or 0 if none yet. Valid until the
 * next call. */
int al_frame_reader_next(struct al_frame_reader *fr, uint8_t *type, const uint8_t **payload, size_t *plen);
void al_frame_reader_free(struct al_frame_reader *fr);

/* Append a frame's bytes to a growing buffer. */
int al_frame_append(uint8_t **buf, size_t *len, size_t *cap, uint8_t type, const void *payload, size_t n);

/* Blocking helpers for clients. */
int al_frame_write(int fd, uint8_t type, const void *payload, size_t n);
