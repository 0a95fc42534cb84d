/* One escaping for all human output: whatever airlock prints for a person
 * (error messages, the workspace change summary, `log show`) may quote
 * strings it does not control -- the spec, the workload's file names and
 * argv, a log's content. None of them may reach a terminal as something it
 * acts on: C0 and C1 controls (ESC, BEL, CSI, newlines...), DEL, bidi
 * marks, embeddings, overrides and isolates, line/paragraph separators, and
 * invalid UTF-8 are written as visible escapes; a backslash is doubled so
 * the escapes are unambiguous. Everything else (printable UTF-8) is kept. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Would a terminal act on (or reorder text around) this code point? */
bool al_escape_cp_unsafe(uint32_t cp);

/* s (n bytes) escaped into buf (cap > 0 bytes), NUL-terminated, cut only
 * between whole characters/escapes. Returns the length written. */
size_t al_escape_str(char *buf, size_t cap, const char *s, size_t n);

void al_escape_fput(FILE *out, const char *s, size_t n);
void al_escape_fputs(FILE *out, const char *s);

/* printf whose whole result is escaped, except one final newline (so
 * `al_escape_printf(stderr, "airlock: %s\n", err.msg)` prints one line). */
void al_escape_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
