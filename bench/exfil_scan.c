/* Exfil scanning cost (docs/benchmarks.md): al_exfil_feed over 1 GiB in
 * 64 KiB chunks (text-like bytes), with 1 and 16 tokens, against a plain
 * copy of the same bytes (what a proxy does anyway). Build (after ninja):
 *   cc -O2 -I. -Isrc bench/exfil_scan.c build/src/monitor/libal_monitor.a \
 *      build/src/util/libal_util.a -lsodium -lz -o /tmp/exfil_scan
 * run: /tmp/exfil_scan [MiB]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/canary.h"
#include "monitor/exfil.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024, chunk = 65536;
	char *buf = malloc(chunk), *dst = malloc(chunk);
	static char toks[16][41];
	const char *tp[16];
	volatile size_t sink = 0;

	for (size_t i = 0; i < chunk; i++) /* printable, like headers/JSON */
		buf[i] = (char)(32 + (rand() % 95));
	for (int i = 0; i < 16; i++) {
		al_canary_token(toks[i], 40);
		tp[i] = toks[i];
	}
	double t0 = now();
	for (size_t n = 0; n < mib * 16; n++) {
		memcpy(dst, buf, chunk);
		sink += (unsigned char)dst[n % chunk];
	}
	double copy = now() - t0;
	printf("copy only: %.1f MiB/s\n", (double)mib / copy);
	for (int nt = 1; nt <= 16; nt += 15) {
		struct al_exfil *x;
		struct al_exfil_stream st;
		if (al_exfil_build(&x, tp, (size_t)nt) < 0)
			return 1;
		al_exfil_stream_init(&st, x);
		t0 = now();
		for (size_t n = 0; n < mib * 16; n++)
			sink += al_exfil_feed(&st, buf, chunk, NULL, NULL);
		double t = now() - t0;
		printf("%2d token(s), %zu patterns: %.1f MiB/s (%.2f ns/byte)\n", nt,
		       al_exfil_patterns(x), (double)mib / t, t * 1e9 / ((double)mib * 1048576.0));
		al_exfil_free(x);
	}
	free(buf);
	free(dst);
	return (int)(sink & 0);
}
