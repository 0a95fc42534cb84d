/* The session control protocol: framing and the exec request's encoding
 * (see proto.h). Everything here is pure except the blocking write. */
#define _GNU_SOURCE
#include "session/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

#define REQ_FIXED (8 + 8 + 4 + 4 + 4)

/* One NUL-terminated string at *p, within end. */
static const char *take_str(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul;
	if (*p >= end)
		return NULL;
	nul = memchr(*p, '\0', (size_t)(end - *p));
	if (nul == NULL)
		return NULL;
	const char *s = (const char *)*p;
	*p = nul + 1;
	return s;
}

int al_exec_request_parse(const uint8_t *p, size_t n, struct al_exec_request *r)
{
	const uint8_t *end = p + n;
	uint32_t i;

	if (n < REQ_FIXED)
		return -EINVAL;
	r->timeout_ns = get64(p);
	r->max_output = get64(p + 8);
	r->flags = get32(p + 16);
	r->argc = get32(p + 20);
	r->envc = get32(p + 24);
	p += REQ_FIXED;
	if (r->argc == 0 || r->argc > AL_EXEC_ARGS_MAX || r->envc > AL_EXEC_ARGS_MAX)
		return -EINVAL;
	if (r->flags & ~(AL_EXEC_STDIN | AL_EXEC_KEEP_TAIL | AL_EXEC_TTY | AL_EXEC_NOTIFY_START | AL_EXEC_TTY_FD) ||
	    ((r->flags & AL_EXEC_TTY_FD) && !(r->flags & AL_EXEC_TTY)))
		return -EINVAL;
	for (i = 0; i < r->argc; i++)
		if ((r->argv[i] = take_str(&p, end)) == NULL)
			return -EINVAL;
	r->argv[r->argc] = NULL;
	if (r->argv[0][0] == '\0')
		return -EINVAL;
	for (i = 0; i < r->envc; i++) {
		const char *e = take_str(&p, end);
		if (e == NULL || e[0] == '=' || strchr(e, '=') == NULL)
			return -EINVAL;
		r->env[i] = e;
	}
	r->env[r->envc] = NULL;
	if ((r->cwd = take_str(&p, end)) == NULL || (r->user = take_str(&p, end)) == NULL)
		return -EINVAL;
	if (p != end)
		return -EINVAL;
	return 0;
}

int al_exec_request_encode(const struct al_exec_request *r, uint8_t **out, size_t *len)
{
	size_t n = REQ_FIXED, i;
	uint8_t *b, *p;

	if (r->argc == 0 || r->argc > AL_EXEC_ARGS_MAX || r->envc > AL_EXEC_ARGS_MAX)
		return -EINVAL;
	for (i = 0; i < r->argc; i++)
		n += strlen(r->argv[i]) + 1;
	for (i = 0; i < r->envc; i++)
		n += strlen(r->env[i]) + 1;
	n += strlen(r->cwd) + 1 + strlen(r->user) + 1;
	if (n + 1 > AL_FRAME_MAX)
		return -E2BIG;
	b = malloc(n);
	if (b == NULL)
		return -ENOMEM;
	put64(b, r->timeout_ns);
	put64(b + 8, r->max_output);
	put32(b + 16, r->flags);
	put32(b + 20, r->argc);
	put32(b + 24, r->envc);
	p = b + REQ_FIXED;
#define PUT(s)                                  \
	do {                                    \
		size_t l_ = strlen(s) + 1;      \
		memcpy(p, s, l_);               \
		p += l_;                        \
	} while (0)
	for (i = 0; i < r->argc; i++)
		PUT(r->argv[i]);
	for (i = 0; i < r->envc; i++)
		PUT(r->env[i]);
	PUT(r->cwd);
	PUT(r->user);
#undef PUT
	*out = b;
	*len = n;
	return 0;
}

/* Drop the frame handed out by the previous al_frame_reader_next. Kept
 * out of band: nothing in the buffer is the peer's but the bytes it sent. */
static void consume_handed_out(struct al_frame_reader *fr)
{
	if (fr->handed) {
		memmove(fr->buf, fr->buf + fr->handed, fr->len - fr->handed);
		fr->len -= fr->handed;
		fr->handed = 0;
	}
}

static bool bad_length(struct al_frame_reader *fr)
{
	if (fr->len >= 4) {
		uint32_t fl = get32(fr->buf);
		if (fl == 0 || fl > AL_FRAME_MAX)
			fr->broken = true;
	}
	return fr->broken;
}

int al_frame_reader_feed(struct al_frame_reader *fr, const void *p, size_t n)
{
	consume_handed_out(fr);
	if (bad_length(fr))
		return -EMSGSIZE;
	if (fr->len + n > fr->cap) {
		size_t nc = fr->cap ? fr->cap : 4096;
		uint8_t *nb;
		while (nc < fr->len + n)
			nc *= 2;
		if (nc > 2 * (size_t)AL_FRAME_MAX + 8)
			return -EMSGSIZE; /* never more than one frame and a read's worth */
		nb = realloc(fr->buf, nc);
		if (nb == NULL)
			return -ENOMEM;
		fr->buf = nb;
		fr->cap = nc;
	}
	memcpy(fr->buf + fr->len, p, n);
	fr->len += n;
	return bad_length(fr) ? -EMSGSIZE : 0;
}

