/* Private to the sink back ends: the sink object, the transport table each
 * back end fills (syslog over TCP/TLS, RELP), the URL parser, the RFC 5424
 * formatter, RFC 6587 octet framing, and the on-disk spool. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/sink.h"
#include "util/error.h"
#include "util/json.h"

enum al_sink_scheme {
	AL_SINK_TCP,
	AL_SINK_TLS,
	AL_SINK_RELP,
};

#define AL_SINK_HOST_MAX 256

struct al_sink_url {
	enum al_sink_scheme scheme;
	char host[AL_SINK_HOST_MAX]; /* name or address, IPv6 without brackets */
	char port[8];                /* decimal, default per scheme */
};

/* "tcp://h:p", "tls://h:p", "relp://h:p"; "[v6]:p" for IPv6 literals; port
 * optional (514, 6514, 2514). Anything else is -EINVAL naming the URL. */
int al_sink_url_parse(const char *url, struct al_sink_url *out, struct al_error *err);

/* RFC 5424 facility local0 (16); severities info (6) for records and
 * warning (4) for gap markers: PRI = facility * 8 + severity. */
#define AL_SINK_PRI_RECORD 134
#define AL_SINK_PRI_GAP 132
/* Private enterprise number 32473 is the one RFC 5612 reserves for
 * documentation; airlock has no PEN of its own. */
#define AL_SINK_SDID "airlock@32473"
/* MSGID of the gap marker; never produced from a record type. */
#define AL_SINK_GAP_MSGID "sink-gap"
/* Largest record (JSON line) shipped; receivers must accept messages of
 * this size plus the header (docs/evidence.md: maxMessageSize). */
#define AL_SINK_MAX_RECORD (1024 * 1024)
/* Bound on every blocking wait (connect at open, a stalled send, close). */
#define AL_SINK_IO_TIMEOUT_MS 5000

/* MSGID for a record: its "type" when that is 1..32 of [A-Za-z0-9_.] and
 * not the reserved gap MSGID, else "event". */
void al_sink_msgid(const char *line, size_t len, char out[33]);

/* One RFC 5424 message (no framing) into out (reset first). sd_params is
 * the inside of the structured data element after the SD-ID, already
 * escaped (e.g. `run="x" seq="1"`). */
int al_sink_format_5424(struct al_buf *out, int pri, uint64_t realtime_ns, const char *hostname,
                        const char *procid, const char *msgid, const char *sd_params,
                        const char *msg, size_t len);
/* SD-PARAM value escaping (RFC 5424 6.3.3: '"', '\' and ']'). */
void al_sink_sd_escape(struct al_buf *out, const char *s);
/* RFC 6587 3.4.1 octet counting: "LEN SP MSG" appended to out. */
int al_sink_frame_octets(struct al_buf *out, const char *msg, size_t len);

/* A transport: how messages reach the server. Loss is reported as
 * -errno with err filled; the policy layer (sink.c) decides what follows. */
struct al_sink;
struct al_sink_transport {
	const char *name;
	/* (Re)connect; timeout bounds the wait. On RELP a reconnect also
	 * resends what the server had not acknowledged before the loss. */
	int (*connect)(struct al_sink *s, int timeout_ms, struct al_error *err);
	/* Ship one RFC 5424 message (unframed). */
	int (*send)(struct al_sink *s, const char *msg, size_t len, struct al_error *err);
	/* Non-blocking: has the connection been lost? 0 or -errno. */
	int (*check)(struct al_sink *s, struct al_error *err);
	/* Wait (bounded) until everything sent is delivered as far as the
	 * transport can tell, then disconnect politely. */
	int (*finish)(struct al_sink *s, int timeout_ms, struct al_error *err);
	/* Drop the connection after a loss (keep what a reconnect needs). */
	void (*drop)(struct al_sink *s);
	void (*destroy)(struct al_sink *s);
	/* Optional: time spent blocked waiting for the server since the last
	 * call (total; *max_ns the longest single wait), then reset. */
	uint64_t (*take_stall)(struct al_sink *s, uint64_t *max_ns);
};

extern const struct al_sink_transport al_sink_syslog_transport; /* tcp:// and tls:// */
extern const struct al_sink_transport al_sink_relp_transport;

/* What back ends may read of the sink. */
struct al_sink_conf {
	struct al_sink_url url;
	const char *tls_ca; /* NULL: the system trust store */
};
const struct al_sink_conf *al_sink_conf(const struct al_sink *s);
void *al_sink_transport_state(const struct al_sink *s);
void al_sink_set_transport_state(struct al_sink *s, void *state);

/* The spool: records kept on disk, in order, while the sink is away.
 * One file per run, 0600, entries {u64 seq, u32 len, bytes} little-endian. */
struct al_spool;
/* Create dir/<run>.sink-spool (O_EXCL, 0600); dir is created 0700 if missing. */
int al_spool_open(struct al_spool **out, const char *dir, const char *run_id, struct al_error *err);
int al_spool_append(struct al_spool *sp, uint64_t seq, const char *line, size_t len,
                    struct al_error *err);
/* The oldest record not yet popped into line: 1 if there is one, 0 if the
 * spool is empty, -errno on a read error or a damaged entry. */
int al_spool_peek(struct al_spool *sp, uint64_t *seq, struct al_buf *line, struct al_error *err);
/* Past the peeked record; when that empties the spool the file is truncated. */
int al_spool_pop(struct al_spool *sp, struct al_error *err);
uint64_t al_spool_pending(const struct al_spool *sp);
const char *al_spool_path(const struct al_spool *sp);
/* Close; the file is removed when nothing is pending, kept otherwise. */
void al_spool_free(struct al_spool *sp);
/* A spool kept by an earlier run, for `airlock log push`: a regular file
 * (O_NOFOLLOW), not held by a running airlock (flock), every entry checked;
 * *first / *last are the seqs of the first and last entry. */
int al_spool_open_existing(struct al_spool **out, const char *path, uint64_t *first,
                           uint64_t *last, struct al_error *err);
/* Past the peeked record without changing the file. */
int al_spool_skip(struct al_spool *sp, struct al_error *err);
/* Everything was delivered: empty the file and remove it. */
int al_spool_discard(struct al_spool *sp, struct al_error *err);
/* Close, keeping the file as it is (whatever is pending). */
void al_spool_close_keep(struct al_spool *sp);
