/* The rules of the hash chain and of signed checkpoints, shared by the
 * writer (evlog.c) and the verifier (verify.c) so both build the same bytes:
 * record framing limits, the genesis value, the signed checkpoint message and
 * the exact text of a checkpoint line. Also Ed25519 key files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "util/error.h"
#include "util/json.h"

#define AL_EVLOG_VERSION 1
/* Longest record line (without newline) the writer emits and the verifier
 * accepts; bounds the verifier's memory. */
#define AL_EVLOG_LINE_MAX (1024 * 1024)
/* Run ids and record types are restricted to this much plain ASCII so the
 * envelope never needs escaping. */
#define AL_EVLOG_RUN_MAX 64
#define AL_EVLOG_TYPE_MAX 32

#define AL_HASH_LEN crypto_hash_sha256_BYTES     /* 32 */
#define AL_PUBKEY_LEN crypto_sign_PUBLICKEYBYTES /* 32 */
#define AL_SECKEY_LEN crypto_sign_SECRETKEYBYTES /* 64 */
#define AL_SEED_LEN crypto_sign_SEEDBYTES        /* 32 */
#define AL_SIG_LEN crypto_sign_BYTES             /* 64 */

/* Domain separation for checkpoint signatures. */
#define AL_CHECKPOINT_DOMAIN "airlock-checkpoint-v1"

/* Initialise libsodium once; -errno on failure. */
int al_evidence_crypto_init(struct al_error *err);

void al_hex(const uint8_t *bin, size_t n, char *out /* 2n+1 */);
/* Exactly 2n lowercase-or-uppercase hex digits into n bytes; -EINVAL otherwise. */
int al_unhex(const char *hex, size_t hexlen, uint8_t *bin, size_t n);

/* SHA-256 of a record line's bytes (without its newline). */
void al_chain_hash_line(const char *line, size_t len, uint8_t out[AL_HASH_LEN]);

/* The first record's "prev": 64 zeros (see docs/evidence.md). */
void al_chain_genesis(uint8_t out[AL_HASH_LEN]);

bool al_run_id_valid(const char *s, size_t n);
bool al_type_valid(const char *s, size_t n);

/* Everything a checkpoint line says; the line is a pure function of this. */
struct al_checkpoint {
	uint64_t seq;
	char time[40];
	uint64_t mono_ns;
	const char *run;
	size_t run_len;
	uint32_t epoch;
	bool final;
	uint8_t head[AL_HASH_LEN];       /* hash of the previous line = the record's prev */
	uint8_t key[AL_PUBKEY_LEN];      /* the epoch key that signs */
	uint8_t next_key[AL_PUBKEY_LEN]; /* the next epoch's key; unused when final */
	uint8_t sig[AL_SIG_LEN];
};

/* The signed message: domain || run || seq || time || mono_ns || epoch ||
 * final || head || key || next_key, with lengths and big-endian integers. */
void al_checkpoint_message(const struct al_checkpoint *cp, struct al_buf *msg);
/* The exact line (no newline) for cp into out (reset first). */
int al_checkpoint_line(const struct al_checkpoint *cp, struct al_buf *out);

/* Key files written by `airlock keygen`: PREFIX.key holds the 32-byte seed
 * as hex (mode 0600), PREFIX.pub the public key as hex. */
int al_key_generate_files(const char *prefix, char pub_hex[2 * AL_PUBKEY_LEN + 1],
                          struct al_error *err);
/* Load a secret key file; refuses files readable by group or others. sk must
 * hold AL_SECKEY_LEN bytes (e.g. sodium_malloc'd). */
int al_key_load_secret(const char *path, uint8_t *sk, uint8_t pk[AL_PUBKEY_LEN],
                       struct al_error *err);
/* A public key given as 64 hex digits, or as a file holding them. */
int al_key_parse_public(const char *arg, uint8_t pk[AL_PUBKEY_LEN], struct al_error *err);
