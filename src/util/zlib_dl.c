/* zlib loaded on first use (zlib_dl.h). */
#include "util/zlib_dl.h"

#include <stddef.h>

#include "util/dlib.h"

__typeof__(inflateInit2_) *sym_inflateInit2_;
__typeof__(inflate) *sym_inflate;
__typeof__(inflateReset) *sym_inflateReset;
__typeof__(inflateEnd) *sym_inflateEnd;

static const struct al_dl_sym zlib_syms[] = {
	AL_DL_SYM_ENTRY(inflateInit2_),
	AL_DL_SYM_ENTRY(inflate),
	AL_DL_SYM_ENTRY(inflateReset),
	AL_DL_SYM_ENTRY(inflateEnd),
};

static void *zlib_handle;

int al_zlib_load(struct al_error *err)
{
	return al_dl_load(&zlib_handle, "libz.so.1", "zlib1g", zlib_syms,
	                  sizeof zlib_syms / sizeof zlib_syms[0], "zlib", err);
}

bool al_zlib_loaded(void)
{
	return zlib_handle != NULL;
}
