/* Exfiltration search over a client's byte stream of HTTP/1.x requests
 * (docs/tripwires.md): follows the request framing -- heads,
 * Content-Length and chunked bodies, gzip/deflate Content-Encoding -- and
 * searches heads, chunk framing and trailers as sent, every body de-chunked
 * (a token split across chunks, writes or two requests is found) and every
 * gzip/deflate body inflated, bounded (decompression bombs). A stream that
 * cannot be followed (bad framing, a coding it cannot decode, an inflated
 * body over the bound) is an error: the caller cuts the connection rather
 * than let bytes it could not search leave. Raw mode searches every byte as
 * sent (not HTTP, or after an Upgrade/CONNECT). Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/exfil.h"

/* what one body may inflate to before the stream is refused */
#define AL_EXFIL_INFLATE_MAX (64ull << 20)

enum al_exfil_http_mode { AL_EXFIL_HTTP, AL_EXFIL_RAW };

struct al_exfil_http {
	const struct al_exfil *x;
	uint64_t max_inflate;
	int st;
	bool raw_after; /* Upgrade / CONNECT: raw once this message is done */
	/* wire: heads, chunk lines, trailers, raw mode; payload: de-chunked
	 * bodies (also continuous across requests); coded: inflated body */
	struct al_exfil_stream wire, payload, coded;
	/* the head being read */
	char line[192];
	char tail[12];
	size_t line_len, tail_len, line_total;
	uint32_t head_len, nlines;
	bool interesting_prev; /* the previous header line was a framing one */
	bool has_cl, has_te, chunked, upgrade;
	uint64_t cl;
	int ce; /* 0 identity, 1 gzip, 2 deflate */
	/* body */
	uint64_t left;
	uint32_t chunk_digits;
	bool chunk_ext;
	void *z;          /* z_stream of the body being inflated */
	bool z_end;       /* at the end of a member: more input starts another */
	uint8_t zhead[2]; /* deflate: the first two bytes (zlib header or raw) */
	size_t zhead_len;
	uint64_t inflated;
	/* the result */
	const char *error;
	const char *where;
	struct al_exfil_hit hit;
};

void al_exfil_http_init(struct al_exfil_http *h, const struct al_exfil *x,
                        enum al_exfil_http_mode mode, uint64_t max_inflate);
/* Feed the next bytes the client sends. 0: nothing found; 1: a token
 * (h->hit, h->where: "head", "body", "body-gzip", "body-deflate",
 * "stream"); -1: the stream cannot be followed (h->error). After 1 or -1
 * the stream must not be fed again. */
int al_exfil_http_feed(struct al_exfil_http *h, const void *data, size_t len);
void al_exfil_http_free(struct al_exfil_http *h);
