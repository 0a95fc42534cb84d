/* libFuzzer target: HTTP request head parser, head rewrite, chunked framing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct al_http_req req;
	static char out[AL_HTTP_MAX_HEAD + 64];
	struct al_chunk c = {0};
	size_t used = 0, off = 0;
	int r;

	{
		/* the transparent path's Host sniffing */
		char host[AL_NAME_MAX];
		bool is_ip, pg;
		uint16_t port = 0;
		if (al_http_sniff_host((const char *)data, size, host, &is_ip, &port, &pg) == 1 &&
		    strlen(host) >= AL_NAME_MAX)
			__builtin_trap();
	}
	r = al_http_parse_request((const char *)data, size, &req);
	if (r == 1) {
		if (req.head_len > size)
			__builtin_trap();
		if (!req.is_connect)
			(void)al_http_rewrite_head((const char *)data, &req, out, sizeof(out));
		off = req.head_len;
	}
	/* the rest (or everything) as a chunked body, in two pieces */
	if (size - off > 1) {
		size_t half = (size - off) / 2;
		r = al_chunk_feed(&c, (const char *)data + off, half, &used);
		if (used > half)
			__builtin_trap();
		if (r == 0)
			(void)al_chunk_feed(&c, (const char *)data + off + half, size - off - half,
			                    &used);
	}
	return 0;
}
