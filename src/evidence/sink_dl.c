/* Loading the TLS (gnutls) and RELP (librelp) libraries on first use; see
 * sink_dl.h for why. RTLD_NOW: every symbol is resolved here, at sink open,
 * not in the middle of a run (util/dlib.c). */
#define _GNU_SOURCE
#include "evidence/sink_dl.h"

#include <stddef.h>

#include "util/dlib.h"

#define AL_DL_DEF(name) __typeof__(name) *sym_##name

AL_DL_DEF(gnutls_bye);
AL_DL_DEF(gnutls_certificate_allocate_credentials);
AL_DL_DEF(gnutls_certificate_free_credentials);
AL_DL_DEF(gnutls_certificate_set_x509_system_trust);
AL_DL_DEF(gnutls_certificate_set_x509_trust_file);
AL_DL_DEF(gnutls_certificate_verification_status_print);
AL_DL_DEF(gnutls_credentials_set);
AL_DL_DEF(gnutls_deinit);
AL_DL_DEF(gnutls_error_is_fatal);
AL_DL_DEF(gnutls_handshake);
AL_DL_DEF(gnutls_handshake_set_timeout);
AL_DL_DEF(gnutls_init);
AL_DL_DEF(gnutls_record_get_direction);
AL_DL_DEF(gnutls_record_recv);
AL_DL_DEF(gnutls_record_send);
AL_DL_DEF(gnutls_server_name_set);
AL_DL_DEF(gnutls_session_get_verify_cert_status);
AL_DL_DEF(gnutls_session_set_verify_cert);
AL_DL_DEF(gnutls_set_default_priority);
AL_DL_DEF(gnutls_strerror);
AL_DL_DEF(gnutls_transport_set_int2);
gnutls_free_function *sym_gnutls_free;

AL_DL_DEF(relpCltConnect);
AL_DL_DEF(relpCltReconnect);
AL_DL_DEF(relpCltSendSyslog);
AL_DL_DEF(relpCltSetConnTimeout);
AL_DL_DEF(relpCltSetTimeout);
AL_DL_DEF(relpCltSetUsrPtr);
AL_DL_DEF(relpCltSetWindowSize);
AL_DL_DEF(relpEngineCltConstruct);
AL_DL_DEF(relpEngineCltDestruct);
AL_DL_DEF(relpEngineConstruct);
AL_DL_DEF(relpEngineDestruct);
AL_DL_DEF(relpEngineSetDbgprint);
AL_DL_DEF(relpEngineSetEnableCmd);
AL_DL_DEF(relpEngineSetOnErr);

#define S(name) AL_DL_SYM_ENTRY(name)

static const struct al_dl_sym gnutls_syms[] = {
	S(gnutls_bye), S(gnutls_certificate_allocate_credentials),
	S(gnutls_certificate_free_credentials), S(gnutls_certificate_set_x509_system_trust),
	S(gnutls_certificate_set_x509_trust_file), S(gnutls_certificate_verification_status_print),
	S(gnutls_credentials_set), S(gnutls_deinit), S(gnutls_error_is_fatal), S(gnutls_handshake),
	S(gnutls_handshake_set_timeout), S(gnutls_init), S(gnutls_record_get_direction),
	S(gnutls_record_recv), S(gnutls_record_send), S(gnutls_server_name_set),
	S(gnutls_session_get_verify_cert_status), S(gnutls_session_set_verify_cert),
	S(gnutls_set_default_priority), S(gnutls_strerror), S(gnutls_transport_set_int2),
	{"gnutls_free", (void **)&sym_gnutls_free},
};

static const struct al_dl_sym relp_syms[] = {
	S(relpCltConnect), S(relpCltReconnect), S(relpCltSendSyslog), S(relpCltSetConnTimeout),
	S(relpCltSetTimeout), S(relpCltSetUsrPtr), S(relpCltSetWindowSize),
	S(relpEngineCltConstruct), S(relpEngineCltDestruct), S(relpEngineConstruct),
	S(relpEngineDestruct), S(relpEngineSetDbgprint), S(relpEngineSetEnableCmd),
	S(relpEngineSetOnErr),
};

#undef S

int al_sink_dl_gnutls(struct al_error *err)
{
	static void *handle;
	return al_dl_load(&handle, "libgnutls.so.30", "libgnutls30", gnutls_syms,
			  sizeof gnutls_syms / sizeof gnutls_syms[0], "sink", err);
}

int al_sink_dl_relp(struct al_error *err)
{
	static void *handle;
	return al_dl_load(&handle, "librelp.so.0", "librelp0", relp_syms,
			  sizeof relp_syms / sizeof relp_syms[0], "sink", err);
}
