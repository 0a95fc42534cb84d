/* Exfiltration search (docs/tripwires.md): find canary tokens, and their
 * disguises, in a byte stream fed in arbitrary chunks (a token split
 * across writes is found). Pure: no I/O.
 *
 * For each token T the variants searched are: T; T reversed; hex of T
 * (lower and upper case); base64 of T at all three alignments (standard
 * and URL alphabets; the characters that depend only on T's bytes);
 * base32 of T at all five alignments (upper and lower case); T fully
 * percent-encoded (%XX, upper and lower hex). One Aho-Corasick automaton
 * over all variants of all tokens, as a DFA over byte classes: one table
 * lookup per input byte, whatever the number of tokens. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct al_exfil;       /* the automaton (shared, read-only once built) */
struct al_exfil_hit {
	size_t token;        /* index of the token */
	const char *variant; /* "plain", "reversed", "hex", "base64", ... */
	uint64_t end;        /* stream offset just past the match */
};

/* Build for n tokens (each at least 8 bytes). -ENOMEM / -EINVAL. */
int al_exfil_build(struct al_exfil **out, const char *const *tokens, size_t n);
void al_exfil_free(struct al_exfil *x);
size_t al_exfil_patterns(const struct al_exfil *x);

/* A stream's search state. */
struct al_exfil_stream {
	const struct al_exfil *x;
	uint32_t state;
	uint64_t off;
	/* the decompressor for a gzip/deflate body (exfil_inflate), or NULL */
	void *z;
	uint32_t zstate;
	uint64_t zoff;
};

void al_exfil_stream_init(struct al_exfil_stream *s, const struct al_exfil *x);
/* Feed bytes; for each match call cb (stop early by returning nonzero).
 * Returns the number of matches (up to the stop). */
typedef int (*al_exfil_cb)(void *ctx, const struct al_exfil_hit *hit);
size_t al_exfil_feed(struct al_exfil_stream *s, const void *data, size_t len, al_exfil_cb cb,
                     void *ctx);

/* The same with line breaks left out (every LF and CR): MIME,
 * PEM and base64(1) wrap their output at 64-76 columns, which would cut a
 * token's encoding across lines. The stream searched is the bytes without
 * them (hit offsets count those bytes). */
size_t al_exfil_feed_unwrapped(struct al_exfil_stream *s, const void *data, size_t len,
                               al_exfil_cb cb, void *ctx);

/* A gzip or zlib (auto-detected) or raw deflate body, fed compressed in
 * chunks: its inflated bytes are searched (bounded: at most max_out bytes
 * inflated in all, against decompression bombs). Returns matches, or -1
 * when the body is not valid compressed data (what was inflated so far
 * was searched) or zlib cannot be loaded (util/zlib_dl.h: a confined
 * process calls al_zlib_load before its confinement). */
int al_exfil_feed_compressed(struct al_exfil_stream *s, const void *data, size_t len, bool raw,
                             uint64_t max_out, al_exfil_cb cb, void *ctx);
void al_exfil_stream_end(struct al_exfil_stream *s);
