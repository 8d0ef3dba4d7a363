#include "gp/modbus.h"

#include "gp/crc.h"

namespace gp {
namespace modbus {

const char* status_name(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::Incomplete: return "incomplete";
    case Status::BadCrc: return "bad CRC";
    case Status::WrongAddress: return "wrong address";
    case Status::WrongFunction: return "wrong function";
    case Status::BadLength: return "bad length";
    case Status::Exception: return "exception";
  }
  return "?";
}

static size_t finish(uint8_t* out, size_t n) {
  const uint16_t crc = crc16_modbus(out, n);
  out[n] = static_cast<uint8_t>(crc & 0xFF);
  out[n + 1] = static_cast<uint8_t>(crc >> 8);
  return n + 2;
}

size_t build_read_input_registers(uint8_t addr, uint16_t start, uint16_t count, uint8_t* out, size_t cap) {
  if (cap < 8) return 0;
  out[0] = addr;
  out[1] = kReadInputRegisters;
  out[2] = static_cast<uint8_t>(start >> 8);
  out[3] = static_cast<uint8_t>(start & 0xFF);
  out[4] = static_cast<uint8_t>(count >> 8);
  out[5] = static_cast<uint8_t>(count & 0xFF);
  return finish(out, 6);
}

size_t build_reset_energy(uint8_t addr, uint8_t* out, size_t cap) {
  if (cap < 4) return 0;
  out[0] = addr;
  out[1] = kResetEnergy;
  return finish(out, 2);
}

size_t expected_length(uint8_t function, const uint8_t* frame, size_t len) {
  if (len < 2) return 0;
  if (frame[1] & 0x80) return 5;
  if (function == kReadInputRegisters || function == 0x03) return len < 3 ? 0 : 3u + frame[2] + 2u;
  if (function == kResetEnergy) return 4;
  return 0;
}

static bool crc_ok(const uint8_t* frame, size_t len) {
  const uint16_t crc = crc16_modbus(frame, len - 2);
  return frame[len - 2] == (crc & 0xFF) && frame[len - 1] == (crc >> 8);
}

static Status check_common(const uint8_t* frame, size_t len, uint8_t addr, uint8_t function, uint8_t* exc) {
  const size_t need = expected_length(function, frame, len);
  if (need == 0 || len < need) return Status::Incomplete;
  if (len != need) return Status::BadLength;
  if (!crc_ok(frame, len)) return Status::BadCrc;
  if (addr != kGeneralAddress && frame[0] != addr) return Status::WrongAddress;
  if (frame[1] == (function | 0x80)) {
    if (exc) *exc = frame[2];
    return Status::Exception;
  }
  if (frame[1] != function) return Status::WrongFunction;
  return Status::Ok;
}

Status parse_read_input_registers(const uint8_t* frame, size_t len, uint8_t addr, uint16_t count, uint16_t* regs,
                                  uint8_t* exception_code) {
  Status s = check_common(frame, len, addr, kReadInputRegisters, exception_code);
  if (s != Status::Ok) return s;
  if (frame[2] != count * 2) return Status::BadLength;
  for (uint16_t i = 0; i < count; ++i) regs[i] = static_cast<uint16_t>(frame[3 + 2 * i] << 8 | frame[4 + 2 * i]);
  return Status::Ok;
}

Status parse_reset_energy(const uint8_t* frame, size_t len, uint8_t addr, uint8_t* exception_code) {
  return check_common(frame, len, addr, kResetEnergy, exception_code);
}

bool FrameAssembler::push(uint8_t byte) {
  if (complete()) return true;
  if (len_ >= kMaxFrame) {
    overflow_ = true;
    return false;
  }
  buf_[len_++] = byte;
  return complete();
}

bool FrameAssembler::complete() const {
  const size_t need = expected_length(function_, buf_, len_);
  return need != 0 && len_ >= need;
}

}  // namespace modbus

namespace pzem {

void decode(const uint16_t r[kRegisterCount], Measurement& out) {
  out.voltage_dv = r[0];
  out.current_ma = static_cast<int32_t>(static_cast<uint32_t>(r[1]) | static_cast<uint32_t>(r[2]) << 16);
  out.power_dw = static_cast<int32_t>(static_cast<uint32_t>(r[3]) | static_cast<uint32_t>(r[4]) << 16);
  out.energy_wh = static_cast<int64_t>(static_cast<uint32_t>(r[5]) | static_cast<uint32_t>(r[6]) << 16);
  out.frequency_dhz = r[7];
  out.power_factor_c = r[8];
  out.alarm = r[9] == 0xFFFF;
}

size_t build_read_request(uint8_t addr, uint8_t* out, size_t cap) {
  return modbus::build_read_input_registers(addr, 0x0000, kRegisterCount, out, cap);
}

modbus::Status parse_measurement(const uint8_t* frame, size_t len, uint8_t addr, Measurement& out,
                                 uint8_t* exception_code) {
  uint16_t regs[kRegisterCount];
  modbus::Status s = modbus::parse_read_input_registers(frame, len, addr, kRegisterCount, regs, exception_code);
  if (s == modbus::Status::Ok) decode(regs, out);
  return s;
}

}  // namespace pzem
}  // namespace gp
