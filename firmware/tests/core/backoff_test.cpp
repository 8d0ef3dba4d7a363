#include <gtest/gtest.h>

#include "gp/backoff.h"
#include "gp/testing/fakes.h"

using gp::Backoff;
using gp::BackoffPolicy;
using gp::testing::ScriptedRandom;

TEST(Backoff, NominalDelayDoublesFromMinToMax) {
  ScriptedRandom rng;
  Backoff b(BackoffPolicy{1000, 60000, 500}, rng);
  EXPECT_EQ(b.nominal_ms(0), 1000u);
  EXPECT_EQ(b.nominal_ms(1), 2000u);
  EXPECT_EQ(b.nominal_ms(5), 32000u);
  EXPECT_EQ(b.nominal_ms(6), 60000u);
  EXPECT_EQ(b.nominal_ms(1000), 60000u);  // no overflow however long the outage
}

TEST(Backoff, JitterStaysWithinItsRange) {
  ScriptedRandom lo, hi, mid;
  lo.values = {0};
  hi.values = {0xFFFFFFFFu};
  mid.values = {0x80000000u};
  Backoff a(BackoffPolicy{1000, 60000, 500}, lo), b(BackoffPolicy{1000, 60000, 500}, hi),
      c(BackoffPolicy{1000, 60000, 500}, mid);
  for (uint32_t attempt = 0; attempt < 12; ++attempt) {
    const uint32_t nominal = a.nominal_ms(attempt);
    const uint32_t d_lo = a.next_delay_ms(), d_hi = b.next_delay_ms(), d_mid = c.next_delay_ms();
    EXPECT_EQ(d_lo, nominal) << "random 0 takes nothing off";
    const uint32_t floor = std::max<uint32_t>(1000, nominal / 2);
    EXPECT_GE(d_hi, floor);
    EXPECT_LE(d_hi, floor + 1);  // the largest draw takes (almost) half off
    EXPECT_GT(d_mid, d_hi - 1);
    EXPECT_LE(d_mid, d_lo);
  }
}

TEST(Backoff, ManyDevicesSpreadOut) {
  // Real randomness: 1000 draws at attempt 4 (nominal 16 s) cover [8 s, 16 s] and never leave it.
  std::vector<uint32_t> values;
  uint32_t x = 12345;
  for (int i = 0; i < 1000; ++i) values.push_back(x = x * 1664525u + 1013904223u);
  ScriptedRandom rng;
  rng.values = values;
  uint32_t lo = UINT32_MAX, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    Backoff b(BackoffPolicy{1000, 300000, 500}, rng);
    for (int k = 0; k < 4; ++k) b.next_delay_ms();
    const uint32_t d = b.next_delay_ms();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    ASSERT_GE(d, 8000u);
    ASSERT_LE(d, 16000u);
  }
  EXPECT_LT(lo, 8500u);
  EXPECT_GT(hi, 15500u);
}

TEST(Backoff, ResetStartsOverAndMinIsAFloor) {
  ScriptedRandom hi;
  hi.values = {0xFFFFFFFFu};
  Backoff b(BackoffPolicy{1000, 8000, 1000}, hi);  // full jitter would reach 0: the floor is min_ms
  for (int i = 0; i < 10; ++i) EXPECT_GE(b.next_delay_ms(), 1000u);
  EXPECT_EQ(b.attempts(), 10u);
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.next_delay_ms(), 1000u);
}
