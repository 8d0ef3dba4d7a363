#include <gtest/gtest.h>

#include "gp/testing/fake_flash.h"
#include "gp/testing/fakes.h"
#include "gp/uplink.h"

using gp::Reading;
using gp::testing::CapturePublisher;
using gp::testing::FakeFlash;

namespace {

constexpr int64_t kT0 = 1795341600;

Reading reading(int64_t t) {
  Reading r;
  r.epoch_s = t;
  r.set_voltage_dv(2301).set_current_ma(1234).set_power_dw(2783).set_energy_wh(1234567 + t - kT0);
  return r;
}

std::vector<Reading> decode_all(const CapturePublisher& pub) {
  std::vector<Reading> out;
  for (const auto& m : pub.messages) {
    std::vector<Reading> part;
    EXPECT_TRUE(gp::decode_message(m.second.data(), m.second.size(), part));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace

TEST(Uplink, SendsOneMessagePerBatchOnlyWhenTheBatchIsFull) {
  FakeFlash flash(8);
  gp::RingLog log(flash);
  ASSERT_TRUE(log.mount());
  gp::Uplink up(log, "gridpulse/gp-x/telemetry");
  CapturePublisher pub;
  for (int i = 0; i < 9; ++i) {
    Reading r = reading(kT0 + 30 * i);
    ASSERT_TRUE(up.store(r));
    EXPECT_EQ(r.seq, static_cast<uint32_t>(i));
    EXPECT_EQ(up.pump(pub, kT0 + 30 * i, 4), 0u);
  }
  Reading tenth = reading(kT0 + 270);
  up.store(tenth);
  EXPECT_EQ(up.pump(pub, kT0 + 270, 4), 1u);
  ASSERT_EQ(pub.messages.size(), 1u);
  EXPECT_EQ(pub.messages[0].first, "gridpulse/gp-x/telemetry");
  EXPECT_EQ(decode_all(pub).size(), 10u);
  EXPECT_EQ(up.pending(), 0u);
}

TEST(Uplink, APartialBatchGoesOutOnceItIsOld) {
  FakeFlash flash(8);
  gp::RingLog log(flash);
  ASSERT_TRUE(log.mount());
  gp::Uplink up(log, "t");
  CapturePublisher pub;
  for (int i = 0; i < 3; ++i) {
    Reading r = reading(kT0 + 30 * i);
    up.store(r);
  }
  EXPECT_EQ(up.pump(pub, kT0 + 599, 4), 0u);
  EXPECT_EQ(up.pump(pub, kT0 + 600, 4), 1u);
  EXPECT_EQ(decode_all(pub).size(), 3u);
}

TEST(Uplink, AFailedPublishKeepsTheReadingsAndTheirOrder) {
  FakeFlash flash(8);
  gp::RingLog log(flash);
  ASSERT_TRUE(log.mount());
  gp::Uplink up(log, "t");
  CapturePublisher pub;
  for (int i = 0; i < 20; ++i) {
    Reading r = reading(kT0 + 30 * i);
    up.store(r);
  }
  pub.fail_next = 1;
  EXPECT_EQ(up.pump(pub, kT0 + 600, 4), 0u);
  EXPECT_EQ(up.pending(), 20u);
  EXPECT_EQ(up.stats().publish_failures, 1u);
  EXPECT_EQ(up.pump(pub, kT0 + 600, 4), 1u);  // the backlog (20 > batch of 10) goes in one message
  const auto got = decode_all(pub);
  ASSERT_EQ(got.size(), 20u);
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(got[i].seq, i);
}

TEST(Uplink, BacklogMessagesRespectTheCountAndByteCaps) {
  FakeFlash flash(16);
  gp::RingLog log(flash);
  ASSERT_TRUE(log.mount());
  gp::Uplink up(log, "t");
  CapturePublisher pub;
  for (int i = 0; i < 400; ++i) {
    Reading r = reading(kT0 + 30 * i);
    r.set_temperature_dc(291).set_power_factor_c(98).set_frequency_dhz(500);
    up.store(r);
  }
  size_t sent = 0;
  while (up.pending() > 0) {
    const size_t n = up.pump(pub, kT0 + 30 * 400, 4);
    ASSERT_GT(n, 0u);
    sent += n;
  }
  for (const auto& m : pub.messages) EXPECT_LE(m.second.size(), gp::kMaxMessageBytes);
  const auto got = decode_all(pub);
  ASSERT_EQ(got.size(), 400u);
  for (uint32_t i = 0; i < 400; ++i) ASSERT_EQ(got[i].seq, i);
  EXPECT_EQ(pub.messages.size(), 16u);  // 25 readings a message
}
