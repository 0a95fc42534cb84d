/* Strict JSON reader (see jscan.h). Recursive descent over a byte span with a
 * depth bound; strings must be valid UTF-8 and contain no raw control bytes,
 * so a record accepted here can be re-emitted and displayed safely. */
#include "evidence/jscan.h"
#include "util/utf8.h"

#include <errno.h>
#include <string.h>

struct scan {
	const unsigned char *p;
	const unsigned char *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int scan_string(struct scan *s)
{
	/* s->p is just past the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (s->end - s->p < 2)
				return -EINVAL;
			c = s->p[1];
			if (c == 'u') {
				if (s->end - s->p < 6)
					return -EINVAL;
				for (int i = 2; i < 6; i++)
					if (hexval(s->p[i]) < 0)
						return -EINVAL;
				s->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == '\0')
				return -EINVAL;
			s->p += 2;
			continue;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t l = al_utf8_decode(s->p, (size_t)(s->end - s->p), &cp);
			if (l == 0)
				return -EINVAL;
			s->p += l;
			continue;
		}
		s->p++;
	}
	return -EINVAL;
}

static int scan_digits(struct scan *s)
{
	const unsigned char *start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -EINVAL;
}

static int scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return -EINVAL;
	if (*s->p == '0')
		s->p++;
	else if (scan_digits(s) < 0)
		return -EINVAL;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (scan_digits(s) < 0)
			return -EINVAL;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (scan_digits(s) < 0)
			return -EINVAL;
	}
	return 0;
}

static int scan_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -EINVAL;
	s->p += n;
	return 0;
}

static int scan_value(struct scan *s, int depth, struct al_jval *v);

static int scan_container(struct scan *s, int depth, bool object)
{
	struct al_jval tmp;
	char close = object ? '}' : ']';
	int r;

	if (depth >= AL_JSCAN_MAX_DEPTH)
		return -EINVAL;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			skip_ws(s);
			if (s->p >= s->end || *s->p != '"')
				return -EINVAL;
			s->p++;
			r = scan_string(s);
			if (r < 0)
				return r;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -EINVAL;
			s->p++;
		}
		r = scan_value(s, depth + 1, &tmp);
		if (r < 0)
			return r;
		skip_ws(s);
		if (s->p >= s->end)
			return -EINVAL;
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p == close) {
			s->p++;
			return 0;
		}
		return -EINVAL;
	}
}

static int scan_value(struct scan *s, int depth, struct al_jval *v)
{
	const unsigned char *start;
	int r;

	skip_ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	start = s->p;
	switch (*s->p) {
	case '"':
		s->p++;
		r = scan_string(s);
		if (r < 0)
			return r;
		v->type = AL_J_STRING;
		v->p = (const char *)start + 1;
		v->n = (size_t)(s->p - start) - 2;
		return 0;
	case '{':
	case '[':
		s->p++;
		r = scan_container(s, depth, *start == '{');
		v->type = *start == '{' ? AL_J_OBJECT : AL_J_ARRAY;
		break;
	case 't':
		r = scan_lit(s, "true");
		v->type = AL_J_TRUE;
		break;
	case 'f':
		r = scan_lit(s, "false");
		v->type = AL_J_FALSE;
		break;
	case 'n':
		r = scan_lit(s, "null");
		v->type = AL_J_NULL;
		break;
	default:
		r = scan_number(s);
		v->type = AL_J_NUMBER;
		break;
	}
	if (r < 0)
		return r;
	v->p = (const char *)start;
	v->n = (size_t)(s->p - start);
	return 0;
}

int al_jscan_value(const char *str, size_t n, bool strict_ws, struct al_jval *v)
{
	struct scan s = {(const unsigned char *)str, (const unsigned char *)str + n};
	int r;

	if (strict_ws && n > 0 &&
	    (str[0] == ' ' || str[0] == '\t' || str[0] == '\n' || str[0] == '\r'))
		return -EINVAL;
	r = scan_value(&s, 0, v);
	if (r < 0)
		return r;
	if (!strict_ws)
		skip_ws(&s);
	return s.p == s.end ? 0 : -EINVAL;
}

/* Skip one validated value starting at p (after whitespace); returns its end. */
static const char *skip_value(const char *p, const char *end, struct al_jval *v)
{
	struct scan s = {(const unsigned char *)p, (const unsigned char *)end};
	if (scan_value(&s, 0, v) < 0)
		return end;
	return (const char *)s.p;
}

static const char *skip_ws_c(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

void al_jiter_init(struct al_jiter *it, const struct al_jval *obj)
{
	/* past the '{', before the closing '}' */
	it->p = obj->p + 1;
	it->end = obj->p + obj->n - 1;
}

int al_jiter_next(struct al_jiter *it, struct al_jval *key, struct al_jval *val)
{
	it->p = skip_ws_c(it->p, it->end);
	if (it->p < it->end && *it->p == ',')
		it->p = skip_ws_c(it->p + 1, it->end);
	if (it->p >= it->end || *it->p != '"')
		return 0;
	it->p = skip_value(it->p, it->end, key);
	it->p = skip_ws_c(it->p, it->end);
	if (it->p >= it->end || *it->p != ':')
		return 0;
	it->p = skip_value(it->p + 1, it->end, val);
	return 1;
}

int al_jarr_next(struct al_jiter *it, struct al_jval *val)
{
	it->p = skip_ws_c(it->p, it->end);
	if (it->p < it->end && *it->p == ',')
		it->p = skip_ws_c(it->p + 1, it->end);
	if (it->p >= it->end)
		return 0;
	it->p = skip_value(it->p, it->end, val);
	return 1;
}

bool al_jobj_get(const struct al_jval *obj, const char *key, struct al_jval *val)
{
	struct al_jiter it;
	struct al_jval k, v;

	if (obj->type != AL_J_OBJECT)
		return false;
	al_jiter_init(&it, obj);
	while (al_jiter_next(&it, &k, &v)) {
		if (al_jstr_eq(&k, key)) {
			*val = v;
			return true;
		}
	}
	return false;
}

bool al_jstr_eq(const struct al_jval *v, const char *s)
{
	size_t n = strlen(s);
	return v->type == AL_J_STRING && v->n == n && memcmp(v->p, s, n) == 0;
}

int al_jnum_u64(const struct al_jval *v, uint64_t *out)
{
	uint64_t x = 0;

	if (v->type != AL_J_NUMBER || v->n == 0 || v->n > 20)
		return -EINVAL;
	if (v->n > 1 && v->p[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < v->n; i++) {
		unsigned d;
		if (v->p[i] < '0' || v->p[i] > '9')
			return -EINVAL;
		d = (unsigned)(v->p[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

static size_t put_utf8(char *tmp, uint32_t cp)
{
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	tmp[0] = (char)(0xf0 | (cp >> 18));
	tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	tmp[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const char *p)
{
	uint32_t x = 0;
	for (int i = 0; i < 4; i++)
		x = (x << 4) | (uint32_t)hexval((unsigned char)p[i]);
	return x;
}

size_t al_jstr_unescape(const struct al_jval *v, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < v->n) {
		char tmp[4];
		size_t tl = 1;
		char c = v->p[i];

		if (c != '\\') {
			tmp[0] = c;
			i++;
		} else if (i + 1 < v->n && v->p[i + 1] == 'u' && i + 6 <= v->n) {
			uint32_t cp = hex4(v->p + i + 2);
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= v->n && v->p[i] == '\\' &&
			    v->p[i + 1] == 'u') {
				uint32_t lo = hex4(v->p + i + 2);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			/* lone surrogates cannot be UTF-8: show them as U+FFFD */
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			tl = put_utf8(tmp, cp);
		} else if (i + 1 < v->n) {
			switch (v->p[i + 1]) {
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			default:
				tmp[0] = v->p[i + 1];
				break;
			}
			i += 2;
		} else {
			break;
		}
		for (size_t k = 0; k < tl; k++, o++)
			if (o + 1 < cap)
				out[o] = tmp[k];
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}
