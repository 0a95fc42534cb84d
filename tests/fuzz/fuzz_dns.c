/* libFuzzer target: DNS query parsing and answer building. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct al_dns_query q;
	static uint8_t out[AL_DNS_MAX_MSG];
	static const uint8_t addrs[4][16] = {{1, 2, 3, 4}};
	bool idk;

	if (al_dns_parse_query(data, size, &q, &idk) == 0) {
		if (strlen(q.qname_norm) > 253 || q.qname_wire_len > 255)
			__builtin_trap();
		(void)al_dns_build_response(&q, 0, AF_INET6, addrs, 4, 60, out, sizeof(out));
		(void)al_dns_build_response(&q, 3, AF_INET, NULL, 0, 0, out, sizeof(out));
	}
	return 0;
}
