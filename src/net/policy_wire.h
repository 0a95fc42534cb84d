/* The policy handed from the supervisor to the exec'd proxy image: a flat
 * byte encoding written to a memfd before exec and read back, strictly
 * bounded, in the new image (same binary, so host byte order). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "net/egress.h"
#include "util/json.h"

/* Append pol (and the mask of listening fds present) to b. 0 or -ENOMEM. */
int al_policy_wire_encode(const struct al_egress_policy *pol, uint32_t fd_mask, struct al_buf *b);

/* Decode into pol (allocations owned by pol; freed with al_policy_wire_free).
 * 0, or -EINVAL if the bytes are not a complete, well-formed encoding. */
int al_policy_wire_decode(const uint8_t *data, size_t len, struct al_egress_policy *pol,
                          uint32_t *fd_mask);
void al_policy_wire_free(struct al_egress_policy *pol);
