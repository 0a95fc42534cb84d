/* Scope-bound ownership: __attribute__((cleanup)) for fds, heap memory and
 * FILE*, with TAKE_FD/TAKE_PTR to hand ownership out of the scope. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void al_freep(void *p)
{
	free(*(void **)p);
}
static inline void al_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void al_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(al_freep)))
#define _cleanup_close_ __attribute__((cleanup(al_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(al_fclosep)))

#define TAKE_FD(fd)                 \
	({                          \
		int _fd_ = (fd);    \
		(fd) = -1;          \
		_fd_;               \
	})
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _p_ = (p);  \
		(p) = NULL;               \
		_p_;                      \
	})

#define AL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
