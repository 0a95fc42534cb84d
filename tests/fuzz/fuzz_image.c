/* libFuzzer target for the image module's parsers of hostile input: the
 * digest cache file (src/image/cache.c) and the tar reader for image layers
 * (src/image/tar.c, plain and gzip). The first byte picks the parser. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"
#include "image/image_internal.h"
#include "image/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct al_image_tree t;
		char *text = malloc(size);
		if (text == NULL)
			return 0;
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		if (al_image_cache_parse(text, size - 1, &t) == 0) {
			/* a parsed cache is a well-formed tree */
			for (size_t i = 1; i < t.n; i++)
				if (al_image_path_cmp(t.e[i - 1].path, t.e[i].path) >= 0 ||
				    t.e[i].parent >= i || t.e[i].end > t.n)
					abort();
			al_image_tree_free(&t);
		}
		free(text);
		return 0;
	}
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
		struct al_tar *t = malloc(sizeof *t);
		struct al_tar_entry *e = malloc(sizeof *e);
		char buf[4096];
		if (t && e) {
			al_tar_init(t, fd, 0, size - 1);
			for (int n = 0; n < 10000 && al_tar_next(t, e) > 0; n++) {
				if (strlen(e->path) > AL_IMAGE_MAX_PATH ||
				    strlen(e->link) > AL_IMAGE_MAX_PATH)
					abort();
				while (al_tar_read(t, buf, sizeof buf) > 0)
					;
			}
			al_tar_free(t);
		}
		free(t);
		free(e);
	}
	close(fd);
	return 0;
}
