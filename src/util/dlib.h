/* Loading an optional shared library on first use (dlopen), for the
 * libraries only some runs need: linked normally, every run -- and
 * `airlock --version` -- pays their relocation in the dynamic loader and
 * their pages, whether or not it uses them. A caller keeps a table of the
 * symbols it calls (pointers typed with __typeof__ of the library's own
 * declarations, so a call through them is checked like a direct call) and
 * loads it once, before it needs it: fail closed, with an error that names
 * the library and the Debian package that has it. */
#pragma once

#include <stddef.h>

#include "util/error.h"

struct al_dl_sym {
	const char *name;
	void **slot;
};

#define AL_DL_SYM_ENTRY(name) {#name, (void **)&sym_##name}

/* dlopen soname (RTLD_NOW: every symbol resolved here, not in the middle of
 * a run) and fill every slot; idempotent once *handle is set. On failure no
 * slot is left set and -ENOENT is returned with err naming soname and
 * package ("loading libz.so.1 (Debian package zlib1g): ..."). */
int al_dl_load(void **handle, const char *soname, const char *package,
               const struct al_dl_sym *syms, size_t n, const char *stage,
               struct al_error *err);
