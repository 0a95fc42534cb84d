/* Seeded network chaos schedule; see chaos.h. */
#include "net/chaos.h"

/* splitmix64: small, well mixed, and the same everywhere */
static uint64_t next64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
	return (double)(next64(s) >> 11) / (double)(1ull << 53);
}

void al_chaos_dir_init(struct al_chaos_dir *d, uint64_t seed, uint32_t conn_id, int dir,
                       uint64_t now_ns)
{
	uint64_t base =
	    seed ^ ((uint64_t)conn_id << 1 | (uint64_t)(dir & 1)) * 0xd6e8feb86659fd93ull;

	d->seg_rng = base;
	(void)next64(&d->seg_rng);
	d->lat_rng = base ^ 0xa0761d6478bd642full;
	(void)next64(&d->lat_rng);
	d->offset = 0;
	d->decided_seg = 0;
	d->release_ns = 0;
	d->tokens = AL_CHAOS_SEGMENT;
	d->tokens_ns = now_ns;
}

enum al_chaos_fault al_chaos_segment_fault(const struct al_egress_policy *pol,
                                           struct al_chaos_dir *d)
{
	/* both draws always happen, so one rate does not shift the other's schedule */
	double r = unit(&d->seg_rng), l = unit(&d->seg_rng);

	d->decided_seg++;
	if (r < pol->chaos.reset)
		return AL_CHAOS_RESET;
	if (l < pol->chaos.loss)
		return AL_CHAOS_STALL;
	return AL_CHAOS_NONE;
}

uint64_t al_chaos_chunk_delay(const struct al_egress_policy *pol, struct al_chaos_dir *d)
{
	double j = (unit(&d->lat_rng) * 2.0 - 1.0) * (double)pol->chaos.jitter_ns;
	double v = (double)pol->chaos.latency_ns + j;
	return v > 0 ? (uint64_t)v : 0;
}

uint64_t al_chaos_allowance(const struct al_egress_policy *pol, struct al_chaos_dir *d,
                            uint64_t want, uint64_t now_ns, uint64_t *wait_until_ns)
{
	uint64_t to_boundary = AL_CHAOS_SEGMENT - d->offset % AL_CHAOS_SEGMENT;

	if (want > to_boundary)
		want = to_boundary;
	*wait_until_ns = now_ns;
	if (pol->chaos.bandwidth == 0)
		return want;
	if (now_ns > d->tokens_ns) {
		d->tokens += (double)(now_ns - d->tokens_ns) * (double)pol->chaos.bandwidth / 1e9;
		if (d->tokens > AL_CHAOS_SEGMENT)
			d->tokens = AL_CHAOS_SEGMENT; /* burst: one segment */
		d->tokens_ns = now_ns;
	}
	if (d->tokens >= 1.0)
		return want < (uint64_t)d->tokens ? want : (uint64_t)d->tokens;
	/* wait until a useful amount (a segment's worth or what is wanted) accrues */
	uint64_t need = want < 4096 ? want : 4096;
	*wait_until_ns =
	    now_ns + (uint64_t)(((double)need - d->tokens) * 1e9 / (double)pol->chaos.bandwidth) +
	    1;
	return 0;
}

void al_chaos_consumed(struct al_chaos_dir *d, uint64_t n)
{
	d->offset += n;
	d->tokens -= (double)n;
}
