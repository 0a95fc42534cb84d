/* The one UTF-8 decoder every layer uses (JSON writer and reader, spec
 * loader, log timeline): RFC 3629 -- no overlong forms, no surrogates,
 * nothing beyond U+10FFFF. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed sequence at p (n bytes available, n > 0)
 * and its code point in *cp; 0 if malformed or cut short. */
size_t al_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* Is s (n bytes) entirely well-formed UTF-8? */
bool al_utf8_valid(const char *s, size_t n);
