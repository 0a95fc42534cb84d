/* Exfiltration search (exfil.h). */
#include "monitor/exfil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/zlib_dl.h"

struct pattern {
	unsigned char *p;
	size_t len;
	size_t token;
	const char *variant;
};

struct al_exfil {
	uint8_t cls[256];     /* byte -> class; 0: in no pattern */
	uint32_t nclass;
	uint32_t nstates;
	uint32_t *delta;      /* nstates x nclass: the next state */
	/* the same, for the scan loop: (next state * nclass) << 1 | whether
	 * a pattern ends there -- one dependent load per input byte */
	uint32_t *fast;
	int32_t *out;         /* per state: first pattern ending here, or -1 */
	int32_t *out_next;    /* per pattern: next pattern ending at the same state (suffix) */
	struct pattern *pat;
	size_t npat, cap;
	/* a Wu-Manber skip over positions where no pattern can start: the
	 * shortest pattern's length m and, per hashed 3-byte block, how far a
	 * window of m bytes ending in it can move (NULL: no skipping) */
	uint8_t *shift;
	size_t m;
};

#define WM_B 3
#define WM_SIZE 65536

static inline uint32_t wm_hash(const unsigned char *p)
{
	return ((uint32_t)p[0] << 10 ^ (uint32_t)p[1] << 5 ^ (uint32_t)p[2]) & (WM_SIZE - 1);
}

/* For every pattern, every block of its first m bytes: the distance from
 * the block's end to the m-prefix's end (the smallest over all). A window
 * [i, i+m) whose last block has shift s > 0 cannot hold the m-prefix of any
 * pattern at any start in [i, i+s): no match starts there. */
static int build_shift(struct al_exfil *x)
{
	size_t m = SIZE_MAX;

	for (size_t i = 0; i < x->npat; i++)
		if (x->pat[i].len < m)
			m = x->pat[i].len;
	if (x->npat == 0 || m < 8)
		return 0;
	x->shift = malloc(WM_SIZE);
	if (x->shift == NULL)
		return -ENOMEM;
	x->m = m;
	memset(x->shift, (int)(m - WM_B + 1 > 255 ? 255 : m - WM_B + 1), WM_SIZE);
	for (size_t i = 0; i < x->npat; i++)
		for (size_t j = WM_B - 1; j < m; j++) {
			uint32_t h = wm_hash(x->pat[i].p + j + 1 - WM_B);
			size_t s = m - 1 - j;
			if (s < x->shift[h])
				x->shift[h] = (uint8_t)s;
		}
	return 0;
}

