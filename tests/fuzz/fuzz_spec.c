/* libFuzzer target for the spec loader: arbitrary bytes as a YAML (or, by
 * the first byte, JSON) spec. Beyond memory safety it checks the loader's
 * contract: every failure carries a message, and every spec that loads can be
 * validated, canonicalised and hashed, and frees cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_spec spec;
	struct al_error err = {0};
	const char *name = "fuzz.yaml";
	int r;

	if (size > 0 && data[0] == '{')
		name = "fuzz.json"; /* exercise libfyaml's JSON mode too */
	al_spec_init(&spec);
	r = al_spec_load_string(&spec, name, (const char *)data, size, &err);
	if (r < 0) {
		/* a failure without a message would leave the user guessing */
		if (err.msg[0] == '\0')
			abort();
	} else {
		struct al_buf b;
		char hex[65];

		(void)al_spec_validate(&spec, &err);
		al_buf_init(&b);
		if (al_spec_canonical_json(&spec, &b) < 0 || b.len == 0 || b.data[0] != '{')
			abort();
		al_buf_free(&b);
		if (al_spec_hash(&spec, hex) < 0 || strlen(hex) != 64)
			abort();
	}
	al_spec_free(&spec);
	return 0;
}
