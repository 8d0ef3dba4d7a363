#include "gp/analog.h"

#include <cmath>

namespace gp {

double ac_rms_mv(const uint16_t* samples, size_t n) {
  if (n == 0) return 0;
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += samples[i];
  mean /= static_cast<double>(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = samples[i] - mean;
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

int32_t ct_current_ma(double rms_mv, const CtSettings& ct) {
  if (ct.mv_per_amp <= 0) return kNoValue;
  const int32_t ma = static_cast<int32_t>(std::lround(rms_mv / ct.mv_per_amp * 1000.0));
  return ma < ct.noise_floor_ma ? 0 : ma;
}

int32_t ntc_temperature_dc(uint32_t pin_mv, const NtcSettings& ntc) {
  const double v = pin_mv;
  // Within 1 % of either rail: the sensor is open or shorted.
  if (v <= ntc.supply_mv * 0.01 || v >= ntc.supply_mv * 0.99) return kNoValue;
  const double r = ntc.fixed_ohm * v / (ntc.supply_mv - v);
  const double inv_t = 1.0 / (ntc.t0_c + 273.15) + std::log(r / ntc.r0_ohm) / ntc.beta;
  const double celsius = 1.0 / inv_t - 273.15;
  return static_cast<int32_t>(std::lround(celsius * 10.0));
}

}  // namespace gp
