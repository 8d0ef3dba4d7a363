// Reconnect delays: exponential growth from `min_ms` to `max_ms`, each delay
// drawn from [nominal * (1 - jitter), nominal] (never below min_ms), so a
// fleet that lost its broker at the same moment does not come back in step.
#pragma once

#include <cstdint>

namespace gp {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint32_t next_u32() = 0;  // uniform over 0..2^32-1
};

struct BackoffPolicy {
  uint32_t min_ms = 1000;
  uint32_t max_ms = 5 * 60 * 1000;
  uint32_t jitter_permille = 500;  // 0..1000: the fraction of the nominal delay that is random
};

class Backoff {
 public:
  Backoff(BackoffPolicy policy, Random& rng) : policy_(policy), rng_(rng) {}
  uint32_t nominal_ms(uint32_t attempt) const;  // before jitter
  uint32_t next_delay_ms();                     // the delay before the next attempt
  void reset() { attempt_ = 0; }
  uint32_t attempts() const { return attempt_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  Random& rng_;
  uint32_t attempt_ = 0;
};

}  // namespace gp
