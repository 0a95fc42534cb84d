/* The chaos PRNG: xoshiro256** (Blackman and Vigna), its state filled by
 * splitmix64 from the seed and a stream number, as its authors recommend.
 * Written from the published algorithm; the unit test pins the first
 * outputs, so a schedule never changes under a seed across versions. */
#include "chaos/chaos.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void al_prng_seed(struct al_prng *p, uint64_t seed, uint64_t stream)
{
	/* mix the stream in first, so (seed, 1) and (seed + 1, 0) differ */
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
	uint64_t y = splitmix64(&x);

	x = y ^ stream;
	for (int i = 0; i < 4; i++)
		p->s[i] = splitmix64(&x);
	/* the all-zero state is the one xoshiro cannot leave */
	if ((p->s[0] | p->s[1] | p->s[2] | p->s[3]) == 0)
		p->s[0] = 1;
}

uint64_t al_prng_next(struct al_prng *p)
{
	uint64_t *s = p->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double al_prng_unit(struct al_prng *p)
{
	return (double)(al_prng_next(p) >> 11) * 0x1.0p-53;
}
