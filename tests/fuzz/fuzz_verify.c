/* libFuzzer target for the log reader and verifier: arbitrary bytes as a
 * log file. Beyond memory safety it checks that the streaming path (bounded
 * line reader over an fd) and the line-at-a-time path reach the same verdict,
 * that every failure names a line and a reason, and that show survives it. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "evidence/show.h"
#include "evidence/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum al_verify_status by_lines(const uint8_t *data, size_t size, const uint8_t *key,
                                      struct al_verify *v)
{
	const char *p = (const char *)data, *end = p + size;

	al_verify_init(v, key);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			/* torn tail: judged by finish, as al_verify_fd does */
			v->lines++;
			return al_verify_finish(v, true);
		}
		if (al_verify_line(v, p, (size_t)(nl - p)) != AL_VERIFY_OK)
			break;
		p = nl + 1;
	}
	return al_verify_finish(v, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	static const uint8_t key[32] = {1, 2, 3};
	struct al_verify a, b;
	struct al_show_stats st;
	enum al_verify_status sa, sb;
	int fd;

	if (!devnull)
		devnull = fopen("/dev/null", "we");
	sa = by_lines(data, size, NULL, &a);
	if (sa != AL_VERIFY_OK && (a.reason[0] == '\0' || a.bad_line > a.lines + 1))
		abort();

	fd = memfd_create("fuzzlog", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	al_verify_init(&b, NULL);
	sb = al_verify_fd(&b, fd);
	if (sa != sb || a.bad_line != b.bad_line)
		abort();
	al_verify_free(&a);
	al_verify_free(&b);

	/* expecting a run id and host can only make a verdict stricter */
	{
		struct al_verify c;
		const char *q = (const char *)data, *e = q + size, *nl;
		al_verify_init(&c, NULL);
		if (al_verify_expect(&c, "evgen-run-0001", "testhost") < 0)
			abort();
		while (q < e && (nl = memchr(q, '\n', (size_t)(e - q))) != NULL) {
			if (al_verify_line(&c, q, (size_t)(nl - q)) != AL_VERIFY_OK)
				break;
			q = nl + 1;
		}
		if (al_verify_finish(&c, q < e) == AL_VERIFY_OK && sa != AL_VERIFY_OK)
			abort();
		al_verify_free(&c);
	}

	/* with a trusted key nothing can verify OK (no input is signed by it) */
	if (by_lines(data, size, key, &a) == AL_VERIFY_OK)
		abort();
	al_verify_free(&a);

	lseek(fd, 0, SEEK_SET);
	if (al_show_fd(fd, devnull, &st) < 0 || st.lines < st.unreadable)
		abort();
	close(fd);
	return 0;
}
