/* Loading an optional shared library on first use (dlib.h). The handles are
 * kept for the process's life: nothing is ever unloaded. */
#define _GNU_SOURCE
#include "util/dlib.h"

#include <dlfcn.h>
#include <errno.h>

int al_dl_load(void **handle, const char *soname, const char *package,
               const struct al_dl_sym *syms, size_t n, const char *stage,
               struct al_error *err)
{
	void *h;

	if (*handle)
		return 0;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return al_error_set(err, ENOENT, stage, "loading %s (Debian package %s): %s", soname,
		                    package, dlerror());
	for (size_t i = 0; i < n; i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			int r = al_error_set(err, ENOENT, stage, "%s (Debian package %s) has no symbol %s",
			                     soname, package, syms[i].name);
			for (size_t k = 0; k <= i; k++)
				*syms[k].slot = NULL;
			dlclose(h);
			return r;
		}
	}
	*handle = h;
	return 0;
}
