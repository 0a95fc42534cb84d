/* A strict, allocation-free JSON reader for event records: validates one
 * JSON text (RFC 8259, UTF-8 only, bounded depth) and walks the members of
 * an object as raw spans. Used on hostile input by verify, show and the
 * writer's check of caller-supplied fields. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum al_jtype {
	AL_J_STRING,
	AL_J_NUMBER,
	AL_J_OBJECT,
	AL_J_ARRAY,
	AL_J_TRUE,
	AL_J_FALSE,
	AL_J_NULL,
};

/* A value as a span of the input: for strings, p/n cover the inside of the
 * quotes (still escaped); for every other type the whole value text. */
struct al_jval {
	enum al_jtype type;
	const char *p;
	size_t n;
};

#define AL_JSCAN_MAX_DEPTH 64

/* Validate that s[0..n) is exactly one JSON value (no surrounding
 * whitespace allowed when strict_ws). Returns 0 and fills v, or -EINVAL. */
int al_jscan_value(const char *s, size_t n, bool strict_ws, struct al_jval *v);

/* Iterate the members of an already validated object value. */
struct al_jiter {
	const char *p;
	const char *end;
};
void al_jiter_init(struct al_jiter *it, const struct al_jval *obj);
/* 1 and key/val filled, 0 at the end. Only valid on validated input. */
int al_jiter_next(struct al_jiter *it, struct al_jval *key, struct al_jval *val);

/* Iterate the elements of a validated array (init with al_jiter_init). */
int al_jarr_next(struct al_jiter *it, struct al_jval *val);

/* Find member key (an ASCII name without escapes) in a validated object. */
bool al_jobj_get(const struct al_jval *obj, const char *key, struct al_jval *val);

/* True when a string span equals s exactly (no escapes in the span). */
bool al_jstr_eq(const struct al_jval *v, const char *s);
/* Parse a number span as a non-negative integer without sign, fraction or
 * exponent; -EINVAL otherwise (or on overflow). */
int al_jnum_u64(const struct al_jval *v, uint64_t *out);
/* Unescape a string span into out (capacity cap, always NUL-terminated,
 * truncated if needed). Returns the full unescaped length. */
size_t al_jstr_unescape(const struct al_jval *v, char *out, size_t cap);
