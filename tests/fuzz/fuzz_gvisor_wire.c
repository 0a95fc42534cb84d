/* libFuzzer target: gVisor's remote-sink messages (sandbox/gvisor_wire.c),
 * the bytes a compromised sentry chooses. Every string the parser returns
 * must lie inside the input; argv stays within its cap. */
#include <stddef.h>
#include <stdint.h>

#include "sandbox/gvisor_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const struct al_gvwire_str *s, const uint8_t *data, size_t size)
{
	if (s->p == NULL)
		return;
	if ((const uint8_t *)s->p < data || (const uint8_t *)s->p + s->len > data + size)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_gvwire_event ev;

	(void)al_gvwire_handshake(data, size);
	if (al_gvwire_parse(data, size, &ev) < 0)
		return 0;
	if (ev.argc > AL_GVWIRE_MAX_ARGV || ev.argc > ev.argc_total)
		__builtin_trap();
	inside(&ev.path, data, size);
	inside(&ev.cwd, data, size);
	inside(&ev.fd_path, data, size);
	for (size_t i = 0; i < ev.argc; i++)
		inside(&ev.argv[i], data, size);
	return 0;
}
