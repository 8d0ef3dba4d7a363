#include "gp/ring_log.h"

#include <cstring>

#include "gp/crc.h"
#include "gp/log.h"

namespace gp {
namespace {

constexpr uint32_t kSectorMagic = 0x31535047;  // "GPS1"
constexpr uint32_t kRecordMagic = 0x31525047;  // "GPR1"
constexpr uint32_t kCommit = 0xC0DEC0DE;
constexpr uint32_t kErased = 0xFFFFFFFF;
constexpr uint32_t kAcked = 0x00000000;
constexpr uint16_t kFormat = 1;
const char* const kTag = "ringlog";

uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint32_t align4(uint32_t n) { return (n + 3u) & ~3u; }

}  // namespace

uint32_t RingLog::capacity(size_t payload_len) const {
  if (sectors_ < 2) return 0;
  return (sector_size_ - kSectorHeader) / footprint(payload_len) * (sectors_ - 1);
}

bool RingLog::read_sector_header(uint32_t sector, uint32_t& seq) {
  uint8_t h[12];
  if (!flash_.read(sector * sector_size_, h, sizeof h)) return false;
  seq = 0;
  if (rd32(h) != kSectorMagic || rd32(h + 8) != crc32(h, 8)) return true;
  seq = rd32(h + 4);
  return true;
}

RingLog::Scan RingLog::read_record(const Pos& p, Info& info, std::vector<uint8_t>* payload) {
  if (p.off + kRecordHeader + kRecordTrailer > sector_size_) return Scan::End;
  uint8_t h[kRecordHeader];
  if (!flash_.read(addr(p), h, sizeof h)) return Scan::Error;
  const uint32_t magic = rd32(h);
  if (magic == kErased) return Scan::End;
  if (magic != kRecordMagic) return Scan::Torn;
  const uint16_t len = rd16(h + 4);
  if (len > kMaxPayload || rd16(h + 6) != kFormat || p.off + footprint(len) > sector_size_) return Scan::Torn;
  uint8_t body[((kMaxPayload + 3u) & ~3u) + kRecordTrailer];
  const uint32_t body_len = align4(len) + kRecordTrailer;
  if (!flash_.read(addr(p) + kRecordHeader, body, body_len)) return Scan::Error;
  if (rd32(body + align4(len)) != kCommit) return Scan::Torn;
  uint32_t crc = crc32(h + 4, 8);
  crc = crc32(body, len, crc);
  if (crc != rd32(h + 12)) return Scan::Torn;
  info.seq = rd32(h + 8);
  info.len = len;
  info.acked = rd32(body + align4(len) + 4) != kErased;  // even a half-programmed ack word was an ack
  if (payload != nullptr) payload->assign(body, body + len);
  return Scan::Valid;
}

bool RingLog::open_sector(uint32_t sector, uint32_t sector_seq) {
  sector_seq_[sector] = 0;
  if (!flash_.erase_sector(sector * sector_size_)) return false;
  ++stats_.sectors_erased;
  uint8_t h[12];
  wr32(h, kSectorMagic);
  wr32(h + 4, sector_seq);
  wr32(h + 8, crc32(h, 8));
  if (!flash_.write(sector * sector_size_, h, sizeof h)) return false;
  sector_seq_[sector] = sector_seq;
  newest_sector_seq_ = sector_seq;
  head_ = Pos{sector, kSectorHeader};
  return true;
}

bool RingLog::open_next_sector() {
  const uint32_t next = (head_.sector + 1) % sectors_;
  if (sector_seq_[next] != 0) {
    // The oldest sector: whatever in it is still undelivered is lost.
    uint32_t dropped = 0;
    Pos p{next, kSectorHeader};
    Info info;
    for (;;) {
      Scan s = read_record(p, info, nullptr);
      if (s != Scan::Valid) break;
      if (!(have_acked_ && info.seq <= acked_seq_)) {
        ++dropped;
        have_acked_ = true;  // from now on "gone" counts as delivered
        acked_seq_ = info.seq;
      }
      p.off += footprint(info.len);
    }
    if (dropped > 0) {
      stats_.dropped_unsent += dropped;
      pending_ -= dropped < pending_ ? dropped : pending_;
      GP_LOGW(kTag, "log full: %u undelivered readings overwritten (up to seq %u)", static_cast<unsigned>(dropped),
              static_cast<unsigned>(acked_seq_));
    }
    if (tail_.sector == next) tail_ = Pos{(next + 1) % sectors_, kSectorHeader};
  }
  if (!open_sector(next, newest_sector_seq_ + 1)) return false;
  if (pending_ == 0) tail_ = head_;
  return true;
}

bool RingLog::mount() {
  mounted_ = false;
  sector_size_ = flash_.sector_size();
  sectors_ = sector_size_ ? flash_.size() / sector_size_ : 0;
  if (sectors_ < 2 || sector_size_ < 256) {
    GP_LOGE(kTag, "partition too small: %u sectors of %u bytes", static_cast<unsigned>(sectors_),
            static_cast<unsigned>(sector_size_));
    return false;
  }
  sector_seq_.assign(sectors_, 0);
  stats_ = RingStats();
  have_acked_ = false;
  acked_seq_ = 0;
  pending_ = 0;
  next_seq_ = 0;
  uint32_t newest = sectors_, oldest = sectors_;
  for (uint32_t s = 0; s < sectors_; ++s) {
    if (!read_sector_header(s, sector_seq_[s])) return false;
    if (sector_seq_[s] == 0) continue;
    if (newest == sectors_ || sector_seq_[s] > sector_seq_[newest]) newest = s;
    if (oldest == sectors_ || sector_seq_[s] < sector_seq_[oldest]) oldest = s;
  }
  if (newest == sectors_) {
    GP_LOGI(kTag, "blank log partition: formatting (%u sectors)", static_cast<unsigned>(sectors_));
    if (!open_sector(0, 1)) return false;
    tail_ = head_;
    mounted_ = true;
    return true;
  }
  newest_sector_seq_ = sector_seq_[newest];
  bool have_any = false, have_tail = false;
  uint32_t max_seq = 0;
  for (uint32_t k = 0; k < sectors_; ++k) {
    const uint32_t s = (oldest + k) % sectors_;
    if (sector_seq_[s] == 0) continue;
    Pos p{s, kSectorHeader};
    Info info;
    for (;;) {
      Scan r = read_record(p, info, nullptr);
      if (r == Scan::Error) return false;
      if (r == Scan::End) {
        if (s == newest) head_ = p;
        break;
      }
      if (r == Scan::Torn) {
        ++stats_.torn_skipped;
        GP_LOGW(kTag, "incomplete record in sector %u at %u skipped", static_cast<unsigned>(s),
                static_cast<unsigned>(p.off));
        if (s == newest) head_ = Pos{s, sector_size_};  // never write after a torn record
        break;
      }
      if (!have_any || info.seq > max_seq) max_seq = info.seq;
      have_any = true;
      if (info.acked) {
        have_acked_ = true;
        acked_seq_ = info.seq;
        pending_ = 0;
        have_tail = false;
      } else {
        if (!have_tail) tail_ = p;
        have_tail = true;
        ++pending_;
      }
      p.off += footprint(info.len);
    }
    if (s == newest) break;
  }
  next_seq_ = have_any ? max_seq + 1 : 0;
  if (!have_tail) tail_ = head_;
  stats_.recovered_pending = pending_;
  mounted_ = true;
  GP_LOGI(kTag, "mounted: next seq %u, %u undelivered, %u torn skipped", static_cast<unsigned>(next_seq_),
          static_cast<unsigned>(pending_), static_cast<unsigned>(stats_.torn_skipped));
  return true;
}

bool RingLog::append(const uint8_t* data, size_t len, uint32_t* seq_out) {
  if (!mounted_ || len > kMaxPayload) return false;
  const uint32_t fp = footprint(len);
  if (head_.off + fp > sector_size_ && !open_next_sector()) return false;
  const uint32_t seq = next_seq_++;
  uint8_t buf[kRecordHeader + ((kMaxPayload + 3u) & ~3u)];
  const uint32_t body = align4(static_cast<uint32_t>(len));
  std::memset(buf, 0xFF, sizeof buf);
  wr32(buf, kRecordMagic);
  wr16(buf + 4, static_cast<uint16_t>(len));
  wr16(buf + 6, kFormat);
  wr32(buf + 8, seq);
  if (len) std::memcpy(buf + kRecordHeader, data, len);
  uint32_t crc = crc32(buf + 4, 8);
  crc = crc32(data, len, crc);
  wr32(buf + 12, crc);
  const Pos at = head_;
  uint8_t commit[4];
  wr32(commit, kCommit);
  if (!flash_.write(addr(at), buf, kRecordHeader + body) ||
      !flash_.write(addr(at) + kRecordHeader + body, commit, sizeof commit)) {
    head_.off = sector_size_;  // torn: the next record goes to a fresh sector
    GP_LOGE(kTag, "flash write failed at sector %u", static_cast<unsigned>(at.sector));
    return false;
  }
  head_.off += fp;
  if (pending_ == 0) tail_ = at;
  ++pending_;
  ++stats_.appended;
  if (seq_out) *seq_out = seq;
  return true;
}

bool RingLog::seek_valid(Pos& p, Info& info, std::vector<uint8_t>* payload) {
  for (uint32_t hops = 0; hops <= sectors_;) {
    if (at_head(p)) return false;
    if (sector_seq_[p.sector] == 0) {
      if (p.sector == head_.sector) return false;
      advance_sector(p);
      ++hops;
      continue;
    }
    Scan r = read_record(p, info, payload);
    if (r == Scan::Valid) return true;
    if (r == Scan::Error || p.sector == head_.sector) return false;
    advance_sector(p);  // End or Torn: the rest of this sector holds nothing
    ++hops;
  }
  return false;
}

size_t RingLog::peek(size_t max, std::vector<LogRecord>& out) {
  out.clear();
  if (!mounted_ || pending_ == 0) return 0;
  Pos p = tail_;
  Info info;
  std::vector<uint8_t> payload;
  while (out.size() < max && seek_valid(p, info, &payload)) {
    if (!(have_acked_ && info.seq <= acked_seq_)) {
      if (out.empty()) tail_ = p;
      out.push_back(LogRecord{info.seq, payload});
    }
    p.off += footprint(info.len);
  }
  return out.size();
}

bool RingLog::ack_through(uint32_t seq) {
  if (!mounted_) return false;
  Pos p = tail_, last;
  Info info, last_info;
  bool found = false;
  uint32_t count = 0;
  while (seek_valid(p, info, nullptr) && info.seq <= seq) {
    if (!(have_acked_ && info.seq <= acked_seq_)) ++count;
    last = p;
    last_info = info;
    found = true;
    p.off += footprint(info.len);
  }
  bool ok = true;
  if (found && !last_info.acked) {
    uint8_t ack[4];
    wr32(ack, kAcked);
    ok = flash_.write(addr(last) + kRecordHeader + align4(last_info.len) + 4, ack, sizeof ack);
  }
  if (!have_acked_ || seq > acked_seq_) acked_seq_ = seq;
  have_acked_ = true;
  pending_ -= count < pending_ ? count : pending_;
  tail_ = pending_ == 0 ? head_ : p;
  return ok;
}

}  // namespace gp
