// Measuring: a PZEM-004T v3 over Modbus-RTU, with an ADC fallback (CT clamp)
// when it does not answer, and an NTC for temperature. The UART and the ADC
// are reached through two small interfaces the board implements.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gp/analog.h"
#include "gp/energy.h"
#include "gp/modbus.h"
#include "gp/reading.h"

namespace gp {

class SerialPort {
 public:
  virtual ~SerialPort() = default;
  virtual void write(const uint8_t* data, size_t len) = 0;
  virtual int read_byte(uint32_t timeout_ms) = 0;  // -1 on timeout
  virtual void discard_input() = 0;
};

class AnalogIn {
 public:
  virtual ~AnalogIn() = default;
  // `n` samples in millivolts, spread over about `window_ms` (whole mains cycles).
  virtual bool burst_mv(uint8_t channel, uint16_t* out, size_t n, uint32_t window_ms) = 0;
  virtual int32_t read_mv(uint8_t channel) = 0;  // kNoValue when not wired
};

class PzemClient {
 public:
  PzemClient(SerialPort& port, uint8_t address = modbus::kGeneralAddress, uint32_t timeout_ms = 200)
      : port_(port), address_(address), timeout_ms_(timeout_ms) {}
  modbus::Status read(pzem::Measurement& out);
  modbus::Status reset_energy();

 private:
  modbus::Status transact(const uint8_t* request, size_t len, modbus::FrameAssembler& frame);
  SerialPort& port_;
  uint8_t address_;
  uint32_t timeout_ms_;
};

// Something that measures. Fills the measurement fields of `out` (not seq or time).
class Sensor {
 public:
  virtual ~Sensor() = default;
  virtual bool measure(Reading& out, uint32_t elapsed_ms) = 0;
  // A quick current reading (a light's lamp check), kNoValue when unknown.
  virtual int32_t current_ma() = 0;
};

struct MeterSensorSettings {
  uint8_t ct_channel = 0;        // ADC channel of the CT clamp (fallback)
  uint8_t ntc_channel = 1;       // ADC channel of the NTC (kNoChannel: none)
  int32_t nominal_voltage_dv = 2300;  // the fallback cannot measure voltage: power = nominal V x I
  CtSettings ct;
  NtcSettings ntc;
};
constexpr uint8_t kNoChannel = 0xFF;

class MeterSensor : public Sensor {
 public:
  MeterSensor(PzemClient& pzem, AnalogIn& adc, EnergyCounter& energy, MeterSensorSettings s = MeterSensorSettings())
      : pzem_(pzem), adc_(adc), energy_(energy), s_(s) {}
  bool measure(Reading& out, uint32_t elapsed_ms) override;
  int32_t current_ma() override;
  bool on_fallback() const { return fallback_; }
  uint32_t failures() const { return failures_; }

 private:
  void add_temperature(Reading& out);
  PzemClient& pzem_;
  AnalogIn& adc_;
  EnergyCounter& energy_;
  MeterSensorSettings s_;
  uint32_t failures_ = 0;
  bool fallback_ = false;
  uint32_t since_sensor_ms_ = 0;  // time since the last good PZEM counter
  bool sensor_seen_ = false;
};

}  // namespace gp
