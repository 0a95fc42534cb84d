/* A strict tar reader over a byte range of a file (plain or gzip). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "image/image.h"

struct al_tar_entry {
	char path[AL_IMAGE_MAX_PATH + 1];
	char link[AL_IMAGE_MAX_PATH + 1]; /* symlink target or hard link name */
	char type;                        /* 'f' 'd' 'l' 'h' (hard link) 'c' 'b' 'p' */
	uint32_t mode, uid, gid;
	uint32_t devmajor, devminor;
	uint64_t size;
};

struct al_tar {
	int fd;
	uint64_t off, left; /* the raw byte range still to read */
	uint64_t data_left, pad_left;
	bool probed, gz, gz_init, gz_end;
	z_stream z;
	unsigned char in[65536];
	size_t in_len;
};

void al_tar_init(struct al_tar *t, int fd, uint64_t off, uint64_t len);
void al_tar_free(struct al_tar *t);
/* The next entry: 1, 0 at the end, -errno on a malformed or refused archive. */
int al_tar_next(struct al_tar *t, struct al_tar_entry *e);
/* Data of the current entry: bytes read, 0 at its end, -errno. */
ssize_t al_tar_read(struct al_tar *t, void *buf, size_t n);
