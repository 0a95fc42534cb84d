/* Parser of gVisor's remote-sink messages (see gvisor_wire.h). Protobuf
 * wire format, only what is needed: varints (at most 10 bytes), length-
 * delimited fields (bounded by the enclosing message), fixed32/fixed64
 * skipped; groups (deprecated wire types 3, 4) and wire types 6, 7 are
 * malformed. Field numbers from gVisor's points/{common,sentry,syscall}.proto. */
#include "sandbox/gvisor_wire.h"

#include <errno.h>
#include <string.h>

struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (b->p >= b->end)
			return -EINVAL;
		uint8_t c = *b->p++;
		if (shift == 63 && (c & 0x7e))
			return -EINVAL; /* more than 64 bits */
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* One field: its number, wire type, and its value (varint) or bytes. */
struct pb_field {
	uint32_t num;
	unsigned wt;
	uint64_t v;
	const uint8_t *data;
	size_t len;
};

static int pb_next(struct pb *b, struct pb_field *f)
{
	uint64_t key, n;
	int r = pb_varint(b, &key);
	if (r < 0)
		return r;
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -EINVAL;
	f->num = (uint32_t)(key >> 3);
	f->wt = (unsigned)(key & 7);
	f->data = NULL;
	f->len = 0;
	switch (f->wt) {
	case 0:
		return pb_varint(b, &f->v);
	case 1:
		if (b->end - b->p < 8)
			return -EINVAL;
		b->p += 8;
		return 0;
	case 5:
		if (b->end - b->p < 4)
			return -EINVAL;
		b->p += 4;
		return 0;
	case 2:
		r = pb_varint(b, &n);
		if (r < 0)
			return r;
		if (n > (uint64_t)(b->end - b->p))
			return -EINVAL;
		f->data = b->p;
		f->len = (size_t)n;
		b->p += n;
		return 0;
	default:
		return -EINVAL;
	}
}

static int want(const struct pb_field *f, unsigned wt)
{
	return f->wt == wt ? 0 : -EINVAL;
}

static void str_of(const struct pb_field *f, struct al_gvwire_str *s)
{
	s->p = (const char *)f->data;
	s->len = f->len;
}

/* gvisor.common.ContextData: thread_group_id (4), cwd (8). */
static int parse_context(const struct pb_field *outer, struct al_gvwire_event *ev)
{
	struct pb b = {outer->data, outer->data + outer->len};
	struct pb_field f;
	int r;

	while (b.p < b.end) {
		r = pb_next(&b, &f);
		if (r < 0)
			return r;
		if (f.num == 4) {
			if (want(&f, 0) < 0)
				return -EINVAL;
			ev->tgid = (int32_t)(uint32_t)f.v;
		} else if (f.num == 8) {
			if (want(&f, 2) < 0)
				return -EINVAL;
			str_of(&f, &ev->cwd);
		}
	}
	return 0;
}

/* gvisor.sentry.ExecveInfo: context_data (1), binary_path (2), argv (3). */
static int parse_exec(struct pb *b, struct al_gvwire_event *ev)
{
	struct pb_field f;
	int r;

	while (b->p < b->end) {
		r = pb_next(b, &f);
		if (r < 0)
			return r;
		switch (f.num) {
		case 1:
			if (want(&f, 2) < 0 || parse_context(&f, ev) < 0)
				return -EINVAL;
			break;
		case 2:
			if (want(&f, 2) < 0)
				return -EINVAL;
			str_of(&f, &ev->path);
			break;
		case 3:
			if (want(&f, 2) < 0)
				return -EINVAL;
			if (ev->argc < AL_GVWIRE_MAX_ARGV)
				str_of(&f, &ev->argv[ev->argc++]);
			ev->argc_total++;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* gvisor.syscall.Open: context_data (1), sysno (3), fd (4), fd_path (5),
 * pathname (6), flags (7), mode (8). */
static int parse_open(struct pb *b, struct al_gvwire_event *ev)
{
	struct pb_field f;
	int r;

	while (b->p < b->end) {
		r = pb_next(b, &f);
		if (r < 0)
			return r;
		switch (f.num) {
		case 1:
			if (want(&f, 2) < 0 || parse_context(&f, ev) < 0)
				return -EINVAL;
			break;
		case 3:
		case 4:
		case 7:
		case 8:
			if (want(&f, 0) < 0)
				return -EINVAL;
			if (f.num == 3)
				ev->sysno = f.v;
			else if (f.num == 4)
				ev->fd = (int64_t)f.v;
			else if (f.num == 7)
				ev->flags = (uint32_t)f.v;
			else
				ev->mode = (uint32_t)f.v;
			break;
		case 5:
		case 6:
			if (want(&f, 2) < 0)
				return -EINVAL;
			str_of(&f, f.num == 5 ? &ev->fd_path : &ev->path);
			break;
		default:
			break;
		}
	}
	return 0;
}

int al_gvwire_parse(const void *msg, size_t len, struct al_gvwire_event *ev)
{
	const uint8_t *m = msg;
	uint16_t hsize;
	struct pb b;

	memset(ev, 0, sizeof *ev);
	ev->tgid = -1;
	ev->fd = -1;
	if (len < 8 || len > AL_GVWIRE_MAX_MSG)
		return -EINVAL;
	hsize = (uint16_t)(m[0] | m[1] << 8);
	ev->type = (uint16_t)(m[2] | m[3] << 8);
	ev->dropped = (uint32_t)m[4] | (uint32_t)m[5] << 8 | (uint32_t)m[6] << 16 | (uint32_t)m[7] << 24;
	/* a newer header may be longer, never shorter */
	if (hsize < 8 || hsize > len)
		return -EINVAL;
	b.p = m + hsize;
	b.end = m + len;
	switch (ev->type) {
	case AL_GVWIRE_SENTRY_EXEC:
		return parse_exec(&b, ev);
	case AL_GVWIRE_SYSCALL_OPEN:
		return parse_open(&b, ev);
	default:
		return 0;
	}
}

int64_t al_gvwire_handshake(const void *msg, size_t len)
{
	struct pb b = {msg, (const uint8_t *)msg + len};
	struct pb_field f;
	int64_t version = -EINVAL;

	if (len > 64)
		return -EINVAL;
	while (b.p < b.end) {
		if (pb_next(&b, &f) < 0)
			return -EINVAL;
		if (f.num == 1) {
			if (f.wt != 0 || f.v > 0xffffffffu)
				return -EINVAL;
			version = (int64_t)f.v;
		}
	}
	return version;
}
