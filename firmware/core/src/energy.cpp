#include "gp/energy.h"

#include "gp/log.h"

namespace gp {
namespace {
const char* const kTag = "energy";
}

EnergyCounter::EnergyCounter(KvStore* store, Settings settings) : store_(store), settings_(settings) {
  if (store_ == nullptr) return;
  int64_t v;
  if (store_->get_i64(keys::kEnergyOffset, v)) offset_wh_ = v;
  if (store_->get_i64(keys::kEnergyLastRaw, v)) last_raw_wh_ = v;
  if (store_->get_i64(keys::kEnergyTotal, v)) total_wh_ = v;
  if (last_raw_wh_ >= 0 && offset_wh_ + last_raw_wh_ > total_wh_) total_wh_ = offset_wh_ + last_raw_wh_;
}

void EnergyCounter::persist() {
  since_persist_ = 0;
  if (store_ == nullptr) return;
  store_->put_i64(keys::kEnergyOffset, offset_wh_);
  store_->put_i64(keys::kEnergyLastRaw, last_raw_wh_);
  store_->put_i64(keys::kEnergyTotal, total_wh_);
}

int64_t EnergyCounter::plausible_wh(uint32_t elapsed_ms) const {
  // Wh = W * ms / 3.6e6, plus 2 Wh for the counter's own rounding.
  return static_cast<int64_t>(settings_.max_power_w) * elapsed_ms / 3600000 + 2;
}

int64_t EnergyCounter::on_sensor_counter(int64_t raw_wh, uint32_t elapsed_ms) {
  if (raw_wh < 0) return -1;
  if (last_raw_wh_ < 0) {  // the first counter this device ever saw
    offset_wh_ = total_wh_ > raw_wh ? total_wh_ - raw_wh : 0;
    last_raw_wh_ = raw_wh;
    total_wh_ = offset_wh_ + raw_wh;
    estimate_mwh_ = 0;
    persist();
    return total_wh_;
  }
  const int64_t delta = raw_wh - last_raw_wh_;
  const bool bounded = elapsed_ms != 0;
  const int64_t limit = plausible_wh(elapsed_ms);
  bool accepted = false;
  if (delta >= 0 && (!bounded || delta <= limit)) {
    accepted = true;
  } else if (delta < 0 && (!bounded || raw_wh <= limit)) {
    // Reset: the total carries on from where it was, plus what the new counter has counted.
    offset_wh_ = total_wh_;
    ++resets_;
    GP_LOGW(kTag, "sensor counter went from %lld to %lld Wh: counter reset, total continues at %lld Wh",
            static_cast<long long>(last_raw_wh_), static_cast<long long>(raw_wh),
            static_cast<long long>(total_wh_ + raw_wh));
    last_raw_wh_ = raw_wh;
    total_wh_ = offset_wh_ + raw_wh;
    estimate_mwh_ = 0;
    suspect_count_ = 0;
    persist();
    return total_wh_;
  } else {
    // Implausible: believe it only once it repeats consistently.
    const bool consistent = suspect_raw_ >= 0 && raw_wh >= suspect_raw_ && raw_wh - suspect_raw_ <= limit;
    suspect_count_ = consistent ? suspect_count_ + 1 : 1;
    suspect_raw_ = raw_wh;
    ++rejected_;
    if (suspect_count_ < settings_.confirm_readings) {
      GP_LOGW(kTag, "sensor counter jumped from %lld to %lld Wh in %u ms: not counted",
              static_cast<long long>(last_raw_wh_), static_cast<long long>(raw_wh), static_cast<unsigned>(elapsed_ms));
      return -1;
    }
    GP_LOGW(kTag, "sensor counter re-baselined at %lld Wh (total stays %lld Wh)", static_cast<long long>(raw_wh),
            static_cast<long long>(total_wh_));
    offset_wh_ = total_wh_ - raw_wh;
    last_raw_wh_ = raw_wh;
    estimate_mwh_ = 0;
    suspect_count_ = 0;
    persist();
    return total_wh_;
  }
  if (accepted) {
    suspect_count_ = 0;
    suspect_raw_ = -1;
    last_raw_wh_ = raw_wh;
    estimate_mwh_ = 0;  // the measured delta replaces what the fallback estimated
    if (offset_wh_ + raw_wh < total_wh_) offset_wh_ = total_wh_ - raw_wh;  // never go down
    total_wh_ = offset_wh_ + raw_wh;
    if (++since_persist_ >= settings_.persist_every) persist();
  }
  return total_wh_;
}

int64_t EnergyCounter::on_estimated_power(int32_t power_dw, uint32_t elapsed_ms) {
  if (power_dw > 0) estimate_mwh_ += static_cast<int64_t>(power_dw) * elapsed_ms / 36000;  // dW*ms -> mWh
  const int64_t base = offset_wh_ + (last_raw_wh_ > 0 ? last_raw_wh_ : 0);
  const int64_t estimated = base + estimate_mwh_ / 1000;
  if (estimated > total_wh_) total_wh_ = estimated;
  if (++since_persist_ >= settings_.persist_every) persist();
  return total_wh_;
}

}  // namespace gp
