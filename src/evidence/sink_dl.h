/* The TLS and RELP libraries, loaded only when a tls:// or relp:// sink is
 * configured. Linked normally they cost every run ~2 ms of relocation in the
 * dynamic loader and ~3.5 MiB of resident memory (gnutls, and OpenSSL via
 * librelp), whether or not a sink is used. The sym_* pointers have the
 * exact types of the library's own declarations (typeof), so a call
 * through them is checked like a direct call. */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <librelp.h>

#include "util/error.h"

#define AL_DL_SYM(name) extern __typeof__(name) *sym_##name

AL_DL_SYM(gnutls_bye);
AL_DL_SYM(gnutls_certificate_allocate_credentials);
AL_DL_SYM(gnutls_certificate_free_credentials);
AL_DL_SYM(gnutls_certificate_set_x509_system_trust);
AL_DL_SYM(gnutls_certificate_set_x509_trust_file);
AL_DL_SYM(gnutls_certificate_verification_status_print);
AL_DL_SYM(gnutls_credentials_set);
AL_DL_SYM(gnutls_deinit);
AL_DL_SYM(gnutls_error_is_fatal);
AL_DL_SYM(gnutls_handshake);
AL_DL_SYM(gnutls_handshake_set_timeout);
AL_DL_SYM(gnutls_init);
AL_DL_SYM(gnutls_record_get_direction);
AL_DL_SYM(gnutls_record_recv);
AL_DL_SYM(gnutls_record_send);
AL_DL_SYM(gnutls_server_name_set);
AL_DL_SYM(gnutls_session_get_verify_cert_status);
AL_DL_SYM(gnutls_session_set_verify_cert);
AL_DL_SYM(gnutls_set_default_priority);
AL_DL_SYM(gnutls_strerror);
AL_DL_SYM(gnutls_transport_set_int2);
/* gnutls_free is a variable holding the library's free function */
extern gnutls_free_function *sym_gnutls_free;

AL_DL_SYM(relpCltConnect);
AL_DL_SYM(relpCltReconnect);
AL_DL_SYM(relpCltSendSyslog);
AL_DL_SYM(relpCltSetConnTimeout);
AL_DL_SYM(relpCltSetTimeout);
AL_DL_SYM(relpCltSetUsrPtr);
AL_DL_SYM(relpCltSetWindowSize);
AL_DL_SYM(relpEngineCltConstruct);
AL_DL_SYM(relpEngineCltDestruct);
AL_DL_SYM(relpEngineConstruct);
AL_DL_SYM(relpEngineDestruct);
AL_DL_SYM(relpEngineSetDbgprint);
AL_DL_SYM(relpEngineSetEnableCmd);
AL_DL_SYM(relpEngineSetOnErr);

#undef AL_DL_SYM

/* Load the library once (idempotent); -errno naming the library if it or
 * one of its symbols is missing. */
int al_sink_dl_gnutls(struct al_error *err);
int al_sink_dl_relp(struct al_error *err);
