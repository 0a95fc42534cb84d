/* Canaries: the bait and its per-run token (docs/tripwires.md). Generation
 * is pure given the random bytes (libsodium randombytes); the log records
 * a canary's kind, path and the SHA-256 of its token, never the token. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"

#define AL_CANARY_TOKEN_LEN 40

struct al_canary {
	enum al_canary_kind kind;
	char path[4096];     /* sandbox path; "" for env */
	char name[128];      /* env: the variable */
	char token[AL_CANARY_TOKEN_LEN + 1];
	char token_sha256[65];
	char *content;       /* file kinds: what is written; env: "NAME=value" */
	size_t len;
	/* filled once planted and watched */
	uint64_t dev, ino;
};

/* Make canary cs for a workload whose home is `home` (its default paths
 * live there). -ENOMEM / -EINVAL. */
int al_canary_make(const struct al_canary_spec *cs, const char *home, struct al_canary *out);
void al_canary_free(struct al_canary *c);
/* Fill token (len characters of [A-Za-z0-9]) from the CSPRNG. */
void al_canary_token(char *token, size_t len);
