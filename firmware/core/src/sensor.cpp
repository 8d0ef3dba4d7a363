#include "gp/sensor.h"

#include "gp/log.h"

namespace gp {
namespace {
const char* const kTag = "sensor";
}

modbus::Status PzemClient::transact(const uint8_t* request, size_t len, modbus::FrameAssembler& frame) {
  port_.discard_input();
  port_.write(request, len);
  frame.reset();
  for (;;) {
    const int b = port_.read_byte(timeout_ms_);
    if (b < 0) return modbus::Status::Incomplete;  // timed out
    if (frame.push(static_cast<uint8_t>(b))) return modbus::Status::Ok;
    if (frame.overflow()) return modbus::Status::BadLength;
  }
}

modbus::Status PzemClient::read(pzem::Measurement& out) {
  uint8_t req[8];
  const size_t n = pzem::build_read_request(address_, req, sizeof req);
  modbus::FrameAssembler frame(modbus::kReadInputRegisters);
  modbus::Status s = transact(req, n, frame);
  if (s != modbus::Status::Ok) return s;
  return pzem::parse_measurement(frame.data(), frame.size(), address_, out);
}

modbus::Status PzemClient::reset_energy() {
  uint8_t req[4];
  const size_t n = modbus::build_reset_energy(address_, req, sizeof req);
  modbus::FrameAssembler frame(modbus::kResetEnergy);
  modbus::Status s = transact(req, n, frame);
  if (s != modbus::Status::Ok) return s;
  return modbus::parse_reset_energy(frame.data(), frame.size(), address_);
}

void MeterSensor::add_temperature(Reading& out) {
  if (s_.ntc_channel == kNoChannel) return;
  const int32_t mv = adc_.read_mv(s_.ntc_channel);
  if (mv == kNoValue || mv < 0) return;
  const int32_t dc = ntc_temperature_dc(static_cast<uint32_t>(mv), s_.ntc);
  if (dc != kNoValue) out.set_temperature_dc(dc);
}

bool MeterSensor::measure(Reading& out, uint32_t elapsed_ms) {
  out.fields = 0;
  since_sensor_ms_ += elapsed_ms;
  pzem::Measurement m;
  modbus::Status s = pzem_.read(m);
  if (s != modbus::Status::Ok) s = pzem_.read(m);  // one retry: a lost byte is common on a long cable
  if (s == modbus::Status::Ok) {
    if (fallback_) GP_LOGI(kTag, "PZEM answers again: leaving the ADC fallback");
    fallback_ = false;
    failures_ = 0;
    out.set_voltage_dv(m.voltage_dv).set_current_ma(m.current_ma).set_power_dw(m.power_dw);
    // Without mains voltage the PZEM reports 0 Hz and PF 0: not measurements.
    if (m.voltage_dv > 0) out.set_frequency_dhz(m.frequency_dhz).set_power_factor_c(m.power_factor_c);
    const int64_t total = energy_.on_sensor_counter(m.energy_wh, sensor_seen_ ? since_sensor_ms_ : 0);
    if (total >= 0) out.set_energy_wh(total);
    sensor_seen_ = true;
    since_sensor_ms_ = 0;
  } else {
    ++failures_;
    if (!fallback_) GP_LOGW(kTag, "PZEM not answering (%s): using the ADC fallback (CT clamp)", modbus::status_name(s));
    fallback_ = true;
    const int32_t ma = current_ma();
    if (ma != kNoValue) {
      // Apparent power at the nominal voltage: an estimate, so no voltage or PF is reported.
      const int32_t power_dw = static_cast<int32_t>(static_cast<int64_t>(s_.nominal_voltage_dv) * ma / 1000);
      out.set_current_ma(ma).set_power_dw(power_dw);
      out.set_energy_wh(energy_.on_estimated_power(power_dw, elapsed_ms));
    }
  }
  add_temperature(out);
  sanitize(out);
  return out.fields != 0;
}

int32_t MeterSensor::current_ma() {
  if (!fallback_) {
    pzem::Measurement m;
    if (pzem_.read(m) == modbus::Status::Ok) return m.current_ma;
  }
  uint16_t samples[200];
  if (!adc_.burst_mv(s_.ct_channel, samples, 200, 40)) return kNoValue;
  return ct_current_ma(ac_rms_mv(samples, 200), s_.ct);
}

}  // namespace gp
