// The ADC side: current from a clamp-on CT (the fallback when the PZEM does
// not answer) and temperature from an NTC thermistor (the PZEM has no
// temperature register).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {

constexpr int32_t kNoValue = INT32_MIN;

// RMS of the AC part of `n` samples (millivolts): the DC bias is their mean.
double ac_rms_mv(const uint16_t* samples_mv, size_t n);

struct CtSettings {
  double mv_per_amp = 33.33;   // SCT-013-030: 1 V RMS at 30 A
  int32_t noise_floor_ma = 60; // below this the clamp reads noise: 0 A
};
int32_t ct_current_ma(double rms_mv, const CtSettings& ct);

// NTC from the ADC pin to ground, fixed resistor from the pin to the supply.
struct NtcSettings {
  double supply_mv = 3300;
  double fixed_ohm = 10000;
  double r0_ohm = 10000;   // at t0
  double t0_c = 25;
  double beta = 3950;
};
// Tenths of a degree C, or kNoValue for an open or shorted sensor.
int32_t ntc_temperature_dc(uint32_t pin_mv, const NtcSettings& ntc);

}  // namespace gp
