/* Rewriting the argument area in place (see proctitle.h). */
#include "util/proctitle.h"

#include <string.h>

extern char **environ;

static char *area_start;
static size_t area_len;
static char *env_start;
static size_t env_len;

void al_proctitle_save(int argc, char **argv)
{
	size_t n = 0;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	area_start = argv[0];
	/* argv strings are laid out back to back by the kernel */
	area_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
	/* and so are the environment strings, as the process started with them */
	if (environ == NULL || environ[0] == NULL)
		return;
	while (environ[n])
		n++;
	env_start = environ[0];
	env_len = (size_t)(environ[n - 1] + strlen(environ[n - 1]) + 1 - environ[0]);
}

void al_proctitle_clear_environ(void)
{
	if (env_start && env_len)
		memset(env_start, 0, env_len);
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
