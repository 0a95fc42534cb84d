/* libFuzzer target: SOCKS5 greeting + request parsing. */
#include <stddef.h>
#include <stdint.h>

#include "net/socks_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_socks_req req;
	int g = al_socks_parse_greeting(data, size);
	if (g > 0) {
		if ((size_t)g > size)
			__builtin_trap();
		int r = al_socks_parse_request(data + g, size - (size_t)g, &req);
		if (r > 0 && (size_t)r > size - (size_t)g)
			__builtin_trap();
	}
	(void)al_socks_parse_request(data, size, &req);
	return 0;
}
