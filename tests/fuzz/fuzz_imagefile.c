/* libFuzzer target for the image file of `airlock image build`
 * (src/image/imagefile.c): hostile YAML must be refused or parsed into
 * values that hold the parser's promises (bounded counts, narrow alphabets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/imagefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_imagefile f;
	struct al_error err = {0};

	if (al_imagefile_parse("fuzz.yaml", (const char *)data, size, &f, &err) != 0)
		return 0;
	if (f.suite[0] == '\0' || f.npackages > AL_IMAGEFILE_MAX_PACKAGES ||
	    f.nfiles > AL_IMAGEFILE_MAX_FILES || f.nusers > AL_IMAGEFILE_MAX_USERS)
		abort();
	for (size_t i = 0; i < f.npackages; i++)
		if (!al_imagefile_package_valid(f.packages[i]))
			abort();
	for (size_t i = 0; i < f.nfiles; i++)
		if (!al_imagefile_path_valid(f.files[i].path) || (f.files[i].mode & ~01777u))
			abort();
	for (size_t i = 0; i < f.nusers; i++)
		if (f.users[i].uid == 0 || !al_imagefile_path_valid(f.users[i].home))
			abort();
	al_imagefile_free(&f);
	return 0;
}
