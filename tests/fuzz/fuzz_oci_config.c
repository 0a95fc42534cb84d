/* libFuzzer: an OCI bundle's config.json (src/oci/config.c) and its mapping
 * onto a spec (src/oci/map.c) -- what any caller of airlock-runc create,
 * and whoever wrote the bundle, controls. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_oci_config c;
	struct al_error err = {0};

	al_oci_config_init(&c);
	if (al_oci_config_parse(&c, (const char *)data, size, &err) == 0) {
		/* an annotation naming a spec file would read the fuzzing host's
		 * files: inline specs only */
		const char *sp = al_oci_annotation(&c, "dev.airlock.spec");
		if (sp == NULL || sp[0] != '/') {
			struct al_spec spec;
			al_spec_init(&spec);
			al_oci_config_to_spec(&c, "/bundle", "/log/{run}.jsonl", &spec, &err);
			al_spec_free(&spec);
		}
	}
	al_oci_config_free(&c);
	return 0;
}
