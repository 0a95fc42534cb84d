/* Small fd helpers: full reads/writes that retry on EINTR/short counts. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Write all n bytes; returns 0 or -errno. */
int al_write_all(int fd, const void *buf, size_t n);
/* Read up to n bytes, retrying until n, EOF, or error; returns bytes read or -errno. */
ssize_t al_read_full(int fd, void *buf, size_t n);
/* Write a whole small file at dirfd/path (O_WRONLY|O_CLOEXEC, flags added); 0 or -errno. */
int al_write_file_at(int dirfd, const char *path, const char *data, size_t n, int flags, int mode);
/* Read a whole small file (max cap-1 bytes), NUL-terminate; bytes or -errno. */
ssize_t al_read_file_at(int dirfd, const char *path, char *buf, size_t cap);
