// Store-and-forward log in a flash partition: an append-only ring of sectors.
//
// Layout (all little-endian, 4-byte aligned):
//   sector  = header {magic "GPS1", sector_seq, crc32(magic, sector_seq), 0xFFFFFFFF} + records
//   record  = header {magic "GPR1", u16 len, u16 format=1, u32 seq, u32 crc32(len, format, seq, payload)}
//             + payload (padded to 4) + commit word + ack word
// A record is written in two steps: header and payload, then the commit word
// (0xC0DEC0DE). A power cut before the commit leaves a record without it (or
// with a CRC that does not match): mount() and the readers skip it and
// everything after it in that sector, and the writer starts a fresh sector,
// so a torn record is never returned and never written after.
// Delivery: when the cloud acknowledges a message, the ack word of its last
// record is programmed to 0; every record before an acknowledged one counts
// as delivered (messages are published and acknowledged in order).
// When the ring is full the oldest sector is erased, undelivered or not
// (counted in stats().dropped_unsent and logged). Sector and record sequence
// numbers are 32-bit: at one reading every second they last 136 years.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gp/flash.h"

namespace gp {

struct LogRecord {
  uint32_t seq = 0;
  std::vector<uint8_t> data;
};

struct RingStats {
  uint32_t appended = 0;
  uint32_t dropped_unsent = 0;   // overwritten before they were delivered
  uint32_t torn_skipped = 0;     // incomplete or corrupt records found by mount()
  uint32_t sectors_erased = 0;
  uint32_t recovered_pending = 0;  // undelivered records found by mount()
};

class RingLog {
 public:
  static constexpr uint32_t kMaxPayload = 255;
  static constexpr uint32_t kSectorHeader = 16;
  static constexpr uint32_t kRecordHeader = 16;
  static constexpr uint32_t kRecordTrailer = 8;  // commit + ack

  explicit RingLog(Flash& flash) : flash_(flash) {}

  // Scans the partition and recovers the write position, the next sequence
  // number and the oldest undelivered record. Formats a blank or foreign
  // partition. False only when the flash itself fails.
  bool mount();
  bool mounted() const { return mounted_; }

  // Appends one record; `seq_out` gets its sequence number.
  bool append(const uint8_t* data, size_t len, uint32_t* seq_out = nullptr);

  // Up to `max` undelivered records, oldest first, without removing them.
  size_t peek(size_t max, std::vector<LogRecord>& out);

  // Marks every record up to and including `seq` as delivered.
  bool ack_through(uint32_t seq);

  uint32_t pending() const { return pending_; }
  uint32_t next_seq() const { return next_seq_; }
  const RingStats& stats() const { return stats_; }
  uint32_t sectors() const { return sectors_; }
  // How many records of `payload_len` bytes the ring holds when full.
  uint32_t capacity(size_t payload_len) const;
  static uint32_t footprint(size_t payload_len) { return kRecordHeader + ((static_cast<uint32_t>(payload_len) + 3u) & ~3u) + kRecordTrailer; }

 private:
  struct Pos {
    uint32_t sector = 0;
    uint32_t off = kSectorHeader;
  };
  struct Info {
    uint32_t seq = 0;
    uint16_t len = 0;
    bool acked = false;
  };
  enum class Scan { Valid, End, Torn, Error };

  uint32_t addr(const Pos& p) const { return p.sector * sector_size_ + p.off; }
  Scan read_record(const Pos& p, Info& info, std::vector<uint8_t>* payload);
  bool read_sector_header(uint32_t sector, uint32_t& seq);
  bool open_sector(uint32_t sector, uint32_t sector_seq);
  bool open_next_sector();
  bool at_head(const Pos& p) const { return p.sector == head_.sector && p.off >= head_.off; }
  // Next valid record at or after `p` (in ring order, up to the head). Updates `p` to it.
  bool seek_valid(Pos& p, Info& info, std::vector<uint8_t>* payload);
  void advance_sector(Pos& p) const {
    p.sector = (p.sector + 1) % sectors_;
    p.off = kSectorHeader;
  }

  Flash& flash_;
  bool mounted_ = false;
  uint32_t sector_size_ = 0;
  uint32_t sectors_ = 0;
  std::vector<uint32_t> sector_seq_;  // 0: not a log sector (blank, torn header, foreign)
  uint32_t newest_sector_seq_ = 0;
  Pos head_;                 // where the next record goes
  Pos tail_;                 // first undelivered record (== head_ when none)
  uint32_t next_seq_ = 0;
  bool have_acked_ = false;
  uint32_t acked_seq_ = 0;   // highest delivered seq (when have_acked_)
  uint32_t pending_ = 0;
  RingStats stats_;
};

}  // namespace gp
