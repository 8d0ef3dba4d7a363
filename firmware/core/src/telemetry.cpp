#include "gp/telemetry.h"

#include <cmath>
#include <cstring>

#include "gp/timefmt.h"

namespace gp {

void append_reading(std::string& out, const Reading& r) {
  JsonWriter w(out);
  w.begin_object();
  char ts[24];
  if (format_iso8601(r.epoch_s, ts, sizeof ts)) w.key("timestamp").value(ts);
  w.key("seq").value(static_cast<int64_t>(r.seq));
  if (r.has(kVoltage)) w.key("voltage").fixed(r.voltage_dv, 1);
  if (r.has(kCurrent)) w.key("current").fixed(r.current_ma, 3);
  if (r.has(kPower)) w.key("power_w").fixed(r.power_dw, 1);
  if (r.has(kEnergy)) w.key("energy_kwh").fixed(r.energy_wh, 3);
  if (r.has(kTemperature)) w.key("temperature").fixed(r.temperature_dc, 1);
  if (r.has(kPowerFactor)) w.key("power_factor").fixed(r.power_factor_c, 2);
  if (r.has(kFrequency)) w.key("frequency").fixed(r.frequency_dhz, 1);
  w.end_object();
}

std::string encode_reading(const Reading& r) {
  std::string out;
  append_reading(out, r);
  return out;
}

std::string encode_batch(const Reading* readings, size_t count) {
  std::string out = "{\"readings\":[";
  for (size_t i = 0; i < count; ++i) {
    if (i) out.push_back(',');
    append_reading(out, readings[i]);
  }
  out += "]}";
  return out;
}

size_t pack_message(const Reading* readings, size_t count, size_t max_count, size_t max_bytes, std::string& out) {
  out.clear();
  if (count == 0) return 0;
  if (max_count > kCloudMaxReadings) max_count = kCloudMaxReadings;
  if (max_count == 0) max_count = 1;
  if (count > max_count) count = max_count;
  if (count == 1) {
    append_reading(out, readings[0]);
    return 1;
  }
  out = "{\"readings\":[";
  size_t used = 0;
  std::string one;
  for (; used < count; ++used) {
    one.clear();
    append_reading(one, readings[used]);
    const size_t needed = out.size() + (used ? 1 : 0) + one.size() + 2;
    if (used > 0 && needed > max_bytes) break;
    if (used) out.push_back(',');
    out += one;
  }
  if (used == 1) {  // only one fitted: send it bare, like any single reading
    out.clear();
    append_reading(out, readings[0]);
    return 1;
  }
  out += "]}";
  return used;
}

static bool scaled(const JsonValue* v, int decimals, int64_t& out) {
  if (v == nullptr || !v->is_number()) return false;
  double x = v->as_number();
  for (int i = 0; i < decimals; ++i) x *= 10;
  out = static_cast<int64_t>(std::llround(x));
  return true;
}

bool decode_reading(const JsonValue& v, Reading& out, std::string* error) {
  auto fail = [&](const char* why) {
    if (error) *error = why;
    return false;
  };
  if (!v.is_object()) return fail("a reading is an object");
  out = Reading();
  static const char* const kKnown[] = {"timestamp", "seq", "voltage", "current", "power_w", "energy_kwh",
                                       "temperature", "power_factor", "frequency"};
  for (const auto& m : v.members()) {
    bool known = false;
    for (const char* k : kKnown) known = known || m.first == k;
    if (!known) return fail("unknown field");
  }
  if (const JsonValue* ts = v.get("timestamp")) {
    if (!ts->is_string() || !parse_iso8601(ts->as_string().c_str(), out.epoch_s)) return fail("bad timestamp");
  }
  if (const JsonValue* seq = v.get("seq")) {
    if (!seq->is_integer_literal() || seq->as_int() < 0 || seq->as_int() > 0xFFFFFFFFLL) return fail("bad seq");
    out.seq = static_cast<uint32_t>(seq->as_int());
  }
  struct Spec {
    const char* name;
    Field field;
    int decimals;
  };
  static const Spec kSpecs[] = {{"voltage", kVoltage, 1},       {"current", kCurrent, 3},
                                {"power_w", kPower, 1},         {"energy_kwh", kEnergy, 3},
                                {"temperature", kTemperature, 1}, {"power_factor", kPowerFactor, 2},
                                {"frequency", kFrequency, 1}};
  for (const Spec& s : kSpecs) {
    const JsonValue* f = v.get(s.name);
    if (f == nullptr) continue;
    int64_t x;
    if (!scaled(f, s.decimals, x)) return fail("not a number");
    switch (s.field) {
      case kVoltage: out.set_voltage_dv(static_cast<int32_t>(x)); break;
      case kCurrent: out.set_current_ma(static_cast<int32_t>(x)); break;
      case kPower: out.set_power_dw(static_cast<int32_t>(x)); break;
      case kEnergy: out.set_energy_wh(x); break;
      case kTemperature: out.set_temperature_dc(static_cast<int32_t>(x)); break;
      case kPowerFactor: out.set_power_factor_c(static_cast<int32_t>(x)); break;
      case kFrequency: out.set_frequency_dhz(static_cast<int32_t>(x)); break;
    }
  }
  return true;
}

bool decode_message(const char* data, size_t len, std::vector<Reading>& out, std::string* error) {
  JsonValue doc;
  if (!json_parse(data, len, doc, error)) return false;
  out.clear();
  const JsonValue* batch = doc.is_object() ? doc.get("readings") : nullptr;
  if (batch == nullptr) {
    out.emplace_back();
    return decode_reading(doc, out.back(), error);
  }
  if (!batch->is_array() || batch->items().empty()) {
    if (error) *error = "readings must be a non-empty list";
    return false;
  }
  for (const JsonValue& item : batch->items()) {
    out.emplace_back();
    if (!decode_reading(item, out.back(), error)) return false;
  }
  return true;
}

const char* lamp_status_name(LampStatus s) {
  switch (s) {
    case LampStatus::Off: return "off";
    case LampStatus::On: return "on";
    case LampStatus::Error: return "error";
  }
  return "error";
}

std::string encode_status(LampStatus status, const char* error_details, const char* command_id) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().key("status").value(lamp_status_name(status));
  if (status == LampStatus::Error && error_details != nullptr && error_details[0] != '\0')
    w.key("error_details").value(error_details);
  if (command_id != nullptr && command_id[0] != '\0') w.key("command_id").value(command_id);
  w.end_object();
  return out;
}

}  // namespace gp
