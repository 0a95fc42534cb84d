/* libFuzzer target for the exfil search's HTTP request-stream follower
 * (src/monitor/exfil_http.c): arbitrary client bytes -- heads, framing,
 * gzip/deflate bodies -- fed in chunks the input chooses, in HTTP and raw
 * mode, must be handled without fault, bounded, and give one of the three
 * answers; a stream reported done is never fed again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "monitor/exfil_http.h"

static struct al_exfil *x;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const toks[] = {"AKIAexampleTOKENabcdef0123456789XYZWVUTS",
	                                   "sk7Hh2Jj3Kk4Ll5Mm6Nn7Bb8Vv9Cc0Xx1Zz2Aa3Q"};
	struct al_exfil_http h;

	if (x == NULL && al_exfil_build(&x, toks, 2) < 0)
		abort();
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 251;
	enum al_exfil_http_mode mode = (data[0] & 0x80) ? AL_EXFIL_RAW : AL_EXFIL_HTTP;
	data++;
	size--;
	al_exfil_http_init(&h, x, mode, 1 << 20);
	for (size_t i = 0; i < size; i += step) {
		int r = al_exfil_http_feed(&h, data + i, size - i < step ? size - i : step);
		if (r < -1 || r > 1)
			abort();
		if (r == -1 && h.error == NULL)
			abort();
		if (r == 1 && (h.where == NULL || h.hit.token > 1))
			abort();
		if (r != 0)
			break;
	}
	al_exfil_http_free(&h);
	return 0;
}
