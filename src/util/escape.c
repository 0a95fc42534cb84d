/* Terminal-safe escaping of untrusted text (escape.h). */
#define _GNU_SOURCE
#include "util/escape.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

bool al_escape_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 ||                     /* C0: ESC, BEL, CR, LF, ... */
	       (cp >= 0x7f && cp <= 0x9f) ||     /* DEL and C1 (CSI, OSC, NEL, ...) */
	       cp == 0x061c ||                   /* ARABIC LETTER MARK */
	       (cp >= 0x200e && cp <= 0x200f) || /* LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) || /* LS, PS, LRE, RLE, PDF, LRO, RLO */
	       (cp >= 0x2066 && cp <= 0x2069);   /* LRI, RLI, FSI, PDI */
}

/* The escape (or the bytes) for the character at p; *used says how many
 * input bytes it stands for. out holds at most 8 bytes plus a NUL. */
static size_t escape_one(const unsigned char *p, size_t n, char out[12], size_t *used)
{
	uint32_t cp;
	size_t l = al_utf8_decode(p, n, &cp);

	if (l == 0) { /* invalid or cut-short UTF-8: show the byte */
		*used = 1;
		return (size_t)snprintf(out, 12, "\\x%02x", p[0]);
	}
	*used = l;
	if (cp == '\n')
		return (size_t)snprintf(out, 12, "\\n");
	if (cp == '\t')
		return (size_t)snprintf(out, 12, "\\t");
	if (cp == '\r')
		return (size_t)snprintf(out, 12, "\\r");
	if (cp == '\\')
		return (size_t)snprintf(out, 12, "\\\\");
	if (al_escape_cp_unsafe(cp))
		return (size_t)snprintf(out, 12, cp < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
	memcpy(out, p, l);
	out[l] = '\0';
	return l;
}

size_t al_escape_str(char *buf, size_t cap, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len = 0;

	if (cap == 0)
		return 0;
	while (i < n) {
		char one[12];
		size_t used, k = escape_one(p + i, n - i, one, &used);
		if (len + k >= cap)
			break;
		memcpy(buf + len, one, k);
		len += k;
		i += used;
	}
	buf[len] = '\0';
	return len;
}

void al_escape_fput(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		char one[12];
		size_t used, k = escape_one(p + i, n - i, one, &used);
		fwrite(one, 1, k, out);
		i += used;
	}
}

void al_escape_fputs(FILE *out, const char *s)
{
	al_escape_fput(out, s, strlen(s));
}

void al_escape_printf(FILE *out, const char *fmt, ...)
{
	char small[1024], *text = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof small) {
		va_start(ap, fmt);
		if (vasprintf(&text, fmt, ap) < 0)
			text = NULL;
		va_end(ap);
		if (text == NULL) { /* out of memory: the cut message, still escaped */
			text = small;
			n = (int)strlen(small);
		}
	}
	if (n > 0 && text[n - 1] == '\n') {
		al_escape_fput(out, text, (size_t)n - 1);
		fputc('\n', out);
	} else {
		al_escape_fput(out, text, (size_t)n);
	}
	if (text != small)
		free(text);
}
