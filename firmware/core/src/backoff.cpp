#include "gp/backoff.h"

namespace gp {

uint32_t Backoff::nominal_ms(uint32_t attempt) const {
  uint64_t delay = policy_.min_ms ? policy_.min_ms : 1;
  for (uint32_t i = 0; i < attempt && delay < policy_.max_ms; ++i) delay *= 2;
  if (delay > policy_.max_ms) delay = policy_.max_ms;
  return static_cast<uint32_t>(delay);
}

uint32_t Backoff::next_delay_ms() {
  const uint64_t nominal = nominal_ms(attempt_);
  if (attempt_ < 64) ++attempt_;
  const uint32_t jitter = policy_.jitter_permille > 1000 ? 1000 : policy_.jitter_permille;
  const uint64_t spread = nominal * jitter / 1000;             // random part
  const uint64_t cut = (spread * rng_.next_u32()) >> 32;       // 0..spread-1
  uint64_t delay = nominal - cut;
  if (delay < policy_.min_ms) delay = policy_.min_ms;
  return static_cast<uint32_t>(delay);
}

}  // namespace gp