int al_frame_reader_next(struct al_frame_reader *fr, uint8_t *type, const uint8_t **payload, size_t *plen)
{
	uint32_t fl;

	consume_handed_out(fr);
	if (bad_length(fr))
		return -EMSGSIZE;
	if (fr->len < 4)
		return 0;
	fl = get32(fr->buf);
	if (fr->len < 4 + (size_t)fl)
		return 0;
	*type = fr->buf[4];
	*payload = fr->buf + 5;
	*plen = fl - 1;
	fr->handed = 4 + (size_t)fl;
	return 1;
}

void al_frame_reader_free(struct al_frame_reader *fr)
{
	free(fr->buf);
	fr->buf = NULL;
	fr->len = fr->cap = fr->handed = 0;
	fr->broken = false;
}

int al_frame_append(uint8_t **buf, size_t *len, size_t *cap, uint8_t type, const void *payload, size_t n)
{
	if (n + 1 > AL_FRAME_MAX)
		return -EMSGSIZE;
	if (*len + 5 + n > *cap) {
		size_t nc = *cap ? *cap : 4096;
		uint8_t *nb;
		while (nc < *len + 5 + n)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (nb == NULL)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	put32(*buf + *len, (uint32_t)(n + 1));
	(*buf)[*len + 4] = type;
	if (n)
		memcpy(*buf + *len + 5, payload, n);
	*len += 5 + n;
	return 0;
}

int al_cp_request_parse(const uint8_t *p, size_t n, struct al_cp_request *r)
{
	const uint8_t *end = p + n;
	if (n < 8)
		return -EINVAL;
	r->limit = get64(p);
	p += 8;
	r->path = take_str(&p, end);
	r->base = r->path ? take_str(&p, end) : NULL;
	r->user = r->base ? take_str(&p, end) : NULL;
	if (r->path == NULL || r->base == NULL || r->user == NULL || p != end || r->path[0] == '\0' ||
	    strlen(r->path) > AL_CP_PATH_MAX || strlen(r->base) > 255 || strchr(r->base, '/'))
		return -EINVAL;
	if (r->user[0] && strcmp(r->user, "root") != 0) {
		size_t k = strlen(r->user);
		if (k > 5 || strspn(r->user, "0123456789") != k || atol(r->user) > 65535)
			return -EINVAL;
	}
	return 0;
}

int al_cp_request_encode(const struct al_cp_request *r, uint8_t **out, size_t *len)
{
	const char *user = r->user ? r->user : "";
	size_t l = strlen(r->path) + 1, m = strlen(r->base) + 1, u = strlen(user) + 1;
	uint8_t *b = malloc(8 + l + m + u);
	if (b == NULL)
		return -ENOMEM;
	put64(b, r->limit);
	memcpy(b + 8, r->path, l);
	memcpy(b + 8 + l, r->base, m);
	memcpy(b + 8 + l + m, user, u);
	*out = b;
	*len = 8 + l + m + u;
	return 0;
}

bool al_cp_rel_ok(const char *rel)
{
	const char *p = rel;
	if (*p == '\0')
		return true;
	if (strlen(rel) > AL_CP_PATH_MAX)
		return false;
	for (;;) {
		size_t k = strcspn(p, "/");
		if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[k] == '\0')
			return true;
		p += k + 1;
	}
}

#define ENTRY_FIXED (1 + 4 + 8)

int al_cp_entry_parse(const uint8_t *p, size_t n, struct al_cp_entry *e)
{
	const uint8_t *end = p + n;
	if (n < ENTRY_FIXED)
		return -EINVAL;
	e->kind = p[0];
	e->mode = get32(p + 1);
	e->size = get64(p + 5);
	p += ENTRY_FIXED;
	e->rel = take_str(&p, end);
	e->link = e->rel ? take_str(&p, end) : NULL;
	if (e->rel == NULL || e->link == NULL || p != end || !al_cp_rel_ok(e->rel) ||
	    strlen(e->link) > AL_CP_PATH_MAX || (e->mode & ~01777u))
		return -EINVAL;
	if (e->kind != 'f' && e->kind != 'd' && e->kind != 'l')
		return -EINVAL;
	if ((e->kind != 'f' && e->size) || ((e->kind == 'l') != (e->link[0] != '\0')))
		return -EINVAL;
	return 0;
}

int al_cp_entry_encode(const struct al_cp_entry *e, uint8_t **out, size_t *len)
{
	size_t a = strlen(e->rel) + 1, l = strlen(e->link) + 1;
	uint8_t *b = malloc(ENTRY_FIXED + a + l);
	if (b == NULL)
		return -ENOMEM;
	b[0] = e->kind;
	put32(b + 1, e->mode);
	put64(b + 5, e->size);
	memcpy(b + ENTRY_FIXED, e->rel, a);
	memcpy(b + ENTRY_FIXED + a, e->link, l);
	*out = b;
	*len = ENTRY_FIXED + a + l;
	return 0;
}

int al_frame_write(int fd, uint8_t type, const void *payload, size_t n)
{
	uint8_t *b = NULL;
	size_t len = 0, cap = 0, off = 0;
	int r = al_frame_append(&b, &len, &cap, type, payload, n);
	if (r < 0)
		return r;
	while (off < len) {
		ssize_t w = write(fd, b + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EPIPE;
			break;
		}
		off += (size_t)w;
	}
	free(b);
	return r;
}
