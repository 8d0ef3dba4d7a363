// A raw NOR flash region (on the ESP32: the "rbuf" data partition).
// Semantics the ring log relies on: erase sets a whole sector to 0xFF; a write
// can only turn 1 bits into 0 bits; writes happen in address order, so a power
// cut leaves a prefix of the write programmed (the last byte possibly half-way).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {

class Flash {
 public:
  virtual ~Flash() = default;
  virtual uint32_t size() const = 0;
  virtual uint32_t sector_size() const = 0;
  virtual bool read(uint32_t addr, void* out, size_t len) = 0;
  virtual bool write(uint32_t addr, const void* data, size_t len) = 0;
  virtual bool erase_sector(uint32_t addr) = 0;  // addr: start of the sector
};

}  // namespace gp
