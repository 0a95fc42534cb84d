/* libFuzzer target: TLS ClientHello SNI extraction. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/tls_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[AL_NAME_MAX];
	if (al_tls_client_hello_sni(data, size, name) == AL_SNI_FOUND && strlen(name) > 253)
		__builtin_trap();
	return 0;
}