static int add(struct al_exfil *x, const char *s, size_t len, size_t token, const char *variant)
{
	if (len < 8)
		return 0; /* too short to mean anything */
	if (x->npat == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		struct pattern *np = realloc(x->pat, nc * sizeof *np);
		if (np == NULL)
			return -ENOMEM;
		x->pat = np;
		x->cap = nc;
	}
	x->pat[x->npat].p = malloc(len);
	if (x->pat[x->npat].p == NULL)
		return -ENOMEM;
	memcpy(x->pat[x->npat].p, s, len);
	x->pat[x->npat].len = len;
	x->pat[x->npat].token = token;
	x->pat[x->npat].variant = variant;
	x->npat++;
	return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* The characters of base-2^bits encoding of (k zero bytes + t) that depend
 * only on t: skip those touching the k leading bytes, drop a last partial
 * character (it depends on what follows). */
static size_t encode_aligned(const unsigned char *t, size_t len, unsigned k, unsigned bits,
                             const char *alpha, char *out)
{
	size_t total = k + len, nbits = total * 8, nchars = nbits / bits, o = 0;
	size_t skip = (k * 8 + bits - 1) / bits;

	for (size_t c = skip; c < nchars; c++) {
		size_t bit = c * bits;
		unsigned v = 0;
		for (unsigned b = 0; b < bits; b++) {
			size_t pos = bit + b, byte = pos / 8;
			unsigned char val = byte < k ? 0 : t[byte - k];
			v = (v << 1) | ((val >> (7 - pos % 8)) & 1);
		}
		out[o++] = alpha[v];
	}
	return o;
}

static int variants(struct al_exfil *x, const char *tok, size_t token)
{
	size_t len = strlen(tok);
	const unsigned char *t = (const unsigned char *)tok;
	char *buf = malloc(len * 4 + 16);
	static const char hexl[] = "0123456789abcdef", hexu[] = "0123456789ABCDEF";
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	r |= add(x, tok, len, token, "plain");
	for (size_t i = 0; i < len; i++)
		buf[i] = tok[len - 1 - i];
	r |= add(x, buf, len, token, "reversed");
	for (int u = 0; u < 2; u++) {
		const char *h = u ? hexu : hexl;
		for (size_t i = 0; i < len; i++) {
			buf[2 * i] = h[t[i] >> 4];
			buf[2 * i + 1] = h[t[i] & 15];
		}
		r |= add(x, buf, 2 * len, token, "hex");
		for (size_t i = 0; i < len; i++) {
			buf[3 * i] = '%';
			buf[3 * i + 1] = h[t[i] >> 4];
			buf[3 * i + 2] = h[t[i] & 15];
		}
		r |= add(x, buf, 3 * len, token, "url-encoded");
	}
	for (unsigned k = 0; k < 3; k++) {
		size_t n = encode_aligned(t, len, k, 6, B64, buf);
		r |= add(x, buf, n, token, "base64");
		n = encode_aligned(t, len, k, 6, B64URL, buf);
		if (memcmp(buf, x->pat[x->npat - 1].p, n) != 0)
			r |= add(x, buf, n, token, "base64url");
	}
	for (unsigned k = 0; k < 5; k++) {
		size_t n = encode_aligned(t, len, k, 5, B32, buf);
		r |= add(x, buf, n, token, "base32");
		for (size_t i = 0; i < n; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (char)(buf[i] + 32);
		r |= add(x, buf, n, token, "base32");
	}
	free(buf);
	return r ? -ENOMEM : 0;
}

void al_exfil_free(struct al_exfil *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->npat; i++)
		free(x->pat[i].p);
	free(x->pat);
	free(x->delta);
	free(x->fast);
	free(x->out);
	free(x->out_next);
	free(x->shift);
	free(x);
}

size_t al_exfil_patterns(const struct al_exfil *x)
{
	return x->npat;
}

int al_exfil_build(struct al_exfil **out, const char *const *tokens, size_t n)
{
	struct al_exfil *x = calloc(1, sizeof *x);
	size_t maxstates = 1;
	uint32_t *fail = NULL, *queue = NULL;
	int r = -ENOMEM;

	*out = NULL;
	if (x == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (strlen(tokens[i]) < 8) {
			al_exfil_free(x);
			return -EINVAL;
		}
		if (variants(x, tokens[i], i) < 0)
			goto fail;
	}
	/* byte classes */
	x->nclass = 1;
	for (size_t i = 0; i < x->npat; i++)
		for (size_t k = 0; k < x->pat[i].len; k++)
			if (x->cls[x->pat[i].p[k]] == 0)
				x->cls[x->pat[i].p[k]] = (uint8_t)x->nclass++;
	for (size_t i = 0; i < x->npat; i++)
		maxstates += x->pat[i].len;
	x->delta = calloc(maxstates * x->nclass, sizeof *x->delta);
	x->out = malloc(maxstates * sizeof *x->out);
	x->out_next = malloc((x->npat ? x->npat : 1) * sizeof *x->out_next);
	fail = calloc(maxstates, sizeof *fail);
	queue = malloc(maxstates * sizeof *queue);
	if (!x->delta || !x->out || !x->out_next || !fail || !queue)
		goto fail;
	for (size_t s = 0; s < maxstates; s++)
		x->out[s] = -1;
	/* the trie (delta 0 = no edge yet; state 0 is the root) */
	x->nstates = 1;
	for (size_t i = 0; i < x->npat; i++) {
		uint32_t s = 0;
		for (size_t k = 0; k < x->pat[i].len; k++) {
			uint32_t c = x->cls[x->pat[i].p[k]];
			uint32_t *d = &x->delta[(size_t)s * x->nclass + c];
			if (*d == 0)
				*d = x->nstates++;
			s = *d;
		}
		x->out_next[i] = x->out[s];
		x->out[s] = (int32_t)i;
	}
	/* failure links, BFS, completing delta into a DFA */
	size_t qh = 0, qt = 0;
	for (uint32_t c = 0; c < x->nclass; c++) {
		uint32_t t = x->delta[c];
		if (t) {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	while (qh < qt) {
		uint32_t s = queue[qh++];
		/* outputs of the failure state are outputs here too: chain the
		 * lists by appending the fail state's list at our tail */
		if (x->out[fail[s]] >= 0) {
			if (x->out[s] < 0) {
				x->out[s] = x->out[fail[s]];
			} else {
				int32_t p = x->out[s];
				while (x->out_next[p] >= 0 && x->out_next[p] != x->out[fail[s]])
					p = x->out_next[p];
				if (x->out_next[p] < 0)
					x->out_next[p] = x->out[fail[s]];
			}
		}
		for (uint32_t c = 0; c < x->nclass; c++) {
			uint32_t *d = &x->delta[(size_t)s * x->nclass + c];
			uint32_t fs = x->delta[(size_t)fail[s] * x->nclass + c];
			if (*d) {
				fail[*d] = fs;
				queue[qt++] = *d;
			} else {
				*d = fs;
			}
		}
	}
	free(fail);
	free(queue);
	fail = queue = NULL;
	if ((uint64_t)x->nstates * x->nclass >= (1u << 31))
		goto fail;
	x->fast = malloc((size_t)x->nstates * x->nclass * sizeof *x->fast);
	if (x->fast == NULL)
		goto fail;
	for (size_t i = 0; i < (size_t)x->nstates * x->nclass; i++) {
		uint32_t t = x->delta[i];
		x->fast[i] = ((t * x->nclass) << 1) | (x->out[t] >= 0);
	}
	if (build_shift(x) < 0)
		goto fail;
	*out = x;
	return 0;
fail:
	free(fail);
	free(queue);
	al_exfil_free(x);
	return r;
}

void al_exfil_stream_init(struct al_exfil_stream *s, const struct al_exfil *x)
{
	memset(s, 0, sizeof *s);
	s->x = x;
}

/* The automaton over p, with the skip: at the root state (no pattern
 * prefix in progress) whole windows where no pattern can start are jumped
 * over; anywhere else, and for the last bytes of a chunk (a window that does
 * not fit), one table lookup per byte. A pattern starting at a position the
 * skip passed cannot exist (build_shift); one starting anywhere else is
 * followed by the automaton from a root state at or before its start. */
static size_t run(const struct al_exfil *x, uint32_t *state, uint64_t *off, const unsigned char *p,
                  size_t len, al_exfil_cb cb, void *ctx)
{
	const uint32_t nc = x->nclass;
	const uint32_t *fast = x->fast;
	const uint8_t *cls = x->cls;
	const uint8_t *shift = x->shift;
	const size_t m = x->m;
	uint32_t so = *state * nc; /* the state's row offset */
	size_t hits = 0, i = 0;

	while (i < len) {
		if (so == 0 && shift != NULL) {
			while (i + m <= len) {
				uint8_t s = shift[wm_hash(p + i + m - WM_B)];
				if (s == 0)
					break;
				i += s;
			}
			if (i >= len)
				break;
		}
		do {
			uint32_t v = fast[so + cls[p[i]]];
			so = v >> 1;
			if (__builtin_expect(v & 1, 0)) {
				uint32_t st = so / nc;
				for (int32_t k = x->out[st]; k >= 0; k = x->out_next[k]) {
					struct al_exfil_hit h = {.token = x->pat[k].token,
					                         .variant = x->pat[k].variant,
					                         .end = *off + i + 1};
					hits++;
					if (cb && cb(ctx, &h)) {
						*state = st;
						*off += i + 1;
						return hits;
					}
				}
			}
			i++;
		} while (i < len && so != 0);
	}
	*state = so / nc;
	*off += len;
	return hits;
}

size_t al_exfil_feed(struct al_exfil_stream *s, const void *data, size_t len, al_exfil_cb cb,
                     void *ctx)
{
	if (s->x == NULL || s->x->npat == 0)
		return 0;
	return run(s->x, &s->state, &s->off, data, len, cb, ctx);
}

/* the next LF or CR in [p, end), or end */
static const unsigned char *next_break(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
	const unsigned char *e = nl ? nl : end;
	const unsigned char *cr = memchr(p, '\r', (size_t)(e - p));
	return cr ? cr : e;
}

size_t al_exfil_feed_unwrapped(struct al_exfil_stream *s, const void *data, size_t len,
                               al_exfil_cb cb, void *ctx)
{
	const unsigned char *p = data, *end = p + len;
	unsigned char buf[16384];
	size_t hits = 0, have = 0;

	if (s->x == NULL || s->x->npat == 0)
		return 0;
	/* the pieces between line breaks are gathered into one buffer (every
	 * CR and LF goes: a CR and its LF may come in two writes), so that
	 * the skip works over whole lines, not line by line */
	while (p < end || have > 0) {
		while (p < end && have < sizeof buf) {
			const unsigned char *q = next_break(p, end);
			size_t n = (size_t)(q - p);
			if (n > sizeof buf - have)
				n = sizeof buf - have;
			memcpy(buf + have, p, n);
			have += n;
			p += n;
			if (p < end && (*p == '\n' || *p == '\r'))
				p++;
		}
		if (have) {
			uint64_t before = s->off;
			size_t h = run(s->x, &s->state, &s->off, buf, have, cb, ctx);
			hits += h;
			if (h && cb && s->off - before < have)
				return hits; /* the callback stopped it */
			have = 0;
		}
	}
	return hits;
}

int al_exfil_feed_compressed(struct al_exfil_stream *s, const void *data, size_t len, bool raw,
                             uint64_t max_out, al_exfil_cb cb, void *ctx)
{
	z_stream *z = s->z;
	unsigned char buf[16384];
	int hits = 0;

	if (s->x == NULL)
		return 0;
	if (z == NULL) {
		z = calloc(1, sizeof *z);
		if (z == NULL)
			return -1;
		/* zlib is loaded on first use; a confined process (the proxy)
		 * must have called al_zlib_load before its confinement */
		if (al_zlib_load(NULL) < 0) {
			free(z);
			return -1;
		}
		/* 32 + 15: gzip or zlib, detected; -15: raw deflate */
		if (al_zlib_inflate_init2(z, raw ? -15 : 32 + 15) != Z_OK) {
			free(z);
			return -1;
		}
		s->z = z;
	}
	z->next_in = (unsigned char *)(uintptr_t)data;
	z->avail_in = (uInt)len;
	while (z->avail_in > 0) {
		int zr;
		if (s->zoff >= max_out)
			return hits;
		z->next_out = buf;
		z->avail_out = sizeof buf;
		zr = sym_inflate(z, Z_NO_FLUSH);
		size_t got = sizeof buf - z->avail_out;
		if (got) {
			s->zoff += 0; /* offsets of inflated bytes kept in run() */
			hits += (int)run(s->x, &s->zstate, &s->zoff, buf, got, cb, ctx);
		}
		if (zr == Z_STREAM_END) {
			/* concatenated gzip members: start the next one */
			if (z->avail_in > 0 && sym_inflateReset(z) != Z_OK)
				return -1;
			continue;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return hits ? hits : -1;
		if (zr == Z_BUF_ERROR && got == 0)
			break;
	}
	return hits;
}

void al_exfil_stream_end(struct al_exfil_stream *s)
{
	if (s->z) {
		sym_inflateEnd(s->z);
		free(s->z);
		s->z = NULL;
	}
}
