// The cumulative energy counter the device reports (energy_kwh).
//
// The PZEM keeps its own Wh counter, but that counter can go back to zero
// (the module was replaced, or reset with command 0x42) and the UART can
// fail for a while. The device reports one monotonic counter instead:
//   total = offset + sensor counter
// * a sensor counter that went down (plausibly, for the time elapsed) is a
//   reset: what it counted since is added on top of the last total;
// * a rise faster than the meter's maximum power is a glitch: the reading is
//   sent without energy_kwh; three consistent readings in a row re-baseline
//   (a used module fitted while the device was off, say);
// * while the sensor is away, power estimated from the ADC fallback is
//   integrated; when the sensor returns its own (measured) delta replaces the
//   estimate, and the total never goes down.
// The offset and the last raw value are kept in NVS (at once on a reset,
// otherwise every `persist_every` updates) so that a reboot neither resets the
// counter nor mistakes the module's counter for a reset.
#pragma once

#include <cstdint>

#include "gp/kv.h"

namespace gp {

class EnergyCounter {
 public:
  struct Settings {
    int32_t max_power_w = 25000;  // what the circuit can draw (PZEM-004T 100 A: 23 kW at 230 V)
    uint32_t persist_every = 20;  // sensor updates between NVS writes (10 min at 30 s)
    uint32_t confirm_readings = 3;
  };

  EnergyCounter(KvStore* store, Settings settings);
  EnergyCounter(KvStore* store) : EnergyCounter(store, Settings()) {}

  // A sensor counter reading `elapsed_ms` after the previous one (0: unknown,
  // e.g. the first after boot). Returns the total in Wh, or -1 when the value
  // is not believed (then send the reading without energy).
  int64_t on_sensor_counter(int64_t raw_wh, uint32_t elapsed_ms);
  // The sensor is away: integrate an estimated power over `elapsed_ms`. Returns the total in Wh.
  int64_t on_estimated_power(int32_t power_dw, uint32_t elapsed_ms);

  int64_t total_wh() const { return total_wh_; }
  int64_t offset_wh() const { return offset_wh_; }
  uint32_t resets() const { return resets_; }
  uint32_t rejected() const { return rejected_; }
  void persist();

 private:
  int64_t plausible_wh(uint32_t elapsed_ms) const;
  KvStore* store_;
  Settings settings_;
  int64_t offset_wh_ = 0;
  int64_t last_raw_wh_ = -1;
  int64_t total_wh_ = 0;
  int64_t estimate_mwh_ = 0;     // fallback energy since the last sensor counter
  int64_t suspect_raw_ = -1;     // last rejected value
  uint32_t suspect_count_ = 0;
  uint32_t since_persist_ = 0;
  uint32_t resets_ = 0;
  uint32_t rejected_ = 0;
};

}  // namespace gp
