/* c-ares, loaded only in the egress proxy's own process (dns.c), before
 * its confinement: linked, it was mapped and relocated by every run, even
 * the air-gapped ones that never start a proxy. Only its headers are a
 * build dependency (libc-ares-dev); the library is libc-ares2. */
#pragma once

#include <ares.h>

#include "util/error.h"

#define AL_CARES_SYM(name) extern __typeof__(name) *sym_##name

AL_CARES_SYM(ares_library_init);
AL_CARES_SYM(ares_strerror);
AL_CARES_SYM(ares_init_options);
AL_CARES_SYM(ares_set_servers_ports);
AL_CARES_SYM(ares_process_fd);
AL_CARES_SYM(ares_timeout);
AL_CARES_SYM(ares_parse_a_reply);
AL_CARES_SYM(ares_parse_aaaa_reply);
AL_CARES_SYM(ares_query);

#undef AL_CARES_SYM

/* Load libcares.so.2 once; -ENOENT with err naming the library and its
 * package when it cannot be loaded. */
int al_cares_load(struct al_error *err);
