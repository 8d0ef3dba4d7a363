#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gp/ring_log.h"
#include "gp/testing/fake_flash.h"
#include "gp/testing/fakes.h"

using gp::LogRecord;
using gp::RingLog;
using gp::testing::FakeFlash;

namespace {

std::vector<uint8_t> payload(uint32_t i, size_t len = 37) {
  std::vector<uint8_t> p(len);
  for (size_t k = 0; k < len; ++k) p[k] = static_cast<uint8_t>(i * 31 + k);
  return p;
}

bool append(RingLog& log, uint32_t i, uint32_t* seq = nullptr) {
  const auto p = payload(i);
  return log.append(p.data(), p.size(), seq);
}

std::vector<LogRecord> all_pending(RingLog& log) {
  std::vector<LogRecord> out;
  log.peek(100000, out);
  return out;
}

// Every record the log returns must be one that was written, intact.
void expect_intact(const std::vector<LogRecord>& records) {
  for (const auto& r : records) EXPECT_EQ(r.data, payload(r.seq)) << "record " << r.seq;
}

}  // namespace

TEST(RingLog, FormatsABlankPartitionAndAppendsInOrder) {
  FakeFlash flash(8);
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  EXPECT_EQ(log.pending(), 0u);
  for (uint32_t i = 0; i < 10; ++i) {
    uint32_t seq = 99;
    ASSERT_TRUE(append(log, i, &seq));
    EXPECT_EQ(seq, i);
  }
  auto recs = all_pending(log);
  ASSERT_EQ(recs.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(recs[i].seq, i);
  expect_intact(recs);
}

TEST(RingLog, AckRemovesDeliveredRecordsAndSurvivesRemount) {
  FakeFlash flash(8);
  {
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    for (uint32_t i = 0; i < 30; ++i) ASSERT_TRUE(append(log, i));
    ASSERT_TRUE(log.ack_through(9));
    EXPECT_EQ(log.pending(), 20u);
    auto recs = all_pending(log);
    ASSERT_FALSE(recs.empty());
    EXPECT_EQ(recs.front().seq, 10u);
  }
  RingLog again(flash);  // a reboot
  ASSERT_TRUE(again.mount());
  EXPECT_EQ(again.pending(), 20u);
  EXPECT_EQ(again.next_seq(), 30u);
  auto recs = all_pending(again);
  ASSERT_EQ(recs.size(), 20u);
  EXPECT_EQ(recs.front().seq, 10u);
  EXPECT_EQ(recs.back().seq, 29u);
  ASSERT_TRUE(again.ack_through(29));
  EXPECT_EQ(again.pending(), 0u);
  RingLog third(flash);
  ASSERT_TRUE(third.mount());
  EXPECT_EQ(third.pending(), 0u);
  EXPECT_EQ(third.next_seq(), 30u);  // seq never goes back after a reboot
}

TEST(RingLog, WrapsAroundManyTimesKeepingSequenceAndOrder) {
  FakeFlash flash(4, 1024);
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  const uint32_t per_sector = (1024 - RingLog::kSectorHeader) / RingLog::footprint(37);
  uint32_t next_to_read = 0;
  for (uint32_t i = 0; i < 40 * per_sector; ++i) {
    ASSERT_TRUE(append(log, i));
    if (i % 7 == 6) {  // deliver in small batches: the reader keeps up
      auto recs = all_pending(log);
      ASSERT_FALSE(recs.empty());
      EXPECT_EQ(recs.front().seq, next_to_read);
      expect_intact(recs);
      ASSERT_TRUE(log.ack_through(recs.back().seq));
      next_to_read = recs.back().seq + 1;
    }
  }
  EXPECT_EQ(log.stats().dropped_unsent, 0u);
  EXPECT_GE(log.stats().sectors_erased, 40u);
  for (uint32_t s = 0; s < 4; ++s) EXPECT_GE(flash.erase_count(s), 9u);  // wear spread over every sector
  RingLog again(flash);
  ASSERT_TRUE(again.mount());
  EXPECT_EQ(again.next_seq(), 40 * per_sector);
  auto recs = all_pending(again);
  ASSERT_EQ(recs.size(), again.pending());
  if (!recs.empty()) {
    EXPECT_EQ(recs.front().seq, next_to_read);
  }
}

TEST(RingLog, WhenFullTheOldestUndeliveredAreOverwrittenAndCounted) {
  FakeFlash flash(4, 1024);
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  const uint32_t capacity = log.capacity(37);
  const uint32_t total = capacity * 3;
  for (uint32_t i = 0; i < total; ++i) ASSERT_TRUE(append(log, i));
  auto recs = all_pending(log);
  ASSERT_EQ(recs.size(), log.pending());
  EXPECT_GE(recs.size(), capacity);
  EXPECT_EQ(recs.back().seq, total - 1);
  for (size_t i = 1; i < recs.size(); ++i) EXPECT_EQ(recs[i].seq, recs[i - 1].seq + 1);  // newest kept, contiguous
  EXPECT_EQ(log.stats().dropped_unsent + recs.size(), total);
  expect_intact(recs);
  RingLog again(flash);
  ASSERT_TRUE(again.mount());
  EXPECT_EQ(again.pending(), recs.size());
  EXPECT_EQ(all_pending(again).front().seq, recs.front().seq);
}

// Power fails at every byte of a record write (header, payload or commit word):
// after the reboot no damaged record is ever returned, everything written
// before is still there, and the records written after the reboot are too.
TEST(RingLog, PowerLossInTheMiddleOfAWriteNeverYieldsACorruptRecord) {
  const uint32_t record_bytes = RingLog::footprint(37) - 4;  // what append() programs (the ack word stays blank)
  for (uint32_t cut = 0; cut <= record_bytes; ++cut) {
    SCOPED_TRACE("power cut after " + std::to_string(cut) + " bytes");
    FakeFlash flash(4, 1024);
    {
      RingLog log(flash);
      ASSERT_TRUE(log.mount());
      for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(append(log, i));
      ASSERT_TRUE(log.ack_through(1));
      flash.cut_power_after(cut);
      const bool ok = append(log, 5);
      EXPECT_EQ(ok, cut == record_bytes);  // only a complete record reports success
    }
    flash.power_on();
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    auto recs = all_pending(log);
    expect_intact(recs);
    std::vector<uint32_t> seqs;
    for (const auto& r : recs) seqs.push_back(r.seq);
    if (cut == record_bytes) {
      EXPECT_EQ(seqs, (std::vector<uint32_t>{2, 3, 4, 5}));
    } else {
      EXPECT_EQ(seqs, (std::vector<uint32_t>{2, 3, 4}));
      EXPECT_EQ(log.stats().torn_skipped, 1u);
    }
    // Life goes on: new records land after the torn one, in a fresh place, and are returned.
    const uint32_t first_new = log.next_seq();
    EXPECT_EQ(first_new, cut == record_bytes ? 6u : 5u);
    for (uint32_t k = 0; k < 3; ++k) ASSERT_TRUE(append(log, log.next_seq()));
    recs = all_pending(log);
    expect_intact(recs);
    ASSERT_EQ(recs.size(), seqs.size() + 3);
    EXPECT_EQ(recs.back().seq, first_new + 2);
    RingLog third(flash);
    ASSERT_TRUE(third.mount());
    auto again = all_pending(third);
    expect_intact(again);
    EXPECT_EQ(again.size(), recs.size());
  }
}

TEST(RingLog, AHalfWrittenAckStillCountsAsDelivered) {
  FakeFlash flash(4, 1024);
  {
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    for (uint32_t i = 0; i < 6; ++i) ASSERT_TRUE(append(log, i));
    flash.cut_power_after(0);
    EXPECT_FALSE(log.ack_through(2));
  }
  flash.power_on();
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  // The PUBACK had arrived before the ack word was (partly) programmed: 0..2 are delivered.
  EXPECT_EQ(all_pending(log).front().seq, 3u);
  EXPECT_EQ(log.pending(), 3u);
}

TEST(RingLog, PowerLossBeforeTheAckResendsRatherThanLoses) {
  FakeFlash flash(4, 1024);
  {
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    for (uint32_t i = 0; i < 6; ++i) ASSERT_TRUE(append(log, i));
    std::vector<LogRecord> sent;
    ASSERT_EQ(log.peek(3, sent), 3u);  // published; the PUBACK is lost with the power
  }
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  EXPECT_EQ(all_pending(log).front().seq, 0u);  // sent again; the cloud drops the duplicates
  EXPECT_EQ(log.pending(), 6u);
}

TEST(RingLog, PowerLossWhileErasingASectorLosesOnlyThatSector) {
  FakeFlash flash(4, 1024);
  const uint32_t per_sector = (1024 - RingLog::kSectorHeader) / RingLog::footprint(37);
  uint32_t written = 0;
  {
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    for (; written < 4 * per_sector; ++written) ASSERT_TRUE(append(log, written));  // all four sectors used
    flash.cut_power_during_next_erase();
    EXPECT_FALSE(append(log, written));  // needs the oldest sector: the erase is cut short
  }
  flash.power_on();
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  auto recs = all_pending(log);
  expect_intact(recs);
  EXPECT_EQ(recs.size(), 3 * per_sector);  // sector 0 is gone, the other three are intact
  EXPECT_EQ(recs.front().seq, per_sector);
  EXPECT_EQ(recs.back().seq, written - 1);
  uint32_t seq = 0;
  ASSERT_TRUE(append(log, 999, &seq));
  EXPECT_EQ(seq, written);
}

TEST(RingLog, GarbageInThePartitionIsSkippedNotReturned) {
  FakeFlash flash(4, 1024);
  {
    RingLog log(flash);
    ASSERT_TRUE(log.mount());
    for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(append(log, i));
  }
  // A bit flips in the payload of record 2 (bit rot): its CRC no longer matches.
  const uint32_t fp = RingLog::footprint(37);
  flash.raw()[RingLog::kSectorHeader + 2 * fp + RingLog::kRecordHeader + 3] ^= 0x04;
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  auto recs = all_pending(log);
  expect_intact(recs);
  ASSERT_EQ(recs.size(), 2u);  // records after a bad one in the same sector are given up with it
  EXPECT_EQ(log.stats().torn_skipped, 1u);
}

TEST(RingLog, RefusesOversizedRecordsAndTinyPartitions) {
  FakeFlash one(1);
  RingLog tiny(one);
  EXPECT_FALSE(tiny.mount());
  FakeFlash flash(4);
  RingLog log(flash);
  ASSERT_TRUE(log.mount());
  std::vector<uint8_t> big(RingLog::kMaxPayload + 1, 0xAB);
  EXPECT_FALSE(log.append(big.data(), big.size()));
  std::vector<uint8_t> max(RingLog::kMaxPayload, 0xAB);
  EXPECT_TRUE(log.append(max.data(), max.size()));
}
