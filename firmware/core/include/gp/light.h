// A street light: relay + PWM dimmer, ambient light sensor for "auto", and a
// lamp current check that turns "on" into {"status":"error","error_details":"Bulb failed"}.
#pragma once

#include <cstdint>

#include "gp/commands.h"
#include "gp/telemetry.h"

namespace gp {

struct LightSettings {
  uint32_t lamp_min_current_ma = 50;  // less than this while switched on: no lamp
  uint32_t warmup_ms = 3000;          // after switching on, before the current is judged
  uint32_t confirm_checks = 3;        // consecutive bad checks before an error is reported
  int32_t dark_below_mv = 500;        // auto: switch on below (LDR divider voltage)
  int32_t light_above_mv = 900;       // auto: switch off above (hysteresis)
};

struct LightOutputs {
  bool relay = false;
  uint8_t duty_percent = 0;
};
inline bool operator==(const LightOutputs& a, const LightOutputs& b) {
  return a.relay == b.relay && a.duty_percent == b.duty_percent;
}
inline bool operator!=(const LightOutputs& a, const LightOutputs& b) { return !(a == b); }

constexpr const char* kBulbFailed = "Bulb failed";
constexpr const char* kRelayStuck = "Lamp current while switched off";

class LightController {
 public:
  explicit LightController(LightSettings s = LightSettings()) : s_(s) {}
  void set_min_current_ma(uint32_t ma) { s_.lamp_min_current_ma = ma; }
  void apply(const LightCommand& cmd);
  void restore(LightMode mode, int brightness);

  // One control step with fresh inputs (kNoValue: unknown). Returns true when
  // the status to report (or its details) changed.
  bool update(uint32_t now_ms, int32_t ambient_mv, int32_t lamp_current_ma);

  LightOutputs outputs() const { return out_; }
  LampStatus status() const { return status_; }
  const char* error_details() const { return details_; }
  LightMode mode() const { return mode_; }
  int brightness() const { return brightness_; }

 private:
  LightSettings s_;
  LightMode mode_ = LightMode::Auto;
  int brightness_ = 100;
  bool dark_ = true;  // no ambient reading yet: a street light errs on the side of light
  LightOutputs out_;
  uint32_t on_since_ms_ = 0;
  uint32_t bad_checks_ = 0;
  LampStatus status_ = LampStatus::Off;
  const char* details_ = nullptr;
  bool first_ = true;
};

}  // namespace gp
