/* Ed25519 key files for checkpoint signing: `airlock keygen` output and the
 * loaders used by the log writer (secret) and `airlock log verify` (public).
 * Secrets never pass through stdio buffers and are wiped after use. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/chain.h"
#include "util/cleanup.h"
#include "util/fdutil.h"

static size_t trim_len(const char *s, size_t n)
{
	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static int write_new_file(const char *path, const char *data, size_t n, mode_t mode,
                          struct al_error *err)
{
	_cleanup_close_ int fd = -1;
	int r;

	/* O_EXCL: never overwrite an existing key (it may be the only copy) */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return al_error_errno(err, "keygen", "creating %s", path);
	/* the umask may only have removed bits; make the mode exact */
	if (fchmod(fd, mode) < 0)
		return al_error_errno(err, "keygen", "chmod %s", path);
	r = al_write_all(fd, data, n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		return al_error_set(err, -r, "keygen", "writing %s", path);
	return 0;
}

int al_key_generate_files(const char *prefix, char pub_hex[2 * AL_PUBKEY_LEN + 1],
                          struct al_error *err)
{
	uint8_t pk[AL_PUBKEY_LEN], sk[AL_SECKEY_LEN];
	char seed_hex[2 * AL_SEED_LEN + 2];
	_cleanup_free_ char *keypath = NULL, *pubpath = NULL;
	char line[2 * AL_PUBKEY_LEN + 2];
	int r;

	r = al_evidence_crypto_init(err);
	if (r < 0)
		return r;
	if (asprintf(&keypath, "%s.key", prefix) < 0 || asprintf(&pubpath, "%s.pub", prefix) < 0)
		return al_error_set(err, ENOMEM, "keygen", "out of memory");
	/* check both first so a refused overwrite leaves nothing half-written */
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0)
		return al_error_set(err, EEXIST, "keygen",
		                    "%s or %s already exists; refusing to overwrite", keypath,
		                    pubpath);
	crypto_sign_keypair(pk, sk);
	/* libsodium's secret key is seed || public key: store the seed only */
	al_hex(sk, AL_SEED_LEN, seed_hex);
	sodium_memzero(sk, sizeof sk);
	seed_hex[2 * AL_SEED_LEN] = '\n';
	r = write_new_file(keypath, seed_hex, 2 * AL_SEED_LEN + 1, 0600, err);
	sodium_memzero(seed_hex, sizeof seed_hex);
	if (r < 0)
		return r;
	al_hex(pk, AL_PUBKEY_LEN, pub_hex);
	memcpy(line, pub_hex, 2 * AL_PUBKEY_LEN);
	line[2 * AL_PUBKEY_LEN] = '\n';
	r = write_new_file(pubpath, line, 2 * AL_PUBKEY_LEN + 1, 0644, err);
	if (r < 0) {
		unlink(keypath);
		return r;
	}
	return 0;
}

int al_key_load_secret(const char *path, uint8_t *sk, uint8_t pk[AL_PUBKEY_LEN],
                       struct al_error *err)
{
	_cleanup_close_ int fd = -1;
	char buf[256];
	uint8_t seed[AL_SEED_LEN];
	struct stat st;
	ssize_t n;
	int r;

	r = al_evidence_crypto_init(err);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return al_error_errno(err, "evidence", "opening signing key %s", path);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "evidence", "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return al_error_set(err, EINVAL, "evidence", "signing key %s is not a regular file",
		                    path);
	/* like ssh: a secret others can read is not a secret any more */
	if (st.st_mode & 077)
		return al_error_set(
		    err, EPERM, "evidence",
		    "signing key %s is accessible by group or others (chmod 600 it)", path);
	n = al_read_full(fd, buf, sizeof buf);
	if (n < 0)
		return al_error_set(err, (int)-n, "evidence", "reading signing key %s", path);
	r = al_unhex(buf, trim_len(buf, (size_t)n), seed, sizeof seed);
	sodium_memzero(buf, sizeof buf);
	if (r < 0)
		return al_error_set(
		    err, EINVAL, "evidence",
		    "signing key %s: expected 64 hex digits (written by airlock keygen)", path);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
	return 0;
}

int al_key_parse_public(const char *arg, uint8_t pk[AL_PUBKEY_LEN], struct al_error *err)
{
	_cleanup_close_ int fd = -1;
	char buf[256];
	ssize_t n;

	if (strlen(arg) == 2 * AL_PUBKEY_LEN && al_unhex(arg, strlen(arg), pk, AL_PUBKEY_LEN) == 0)
		return 0;
	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(
		    err, "verify", "public key %s: not 64 hex digits and not a readable file", arg);
	n = al_read_full(fd, buf, sizeof buf);
	if (n < 0)
		return al_error_set(err, (int)-n, "verify", "reading public key %s", arg);
	if (al_unhex(buf, trim_len(buf, (size_t)n), pk, AL_PUBKEY_LEN) < 0)
		return al_error_set(err, EINVAL, "verify",
		                    "public key file %s: expected 64 hex digits", arg);
	return 0;
}
