/* Strict, bounded parser of HTTP/1.x request heads as a proxy receives them
 * (absolute-form and CONNECT authority-form targets), and an incremental
 * checker of chunked framing. Pure functions over hostile bytes; fuzzed by
 * tests/fuzz/fuzz_http.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/policy.h"

#define AL_HTTP_MAX_HEAD 16384
#define AL_HTTP_MAX_HEADERS 100

struct al_http_header {
	uint16_t name_off, name_len, val_off, val_len;
};

struct al_http_req {
	size_t head_len; /* bytes up to and including the blank line */
	char method[16];
	bool is_connect;
	int version_minor;      /* HTTP/1.x */
	char host[AL_NAME_MAX]; /* target host: normalised name or IP literal (no brackets) */
	bool host_is_ip;
	uint16_t port;
	size_t path_off, path_len; /* origin-form path (absolute-form only; "" means "/") */
	bool has_host_header;
	bool has_content_length;
	uint64_t content_length;
	bool chunked;
	size_t n_headers;
	struct al_http_header headers[AL_HTTP_MAX_HEADERS];
	/* on error */
	int status;         /* 400, 431, 501 ... */
	const char *reason; /* static text for the report */
};

/* Parse a request head at buf[0..len). Returns 1 when complete (req filled),
 * 0 if more bytes are needed (and len < AL_HTTP_MAX_HEAD), -1 if malformed,
 * oversized or refused (req->status, req->reason). */
int al_http_parse_request(const char *buf, size_t len, struct al_http_req *req);

/* Parse "host[:port]" / "[v6]:port". Returns 0 or -1. */
int al_http_parse_authority(const char *s, size_t len, char host[AL_NAME_MAX], bool *is_ip,
                            uint16_t *port, bool *port_given);

/* Rewrite an absolute-form request head for the origin server: origin-form
 * target, hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Upgrade)
 * removed, "Connection: close" added. Returns the length or -1 if it does not fit. */
long al_http_rewrite_head(const char *buf, const struct al_http_req *req, char *out, size_t cap);

/* Chunked transfer-coding framing, fed incrementally. */
struct al_chunk {
	int state;
	uint64_t remain;
	unsigned digits;
	size_t line;
};
/* Consumes bytes of buf; *used says how many. Returns 1 at the end of the
 * chunked body (*used stops there), 0 if all of buf was consumed and more is
 * needed, -1 on malformed framing. */
int al_chunk_feed(struct al_chunk *c, const char *buf, size_t len, size_t *used);

/* Transparent path: the Host header of an origin-form request head (the
 * client did not know it was talking to a proxy). Returns 1 with host filled,
 * 0 if more bytes are needed, -1 if this is not a well-formed HTTP/1.x head
 * with exactly one Host header. */
int al_http_sniff_host(const char *buf, size_t len, char host[AL_NAME_MAX], bool *is_ip,
                       uint16_t *port, bool *port_given);
