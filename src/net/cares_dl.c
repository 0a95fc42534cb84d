/* c-ares loaded on first use (cares_dl.h). */
#include "net/cares_dl.h"

#include <stddef.h>

#include "util/dlib.h"

#define AL_CARES_DEF(name) __typeof__(name) *sym_##name

AL_CARES_DEF(ares_library_init);
AL_CARES_DEF(ares_strerror);
AL_CARES_DEF(ares_init_options);
AL_CARES_DEF(ares_set_servers_ports);
AL_CARES_DEF(ares_process_fd);
AL_CARES_DEF(ares_timeout);
AL_CARES_DEF(ares_parse_a_reply);
AL_CARES_DEF(ares_parse_aaaa_reply);
AL_CARES_DEF(ares_query);

static const struct al_dl_sym cares_syms[] = {
	AL_DL_SYM_ENTRY(ares_library_init),    AL_DL_SYM_ENTRY(ares_strerror),
	AL_DL_SYM_ENTRY(ares_init_options),    AL_DL_SYM_ENTRY(ares_set_servers_ports),
	AL_DL_SYM_ENTRY(ares_process_fd),      AL_DL_SYM_ENTRY(ares_timeout),
	AL_DL_SYM_ENTRY(ares_parse_a_reply),   AL_DL_SYM_ENTRY(ares_parse_aaaa_reply),
	AL_DL_SYM_ENTRY(ares_query),
};

int al_cares_load(struct al_error *err)
{
	static void *handle;
	return al_dl_load(&handle, "libcares.so.2", "libc-ares2", cares_syms,
	                  sizeof cares_syms / sizeof cares_syms[0], "egress", err);
}
