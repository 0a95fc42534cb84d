/* libFuzzer: the session control protocol (src/session/proto.c), which any
 * local client of a session's socket that passes the peer check feeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "session/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct al_exec_request r;
	struct al_frame_reader rd = {0};
	uint8_t type;
	const uint8_t *p;
	size_t n;

	struct al_cp_request cr;
	struct al_cp_entry ce;

	al_exec_request_parse(data, size, &r);
	al_cp_request_parse(data, size, &cr);
	al_cp_entry_parse(data, size, &ce);
	/* the same bytes as a stream of frames, fed in uneven pieces */
	for (size_t off = 0; off < size;) {
		size_t k = 1 + (data[off] % 7);
		if (k > size - off)
			k = size - off;
		if (al_frame_reader_feed(&rd, data + off, k) < 0)
			break;
		off += k;
		while (al_frame_reader_next(&rd, &type, &p, &n) > 0)
			if (type == AL_FR_EXEC)
				al_exec_request_parse(p, n, &r);
			else if (type == AL_FR_CP_ENTRY)
				al_cp_entry_parse(p, n, &ce);
	}
	al_frame_reader_free(&rd);
	return 0;
}
