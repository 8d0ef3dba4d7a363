// RAM-backed NOR flash for host tests, with power cuts in the middle of a write or an erase.
#pragma once

#include <cstring>
#include <vector>

#include "gp/flash.h"

namespace gp {
namespace testing {

class FakeFlash : public Flash {
 public:
  explicit FakeFlash(uint32_t sectors, uint32_t sector_size = 4096)
      : sector_size_(sector_size), mem_(static_cast<size_t>(sectors) * sector_size, 0xFF), erases_(sectors, 0) {}

  uint32_t size() const override { return static_cast<uint32_t>(mem_.size()); }
  uint32_t sector_size() const override { return sector_size_; }

  bool read(uint32_t addr, void* out, size_t len) override {
    if (!powered_ || addr + len > mem_.size()) return false;
    std::memcpy(out, &mem_[addr], len);
    ++reads_;
    return true;
  }

  bool write(uint32_t addr, const void* data, size_t len) override {
    if (!powered_ || addr + len > mem_.size()) return false;
    const uint8_t* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i) {
      if (cut_armed_ && budget_ == 0) {
        // The cut lands on this byte: only its low nibble gets programmed.
        mem_[addr + i] &= static_cast<uint8_t>(p[i] | 0xF0);
        power_fail();
        return false;
      }
      mem_[addr + i] &= p[i];  // NOR: 1 -> 0 only
      if (cut_armed_) --budget_;
    }
    bytes_written_ += len;
    return true;
  }

  bool erase_sector(uint32_t addr) override {
    if (!powered_ || addr % sector_size_ != 0 || addr >= mem_.size()) return false;
    if (erase_cut_armed_) {
      // Half the sector erased, the rest still holds the old bytes.
      std::memset(&mem_[addr], 0xFF, sector_size_ / 2);
      erase_cut_armed_ = false;
      power_fail();
      return false;
    }
    std::memset(&mem_[addr], 0xFF, sector_size_);
    ++erases_[addr / sector_size_];
    return true;
  }

  // The power fails after `bytes` more bytes have been programmed (0: on the next byte).
  void cut_power_after(size_t bytes) {
    cut_armed_ = true;
    budget_ = bytes;
  }
  void cut_power_during_next_erase() { erase_cut_armed_ = true; }
  void power_on() {
    powered_ = true;
    cut_armed_ = false;
  }
  bool powered() const { return powered_; }

  uint32_t erase_count(uint32_t sector) const { return erases_[sector]; }
  size_t bytes_written() const { return bytes_written_; }
  size_t reads() const { return reads_; }
  std::vector<uint8_t>& raw() { return mem_; }

 private:
  void power_fail() {
    powered_ = false;
    cut_armed_ = false;
  }
  uint32_t sector_size_;
  std::vector<uint8_t> mem_;
  std::vector<uint32_t> erases_;
  bool powered_ = true;
  bool cut_armed_ = false;
  bool erase_cut_armed_ = false;
  size_t budget_ = 0;
  size_t bytes_written_ = 0;
  size_t reads_ = 0;
};

}  // namespace testing
}  // namespace gp
