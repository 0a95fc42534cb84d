/* The sink spool: while the remote log server is away (on_sink_failure:
 * spool) records go to a private file beside the log and come back out in
 * the order they went in. Memory stays bounded: one record at a time. */
#define _GNU_SOURCE
#include "evidence/sink_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdutil.h"

#define ENTRY_HDR 12 /* u64 seq + u32 len */

struct al_spool {
	int fd;
	char *path;
	uint64_t rd_off;     /* next entry to peek */
	uint64_t wr_off;     /* end of the last entry */
	uint64_t peeked_len; /* bytes of the peeked entry, 0 if none */
	uint64_t pending;
};

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int al_spool_open(struct al_spool **out, const char *dir, const char *run_id, struct al_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct al_spool *sp;

	/* The run id becomes a file name: refuse anything that could leave dir. */
	if (!run_id[0] || strchr(run_id, '/') || !strcmp(run_id, ".") || !strcmp(run_id, ".."))
		return al_error_set(err, EINVAL, "sink", "spool: bad run id '%s'", run_id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return al_error_errno(err, "sink", "creating spool directory %s", dir);
	if (asprintf(&path, "%s/%s.sink-spool", dir, run_id) < 0)
		return al_error_set(err, ENOMEM, "sink", "spool path");
	/* O_EXCL + O_NOFOLLOW: never append to (or through) something that was
	 * already there; 0600 because records carry the workload's output. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return al_error_errno(err, "sink", "creating spool file %s", path);
	/* held for the run: `airlock log push` refuses a spool still in use */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return al_error_errno(err, "sink", "locking spool file %s", path);
	sp = calloc(1, sizeof *sp);
	if (!sp)
		return al_error_set(err, ENOMEM, "sink", "spool");
	sp->fd = TAKE_FD(fd);
	sp->path = TAKE_PTR(path);
	*out = sp;
	return 0;
}

int al_spool_append(struct al_spool *sp, uint64_t seq, const char *line, size_t len,
                    struct al_error *err)
{
	unsigned char hdr[ENTRY_HDR];
	ssize_t n;

	if (len > UINT32_MAX)
		return al_error_set(err, EMSGSIZE, "sink", "spool %s: record of %zu bytes",
		                    sp->path, len);
	put_le(hdr, seq, 8);
	put_le(hdr + 8, len, 4);
	struct iovec iov[2] = {
	    {.iov_base = hdr, .iov_len = sizeof hdr},
	    {.iov_base = (void *)line, .iov_len = len},
	};
	size_t total = sizeof hdr + len, done = 0;
	int i = 0;
	/* pwritev at our own offset: a short write is resumed, and a failed
	 * append leaves wr_off where it was, so the spool never holds half an
	 * entry that a later append would follow. */
	while (done < total) {
		n = pwritev(sp->fd, iov + i, 2 - i, (off_t)(sp->wr_off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return al_error_errno(err, "sink", "writing spool %s", sp->path);
		}
		done += (size_t)n;
		while (i < 2 && (size_t)n >= iov[i].iov_len) {
			n -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	sp->wr_off += total;
	sp->pending++;
	return 0;
}

static int pread_full(struct al_spool *sp, void *buf, size_t n, uint64_t off, struct al_error *err)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(sp->fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return al_error_errno(err, "sink", "reading spool %s", sp->path);
		if (r == 0)
			return al_error_set(err, EIO, "sink", "reading spool %s: truncated entry",
			                    sp->path);
		done += (size_t)r;
	}
	return 0;
}

int al_spool_peek(struct al_spool *sp, uint64_t *seq, struct al_buf *line, struct al_error *err)
{
	unsigned char hdr[ENTRY_HDR];
	uint64_t len;
	int r;

	if (sp->rd_off >= sp->wr_off)
		return 0;
	r = pread_full(sp, hdr, sizeof hdr, sp->rd_off, err);
	if (r < 0)
		return r;
	len = get_le(hdr + 8, 4);
	if (len > sp->wr_off - sp->rd_off - ENTRY_HDR)
		return al_error_set(err, EIO, "sink", "spool %s: damaged entry at offset %llu",
		                    sp->path, (unsigned long long)sp->rd_off);
	al_buf_reset(line);
	/* In pieces through a small stack buffer: memory is the record, once. */
	for (uint64_t done = 0; done < len;) {
		char chunk[16384];
		size_t n = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
		r = pread_full(sp, chunk, n, sp->rd_off + ENTRY_HDR + done, err);
		if (r < 0)
			return r;
		if (al_buf_append(line, chunk, n) < 0)
			return al_error_set(err, ENOMEM, "sink", "spool %s: %llu byte record",
			                    sp->path, (unsigned long long)len);
		done += n;
	}
	if (len == 0 && al_buf_append(line, "", 0) < 0)
		return al_error_set(err, ENOMEM, "sink", "spool %s", sp->path);
	*seq = get_le(hdr, 8);
	sp->peeked_len = ENTRY_HDR + len;
	return 1;
}

int al_spool_pop(struct al_spool *sp, struct al_error *err)
{
	if (!sp->peeked_len)
		return al_error_set(err, EINVAL, "sink", "spool %s: pop without peek", sp->path);
	sp->rd_off += sp->peeked_len;
	sp->peeked_len = 0;
	sp->pending--;
	if (sp->rd_off == sp->wr_off) {
		/* Drained: start over so the file does not grow across outages. */
		if (ftruncate(sp->fd, 0) < 0)
			return al_error_errno(err, "sink", "truncating spool %s", sp->path);
		sp->rd_off = sp->wr_off = 0;
	}
	return 0;
}

uint64_t al_spool_pending(const struct al_spool *sp)
{
	return sp->pending;
}

const char *al_spool_path(const struct al_spool *sp)
{
	return sp->path;
}

void al_spool_free(struct al_spool *sp)
{
	if (!sp)
		return;
	/* An empty spool is noise; a non-empty one holds records the server
	 * never got, so it stays for the operator. */
	if (sp->pending == 0)
		unlink(sp->path);
	close(sp->fd);
	free(sp->path);
	free(sp);
}

int al_spool_open_existing(struct al_spool **out, const char *path, uint64_t *first, uint64_t *last,
                           struct al_error *err)
{
	_cleanup_close_ int fd = -1;
	struct al_spool *sp;
	struct stat st;
	uint64_t off = 0, n = 0;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "sink", "opening spool %s", path);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "sink", "spool %s", path);
	if (!S_ISREG(st.st_mode))
		return al_error_set(err, EINVAL, "sink", "spool %s is not a regular file", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return al_error_set(err, errno == EWOULDBLOCK ? EBUSY : errno, "sink",
		                    "spool %s is in use (a running airlock still spools to it)",
		                    path);
	sp = calloc(1, sizeof *sp);
	if (!sp)
		return al_error_set(err, ENOMEM, "sink", "spool");
	sp->path = strdup(path);
	if (!sp->path) {
		free(sp);
		return al_error_set(err, ENOMEM, "sink", "spool");
	}
	sp->fd = TAKE_FD(fd);
	sp->wr_off = (uint64_t)st.st_size;
	*first = *last = 0;
	/* every entry must be whole: a damaged spool is reported, not guessed at */
	while (off < sp->wr_off) {
		unsigned char hdr[ENTRY_HDR];
		uint64_t len;
		int r;
		if (sp->wr_off - off < ENTRY_HDR) {
			r = al_error_set(err, EIO, "sink", "spool %s: torn entry at offset %llu",
			                 path, (unsigned long long)off);
			al_spool_close_keep(sp);
			return r;
		}
		r = pread_full(sp, hdr, sizeof hdr, off, err);
		if (r < 0) {
			al_spool_close_keep(sp);
			return r;
		}
		len = get_le(hdr + 8, 4);
		if (len > sp->wr_off - off - ENTRY_HDR) {
			r = al_error_set(err, EIO, "sink", "spool %s: damaged entry at offset %llu",
			                 path, (unsigned long long)off);
			al_spool_close_keep(sp);
			return r;
		}
		if (n == 0)
			*first = get_le(hdr, 8);
		*last = get_le(hdr, 8);
		off += ENTRY_HDR + len;
		n++;
	}
	sp->pending = n;
	*out = sp;
	return 0;
}

int al_spool_skip(struct al_spool *sp, struct al_error *err)
{
	if (!sp->peeked_len)
		return al_error_set(err, EINVAL, "sink", "spool %s: skip without peek", sp->path);
	sp->rd_off += sp->peeked_len;
	sp->peeked_len = 0;
	return 0;
}

int al_spool_discard(struct al_spool *sp, struct al_error *err)
{
	if (ftruncate(sp->fd, 0) < 0)
		return al_error_errno(err, "sink", "truncating spool %s", sp->path);
	if (unlink(sp->path) < 0 && errno != ENOENT)
		return al_error_errno(err, "sink", "removing spool %s", sp->path);
	sp->pending = 0;
	return 0;
}

void al_spool_close_keep(struct al_spool *sp)
{
	if (!sp)
		return;
	close(sp->fd);
	free(sp->path);
	free(sp);
}
