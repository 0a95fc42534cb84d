/* A strict tar reader for image layers (ustar, GNU long names, pax path /
 * linkpath / size / uid / gid), over a byte range of a file, gzip or plain
 * (autodetected). Everything in it is hostile input: header checksums are
 * verified, numbers are bounded, names are capped at AL_IMAGE_MAX_PATH, and
 * anything unknown (sparse files, multi-volume) is refused. */
#define _GNU_SOURCE
#include "image/tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/zlib_dl.h"

#define BLOCK 512

void al_tar_init(struct al_tar *t, int fd, uint64_t off, uint64_t len)
{
	memset(t, 0, sizeof *t);
	t->fd = fd;
	t->off = off;
	t->left = len;
}

void al_tar_free(struct al_tar *t)
{
	if (t->gz_init)
		sym_inflateEnd(&t->z);
	t->gz_init = false;
}

/* Raw bytes of the range. */
static ssize_t raw_read(struct al_tar *t, void *buf, size_t n)
{
	ssize_t r;
	if (n > t->left)
		n = (size_t)t->left;
	if (n == 0)
		return 0;
	do
		r = pread(t->fd, buf, n, (off_t)t->off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	t->off += (uint64_t)r;
	t->left -= (uint64_t)r;
	return r;
}

/* Decompressed (or plain) bytes: exactly n, or fewer at the end. */
static ssize_t src_read(struct al_tar *t, void *buf, size_t n)
{
	size_t got = 0;

	if (!t->probed) {
		ssize_t r = raw_read(t, t->in, 2);
		if (r < 0)
			return r;
		t->probed = true;
		t->in_len = (size_t)r;
		if (r == 2 && t->in[0] == 0x1f && t->in[1] == 0x8b) {
			/* zlib is loaded on first use (al_image_import loads it
			 * up front, with a message naming it) */
			if (al_zlib_load(NULL) < 0)
				return -ENOENT;
			if (al_zlib_inflate_init2(&t->z, 15 + 16) != Z_OK)
				return -ENOMEM;
			t->gz = t->gz_init = true;
			t->z.next_in = t->in;
			t->z.avail_in = (uInt)t->in_len;
		}
	}
	if (!t->gz) {
		/* the probe's bytes first */
		while (got < n && t->in_len > 0) {
			size_t k = t->in_len < n - got ? t->in_len : n - got;
			memcpy((char *)buf + got, t->in, k);
			memmove(t->in, t->in + k, t->in_len - k);
			t->in_len -= k;
			got += k;
		}
		while (got < n) {
			ssize_t r = raw_read(t, (char *)buf + got, n - got);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			got += (size_t)r;
		}
		return (ssize_t)got;
	}
	while (got < n && !t->gz_end) {
		int zr;
		if (t->z.avail_in == 0) {
			ssize_t r = raw_read(t, t->in, sizeof t->in);
			if (r < 0)
				return r;
			if (r == 0)
				return -EIO; /* truncated gzip stream */
			t->z.next_in = t->in;
			t->z.avail_in = (uInt)r;
		}
		t->z.next_out = (Bytef *)buf + got;
		t->z.avail_out = (uInt)(n - got);
		zr = sym_inflate(&t->z, Z_NO_FLUSH);
		got = n - t->z.avail_out;
		if (zr == Z_STREAM_END)
			t->gz_end = true;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return -EIO;
		else if (zr == Z_BUF_ERROR && t->z.avail_in != 0)
			return -EIO;
	}
	return (ssize_t)got;
}

static int read_block(struct al_tar *t, unsigned char b[BLOCK])
{
	ssize_t r = src_read(t, b, BLOCK);
	if (r < 0)
		return (int)r;
	if (r == 0)
		return 0;
	if (r != BLOCK)
		return -EIO;
	return 1;
}

/* An octal field (NUL/space terminated), or GNU base-256 for big numbers. */
static int num(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -EINVAL; /* negative */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -EINVAL;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -EINVAL;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	if (i < n && f[i] != '\0' && f[i] != ' ')
		return -EINVAL;
	*out = v;
	return 0;
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want, sum = 0;
	if (num(h + 148, 8, &want) < 0)
		return false;
	for (int i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

/* Read the whole data of the current entry as a string (long names, pax). */
static int slurp(struct al_tar *t, uint64_t size, char **out)
{
	char *buf;
	uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
	ssize_t r;

	if (size > 1024 * 1024)
		return -E2BIG;
	buf = malloc(padded + 1);
	if (buf == NULL)
		return -ENOMEM;
	r = src_read(t, buf, padded);
	if (r < 0 || (uint64_t)r != padded) {
		free(buf);
		return r < 0 ? (int)r : -EIO;
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

static int set_str(char *dst, const char *s, size_t n)
{
	if (n > AL_IMAGE_MAX_PATH || memchr(s, '\0', n))
		return -ENAMETOOLONG;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* pax records "LEN key=value\n" */
static int pax_apply(const char *data, size_t len, struct al_tar_entry *e, bool *have_size,
                     bool *have_path, bool *have_link)
{
	size_t p = 0;
	while (p < len) {
		size_t rl = 0, q = p;
		while (q < len && data[q] >= '0' && data[q] <= '9' && rl < 1000000)
			rl = rl * 10 + (size_t)(data[q++] - '0');
		if (q >= len || data[q] != ' ' || rl == 0 || p + rl > len ||
		    data[p + rl - 1] != '\n')
			return -EINVAL;
		const char *kv = data + q + 1, *end = data + p + rl - 1;
		const char *eq = memchr(kv, '=', (size_t)(end - kv));
		if (eq == NULL)
			return -EINVAL;
		size_t kl = (size_t)(eq - kv), vl = (size_t)(end - eq - 1);
		const char *v = eq + 1;
		if (kl == 4 && memcmp(kv, "path", 4) == 0) {
			if (set_str(e->path, v, vl) < 0)
				return -ENAMETOOLONG;
			*have_path = true;
		} else if (kl == 8 && memcmp(kv, "linkpath", 8) == 0) {
			if (set_str(e->link, v, vl) < 0)
				return -ENAMETOOLONG;
			*have_link = true;
		} else if ((kl == 4 && memcmp(kv, "size", 4) == 0) ||
		           (kl == 3 && memcmp(kv, "uid", 3) == 0) ||
		           (kl == 3 && memcmp(kv, "gid", 3) == 0)) {
			uint64_t x = 0;
			if (vl == 0 || vl > 19)
				return -EINVAL;
			for (size_t i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -EINVAL;
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			if (kv[0] == 's') {
				e->size = x;
				*have_size = true;
			} else if (x > UINT32_MAX) {
				return -EINVAL;
			} else if (kv[0] == 'u') {
				e->uid = (uint32_t)x;
			} else {
				e->gid = (uint32_t)x;
			}
		}
		p += rl;
	}
	return 0;
}

int al_tar_next(struct al_tar *t, struct al_tar_entry *e)
{
	unsigned char h[BLOCK];
	bool have_size = false, have_path = false, have_link = false;
	char *longname = NULL, *longlink = NULL;
	int r;

	/* skip what is left of the previous entry: seek when plain */
	if (!t->gz && t->in_len == 0 && t->probed) {
		uint64_t k = t->data_left + t->pad_left;
		if (k > t->left)
			return -EIO;
		t->off += k;
		t->left -= k;
		t->data_left = t->pad_left = 0;
	}
	while (t->data_left + t->pad_left > 0) {
		unsigned char junk[4096];
		uint64_t k = t->data_left + t->pad_left;
		ssize_t n = src_read(t, junk, k < sizeof junk ? (size_t)k : sizeof junk);
		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		uint64_t used = (uint64_t)n;
		uint64_t d = used < t->data_left ? used : t->data_left;
		t->data_left -= d;
		t->pad_left -= used - d;
	}
	memset(e, 0, sizeof *e);
	for (;;) {
		uint64_t v;
		r = read_block(t, h);
		if (r <= 0)
			goto out; /* 0: end without the zero blocks; accepted */
		bool zero = true;
		for (int i = 0; i < BLOCK && zero; i++)
			zero = h[i] == 0;
		if (zero) {
			r = 0;
			goto out;
		}
		if (!checksum_ok(h)) {
			r = -EBADMSG;
			goto out;
		}
		if (num(h + 124, 12, &v) < 0) {
			r = -EINVAL;
			goto out;
		}
		if (!have_size)
			e->size = v;
		char type = (char)h[156];
		if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
			char *data = NULL;
			r = slurp(t, e->size, &data);
			if (r < 0)
				goto out;
			if (type == 'L') {
				free(longname);
				longname = data;
			} else if (type == 'K') {
				free(longlink);
				longlink = data;
			} else if (type == 'x') {
				e->size = 0;
				r = pax_apply(data, strlen(data), e, &have_size, &have_path,
				              &have_link);
				free(data);
				if (r < 0)
					goto out;
			} else {
				free(data); /* global pax: nothing we use */
			}
			if (!have_size)
				e->size = 0;
			continue;
		}
		if (!have_path) {
			if (longname) {
				r = set_str(e->path, longname, strlen(longname));
			} else {
				char name[256 + 1];
				size_t pl = strnlen((char *)h + 345, 155),
				       nl = strnlen((char *)h, 100);
				bool ustar = memcmp(h + 257, "ustar", 5) == 0;
				if (ustar && pl) {
					memcpy(name, h + 345, pl);
					name[pl] = '/';
					memcpy(name + pl + 1, h, nl);
					nl += pl + 1;
				} else {
					memcpy(name, h, nl);
				}
				r = set_str(e->path, name, nl);
			}
			if (r < 0)
				goto out;
		}
		if (!have_link) {
			if (longlink)
				r = set_str(e->link, longlink, strlen(longlink));
			else
				r = set_str(e->link, (char *)h + 157,
				            strnlen((char *)h + 157, 100));
			if (r < 0)
				goto out;
		}
		if (num(h + 100, 8, &v) < 0 || v > 07777777) {
			r = -EINVAL;
			goto out;
		}
		e->mode = (uint32_t)(v & 07777);
		if (!e->uid && num(h + 108, 8, &v) == 0 && v <= UINT32_MAX)
			e->uid = (uint32_t)v;
		if (!e->gid && num(h + 116, 8, &v) == 0 && v <= UINT32_MAX)
			e->gid = (uint32_t)v;
		if (num(h + 329, 8, &v) == 0 && v <= UINT32_MAX)
			e->devmajor = (uint32_t)v;
		if (num(h + 337, 8, &v) == 0 && v <= UINT32_MAX)
			e->devminor = (uint32_t)v;
		switch (type) {
		case '0':
		case '\0':
		case '7':
			e->type = 'f';
			break;
		case '1':
			e->type = 'h';
			break;
		case '2':
			e->type = 'l';
			break;
		case '3':
			e->type = 'c';
			break;
		case '4':
			e->type = 'b';
			break;
		case '5':
			e->type = 'd';
			break;
		case '6':
			e->type = 'p';
			break;
		default:
			r = -ENOTSUP; /* sparse, multi-volume, ...: refused */
			goto out;
		}
		if (e->type != 'f')
			e->size = e->type == 'h' || e->type == 'l' || e->type == 'd' ? 0 : e->size;
		if (e->size > ((uint64_t)1 << 40)) {
			r = -EFBIG;
			goto out;
		}
		t->data_left = e->size;
		t->pad_left = (BLOCK - e->size % BLOCK) % BLOCK;
		r = 1;
		goto out;
	}
out:
	free(longname);
	free(longlink);
	return r;
}

ssize_t al_tar_read(struct al_tar *t, void *buf, size_t n)
{
	ssize_t r;
	if (n > t->data_left)
		n = (size_t)t->data_left;
	if (n == 0)
		return 0;
	r = src_read(t, buf, n);
	if (r < 0)
		return r;
	if (r == 0)
		return -EIO; /* truncated */
	t->data_left -= (uint64_t)r;
	return r;
}
