/* A growable byte buffer and a streaming JSON writer over it. Strings are
 * always emitted as valid UTF-8: control characters are \u-escaped and any
 * invalid UTF-8 byte becomes U+FFFD, so hostile bytes can never break a
 * record's framing (one JSON object per line). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct al_buf {
	char *data;    /* always NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
	bool oom;      /* an allocation failed; contents are truncated */
};

void al_buf_init(struct al_buf *b);
void al_buf_free(struct al_buf *b);
void al_buf_reset(struct al_buf *b);
int al_buf_append(struct al_buf *b, const void *data, size_t len);
int al_buf_puts(struct al_buf *b, const char *s);
int al_buf_printf(struct al_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define AL_JSON_MAX_DEPTH 32

struct al_json {
	struct al_buf *b;
	int depth;
	bool first[AL_JSON_MAX_DEPTH]; /* no element written yet at this depth */
	bool after_key;
};

void al_json_init(struct al_json *j, struct al_buf *b);
void al_json_obj_begin(struct al_json *j);
void al_json_obj_end(struct al_json *j);
void al_json_arr_begin(struct al_json *j);
void al_json_arr_end(struct al_json *j);
void al_json_key(struct al_json *j, const char *key);
void al_json_str(struct al_json *j, const char *s);             /* NULL -> null */
void al_json_strn(struct al_json *j, const char *s, size_t n);  /* arbitrary bytes */
void al_json_int(struct al_json *j, int64_t v);
void al_json_uint(struct al_json *j, uint64_t v);
void al_json_double(struct al_json *j, double v);
void al_json_bool(struct al_json *j, bool v);
void al_json_null(struct al_json *j);
void al_json_raw(struct al_json *j, const char *json); /* already-valid JSON value */

/* key + value shorthands */
void al_json_kv_str(struct al_json *j, const char *k, const char *v);
void al_json_kv_int(struct al_json *j, const char *k, int64_t v);
void al_json_kv_uint(struct al_json *j, const char *k, uint64_t v);
void al_json_kv_bool(struct al_json *j, const char *k, bool v);

/* Append s (n bytes) to b as the inside of a JSON string (no quotes). */
void al_json_escape(struct al_buf *b, const char *s, size_t n);
