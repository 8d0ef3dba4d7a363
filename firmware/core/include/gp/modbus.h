// Modbus-RTU framing for a PZEM-004T v3 style meter (9600 8N1), without I/O.
//
// Read input registers (0x04), start 0x0000, 10 registers:
//   request  [addr, 0x04, 0x00, 0x00, 0x00, 0x0A, crc_lo, crc_hi]
//   response [addr, 0x04, 0x14, 20 data bytes (big-endian registers), crc_lo, crc_hi]
//   error    [addr, 0x84, code, crc_lo, crc_hi]
// Registers: 0 voltage 0.1 V; 1-2 current 1 mA (low word first); 3-4 power
// 0.1 W; 5-6 energy 1 Wh; 7 frequency 0.1 Hz; 8 power factor 0.01; 9 alarm.
// Reset energy (0x42): [addr, 0x42, crc_lo, crc_hi], echoed on success.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {
namespace modbus {

constexpr uint8_t kGeneralAddress = 0xF8;  // PZEM: "whoever is on the bus" (one meter per UART)
constexpr uint8_t kReadInputRegisters = 0x04;
constexpr uint8_t kResetEnergy = 0x42;
constexpr size_t kMaxFrame = 64;

enum class Status : unsigned char {
  Ok,
  Incomplete,      // not enough bytes yet
  BadCrc,
  WrongAddress,
  WrongFunction,
  BadLength,
  Exception,       // the slave answered with an exception code
};
const char* status_name(Status s);

size_t build_read_input_registers(uint8_t addr, uint16_t start, uint16_t count, uint8_t* out, size_t cap);
size_t build_reset_energy(uint8_t addr, uint8_t* out, size_t cap);

// How long the answer to `function` will be, given its first bytes (0: not known yet).
size_t expected_length(uint8_t function, const uint8_t* frame, size_t len);

// Checks and unpacks a read-input-registers answer into `regs` (count of them).
// `addr` kGeneralAddress accepts any responder. `exception_code` is set for Status::Exception.
Status parse_read_input_registers(const uint8_t* frame, size_t len, uint8_t addr, uint16_t count, uint16_t* regs,
                                  uint8_t* exception_code = nullptr);
Status parse_reset_energy(const uint8_t* frame, size_t len, uint8_t addr, uint8_t* exception_code = nullptr);

// Collects the bytes of one answer as they arrive from the UART.
class FrameAssembler {
 public:
  explicit FrameAssembler(uint8_t function) : function_(function) {}
  void reset() { len_ = 0; }
  // Returns true once the frame is complete (further bytes are ignored).
  bool push(uint8_t byte);
  bool complete() const;
  bool overflow() const { return overflow_; }
  const uint8_t* data() const { return buf_; }
  size_t size() const { return len_; }

 private:
  uint8_t function_;
  uint8_t buf_[kMaxFrame] = {0};
  size_t len_ = 0;
  bool overflow_ = false;
};

}  // namespace modbus

namespace pzem {

constexpr uint16_t kRegisterCount = 10;

struct Measurement {
  int32_t voltage_dv = 0;
  int32_t current_ma = 0;
  int32_t power_dw = 0;
  int64_t energy_wh = 0;
  int32_t frequency_dhz = 0;
  int32_t power_factor_c = 0;
  bool alarm = false;
};

void decode(const uint16_t regs[kRegisterCount], Measurement& out);
size_t build_read_request(uint8_t addr, uint8_t* out, size_t cap);
modbus::Status parse_measurement(const uint8_t* frame, size_t len, uint8_t addr, Measurement& out,
                                 uint8_t* exception_code = nullptr);

}  // namespace pzem
}  // namespace gp
