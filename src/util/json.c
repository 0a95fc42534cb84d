/* Byte buffer and streaming JSON writer (see json.h). */
#include "util/json.h"
#include "util/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void al_buf_init(struct al_buf *b)
{
	memset(b, 0, sizeof *b);
}

void al_buf_free(struct al_buf *b)
{
	free(b->data);
	al_buf_init(b);
}

void al_buf_reset(struct al_buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct al_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (extra > SIZE_MAX - b->len - 1)
		goto oom;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	p = realloc(b->data, ncap);
	if (p == NULL)
		goto oom;
	b->data = p;
	b->cap = ncap;
	return 0;
oom:
	b->oom = true;
	return -ENOMEM;
}

int al_buf_append(struct al_buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int al_buf_puts(struct al_buf *b, const char *s)
{
	return al_buf_append(b, s, strlen(s));
}

int al_buf_printf(struct al_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void al_json_escape(struct al_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		unsigned char c = p[i];
		const char *esc = NULL;
		char tmp[8];
		size_t l;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			run++;
			i++;
			continue;
		}
		if (run) {
			al_buf_append(b, p + i - run, run);
			run = 0;
		}
		if (c >= 0x80) {
			uint32_t cp;
			l = al_utf8_decode(p + i, n - i, &cp);
			if (l == 0) {
				al_buf_append(b, "\\ufffd", 6);
				i++;
			} else {
				al_buf_append(b, p + i, l);
				i += l;
			}
			continue;
		}
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			snprintf(tmp, sizeof tmp, "\\u%04x", c);
			esc = tmp;
		}
		al_buf_puts(b, esc);
		i++;
	}
	if (run)
		al_buf_append(b, p + i - run, run);
}

void al_json_init(struct al_json *j, struct al_buf *b)
{
	memset(j, 0, sizeof *j);
	j->b = b;
	j->first[0] = true;
}

static void sep(struct al_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		al_buf_append(j->b, ",", 1);
	j->first[j->depth] = false;
}

static void open_(struct al_json *j, char c)
{
	sep(j);
	al_buf_append(j->b, &c, 1);
	if (j->depth + 1 < AL_JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct al_json *j, char c)
{
	al_buf_append(j->b, &c, 1);
	if (j->depth > 0)
		j->depth--;
}

void al_json_obj_begin(struct al_json *j) { open_(j, '{'); }
void al_json_obj_end(struct al_json *j) { close_(j, '}'); }
void al_json_arr_begin(struct al_json *j) { open_(j, '['); }
void al_json_arr_end(struct al_json *j) { close_(j, ']'); }

void al_json_key(struct al_json *j, const char *key)
{
	sep(j);
	al_buf_append(j->b, "\"", 1);
	al_json_escape(j->b, key, strlen(key));
	al_buf_append(j->b, "\":", 2);
	j->after_key = true;
}

void al_json_strn(struct al_json *j, const char *s, size_t n)
{
	sep(j);
	al_buf_append(j->b, "\"", 1);
	al_json_escape(j->b, s, n);
	al_buf_append(j->b, "\"", 1);
}

void al_json_str(struct al_json *j, const char *s)
{
	if (s == NULL) {
		al_json_null(j);
		return;
	}
	al_json_strn(j, s, strlen(s));
}

void al_json_int(struct al_json *j, int64_t v)
{
	sep(j);
	al_buf_printf(j->b, "%" PRId64, v);
}

void al_json_uint(struct al_json *j, uint64_t v)
{
	sep(j);
	al_buf_printf(j->b, "%" PRIu64, v);
}

void al_json_double(struct al_json *j, double v)
{
	sep(j);
	if (!isfinite(v))
		al_buf_puts(j->b, "null");
	else
		al_buf_printf(j->b, "%.17g", v);
}

void al_json_bool(struct al_json *j, bool v)
{
	sep(j);
	al_buf_puts(j->b, v ? "true" : "false");
}

void al_json_null(struct al_json *j)
{
	sep(j);
	al_buf_puts(j->b, "null");
}

void al_json_raw(struct al_json *j, const char *json)
{
	sep(j);
	al_buf_puts(j->b, json);
}

void al_json_kv_str(struct al_json *j, const char *k, const char *v)
{
	al_json_key(j, k);
	al_json_str(j, v);
}

void al_json_kv_int(struct al_json *j, const char *k, int64_t v)
{
	al_json_key(j, k);
	al_json_int(j, v);
}

void al_json_kv_uint(struct al_json *j, const char *k, uint64_t v)
{
	al_json_key(j, k);
	al_json_uint(j, v);
}

void al_json_kv_bool(struct al_json *j, const char *k, bool v)
{
	al_json_key(j, k);
	al_json_bool(j, v);
}
