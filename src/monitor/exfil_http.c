/* The HTTP/1.x request-stream follower of the exfil search (exfil_http.h). */
#include "monitor/exfil_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/zlib_dl.h"

enum {
	S_HEAD,        /* request line and header lines */
	S_BODY,        /* Content-Length body */
	S_CHUNK_SIZE,  /* chunk-size [; ext] CRLF */
	S_CHUNK_DATA,  /* chunk-data */
	S_CHUNK_CR,    /* the CRLF after chunk-data */
	S_CHUNK_LF,
	S_TRAILER,     /* trailer lines after the last chunk */
	S_RAW,         /* every byte as sent */
	S_DEAD,        /* a hit or an error was returned */
};

#define HEAD_MAX (64 * 1024)
#define LINES_MAX 256
#define CHUNK_LINE_MAX 4096

struct found {
	struct al_exfil_http *h;
	const char *where;
	bool hit;
};

static int on_hit(void *ctx, const struct al_exfil_hit *hit)
{
	struct found *f = ctx;
	f->hit = true;
	f->h->hit = *hit;
	f->h->where = f->where;
	return 1;
}

static int scan(struct al_exfil_http *h, struct al_exfil_stream *s, const char *where,
                const void *p, size_t n)
{
	struct found f = {.h = h, .where = where};
	if (n == 0)
		return 0;
	al_exfil_feed(s, p, n, on_hit, &f);
	if (f.hit) {
		h->st = S_DEAD;
		return 1;
	}
	return 0;
}

/* bodies and raw streams: line breaks left out (wrapped base64 and hex) */
static int scan_unwrapped(struct al_exfil_http *h, struct al_exfil_stream *s, const char *where,
                          const void *p, size_t n)
{
	struct found f = {.h = h, .where = where};
	if (n == 0)
		return 0;
	al_exfil_feed_unwrapped(s, p, n, on_hit, &f);
	if (f.hit) {
		h->st = S_DEAD;
		return 1;
	}
	return 0;
}

static int fail(struct al_exfil_http *h, const char *why)
{
	h->error = why;
	h->st = S_DEAD;
	return -1;
}

void al_exfil_http_init(struct al_exfil_http *h, const struct al_exfil *x,
                        enum al_exfil_http_mode mode, uint64_t max_inflate)
{
	memset(h, 0, sizeof *h);
	h->x = x;
	h->max_inflate = max_inflate;
	h->st = mode == AL_EXFIL_RAW ? S_RAW : S_HEAD;
	al_exfil_stream_init(&h->wire, x);
	al_exfil_stream_init(&h->payload, x);
	al_exfil_stream_init(&h->coded, x);
}

static void z_drop(struct al_exfil_http *h)
{
	if (h->z) {
		sym_inflateEnd(h->z);
		free(h->z);
		h->z = NULL;
	}
}

void al_exfil_http_free(struct al_exfil_http *h)
{
	z_drop(h);
}

/* ---- bodies ---- */

static int z_start(struct al_exfil_http *h, int window_bits)
{
	z_stream *z;

	/* zlib is loaded on first use; the proxy loads it before its
	 * confinement (egress.c). Not loadable: the body cannot be searched,
	 * so the stream is refused (fail closed). */
	if (al_zlib_load(NULL) < 0)
		return fail(h, "zlib (libz.so.1) cannot be loaded to inflate the body");
	z = calloc(1, sizeof *z);
	if (z == NULL)
		return fail(h, "out of memory for the inflater");
	if (al_zlib_inflate_init2(z, window_bits) != Z_OK) {
		free(z);
		return fail(h, "out of memory for the inflater");
	}
	h->z = z;
	return 0;
}

