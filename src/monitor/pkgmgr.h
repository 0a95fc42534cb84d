/* Package-install detection for exec events (docs/tripwires.md): by name
 * (the path asked, argv[0]), by the shape of the command line (python -m
 * pip, cargo install, sh -c "curl ... | sh"), and by content: the sha256 or
 * the identity (dev:ino) of the executed file, or of any interpreter in its
 * "#!" chain, against the image's own package managers. The matching here is
 * pure; al_pkgdb_scan (pkgdb.c) notes the image's files at start (name,
 * dev:ino, size) and al_pkgdb_hash_for hashes one only when an exec of a
 * hashed file of the same size needs it, once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct al_pkgdb_entry {
	char name[64];      /* the image file's name (pip3, apt-get, ...) */
	char sha256[65];    /* "" until hashed (or when it cannot be) */
	uint64_t dev_major, dev_minor, ino;
	uint64_t size;
	char path[96];      /* beneath the image root ("usr/bin/pip3"); "": none */
	bool hashed;        /* hashing was done or tried: sha256 is final */
};

struct al_pkgdb {
	struct al_pkgdb_entry *e;
	size_t n, cap;
	uint64_t scan_ns;   /* what building it cost */
	size_t bytes_hashed;
	char *root;         /* the image root the paths are beneath */
};

/* One file of an exec (the program, or an interpreter in its chain). */
struct al_pkg_file {
	const char *sha256; /* NULL when not hashed (an image file) */
	uint64_t dev_major, dev_minor, ino;
	uint64_t size;
	bool have_id, have_size;
};

struct al_pkg_exec {
	const char *path;
	const char *const *argv;
	size_t argc;
	const struct al_pkg_file *files; /* [0]: the program, then its interpreters */
	size_t n_files;
};

/* Is name (a basename) a package manager's, whatever the arguments? */
bool al_pkgmgr_name(const char *name);

/* Why this exec is a package install ("name pip3", "python -m pip",
 * "content of /usr/bin/pip3", "curl|sh in sh -c", ...) into why, or
 * false. db may be NULL. */
bool al_pkgmgr_match(const struct al_pkgdb *db, const struct al_pkg_exec *x, char *why,
                     size_t why_len);

/* Does a shell -c string pipe a download into a shell (curl ... | sh,
 * wget -O- ... | bash, sh <(curl ...), sh -c "$(curl ...)")? */
bool al_pkgmgr_fetch_pipe(const char *script);

/* A shell's name (sh, bash, dash, zsh, ksh, ash, busybox sh...)? */
bool al_pkgmgr_is_shell(const char *name);
/* curl or wget? */
bool al_pkgmgr_is_fetcher(const char *name);

int al_pkgdb_add(struct al_pkgdb *db, const struct al_pkgdb_entry *e);
void al_pkgdb_free(struct al_pkgdb *db);
/* Note the image's package-manager files (by name, in the usual bin
 * directories under image_root: "/" for the host image): name, dev:ino and
 * size, not their content. Files that cannot be opened are skipped. */
int al_pkgdb_scan(struct al_pkgdb *db, const char *image_root);
/* Before al_pkgmgr_match on these files: hash every entry not hashed yet
 * that a hashed file among them could equal (same size, or any size when
 * the file's is unknown). Each entry is hashed at most once per db, so the
 * cost a workload can cause is bounded by the scan's files. */
void al_pkgdb_hash_for(struct al_pkgdb *db, const struct al_pkg_file *files, size_t n);
