/* Helpers shared between the files of src/spec only (not part of the API the
 * rest of airlock links against). */
#pragma once

#include "spec/spec.h"

/* al_spec_add_volume with relative host paths resolved against base_dir
 * (NULL: the cwd). */
int al_spec_add_volume_at(struct al_spec *spec, const char *arg, const char *base_dir,
			  struct al_error *err);
