// GridPulse meter: PZEM-004T v3 on UART2 (CT clamp on GPIO34 as fallback),
// NTC on GPIO35. Publishes batches of readings on gridpulse/{thing}/telemetry.
#include <Arduino.h>

#include "gpboard/app.h"

namespace {

gpboard::BoardPins meter_pins() {
  gpboard::BoardPins pins;
  pins.pzem_rx = 16;
  pins.pzem_tx = 17;
  pins.ct_adc = 34;
  pins.ntc_adc = 35;
  return pins;
}

gpboard::App app(gp::Role::Meter, meter_pins());

}  // namespace

void setup() { app.setup(); }

void loop() { app.loop(); }
