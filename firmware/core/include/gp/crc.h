// Checksums: CRC-32 (IEEE 802.3, as zlib) for flash records, CRC-16/MODBUS for RTU frames.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {

// Incremental: crc32(b, n2, crc32(a, n1)) == crc32(a+b). Start with 0.
uint32_t crc32(const void* data, size_t len, uint32_t crc = 0);

// Polynomial 0x8005 reflected (0xA001), initial 0xFFFF; sent low byte first on the wire.
uint16_t crc16_modbus(const uint8_t* data, size_t len);

}  // namespace gp
