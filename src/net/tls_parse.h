/* Strict, bounded extraction of the server name (SNI) from a TLS
 * ClientHello, as a client sends it first on a CONNECT tunnel or a
 * transparently redirected connection. Fuzzed by fuzz_sni.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "net/policy.h"

enum al_sni_result {
	AL_SNI_MALFORMED = -1,
	AL_SNI_NEED_MORE = 0,
	AL_SNI_FOUND = 1,   /* name holds the normalised host_name */
	AL_SNI_ABSENT = 2,  /* a well-formed ClientHello without server_name */
	AL_SNI_NOT_TLS = 3, /* the first byte is not a TLS handshake record */
};

/* The ClientHello must be complete within the first record (max 16 KiB). */
enum al_sni_result al_tls_client_hello_sni(const uint8_t *buf, size_t len, char name[AL_NAME_MAX]);
