/* libFuzzer target for the exfil search (src/monitor/exfil.c): arbitrary
 * bytes fed whole and in chunks chosen by the input must give the same
 * matches (a token split across writes is found just the same), and
 * arbitrary "compressed" bodies must be handled without fault. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/exfil.h"

static struct al_exfil *x;

static int count(void *ctx, const struct al_exfil_hit *h)
{
	(void)h;
	(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const toks[] = {"AKIAexampleTOKENabcdef0123456789XYZWVUTS",
	                                   "sk7Hh2Jj3Kk4Ll5Mm6Nn7Bb8Vv9Cc0Xx1Zz2Aa3Q"};
	struct al_exfil_stream a, b, z;
	size_t whole = 0, chunked = 0, zc = 0;

	if (x == NULL && al_exfil_build(&x, toks, 2) < 0)
		abort();
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 97;
	data++;
	size--;
	al_exfil_stream_init(&a, x);
	al_exfil_feed(&a, data, size, count, &whole);
	al_exfil_stream_init(&b, x);
	for (size_t i = 0; i < size; i += step)
		al_exfil_feed(&b, data + i, size - i < step ? size - i : step, count, &chunked);
	if (whole != chunked)
		abort();
	al_exfil_stream_init(&z, x);
	for (size_t i = 0; i < size; i += step)
		if (al_exfil_feed_compressed(&z, data + i, size - i < step ? size - i : step,
		                             (step & 1) != 0, 1 << 20, count, &zc) < 0)
			break;
	al_exfil_stream_end(&z);
	return 0;
}
