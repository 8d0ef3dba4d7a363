#include "gp/light.h"

#include "gp/analog.h"
#include "gp/log.h"

namespace gp {

void LightController::apply(const LightCommand& cmd) {
  if (cmd.has_action) mode_ = cmd.action;
  if (cmd.brightness >= 0) brightness_ = cmd.brightness;
  GP_LOGI("light", "command: %s, brightness %d", light_mode_name(mode_), brightness_);
}

void LightController::restore(LightMode mode, int brightness) {
  mode_ = mode;
  if (brightness >= 0 && brightness <= 100) brightness_ = brightness;
}

bool LightController::update(uint32_t now_ms, int32_t ambient_mv, int32_t lamp_current_ma) {
  if (ambient_mv != kNoValue) {
    if (ambient_mv < s_.dark_below_mv) dark_ = true;
    else if (ambient_mv > s_.light_above_mv) dark_ = false;
  }
  bool want_on = mode_ == LightMode::On || (mode_ == LightMode::Auto && dark_);
  if (brightness_ == 0) want_on = false;
  LightOutputs next;
  next.relay = want_on;
  next.duty_percent = static_cast<uint8_t>(want_on ? brightness_ : 0);
  if (next.relay != out_.relay || first_) {
    on_since_ms_ = now_ms;
    bad_checks_ = 0;
  }
  out_ = next;

  LampStatus status = out_.relay ? LampStatus::On : LampStatus::Off;
  const char* details = nullptr;
  const bool settled = now_ms - on_since_ms_ >= s_.warmup_ms;
  if (lamp_current_ma != kNoValue && settled) {
    const bool flowing = lamp_current_ma >= static_cast<int32_t>(s_.lamp_min_current_ma);
    const bool bad = out_.relay ? !flowing : flowing;
    bad_checks_ = bad ? bad_checks_ + 1 : 0;
  }
  if (bad_checks_ >= s_.confirm_checks) {
    status = LampStatus::Error;
    details = out_.relay ? kBulbFailed : kRelayStuck;
  }
  const bool changed = first_ || status != status_ || details != details_;
  first_ = false;
  if (changed && status == LampStatus::Error) GP_LOGW("light", "lamp error: %s", details);
  status_ = status;
  details_ = details;
  return changed;
}

}  // namespace gp
