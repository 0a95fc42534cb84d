/* Network chaos for relayed connections (issue 9): a seeded, reproducible
 * schedule of added latency and jitter per chunk, stalls ("loss") and resets
 * decided per 16 KiB segment of each direction's byte stream (so the same
 * seed and the same traffic give the same faults, however the bytes happen
 * to be chunked), and a bandwidth cap. Pure functions; tests/unit/net. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "net/egress.h"

#define AL_CHAOS_SEGMENT 16384
#define AL_CHAOS_STALL_NS 200000000ull /* a lost segment: one TCP RTO */

enum al_chaos_fault { AL_CHAOS_NONE = 0, AL_CHAOS_STALL, AL_CHAOS_RESET };

struct al_chaos_dir {
	uint64_t seg_rng, lat_rng;
	uint64_t offset;      /* bytes released so far */
	uint64_t decided_seg; /* segments decided so far */
	uint64_t release_ns;  /* nothing is written before this */
	double tokens;        /* bandwidth bucket, bytes */
	uint64_t tokens_ns;
};

/* Independent streams per seed, connection and direction (0 up, 1 down). */
void al_chaos_dir_init(struct al_chaos_dir *d, uint64_t seed, uint32_t conn_id, int dir,
                       uint64_t now_ns);

/* At the start of each segment: which fault, if any. */
enum al_chaos_fault al_chaos_segment_fault(const struct al_egress_policy *pol,
                                           struct al_chaos_dir *d);

/* The delay for a newly arrived chunk: latency +- jitter (never negative). */
uint64_t al_chaos_chunk_delay(const struct al_egress_policy *pol, struct al_chaos_dir *d);

/* How many of want bytes may be written now (bandwidth cap and the next
 * segment boundary); 0 means wait until *wait_until_ns. */
uint64_t al_chaos_allowance(const struct al_egress_policy *pol, struct al_chaos_dir *d,
                            uint64_t want, uint64_t now_ns, uint64_t *wait_until_ns);

/* Account bytes written. */
void al_chaos_consumed(struct al_chaos_dir *d, uint64_t n);
