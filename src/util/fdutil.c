/* Full-length read/write helpers used by every layer. */
#include "util/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int al_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t al_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int al_write_file_at(int dirfd, const char *path, const char *data, size_t n, int flags, int mode)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, mode);
	int r;
	if (fd < 0)
		return -errno;
	r = al_write_all(fd, data, n);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

ssize_t al_read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	if (fd < 0)
		return -errno;
	if (cap == 0) {
		close(fd);
		return -EINVAL;
	}
	r = al_read_full(fd, buf, cap - 1);
	close(fd);
	if (r >= 0)
		buf[r] = '\0';
	return r;
}
