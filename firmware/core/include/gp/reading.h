// One measurement as the firmware keeps it: fixed-point integers in the
// sensor's own resolution (PZEM-004T v3: 0.1 V, 1 mA, 0.1 W, 1 Wh, 0.1 Hz,
// 0.01 PF), so that encoding is exact and a reading round-trips bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {

enum Field : uint16_t {
  kVoltage = 1u << 0,      // voltage_dv      0.1 V
  kCurrent = 1u << 1,      // current_ma      0.001 A
  kPower = 1u << 2,        // power_dw        0.1 W
  kEnergy = 1u << 3,       // energy_wh       0.001 kWh (cumulative counter)
  kTemperature = 1u << 4,  // temperature_dc  0.1 deg C
  kPowerFactor = 1u << 5,  // power_factor_c  0.01
  kFrequency = 1u << 6,    // frequency_dhz   0.1 Hz
};
constexpr uint16_t kAllFields = 0x7F;

struct Reading {
  uint32_t seq = 0;      // assigned by the flash log when the reading is stored
  int64_t epoch_s = 0;   // UTC seconds (SNTP); 0 while unknown
  uint16_t fields = 0;   // which of the values below are present
  int32_t voltage_dv = 0;
  int32_t current_ma = 0;
  int32_t power_dw = 0;
  int64_t energy_wh = 0;
  int32_t temperature_dc = 0;
  int32_t power_factor_c = 0;
  int32_t frequency_dhz = 0;

  bool has(Field f) const { return (fields & f) != 0; }
  Reading& set_voltage_dv(int32_t v) { voltage_dv = v; fields |= kVoltage; return *this; }
  Reading& set_current_ma(int32_t v) { current_ma = v; fields |= kCurrent; return *this; }
  Reading& set_power_dw(int32_t v) { power_dw = v; fields |= kPower; return *this; }
  Reading& set_energy_wh(int64_t v) { energy_wh = v; fields |= kEnergy; return *this; }
  Reading& set_temperature_dc(int32_t v) { temperature_dc = v; fields |= kTemperature; return *this; }
  Reading& set_power_factor_c(int32_t v) { power_factor_c = v; fields |= kPowerFactor; return *this; }
  Reading& set_frequency_dhz(int32_t v) { frequency_dhz = v; fields |= kFrequency; return *this; }
  void clear(Field f) { fields = static_cast<uint16_t>(fields & ~f); }
};

bool operator==(const Reading& a, const Reading& b);
inline bool operator!=(const Reading& a, const Reading& b) { return !(a == b); }

// The cloud's plausible ranges (layers/shared/gridpulse/telemetry/readings.py RANGES).
// A value outside them is a sensor fault: it is dropped from the reading (and
// logged) instead of getting the whole reading quarantined. Returns the fields removed.
uint16_t sanitize(Reading& r);

// Binary form stored in a flash record (format 1, little-endian, 37 bytes).
constexpr size_t kRecordPayloadSize = 37;
size_t encode_record(const Reading& r, uint8_t* out, size_t cap);
bool decode_record(const uint8_t* data, size_t len, uint32_t seq, Reading& out);

}  // namespace gp
