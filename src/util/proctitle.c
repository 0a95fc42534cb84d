/* Rewriting the argument area in place (see proctitle.h). */
#include "util/proctitle.h"

#include <string.h>

static char *area_start;
static size_t area_len;

void al_proctitle_save(int argc, char **argv)
{
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	area_start = argv[0];
	/* argv strings are laid out back to back by the kernel */
	area_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
}

void al_proctitle_set(const char *title)
{
	size_t n;

	if (area_start == NULL || area_len == 0)
		return;
	memset(area_start, 0, area_len);
	n = strlen(title);
	if (n >= area_len)
		n = area_len - 1;
	memcpy(area_start, title, n);
}
