/* The run lifecycle: prepare, start the sandbox, supervise, tear down. */
#pragma once

#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

/* airlock's own exit statuses (docs/exit-codes.md). A workload's status
 * passes through unchanged; death by signal N is 128+N. */
enum {
	AL_EXIT_POLICY = 123,     /* killed by airlock policy: rule, canary, sink loss */
	AL_EXIT_TIMEOUT = 124,    /* --timeout / limits.timeout reached */
	AL_EXIT_SETUP = 125,      /* airlock error: bad spec, setup failed, refused to run */
	AL_EXIT_NOEXEC = 126,     /* command found but could not be executed */
	AL_EXIT_NOTFOUND = 127,   /* command not found */
};

struct al_run_result {
	int exit_status;          /* what airlock exits with */
	char verdict[32];         /* "exited", "signaled", "timeout", "policy", "setup-error", ... */
	char run_id[40];
};

int al_run(const struct al_spec *spec, struct al_run_result *res, struct al_error *err);
