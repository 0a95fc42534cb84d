/* Path globs for chaos rules: `*` matches within one path component, `**`
 * any number of components (also none), `?` one character other than `/`,
 * `[abc]` / `[a-z]` / `[!x]` one character of a set. No escapes. */
#pragma once

#include <stdbool.h>

/* Well-formed: non-empty, absolute, brackets closed, `**` only as a whole
 * component. */
bool al_glob_valid(const char *pat);
bool al_glob_match(const char *pat, const char *path);
