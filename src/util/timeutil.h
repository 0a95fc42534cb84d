/* Clocks: monotonic nanoseconds and RFC 3339 UTC timestamps. */
#pragma once

#include <stddef.h>
#include <stdint.h>

uint64_t al_mono_ns(void);
uint64_t al_realtime_ns(void);
/* "2026-11-26T18:39:04.123456789Z" into buf (>= 32 bytes). */
const char *al_utc_rfc3339(uint64_t realtime_ns, char *buf, size_t len);
