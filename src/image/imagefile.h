/* The declarative image file of `airlock image build` (docs/images.md,
 * "Building an image"): a Debian suite, a package list, extra files, users,
 * a forbid list and an optional name. Parsed as hostile input: bounded in
 * size, depth and counts, every value checked against a narrow alphabet
 * before any of it reaches a command line or the image tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "util/error.h"

#define AL_IMAGEFILE_MAX_BYTES (256 * 1024)
#define AL_IMAGEFILE_MAX_PACKAGES 512
#define AL_IMAGEFILE_MAX_FILES 256
#define AL_IMAGEFILE_MAX_CONTENT (1024 * 1024) /* all files' content together */
#define AL_IMAGEFILE_MAX_USERS 64

enum al_imagefile_base {
	AL_IMAGE_BASE_BUSYBOX = 0, /* dpkg + busybox as /bin/sh and the core tools */
	AL_IMAGE_BASE_ESSENTIAL,   /* Debian's Essential: yes set (bash, coreutils, perl-base...) */
};

struct al_imagefile_file {
	char *path; /* absolute, normalised ("/etc/motd"), no "." or ".." */
	char *content;
	size_t len;
	uint32_t mode; /* permission bits and sticky only (no setuid/setgid) */
	uint32_t uid, gid;
};

struct al_imagefile_user {
	char name[33];
	uint32_t uid, gid;
	char home[256];
	char shell[256];
};

struct al_imagefile {
	char suite[33];
	enum al_imagefile_base base;
	char **packages; /* "name" or "name=version" */
	size_t npackages;
	struct al_imagefile_file *files;
	size_t nfiles;
	struct al_imagefile_user *users;
	size_t nusers;
	bool forbid[AL_LINT_N_CATEGORIES];
	char name[256]; /* NAME:TAG or "" */
	uint64_t epoch; /* SOURCE_DATE_EPOCH */
};

/* Parse text (len bytes, need not be NUL-terminated); errors name
 * file:line:col (file is only used in messages). */
int al_imagefile_parse(const char *file, const char *text, size_t len, struct al_imagefile *f,
                       struct al_error *err);
void al_imagefile_free(struct al_imagefile *f);
/* Checks shared with the builder (also exposed for tests). */
bool al_imagefile_package_valid(const char *s);
bool al_imagefile_path_valid(const char *s);
