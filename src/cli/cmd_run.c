/* `airlock run`: parse the options into a spec, run it, report. The exit
 * status is the workload's, or one of airlock's documented codes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "airlock-config.h"
#include "cli/cli.h"
#include "image/image.h"
#include "supervisor/run.h"
#include "util/escape.h"

/* image: NAME:TAG or sha256:HEX names an image of the local store: run on
 * its directory, pinned to the digest it is stored under (so a store changed
 * behind airlock's back is refused as drift), unless the spec pins one. */
static int resolve_store_image(struct al_spec *spec, struct al_error *err)
{
	char path[4096], digest[AL_IMAGE_DIGEST_MAX];
	int r;

	if (!al_image_ref_is_store(spec->image))
		return 0;
	r = al_image_resolve(spec->image, path, sizeof path, digest, err);
	if (r < 0)
		return r;
	if (spec->image_digest == NULL && al_spec_set_str(spec, &spec->image_digest, digest) < 0)
		return al_error_set(err, ENOMEM, "image", "resolving %s", spec->image);
	if (al_spec_set_str(spec, &spec->image, path) < 0)
		return al_error_set(err, ENOMEM, "image", "resolving %s", spec->image);
	return 0;
}

int al_cmd_run(int argc, char **argv)
{
	struct al_spec spec;
	struct al_cli_run opts = {0};
	struct al_run_result res;
	struct al_error err = {0};
	int r;

	al_spec_init(&spec);
	r = al_cli_parse_run(argc, argv, &spec, &opts, &err);
	if (r < 0) {
		char buf[AL_ERR_MSG_MAX + 64];
		/* with the OS reason when there is one ("opening spec x: No such file ...") */
		al_escape_printf(stderr, "airlock: %s\n", err.code && err.code != EINVAL
						       ? al_error_format(&err, buf, sizeof buf) : err.msg);
		al_spec_free(&spec);
		return AL_EXIT_SETUP;
	}
	if (opts.help) {
		al_cli_usage_run(stdout);
		al_spec_free(&spec);
		return 0;
	}
	if (opts.version) {
		printf("airlock %s\n", AIRLOCK_VERSION);
		al_spec_free(&spec);
		return 0;
	}
	/* al_cli_parse_run has validated the spec with its overrides applied */
	al_error_clear(&err);
	r = resolve_store_image(&spec, &err);
	if (r < 0) {
		char buf[AL_ERR_MSG_MAX + 64];
		fprintf(stderr, "airlock: %s\n", al_error_format(&err, buf, sizeof buf));
		al_spec_free(&spec);
		return AL_EXIT_SETUP;
	}
	r = al_run(&spec, &res, &err);
	if (err.msg[0] && (!spec.quiet || res.exit_status == AL_EXIT_SETUP)) {
		char buf[AL_ERR_MSG_MAX + 64];
		al_escape_printf(stderr, "airlock: %s\n", al_error_format(&err, buf, sizeof buf));
	}
	al_spec_free(&spec);
	return res.exit_status;
}
