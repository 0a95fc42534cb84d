/* gVisor's runtime monitoring ("seccheck") remote-sink messages, as the
 * sentry sends them over a SOCK_SEQPACKET socket: an 8-byte header
 * (header size u16, message type u16, dropped count u32, little endian),
 * then a protobuf payload. The sentry is gVisor's kernel, the one part a
 * successful attack inside owns: every byte here is hostile. The parser is
 * pure (no allocation, no I/O), bounded by the message it is given, and
 * fuzzed (tests/fuzz/fuzz_gvisor_wire.c). Strings point into the message
 * and are not NUL-terminated. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* gVisor's common.proto MessageType values airlock reads */
enum al_gvwire_type {
	AL_GVWIRE_SENTRY_EXEC = 3, /* sentry/execve: ExecveInfo */
	AL_GVWIRE_SYSCALL_OPEN = 7, /* syscall/open*, creat: Open */
};

#define AL_GVWIRE_MAX_MSG 65536 /* a bigger message is refused (the sentry caps its own) */
#define AL_GVWIRE_MAX_ARGV 64   /* argv entries kept; the rest are counted */

struct al_gvwire_str {
	const char *p;
	size_t len;
};

struct al_gvwire_event {
	uint16_t type;          /* header's message type (any value) */
	uint32_t dropped;       /* header's dropped count (the sentry's running total) */
	int64_t tgid;           /* ContextData.thread_group_id; -1 absent */
	struct al_gvwire_str cwd; /* ContextData.cwd */
	/* exec: binary_path; open: pathname */
	struct al_gvwire_str path;
	/* exec */
	struct al_gvwire_str argv[AL_GVWIRE_MAX_ARGV];
	size_t argc;            /* kept */
	size_t argc_total;      /* seen */
	/* open */
	uint64_t sysno;
	int64_t fd;
	struct al_gvwire_str fd_path;
	uint32_t flags, mode;
};

/* One message of the stream after the handshake. 0, or -EINVAL (short or
 * malformed header, malformed protobuf in a message of a type parsed here).
 * Types other than the two above parse their header only (payload left
 * alone: the sentry may send types this airlock does not know). */
int al_gvwire_parse(const void *msg, size_t len, struct al_gvwire_event *ev);

/* The sentry's first message, gvisor.common.Handshake{version}: the version,
 * or -EINVAL. */
int64_t al_gvwire_handshake(const void *msg, size_t len);
