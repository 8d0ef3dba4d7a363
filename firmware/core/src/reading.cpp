#include "gp/reading.h"

#include "gp/log.h"

namespace gp {

bool operator==(const Reading& a, const Reading& b) {
  if (a.seq != b.seq || a.epoch_s != b.epoch_s || a.fields != b.fields) return false;
  return (!a.has(kVoltage) || a.voltage_dv == b.voltage_dv) && (!a.has(kCurrent) || a.current_ma == b.current_ma) &&
         (!a.has(kPower) || a.power_dw == b.power_dw) && (!a.has(kEnergy) || a.energy_wh == b.energy_wh) &&
         (!a.has(kTemperature) || a.temperature_dc == b.temperature_dc) &&
         (!a.has(kPowerFactor) || a.power_factor_c == b.power_factor_c) &&
         (!a.has(kFrequency) || a.frequency_dhz == b.frequency_dhz);
}

uint16_t sanitize(Reading& r) {
  struct Range {
    Field field;
    const char* name;
    int64_t value;
    int64_t low, high;  // in the field's own units
  };
  const Range ranges[] = {
      {kVoltage, "voltage", r.voltage_dv, 0, 5000},                  // 0..500 V
      {kCurrent, "current", r.current_ma, 0, 400000},                // 0..400 A
      {kPower, "power_w", r.power_dw, 0, 2500000},                   // 0..250 kW
      {kEnergy, "energy_kwh", r.energy_wh, 0, 1000000000000LL},      // 0..1e9 kWh
      {kTemperature, "temperature", r.temperature_dc, -500, 1500},   // -50..150 C
      {kPowerFactor, "power_factor", r.power_factor_c, -100, 100},   // -1..1
      {kFrequency, "frequency", r.frequency_dhz, 400, 700},          // 40..70 Hz
  };
  uint16_t removed = 0;
  for (const Range& range : ranges) {
    if (r.has(range.field) && (range.value < range.low || range.value > range.high)) {
      r.clear(range.field);
      removed = static_cast<uint16_t>(removed | range.field);
      GP_LOGD("reading", "%s out of range (%lld), left out", range.name, static_cast<long long>(range.value));
    }
  }
  return removed;
}

namespace {
void put(uint8_t*& p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) *p++ = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get(const uint8_t*& p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(*p++) << (8 * i);
  return v;
}
}  // namespace

size_t encode_record(const Reading& r, uint8_t* out, size_t cap) {
  if (cap < kRecordPayloadSize) return 0;
  uint8_t* p = out;
  put(p, 1, 1);  // format
  put(p, r.fields, 2);
  put(p, static_cast<uint64_t>(r.epoch_s), 8);
  put(p, static_cast<uint32_t>(r.voltage_dv), 4);
  put(p, static_cast<uint32_t>(r.current_ma), 4);
  put(p, static_cast<uint32_t>(r.power_dw), 4);
  put(p, static_cast<uint64_t>(r.energy_wh), 8);
  put(p, static_cast<uint16_t>(static_cast<int16_t>(r.temperature_dc)), 2);
  put(p, static_cast<uint16_t>(static_cast<int16_t>(r.power_factor_c)), 2);
  put(p, static_cast<uint16_t>(r.frequency_dhz), 2);
  return static_cast<size_t>(p - out);
}

bool decode_record(const uint8_t* data, size_t len, uint32_t seq, Reading& out) {
  if (len != kRecordPayloadSize || data[0] != 1) return false;
  const uint8_t* p = data + 1;
  out = Reading();
  out.seq = seq;
  out.fields = static_cast<uint16_t>(get(p, 2));
  if ((out.fields & ~kAllFields) != 0) return false;
  out.epoch_s = static_cast<int64_t>(get(p, 8));
  out.voltage_dv = static_cast<int32_t>(get(p, 4));
  out.current_ma = static_cast<int32_t>(get(p, 4));
  out.power_dw = static_cast<int32_t>(get(p, 4));
  out.energy_wh = static_cast<int64_t>(get(p, 8));
  out.temperature_dc = static_cast<int16_t>(get(p, 2));
  out.power_factor_c = static_cast<int16_t>(get(p, 2));
  out.frequency_dhz = static_cast<uint16_t>(get(p, 2));
  return true;
}

}  // namespace gp