static int inflate_some(struct al_exfil_http *h, const uint8_t *p, size_t n)
{
	z_stream *z = h->z;
	const char *where = h->ce == 1 ? "body-gzip" : "body-deflate";
	unsigned char out[16384];

	z->next_in = (unsigned char *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	while (z->avail_in > 0) {
		int zr;
		size_t got;
		if (h->z_end) {
			/* concatenated members (gzip) or streams: each must be one */
			if (sym_inflateReset(z) != Z_OK)
				return fail(h, "inflater reset failed");
			h->z_end = false;
		}
		z->next_out = out;
		z->avail_out = sizeof out;
		zr = sym_inflate(z, Z_NO_FLUSH);
		got = sizeof out - z->avail_out;
		h->inflated += got;
		if (scan_unwrapped(h, &h->coded, where, out, got))
			return 1;
		if (h->inflated > h->max_inflate)
			return fail(h, "inflated body over the bound");
		if (zr == Z_STREAM_END) {
			h->z_end = true;
			continue;
		}
		if (zr == Z_BUF_ERROR && got == 0)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return fail(h, h->ce == 1 ? "malformed gzip body" : "malformed deflate body");
	}
	return 0;
}

/* The bytes of a body (de-chunked), in any coding: searched as they are,
 * and inflated when the coding says so. */
static int body_bytes(struct al_exfil_http *h, const uint8_t *p, size_t n)
{
	int r = scan_unwrapped(h, &h->payload, "body", p, n);
	if (r || h->ce == 0 || n == 0)
		return r;
	if (h->z == NULL) {
		if (h->ce == 1) {
			r = z_start(h, 32 + 15); /* gzip (or zlib), detected */
			if (r < 0)
				return r;
		} else {
			/* "deflate" is zlib by the RFC, raw deflate by some clients:
			 * the first two bytes tell (a zlib header is a multiple of
			 * 31 with method 8) */
			while (h->zhead_len < 2 && n > 0) {
				h->zhead[h->zhead_len++] = *p++;
				n--;
			}
			if (h->zhead_len < 2)
				return 0;
			bool zlib = (h->zhead[0] & 0x0f) == 8 &&
			            ((unsigned)h->zhead[0] << 8 | h->zhead[1]) % 31 == 0;
			r = z_start(h, zlib ? 15 : -15);
			if (r < 0)
				return r;
			r = inflate_some(h, h->zhead, 2);
			if (r)
				return r;
		}
	}
	return inflate_some(h, p, n);
}

/* one request is complete: the next head, or raw after an upgrade */
static void message_end(struct al_exfil_http *h)
{
	z_drop(h);
	h->z_end = false;
	h->zhead_len = 0;
	h->inflated = 0;
	al_exfil_stream_init(&h->coded, h->x);
	h->st = h->raw_after ? S_RAW : S_HEAD;
	h->has_cl = h->has_te = h->chunked = h->upgrade = h->raw_after = false;
	h->cl = 0;
	h->ce = 0;
	h->head_len = h->nlines = 0;
	h->line_len = h->tail_len = h->line_total = 0;
	h->interesting_prev = false;
}

/* ---- heads ---- */

static bool name_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* the value of a header line: after ':', without OWS either side */
static void value_of(const char *line, size_t len, const char **v, size_t *vl)
{
	const char *c = memchr(line, ':', len);
	const char *e = line + len;
	c = c ? c + 1 : e;
	while (c < e && (*c == ' ' || *c == '\t'))
		c++;
	while (e > c && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*v = c;
	*vl = (size_t)(e - c);
}

static int content_coding(struct al_exfil_http *h, const char *v, size_t vl)
{
	size_t i = 0;

	while (i <= vl) {
		size_t s = i, e;
		while (i < vl && v[i] != ',')
			i++;
		e = i;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		int c = -1;
		if (e == s || (e - s == 8 && strncasecmp(v + s, "identity", 8) == 0))
			c = 0;
		else if ((e - s == 4 && strncasecmp(v + s, "gzip", 4) == 0) ||
		         (e - s == 6 && strncasecmp(v + s, "x-gzip", 6) == 0))
			c = 1;
		else if (e - s == 7 && strncasecmp(v + s, "deflate", 7) == 0)
			c = 2;
		if (c < 0)
			return fail(h, "content-encoding it cannot decode");
		if (c > 0) {
			if (h->ce != 0)
				return fail(h, "stacked content-encodings");
			h->ce = c;
		}
		i++;
	}
	return 0;
}

static int header_line(struct al_exfil_http *h, const char *line, size_t len, bool cut)
{
	const char *v;
	size_t vl;

	if (line[0] == ' ' || line[0] == '\t') {
		/* obs-fold: continues the previous field */
		if (h->interesting_prev)
			return fail(h, "obs-fold in a framing header");
		return 0;
	}
	h->interesting_prev = false;
	if (name_is(line, len, "content-length")) {
		uint64_t n = 0;
		h->interesting_prev = true;
		value_of(line, len, &v, &vl);
		if (cut || vl == 0 || vl > 18)
			return fail(h, "bad content-length");
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(h, "bad content-length");
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (h->has_cl && h->cl != n)
			return fail(h, "conflicting content-length");
		h->has_cl = true;
		h->cl = n;
	} else if (name_is(line, len, "transfer-encoding")) {
		h->interesting_prev = true;
		value_of(line, len, &v, &vl);
		if (cut || h->has_te || vl != 7 || strncasecmp(v, "chunked", 7) != 0)
			return fail(h, "transfer-encoding other than chunked");
		h->has_te = h->chunked = true;
	} else if (name_is(line, len, "content-encoding")) {
		h->interesting_prev = true;
		if (cut)
			return fail(h, "content-encoding too long");
		value_of(line, len, &v, &vl);
		return content_coding(h, v, vl);
	} else if (name_is(line, len, "upgrade")) {
		h->upgrade = true;
	}
	return 0;
}

static int request_line(struct al_exfil_http *h, const char *line, size_t len)
{
	size_t m = 0;

	while (m < len && line[m] != ' ' && line[m] > 32 && line[m] < 127)
		m++;
	if (m == 0 || m >= len || line[m] != ' ' || h->tail_len < 9 ||
	    (memcmp(h->tail + h->tail_len - 9, " HTTP/1.1", 9) != 0 &&
	     memcmp(h->tail + h->tail_len - 9, " HTTP/1.0", 9) != 0))
		return fail(h, "not an HTTP/1 request");
	if (m == 7 && memcmp(line, "CONNECT", 7) == 0)
		h->raw_after = true;
	return 0;
}

static int head_done(struct al_exfil_http *h)
{
	if (h->has_cl && h->has_te)
		return fail(h, "content-length with transfer-encoding");
	if (h->upgrade)
		h->raw_after = true;
	if (h->chunked) {
		h->st = S_CHUNK_SIZE;
		h->left = 0;
		h->chunk_digits = 0;
		h->chunk_ext = false;
		h->line_total = 0;
	} else if (h->has_cl && h->cl > 0) {
		h->st = S_BODY;
		h->left = h->cl;
	} else {
		message_end(h);
	}
	return 0;
}

/* one complete line of a head (without its LF, CR stripped) */
static int head_line(struct al_exfil_http *h)
{
	size_t len = h->line_len;
	bool cut = h->line_total > h->line_len;

	if (len > 0 && !cut && h->line[len - 1] == '\r')
		len--;
	if (h->tail_len > 0 && h->tail[h->tail_len - 1] == '\r')
		h->tail_len--;
	if (h->nlines == 0) {
		if (len == 0 && !cut && h->head_len <= 2)
			return 0; /* a CRLF before the request line is tolerated */
		h->nlines++;
		return request_line(h, h->line, len);
	}
	if (len == 0 && !cut)
		return head_done(h);
	if (++h->nlines > LINES_MAX)
		return fail(h, "too many header lines");
	return header_line(h, h->line, len, cut);
}

static size_t feed_head(struct al_exfil_http *h, const uint8_t *p, size_t n, int *r)
{
	size_t i;

	*r = 0;
	for (i = 0; i < n && h->st == S_HEAD; i++) {
		char ch = (char)p[i];
		if (++h->head_len > HEAD_MAX) {
			*r = fail(h, "request head too large");
			return i + 1;
		}
		if (ch == '\n') {
			*r = head_line(h);
			h->line_len = h->tail_len = h->line_total = 0;
			if (*r)
				return i + 1;
			continue;
		}
		if (h->line_len < sizeof h->line)
			h->line[h->line_len++] = ch;
		h->line_total++;
		if (h->tail_len == sizeof h->tail) {
			memmove(h->tail, h->tail + 1, sizeof h->tail - 1);
			h->tail_len--;
		}
		h->tail[h->tail_len++] = ch;
	}
	return i;
}

/* trailer lines: searched as head bytes, ended by an empty line */
static size_t feed_trailer(struct al_exfil_http *h, const uint8_t *p, size_t n, int *r)
{
	size_t i;

	*r = 0;
	for (i = 0; i < n; i++) {
		if (++h->head_len > HEAD_MAX) {
			*r = fail(h, "trailers too large");
			return i + 1;
		}
		if (p[i] == '\n') {
			bool empty = h->line_total == 0 || (h->line_total == 1 && h->line[0] == '\r');
			h->line_total = 0;
			if (empty) {
				message_end(h);
				return i + 1;
			}
			continue;
		}
		if (h->line_total == 0)
			h->line[0] = (char)p[i];
		h->line_total++;
	}
	return i;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* chunk-size [; ext] CRLF */
static size_t feed_chunk_size(struct al_exfil_http *h, const uint8_t *p, size_t n, int *r)
{
	size_t i;

	*r = 0;
	for (i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (++h->line_total > CHUNK_LINE_MAX) {
			*r = fail(h, "chunk line too long");
			return i + 1;
		}
		if (c == '\n') {
			if (h->chunk_digits == 0) {
				*r = fail(h, "bad chunk size");
				return i + 1;
			}
			h->line_total = 0;
			if (h->left == 0) {
				h->st = S_TRAILER;
				h->head_len = 0;
			} else {
				h->st = S_CHUNK_DATA;
			}
			return i + 1;
		}
		if (h->chunk_ext || c == '\r')
			continue;
		if (c == ';' || c == ' ' || c == '\t') {
			if (h->chunk_digits == 0) {
				*r = fail(h, "bad chunk size");
				return i + 1;
			}
			h->chunk_ext = true;
			continue;
		}
		int v = hexval(c);
		if (v < 0 || ++h->chunk_digits > 15) {
			*r = fail(h, "bad chunk size");
			return i + 1;
		}
		h->left = h->left << 4 | (uint64_t)v;
	}
	return i;
}

int al_exfil_http_feed(struct al_exfil_http *h, const void *data, size_t len)
{
	const uint8_t *p = data;
	int r = 0;

	if (h->st == S_DEAD)
		return h->error ? -1 : 1;
	while (len > 0) {
		size_t used = 0;
		switch (h->st) {
		case S_RAW:
			return scan_unwrapped(h, &h->wire, "stream", p, len);
		case S_HEAD:
			used = feed_head(h, p, len, &r);
			if (scan(h, &h->wire, "head", p, used)) {
				h->error = NULL; /* the token decides */
				return 1;
			}
			break;
		case S_BODY:
			used = len < h->left ? len : (size_t)h->left;
			h->left -= used;
			r = body_bytes(h, p, used);
			if (r == 0 && h->left == 0)
				message_end(h);
			break;
		case S_CHUNK_SIZE:
			used = feed_chunk_size(h, p, len, &r);
			if (r == 0)
				r = scan(h, &h->wire, "body", p, used);
			break;
		case S_CHUNK_DATA:
			used = len < h->left ? len : (size_t)h->left;
			h->left -= used;
			r = body_bytes(h, p, used);
			if (r == 0 && h->left == 0)
				h->st = S_CHUNK_CR;
			break;
		case S_CHUNK_CR:
			used = 1;
			if (p[0] == '\r')
				h->st = S_CHUNK_LF;
			else if (p[0] == '\n')
				h->st = S_CHUNK_SIZE;
			else
				r = fail(h, "bad chunk end");
			if (h->st == S_CHUNK_SIZE) {
				h->left = 0;
				h->chunk_digits = 0;
				h->chunk_ext = false;
				h->line_total = 0;
			}
			break;
		case S_CHUNK_LF:
			used = 1;
			if (p[0] != '\n') {
				r = fail(h, "bad chunk end");
			} else {
				h->st = S_CHUNK_SIZE;
				h->left = 0;
				h->chunk_digits = 0;
				h->chunk_ext = false;
				h->line_total = 0;
			}
			break;
		case S_TRAILER:
			used = feed_trailer(h, p, len, &r);
			if (r == 0)
				r = scan(h, &h->wire, "head", p, used);
			break;
		default:
			return h->error ? -1 : 1;
		}
		if (r)
			return r;
		p += used;
		len -= used;
	}
	return 0;
}
