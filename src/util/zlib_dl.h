/* zlib, loaded only where gzip/deflate is decoded (image layers on import,
 * the exfil search of compressed bodies), not by every run: linked, it was
 * mapped and relocated by every `airlock run` and `--version`.
 *
 * Use: al_zlib_load(err) once, before the first inflate -- in a confined
 * process (the egress proxy), before the confinement: after it the library
 * file cannot be opened -- then al_zlib_inflate_init2() and the sym_*
 * pointers in place of zlib's own functions. Only zlib's headers are a
 * build dependency (zlib1g-dev); the library is zlib1g. */
#pragma once

#include <stdbool.h>
#include <zlib.h>

#include "util/error.h"

extern __typeof__(inflateInit2_) *sym_inflateInit2_;
extern __typeof__(inflate) *sym_inflate;
extern __typeof__(inflateReset) *sym_inflateReset;
extern __typeof__(inflateEnd) *sym_inflateEnd;

/* Load libz.so.1 once (idempotent, cheap after the first call); -ENOENT
 * with err naming the library and its package when it cannot be loaded.
 * err may be NULL. */
int al_zlib_load(struct al_error *err);

/* Has al_zlib_load succeeded in this process? */
bool al_zlib_loaded(void);

/* zlib's inflateInit2() macro, through the loaded library. Call only after
 * al_zlib_load succeeded. */
static inline int al_zlib_inflate_init2(z_stream *z, int window_bits)
{
	return sym_inflateInit2_(z, window_bits, ZLIB_VERSION, (int)sizeof(z_stream));
}
